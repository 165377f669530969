"""Geometric transforms and spline interpolation with scipy.ndimage's answers:
every output chunk reads only the input region it needs.

For each output chunk, the input coordinates of its voxels are computed with
scipy's own arithmetic (``NI_ZoomShift`` for ``shift``/``zoom``/diagonal
matrices, ``NI_GeometricTransform`` for matrices, given coordinates and
mappings) and folded into the input by scipy's boundary rule; the task gets
the bounding box of the spline footprints of those coordinates, shifted by a
whole number of voxels, and interpolates there with scipy. Coordinates shift
exactly, so orders 0 and 1 (and every order with ``prefilter=False``) equal
scipy bit for bit, cval decisions and rounding ties included. For orders 2-5
scipy first computes spline coefficients over the whole array; here they are
computed chunk by chunk (or, for sparse samples of a large volume, on each
task's own region) with an overlap of ``_SPLINE_DEPTH[order]`` voxels
(21 to 43: the filter's influence decays as the power of its largest pole,
0.17^n to 0.43^n), which agrees with scipy to rounding: within 1.3e-15 of the
value range (2.2e-15 on other grids), measured over orders 2-5 and every mode
on grids whose chunks end inside the volume (tests/test_transform.py).
grid-wrap reads footprints that cross a face from a wrapped region; there
orders 0-1 may differ from scipy by an ulp.

A chunk's region is the bounding box of its coordinates' footprints: where
they fold to both ends of an axis (wrap and grid-wrap across a face, mirror and
reflect folded more than once, scattered points) the chunk reads that whole
axis.

``shift``, ``zoom``, ``rotate`` and ``affine_transform`` keep scipy's voxel
semantics; ``resample`` and ``apply`` work in millimetres of patient space
(LPS): they map every output voxel through both images' affines, so images
from different scans (other spacing, origin, orientation) land on one grid.
Transforms act on the spatial dims; each frame of a cine is transformed alike.

Examples
--------
>>> import numpy as np, scipy.ndimage as ndi, bmia_dask as bd
>>> data = np.random.default_rng(0).random((20, 24, 28))
>>> image = bd.from_array(data, chunks=(7, 9, 11))
>>> out = bd.transform.rotate(image, 30, axes=(1, 2), order=1)
>>> bool(np.array_equal(out.values, ndi.rotate(data, 30, axes=(1, 2), order=1)))
True
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import warnings

import dask.array as da
from dask.array.core import concatenate3
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
import numpy as np
import scipy.ndimage as ndi
from scipy import special

from ._chunked import _merge_small, compute, per_axis, rechunk, spatial_axes, voxels_or_mm
from .errors import ArgumentError, BadInputError, scipy_errors
from .image import SPATIAL_DIMS, as_image, from_array, geometry, regrid, spatial_dims

__all__ = ["affine_transform", "shift", "zoom", "rotate", "map_coordinates", "geometric_transform",
           "spline_filter1d", "spline_filter", "resample", "apply", "voxel_map", "read_transform",
           "write_transform"]

_MODES = ("reflect", "grid-mirror", "constant", "grid-constant", "nearest", "mirror", "wrap", "grid-wrap")
# Overlap (voxels) of the chunked spline prefilter, by order: the largest pole of the
# B-spline filter is 0.172, 0.268, 0.361, 0.431 for orders 2-5, and an edge effect
# decays as pole**n: these depths bring it under 1e-15 of the coefficients.
_SPLINE_DEPTH = {2: 21, 3: 28, 4: 36, 5: 43}
_NPAD = 12  # scipy's _prepad_for_spline_filter, for 'nearest' and 'grid-constant'


# --- arguments, as scipy checks them -------------------------------------------------

def _check_order(order) -> int:
    if order < 0 or order > 5:
        raise ArgumentError("spline order not supported")
    return int(order)


def _check_mode(mode) -> str:
    if not isinstance(mode, str) or mode not in _MODES:
        raise ArgumentError("boundary mode not supported")
    return mode


def _output_dtype(output, dtype, complex_output=None) -> np.dtype:
    """The result's dtype for scipy's ``output`` argument (``_ni_support._get_output``)."""
    complex_output = np.dtype(dtype).kind == "c" if complex_output is None else complex_output
    if output is None:
        return np.promote_types(dtype, np.complex64) if complex_output else np.dtype(dtype)
    if isinstance(output, np.ndarray) or hasattr(output, "__array__") and not isinstance(output, (type, np.dtype)):
        raise TypeError("output arrays cannot be filled by a lazy library: use the returned image")
    if isinstance(output, (type, np.dtype)):
        if complex_output and np.dtype(output).kind != "c":
            warnings.warn("promoting specified output dtype to complex", stacklevel=3)
            return np.promote_types(output, np.complex64)
        return np.dtype(output)
    if isinstance(output, str):
        output = np.dtype(output)
        if complex_output and output.kind != "c":
            raise ArgumentError("output must have complex dtype")
        if not issubclass(output.type, np.number):
            raise ArgumentError("output must have numeric dtype")
        return output
    raise TypeError(f"output must be None or a dtype, got {output!r}")


def _probe(dtype, out_dtype, rank, order, mode, prefilter):
    """scipy's errors for this input dtype, output dtype, order and mode, raised now
    (scipy on a tiny array)."""
    with warnings.catch_warnings(), scipy_errors():
        warnings.simplefilter("ignore")
        ndi.map_coordinates(np.zeros((2,) * rank, dtype), np.zeros((rank, 1)), output=out_dtype, order=order,
                            mode=mode, prefilter=prefilter)


def _sequence(value, rank):
    """scipy's ``_normalize_sequence``: a scalar repeated, or one value per axis."""
    if not isinstance(value, str) and np.iterable(value):
        values = list(value)
        if len(values) != rank:
            raise ArgumentError("sequence argument must have length equal to input rank")
        return values
    return [value] * rank


def _spatial_axis(image, axis, name="axis") -> int:
    """An array axis of ``image`` (int, negative allowed, or dim name) that is spatial."""
    if isinstance(axis, str):
        if axis not in image.dims:
            raise ValueError(f"{name} {axis!r} is not a dim of the image {image.dims}")
        index = image.dims.index(axis)
    else:
        if not isinstance(axis, numbers.Integral) and not float(axis).is_integer():
            raise ValueError(f"{name} should contain only integer values, got {axis!r}")
        index = int(axis)
        if not -image.ndim <= index < image.ndim:
            raise ValueError(f"{name} {axis!r} is out of range for an image of {image.ndim} dims")
        index %= image.ndim
    if image.dims[index] not in SPATIAL_DIMS:
        raise ValueError(f"{name} {axis!r} is the image's {image.dims[index]!r} dim: transforms act on spatial dims")
    return index


# --- scipy's coordinate arithmetic -------------------------------------------------

def _fold(x, n, mode):
    """scipy's ``map_coordinate`` (ni_interpolation.c) elementwise, as the value to hand
    a region that starts at the volume's face: where reflect folds a coordinate into
    (-1, 0) the value before the fold is kept, which the region folds alike."""
    x = np.array(x, dtype=np.float64)
    if mode in ("constant", "nearest", "grid-constant"):
        return x  # constant: scipy's cval test is made again, exactly, on the shifted value
    if n <= 1:
        return np.where((x < 0) | (x > n - 1), 0.0, x)
    low, high = x < 0, x > n - 1
    xl, xh = x[low], x[high]
    if mode == "mirror":
        sz2 = 2 * n - 2
        xl = sz2 * np.trunc(-xl / sz2) + xl
        xl = np.where(xl <= 1 - n, xl + sz2, -xl)
        xh = xh - sz2 * np.trunc(xh / sz2)
        xh = np.where(xh >= n, sz2 - xh, xh)
    elif mode in ("reflect", "grid-mirror"):
        sz2 = 2 * n
        xl = np.where(xl < -sz2, sz2 * np.trunc(-xl / sz2) + xl, xl)
        folded = np.where(xl < -n, xl + sz2, np.where(xl > -1e-15, 1e-15, -xl) - 1)
        xl = np.where((xl > -1) & (xl < 0), xl, folded)
        xh = xh - sz2 * np.trunc(xh / sz2)
        xh = np.where(xh >= n, sz2 - xh - 1, xh)
        inside = (xh > -1) & (xh < 0)  # the region folds these once more: hand it the unfolded value
        xh = np.where(inside, -xh - 1, xh)
    elif mode == "wrap":
        sz = n - 1
        xl = xl + sz * (np.trunc(-xl / sz) + 1)
        xh = xh - sz * np.trunc(xh / sz)
    elif mode == "grid-wrap":
        xl = xl + n * (np.trunc((-1 - xl) / n) + 1)
        xh = xh - n * np.trunc(xh / n)
    x[low], x[high] = xl, xh
    return x


class _ZoomShift:
    """``NI_ZoomShift``'s coordinates: along each axis ``(k + shift) * zoom`` (or the grid-mode form)."""

    separable = True

    def __init__(self, zoom=None, shift=None, grid_mode=False):
        self.zoom = None if zoom is None else np.asarray(zoom, np.float64)
        self.shift = None if shift is None else np.asarray(shift, np.float64)
        self.grid_mode = bool(grid_mode)

    def __dask_tokenize__(self):
        return ("zoom-shift", self.zoom, self.shift, self.grid_mode)

    def axis(self, k, start, stop):
        cc = np.arange(start, stop, dtype=np.float64)
        if self.shift is not None:
            cc = cc + self.shift[k]
        if self.zoom is not None:
            cc = ((cc + 0.5) * self.zoom[k] - 0.5) if self.grid_mode else cc * self.zoom[k]
        return cc

    def __call__(self, starts, shapes):
        rank = len(shapes)
        return [np.broadcast_to(self.axis(k, s, s + n).reshape([-1 if i == k else 1 for i in range(rank)]), shapes)
                for k, (s, n) in enumerate(zip(starts, shapes))]


class _Affine:
    """``NI_GeometricTransform``'s matrix coordinates: ``offset[h]``, then ``+ o_l * M[h, l]`` in order."""

    separable = False

    def __init__(self, matrix, offset):
        self.matrix = np.asarray(matrix, np.float64)
        self.offset = np.asarray(offset, np.float64)

    def __dask_tokenize__(self):
        return ("affine", self.matrix, self.offset)

    def __call__(self, starts, shapes):
        rank = len(shapes)
        grids = [np.arange(s, s + n, dtype=np.float64).reshape([-1 if i == k else 1 for i in range(rank)])
                 for k, (s, n) in enumerate(zip(starts, shapes))]
        out = []
        for row, shift in zip(self.matrix, self.offset):
            acc = np.full(shapes, shift)
            for grid, m in zip(grids, row):
                acc = acc + grid * m
            out.append(acc)
        return out

    def bounds(self, starts, shapes):
        """Per input axis, (min, max) of the coordinates over the block, widened against rounding."""
        corners = np.array(list(itertools.product(*[(s, s + n - 1) for s, n in zip(starts, shapes)])), float)
        mapped = corners @ self.matrix.T + self.offset
        slack = 1e-9 * (1 + np.abs(corners) @ np.abs(self.matrix).T + np.abs(self.offset))
        return mapped.min(axis=0) - slack.max(axis=0), mapped.max(axis=0) + slack.max(axis=0)


class _Mapping:
    """A Python mapping from output to input coordinates, called voxel by voxel as scipy does."""

    separable = False

    def __init__(self, mapping, rank_in, extra_arguments, extra_keywords):
        self.mapping, self.rank_in = mapping, rank_in
        self.args, self.kwargs = tuple(extra_arguments), dict(extra_keywords)

    def __dask_tokenize__(self):
        return ("mapping", tokenize(self.mapping), self.rank_in, self.args, tokenize(self.kwargs))

    def __call__(self, starts, shapes):
        out = np.empty((self.rank_in,) + tuple(shapes))
        for index in np.ndindex(*shapes):
            point = tuple(int(s + i) for s, i in zip(starts, index))
            values = self.mapping(point, *self.args, **self.kwargs)
            if len(values) != self.rank_in:
                raise ArgumentError("wrong number of values returned by the mapping function")
            out[(slice(None),) + index] = [float(v) for v in values]
        return list(out)


# --- regions of the input ------------------------------------------------------------

def _extent(values, n, mode):
    """(min, max) of one axis' folded coordinates that need data, or None."""
    values = np.asarray(values, np.float64)
    if mode == "constant":
        values = values[(values >= 0) & (values <= n - 1)]
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    return float(values.min()), float(values.max())


def _folded_bounds(low, high, n, mode):
    """Bounds of the folded coordinates of the raw interval [low, high] (a matrix's block)."""
    if mode == "constant":
        low, high = max(low, 0.0), min(high, n - 1.0)
        return None if low > high else (low, high)
    if mode in ("nearest", "grid-constant") or (low >= 0 and high <= n - 1):
        return low, high
    if n <= 1:
        return 0.0, 0.0
    inner = (max(low, 0.0), min(high, n - 1.0))
    spans = [inner] if inner[0] <= inner[1] else []
    if mode in ("mirror", "reflect", "grid-mirror"):
        reach_low, reach_high = max(0.0, -low), max(0.0, high - (n - 1))
        if max(reach_low, reach_high) >= n - 2:
            return -1.0, float(n)
        if reach_low:
            spans.append((-1.0, reach_low))
        if reach_high:
            spans.append((n - 1 - reach_high - 1, float(n)))
        return min(s[0] for s in spans), max(s[1] for s in spans)
    return -1.0, float(n)  # wrap, grid-wrap: the far side


def _region(extent, n, order, mode):
    """The input indices one block reads along an axis: ``(first, index)`` with ``index``
    a slice of the axis or (grid-wrap across a face) an array of indices, ``first`` the
    position of its first element in the coordinates' frame."""
    least = min(n, order + 3)  # scipy's edge folds of the footprint then stay inside the region
    if extent is None:
        return 0, slice(0, least)
    low, high = (min(max(v, -order - 4.0), n + order + 4.0) for v in extent)
    first = math.floor(low) - order // 2 - 1
    stop = math.floor(high) + order // 2 + 3
    if mode == "grid-wrap" and (first < 0 or stop > n):
        if stop - first >= n:  # the whole axis, read as scipy reads it (exact)
            return 0, slice(0, n)
        # across a face: a wrapped region; the coordinates' shift by a negative
        # ``first`` may round (1 ulp)
        return first, np.arange(first, stop) % n
    lo, hi = max(first, 0), min(stop, n)
    if lo >= hi:
        lo, hi = (n - 1, n) if first >= n else (0, 1)
    if hi - lo < least:
        hi = min(n, lo + least)
        lo = hi - least
    return lo, slice(lo, hi)


def _gather(bounds, index):
    """Which chunks (``range`` or list) an index along one axis reads, and what to take
    from their concatenation."""
    if isinstance(index, slice):
        first = int(np.searchsorted(bounds, index.start, side="right") - 1)
        last = int(np.searchsorted(bounds, index.stop, side="left") - 1)
        return list(range(first, last + 1)), slice(index.start - bounds[first], index.stop - bounds[first])
    chunk = np.searchsorted(bounds, index, side="right") - 1
    ids = np.unique(chunk)
    lengths = bounds[ids + 1] - bounds[ids]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    where = np.searchsorted(ids, chunk)
    take = starts[where] + index - bounds[chunk]
    if np.array_equal(take, np.arange(take[0], take[0] + take.size)):
        take = slice(int(take[0]), int(take[0]) + take.size)
    return [int(i) for i in ids], take


def _nested_keys(name, ranges):
    def build(prefix, depth):
        if depth == len(ranges):
            return (name, *prefix)
        return [build(prefix + (i,), depth + 1) for i in ranges[depth]]

    return build((), 0)


def _assemble(blocks, takes):
    region = concatenate3(blocks) if isinstance(blocks, list) else blocks
    if any(not isinstance(t, slice) for t in takes):
        region = region[tuple(t if isinstance(t, slice) else slice(None) for t in takes)]
        for axis, t in enumerate(takes):
            if not isinstance(t, slice):
                region = np.take(region, t, axis=axis)
        return region
    return region[tuple(takes)]


def _read(source, index_by_axis):
    """``(keys, takes)`` of the task that reads ``source`` at the per-axis indices."""
    bounds = [np.cumsum((0,) + c) for c in source.chunks]
    plans = [_gather(b, i) for b, i in zip(bounds, index_by_axis)]
    return _nested_keys(source.name, [p[0] for p in plans]), [p[1] for p in plans]


# --- the chunked spline prefilter ----------------------------------------------------

def _spline_block(blocks, takes, crops, axes, order, mode, dtype):
    region = _assemble(blocks, takes)
    for axis in axes:
        region = ndi.spline_filter1d(region, order, axis=axis, output=dtype, mode=mode)
        region = region[tuple(crops[axis] if a == axis else slice(None) for a in range(region.ndim))]
    return region


def _chunked_spline(data, axes, order, mode, dtype):
    """scipy's spline filter (``spline_filter1d`` along each of ``axes`` in turn, output
    ``dtype``) chunk by chunk: each chunk reads ``_SPLINE_DEPTH[order]`` voxels of its
    neighbours along the filtered axes (across the far face for grid-wrap)."""
    axes = list(axes)
    if order < 2 or not axes or data.size == 0:
        return data.astype(dtype)
    depth = _SPLINE_DEPTH[order]
    # chunks shorter than the overlap are merged with their neighbours (each block then
    # reads at most three chunks per axis); chunks at least that long are kept
    chunks = tuple(_merge_small(c, depth) if a in axes else c for a, c in enumerate(data.chunks))
    if chunks != data.chunks:
        data = rechunk(data, chunks)
    bounds = [np.cumsum((0,) + c) for c in data.chunks]
    name = "spline-filter-" + tokenize(data, axes, order, mode, np.dtype(dtype).str, depth)
    graph = {}
    for block in itertools.product(*[range(len(c)) for c in data.chunks]):
        index, crops = [], {}
        for a, n in enumerate(data.shape):
            s, e = int(bounds[a][block[a]]), int(bounds[a][block[a] + 1])
            if a not in axes:
                index.append(slice(s, e))
            elif mode == "grid-wrap":  # periodic: the far side, or the whole axis
                if e - s + 2 * depth < n:
                    index.append(np.arange(s - depth, e + depth) % n)
                    crops[a] = slice(depth, depth + e - s)
                else:
                    index.append(slice(0, n))
                    crops[a] = slice(s, e)
            else:
                lo, hi = max(0, s - depth), min(n, e + depth)
                index.append(slice(lo, hi))
                crops[a] = slice(s - lo, e - lo)
        keys, takes = _read(data, index)
        graph[(name, *block)] = (_spline_block, keys, takes, crops, axes, order, mode, np.dtype(dtype))
    hlg = HighLevelGraph.from_collections(name, graph, dependencies=[data])
    return da.Array(hlg, name, chunks=data.chunks, dtype=dtype)


def _complex_parts(func, data, out_dtype, cval, **kwargs):
    """scipy's handling of complex input: real and imaginary parts apart (each with its
    part of ``cval``), joined in ``out_dtype``."""
    part = np.empty(0, out_dtype).real.dtype
    real = func(data.real, out_dtype=part, cval=np.real(cval), **kwargs)
    imag = func(data.imag, out_dtype=part, cval=np.imag(cval), **kwargs)
    return da.map_blocks(_join, real, imag, np.dtype(out_dtype), dtype=out_dtype)


def _join(real, imag, dtype):
    out = np.empty(real.shape, dtype)
    out.real, out.imag = real, imag
    return out


def _coefficients(data, axes, order, mode, cval):
    """scipy's prefilter of the transforms: ``(coefficients, npad)``."""
    npad = 0
    if mode in ("nearest", "grid-constant"):
        npad = _NPAD
        data = _pad(data, axes, npad, mode, cval)
    return _chunked_spline(data, axes, order, mode, np.float64), npad


def _pad(data, axes, npad, mode, cval):
    """``np.pad`` by ``npad`` along ``axes`` ('edge' for nearest, else ``cval``), one chunk
    per pad (dask's pad splits a constant pad into the array's chunk size)."""
    for a in axes:
        shape, chunks = list(data.shape), list(data.chunks)
        shape[a], chunks[a] = npad, (npad,)
        if mode == "nearest":
            edge = [tuple(slice(0, 1) if b == a else slice(None) for b in range(data.ndim)),
                    tuple(slice(data.shape[a] - 1, None) if b == a else slice(None) for b in range(data.ndim))]
            before, after = (da.broadcast_to(data[e], shape, chunks=chunks) for e in edge)
        else:
            before = after = da.full(shape, np.asarray(cval).astype(data.dtype), dtype=data.dtype, chunks=chunks)
        data = da.concatenate([before, data, after], axis=a)
    return data


# --- interpolation -------------------------------------------------------------------

def _interpolate_block(blocks, takes, firsts, model, starts, shapes, axes, order, mode, cval, dtype, npad, sizes,
                       out_positions, prefilter_here, *coordinate_block):
    """One output block: scipy's ``map_coordinates`` on the region its coordinates read
    (with ``prefilter_here``, the spline coefficients of that region computed here)."""
    region = _assemble(blocks, takes)
    if prefilter_here is not None:
        region = _local_coefficients(region, axes, order, mode, *prefilter_here)
    raw = coordinate_block[0] if coordinate_block else model(starts, shapes)
    local = np.stack([_fold(np.asarray(c, np.float64) + npad if npad else c, n, mode) - first
                      for c, n, first in zip(raw, sizes, firsts)])
    frames = [a for a in range(region.ndim) if a not in axes]
    region = np.moveaxis(region, frames, list(range(len(frames))))
    shape = region.shape[: len(frames)]
    out = np.empty(shape + local.shape[1:], dtype)
    for index in np.ndindex(*shape):
        ndi.map_coordinates(region[index], local, output=out[index], order=order, mode=mode, cval=cval,
                            prefilter=False)
    return np.moveaxis(out, list(range(out.ndim)), out_positions) if out_positions else out


def _prefilter_locally(data, axes, order, npad, sizes, regions) -> bool:
    """Whether computing each block's coefficients in its own task (its region plus the
    overlap) costs less than the chunked coefficient layer the blocks would read: so for
    sparse samples (a few coordinates, a strong shrink) of a large volume."""
    depth = _SPLINE_DEPTH[order]
    largest = 4 * math.prod(max(data.chunks[a]) + 2 * depth for a in axes)  # what one task may hold
    local_cost = 0
    for region in regions:
        cost = math.prod(min(n, _length(i) + 2 * depth) for i, n in zip(region, sizes))
        if cost > largest:
            return False
        local_cost += cost
    bounds, lengths = [], []
    for a, n in zip(axes, sizes):
        pads = (npad,) if npad else ()
        chunks = _merge_small(pads + data.chunks[a] + pads, depth)
        bounds.append(np.cumsum((0,) + chunks))
        lengths.append([min(n, c + 2 * depth) for c in chunks])
    touched = set()
    for region in regions:
        touched.update(itertools.product(*[_gather(b, i)[0] for b, i in zip(bounds, region)]))
    layer_cost = sum(math.prod(lengths[k][i] for k, i in enumerate(ids)) for ids in touched)
    return local_cost <= layer_cost


def _length(index):
    return index.stop - index.start if isinstance(index, slice) else len(index)


def _local_read(index, n, npad, order, mode):
    """For a region ``index`` of the (padded) coefficients along one axis: the input
    indices to read and ``(pad before, pad after, take)`` to build them there."""
    depth = _SPLINE_DEPTH[order]
    if mode == "grid-wrap":
        lo, hi = (index.start, index.stop) if isinstance(index, slice) else (None, None)
        if lo is not None and hi - lo + 2 * depth < n:
            return np.arange(lo - depth, hi + depth) % n, (0, 0, slice(depth, depth + hi - lo))
        return slice(0, n), (0, 0, index)  # the whole axis, filtered as scipy does
    lo, hi = index.start, index.stop  # in the padded frame
    e0, e1 = max(lo - depth, 0), min(hi + depth, n + 2 * npad)
    if e1 <= npad:  # all in the first pad: the face is read, padded before, and not taken
        return slice(0, 1), (e1 - e0, 0, slice(lo - e0, hi - e0))
    if e0 >= n + npad:  # all in the last pad
        return slice(n - 1, n), (0, e1 - e0, slice(lo - e0 + 1, hi - e0 + 1))
    r0, r1 = max(e0 - npad, 0), min(e1 - npad, n)
    return slice(r0, r1), (max(0, npad - e0), max(0, e1 - npad - n), slice(lo - e0, hi - e0))


def _local_coefficients(region, axes, order, mode, pads, pad_mode, cval):
    """scipy's prefilter on a region: the pads of 'nearest'/'grid-constant', the spline
    filter along each axis, the part the interpolation reads."""
    width = [(0, 0)] * region.ndim
    for a, (before, after, _) in zip(axes, pads):
        width[a] = (before, after)
    if any(w != (0, 0) for w in width):  # np.pad in the input's dtype, as scipy pads
        region = (np.pad(region, width, mode="edge") if pad_mode == "edge"
                  else np.pad(region, width, mode="constant", constant_values=cval))
    for a, (_, _, take) in zip(axes, pads):
        region = ndi.spline_filter1d(region, order, axis=a, output=np.float64, mode=mode)
    for a, (_, _, take) in zip(axes, pads):
        region = np.take(region, take, axis=a) if not isinstance(take, slice) else \
            region[tuple(take if b == a else slice(None) for b in range(region.ndim))]
    return region


def _resample(data, axes, out_shape, out_chunks, model, *, order, mode, cval, prefilter, out_dtype,
              coordinates=None, extents=None):
    """The transform of ``data``'s ``axes`` by a coordinate ``model`` (or a dask array of
    given ``coordinates``); the other axes are frames, passed through.

    The output has the frames' axes where the input has them and, if the transform
    keeps the rank, its axes where ``axes`` are; otherwise they follow the frames.
    ``out_chunks`` are the chunks of the output's transformed axes.
    """
    if np.dtype(data.dtype).kind == "c":
        return _complex_parts(_resample, data, out_dtype, cval, axes=axes, out_shape=out_shape,
                              out_chunks=out_chunks, model=model, order=order, mode=mode, prefilter=prefilter,
                              coordinates=coordinates, extents=extents)
    axes = list(axes)
    frames = [a for a in range(data.ndim) if a not in axes]
    same_rank = len(out_shape) == len(axes)
    if same_rank:
        full_chunks = list(data.chunks)
        for a, c in zip(axes, out_chunks):
            full_chunks[a] = tuple(c)
        t_positions = axes
    else:
        full_chunks = [data.chunks[a] for a in frames] + [tuple(c) for c in out_chunks]
        t_positions = list(range(len(frames), len(frames) + len(out_shape)))
    f_positions = frames if same_rank else list(range(len(frames)))
    out_positions = [None] * (len(frames) + len(out_shape))
    for k, p in enumerate(f_positions + t_positions):
        out_positions[k] = p
    out_positions = None if out_positions == list(range(len(out_positions))) else out_positions

    spline = prefilter and order > 1
    npad = _NPAD if spline and mode in ("nearest", "grid-constant") else 0
    sizes = [data.shape[a] + 2 * npad for a in axes]
    out_starts = [np.cumsum((0,) + tuple(c[:-1])) for c in out_chunks]
    axis_values = None
    if extents is None and getattr(model, "separable", False):
        # exact per-axis coordinates: fold them once, take each block's extent
        axis_values = [_fold(model.axis(k, 0, out_shape[k]) + npad if npad else model.axis(k, 0, out_shape[k]),
                             sizes[k], mode) for k in range(len(axes))]
    blocks = []
    for t_block in itertools.product(*[range(len(c)) for c in out_chunks]):
        starts = [int(out_starts[k][b]) for k, b in enumerate(t_block)]
        shapes = [int(out_chunks[k][b]) for k, b in enumerate(t_block)]
        if extents is not None:
            block_extents = extents[t_block]
        elif axis_values is not None:
            block_extents = [_extent(v[s: s + n], size, mode)
                             for v, s, n, size in zip(axis_values, starts, shapes, sizes)]
        else:
            low, high = model.bounds(starts, shapes)
            block_extents = [_folded_bounds(lo + npad, hi + npad, size, mode) for lo, hi, size in zip(low, high, sizes)]
        regions = [_region(extent, size, order, mode) for extent, size in zip(block_extents, sizes)]
        blocks.append((t_block, starts, shapes, [r[0] for r in regions], [r[1] for r in regions]))

    local = spline and _prefilter_locally(data, axes, order, npad, sizes, [b[4] for b in blocks])
    source = data
    if spline and not local:
        source, _ = _coefficients(data, axes, order, mode, cval)
    name = "interpolate-" + tokenize(source, axes, out_shape, out_chunks, model, coordinates, order, mode, cval,
                                     np.dtype(out_dtype).str, local)
    graph = {}
    dependencies = [source] + ([coordinates] if coordinates is not None else [])
    f_bounds = [np.cumsum((0,) + data.chunks[a]) for a in frames]
    for t_block, starts, shapes, firsts, t_index in blocks:
        prefilter_here = None
        if local:
            t_read, prefilter_here = zip(*[_local_read(i, n, npad, order, mode)
                                           for i, n in zip(t_index, [data.shape[a] for a in axes])])
            prefilter_here = (list(prefilter_here), "edge" if mode == "nearest" else "constant", cval)
        else:
            t_read = t_index
        for f_block in itertools.product(*[range(len(data.chunks[a])) for a in frames]):
            index = [None] * data.ndim
            for a, b, fb in zip(frames, f_block, f_bounds):
                index[a] = slice(int(fb[b]), int(fb[b + 1]))
            for a, i in zip(axes, t_read):
                index[a] = i
            keys, takes = _read(source, index)
            out_block = [0] * (len(frames) + len(out_shape))
            for p, b in zip(f_positions, f_block):
                out_block[p] = b
            for p, b in zip(t_positions, t_block):
                out_block[p] = b
            task = [_interpolate_block, keys, takes, firsts, model, starts, shapes, axes, order, mode, cval,
                    np.dtype(out_dtype), npad, sizes, out_positions, prefilter_here]
            if coordinates is not None:
                task.append((coordinates.name, 0, *t_block))
            graph[(name, *out_block)] = tuple(task)
    hlg = HighLevelGraph.from_collections(name, graph, dependencies=dependencies)
    return da.Array(hlg, name, chunks=tuple(full_chunks), dtype=out_dtype)


def _default_chunks(data, axes, out_shape):
    """Output chunks along the transformed axes: the input's largest chunk of each."""
    base = max(max(data.chunks[a]) for a in axes)
    sizes = [max(data.chunks[axes[k]]) if k < len(axes) else base for k in range(len(out_shape))]
    return [da.core.normalize_chunks(max(1, s), (n,))[0] if n else (0,) for s, n in zip(sizes, out_shape)]


def _output_chunks(output_chunks, data, axes, out_shape, dtype):
    """``(chunks of the transformed axes, chunks of the whole output or None)`` for
    dask-image's ``output_chunks`` (the output's chunks, dask's notation); default: the
    input's largest chunk along each transformed axis."""
    if output_chunks is None:
        return _default_chunks(data, axes, out_shape), None
    frames = [a for a in range(data.ndim) if a not in axes]
    if len(out_shape) == len(axes):
        shape = list(data.shape)
        for a, n in zip(axes, out_shape):
            shape[a] = n
        positions = list(axes)
    else:
        shape = [data.shape[a] for a in frames] + list(out_shape)
        positions = list(range(len(frames), len(shape)))
    full = da.core.normalize_chunks(output_chunks, tuple(shape), dtype=dtype)
    return [full[p] for p in positions], full


def _rechunked(data, full):
    return data if full is None or data.chunks == full else rechunk(data, full)


def _chunked_affine(data, matrix, offset, output_shape, axes, *, order, mode, cval, prefilter, output_chunks=None,
                    out_dtype=None):
    """``affine_transform`` of the axes ``axes`` of a dask array (square ``matrix``); other axes pass through."""
    if output_chunks is None:
        output_chunks = _default_chunks(data, axes, output_shape)
    return _resample(data, axes, tuple(output_shape), output_chunks, _Affine(matrix, offset), order=order, mode=mode,
                     cval=cval, prefilter=prefilter, out_dtype=data.dtype if out_dtype is None else out_dtype)


def _result(image, data, axes, **grid):
    """The output image: on the input's grid when the transform keeps the rank."""
    if data.ndim == image.ndim:
        return regrid(image, data, **grid)
    frames = [d for d in image.dims if d not in spatial_dims(image)]
    rank = data.ndim - len(frames)
    if not 1 <= rank <= 3:
        raise ValueError(f"the output must have 1 to 3 spatial axes, got {rank}")
    dims = tuple(frames) + tuple(SPATIAL_DIMS[3 - rank:])
    out = from_array(data, dims=dims, times_ms=image["t"].values if "t" in image.dims else None, name=image.name)
    out.attrs.update({k: image.attrs[k] for k in ("modality", "units", "source") if k in image.attrs})
    return out


def _setup(image, output, order, mode, prefilter, rank=None):
    """Image, spatial axes, output dtype; scipy's argument errors raised now."""
    order = _check_order(order)
    _check_mode(mode)
    image = as_image(image)
    axes = list(spatial_axes(image))
    out_dtype = _output_dtype(output, image.dtype)
    _probe(image.dtype, out_dtype, len(axes) if rank is None else rank, order, mode, prefilter)
    return image, axes, order, out_dtype


# --- scipy's functions ---------------------------------------------------------------

def affine_transform(image, matrix, offset=0.0, *, output_shape=None, output=None, order=3, mode="constant",
                     cval=0.0, prefilter=True, output_chunks=None):
    """As ``scipy.ndimage.affine_transform``, over the spatial axes, in voxels.

    The output voxel ``o`` takes the input value at ``matrix @ o + offset``.
    ``matrix`` may be a diagonal (1-D), a square matrix, a homogeneous
    ``(n+1, n+1)`` or ``(n, n+1)`` matrix, or ``(n, m)`` for an output of ``m``
    axes. An output of the input's rank keeps its spacing and first-voxel
    position. ``output_chunks`` (as in dask-image) sets the output's chunks;
    by default each transformed axis takes the input's largest chunk along it.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.arange(12.0).reshape(3, 4), chunks=2)
    >>> bd.transform.affine_transform(image, [[1, 0], [0, 2]], output_shape=(3, 2), order=1).values.tolist()
    [[0.0, 2.0], [4.0, 6.0], [8.0, 10.0]]
    """
    image, axes, order, out_dtype = _setup(image, output, order, mode, prefilter)
    n = len(axes)
    if output_shape is None:
        output_shape = tuple(image.shape[a] for a in axes)
    output_shape = tuple(int(v) for v in output_shape)
    if len(output_shape) < 1:
        raise ArgumentError("input and output rank must be > 0")
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim not in (1, 2) or matrix.shape[0] < 1:
        raise ArgumentError("no proper affine matrix provided")
    if matrix.ndim == 2 and matrix.shape[1] == n + 1 and matrix.shape[0] in (n, n + 1):
        if matrix.shape[0] == n + 1:
            expected = [0] * n + [1]
            if not np.all(matrix[n] == expected):
                raise ValueError(f"Expected homogeneous transformation matrix with shape {matrix.shape} for image "
                                 f"shape {image.shape}, but bottom row was not equal to {expected}")
        offset = matrix[:n, n]
        matrix = matrix[:n, :n]
    if matrix.shape[0] != n:
        raise ArgumentError("affine matrix has wrong number of rows")
    if matrix.ndim == 2 and matrix.shape[1] != len(output_shape):
        raise ArgumentError("affine matrix has wrong number of columns")
    offset = np.asarray(_sequence(offset, n), dtype=np.float64)
    if offset.ndim != 1 or offset.shape[0] < 1:
        raise ArgumentError("no proper offset provided")
    if matrix.ndim == 1:
        if len(output_shape) != n:
            raise ArgumentError("affine matrix has wrong number of columns")
        with np.errstate(divide="ignore", invalid="ignore"):
            model = _ZoomShift(zoom=matrix, shift=offset / matrix)
    else:
        model = _Affine(matrix, offset)
    chunks, full = _output_chunks(output_chunks, image.data, axes, output_shape, out_dtype)
    data = _resample(image.data, axes, output_shape, chunks, model, order=order, mode=mode, cval=cval,
                     prefilter=prefilter, out_dtype=out_dtype)
    return _result(image, _rechunked(data, full), axes)


def shift(image, shift=None, *, shift_mm=None, output=None, order=3, mode="constant", cval=0.0, prefilter=True):
    """As ``scipy.ndimage.shift``: content moves by ``shift`` voxels (or ``shift_mm``) along each axis.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.arange(5.0)[None, None, :])
    >>> bd.transform.shift(image, (0, 0, 2), order=0).values.ravel().tolist()
    [0.0, 0.0, 0.0, 1.0, 2.0]
    """
    image, axes, order, out_dtype = _setup(image, output, order, mode, prefilter)
    if shift is not None and shift_mm is None:
        amount = [float(v) for v in _sequence(shift, len(axes))]
    else:
        amount = voxels_or_mm(image, shift, shift_mm, "shift", minimum=-np.inf)
    model = _ZoomShift(shift=[-v for v in amount])
    out_shape = tuple(image.shape[a] for a in axes)
    data = _resample(image.data, axes, out_shape, [image.data.chunks[a] for a in axes], model, order=order,
                     mode=mode, cval=cval, prefilter=prefilter, out_dtype=out_dtype)
    return regrid(image, data)


def zoom(image, zoom, *, output=None, order=3, mode="constant", cval=0.0, prefilter=True, grid_mode=False,
         output_chunks=None):
    """As ``scipy.ndimage.zoom``: ``round(n * zoom)`` voxels per axis over the same extent.

    Without ``grid_mode`` the first and last voxel centres stay in place; with
    it, the outer faces of the first and last voxels do. The output's coords
    and spacing say so. ``output_chunks`` as in :func:`affine_transform`.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.array([[0.0, 1.0], [2.0, 3.0]]), chunks=1)
    >>> bd.transform.zoom(image, 2, order=0, mode="nearest", grid_mode=True).values.tolist()[0]
    [0.0, 0.0, 1.0, 1.0]
    """
    image, axes, order, out_dtype = _setup(image, output, order, mode, prefilter)
    factors = _sequence(zoom, len(axes))
    in_shape = [image.shape[a] for a in axes]
    out_shape = tuple(int(round(n * z)) for n, z in zip(in_shape, factors))
    if any(n < 0 for n in out_shape):
        raise ValueError(f"zoom must be >= 0, got {zoom!r}")
    if all(z == 1 for z in factors) and prefilter:  # scipy's early exit (gh-20999): a copy
        return regrid(image, image.data.astype(out_dtype))
    if grid_mode and mode in ("constant", "wrap"):
        suggest = {"constant": "grid-constant", "wrap": "grid-wrap"}[mode]
        warnings.warn(f"It is recommended to use mode = {suggest} instead of {mode} when grid_mode is True.",
                      stacklevel=2)
    div = np.array(out_shape) - (0 if grid_mode else 1)
    num = np.array(in_shape) - (0 if grid_mode else 1)
    step = np.divide(num, div, out=np.ones(len(axes), dtype=np.float64), where=div != 0)
    model = _ZoomShift(zoom=step, grid_mode=grid_mode)
    chunks, full = _output_chunks(output_chunks, image.data, axes, out_shape, out_dtype)
    data = _rechunked(_resample(image.data, axes, out_shape, chunks, model, order=order, mode=mode, cval=cval,
                                prefilter=prefilter, out_dtype=out_dtype), full)
    geo = geometry(image)
    old_spacing, old_offset = dict(zip(SPATIAL_DIMS, geo.spacing)), dict(zip(SPATIAL_DIMS, geo.offset))
    dims = [image.dims[a] for a in axes]
    first = [(0.5 * s - 0.5) if grid_mode else 0.0 for s in step]  # output voxel 0 in input voxels
    step = np.where(step > 0, step, 1.0)  # an empty axis keeps its spacing
    return regrid(image, data, spacing_zyx={d: old_spacing[d] * s for d, s in zip(dims, step)},
                  offset_zyx={d: old_offset[d] + f * old_spacing[d] for d, f in zip(dims, first)})


def rotate(image, angle, axes=(1, 0), *, reshape=True, output=None, order=3, mode="constant", cval=0.0,
           prefilter=True, output_chunks=None):
    """As ``scipy.ndimage.rotate``: ``angle`` degrees in the plane of two spatial array ``axes``.

    ``axes`` are array axes of the image (or dim names). With ``reshape``
    the output grows to hold the whole rotated plane, centred on the same
    point; every plane parallel to it is rotated alike. ``output_chunks`` as in
    :func:`affine_transform`.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.array([[0.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]))
    >>> bd.transform.rotate(image, 90, order=1).values.tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    image, spatial, order, out_dtype = _setup(image, output, order, mode, prefilter, rank=2)
    if len(spatial) < 2:
        raise ValueError("input array should be at least 2D")
    axes = list(axes)
    if len(axes) != 2:
        raise ValueError("axes should contain exactly two values")
    plane = sorted(_spatial_axis(image, a, "axes") for a in axes)
    if plane[0] == plane[1]:
        raise ValueError(f"axes should name two different axes, got {tuple(axes)!r}")
    c, s = special.cosdg(angle), special.sindg(angle)
    rotation = np.array([[c, s], [-s, c]])
    in_plane = np.array([image.shape[p] for p in plane])
    if reshape:  # scipy's arithmetic, to the letter
        iy, ix = in_plane
        bounds = rotation @ [[0, 0, iy, iy], [0, ix, 0, ix]]
        out_plane = (np.ptp(bounds, axis=1) + 0.5).astype(int)
    else:
        out_plane = in_plane
    offset = (in_plane - 1) / 2 - rotation @ ((out_plane - 1) / 2)
    out_shape = tuple(int(v) for v in out_plane)
    chunks, full = _output_chunks(output_chunks, image.data, plane, out_shape, out_dtype)
    data = _rechunked(_chunked_affine(image.data, rotation, offset, out_shape, plane, order=order, mode=mode,
                                      cval=cval, prefilter=prefilter, output_chunks=chunks, out_dtype=out_dtype), full)
    # keep the centre of the plane where it was
    geo = geometry(image)
    geo_offset, spacing = dict(zip(SPATIAL_DIMS, geo.offset)), dict(zip(SPATIAL_DIMS, geo.spacing))
    new_offset = {}
    for p, n_in, n_out in zip(plane, in_plane, out_plane):
        d = image.dims[p]
        new_offset[d] = geo_offset[d] + (n_in - n_out) / 2 * spacing[d]
    return regrid(image, data, offset_zyx=new_offset)


def map_coordinates(image, coordinates, *, output=None, order=3, mode="constant", cval=0.0, prefilter=True):
    """As ``scipy.ndimage.map_coordinates``: the image's values at ``coordinates`` (voxels).

    ``coordinates`` (numpy or dask array, ``(rank, ...)``) gives for every
    output voxel its position along each spatial axis; the output has its
    shape (and a cine's frames first) and its chunks. Each output chunk reads
    only the input region its coordinates need: for dask coordinates these
    regions are found by computing each chunk's extent now (as dask-image does).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.arange(12.0).reshape(3, 4), chunks=2)
    >>> bd.transform.map_coordinates(image, [[0.5, 2], [0.5, 1]], order=1).values.tolist()
    [2.5, 9.0]
    """
    order = _check_order(order)
    lazy = isinstance(coordinates, da.Array)
    coordinates = coordinates if lazy else np.asarray(coordinates)
    if np.dtype(coordinates.dtype).kind == "c":
        raise TypeError("Complex type not supported")
    image = as_image(image)
    axes = list(spatial_axes(image))
    out_shape = tuple(coordinates.shape[1:])
    if len(out_shape) < 1:
        raise ArgumentError("input and output rank must be > 0")
    if coordinates.shape[0] != len(axes):
        raise ArgumentError("invalid shape for coordinate array")
    image, axes, order, out_dtype = _setup(image, output, order, mode, prefilter)
    npad = _NPAD if prefilter and order > 1 and mode in ("nearest", "grid-constant") else 0
    sizes = [image.shape[a] + 2 * npad for a in axes]
    if lazy:
        coordinates = coordinates.rechunk({0: -1}).astype(np.float64)
        extents = _block_extents(coordinates, sizes, npad, mode)
    else:  # the extents from numpy, nothing computed
        coordinates = np.asarray(coordinates, np.float64)
        chunks = _default_chunks(image.data, axes, out_shape)
        bounds = [np.cumsum((0,) + tuple(c)) for c in chunks]
        extents = np.empty(tuple(len(c) for c in chunks), dtype=object)
        for block in np.ndindex(*extents.shape):
            region = (slice(None),) + tuple(slice(b[i], b[i + 1]) for b, i in zip(bounds, block))
            extents[block] = _extent_of_block(coordinates[region], sizes, npad, mode)
        coordinates = da.from_array(coordinates, chunks=(len(axes),) + tuple(chunks))
    data = _resample(image.data, axes, out_shape, coordinates.chunks[1:], None, order=order, mode=mode, cval=cval,
                     prefilter=prefilter, out_dtype=out_dtype, coordinates=coordinates, extents=extents)
    return _result(image, data, axes)


def _extent_of_block(block, sizes, npad, mode):
    return [_extent(_fold(c + npad if npad else c, n, mode), n, mode) for c, n in zip(block, sizes)]


def _block_extents(coordinates, sizes, npad, mode):
    """Per block of the coordinates, per axis, the extent of its folded values (computed now)."""
    from dask import delayed

    blocks = coordinates.to_delayed()[0]
    flat = list(np.ravel(blocks))
    values = compute(*[delayed(_extent_of_block)(b, sizes, npad, mode) for b in flat])
    out = np.empty(len(flat), dtype=object)
    out[:] = list(values)
    return out.reshape(blocks.shape)


def geometric_transform(image, mapping, *, output_shape=None, output=None, order=3, mode="constant", cval=0.0,
                        prefilter=True, extra_arguments=(), extra_keywords=None, output_chunks=None):
    """As ``scipy.ndimage.geometric_transform``: ``mapping(output_point)`` gives the input point.

    ``mapping`` takes a tuple of output indices (plus ``extra_arguments`` and
    ``extra_keywords``) and returns one input coordinate per spatial axis.
    It is evaluated on the whole output grid now, chunk by chunk, to find the
    input region each output chunk reads, and again in each chunk's task.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.array([4.0, 1, 3, 2]), chunks=2)
    >>> bd.transform.geometric_transform(image, lambda p: (p[0] - 1,), order=1).values.tolist()
    [0.0, 4.0, 1.0, 3.0]
    """
    if extra_keywords is None:
        extra_keywords = {}
    order = _check_order(order)
    image = as_image(image)
    axes = list(spatial_axes(image))
    if output_shape is None:
        output_shape = tuple(image.shape[a] for a in axes)
    output_shape = tuple(int(v) for v in output_shape)
    if len(output_shape) < 1:
        raise ArgumentError("input and output rank must be > 0")
    image, axes, order, out_dtype = _setup(image, output, order, mode, prefilter)
    model = _Mapping(mapping, len(axes), extra_arguments, extra_keywords)
    chunks, full = _output_chunks(output_chunks, image.data, axes, output_shape, out_dtype)
    npad = _NPAD if prefilter and order > 1 and mode in ("nearest", "grid-constant") else 0
    sizes = [image.shape[a] + 2 * npad for a in axes]
    starts = [np.cumsum((0,) + tuple(c[:-1])) for c in chunks]
    extents = np.empty(tuple(len(c) for c in chunks), dtype=object)
    for block in np.ndindex(*extents.shape):
        s = [int(starts[k][b]) for k, b in enumerate(block)]
        n = [int(chunks[k][b]) for k, b in enumerate(block)]
        extents[block] = _extent_of_block(model(s, n), sizes, npad, mode)
    data = _resample(image.data, axes, output_shape, chunks, model, order=order, mode=mode, cval=cval,
                     prefilter=prefilter, out_dtype=out_dtype, extents=extents)
    return _result(image, _rechunked(data, full), axes)


def spline_filter1d(image, order=3, axis=-1, *, output=np.float64, mode="mirror", output_chunks=None):
    """As ``scipy.ndimage.spline_filter1d``: B-spline coefficients along one spatial ``axis``.

    Chunked: each chunk reads ``_SPLINE_DEPTH[order]`` voxels of its
    neighbours along ``axis``, enough for scipy's answer to rounding.

    Examples
    --------
    >>> import numpy as np, scipy.ndimage as ndi, bmia_dask as bd
    >>> data = np.random.default_rng(0).random((30, 40))
    >>> out = bd.transform.spline_filter1d(bd.from_array(data, chunks=10), 3, axis=0)
    >>> bool(np.allclose(out.values, ndi.spline_filter1d(data, 3, axis=0), rtol=0, atol=1e-12))
    True
    """
    if order < 0 or order > 5:
        raise ArgumentError("spline order not supported")
    _check_mode(mode)
    image = as_image(image)
    out_dtype = _output_dtype(output, image.dtype)
    axis = _spatial_axis(image, axis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ndi.spline_filter1d(np.zeros(3, image.dtype), order, output=out_dtype, mode=mode)
    func = _spline_parts if image.dtype.kind == "c" else _spline_real
    data = func(image.data, out_dtype=out_dtype, axes=[axis], order=int(order), mode=mode)
    full = None if output_chunks is None else da.core.normalize_chunks(output_chunks, data.shape, dtype=out_dtype)
    return regrid(image, _rechunked(data, full))


def spline_filter(image, order=3, *, output=np.float64, mode="mirror", output_chunks=None):
    """As ``scipy.ndimage.spline_filter``: B-spline coefficients along every spatial axis.

    Examples
    --------
    >>> import numpy as np, scipy.ndimage as ndi, bmia_dask as bd
    >>> data = np.random.default_rng(0).random((30, 40))
    >>> out = bd.transform.spline_filter(bd.from_array(data, chunks=10), 3)
    >>> bool(np.allclose(out.values, ndi.spline_filter(data, 3), rtol=0, atol=1e-12))
    True
    """
    if order < 2 or order > 5:
        raise ArgumentError("spline order not supported")
    _check_mode(mode)
    image = as_image(image)
    out_dtype = _output_dtype(output, image.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ndi.spline_filter(np.zeros(3, image.dtype), order, output=out_dtype, mode=mode)
    func = _spline_parts if image.dtype.kind == "c" else _spline_real
    data = func(image.data, out_dtype=out_dtype, axes=list(spatial_axes(image)), order=int(order), mode=mode)
    full = None if output_chunks is None else da.core.normalize_chunks(output_chunks, data.shape, dtype=out_dtype)
    return regrid(image, _rechunked(data, full))


def _spline_real(data, *, out_dtype, axes, order, mode, cval=None):
    return _chunked_spline(data, axes, order, mode, out_dtype)


def _spline_parts(data, *, out_dtype, axes, order, mode):
    return _complex_parts(_spline_real, data, out_dtype, 0.0, axes=axes, order=order, mode=mode)


# --- physical space ------------------------------------------------------------------

def resample(image, *, spacing_mm=None, like=None, order=1, mode=None, cval=0.0):
    """Resample onto a grid of ``spacing_mm`` (same extent), or onto the grid of ``like``.

    With ``spacing_mm`` the first voxel stays in place and the grid covers
    the same extent. With ``like`` every output voxel is placed through both
    images' affines (LPS mm), so the images may differ in spacing, origin and
    orientation; the output has ``like``'s grid and chunks and ``image``'s
    values, dims ``t`` included. ``order=1`` (linear) by default; ``mode`` is
    ``"nearest"`` for ``spacing_mm`` and ``"constant"`` (``cval`` outside
    ``image``) for ``like``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.zeros((10, 20, 20)), spacing=(3.0, 1.0, 1.0))
    >>> out = bd.transform.resample(image, spacing_mm=1.5)
    >>> out.shape, out.attrs["spacing"]
    ((19, 13, 13), (1.5, 1.5, 1.5))
    >>> grid = bd.from_array(np.zeros((5, 8, 8)), spacing=2.0, origin=(4.0, 4.0, 6.0))
    >>> bd.transform.resample(image, like=grid).attrs["origin"]
    (4.0, 4.0, 6.0)
    """
    if (spacing_mm is None) == (like is None):
        raise ValueError("give spacing_mm or like (one of them)")
    if like is not None:
        return apply(image, np.eye(4), like=like, order=order, mode="constant" if mode is None else mode, cval=cval)
    mode = "nearest" if mode is None else mode
    image = as_image(image)
    axes = list(spatial_axes(image))
    new = np.asarray(per_axis(spacing_mm, len(axes), "spacing_mm"))
    if (new <= 0).any():
        raise ValueError(f"spacing_mm must be > 0, got {spacing_mm!r}")
    dims = [image.dims[a] for a in axes]
    old_all = dict(zip(SPATIAL_DIMS, geometry(image).spacing))
    old = np.array([old_all[d] for d in dims])
    in_shape = np.array([image.shape[a] for a in axes])
    out_shape = tuple(int(np.floor((n - 1) * o / s + 1e-9)) + 1 for n, o, s in zip(in_shape, old, new))
    data = _chunked_affine(image.data, np.diag(new / old), np.zeros(len(axes)), out_shape, axes,
                           order=_check_order(order), mode=_check_mode(mode), cval=cval, prefilter=True)
    return regrid(image, data, spacing_zyx=dict(zip(dims, new.tolist())))


def _check_matrix(matrix, name="transform") -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise ValueError(f"{name} must be a 4x4 matrix in LPS mm, got shape {matrix.shape}")
    if not np.isfinite(matrix).all() or not np.allclose(matrix[3], [0, 0, 0, 1]):
        raise ValueError(f"{name}: the bottom row must be [0, 0, 0, 1] and every entry finite")
    if abs(np.linalg.det(matrix[:3, :3])) < 1e-9:
        raise ValueError(f"{name} is not invertible")
    return matrix


def voxel_map(moving, fixed, transform=None) -> np.ndarray:
    """The 4x4 map from ``fixed``'s ``(z, y, x, 1)`` indices to ``moving``'s indices.

    ``transform`` (4x4, LPS mm) takes points of ``moving`` to where they lie
    in ``fixed``'s space; without it both images share patient space.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> fine = bd.from_array(np.zeros((4, 4, 4)), spacing=1.0)
    >>> coarse = bd.from_array(np.zeros((2, 2, 2)), spacing=2.0)
    >>> bd.transform.voxel_map(fine, coarse)[:3, :3].diagonal().tolist()  # one coarse voxel = two fine ones
    [2.0, 2.0, 2.0]
    """
    transform = np.eye(4) if transform is None else _check_matrix(transform)
    to_fixed = geometry(fixed).affine
    to_moving = geometry(moving).affine
    return np.linalg.solve(to_moving, np.linalg.solve(transform, to_fixed))


def apply(image, transform, *, like=None, order=1, mode="constant", cval=0.0):
    """Move ``image`` by a 4x4 ``transform`` in LPS mm and sample it on a grid.

    The point at ``p`` in ``image`` appears at ``transform @ p`` in the
    output (the convention of :func:`bmia_dask.register`'s result, which
    takes the moving image onto the fixed one). The output grid is ``like``'s
    (default: ``image``'s own), built lazily chunk by chunk; voxels that fall
    outside ``image`` take ``cval``.

    Parameters
    ----------
    image : xarray.DataArray
        2D, 3D or ``(t, z, y, x)`` image.
    transform : (4, 4) array_like or str
        Homogeneous matrix acting on LPS points, or the path of a JSON file
        written by :func:`write_transform` / ``bmia register``.
    like : xarray.DataArray, optional
        The image whose grid (shape, spacing, origin, direction) the output takes.
    order, mode, cval
        As in ``scipy.ndimage.affine_transform``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.arange(5.0)[None, None, :], spacing=2.0)
    >>> move = np.eye(4); move[0, 3] = 4.0  # 4 mm along L, the x axis here
    >>> bd.transform.apply(image, move).values.ravel().tolist()
    [0.0, 0.0, 0.0, 1.0, 2.0]
    """
    if isinstance(transform, str):
        transform = read_transform(transform)
    transform = _check_matrix(transform)
    image = as_image(image)
    target = image if like is None else as_image(like)
    sdims, tdims = spatial_dims(image), spatial_dims(target)
    if len(sdims) != len(tdims):
        raise ValueError(f"like has spatial dims {tdims}, image has {sdims}: both must be 2D or both 3D")
    order, mode = _check_order(order), _check_mode(mode)
    index_map = voxel_map(image, target, transform)
    # a 2D image is the plane z = its scalar coord: map within that plane
    keep = [SPATIAL_DIMS.index(d) for d in sdims]
    matrix, offset = index_map[np.ix_(keep, keep)], index_map[keep, 3]
    axes = list(spatial_axes(image))
    out_shape = tuple(target.shape[target.dims.index(d)] for d in tdims)
    target_chunks = target.chunks if target.chunks else None
    output_chunks = ([target_chunks[target.dims.index(d)] for d in tdims] if target_chunks
                     else [da.core.normalize_chunks(max(image.data.chunks[a]), (n,))[0]
                           for a, n in zip(axes, out_shape)])
    data = _chunked_affine(image.data, matrix, offset, out_shape, axes, order=order, mode=mode, cval=cval,
                           prefilter=True, output_chunks=output_chunks)
    out = regrid(image, data, grid=geometry(target))
    for dim in tdims:  # a 2D target's plane position (its scalar coords) comes along
        out = out.assign_coords({dim: target[dim].values})
    for dim in set(SPATIAL_DIMS) - set(tdims):
        if dim in target.coords:
            out = out.assign_coords({dim: target[dim]})
    return out


def write_transform(transform, path, **info) -> str:
    """Write a 4x4 LPS transform as JSON (``{"matrix_lps_mm": ..., **info}``), atomically.

    Examples
    --------
    >>> import os, tempfile, numpy as np, bmia_dask as bd
    >>> path = bd.transform.write_transform(np.eye(4), os.path.join(tempfile.mkdtemp(), "t.json"), note="none")
    >>> bd.transform.read_transform(path)[:3, 3].tolist()
    [0.0, 0.0, 0.0]
    """
    from .io import storage

    matrix = _check_matrix(transform)
    text = json.dumps({"matrix_lps_mm": matrix.tolist(),
                       "convention": "moving LPS point p -> fixed LPS point matrix @ p", **info}, indent=2)
    storage.write_bytes(str(path), text.encode())
    return str(path)


def read_transform(path) -> np.ndarray:
    """Read a 4x4 transform from a JSON file: ``{"matrix_lps_mm": [[...]]}`` or a bare 4x4 list.

    Raises :class:`~bmia_dask.BadInputError` naming the file when it is not
    JSON or not a valid 4x4 homogeneous matrix.
    """
    from .io import storage

    path = str(path)
    try:
        fs, fs_path = storage.url_to_fs(path)
        with fs.open(fs_path, "rb") as file:
            content = json.loads(file.read())
    except FileNotFoundError:
        raise BadInputError(path, "not found") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BadInputError(path, f"not a JSON transform ({error})") from None
    matrix = content.get("matrix_lps_mm") if isinstance(content, dict) else content
    try:
        return _check_matrix(np.asarray(matrix, dtype=np.float64))
    except (ValueError, TypeError) as error:
        raise BadInputError(path, str(error)) from None
