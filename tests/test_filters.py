"""bd.filters against scipy.ndimage on data whose chunks cut through objects."""

import numpy as np
import pytest
import scipy.ndimage as ndi

import bmia_dask as bd
from bmia_dask import filters
from bmia_dask.testing import raise_if_dask_computes

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
@pytest.mark.parametrize("chunks", CHUNKINGS)
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
    "call, match",
    [
        (lambda im: filters.gaussian_filter(im, -1), "sigma"),
        (lambda im: filters.gaussian_filter(im, 1, sigma_mm=2), "sigma_mm"),
        (lambda im: filters.gaussian_filter(im), "sigma"),
        (lambda im: filters.gaussian_filter(im, (1, 2)), "sigma"),
        (lambda im: filters.median_filter(im, size=0), "size"),
        (lambda im: filters.convolve(im, np.ones((3, 3))), "weights must be 3D"),
        (lambda im: filters.median_filter(im, footprint=np.ones((3, 3), bool)), "footprint must be 3D"),
        (lambda im: filters.gaussian_filter(im, 1, mode="bogus"), "mode"),
        (lambda im: filters.sobel(im, axis="t"), "axis"),
    ],
)
def test_bad_arguments_name_the_parameter(call, match):
    image = image_of(phantom_volume(), CHUNKINGS[0])
    with pytest.raises(ValueError, match=match):
        call(image)
