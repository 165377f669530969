"""bd.measure / regionprops_table against scipy.ndimage's label statistics."""

import numpy as np
import pytest
import scipy.ndimage as ndi

import bmia_dask as bd
from bmia_dask import measure


@pytest.fixture(scope="module")
def labelled():
    rng = np.random.default_rng(0)
    mask = ndi.binary_opening(rng.random((23, 31, 29)) > 0.45)
    labels, n = ndi.label(mask)
    values = rng.normal(100, 30, mask.shape)
    spacing = (2.5, 0.7, 0.9)
    return (labels, n, values, bd.from_array(labels, chunks=(5, 7, 9), spacing=spacing, origin=(10.0, -5.0, 3.0)),
            bd.from_array(values, chunks=(6, 8, 10), spacing=spacing, origin=(10.0, -5.0, 3.0)))


def test_regionprops_table_equals_scipy(labelled):
    labels, n, values, label_image, image = labelled
    table = bd.regionprops_table(label_image, image)
    index = np.arange(1, n + 1)
    assert table["label"].tolist() == index.tolist()
    np.testing.assert_array_equal(table["n_voxels"], ndi.sum_labels(np.ones_like(values), labels, index))
    np.testing.assert_allclose(table["volume_mm3"], table["n_voxels"] * 2.5 * 0.7 * 0.9)
    for column, func in [("sum", ndi.sum_labels), ("mean", ndi.mean), ("variance", ndi.variance),
                         ("min", ndi.minimum), ("max", ndi.maximum)]:
        np.testing.assert_allclose(table[column], func(values, labels, index), rtol=1e-10, err_msg=column)
    com = np.array(ndi.center_of_mass(values, labels, index))
    centroid = np.array(ndi.center_of_mass(labels > 0, labels, index))
    for axis, (dim, step, origin) in enumerate(zip("zyx", (2.5, 0.7, 0.9), (3.0, -5.0, 10.0))):
        np.testing.assert_allclose(table[f"center_of_mass_{dim}_mm"], origin + com[:, axis] * step, rtol=1e-10)
        np.testing.assert_allclose(table[f"centroid_{dim}_mm"], origin + centroid[:, axis] * step, rtol=1e-10)
    positions = table[["max_position_z", "max_position_y", "max_position_x"]].to_numpy()
    assert [tuple(p) for p in positions] == ndi.maximum_position(values, labels, index)
    boxes = ndi.find_objects(labels)
    for row, box in zip(table.itertuples(), boxes):
        assert (row.bbox_z_start, row.bbox_z_stop, row.bbox_x_start, row.bbox_x_stop) == (
            box[0].start, box[0].stop, box[2].start, box[2].stop)


def test_scipy_style_functions(labelled):
    labels, n, values, label_image, image = labelled
    assert measure.find_objects(label_image) == ndi.find_objects(labels)
    for name in ["sum_labels", "mean", "variance", "minimum", "maximum"]:
        ours = getattr(measure, name)(image, label_image, [3, 1])
        np.testing.assert_allclose(ours, getattr(ndi, name)(values, labels, [3, 1]), rtol=1e-10, err_msg=name)
        assert getattr(measure, name)(image) == pytest.approx(getattr(ndi, name)(values), rel=1e-10)
    assert measure.maximum_position(image, label_image, 4) == ndi.maximum_position(values, labels, 4)
    np.testing.assert_allclose(measure.center_of_mass(image, label_image, 2), ndi.center_of_mass(values, labels, 2))


def test_regionprops_without_image_and_selected_properties(labelled):
    labels, n, values, label_image, image = labelled
    table = bd.regionprops_table(label_image, properties=["volume_mm3"])
    assert list(table.columns) == ["label", "volume_mm3"] and len(table) == n
    with pytest.raises(ValueError, match="not available"):
        bd.regionprops_table(label_image, properties=["mean"])


def test_4d_labels_have_time_centroids():
    labels = np.zeros((3, 4, 5, 5), np.int32)
    labels[0, 1:3, 1:3, 1:3] = 1
    labels[2, 0, 0, 0] = 2
    image = bd.from_array(labels, times_ms=[0.0, 50.0, 100.0], chunks=(1, 2, 3, 3))
    table = bd.regionprops_table(image)
    assert table["centroid_t_ms"].tolist() == [0.0, 100.0]
    assert table["n_voxels"].tolist() == [8, 1]


def test_label_at_and_extract(labelled):
    labels, n, values, label_image, image = labelled
    z, y, x = 7, 12, 20
    point = {d: float(label_image[d][i]) for d, i in zip("zyx", (z, y, x))}
    assert measure.label_at(label_image, **point) == labels[z, y, x]
    with pytest.raises(ValueError, match="outside"):
        measure.label_at(label_image, z=1e6, y=0.0, x=3.0)
    target = int(np.bincount(labels.ravel())[1:].argmax() + 1)
    crop = measure.extract(image, label_image, target)
    box = ndi.find_objects(labels)[target - 1]
    np.testing.assert_array_equal(crop.values, values[box])
    assert float(crop.z[0]) == pytest.approx(float(image.z[box[0].start]))
    masked = measure.extract(image, label_image, target, mask=True)
    np.testing.assert_array_equal(masked.values, np.where(labels[box] == target, values[box], 0))


def test_label_then_measure_pipeline_is_one_pass_per_stage():
    mask = np.random.default_rng(1).random((16, 18, 20)) > 0.7
    labels, n = bd.label(bd.from_array(mask, chunks=(5, 6, 7)))
    table = bd.regionprops_table(labels)
    assert len(table) == int(n) == ndi.label(mask)[1]
    assert table["n_voxels"].sum() == mask.sum()


def test_bad_inputs():
    with pytest.raises(ValueError, match="integer"):
        bd.regionprops_table(np.zeros((3, 4, 5)))
    with pytest.raises(ValueError, match="does not match"):
        bd.regionprops_table(np.zeros((3, 4, 5), int), np.zeros((3, 4, 6)))
    with pytest.raises(ValueError, match="label 7"):
        measure.extract(np.zeros((3, 4, 5)), np.ones((3, 4, 5), int), 7)


def test_large_blocks_are_measured_in_slabs(labelled, monkeypatch):
    labels, n, values, label_image, image = labelled
    monkeypatch.setattr(measure, "_PIECE_VOXELS", 100)  # every block in slabs of a few planes
    table = bd.regionprops_table(label_image, image)
    index = np.arange(1, n + 1)
    np.testing.assert_allclose(table["variance"], ndi.variance(values, labels, index), rtol=1e-10)
    positions = [tuple(p) for p in table[["max_position_z", "max_position_y", "max_position_x"]].to_numpy()]
    assert positions == ndi.maximum_position(values, labels, index)


def test_scipy_conventions_on_sliced_images():
    """labels without index: all labelled voxels as one; a frame of a cine (a sliced graph) works."""
    import scipy.ndimage as ndi

    data = np.random.default_rng(5).random((3, 9, 14, 12))
    cine = bd.from_array(data, chunks=(1, 4, 5, 5))
    frame, truth = cine.isel(t=1), data[1]
    labels = bd.label(frame > 0.7)[0]
    for name in ("variance", "mean", "sum_labels", "maximum"):
        ours, theirs = getattr(bd.measure, name), getattr(ndi, name)
        assert ours(frame) == pytest.approx(theirs(truth))
        assert ours(frame, frame > 0.7) == pytest.approx(theirs(truth, truth > 0.7))
        assert ours(frame, labels, index=[1, 2]) == pytest.approx(theirs(truth, labels.values, index=[1, 2]))
    assert bd.measure.maximum_position(frame) == ndi.maximum_position(truth)
