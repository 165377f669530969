"""Filters in the frequency domain, with scipy.ndimage's names and answers, chunk by chunk.

The input is the Fourier transform of an image (``numpy.fft.fftn``, or
``rfft`` along ``axis`` with ``n`` the length of that axis before the
transform). Each function multiplies every element by a value that depends
only on the element's frequency, so it runs block by block with no overlap:
a block's frequencies come from its position in the whole array. The
per-axis factors are computed once, with scipy's formulas; ``t`` is not
transformed (each frame on its own) and ``axis`` is an axis of the image or
a dim name, never ``t``.

Examples
--------
>>> import numpy as np, scipy.ndimage as ndi, bmia_dask as bd
>>> spectrum = np.fft.fft2(np.random.default_rng(0).random((12, 10)))
>>> ours = bd.fourier.fourier_gaussian(bd.from_array(spectrum, chunks=5), 2.0)
>>> np.allclose(ours.values, ndi.fourier_gaussian(spectrum, 2.0))
True
"""

from __future__ import annotations


import numpy as np
import scipy.ndimage as ndi

from ._chunked import spatial_axes
from .filters import _axis, _check_output
from .image import as_image, like

__all__ = ["fourier_ellipsoid", "fourier_gaussian", "fourier_shift", "fourier_uniform"]


def _output_type(output):
    """scipy's fourier functions take a dtype class; a dtype or its name means that class."""
    _check_output(output)
    if output is None or isinstance(output, type):
        return output
    return np.dtype(output).type


def _frequencies(length: int, real: bool) -> np.ndarray:
    """The frequency index of each position along an axis: ``0, 1, ..., -2, -1`` (``0, 1, ...`` if ``real``)."""
    index = np.arange(length)
    return index if real else np.where(index < (length + 1) // 2, index, index - length)


def _setup(scipy_func, image, value, n, axis, output):
    """Checks the arguments with scipy (on one element) and returns what every filter needs."""
    image = as_image(image)
    spatial = spatial_axes(image)
    output = _output_type(output)
    axis = _axis(image, axis)
    probe = scipy_func(np.zeros((1,) * len(spatial), dtype=image.dtype), value, n=n, axis=axis, output=output)
    values = np.broadcast_to(np.asarray(value, dtype=np.float64), (len(spatial),)) if np.ndim(value) == 0 \
        else np.asarray(value, dtype=np.float64)
    # the length each axis had before the transform: n along a real transform's axis
    lengths = [n if (k == axis and n >= 0) else image.shape[a] for k, a in enumerate(spatial)]
    real = [k == axis and n >= 0 for k in range(len(spatial))]
    return image, spatial, values, lengths, real, probe.dtype


def _run(image, block_func, **kwargs):
    """``block_func(block, index, **kwargs)`` on every block; ``index`` is where the block
    sits along each spatial axis (slices of the whole array)."""
    spatial, dtype = kwargs["spatial"], kwargs["dtype"]
    data = image.data
    starts = [np.cumsum((0,) + c[:-1]) for c in data.chunks]

    def apply(block, block_info=None):
        location = block_info[0]["chunk-location"]
        index = [slice(starts[a][location[a]], starts[a][location[a]] + block.shape[a]) for a in spatial]
        return block_func(block, index, **kwargs)

    out = data.map_blocks(apply, dtype=dtype, meta=np.empty((0,) * data.ndim, dtype=dtype))
    return like(image, out)


def _broadcast(tables, index, spatial, ndim):
    """The block's part of each axis' table, shaped to broadcast along its axis of the block."""
    parts = []
    for table, region, axis in zip(tables, index, spatial):
        shape = [1] * ndim
        shape[axis] = -1
        parts.append(None if table is None else table[region].reshape(shape))
    return parts


def _multiply(block, factor, dtype):
    """scipy's ``input * factor`` (in double precision, the real and imaginary parts apart), cast to ``dtype``."""
    if np.iscomplexobj(block):
        out = np.empty(block.shape, dtype=np.complex128)
        out.real = block.real * factor
        out.imag = block.imag * factor
        return out.astype(dtype, copy=False)
    return (block.astype(np.float64) * factor).astype(dtype, copy=False)


def _product_block(block, index, *, tables, spatial, dtype):
    factor = 1.0
    for part in _broadcast(tables, index, spatial, block.ndim):
        if part is not None:
            factor = factor * part
    return _multiply(block, np.broadcast_to(factor, block.shape), dtype)


def _product_filter(scipy_func, image, value, n, axis, output):
    """The separable filters: a factor per axis (scipy's own, from a 1-D call), multiplied."""
    image, spatial, values, lengths, real, dtype = _setup(scipy_func, image, value, n, axis, output)
    tables = []
    for k, a in enumerate(spatial):
        size = image.shape[a]
        if size <= 1:  # scipy leaves axes of one element out
            tables.append(None)
            continue
        ones = np.ones(size)
        tables.append(scipy_func(ones, values[k], n=lengths[k] if real[k] else -1, axis=0))
    return _run(image, _product_block, tables=tables, spatial=spatial, dtype=dtype)


def fourier_gaussian(image, sigma, n=-1, axis=-1, *, output=None):
    """Multiply a spectrum by a Gaussian's transform, as ``scipy.ndimage.fourier_gaussian``.

    Parameters
    ----------
    image : xarray.DataArray or array_like
        The Fourier transform of an image (real or complex).
    sigma : float or sequence
        Standard deviation of the Gaussian in voxels, one or one per spatial axis.
    n : int
        ``-1`` for a complex transform; the length of ``axis`` before a real one (``rfft``).
    axis : int or str
        The axis of the real transform.
    output : dtype, optional
        As scipy (complex input keeps its dtype, float32 stays, else float64).

    Returns
    -------
    xarray.DataArray
        Same grid, lazy.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> spectrum = np.fft.fft(np.eye(8)[3])
    >>> smooth = np.fft.ifft(fourier_gaussian(bd.from_array(spectrum, chunks=3), 1.0).values).real
    >>> int(smooth.argmax())
    3
    """
    return _product_filter(ndi.fourier_gaussian, image, sigma, n, axis, output)


def fourier_uniform(image, size, n=-1, axis=-1, *, output=None):
    """Multiply a spectrum by a box's transform, as ``scipy.ndimage.fourier_uniform``.

    Parameters as :func:`fourier_gaussian`, with ``size`` the box's length in voxels.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> spectrum = np.fft.rfft(np.arange(10.0))
    >>> fourier_uniform(bd.from_array(spectrum, chunks=2), 3, n=10).shape
    (6,)
    """
    return _product_filter(ndi.fourier_uniform, image, size, n, axis, output)


def _ellipsoid_block(block, index, *, tables, spatial, dtype):
    parts = _broadcast(tables, index, spatial, block.ndim)
    if len(parts) == 1:
        t = parts[0]
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(t != 0, np.sin(t) / t, 1.0)
    else:
        r = 0.0
        for part in parts:
            r = r + part
        r = np.sqrt(r)
        with np.errstate(invalid="ignore", divide="ignore"):
            if len(parts) == 2:
                from scipy.special import j1

                factor = np.where(r > 0.0, 2.0 * j1(r) / r, 1.0)
            else:
                factor = np.where(r > 0.0, 3.0 * (np.sin(r) - r * np.cos(r)) / (r * r * r), 1.0)
    return _multiply(block, np.broadcast_to(factor, block.shape), dtype)


def fourier_ellipsoid(image, size, n=-1, axis=-1, *, output=None):
    """Multiply a spectrum by an ellipsoid's transform, as ``scipy.ndimage.fourier_ellipsoid``.

    Parameters as :func:`fourier_gaussian`, with ``size`` the ellipsoid's diameters
    in voxels. 1, 2 or 3 spatial axes, as scipy.

    Examples
    --------
    >>> import numpy as np, scipy.ndimage as ndi, bmia_dask as bd
    >>> spectrum = np.fft.fftn(np.random.default_rng(1).random((6, 8, 10)))
    >>> ours = fourier_ellipsoid(bd.from_array(spectrum, chunks=4), (2, 3, 4)).values
    >>> np.allclose(ours, ndi.fourier_ellipsoid(spectrum, (2, 3, 4)))
    True
    """
    image, spatial, values, lengths, real, dtype = _setup(ndi.fourier_ellipsoid, image, size, n, axis, output)
    tables = []
    for k, a in enumerate(spatial):
        step = np.pi * values[k] / lengths[k]
        table = _frequencies(image.shape[a], real[k]).astype(np.float64) * step
        tables.append(table * table if len(spatial) > 1 else table)
    return _run(image, _ellipsoid_block, tables=tables, spatial=spatial, dtype=dtype)


def _shift_block(block, index, *, tables, spatial, dtype):
    phase = 0.0
    for part in _broadcast(tables, index, spatial, block.ndim):
        if part is not None:
            phase = phase + part
    phase = np.broadcast_to(phase, block.shape)
    sin, cos = np.sin(phase), np.cos(phase)
    out = np.empty(block.shape, dtype=np.complex128)
    if np.iscomplexobj(block):
        re, im = block.real.astype(np.float64), block.imag.astype(np.float64)
        out.real = re * cos - im * sin
        out.imag = re * sin + im * cos
    else:
        values = block.astype(np.float64)
        out.real = values * cos
        out.imag = values * sin
    return out.astype(dtype, copy=False)


def fourier_shift(image, shift, n=-1, axis=-1, *, output=None):
    """Multiply a spectrum by a shift's phase ramp, as ``scipy.ndimage.fourier_shift``.

    Parameters as :func:`fourier_gaussian`, with ``shift`` in voxels, one or one per
    spatial axis. The result is complex (complex128 unless the input or ``output``
    is complex64).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> spectrum = np.fft.fft(np.eye(8)[2])
    >>> moved = np.fft.ifft(fourier_shift(bd.from_array(spectrum, chunks=3), 3).values).real
    >>> int(moved.argmax())
    5
    """
    image, spatial, values, lengths, real, dtype = _setup(ndi.fourier_shift, image, shift, n, axis, output)
    tables = []
    for k, a in enumerate(spatial):
        if image.shape[a] <= 1:
            tables.append(None)
            continue
        step = -2.0 * np.pi * values[k] / lengths[k]
        tables.append(step * _frequencies(image.shape[a], real[k]).astype(np.float64))
    return _run(image, _shift_block, tables=tables, spatial=spatial, dtype=dtype)


