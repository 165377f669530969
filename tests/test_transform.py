"""bd.transform against scipy.ndimage: orders 0 and 1 exact, order 3 within 1e-3 of the range."""

import numpy as np
import pytest
import scipy.ndimage as ndi

import bmia_dask as bd
from bmia_dask import transform
from bmia_dask.testing import raise_if_dask_computes

from ops_helpers import CHUNKINGS, image_of, phantom_volume, random_volume

# a generic transform: no input coordinate lands on a rounding tie or exactly on an edge
RNG = np.random.default_rng(7)
MATRIX = np.eye(3) + RNG.normal(0, 0.08, (3, 3))
OFFSET = RNG.normal(0, 3, 3)
MODES = ["constant", "nearest", "reflect", "mirror", "wrap", "grid-constant"]


def assert_like_scipy(out, expected, order):
    if order <= 1:
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
    else:
        value_range = float(expected.max() - expected.min()) or 1.0
        assert np.abs(out.astype(float) - expected).max() <= 1e-3 * value_range


@pytest.mark.parametrize("order", [0, 1, 3])
@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_affine_transform(order, chunks):
    data = phantom_volume() + random_volume(np.float32) / 5
    image = image_of(data, chunks)
    for mode in MODES:
        out = transform.affine_transform(image, MATRIX, OFFSET, order=order, mode=mode, output_shape=(25, 30, 31))
        expected = ndi.affine_transform(data, MATRIX, OFFSET, order=order, mode=mode, output_shape=(25, 30, 31))
        assert_like_scipy(out.values, expected, order)


def test_homogeneous_matrix_and_integer_images():
    data = random_volume(np.int16)
    image = image_of(data, CHUNKINGS[0])
    homogeneous = np.eye(4)
    homogeneous[:3, :3], homogeneous[:3, 3] = MATRIX, OFFSET
    out = transform.affine_transform(image, homogeneous, order=0)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out.values, ndi.affine_transform(data, homogeneous, order=0))


@pytest.mark.parametrize("order", [0, 1, 3])
def test_shift_zoom_rotate(order):
    data = phantom_volume()
    image = image_of(data, CHUNKINGS[1])
    cases = [
        (transform.shift(image, (1.37, -2.21, 3.13), order=order), ndi.shift(data, (1.37, -2.21, 3.13), order=order)),
        (transform.zoom(image, (1.3, 0.7, 1.9), order=order), ndi.zoom(data, (1.3, 0.7, 1.9), order=order)),
        (transform.rotate(image, 33, axes=(1, 2), order=order), ndi.rotate(data, 33, axes=(1, 2), order=order)),
        (transform.rotate(image, -21, axes=("x", "z"), reshape=False, order=order, mode="nearest"),
         ndi.rotate(data, -21, axes=(2, 0), reshape=False, order=order, mode="nearest")),
    ]
    for out, expected in cases:
        assert out.shape == expected.shape
        assert_like_scipy(out.values, expected, order)


def test_zoom_and_resample_update_the_grid():
    image = image_of(phantom_volume(), CHUNKINGS[0], spacing=(2.5, 0.7, 0.9))
    zoomed = transform.zoom(image, 2)
    assert zoomed.shape == (46, 62, 58)
    # first and last voxels stay where they were
    for dim in "zyx":
        assert zoomed[dim].values[0] == pytest.approx(image[dim].values[0])
        assert zoomed[dim].values[-1] == pytest.approx(image[dim].values[-1])
    resampled = transform.resample(image, spacing_mm=(1.25, 1.4, 0.9))
    assert resampled.attrs["spacing"] == (1.25, 1.4, 0.9)
    assert resampled.shape == (45, 16, 29)
    # linear resampling of a linear ramp is exact
    ramp = bd.from_array(np.broadcast_to(np.arange(23.0)[:, None, None], (23, 31, 29)).copy(), chunks=(5, 7, 9),
                         spacing=(2.5, 0.7, 0.9))
    fine = transform.resample(ramp, spacing_mm=(1.25, 0.7, 0.9))
    np.testing.assert_allclose(fine.values[:, 0, 0], np.arange(45) / 2)


def test_shift_mm_and_4d():
    data = np.stack([phantom_volume(), phantom_volume()[::-1]])
    image = bd.from_array(data, chunks=(1, 6, 8, 9), spacing=(2.0, 1.0, 0.5), times_ms=[0, 50])
    out = transform.shift(image, shift_mm=(2.0, -1.0, 1.5), order=1)
    expected = np.stack([ndi.shift(f, (1.0, -1.0, 3.0), order=1) for f in data])
    np.testing.assert_allclose(out.values, expected, atol=1e-4)
    assert out.dims == ("t", "z", "y", "x") and list(out.t.values) == [0, 50]


def test_lazy_and_reads_only_what_it_needs():
    image = image_of(phantom_volume(), CHUNKINGS[0])
    with raise_if_dask_computes():
        out = transform.shift(image, (0.5, 0.25, 0.5), order=1)
    graph = out.data.__dask_graph__()
    [task_key] = [k for k in graph.layers[out.data.name] if k[1:] == (1, 1, 1)]
    needed = [k for k in graph.cull({task_key}).to_dict() if k[0] == image.data.name]
    assert 0 < len(needed) <= 27 < image.data.npartitions  # its neighbourhood of input chunks, of 80
    np.testing.assert_allclose(out.values, ndi.shift(phantom_volume(), (0.5, 0.25, 0.5), order=1), atol=1e-4)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda im: transform.affine_transform(im, np.eye(2)), "matrix"),
        (lambda im: transform.shift(im, 1, shift_mm=1), "shift_mm"),
        (lambda im: transform.zoom(im, 0), "zoom"),
        (lambda im: transform.rotate(im, 10, axes=(1, 1)), "axes"),
        (lambda im: transform.affine_transform(im, np.eye(3), order=7), "order"),
        (lambda im: transform.resample(im, spacing_mm=-1), "spacing_mm"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(image_of(phantom_volume(), CHUNKINGS[0]))


# --- physical space: resample(like=), apply -------------------------------------------

def _grids(rng):
    """An oblique moving image and an oblique fixed grid of other spacing and chunks."""
    from bmia_dask.phantoms import rotation

    data = ndi.gaussian_filter(rng.random((14, 22, 26)), 2).astype(np.float32)
    moving = bd.from_array(data, spacing=(2.5, 1.1, 0.9), origin=(-12.0, -10.0, 5.0),
                           direction=rotation(8, -5, 20), chunks=(5, 9, 11))
    fixed = bd.from_array(np.zeros((12, 20, 24), np.float32), spacing=(2.0, 1.3, 1.2), origin=(-10.0, -12.0, 8.0),
                          direction=rotation(-6, 4, -10), chunks=(7, 8, 10))
    return moving, fixed


def _inside(moving, fixed, matrix=np.eye(4)):
    """Fixed voxels whose place in ``moving`` lies inside its voxel centres (no edge rule involved)."""
    index_map = transform.voxel_map(moving, fixed, matrix)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in fixed.shape], indexing="ij"), -1).reshape(-1, 3)
    mapped = grid @ index_map[:3, :3].T + index_map[:3, 3]
    inside = ((mapped >= 1e-6) & (mapped <= np.array(moving.shape) - 1 - 1e-6)).all(axis=1)
    return inside.reshape(fixed.shape)


def _sitk_resample(moving, fixed, matrix=np.eye(4)):
    """SimpleITK's linear resampling; its transform maps fixed points to moving points."""
    import SimpleITK as sitk

    from bmia_dask.testing import to_sitk

    inverse = np.linalg.inv(matrix)
    sitk_transform = sitk.AffineTransform(3)
    sitk_transform.SetMatrix(inverse[:3, :3].ravel().tolist())
    sitk_transform.SetTranslation(inverse[:3, 3].tolist())
    out = sitk.Resample(to_sitk(moving), to_sitk(fixed), sitk_transform, sitk.sitkLinear, 0.0, sitk.sitkFloat64)
    return sitk.GetArrayFromImage(out)


def test_resample_like_equals_simpleitk(rng):
    moving, fixed = _grids(rng)
    with raise_if_dask_computes():
        out = transform.resample(moving, like=fixed)
    assert out.shape == fixed.shape and out.chunks == fixed.chunks
    for key in ("spacing", "origin", "direction"):
        np.testing.assert_allclose(out.attrs[key], fixed.attrs[key])
    inside = _inside(moving, fixed)
    assert inside.mean() > 0.3
    expected = _sitk_resample(moving, fixed)
    np.testing.assert_allclose(out.values[inside], expected[inside], atol=1e-5)
    assert (out.values[~_inside(moving, fixed) & (expected == 0)] == 0).all()


def test_apply_moves_content_by_the_transform(rng):
    from bmia_dask.phantoms import rotation

    moving, fixed = _grids(rng)
    rigid = np.eye(4)
    rigid[:3, :3] = rotation(3, -4, 7)
    rigid[:3, 3] = (1.5, -2.0, 0.7)
    out = transform.apply(moving, rigid, like=fixed)
    inside = _inside(moving, fixed, rigid)
    np.testing.assert_allclose(out.values[inside], _sitk_resample(moving, fixed, rigid)[inside], atol=1e-5)
    # applying the inverse brings it back where the content overlaps
    back = transform.apply(transform.apply(moving, rigid, order=3), np.linalg.inv(rigid), order=3)
    core = (slice(4, -4), slice(6, -6), slice(6, -6))
    assert np.abs(back.values[core] - moving.values[core]).max() < 0.02 * float(moving.max())


def test_apply_to_2d_and_4d_images():
    data = ndi.gaussian_filter(np.random.default_rng(1).random((30, 40)), 2)
    image = bd.from_array(data, chunks=(11, 13))
    move = np.eye(4)
    move[:3, 3] = (-2.0, 3.0, 0.0)  # L (x) -2 mm, P (y) +3 mm
    np.testing.assert_allclose(transform.apply(image, move).values, ndi.shift(data, (3, -2), order=1), atol=1e-12)
    cine = bd.from_array(np.stack([data[None]] * 3 + [2 * data[None]]), spacing=(5.0, 1.0, 1.0))
    out = transform.apply(cine, move)
    assert out.dims == ("t", "z", "y", "x") and out.shape == cine.shape
    np.testing.assert_allclose(out.values[3, 0], 2 * ndi.shift(data, (3, -2), order=1), atol=1e-12)


def test_transform_files_round_trip_and_bad_files(tmp_path):
    matrix = np.eye(4)
    matrix[:3, 3] = (1, 2, 3)
    path = transform.write_transform(matrix, str(tmp_path / "t.json"), cost=0.5)
    np.testing.assert_array_equal(transform.read_transform(path), matrix)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "small.json").write_text("[[1, 0], [0, 1]]")
    for name, problem in (("bad.json", "not a JSON"), ("small.json", "4x4"), ("none.json", "not found")):
        with pytest.raises(bd.BadInputError, match=problem) as error:
            transform.read_transform(str(tmp_path / name))
        assert error.value.path.endswith(name)
    with pytest.raises(ValueError, match="4x4"):
        transform.apply(bd.from_array(np.zeros((3, 3, 3))), np.eye(3))
    with pytest.raises(ValueError, match="spacing_mm or like"):
        transform.resample(bd.from_array(np.zeros((3, 3, 3))))
    with pytest.raises(ValueError, match="both must be 2D or both 3D"):
        transform.resample(bd.from_array(np.zeros((3, 3, 3))), like=bd.from_array(np.zeros((3, 3))))
