"""bd.filters against scipy.ndimage on data whose chunks cut through objects."""

import numpy as np
import pytest
import scipy.ndimage as ndi

import bmia_dask as bd
from bmia_dask import filters
from bmia_dask.testing import raise_if_dask_computes
from dask.array.utils import assert_eq

from ops_helpers import CHUNKINGS, image_of, phantom_volume, random_volume

MODES = ["reflect", "constant", "nearest", "mirror", "wrap"]

CASES = [
    ("gaussian_filter", dict(sigma=1.7)),
    ("gaussian_filter", dict(sigma=(0.5, 2.0, 1.0), order=1)),
    ("median_filter", dict(size=4)),
    ("median_filter", dict(footprint=ndi.generate_binary_structure(3, 1))),
    ("uniform_filter", dict(size=(3, 5, 2))),
    ("minimum_filter", dict(size=3)),
    ("maximum_filter", dict(size=(2, 3, 5))),
    ("laplace", dict()),
    ("sobel", dict(axis=0)),
    ("sobel", dict(axis=2)),
]


@pytest.mark.parametrize("name, kwargs", CASES)
@pytest.mark.parametrize("chunks", CHUNKINGS[:1])
def test_equal_to_scipy(name, kwargs, chunks):
    data = phantom_volume() + random_volume(np.float32) / 10
    for mode in MODES:
        out = getattr(filters, name)(image_of(data, chunks), mode=mode, **kwargs)
        np.testing.assert_array_equal(out.values, getattr(ndi, name)(data, mode=mode, **kwargs), err_msg=mode)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float64])
def test_dtypes_follow_scipy(dtype):
    data = random_volume(dtype)
    image = image_of(data, CHUNKINGS[0])
    for name, kwargs in [("gaussian_filter", dict(sigma=2)), ("median_filter", dict(size=3)),
                         ("uniform_filter", dict(size=3)), ("sobel", dict(axis=1))]:
        out = getattr(filters, name)(image, **kwargs)
        expected = getattr(ndi, name)(data, **kwargs)
        assert out.dtype == expected.dtype
        # integers exactly; float64 sums may differ in the last bit (vectorised order)
        np.testing.assert_allclose(out.values, expected, rtol=1e-13, atol=0, err_msg=name)


@pytest.mark.parametrize("weights_shape", [(3, 3, 3), (1, 5, 3), (4, 2, 3)])
def test_convolve_and_correlate_with_any_weights(weights_shape):
    rng = np.random.default_rng(3)
    data = random_volume(np.float64)
    weights = rng.normal(size=weights_shape)
    image = image_of(data, CHUNKINGS[1])
    np.testing.assert_allclose(filters.convolve(image, weights).values, ndi.convolve(data, weights), rtol=1e-12)
    np.testing.assert_allclose(filters.correlate(image, weights, mode="nearest").values,
                               ndi.correlate(data, weights, mode="nearest"), rtol=1e-12)


def test_mm_variants_use_the_spacing():
    data = phantom_volume()
    image = image_of(data, CHUNKINGS[0], spacing=(2.5, 0.5, 1.0))
    np.testing.assert_array_equal(filters.gaussian_filter(image, sigma_mm=2.5).values,
                                  ndi.gaussian_filter(data, sigma=(1.0, 5.0, 2.5)))
    np.testing.assert_array_equal(filters.median_filter(image, size_mm=(5.0, 1.5, 3.0)).values,
                                  ndi.median_filter(data, size=(2, 3, 3)))


def test_edge_magnitude_and_sharpen():
    data = random_volume(np.int16)
    image = image_of(data, CHUNKINGS[2])
    as_float = data.astype(np.float64)
    expected = np.sqrt(sum(ndi.sobel(as_float, axis=a) ** 2 for a in range(3)))
    np.testing.assert_allclose(filters.edge_magnitude(image).values, expected, rtol=1e-12)
    sharp = as_float + 0.5 * (as_float - ndi.gaussian_filter(as_float, 1.0))
    np.testing.assert_allclose(filters.sharpen(image, 1.0, amount=0.5).values, sharp, rtol=1e-12)


def test_4d_frames_are_filtered_alone():
    data = np.stack([phantom_volume(), random_volume(np.float32)])
    image = bd.from_array(data, chunks=(1, 6, 9, 10), times_ms=[0, 40])
    out = filters.gaussian_filter(image, 1.5)
    assert out.dims == ("t", "z", "y", "x")
    np.testing.assert_array_equal(out.values, np.stack([ndi.gaussian_filter(f, 1.5) for f in data]))


def test_2d_images():
    data = random_volume(np.float32)[5]
    image = bd.from_array(data, chunks=(7, 9))
    np.testing.assert_array_equal(filters.median_filter(image, size=5).values, ndi.median_filter(data, size=5))


def test_lazy_and_keeps_grid():
    image = image_of(phantom_volume(), CHUNKINGS[0])
    with raise_if_dask_computes():
        out = filters.gaussian_filter(filters.median_filter(image, size=3), sigma_mm=1.0)
    assert out.attrs["spacing"] == image.attrs["spacing"]
    np.testing.assert_array_equal(out.z.values, image.z.values)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda im: filters.gaussian_filter(im, 1, sigma_mm=2), ValueError, "sigma_mm"),
        (lambda im: filters.gaussian_filter(im), TypeError, "sigma"),
        (lambda im: filters.median_filter(im, size_mm=2, footprint=np.ones((3, 3, 3))), ValueError, "footprint"),
        (lambda im: filters.sobel(im, axis="t"), ValueError, "axis"),
        (lambda im: filters.sobel(im, axis=3), np.exceptions.AxisError, "axis"),
        (lambda im: filters.uniform_filter(im, axes=(0, 5)), ValueError, "out of range"),
        (lambda im: filters.gaussian_filter(im, 1, output=np.empty(im.shape)), TypeError, "lazy"),
    ],
)
def test_bad_arguments_name_the_parameter(call, error, match):
    image = image_of(phantom_volume(), CHUNKINGS[0])
    with pytest.raises(error, match=match):
        call(image)


@pytest.mark.parametrize(
    "name, args, kwargs",
    [
        ("gaussian_filter", (), dict(sigma=(1, 2))),                       # RuntimeError: sequence length
        ("gaussian_filter", (), dict(sigma=1, mode="bogus")),              # RuntimeError: mode
        ("median_filter", (), dict(size=0)),                               # RuntimeError: empty footprint
        ("median_filter", (), dict(footprint=np.ones((3, 3), bool))),       # RuntimeError: footprint ndim
        ("minimum_filter", (), dict(footprint=np.zeros((3, 3, 3), bool))),  # ValueError: all-zero footprint
        ("minimum_filter", (), dict()),                                    # RuntimeError: no footprint
        ("convolve", (np.ones((3, 3)),), dict()),                          # RuntimeError: weights ndim
        ("correlate", (np.ones((3, 3, 3)),), dict(mode=["reflect"] * 3)),   # RuntimeError: mode sequence
        ("uniform_filter", (), dict(size=3, origin=2)),                    # ValueError: origin
        ("median_filter", (), dict(size=3, origin=(0, -2, 0))),            # ValueError: origin
        ("convolve1d", ([1, 2, 3],), dict(origin=2)),                      # ValueError: origin
        ("uniform_filter1d", (0,), dict()),                                # RuntimeError: size
        ("generic_filter1d", (lambda i, o: None, 0), dict()),              # RuntimeError: filter size
        ("rank_filter", (27, 3), dict()),                                  # RuntimeError: rank
        ("percentile_filter", (120, 3), dict()),                           # RuntimeError: percentile
        ("gaussian_filter", (1,), dict(axes=(0, 0))),                      # ValueError: axes unique
        ("gaussian_filter1d", (-1,), dict()),                              # ValueError: radius
        ("maximum_filter", (3,), dict(mode=["reflect", "wrap"])),          # RuntimeError: sequence length
    ],
)
def test_errors_are_scipys_and_raised_at_call_time(name, args, kwargs):
    data = random_volume(np.float64, shape=(5, 6, 7))
    image = image_of(data, (2, 3, 4))
    with pytest.raises(Exception) as expected:
        getattr(ndi, name)(data, *args, **kwargs)
    with raise_if_dask_computes(), pytest.raises(expected.type):
        getattr(filters, name)(image, *args, **kwargs)


# ---------------------------------------------------------------- every filter, every mode, chunks cutting every axis

ALL_MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-constant", "grid-mirror", "grid-wrap"]
RNG = np.random.default_rng(7)
SMALL = RNG.random((7, 9, 11)) * 100
GRIDS = [(3, 4, 5), (7, 9, 11)]
WEIGHTS = RNG.normal(size=(3, 2, 4))


def _d2(input, axis, output, mode, cval, sigma):
    order = [0] * input.ndim
    order[axis] = 2
    return ndi.gaussian_filter(input, sigma, order, output, mode, cval)


FILTERS = [
    ("correlate1d", ([1, 2, 3, -1],), dict(axis=0, origin=1)),
    ("convolve1d", ([1, 2, 3, -1],), dict(axis=1, origin=-1)),
    ("correlate", (WEIGHTS,), dict(origin=(1, 0, -1))),
    ("convolve", (WEIGHTS,), dict(origin=(0, -1, 1))),
    ("gaussian_filter1d", (1.5,), dict(axis=2, order=1)),
    ("gaussian_filter1d", (1.5,), dict(axis=0, radius=2)),
    ("gaussian_filter", ((1, 2, 0.5),), dict(order=(0, 1, 2))),
    ("gaussian_filter", ((1, 2),), dict(axes=(0, 2), radius=(1, 3))),
    ("gaussian_laplace", (1.2,), dict()),
    ("gaussian_gradient_magnitude", ((1.2, 0.7, 1),), dict(truncate=3)),
    ("prewitt", (), dict(axis=1)),
    ("sobel", (), dict(axis=0)),
    ("laplace", (), dict(axes=(1, 2))),
    ("uniform_filter1d", (4,), dict(axis=0, origin=1)),
    ("minimum_filter1d", (5,), dict(axis=1, origin=-2)),
    ("maximum_filter1d", (5,), dict(axis=2, origin=2)),
    ("uniform_filter", ((3, 4, 2),), dict(origin=(1, -2, 0))),
    ("minimum_filter", ((3, 4, 2),), dict(origin=(1, -2, 0))),
    ("maximum_filter", (), dict(footprint=ndi.generate_binary_structure(3, 1), origin=(1, -1, 0))),
    ("median_filter", (4,), dict(origin=1)),
    ("rank_filter", (3, (3, 2, 3)), dict()),
    ("percentile_filter", (30,), dict(footprint=ndi.generate_binary_structure(2, 1), axes=(0, 2))),
    ("generic_filter", (np.ptp, (2, 3, 2)), dict()),
    ("generic_filter1d", (lambda line, out, k: np.subtract(line[2:], k * line[:-2], out), 3), dict(extra_arguments=(2,))),
    ("generic_laplace", (_d2,), dict(extra_keywords=dict(sigma=1.0), depth=4)),
    ("generic_laplace", (_d2,), dict(extra_arguments=(0.8,))),  # whole volume in one block
    ("generic_gradient_magnitude", (ndi.sobel,), dict(depth=1)),
]


def _scipy(name, data, args, kwargs):
    kwargs = {k: v for k, v in kwargs.items() if k != "depth"}
    return getattr(ndi, name)(data, *args, **kwargs)


@pytest.mark.parametrize("name, args, kwargs", FILTERS, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("chunks", GRIDS)
def test_every_filter_every_mode_equals_scipy(name, args, kwargs, chunks):
    image = bd.from_array(SMALL, chunks=chunks)
    for mode in ALL_MODES:
        try:
            expected = _scipy(name, SMALL, args, dict(kwargs, mode=mode))
        except RuntimeError:  # a mode scipy refuses for this filter (grid-wrap in correlate)
            with pytest.raises(RuntimeError):
                getattr(filters, name)(image, *args, mode=mode, **kwargs)
            continue
        out = getattr(filters, name)(image, *args, mode=mode, **kwargs)
        assert out.dims == image.dims and out.shape == image.shape
        assert_eq(out.data, expected, rtol=1e-12, atol=1e-9)


MODE_SEQUENCES = [("wrap", "reflect", "constant"), ("nearest", "grid-wrap", "wrap"), ("mirror", "nearest", "wrap")]
SEQUENCE_FILTERS = [
    ("gaussian_filter", ((1, 2, 0.5),), dict()),
    ("uniform_filter", ((3, 4, 5),), dict(origin=1)),
    ("minimum_filter", ((3, 4, 5),), dict()),
    ("maximum_filter", (3,), dict(origin=(0, 1, -1))),
    ("sobel", (), dict(axis=1)),
    ("prewitt", (), dict(axis=2)),
    ("laplace", (), dict()),
    ("gaussian_laplace", (1.1,), dict()),
    ("gaussian_gradient_magnitude", ((1.1, 0.5, 1.5),), dict()),
    ("generic_laplace", (_d2,), dict(extra_arguments=(1.0,), depth=4)),
    ("generic_gradient_magnitude", (ndi.prewitt,), dict(depth=1)),
]


@pytest.mark.parametrize("name, args, kwargs", SEQUENCE_FILTERS, ids=lambda v: v if isinstance(v, str) else "")
def test_a_mode_per_axis(name, args, kwargs):
    for chunks in [(3, 4, 5)]:
        image = bd.from_array(SMALL, chunks=chunks)
        for modes in MODE_SEQUENCES:
            out = getattr(filters, name)(image, *args, mode=list(modes), **kwargs)
            assert_eq(out.data, _scipy(name, SMALL, args, dict(kwargs, mode=list(modes))), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("name, args, kwargs", [
    ("gaussian_filter", (1.0,), dict(axes=(0,))),
    ("gaussian_filter", ((1.0, 2.0),), dict(axes=(-1, 0), mode=["wrap", "constant"])),
    ("uniform_filter", (5,), dict(axes=(1,), origin=-2)),
    ("median_filter", ((2, 4),), dict(axes=(1, 0))),
    ("minimum_filter", (), dict(footprint=[[1, 0, 1]], axes=(0, 1))),
    ("rank_filter", (1, 3), dict(axes=1, mode="wrap")),  # scipy fails with a negative scalar axes
    ("generic_filter", (np.mean, 3), dict(axes=(0,))),
    ("laplace", (), dict(axes=(1,), mode=["wrap"])),
    ("gaussian_laplace", ((1.0, 2.0),), dict(axes=(1, 0), mode=["constant", "wrap"])),
    ("gaussian_gradient_magnitude", ((1.0, 2.0),), dict(axes=(1,), mode="wrap")),
    ("correlate", ([[1, 2, 3]],), dict(axes=(1, 0), origin=(0, 1))),
])
def test_axes_on_2d_images(name, args, kwargs):
    data = RNG.random((17, 19)) * 10
    image = bd.from_array(data, chunks=(4, 5))
    assert_eq(getattr(filters, name)(image, *args, **kwargs).data, _scipy(name, data, args, kwargs), rtol=1e-12)


def test_axes_by_dim_name_and_image_axes_of_a_4d_image():
    data = np.stack([SMALL, SMALL[::-1]])
    image = bd.from_array(data, chunks=(1, 4, 5, 6))
    out = filters.uniform_filter(image, (3, 5), axes=("x", "z"))
    expected = np.stack([ndi.uniform_filter(frame, (3, 5), axes=(2, 0)) for frame in data])
    assert_eq(out.data, expected, rtol=1e-12)
    out = filters.gaussian_filter1d(image, 2.0, axis=1)  # image axis 1 is z
    assert_eq(out.data, np.stack([ndi.gaussian_filter1d(frame, 2.0, axis=0) for frame in data]), rtol=1e-12)
    with pytest.raises(ValueError, match="'t'"):
        filters.gaussian_filter(image, 1.0, axes=(0, 1))


@pytest.mark.parametrize("name, args, kwargs", [
    ("median_filter", (5,), dict()),
    ("rank_filter", (1, 4), dict(origin=-1)),
    ("percentile_filter", (70, 6), dict(origin=2)),
    ("generic_filter1d", (lambda line, out: np.subtract(line[2:], line[:-2], out), 3), dict()),
    ("uniform_filter1d", (7,), dict(origin=3)),
    ("gaussian_filter", (3,), dict()),
    ("correlate1d", ([1, 2, 3],), dict()),
    ("maximum_filter1d", (4,), dict()),
])
def test_1d_images(name, args, kwargs):
    data = RNG.integers(0, 50, 30).astype(np.float64)
    for chunks in [7, 3, 30]:
        image = bd.from_array(data, chunks=chunks)
        for mode in ALL_MODES:
            expected = _scipy(name, data, args, dict(kwargs, mode=mode))
            assert_eq(getattr(filters, name)(image, *args, mode=mode, **kwargs).data, expected, rtol=1e-12)


@pytest.mark.parametrize("mode", ["reflect", "mirror", "wrap", "nearest"])
def test_kernels_longer_than_the_axis(mode):
    data = RNG.random((3, 4, 12))
    for chunks in [(1, 2, 5)]:
        image = bd.from_array(data, chunks=chunks)
        for name, args in [("uniform_filter", (9,)), ("gaussian_filter", (3,)), ("median_filter", ((7, 9, 3),)),
                           ("correlate", (np.ones((7, 1, 3)),))]:
            out = getattr(filters, name)(image, *args, mode=mode)
            assert_eq(out.data, getattr(ndi, name)(data, *args, mode=mode), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, bool])
def test_dtypes_and_output(dtype):
    data = random_volume(dtype, shape=(6, 7, 8))
    image = bd.from_array(data, chunks=(4, 3, 5))
    calls = [("uniform_filter", (3,)), ("minimum_filter", (3,)), ("median_filter", (3,)), ("sobel", ()),
             ("prewitt", ()), ("laplace", ()), ("gaussian_filter", (1.0,)), ("percentile_filter", (20, 3)),
             ("generic_filter", (np.max, 2)), ("correlate", (np.ones((2, 2, 2)),))]
    for name, args in calls:
        for output in (None, np.float32, "f8", np.dtype(np.int32)):
            if dtype is bool and name in ("median_filter", "percentile_filter", "generic_filter", "laplace",
                                          "sobel", "prewitt", "uniform_filter", "gaussian_filter", "correlate"):
                continue  # scipy refuses or overflows bool here; checked below where it accepts
            expected = getattr(ndi, name)(data, *args, output=output)
            out = getattr(filters, name)(image, *args, output=output)
            assert out.dtype == expected.dtype, (name, output)
            assert_eq(out.data, expected, rtol=1e-6 if expected.dtype == np.float32 else 1e-12)


def test_bool_where_scipy_takes_it():
    data = random_volume(bool, shape=(9, 11, 13))
    image = bd.from_array(data, chunks=(4, 5, 6))
    for name, args in [("minimum_filter", (3,)), ("maximum_filter", (2,)), ("uniform_filter", (3,))]:
        try:
            expected = getattr(ndi, name)(data, *args)
        except Exception as error:
            with pytest.raises(type(error)):
                getattr(filters, name)(image, *args)
            continue
        assert_eq(getattr(filters, name)(image, *args).data, expected)


def test_complex_input():
    data = RNG.random((9, 11)) + 1j * RNG.random((9, 11))
    image = bd.from_array(data, chunks=(4, 3))
    weights = RNG.random((3, 2)) - 1j * RNG.random((3, 2))
    for name, args in [("correlate", (weights,)), ("convolve", (weights,)), ("correlate1d", ([1j, 2, 3],)),
                       ("gaussian_filter", (1.5,)), ("uniform_filter", (3,)), ("gaussian_filter1d", (1.0,))]:
        assert_eq(getattr(filters, name)(image, *args, mode="wrap").data, getattr(ndi, name)(data, *args, mode="wrap"))
    with pytest.raises(TypeError):
        filters.median_filter(image, 3)


def test_size_zero_and_one_as_scipy():
    data = random_volume(np.float64, shape=(6, 7, 8))
    image = bd.from_array(data, chunks=(2, 3, 4))
    for name in ("uniform_filter", "minimum_filter", "maximum_filter"):
        assert_eq(getattr(filters, name)(image, 0).data, getattr(ndi, name)(data, 0))
        assert_eq(getattr(filters, name)(image, (1, 0, 3)).data, getattr(ndi, name)(data, (1, 0, 3)))
    assert_eq(filters.gaussian_filter(image, 0).data, ndi.gaussian_filter(data, 0))
    assert_eq(filters.gaussian_filter(image, -1).data, ndi.gaussian_filter(data, -1))  # scipy skips sigma <= 0
    assert_eq(filters.laplace(image, axes=()).data, ndi.laplace(data, axes=()))


def test_footprint_wins_over_size_with_scipys_warning():
    data = random_volume(np.float64, shape=(6, 7, 8))
    image = bd.from_array(data, chunks=(2, 3, 4))
    footprint = ndi.generate_binary_structure(3, 2)
    with pytest.warns(UserWarning, match="footprint"):
        out = filters.median_filter(image, 5, footprint=footprint)
    assert_eq(out.data, ndi.median_filter(data, footprint=footprint))


def test_generic_filters_get_extra_arguments_and_keywords():
    data = random_volume(np.float64, shape=(8, 9, 10))
    image = bd.from_array(data, chunks=(3, 4, 5))

    def weighted(values, scale, offset=0.0):
        return scale * values.max() + offset

    out = filters.generic_filter(image, weighted, 3, extra_arguments=(2.0,), extra_keywords={"offset": 1.5})
    assert_eq(out.data, ndi.generic_filter(data, weighted, 3, extra_arguments=(2.0,), extra_keywords={"offset": 1.5}))

    def shifted_sum(line, out, k, sign=1):
        out[:] = line[k:] + sign * line[:-k]

    out = filters.generic_filter1d(image, shifted_sum, 3, axis="y", mode="wrap", origin=1, extra_arguments=(2,),
                                   extra_keywords={"sign": -1})
    expected = ndi.generic_filter1d(data, shifted_sum, 3, axis=1, mode="wrap", origin=1, extra_arguments=(2,),
                                    extra_keywords={"sign": -1})
    assert_eq(out.data, expected)


def test_4d_images_with_new_filters():
    data = np.stack([SMALL, SMALL[::-1]])
    image = bd.from_array(data, chunks=(1, 3, 5, 7))
    for name, args, kwargs in [("gaussian_laplace", (1.0,), dict(mode="wrap")),
                               ("percentile_filter", (40, 3), dict(origin=(1, 0, -1))),
                               ("prewitt", (), dict(axis="y"))]:
        out = getattr(filters, name)(image, *args, **kwargs)
        spatial = {k: (1 if v == "y" else v) for k, v in kwargs.items()}
        expected = np.stack([getattr(ndi, name)(frame, *args, **spatial) for frame in data])
        assert_eq(out.data, expected, rtol=1e-12)


def test_new_filters_are_lazy():
    image = image_of(phantom_volume(), CHUNKINGS[0])
    with raise_if_dask_computes():
        for out in [filters.percentile_filter(image, 30, 3, mode="wrap"),
                    filters.gaussian_gradient_magnitude(image, 1.0, mode=["wrap", "constant", "reflect"]),
                    filters.generic_filter(image, np.mean, 3), filters.prewitt(image, output=np.float32)]:
            assert out.attrs["spacing"] == image.attrs["spacing"]


# ---------------------------------------------------------------- vectorized_filter

def _ptp(x, axis):
    return np.ptp(x, axis=axis)


VECTORIZED = [
    (np.mean, dict(size=3)),
    (np.median, dict(size=(2, 3, 4), origin=(0, 1, -1))),
    (_ptp, dict(footprint=ndi.generate_binary_structure(3, 1))),
    (np.max, dict(size=(3, 4), axes=(2, 0), origin=(-1, 1))),
    (np.mean, dict(footprint=np.array([True, False, True, True]), axes=-2, origin=-1)),
]


@pytest.mark.parametrize("function, kwargs", VECTORIZED)
@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "grid-wrap"])
def test_vectorized_filter_3d(function, kwargs, mode):
    data = np.random.default_rng(3).random((13, 17, 19))
    expected = ndi.vectorized_filter(data, function, mode=mode, **kwargs)
    for chunks in [(3, 4, 5), (13, 17, 19)]:
        out = filters.vectorized_filter(bd.from_array(data, chunks=chunks), function, mode=mode, **kwargs)
        assert out.dtype == expected.dtype
        assert_eq(out.data, expected)


@pytest.mark.parametrize("mode", ["reflect", "constant", "mirror", "wrap"])
def test_vectorized_filter_1d_and_2d(mode):
    rng = np.random.default_rng(4)
    line = rng.integers(0, 100, 23).astype(np.int16)
    for kwargs in [dict(size=4), dict(size=5, origin=2), dict(footprint=[1, 0, 1])]:
        expected = ndi.vectorized_filter(line, np.median, mode=mode, **kwargs)
        assert_eq(filters.vectorized_filter(bd.from_array(line, chunks=3), np.median, mode=mode, **kwargs).data,
                  expected)
    plane = rng.random((14, 11)).astype(np.float32)
    cval = 2.5 if mode == "constant" else None
    expected = ndi.vectorized_filter(plane, _ptp, size=(2, 5), axes=(1, 0), mode=mode, cval=cval)
    out = filters.vectorized_filter(bd.from_array(plane, chunks=(3, 4)), _ptp, size=(2, 5), axes=("x", "y"),
                                    mode=mode, cval=cval)
    assert out.dtype == np.float32
    assert_eq(out.data, expected)


def test_vectorized_filter_windows_longer_than_the_axes():
    data = np.random.default_rng(5).random((5, 7))
    for mode in ["reflect", "wrap", "nearest"]:
        expected = ndi.vectorized_filter(data, np.mean, size=21, mode=mode)
        assert_eq(filters.vectorized_filter(bd.from_array(data, chunks=2), np.mean, size=21, mode=mode).data,
                  expected)


def test_vectorized_filter_valid_mode_crops_the_grid():
    data = np.random.default_rng(6).random((10, 11, 12))
    image = bd.from_array(data, chunks=(3, 4, 5), spacing=(2.0, 1.0, 0.5))
    out = filters.vectorized_filter(image, np.mean, size=(3, 5), axes=(0, 2), mode="valid")
    expected = ndi.vectorized_filter(data, np.mean, size=(3, 5), axes=(0, 2), mode="valid")
    assert out.shape == expected.shape == (8, 11, 8)
    assert_eq(out.data, expected)
    np.testing.assert_allclose(out.z.values, image.z.values[1:9])
    np.testing.assert_allclose(out.x.values, image.x.values[2:10])
    assert bd.image.geometry(out).offset == bd.image.geometry(image.isel(z=slice(1, None), x=slice(2, None))).offset
    with pytest.raises(ValueError, match="window shape cannot be larger"):
        filters.vectorized_filter(image, np.mean, size=11, mode="valid")


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32, np.complex64, bool])
def test_vectorized_filter_dtypes_and_output(dtype):
    data = (np.random.default_rng(7).random((9, 10)) * 50).astype(dtype)
    image = bd.from_array(data, chunks=(2, 3))
    out = filters.vectorized_filter(image, np.sum, size=3)
    expected = ndi.vectorized_filter(data, np.sum, size=3)
    assert out.dtype == expected.dtype
    assert_eq(out.data, expected)
    output = np.complex128 if dtype == np.complex64 else np.float64
    cast = filters.vectorized_filter(image, np.max, size=(1, 3), output=output)
    assert cast.dtype == output
    assert_eq(cast.data, ndi.vectorized_filter(data, np.max, size=(1, 3)).astype(output))


def test_vectorized_filter_batch_memory():
    data = np.random.default_rng(8).random((6, 40))
    image = bd.from_array(data, chunks=(2, 7))
    # enough for one row of windows of the whole image: every block runs in small batches
    assert_eq(filters.vectorized_filter(image, np.mean, size=3, batch_memory=40 * 9 * 8).data,
              ndi.vectorized_filter(data, np.mean, size=3))
    with pytest.raises(ValueError, match="insufficient for minimum chunk size"):
        filters.vectorized_filter(image, np.mean, size=3, batch_memory=40 * 9 * 8 - 1)
    with pytest.raises(ValueError, match="must be positive"):
        filters.vectorized_filter(image, np.mean, size=3, batch_memory=0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(function="eggplant", size=2), ValueError, "must be a callable"),
    (dict(), ValueError, "Either `size` or `footprint` must"),
    (dict(size=2, footprint=np.ones((2, 2))), ValueError, "not both"),
    (dict(size=(1, -1)), ValueError, "positive integers"),
    (dict(size=(1, 2), axes=(0, 1, 2)), ValueError, "may not exceed"),
    (dict(size=(2,)), ValueError, "must be compatible"),
    (dict(size=2, origin=(1, 1.5)), ValueError, "must be integers"),
    (dict(size=2, mode="coconut"), ValueError, "`mode` must be one of"),
    (dict(size=2, mode="valid", origin=1), ValueError, "incompatible"),
    (dict(size=2, mode="reflect", cval=1), ValueError, "only with `mode='constant'`"),
    (dict(size=2, output=np.zeros((6, 7))), TypeError, "lazy library"),
    (dict(function=lambda x, axis: np.stack([x.min(axis), x.max(axis)]), size=2), ValueError, "one value"),
])
def test_vectorized_filter_checks_arguments_at_call_time(kwargs, error, match):
    kwargs = {"function": np.mean, **kwargs}
    with raise_if_dask_computes(), pytest.raises(error, match=match):
        filters.vectorized_filter(bd.from_array(np.ones((6, 7)), chunks=3), **kwargs)


def test_vectorized_filter_4d_per_frame_and_empty():
    data = np.random.default_rng(9).random((2, 5, 6, 7))
    image = bd.from_array(data, chunks=(1, 2, 3, 4))
    out = filters.vectorized_filter(image, np.median, size=3, axes=("y", "x"))
    assert_eq(out.data, np.stack([ndi.vectorized_filter(f, np.median, size=3, axes=(1, 2)) for f in data]))
    with pytest.raises(ValueError, match="'t'"):
        filters.vectorized_filter(image, np.median, size=3, axes=0)
    empty = np.zeros((0, 4))
    assert_eq(filters.vectorized_filter(bd.from_array(empty), np.mean, size=1).data,
              ndi.vectorized_filter(empty, np.mean, size=1))
