"""bd.fourier against scipy.ndimage on spectra whose chunks cut every axis."""

import numpy as np
import pytest
import scipy.ndimage as ndi
from dask.array.utils import assert_eq

import bmia_dask as bd
from bmia_dask import fourier
from bmia_dask.testing import raise_if_dask_computes

RNG = np.random.default_rng(5)
SHAPES = [((17,), (5,)), ((9, 12), (4, 5)), ((6, 7, 8), (2, 3, 5)), ((5, 1, 7), (2, 1, 3)), ((6, 7, 8), (6, 7, 8))]
NAMES = ["fourier_gaussian", "fourier_uniform", "fourier_ellipsoid", "fourier_shift"]


def _spectra(shape):
    x = RNG.random(shape)
    full = np.fft.fftn(x)
    return {"complex128": full, "complex64": full.astype(np.complex64), "float64": x,
            "float32": x.astype(np.float32), "int16": (x * 100).astype(np.int16)}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape, chunks", SHAPES)
def test_equal_to_scipy(name, shape, chunks):
    value = 1.7 if len(shape) == 1 else tuple(np.linspace(0.5, 2.5, len(shape)))
    for kind, spectrum in _spectra(shape).items():
        image = bd.from_array(spectrum, chunks=chunks)
        for n, axis in [(-1, -1), (2 * shape[-1] - 1, -1), (2 * shape[0], 0)]:
            for output in [None, np.complex64, "f8", np.dtype(np.float32)]:
                scipy_output = None if output is None else np.dtype(output).type
                try:
                    expected = getattr(ndi, name)(spectrum, value, n=n, axis=axis, output=scipy_output)
                except RuntimeError:  # complex input into a real output
                    with pytest.raises(RuntimeError):
                        getattr(fourier, name)(image, value, n=n, axis=axis, output=output)
                    continue
                out = getattr(fourier, name)(image, value, n=n, axis=axis, output=output)
                assert out.dtype == expected.dtype
                assert_eq(out.data, expected)  # the graph is valid
                np.testing.assert_array_equal(out.values, expected, err_msg=f"{kind} {n} {axis} {output}")


def test_rfft_spectrum_round_trip():
    data = RNG.random((10, 13))
    spectrum = np.fft.rfft(data, axis=0)
    image = bd.from_array(spectrum, chunks=(2, 4))
    out = fourier.fourier_gaussian(image, 1.5, n=10, axis="y")
    np.testing.assert_allclose(np.fft.irfft(out.values, n=10, axis=0),
                               np.fft.irfft(ndi.fourier_gaussian(spectrum, 1.5, n=10, axis=0), n=10, axis=0))


def test_frames_of_a_4d_image_alone():
    data = np.fft.fftn(RNG.random((2, 4, 5, 6)), axes=(1, 2, 3))
    image = bd.from_array(data, chunks=(1, 3, 2, 4))
    out = fourier.fourier_shift(image, (1.0, -2.0, 0.5), n=9, axis="x")
    expected = np.stack([ndi.fourier_shift(frame, (1.0, -2.0, 0.5), n=9, axis=2) for frame in data])
    np.testing.assert_array_equal(out.values, expected)
    assert out.dims == ("t", "z", "y", "x")


def test_lazy_and_on_the_same_grid():
    image = bd.from_array(np.fft.fftn(RNG.random((6, 7, 8))), chunks=3, spacing=(2.0, 1.0, 0.5))
    with raise_if_dask_computes():
        out = fourier.fourier_uniform(image, 3.0)
    assert out.attrs["spacing"] == image.attrs["spacing"]


@pytest.mark.parametrize("call, error", [
    (lambda im: fourier.fourier_gaussian(im, (1, 2)), RuntimeError),              # one sigma per axis
    (lambda im: fourier.fourier_gaussian(im, 1, axis=3), np.exceptions.AxisError),
    (lambda im: fourier.fourier_shift(im, 1, output=np.float64), RuntimeError),   # shift is complex
    (lambda im: fourier.fourier_uniform(im, 1, output=np.int32), RuntimeError),
    (lambda im: fourier.fourier_gaussian(im, 1, output=np.empty(im.shape)), TypeError),
])
def test_bad_arguments_as_scipy_at_call_time(call, error):
    image = bd.from_array(np.fft.fftn(RNG.random((4, 5, 6))), chunks=2)
    with raise_if_dask_computes(), pytest.raises(error):
        call(image)


def test_ellipsoid_refuses_more_than_three_axes_as_scipy():
    with pytest.raises(NotImplementedError):
        ndi.fourier_ellipsoid(np.ones((2, 2, 2, 2)), 1)
    # a 4-D image is (t, z, y, x): three spatial axes, frame by frame
    data = np.fft.fftn(RNG.random((2, 3, 4, 5)), axes=(1, 2, 3))
    out = fourier.fourier_ellipsoid(bd.from_array(data, chunks=2), 2.0)
    np.testing.assert_allclose(out.values, np.stack([ndi.fourier_ellipsoid(f, 2.0) for f in data]))
