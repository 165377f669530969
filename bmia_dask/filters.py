"""Neighbourhood filters with scipy.ndimage's names and answers, chunk by chunk.

Every filter is lazy and equals the scipy.ndimage function of the same name on
the whole array: chunks overlap by the kernel's reach (derived from the
parameters: ``size // 2 + |origin|``, ``int(truncate * sigma + 0.5)`` or
``radius``), and scipy's ``mode`` applies at the volume's faces only
(``"wrap"`` brings the far side of the volume). Parameters in voxels keep
scipy's names (``sigma``, ``size``); their physical twins (``sigma_mm``,
``size_mm``) use the spacing of each axis. Filters act on the spatial dims:
each frame of a ``(t, z, y, x)`` image is filtered on its own, and ``axis`` /
``axes`` are axes of the image (``-1`` or ``"x"``), never ``t``. ``output``
is a dtype (an array to fill is refused: use the returned image).

Examples
--------
>>> import numpy as np, scipy.ndimage as ndi, bmia_dask as bd
>>> data = np.random.default_rng(0).random((20, 30, 40))
>>> image = bd.from_array(data, chunks=(7, 11, 13))
>>> np.allclose(bd.filters.gaussian_filter(image, 2).values, ndi.gaussian_filter(data, 2))
True
"""

from __future__ import annotations

import functools
import numbers
import operator

import numpy as np
import scipy.ndimage as ndi

from ._chunked import overlap_apply, per_axis, rechunk, spatial_axes, voxels_or_mm
from .errors import scipy_errors
from .image import SPATIAL_DIMS, as_image, like, spacing, with_geometry_attrs

__all__ = [
    "convolve", "convolve1d", "correlate", "correlate1d",
    "gaussian_filter", "gaussian_filter1d", "gaussian_gradient_magnitude", "gaussian_laplace",
    "generic_filter", "generic_filter1d", "generic_gradient_magnitude", "generic_laplace", "vectorized_filter",
    "laplace", "maximum_filter", "maximum_filter1d", "median_filter", "minimum_filter", "minimum_filter1d",
    "percentile_filter", "prewitt", "rank_filter", "sobel", "uniform_filter", "uniform_filter1d",
    "edge_magnitude", "sharpen",
    "gaussian", "median", "uniform", "minimum", "maximum",
]

_WRAP = ("wrap", "grid-wrap")


# ---------------------------------------------------------------- arguments

def _image(image):
    image = as_image(image)
    return image, len(spatial_axes(image))


def _check_output(output):
    """``output`` may be None or a dtype; an array to fill cannot be filled lazily."""
    if output is None or isinstance(output, (type, np.dtype, str)):
        return output
    if hasattr(output, "shape") or hasattr(output, "__array__"):
        raise TypeError("output arrays cannot be filled by a lazy library: use the returned image")
    return output  # scipy decides


def _spatial_index(image, axis, kind: str) -> int:
    """An axis of the image (an int, negative allowed, or a dim name) as an index among its spatial dims."""
    names = [image.dims[i] for i in spatial_axes(image)]
    if isinstance(axis, str):
        if axis not in names:
            raise ValueError(f"{kind} must name a spatial dim of {image.dims} ({names}), got {axis!r}")
        return names.index(axis)
    axis = operator.index(axis)
    ndim = image.ndim
    if not -ndim <= axis < ndim:
        if kind == "axis":
            raise np.exceptions.AxisError(axis, ndim)
        raise ValueError(f"specified axis: {axis} is out of range")
    dim = image.dims[axis]
    if dim not in SPATIAL_DIMS:
        raise ValueError(f"{kind} {axis} is the dim {dim!r}: filters act on the spatial dims {names}")
    return names.index(dim)


def _axis(image, axis) -> int:
    return _spatial_index(image, axis, "axis")


def _axes(image, axes):
    """scipy's ``axes`` given as axes of the image or dim names, as spatial indices (None: all)."""
    if axes is None:
        return None
    if isinstance(axes, (str, numbers.Integral, np.integer)):
        axes = (axes,)
    elif not np.iterable(axes):
        raise ValueError("axes must be an integer, iterable of integers, or None")
    return tuple(_spatial_index(image, a, "axes") for a in axes)


def _seq(value, n: int) -> list:
    """scipy's ``_normalize_sequence`` (the lengths were checked by scipy already)."""
    return list(value) if not isinstance(value, str) and np.iterable(value) else [value] * n


def _filtered(n: int, axes) -> tuple:
    return tuple(range(n)) if axes is None else axes


def _spread(n: int, axes, values) -> list[int]:
    """Values given per filtered axis placed on all ``n`` spatial axes (0 elsewhere)."""
    out = [0] * n
    for a, v in zip(_filtered(n, axes), values):
        out[a] = max(out[a], int(v))
    return out


def _window_reach(n, axes, size, footprint, origin) -> list[int]:
    """How far a window of ``size`` (or a ``footprint``) shifted by ``origin`` reaches, per spatial axis.

    scipy lays sizes and origins along ``axes`` in the order given, but a footprint's
    dims (and, when every axis is filtered, the origins) in the array's order: the
    reach is the larger of the two readings.
    """
    filtered = _filtered(n, axes)
    k = len(filtered)
    shape = np.shape(footprint) if footprint is not None else _seq(size, k)
    origins = _seq(origin, k)
    reach = [0] * n
    for shape_order in (filtered, sorted(filtered)):
        for origin_order in (filtered, sorted(filtered)):
            half = dict(zip(shape_order, (max(int(s), 0) // 2 for s in shape)))
            shift = dict(zip(origin_order, (abs(int(o)) for o in origins)))
            for a in filtered:
                reach[a] = max(reach[a], half.get(a, 0) + shift.get(a, 0))
    return reach


def _gaussian_reach(sigma, truncate, radius, k) -> list[int]:
    radii = _seq(radius, k)
    return [int(r) if r is not None else int(truncate * float(s) + 0.5) for s, r in zip(_seq(sigma, k), radii)]


def _wrapped(n, axes, mode, reach) -> set:
    """The spatial axes whose mode is periodic (and that the kernel reaches along)."""
    return {a for a, m in zip(_filtered(n, axes), _seq(mode, len(_filtered(n, axes))))
            if m in _WRAP and reach[a] > 0}


def _probe(func, n, dtype, *args, **kwargs) -> np.dtype:
    """Run scipy on one voxel: scipy's own errors at call time, and the dtype of its result."""
    with scipy_errors():
        return np.asarray(func(np.zeros((1,) * n, dtype=dtype), *args, **kwargs)).dtype


def _mm(image, value, value_mm, name, axes, *, integer=False):
    """``value`` (voxels) or ``value_mm`` converted with the spacing of the filtered axes."""
    if value_mm is None:
        return value
    if value is not None:
        raise ValueError(f"give {name} (voxels) or {name}_mm (millimetres), not both")
    if axes is None:
        return voxels_or_mm(image, None, value_mm, name, integer=integer)
    steps = np.asarray(spacing(image))[list(axes)]
    mm = np.broadcast_to(np.asarray(value_mm, dtype=float), steps.shape) if np.ndim(value_mm) == 0 else \
        np.asarray(value_mm, dtype=float)
    if mm.shape != steps.shape or not np.isfinite(mm).all() or (mm < 0).any():
        raise ValueError(f"{name}_mm must be a number >= 0 or one per axis in axes, got {value_mm!r}")
    voxels = mm / steps
    return tuple(max(1, int(round(v))) for v in voxels) if integer else tuple(float(v) for v in voxels)


# ---------------------------------------------------------------- chunks

def _wrap_pad(data, axis: int, width: int):
    """``data`` extended periodically by ``width`` on both sides of ``axis`` (any width)."""
    import dask.array as da

    n = data.shape[axis]
    copies = -(-width // n)
    tiled = da.concatenate([data] * (2 * copies + 1), axis=axis)
    index = [slice(None)] * data.ndim
    index[axis] = slice(copies * n - width, copies * n + n + width)
    return tiled[tuple(index)]


def _apply(image, func, reach, dtype, wrap=()):
    """``func(block)`` on chunks overlapping by ``reach`` voxels per spatial axis.

    Along the spatial axes in ``wrap`` the volume is first extended periodically
    by the reach, so a block at a face sees the far side of the volume, as
    scipy's ``"wrap"`` does.
    """
    import xarray as xr

    data = image.data
    axes = spatial_axes(image)
    pads = {axes[a]: int(reach[a]) for a in wrap if reach[a] > 0}
    if not pads:
        return like(image, overlap_apply(image, func, reach, dtype=dtype).data)
    padded = data
    for axis, width in pads.items():
        padded = _wrap_pad(padded, axis, width)
    out = overlap_apply(xr.DataArray(padded, dims=image.dims), func, reach, dtype=dtype).data
    out = out[tuple(slice(pads.get(i, 0), pads.get(i, 0) + s) for i, s in enumerate(data.shape))]
    return like(image, out)


def _run(image, func, reach, wrap=(), *, dtype=None, **kwargs):
    """scipy's ``func(block, **kwargs)`` on overlapping blocks (the arguments checked by :func:`_probe`)."""
    if dtype is None:
        dtype = _probe(func, len(spatial_axes(image)), image.dtype, **kwargs)
    return _apply(image, functools.partial(func, **kwargs), reach, dtype, wrap)


# ---------------------------------------------------------------- correlation

def _correlate_or_convolve(func, image, weights, output, mode, cval, origin, axes):
    image, n = _image(image)
    _check_output(output)
    axes = _axes(image, axes)
    kwargs = dict(weights=weights, output=output, mode=mode, cval=cval, origin=origin, axes=axes)
    dtype = _probe(func, n, image.dtype, **kwargs)
    reach = _window_reach(n, axes, None, np.asarray(weights), origin)
    return _run(image, func, reach, _wrapped(n, axes, mode, reach), dtype=dtype, **kwargs)


def correlate(image, weights, *, output=None, mode="reflect", cval=0.0, origin=0, axes=None):
    """Correlation with any weights, as ``scipy.ndimage.correlate``.

    Parameters
    ----------
    image : xarray.DataArray or array_like
    weights : array_like
        One axis per filtered axis (all spatial axes, or ``axes``).
    output, mode, cval, origin, axes
        As in scipy; ``output`` is a dtype, ``axes`` axes of the image or dim names.

    Returns
    -------
    xarray.DataArray
        Same grid, lazy.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.arange(6.0), chunks=2)
    >>> correlate(image, [0, 1, 1], mode="constant").values
    array([1., 3., 5., 7., 9., 5.])
    """
    return _correlate_or_convolve(ndi.correlate, image, weights, output, mode, cval, origin, axes)


def convolve(image, weights, *, output=None, mode="reflect", cval=0.0, origin=0, axes=None):
    """Convolution with any weights, as ``scipy.ndimage.convolve``.

    Parameters as :func:`correlate`.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.eye(6))
    >>> weights = np.full((3, 3), 1 / 9)
    >>> float(convolve(image, weights)[2, 2])
    0.3333333333333333
    """
    return _correlate_or_convolve(ndi.convolve, image, weights, output, mode, cval, origin, axes)


def _along_axis(func, image, axis, reach_of, mode, **kwargs):
    """A scipy 1-D filter along ``axis``; ``reach_of()`` its reach once scipy accepted the arguments."""
    image, n = _image(image)
    _check_output(kwargs.get("output"))
    axis = _axis(image, axis)
    dtype = _probe(func, n, image.dtype, axis=axis, mode=mode, **kwargs)
    reach = _spread(n, (axis,), [reach_of()])
    return _run(image, func, reach, _wrapped(n, (axis,), mode, reach), dtype=dtype, axis=axis, mode=mode,
                **kwargs)


def correlate1d(image, weights, axis=-1, *, output=None, mode="reflect", cval=0.0, origin=0):
    """1-D correlation along ``axis``, as ``scipy.ndimage.correlate1d``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.arange(12.0).reshape(3, 4), chunks=2)
    >>> correlate1d(image, [1, -1], axis="y").values[1]
    array([-4., -4., -4., -4.])
    """
    return _along_axis(ndi.correlate1d, image, axis, lambda: len(np.ravel(weights)) // 2 + abs(int(origin)),
                       mode, weights=weights, output=output, cval=cval, origin=origin)


def convolve1d(image, weights, axis=-1, *, output=None, mode="reflect", cval=0.0, origin=0):
    """1-D convolution along ``axis``, as ``scipy.ndimage.convolve1d``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> convolve1d(bd.from_array(np.arange(5.0)), [1, 1], mode="constant").values
    array([1., 3., 5., 7., 4.])
    """
    return _along_axis(ndi.convolve1d, image, axis, lambda: len(np.ravel(weights)) // 2 + abs(int(origin)),
                       mode, weights=weights, output=output, cval=cval, origin=origin)


# ---------------------------------------------------------------- gaussian

def gaussian_filter1d(image, sigma, axis=-1, *, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0,
                      radius=None):
    """1-D Gaussian filter (or derivative, ``order``) along ``axis``, as ``scipy.ndimage.gaussian_filter1d``.

    The chunks overlap by ``radius``, or ``int(truncate * sigma + 0.5)`` voxels.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> gaussian_filter1d(bd.from_array(np.arange(5.0)), 1, order=1).values.round(3)
    array([0.364, 0.849, 0.97 , 0.849, 0.364])
    """
    return _along_axis(ndi.gaussian_filter1d, image, axis, lambda: _gaussian_reach(sigma, truncate, radius, 1)[0],
                       mode, sigma=sigma, order=order, output=output, cval=cval, truncate=truncate, radius=radius)


def gaussian_filter(image, sigma=None, *, sigma_mm=None, order=0, output=None, mode="reflect", cval=0.0,
                    truncate=4.0, radius=None, axes=None):
    """Gaussian smoothing (or derivatives), as ``scipy.ndimage.gaussian_filter``.

    Parameters
    ----------
    image : xarray.DataArray or array_like
    sigma : float or sequence, optional
        Standard deviation in voxels, per filtered axis or one for all.
    sigma_mm : float or sequence, optional
        Standard deviation in millimetres (uses the spacing); not with ``sigma``.
    order, output, mode, cval, truncate, radius, axes
        As in scipy; ``output`` is a dtype, ``mode`` one or one per filtered axis.

    Returns
    -------
    xarray.DataArray
        Same grid, same dtype (as scipy) unless ``output``, lazy.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.zeros((5, 8, 8)), spacing=(3.0, 1.0, 1.0))
    >>> gaussian_filter(image, sigma_mm=3.0).shape
    (5, 8, 8)
    """
    image, n = _image(image)
    _check_output(output)
    axes = _axes(image, axes)
    sigma = _mm(image, sigma, sigma_mm, "sigma", axes)
    if sigma is None:
        raise TypeError("gaussian_filter() missing required argument: 'sigma' (or 'sigma_mm')")
    kwargs = dict(sigma=sigma, order=order, output=output, mode=mode, cval=cval, truncate=truncate, radius=radius,
                  axes=axes)
    dtype = _probe(ndi.gaussian_filter, n, image.dtype, **kwargs)
    reach = _spread(n, axes, _gaussian_reach(sigma, truncate, radius, len(_filtered(n, axes))))
    return _run(image, ndi.gaussian_filter, reach, _wrapped(n, axes, mode, reach), dtype=dtype, **kwargs)


# ---------------------------------------------------------------- derivatives

def _derivatives(scipy_func, image, scipy_kwargs, reach_of, output, mode, cval, axes, *, magnitude, derivative,
                 extra_arguments=(), extra_keywords=None):
    """The Laplace-like filters: scipy's function per block, or one image per derivative.

    Each derivative ``derivative(input, axis, output, mode, cval, *extra_arguments,
    **extra_keywords)`` gets one mode and may reach along every axis with it; when some
    modes wrap and others do not, the derivatives are computed apart (each with its own
    periodic extension) and combined as scipy does (a sum, or the root of the sum of
    squares, in the output dtype).
    """
    image, n = _image(image)
    _check_output(output)
    axes = _axes(image, axes)
    kwargs = dict(scipy_kwargs, output=output, mode=mode, cval=cval, axes=axes)
    dtype = _probe(scipy_func, n, image.dtype, **kwargs)
    filtered = _filtered(n, axes)
    reach = reach_of(image, n, axes)
    modes = _seq(mode, len(filtered))
    periodic = [m in _WRAP for m in modes]
    if not filtered or not any(periodic):
        return _run(image, scipy_func, reach, dtype=dtype, **kwargs)
    if all(periodic):
        return _run(image, scipy_func, reach, {a for a in range(n) if reach[a]}, dtype=dtype, **kwargs)
    import dask.array as da

    terms = []
    for axis, m in zip(filtered, modes):
        term = functools.partial(_derivative_term, derivative=derivative, axis=axis, dtype=dtype, mode=m,
                                 cval=cval, extra_arguments=tuple(extra_arguments), extra_keywords=extra_keywords)
        wrap = {a for a in range(n) if reach[a]} if m in _WRAP else set()
        terms.append(_apply(image, term, reach, dtype, wrap).data)
    terms = [terms[0]] + [rechunk(term, terms[0].chunks) for term in terms[1:]]
    return like(image, da.map_blocks(_combine, *terms, magnitude=magnitude, dtype=dtype))


def _derivative_term(block, *, derivative, axis, dtype, mode, cval, extra_arguments, extra_keywords):
    out = derivative(block, axis, dtype, mode, cval, *extra_arguments, **(extra_keywords or {}))
    return np.asarray(out).astype(dtype, copy=False)


def _combine(*terms, magnitude):
    """scipy's ``output += tmp`` (and squares, then ``sqrt``) in the output dtype."""
    out = terms[0].copy()
    if magnitude:
        np.multiply(out, out, out)
    for term in terms[1:]:
        term = term.copy()
        if magnitude:
            np.multiply(term, term, term)
        out += term
    if magnitude:
        np.sqrt(out, out, casting="unsafe")
    return out


def _laplace_derivative(image, axis, output, mode, cval):
    return ndi.correlate1d(image, [1, -2, 1], axis, output, mode, cval, 0)


def _gaussian_derivative(image, axis, output, mode, cval, sigma, order, **kwargs):
    orders = [0] * image.ndim
    orders[axis] = order
    return ndi.gaussian_filter(image, sigma, orders, output, mode, cval, **kwargs)


def _sigma_everywhere(sigma, n, axes):
    """A sigma per filtered axis as scipy's gaussian_laplace spreads it: 0 on the other axes."""
    sigmas = _seq(sigma, len(_filtered(n, axes)))
    if axes is None or len(axes) == n:  # scipy reorders only when some axes are left out
        return sigmas
    full = [0.0] * n
    for s, a in zip(sigmas, axes):
        full[a] = s
    return full


def laplace(image, *, output=None, mode="reflect", cval=0.0, axes=None):
    """Discrete Laplacian (``[1, -2, 1]`` per axis), as ``scipy.ndimage.laplace``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> laplace(bd.from_array(np.arange(5.0) ** 2)).values
    array([ 1.,  2.,  2.,  2., -7.])
    """
    image, n = _image(image)
    _check_output(output)
    axes = _axes(image, axes)
    dtype = _probe(ndi.laplace, n, image.dtype, output=output, mode=mode, cval=cval, axes=axes)
    reach = _spread(n, axes, [1] * len(_filtered(n, axes)))
    # each axis' derivative reaches along that axis only, with that axis' mode
    return _run(image, ndi.laplace, reach, _wrapped(n, axes, mode, reach), dtype=dtype, output=output, mode=mode,
                cval=cval, axes=axes)


def _gaussian_derivatives(scipy_func, order, image, sigma, output, mode, cval, axes, kwargs):
    """gaussian_laplace spreads ``sigma`` (one per filtered axis) with zeros on the other
    axes; gaussian_gradient_magnitude passes it as it is (one per axis, smoothing all)."""
    image, n = _image(image)
    spatial = _axes(image, axes)
    if order == 2:
        try:
            sigma_full = _sigma_everywhere(sigma, n, spatial)
        except TypeError:  # not a sequence of numbers: scipy says what is wrong
            sigma_full = sigma
    else:
        sigma_full = sigma
    truncate, radius = kwargs.get("truncate", 4.0), kwargs.get("radius")

    def reach_of(image, n, axes):  # every derivative smooths along every axis with sigma_full
        return _gaussian_reach(_seq(sigma_full, n), truncate, radius, n)

    return _derivatives(scipy_func, image, dict(sigma=sigma, **kwargs), reach_of, output, mode, cval, axes,
                        magnitude=order == 1, derivative=functools.partial(_gaussian_derivative, order=order, **kwargs),
                        extra_arguments=(sigma_full,))


def gaussian_laplace(image, sigma, *, output=None, mode="reflect", cval=0.0, axes=None, **kwargs):
    """Laplacian of a Gaussian, as ``scipy.ndimage.gaussian_laplace``.

    ``kwargs`` (``truncate``, ``radius``) go to :func:`gaussian_filter`.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> spot = np.zeros((9, 9)); spot[4, 4] = 1
    >>> bool(gaussian_laplace(bd.from_array(spot, chunks=4), 1.0).values[4, 4] < 0)
    True
    """
    return _gaussian_derivatives(ndi.gaussian_laplace, 2, image, sigma, output, mode, cval, axes, kwargs)


def gaussian_gradient_magnitude(image, sigma, *, output=None, mode="reflect", cval=0.0, axes=None, **kwargs):
    """Gradient magnitude with Gaussian derivatives, as ``scipy.ndimage.gaussian_gradient_magnitude``.

    ``kwargs`` (``truncate``, ``radius``) go to :func:`gaussian_filter`.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> ramp = np.tile(np.arange(8.0), (6, 1))
    >>> float(gaussian_gradient_magnitude(bd.from_array(ramp, chunks=3), 1.0).values[3, 4].round(3))
    0.999
    """
    return _gaussian_derivatives(ndi.gaussian_gradient_magnitude, 1, image, sigma, output, mode, cval, axes, kwargs)


def _depth_reach(depth):
    def reach_of(image, n, axes):
        if depth is None:  # any reach: whole axes
            return [image.shape[a] for a in spatial_axes(image)]
        return list(per_axis(depth, n, "depth", integer=True))
    return reach_of


def generic_laplace(image, derivative2, *, output=None, mode="reflect", cval=0.0, extra_arguments=(),
                    extra_keywords=None, axes=None, depth=None):
    """Sum of second derivatives along the axes, as ``scipy.ndimage.generic_laplace``.

    ``derivative2(input, axis, output, mode, cval, *extra_arguments, **extra_keywords)``
    is any function, so how far it reaches cannot be derived: give ``depth`` (voxels,
    one or one per spatial axis) to filter chunk by chunk; without it each image
    (each frame) is filtered whole, in one task.

    Examples
    --------
    >>> import numpy as np, scipy.ndimage as ndi, bmia_dask as bd
    >>> def d2(input, axis, output, mode, cval):
    ...     return ndi.correlate1d(input, [1, -2, 1], axis, output, mode, cval)
    >>> generic_laplace(bd.from_array(np.arange(5.0) ** 2, chunks=2), d2, depth=1).values
    array([ 1.,  2.,  2.,  2., -7.])
    """
    scipy_kwargs = dict(derivative2=derivative2, extra_arguments=extra_arguments, extra_keywords=extra_keywords)
    return _derivatives(ndi.generic_laplace, image, scipy_kwargs, _depth_reach(depth), output, mode, cval, axes,
                        magnitude=False, derivative=derivative2, extra_arguments=extra_arguments,
                        extra_keywords=extra_keywords)


def generic_gradient_magnitude(image, derivative, *, output=None, mode="reflect", cval=0.0, extra_arguments=(),
                               extra_keywords=None, axes=None, depth=None):
    """Root of the sum of squared derivatives, as ``scipy.ndimage.generic_gradient_magnitude``.

    ``depth`` as in :func:`generic_laplace`.

    Examples
    --------
    >>> import numpy as np, scipy.ndimage as ndi, bmia_dask as bd
    >>> ramp = np.tile(np.arange(8.0), (6, 1))
    >>> generic_gradient_magnitude(bd.from_array(ramp, chunks=3), ndi.sobel, depth=1).values[2, 3]
    np.float64(8.0)
    """
    scipy_kwargs = dict(derivative=derivative, extra_arguments=extra_arguments, extra_keywords=extra_keywords)
    return _derivatives(ndi.generic_gradient_magnitude, image, scipy_kwargs, _depth_reach(depth), output, mode, cval,
                        axes, magnitude=True, derivative=derivative, extra_arguments=extra_arguments,
                        extra_keywords=extra_keywords)


# ---------------------------------------------------------------- edges

def _edges(func, image, axis, output, mode, cval):
    image, n = _image(image)
    _check_output(output)
    axis = _axis(image, axis)
    dtype = _probe(func, n, image.dtype, axis=axis, output=output, mode=mode, cval=cval)
    reach = [1] * n  # a 3-tap kernel along every axis, each axis with its own mode
    return _run(image, func, reach, _wrapped(n, None, mode, reach), dtype=dtype, axis=axis, output=output, mode=mode,
                cval=cval)


def sobel(image, axis=-1, *, output=None, mode="reflect", cval=0.0):
    """Sobel derivative along one axis, as ``scipy.ndimage.sobel``.

    ``axis`` is an axis of the image or a dim name (``"x"``). The result has the
    input's dtype (or ``output``), as in scipy: use a float image to avoid integer
    overflow, or :func:`edge_magnitude`.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> ramp = bd.from_array(np.tile(np.arange(6.0), (4, 1)), chunks=2)
    >>> sobel(ramp, axis="x").values[1]
    array([4., 8., 8., 8., 8., 4.])
    """
    return _edges(ndi.sobel, image, axis, output, mode, cval)


def prewitt(image, axis=-1, *, output=None, mode="reflect", cval=0.0):
    """Prewitt derivative along one axis, as ``scipy.ndimage.prewitt``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> ramp = bd.from_array(np.tile(np.arange(6.0), (4, 1)), chunks=2)
    >>> prewitt(ramp, axis=-1).values[1]
    array([3., 6., 6., 6., 6., 3.])
    """
    return _edges(ndi.prewitt, image, axis, output, mode, cval)


def _edge_magnitude(block, *, mode, cval):
    block = block.astype(np.float64)
    return np.sqrt(sum(ndi.sobel(block, axis=a, mode=mode, cval=cval) ** 2 for a in range(block.ndim)))


def edge_magnitude(image, *, mode="reflect", cval=0.0):
    """Gradient magnitude ``sqrt(sum(sobel(image, a)**2))`` over the spatial axes, in float64.

    The course's ``np.sqrt(np.square(ndi.sobel(im, 0)) + np.square(ndi.sobel(im, 1)))``
    on a float copy of the image.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> float(edge_magnitude(bd.from_array(np.ones((4, 5)))).max())
    0.0
    """
    image, n = _image(image)
    _probe(ndi.sobel, n, np.float64, mode=mode, cval=cval)
    reach = [1] * n
    return _apply(image, functools.partial(_edge_magnitude, mode=mode, cval=cval), reach, np.float64,
                  _wrapped(n, None, mode, reach))


# ---------------------------------------------------------------- windows

def uniform_filter1d(image, size, axis=-1, *, output=None, mode="reflect", cval=0.0, origin=0):
    """Mean over a line of ``size`` voxels along ``axis``, as ``scipy.ndimage.uniform_filter1d``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> uniform_filter1d(bd.from_array(np.arange(6.0), chunks=2), 3).values
    array([0.33333333, 1.        , 2.        , 3.        , 4.        ,
           4.66666667])
    """
    return _along_axis(ndi.uniform_filter1d, image, axis, lambda: int(size) // 2 + abs(int(origin)), mode,
                       size=size, output=output, cval=cval, origin=origin)


def minimum_filter1d(image, size, axis=-1, *, output=None, mode="reflect", cval=0.0, origin=0):
    """Minimum over a line of ``size`` voxels along ``axis``, as ``scipy.ndimage.minimum_filter1d``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> minimum_filter1d(bd.from_array(np.array([3, 1, 4, 1, 5, 9]), chunks=2), 3).values
    array([1, 1, 1, 1, 1, 5])
    """
    return _along_axis(ndi.minimum_filter1d, image, axis, lambda: int(size) // 2 + abs(int(origin)), mode,
                       size=size, output=output, cval=cval, origin=origin)


def maximum_filter1d(image, size, axis=-1, *, output=None, mode="reflect", cval=0.0, origin=0):
    """Maximum over a line of ``size`` voxels along ``axis``, as ``scipy.ndimage.maximum_filter1d``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> maximum_filter1d(bd.from_array(np.array([3, 1, 4, 1, 5, 9]), chunks=2), 3).values
    array([3, 4, 4, 5, 9, 9])
    """
    return _along_axis(ndi.maximum_filter1d, image, axis, lambda: int(size) // 2 + abs(int(origin)), mode,
                       size=size, output=output, cval=cval, origin=origin)


def uniform_filter(image, size=3, *, size_mm=None, output=None, mode="reflect", cval=0.0, origin=0, axes=None):
    """Mean over a box, as ``scipy.ndimage.uniform_filter`` (same dtype as the input, or ``output``).

    ``size`` in voxels (one or one per filtered axis) or ``size_mm`` in millimetres
    (rounded to whole voxels).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> uniform_filter(bd.from_array(np.arange(6.0), chunks=2), 3, mode="nearest").values
    array([0.33333333, 1.        , 2.        , 3.        , 4.        ,
           4.66666667])
    """
    image, n = _image(image)
    _check_output(output)
    axes = _axes(image, axes)
    size = _mm(image, None if size_mm is not None else size, size_mm, "size", axes, integer=True)
    kwargs = dict(size=size, output=output, mode=mode, cval=cval, origin=origin, axes=axes)
    dtype = _probe(ndi.uniform_filter, n, image.dtype, **kwargs)
    reach = _window_reach(n, axes, size, None, origin)
    return _run(image, ndi.uniform_filter, reach, _wrapped(n, axes, mode, reach), dtype=dtype, **kwargs)


def _window_filter(func, image, size, size_mm, footprint, output, mode, cval, origin, axes, **kwargs):
    """The filters over a window of ``size`` or a ``footprint`` (min, max, rank, generic)."""
    image, n = _image(image)
    _check_output(output)
    axes = _axes(image, axes)
    if size_mm is not None and footprint is not None:
        raise ValueError("give size, size_mm or footprint, not several")
    size = _mm(image, size, size_mm, "size", axes, integer=True)
    kwargs.update(size=size, footprint=footprint, output=output, mode=mode, cval=cval, origin=origin, axes=axes)
    dtype = _probe(func, n, image.dtype, **kwargs)  # scipy's errors and its warning for size with a footprint
    if footprint is not None:
        kwargs["size"] = None  # warned once, not once per block
    reach = _window_reach(n, axes, size, footprint, origin)
    return _run(image, func, reach, _wrapped(n, axes, mode, reach), dtype=dtype, **kwargs)


def minimum_filter(image, size=None, *, size_mm=None, footprint=None, output=None, mode="reflect", cval=0.0,
                   origin=0, axes=None):
    """Minimum over a window, as ``scipy.ndimage.minimum_filter``.

    ``size`` in voxels, ``size_mm`` in millimetres (rounded to whole voxels), or a
    boolean ``footprint`` with one axis per filtered axis.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> minimum_filter(bd.from_array(np.array([3, 1, 4, 1, 5, 9]), chunks=2), 2).values
    array([3, 1, 1, 1, 1, 5])
    """
    return _window_filter(ndi.minimum_filter, image, size, size_mm, footprint, output, mode, cval, origin, axes)


def maximum_filter(image, size=None, *, size_mm=None, footprint=None, output=None, mode="reflect", cval=0.0,
                   origin=0, axes=None):
    """Maximum over a window, as ``scipy.ndimage.maximum_filter``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> maximum_filter(bd.from_array(np.array([3, 1, 4, 1, 5, 9]), chunks=2), 2).values
    array([3, 3, 4, 4, 5, 9])
    """
    return _window_filter(ndi.maximum_filter, image, size, size_mm, footprint, output, mode, cval, origin, axes)


def median_filter(image, size=None, *, size_mm=None, footprint=None, output=None, mode="reflect", cval=0.0,
                  origin=0, axes=None):
    """Median over a window, as ``scipy.ndimage.median_filter``.

    ``size`` in voxels, ``size_mm`` in millimetres (rounded to whole voxels), or a
    boolean ``footprint`` with one axis per filtered axis.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> median_filter(bd.from_array(np.array([3, 1, 4, 1, 5, 9]), chunks=2), 3).values
    array([3, 3, 1, 4, 5, 9])
    """
    return _window_filter(ndi.median_filter, image, size, size_mm, footprint, output, mode, cval, origin, axes)


def rank_filter(image, rank, size=None, *, footprint=None, output=None, mode="reflect", cval=0.0, origin=0,
                axes=None):
    """The ``rank``-th smallest value over a window, as ``scipy.ndimage.rank_filter``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> rank_filter(bd.from_array(np.array([3, 1, 4, 1, 5, 9]), chunks=2), -1, 3).values
    array([3, 4, 4, 5, 9, 9])
    """
    return _window_filter(ndi.rank_filter, image, size, None, footprint, output, mode, cval, origin, axes, rank=rank)


def percentile_filter(image, percentile, size=None, *, footprint=None, output=None, mode="reflect", cval=0.0,
                      origin=0, axes=None):
    """A percentile over a window, as ``scipy.ndimage.percentile_filter``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> percentile_filter(bd.from_array(np.array([3, 1, 4, 1, 5, 9]), chunks=2), 0, 3).values
    array([1, 1, 1, 1, 1, 5])
    """
    return _window_filter(ndi.percentile_filter, image, size, None, footprint, output, mode, cval, origin, axes,
                          percentile=percentile)


def generic_filter(image, function, size=None, *, footprint=None, output=None, mode="reflect", cval=0.0, origin=0,
                   extra_arguments=(), extra_keywords=None, axes=None):
    """Any function of the values in a window, as ``scipy.ndimage.generic_filter``.

    ``function(values, *extra_arguments, **extra_keywords)`` (or a
    ``scipy.LowLevelCallable``) runs at every voxel, through scipy, block by block.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> generic_filter(bd.from_array(np.arange(6.0), chunks=2), np.ptp, 3).values
    array([1., 2., 2., 2., 2., 1.])
    """
    return _window_filter(ndi.generic_filter, image, size, None, footprint, output, mode, cval, origin, axes,
                          function=function, extra_arguments=extra_arguments, extra_keywords=extra_keywords)


def generic_filter1d(image, function, filter_size, axis=-1, *, output=None, mode="reflect", cval=0.0, origin=0,
                     extra_arguments=(), extra_keywords=None):
    """Any function of a line along ``axis``, as ``scipy.ndimage.generic_filter1d``.

    ``function(input_line, output_line, *extra_arguments, **extra_keywords)`` fills
    ``output_line`` from ``input_line`` extended by ``filter_size - 1`` values; it runs
    on each block's lines, so it must only look ``filter_size`` values around each one.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> def forward_difference(line, out):
    ...     out[:] = line[1:] - line[:-1]
    >>> generic_filter1d(bd.from_array(np.arange(6.0) ** 2, chunks=2), forward_difference, 2,
    ...                  mode="nearest").values
    array([0., 1., 3., 5., 7., 9.])
    """
    return _along_axis(ndi.generic_filter1d, image, axis, lambda: int(filter_size) // 2 + abs(int(origin)), mode,
                       function=function, filter_size=filter_size, output=output, cval=cval, origin=origin,
                       extra_arguments=extra_arguments, extra_keywords=extra_keywords)


def _vectorized_block(block, *, function, size, footprint, mode, cval, origin, axes, batch_memory, window, dtype):
    """scipy's vectorized_filter on one block; ``batch_memory`` raised to what the
    block's smallest batch needs (a periodic extension can make a block longer than
    the volume, whose batch the call-time check measured)."""
    needed = _batch_bytes(block.shape, block.dtype, axes, window)
    out = ndi.vectorized_filter(block, function, size=size, footprint=footprint, mode=mode, cval=cval,
                                origin=origin, axes=axes, batch_memory=max(batch_memory, needed))
    return np.asarray(out).astype(dtype, copy=False)


def _batch_bytes(shape, dtype, axes, window) -> int:
    """The bytes scipy's vectorized_filter needs for one batch (one slice of its first
    output axis, the filtered axes moved last) of an input of ``shape``."""
    n = len(shape)
    filtered = [a % n for a in _filtered(n, axes)]
    moved = [shape[a] for a in range(n) if a not in filtered] + [shape[a] for a in filtered]
    return int(np.prod(moved[1:] + list(window), dtype=np.int64)) * np.dtype(dtype).itemsize


def vectorized_filter(image, function, *, size=None, footprint=None, output=None, mode="reflect", cval=None,
                      origin=None, axes=None, batch_memory=2**30):
    """A vectorized function of every window, as ``scipy.ndimage.vectorized_filter``.

    ``function(windows, axis=...)`` reduces the window axes of an array of windows
    (``np.mean``, ``np.median``, ``np.ptp``, ...); scipy runs it block by block, the
    chunks overlapping by the window's reach (``size // 2 + |origin|`` per axis).

    Parameters
    ----------
    image : xarray.DataArray or array_like
    function : callable
        One value per window (functions with several values per window are refused).
    size, footprint, mode, cval, origin, axes, batch_memory
        As in scipy; ``axes`` are axes of the image or dim names. ``mode="valid"``
        gives the smaller image of the windows that fit inside (its coords follow).
        ``batch_memory`` bounds each call of ``function`` within a block.
    output : dtype, optional
        The result's dtype (default: ``function``'s, as scipy).

    Returns
    -------
    xarray.DataArray
        Same grid (``"valid"``: cropped), lazy.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> vectorized_filter(bd.from_array(np.arange(6.0), chunks=2), np.ptp, size=3).values
    array([1., 2., 2., 2., 2., 1.])
    """
    image, n = _image(image)
    _check_output(output)
    if axes is not None and not isinstance(axes, str) and np.iterable(axes) and len(axes) > n:
        raise ValueError("The length of `axes` may not exceed the dimensionality of `input`(`input.ndim`).")
    axes = _axes(image, axes)
    valid = mode == "valid"
    try:  # the window, if scipy will accept it (else scipy says what is wrong below)
        k = len(_filtered(n, axes))
        window = tuple(int(w) for w in (np.shape(footprint) if footprint is not None else _seq(size, k)))
    except (TypeError, ValueError):
        window = ()
    probe_shape = [1] * n
    if valid and len(window) == k:
        for a, w in zip(_filtered(n, axes), window):
            probe_shape[a] = max(w, 1)
    kwargs = dict(function=function, size=size, footprint=footprint, mode=mode, cval=cval, origin=origin, axes=axes)
    try:  # scipy's own errors, and the dtype of function's result
        probe = ndi.vectorized_filter(np.zeros(probe_shape, dtype=image.dtype), batch_memory=batch_memory, **kwargs)
    except ValueError as err:
        if "insufficient for minimum chunk size" not in str(err):
            raise
        probe = ndi.vectorized_filter(np.zeros(probe_shape, dtype=image.dtype), batch_memory=np.inf, **kwargs)
    probe = np.asarray(probe)
    expected = tuple(1 if valid else s for s in probe_shape)
    if probe.shape != expected:
        raise ValueError(f"function gives an array of shape {probe.shape} for {expected} windows: "
                         "bmia_dask's vectorized_filter takes one value per window")
    dtype = np.dtype(output) if output is not None else probe.dtype
    if image.size == 0:  # scipy returns the input
        return like(image, image.data)
    shape = [image.shape[a] for a in spatial_axes(image)]
    if valid:
        # raises numpy's error when the window is larger than the image, as scipy's view does
        np.lib.stride_tricks.sliding_window_view(np.broadcast_to(np.zeros((), image.dtype), shape), window,
                                                 [a - n for a in _filtered(n, axes)])
    out_shape = list(shape)
    if valid:
        for a, w in zip(_filtered(n, axes), window):
            out_shape[a] -= w - 1
    if batch_memory < _batch_bytes(out_shape, image.dtype, axes, window):
        raise ValueError("`batch_memory` is insufficient for minimum chunk size.")
    origins = [0] * k if origin is None or valid else [int(o) for o in _seq(origin, k)]
    reach = [0] * n
    for a, w, o in zip(_filtered(n, axes), window, origins):
        reach[a] = max(w // 2 + o, (w - 1) // 2 - o, 0)
    block = functools.partial(_vectorized_block, function=function, size=size, footprint=footprint,
                              mode="nearest" if valid else mode, cval=None if valid else cval, origin=origin,
                              axes=axes, batch_memory=batch_memory, window=window, dtype=dtype)
    out = _apply(image, block, reach, dtype, _wrapped(n, axes, mode, reach))
    if not valid:
        return out
    # the windows that fit: those centred (origin 0) w // 2 from the start of each filtered axis
    dims = [image.dims[a] for a in spatial_axes(image)]
    crop = {dims[a]: slice(w // 2, w // 2 + out_shape[a]) for a, w in zip(_filtered(n, axes), window)}
    return with_geometry_attrs(out.isel(crop))


# ---------------------------------------------------------------- compositions

def sharpen(image, sigma=None, *, sigma_mm=None, amount=1.0, mode="reflect"):
    """Unsharp masking: ``image + amount * (image - gaussian_filter(image, sigma))`` in float64.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> flat = bd.from_array(np.full((4, 6, 6), 7.0))
    >>> float(sharpen(flat, 1.0).max())  # nothing to sharpen on a flat image
    7.0
    """
    image = as_image(image)
    if amount < 0:
        raise ValueError(f"amount must be >= 0, got {amount}")
    as_float = like(image, image.data.astype(np.float64))
    blurred = gaussian_filter(as_float, sigma, sigma_mm=sigma_mm, mode=mode)
    return like(image, as_float.data + amount * (as_float.data - blurred.data))


# short names, as the course calls them
gaussian = gaussian_filter
median = median_filter
uniform = uniform_filter
minimum = minimum_filter
maximum = maximum_filter
