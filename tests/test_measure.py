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


# -- scipy.ndimage's label statistics, value for value and type for type -------------------

import warnings  # noqa: E402

import dask.array as da  # noqa: E402

STATISTICS = ["sum_labels", "sum", "mean", "variance", "standard_deviation", "minimum", "maximum", "median",
              "minimum_position", "maximum_position", "extrema", "center_of_mass"]
GRIDS = [((13, 17, 19), (3, 4, 5)), ((13, 17, 19), (13, 17, 19)), ((23,), (4,)), ((9, 11), (2, 3))]


def _scipy_and_ours(name, values, labels, index, chunks, **kwargs):
    """(scipy's answer or exception, ours on chunked dask arrays or exception)."""
    answers = []
    for func, wrap in ((getattr(ndi, name), np.asarray), (getattr(measure, name), lambda a: da.from_array(a, chunks))):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                answers.append(func(wrap(values), None if labels is None else wrap(labels), index, **kwargs))
        except Exception as e:  # noqa: BLE001 -- the same error as scipy's is part of the contract
            answers.append(e)
    return answers


def assert_same(ours, theirs, rtol=1e-10):
    """Equal values and the same types all the way down (tuple, list, ndarray dtype/shape, numpy scalar)."""
    if isinstance(theirs, Exception):
        assert type(ours) is type(theirs) and str(ours) == str(theirs), (ours, theirs)
        return
    assert type(ours) is type(theirs), (ours, theirs)
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs), (ours, theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b, rtol)
        return
    if isinstance(theirs, np.ndarray):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (ours, theirs)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("shape, chunks", GRIDS)
def test_statistics_equal_scipy_for_every_index_form(shape, chunks):
    """label 0 (the background) and absent labels give scipy's values (0, NaN, tuples), any index shape."""
    rng = np.random.default_rng(len(shape))
    values = rng.normal(100, 30, shape)
    labels = rng.integers(0, 5, shape)
    for name in STATISTICS:
        for index in [None, 0, 2, 9, [2, 9, 0, 1], np.array([[1, 2], [0, 7]]), np.arange(5)]:
            theirs, ours = _scipy_and_ours(name, values, labels, index, chunks)
            assert_same(ours, theirs), (name, index)
        theirs, ours = _scipy_and_ours(name, values, None, None, chunks)
        assert_same(ours, theirs)


def test_absent_labels_and_background_regressions():
    values = np.arange(12.0).reshape(3, 4)
    labels = da.from_array(np.array([[0, 1, 1, 3]] * 3), chunks=2)
    np.testing.assert_array_equal(measure.sum_labels(values, labels, [0, 2, 3]), [12.0, 0.0, 21.0])
    np.testing.assert_array_equal(measure.minimum(values, labels, [0, 2]), [0.0, 0.0])
    np.testing.assert_array_equal(measure.maximum(values, labels, [2, 0]), [0.0, 8.0])
    assert measure.sum_labels(values, labels, 2) == 0 and measure.sum_labels(values, labels, 0) == 12.0
    com = measure.center_of_mass(values, labels, 2)
    assert isinstance(com, tuple) and len(com) == 2 and np.isnan(com).all()
    assert measure.maximum_position(values, labels, [2, 3]) == [(0, 0), (2, 3)]
    with pytest.raises(ValueError, match="zero-size array"):
        measure.maximum(values, labels, 2)  # scipy: an empty group has no maximum


@pytest.mark.parametrize("value_dtype", [np.int16, np.uint8, bool, np.float32])
@pytest.mark.parametrize("labels_kind", ["negative", "beyond_size", "float", "uint8"])
def test_statistics_dtypes_and_label_kinds(value_dtype, labels_kind):
    """int/bool/float32 values; labels that scipy remaps (negative, larger than the size,
    float: compared by value) or casts the index for (small ints: index 1.5 -> 1)."""
    rng = np.random.default_rng(3)
    shape, chunks = (9, 11), (2, 3)
    values = (rng.normal(0, 40, shape)).astype(value_dtype)
    labels = {"negative": rng.integers(-2, 3, shape), "beyond_size": rng.integers(0, 3, shape) * 1000,
              "float": rng.integers(0, 3, shape) * 0.5, "uint8": rng.integers(0, 3, shape).astype(np.uint8)}[labels_kind]
    rtol = 1e-5 if value_dtype == np.float32 else 1e-10  # scipy adds float32 in float32
    for name in ["sum_labels", "mean", "variance", "minimum", "median", "center_of_mass", "extrema"]:
        for index in [None, 1.5, 1000, [0, 1, 1.5, 0.5, 1000, 2000, -1, -2]]:
            theirs, ours = _scipy_and_ours(name, values, labels, index, chunks)
            if name == "extrema" and np.ndim(index) and value_dtype in (bool, np.uint8):
                # ties: scipy's position is whichever its unstable sort puts last; ours is the
                # first in C order (scipy's own rule for a scalar index): check the value there
                assert_same(ours[:2], theirs[:2])
                found = measure.sum_labels(np.ones(shape), labels, index) > 0
                for extremes, positions in [(ours[0], ours[2]), (ours[1], ours[3])]:
                    for at, expected, present in zip(positions, extremes, found):
                        assert values[at] == expected if present else at == (0, 0)
                continue
            assert_same(ours, theirs, rtol), (name, index)


def test_empty_arrays_and_broadcast_labels():
    for name in STATISTICS:
        for index in [None, 1, [1, 2]]:
            assert_same(*_scipy_and_ours(name, np.zeros((0, 5)), np.zeros((0, 5), int), index, 2)[::-1])
        assert_same(*_scipy_and_ours(name, np.zeros(0), None, None, 2)[::-1])
    rng = np.random.default_rng(4)
    values, labels = rng.normal(size=(9, 11)), rng.integers(0, 4, (1, 11))
    image = da.from_array(values, chunks=(2, 3))
    for name in ["sum_labels", "mean", "variance", "minimum", "maximum", "median", "maximum_position",
                 "center_of_mass"]:
        assert_same(getattr(measure, name)(image, labels, [1, 3, 7]), getattr(ndi, name)(values, labels, [1, 3, 7]))
        assert_same(getattr(measure, name)(image, labels[0], 2), getattr(ndi, name)(values, labels[0], 2))
    with pytest.raises(ValueError, match="broadcast"):
        measure.mean(image, np.ones((9, 4), int), [1])


def test_return_types_are_scipys():
    values = np.arange(24.0).reshape(4, 6)
    labels = np.repeat([[1, 1, 2, 2, 0, 0]], 4, axis=0)
    image = da.from_array(values, chunks=(3, 4))
    assert type(measure.sum_labels(image, labels, [1, 2])) is np.ndarray
    assert type(measure.mean(image)) is np.float64
    assert type(measure.sum_labels(image.astype(int))) is np.int64
    assert type(measure.center_of_mass(image)) is tuple
    assert type(measure.center_of_mass(image, labels, [1, 2])) is list
    result = measure.extrema(image, labels, [1, 2])
    assert type(result) is tuple and len(result) == 4 and type(result[2]) is list
    assert type(measure.minimum(image, labels, 1)) is np.float64


def test_labeled_comprehension_equals_scipy():
    rng = np.random.default_rng(6)
    values = rng.normal(size=(13, 17, 19))
    labels = rng.integers(0, 5, values.shape)

    def spread(v, p):
        return float(v.max() - v.min()) + float(p.min())

    def spread_in_c_order(v, p):
        # ours hands a label's values in C order (scipy: in its unstable sort's order)
        assert np.all(np.diff(p) > 0) and np.array_equal(v, values.ravel()[p])
        return spread(v, p)

    for index in [None, 2, 9, [3, 9, 0, 1], np.array([4, 4])]:
        for func, ours_func, positions in [(np.median, np.median, False), (spread, spread_in_c_order, True)]:
            theirs = ndi.labeled_comprehension(values, labels, index, func, float, -1.0, positions)
            ours = measure.labeled_comprehension(da.from_array(values, chunks=(3, 4, 5)), labels, index,
                                                 func=ours_func, out_dtype=float, default=-1.0,
                                                 pass_positions=positions)
            assert_same(ours, theirs)
    assert_same(measure.labeled_comprehension(values, None, None, func=np.median, out_dtype=float, default=0),
                ndi.labeled_comprehension(values, None, None, np.median, float, 0))
    objects = measure.labeled_comprehension(values, labels, [1, 8], func=lambda v: v[:2], out_dtype=object,
                                            default=None)
    assert objects.dtype == object and objects[1] is None
    np.testing.assert_array_equal(objects[0], values[labels == 1][:2])
    with pytest.raises(ValueError, match="index without defined labels"):
        measure.labeled_comprehension(values, None, [1], func=np.sum, out_dtype=float, default=0)
    with pytest.raises(ValueError, match="without loss of precision"):
        measure.labeled_comprehension(values, labels, [1.5], func=np.sum, out_dtype=float, default=0)


@pytest.mark.parametrize("shape, chunks", GRIDS)
def test_value_indices_exact_across_chunks(shape, chunks):
    data = np.random.default_rng(7).integers(-2, 6, shape).astype(np.int16)
    for ignore in [None, 0, -2]:
        theirs = ndi.value_indices(data, ignore_value=ignore)
        ours = measure.value_indices(da.from_array(data, chunks=chunks), ignore_value=ignore)
        assert list(ours) == list(theirs) and all(type(a) is type(b) for a, b in zip(ours, theirs))
        for key in theirs:
            assert len(ours[key]) == len(theirs[key])
            for a, b in zip(ours[key], theirs[key]):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="integer array"):
        measure.value_indices(np.zeros((3, 4)))


def test_per_label_gathering_reads_only_the_chunks_of_a_batch(monkeypatch):
    """median / labeled_comprehension: labels reduced in batches, each from its own chunks."""
    rng = np.random.default_rng(8)
    labels, n = ndi.label(ndi.binary_opening(rng.random((20, 24, 22)) > 0.4))
    values = rng.normal(size=labels.shape)
    image = da.from_array(values, chunks=(5, 6, 7))
    seen = []
    original = measure._combine_batch

    def spy(keys, reduce, *blocks):
        seen.append(len(blocks))
        return original(keys, reduce, *blocks)

    monkeypatch.setattr(measure, "_BATCH_VOXELS", 200)
    monkeypatch.setattr(measure, "_combine_batch", spy)
    index = np.r_[np.arange(n + 3), 0]
    assert_same(measure.median(image, labels, index), ndi.median(values, labels, index))
    assert len(seen) >= 5 and sorted(seen)[len(seen) // 2] < image.npartitions / 2
    assert_same(measure.labeled_comprehension(image, labels, index, func=np.ptp, out_dtype=float, default=-1),
                ndi.labeled_comprehension(values, labels, index, np.ptp, float, -1))


def test_nan_complex_and_0d_index_as_scipy():
    """NaN: scipy's sort puts it last (a label's minimum skips it, its maximum is NaN);
    complex values: scipy's bincount refuses them per label; a 0-d array index."""
    rng = np.random.default_rng(9)
    values, labels = rng.normal(size=(9, 11)), rng.integers(0, 4, (9, 11))
    values[3, 4] = np.nan
    for name in ["sum_labels", "mean", "minimum", "maximum", "median", "maximum_position", "minimum_position"]:
        for index in [None, labels[3, 4], [labels[3, 4], 9, 0, 1, 2, 3]]:
            assert_same(*_scipy_and_ours(name, values, labels, index, (2, 3))[::-1])
    complex_values = values + 1j * values[::-1]
    complex_values[3, 4] = 1.0
    for name in ["sum_labels", "mean", "variance"]:
        for index in [None, 1, [1, 2]]:
            assert_same(*_scipy_and_ours(name, complex_values, labels, index, (2, 3))[::-1])
    for name in ["sum_labels", "minimum", "maximum_position", "median", "extrema", "center_of_mass"]:
        assert_same(*_scipy_and_ours(name, np.nan_to_num(values), labels, np.array(2), (2, 3))[::-1])


def test_find_objects_as_scipy():
    """max_label cuts the list; negative labels are background; float and bool labels
    as scipy's C code reads them; scipy's errors."""
    labels = np.random.default_rng(10).integers(-1, 6, (9, 11))
    for data in [labels, labels.astype(np.uint8) % 4, labels * 0.7, labels > 2, -np.abs(labels),
                 np.zeros((0, 3), int), labels + 0j]:
        for max_label in [0, 2, 8]:
            theirs = ours = None
            try:
                theirs = ndi.find_objects(data, max_label)
            except Exception as e:  # noqa: BLE001
                theirs = e
            try:
                ours = measure.find_objects(da.from_array(data, chunks=(2, 3)), max_label)
            except Exception as e:  # noqa: BLE001
                ours = e
            assert repr(ours) == repr(theirs), (data.dtype, max_label)
