"""bd.transform against scipy.ndimage: orders 0 and 1 (and prefilter=False) bit for bit, orders 2-5
to rounding, whatever the chunks."""

import dask.array as da
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
MODES = ["constant", "nearest", "reflect", "mirror", "wrap", "grid-constant", "grid-wrap", "grid-mirror"]


def assert_like_scipy(out, expected, order, mode=None):
    """Orders 0-1: bit for bit. Orders 2-5: the chunked prefilter agrees with scipy's to
    rounding (measured below 1e-14 of the value range; 1e-12 leaves a 100x margin).
    grid-wrap reads footprints across a face from a wrapped region, whose shifted
    coordinates may round by an ulp: 1e-15 of the range there."""
    out = np.asarray(out)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    if order <= 1 and mode == "grid-wrap" and expected.dtype.kind in "fc":
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-15 * (float(np.abs(expected).max()) or 1.0))
    elif order <= 1:
        np.testing.assert_array_equal(out, expected)
    else:
        value_range = float(np.ptp(np.abs(expected))) or 1.0
        assert np.abs(out.astype(complex) - expected).max() <= 1e-12 * value_range


@pytest.mark.parametrize("order", [0, 1, 3])
@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_affine_transform(order, chunks):
    data = phantom_volume() + random_volume(np.float32) / 5
    image = image_of(data, chunks)
    for mode in MODES:
        out = transform.affine_transform(image, MATRIX, OFFSET, order=order, mode=mode, output_shape=(25, 30, 31))
        expected = ndi.affine_transform(data, MATRIX, OFFSET, order=order, mode=mode, output_shape=(25, 30, 31))
        assert_like_scipy(out.values, expected, order)


@pytest.mark.parametrize("order", range(6))
def test_every_order_and_mode_on_small_chunks(order):
    """Chunks of 3-5 voxels, coordinates far outside the volume: every fold of every mode."""
    data = np.random.default_rng(3).random((9, 11, 10))
    image = bd.from_array(data, chunks=(3, 4, 5))
    big_shift = (10.3, -13.6, 25.5)
    if True:
        for mode in MODES:
            for out, expected in [
                (transform.shift(image, big_shift, order=order, mode=mode),
                 ndi.shift(data, big_shift, order=order, mode=mode)),
                (transform.zoom(image, (1.4, 0.6, 2.0), order=order, mode=mode),
                 ndi.zoom(data, (1.4, 0.6, 2.0), order=order, mode=mode)),
                (transform.affine_transform(image, 2.5 * MATRIX, OFFSET - 8, order=order, mode=mode),
                 ndi.affine_transform(data, 2.5 * MATRIX, OFFSET - 8, order=order, mode=mode)),
            ]:
                # grid-wrap's footprints across a face are read from a wrapped region whose
                # shifted coordinates may round: 1e-15 there
                assert_like_scipy(out.values, expected, order, mode)


def test_zoom_constant_interpolates_the_last_face():
    """Regression: scipy interpolates coordinates on the last face; it was cval per chunk."""
    data = np.random.default_rng(0).random((37, 61, 53))
    expected = ndi.zoom(data, 0.5, order=1)
    for chunks in [(10, 10, 10), (5, 7, 9)]:
        out = transform.zoom(bd.from_array(data, chunks=chunks), 0.5, order=1).values
        assert np.count_nonzero(out[-1]) == np.count_nonzero(expected[-1]) > 0.9 * expected[-1].size
        np.testing.assert_array_equal(out, expected)
    flat = np.random.default_rng(1).random((8, 9))
    matrix = np.array([[7 / 11, 0.0], [0.0, 8 / 12]])  # the last output voxel lands on the face with rounding
    out = transform.affine_transform(bd.from_array(flat, chunks=3), matrix, output_shape=(12, 13), order=1)
    np.testing.assert_array_equal(out.values, ndi.affine_transform(flat, matrix, output_shape=(12, 13), order=1))


@pytest.mark.parametrize("order", [0, 1, 2, 3, 5])
def test_complex_input(order):
    """Regression: complex input crashed for order >= 2; scipy transforms real and imaginary parts."""
    rng = np.random.default_rng(2)
    data = rng.random((9, 10, 11)) + 1j * rng.random((9, 10, 11))
    image = bd.from_array(data, chunks=(4, 5, 6))
    coords = rng.uniform(-1, 10, (3, 6, 7))

    def mapping(point):
        return (point[0] * 0.8, point[1] + 0.3, point[2] - 0.6)

    cases = [
        (transform.shift(image, (0.4, -1.2, 2.1), order=order, mode="mirror", cval=1 + 2j),
         ndi.shift(data, (0.4, -1.2, 2.1), order=order, mode="mirror", cval=1 + 2j)),
        (transform.zoom(image, 1.3, order=order, cval=1 - 1j), ndi.zoom(data, 1.3, order=order, cval=1 - 1j)),
        (transform.rotate(image, 20, axes=(1, 2), order=order), ndi.rotate(data, 20, axes=(1, 2), order=order)),
        (transform.affine_transform(image, MATRIX, OFFSET, order=order, mode="grid-constant", cval=2j),
         ndi.affine_transform(data, MATRIX, OFFSET, order=order, mode="grid-constant", cval=2j)),
        (transform.map_coordinates(image, coords, order=order), ndi.map_coordinates(data, coords, order=order)),
        (transform.geometric_transform(image, mapping, order=order, mode="nearest"),
         ndi.geometric_transform(data, mapping, order=order, mode="nearest")),
    ]
    for out, expected in cases:
        assert_like_scipy(out.values, expected, order)
    with pytest.warns(UserWarning, match="promoting specified output dtype to complex"):
        out = transform.shift(image, 0.5, output=np.float32, order=order)
    assert out.dtype == np.complex64
    with pytest.raises(RuntimeError, match="complex"):
        transform.shift(image, 0.5, output="f4")


@pytest.mark.parametrize("order", [0, 1, 3])
def test_zoom_axes_of_length_one(order):
    """Regression: zooming an axis of length 1 crashed."""
    for shape, factors in [((1, 5, 5), (1, 2, 2)), ((1, 5, 5), (3, 2, 2)), ((4, 1, 6), (0.5, 4, 1.5))]:
        data = np.random.default_rng(4).random(shape)
        for mode in MODES:
            out = transform.zoom(bd.from_array(data, chunks=2), factors, order=order, mode=mode, cval=7)
            assert_like_scipy(out.values, ndi.zoom(data, factors, order=order, mode=mode, cval=7), order, mode)
    line = np.arange(5.0)[None]
    assert_like_scipy(transform.shift(line, (0.3, 1.5), order=order).values,
                      ndi.shift(line, (0.3, 1.5), order=order), order)


@pytest.mark.parametrize("order", [0, 1, 3])
def test_matrix_forms(order):
    """Regression: scipy's homogeneous, (n, n+1), diagonal and rank-changing matrices were refused."""
    data = np.random.default_rng(5).random((12, 14))
    image = bd.from_array(data, chunks=(5, 4))
    homogeneous = np.eye(3)
    homogeneous[:2, :2], homogeneous[:2, 2] = MATRIX[:2, :2], OFFSET[:2]
    for matrix, offset, shape in [
        (homogeneous, 0.0, None),
        (homogeneous[:2], 0.0, (15, 9)),
        ([0.7, 1.3], (-1.0, 0.5), (16, 11)),   # a diagonal: scipy's zoom-and-shift arithmetic
        ([[0.0], [2.0]], 0.0, (7,)),            # 2-D input, 1-D output
        ([[0.4], [1.3]], [1.0, -2.0], (9,)),
    ]:
        out = transform.affine_transform(image, matrix, offset, output_shape=shape, order=order)
        expected = ndi.affine_transform(data, matrix, offset, output_shape=shape, order=order)
        assert_like_scipy(out.values, expected, order)
    bad = homogeneous.copy()
    bad[2] = [5, 2, 1]
    with pytest.raises(ValueError, match="bottom row"):
        transform.affine_transform(image, bad)
    for matrix, message in [(np.eye(4), "rows"), (np.ones((2, 3, 1)), "no proper"), (np.ones((2, 4)), "columns")]:
        with pytest.raises(RuntimeError, match=message):
            transform.affine_transform(image, matrix)


def test_scipy_arguments():
    data = np.random.default_rng(6).random((10, 12))
    image = bd.from_array(data, chunks=(4, 5))
    # grid_mode (and scipy's warning for the non-grid modes)
    for mode in ["nearest", "grid-wrap", "grid-constant", "reflect"]:
        assert_like_scipy(transform.zoom(image, (1.7, 0.6), order=1, mode=mode, grid_mode=True).values,
                          ndi.zoom(data, (1.7, 0.6), order=1, mode=mode, grid_mode=True), 1, mode)
    with pytest.warns(UserWarning, match="grid-constant"):
        transform.zoom(image, 2, grid_mode=True)
    zoomed = transform.zoom(bd.from_array(data, spacing=(2.0, 1.0)), 2, grid_mode=True, order=0, mode="nearest")
    np.testing.assert_allclose(zoomed.attrs["spacing"], (1.0, 0.5))
    assert float(zoomed.y[0]) == pytest.approx(-0.5)  # the outer faces stay in place
    # output dtypes, given as types and strings
    for output in [np.float32, "f4", np.int16, "uint8", np.dtype("i4")]:
        out = transform.shift(image * 100, 0.5, output=output, order=1)
        np.testing.assert_array_equal(out.values, ndi.shift(data * 100, 0.5, output=output, order=1))
    with pytest.raises(TypeError, match="lazy library"):
        transform.shift(image, 0.5, output=np.zeros_like(data))
    with pytest.raises(RuntimeError, match="numeric"):
        transform.shift(image, 0.5, output="bool")
    # prefilter=False interpolates the values as coefficients, bit for bit
    for order in (2, 3, 5):
        np.testing.assert_array_equal(transform.shift(image, (0.3, -0.7), order=order, prefilter=False).values,
                                      ndi.shift(data, (0.3, -0.7), order=order, prefilter=False))
        np.testing.assert_array_equal(transform.zoom(image, 1, order=order, prefilter=False).values,
                                      ndi.zoom(data, 1, order=order, prefilter=False))
    # zoom 1 returns the input (scipy's gh-20999 early exit); integer zooms are exact
    np.testing.assert_array_equal(transform.zoom(image, 1).values, data)
    ints = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(transform.zoom(transform.zoom(ints, 2), 0.5).values, ints)
    assert transform.zoom(image, 0.01).shape == ndi.zoom(data, 0.01).shape == (0, 0)
    # scipy's errors
    for call, error in [
        (lambda: transform.shift(image, 1, order=6), RuntimeError),
        (lambda: transform.zoom(image, 2, mode="edge"), RuntimeError),
        (lambda: transform.shift(image, (1, 2, 3)), RuntimeError),
        (lambda: transform.shift(image.astype(np.float16), 1), RuntimeError),
        (lambda: transform.rotate(image, 10, axes=(0, 2)), ValueError),
        (lambda: transform.rotate(image, 10, axes=(0,)), ValueError),
        (lambda: transform.rotate(image, 10, axes=(0, 1.5)), ValueError),
    ]:
        with pytest.raises(error):
            call()


def test_output_chunks():
    """dask-image's ``output_chunks``: the output's chunks, values unchanged."""
    data = np.random.default_rng(10).random((12, 14, 16))
    image = bd.from_array(data, chunks=(5, 6, 7))
    out = transform.affine_transform(image, MATRIX, OFFSET, output_shape=(10, 11, 9), order=1, output_chunks=4)
    assert out.chunks == ((4, 4, 2), (4, 4, 3), (4, 4, 1))
    np.testing.assert_array_equal(out.values, ndi.affine_transform(data, MATRIX, OFFSET, output_shape=(10, 11, 9),
                                                                   order=1))
    out = transform.rotate(image, 30, axes=(1, 2), order=1, output_chunks=(3, 8, 8))
    assert out.chunks[0] == (3, 3, 3, 3) and set(out.chunks[1][:-1]) == {8}
    np.testing.assert_array_equal(out.values, ndi.rotate(data, 30, axes=(1, 2), order=1))
    assert transform.zoom(image, 2, order=0, output_chunks=10).chunks[0] == (10, 10, 4)
    assert transform.spline_filter(image, 3, output_chunks=6).chunks[2] == (6, 6, 4)


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
        (transform.rotate(image, 90, axes=(0, 1), order=order), ndi.rotate(data, 90, axes=(0, 1), order=order)),
    ]
    for out, expected in cases:
        assert_like_scipy(out.values, expected, order)


@pytest.mark.parametrize("order", [0, 1, 2, 4])
def test_map_coordinates(order):
    data = random_volume(np.float32)
    image = image_of(data, CHUNKINGS[0])
    coords = np.random.default_rng(8).uniform(-4, 34, (3, 20, 17))
    lazy = da.from_array(coords, chunks=(3, 6, 5))
    for mode in MODES:
        expected = ndi.map_coordinates(data, coords, order=order, mode=mode, cval=-3)
        for given in (coords, lazy) if mode in ("constant", "reflect", "grid-wrap") else (coords,):
            out = transform.map_coordinates(image, given, order=order, mode=mode, cval=-3)
            assert_like_scipy(out.values, expected, order, mode)
    assert transform.map_coordinates(image, lazy[:, :, :5]).dims == ("y", "x")  # the output has the coordinates' rank
    with pytest.raises(RuntimeError, match="invalid shape"):
        transform.map_coordinates(image, coords[:2])
    with pytest.raises(TypeError, match="Complex"):
        transform.map_coordinates(image, coords + 0j)


def test_map_coordinates_reads_only_what_it_needs():
    data = random_volume(np.float32)
    image = image_of(data, CHUNKINGS[0])
    grid = np.indices((23, 31, 29), dtype=float) * 0.5 + 0.25  # the first octant of the volume
    lazy = da.from_array(grid, chunks=(3, 8, 8, 8))
    out = transform.map_coordinates(image, lazy, order=1)
    graph = out.data.__dask_graph__()
    [task_key] = [k for k in graph.layers[out.data.name] if k[1:] == (0, 0, 0)]
    needed = [k for k in graph.cull({task_key}).to_dict() if k[0] == image.data.name]
    assert 0 < len(needed) <= 2 * 2 * 2 < image.data.npartitions
    np.testing.assert_array_equal(out.values, ndi.map_coordinates(data, grid, order=1))


@pytest.mark.parametrize("order", [0, 1, 3])
def test_geometric_transform(order):
    data = phantom_volume()
    image = image_of(data, CHUNKINGS[0])

    def mapping(point, shift, scale=1.0):
        return (point[0] * scale + shift, point[1] - 0.5 * point[2] / 10, point[2] * 0.9 + 1.5)

    kwargs = dict(output_shape=(12, 20, 16), order=order, extra_arguments=(0.5,), extra_keywords={"scale": 1.7})
    for mode in ["constant", "mirror", "grid-wrap", "nearest"]:
        assert_like_scipy(transform.geometric_transform(image, mapping, mode=mode, **kwargs).values,
                          ndi.geometric_transform(data, mapping, mode=mode, **kwargs), order, mode)
    flat = np.arange(1.0, 13.0).reshape(3, 4)
    out = transform.geometric_transform(flat, lambda p: (1, p[0] * 2), output_shape=(2,), order=order)
    np.testing.assert_allclose(out.values, [5, 7])


@pytest.mark.parametrize("order", [0, 1, 2, 3, 5])
def test_spline_filters(order):
    data = random_volume(np.float32, shape=(40, 46, 50))
    image = bd.from_array(data, chunks=(20, 23, 25))
    for mode in MODES:
        out = transform.spline_filter1d(image, order, axis=1, mode=mode)
        assert_like_scipy(out.values, ndi.spline_filter1d(data, order, axis=1, mode=mode), order, mode)
        if order >= 2:
            out = transform.spline_filter(image, order, mode=mode)
            assert_like_scipy(out.values, ndi.spline_filter(data, order, mode=mode), order)
    out = transform.spline_filter1d(image, order, axis="z", output=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.values, ndi.spline_filter1d(data, order, axis=0, output=np.float32), rtol=1e-6)
    with pytest.raises(ValueError, match="'t'"):
        transform.spline_filter1d(np.zeros((2, 4, 5, 6)), order, axis=0)
    if order < 2:
        with pytest.raises(RuntimeError, match="order"):
            transform.spline_filter(image, order)


# --- issue 23: the chunked spline path, on grids whose chunks are at least the overlap ---

DEPTH = dict(transform._SPLINE_DEPTH)  # the module's overlaps, before any test patches them

def _spline_grid(order):
    """Two chunks per axis, each longer than the overlap: every block's region ends inside the volume."""
    chunks = tuple(DEPTH[order] + k for k in (1, 3, 5))
    shape = tuple(2 * c for c in chunks)
    data = ndi.gaussian_filter(np.random.default_rng(order).random(shape), 1.5) * 1000
    out_shape = (20, 18, 16)  # a shrink that samples the whole volume and 2 voxels past its faces
    a = np.deg2rad(5)
    rotation = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    matrix = rotation @ np.diag((np.array(shape) + 3) / (np.array(out_shape) - 1))
    offset = np.array(shape) / 2 - matrix @ ((np.array(out_shape) - 1) / 2)
    return data, chunks, matrix, offset, out_shape


def _spline_error(order, mode):
    data, chunks, matrix, offset, out_shape = _spline_grid(order)
    image = bd.from_array(data, chunks=chunks)
    assert all(len(c) == 2 and min(c) >= DEPTH[order] for c in image.chunks)
    # output chunks of 5: many blocks share the coefficient chunks, so the chunked layer is used
    out = transform.affine_transform(image, matrix, offset, output_shape=out_shape, order=order, mode=mode,
                                     output_chunks=5)
    assert any(name.startswith("spline-filter-") for name in out.data.__dask_graph__().layers)
    expected = ndi.affine_transform(data, matrix, offset, output_shape=out_shape, order=order, mode=mode)
    return np.abs(out.values - expected).max() / np.ptp(expected)


# Measured (scipy 1.17) on these grids: at most 1.3e-15 of the value range over orders
# 2-5 and every mode (5.6e-16, 6.2e-16, 5.6e-16, 1.3e-15 for orders 2-5); the tolerance
# 1e-13 leaves a 75x margin. With the overlap cut to 5 voxels the error is 6e-6
# (order 2) to 2e-3 (order 5): 60x to 2e7x the tolerance.
SPLINE_TOLERANCE = 1e-13


@pytest.mark.parametrize("order", [2, 3, 4, 5])
def test_chunked_spline_path_equals_scipy(order):
    errors = {mode: _spline_error(order, mode) for mode in MODES}
    assert max(errors.values()) <= SPLINE_TOLERANCE, errors


@pytest.mark.parametrize("order", [2, 5])
def test_chunked_spline_path_fails_with_a_short_overlap(order, monkeypatch):
    """Negative control: the same test with the overlap cut to 5 voxels must fail."""
    monkeypatch.setattr(transform, "_SPLINE_DEPTH", {o: 5 for o in range(2, 6)})
    for mode in ["mirror", "grid-wrap"]:
        assert _spline_error(order, mode) > 100 * SPLINE_TOLERANCE


def test_graphs_are_lazy_and_valid():
    """dask's own graph checks (assert_eq) on every kind of graph; nothing computes while building."""
    from dask.array.utils import assert_eq

    data = np.random.default_rng(9).random((13, 17, 19))
    image = bd.from_array(data, chunks=(5, 6, 7))
    with raise_if_dask_computes():
        cases = [
            (transform.shift(image, (1.5, -2, 0.3), order=3, mode="nearest"),
             ndi.shift(data, (1.5, -2, 0.3), order=3, mode="nearest")),
            (transform.zoom(image, 1.5, order=1, mode="grid-wrap"), ndi.zoom(data, 1.5, order=1, mode="grid-wrap")),
            (transform.affine_transform(image, MATRIX, order=2, mode="grid-constant"),
             ndi.affine_transform(data, MATRIX, order=2, mode="grid-constant")),
            (transform.rotate(image + 1j, 20, order=3), ndi.rotate(data + 1j, 20, order=3)),
            (transform.spline_filter(image, 4, mode="grid-wrap"), ndi.spline_filter(data, 4, mode="grid-wrap")),
            (transform.map_coordinates(image, data[None, :3, :4, :5] * [[[[12]]], [[[16]]], [[[18]]]]),
             ndi.map_coordinates(data, data[None, :3, :4, :5] * [[[[12]]], [[[16]]], [[[18]]]])),
        ]
    for out, expected in cases:
        assert_eq(out.data, expected, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("order", [2, 3, 5])
def test_sparse_samples_prefilter_only_their_region(order):
    """A few coordinates (or a strong shrink) of a larger volume: each task filters its own
    region plus the overlap, with scipy's pads, instead of the whole volume's coefficients."""
    rng = np.random.default_rng(order)
    data = rng.random((60, 70, 80))
    integers = (data * 100).astype(np.int16)
    coords = rng.uniform(-30, 100, (3, 5, 4))
    near = rng.uniform(0, 12, (3, 4, 4)) + [[[5]], [[50]], [[60]]]
    for mode in MODES:
        for values in (data, integers):
            image = bd.from_array(values, chunks=(20, 25, 30))
            for given in (coords, near):
                out = transform.map_coordinates(image, given, order=order, mode=mode, cval=7.5)
                if given is near:  # one small region: no coefficient layer
                    assert not any(n.startswith("spline-filter-") for n in out.data.__dask_graph__().layers)
                assert_like_scipy(out.values, ndi.map_coordinates(values, given, order=order, mode=mode, cval=7.5),
                                  order)
        assert_like_scipy(transform.zoom(bd.from_array(data, chunks=(20, 25, 30)), 0.1, order=order, mode=mode).values,
                          ndi.zoom(data, 0.1, order=order, mode=mode), order)
    out = transform.map_coordinates(bd.from_array(data, chunks=(20, 25, 30)), near, order=order)
    graph = out.data.__dask_graph__()
    assert len([k for k in graph.to_dict() if k[0].startswith("array-")]) < 60  # not every input chunk read


def test_homogeneous_matrix_and_integer_images():
    data = random_volume(np.int16)
    image = image_of(data, CHUNKINGS[0])
    homogeneous = np.eye(4)
    homogeneous[:3, :3], homogeneous[:3, 3] = MATRIX, OFFSET
    for order in (0, 1, 3):
        out = transform.affine_transform(image, homogeneous, order=order)
        assert out.dtype == np.int16
        expected = ndi.affine_transform(data, homogeneous, order=order)
        if order <= 1:
            np.testing.assert_array_equal(out.values, expected)
        else:  # rounding to integers: a coefficient within 1e-12 of .5 may round either way
            assert np.abs(out.values.astype(int) - expected).max() <= 1


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
