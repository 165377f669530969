"""Exact Euclidean distance transform across chunks, with scipy's answer.

The squared distance to the nearest background voxel is separable
(Felzenszwalb & Huttenlocher, 2012): a 1D pass along each axis in turn, each
pass a lower envelope of parabolas over the result of the one before.

The image is cut into slabs of whole planes (the first spatial axis cut, the
others whole); each slab is one task:

- The first pass is binary: the distance along the first axis to the nearest
  background voxel. Within a slab it is a forward and a backward scan; what
  lies beyond the slab comes in as two planes (the index of the nearest
  background voxel before and after it, per line), folded over the groups of
  slabs from each group's first and last background voxel in one small task.
- The in-plane passes run on whole lines: a compiled (numba) lower envelope
  per axis.

Only planes travel between groups; written to a store, the fold is computed
first and the slabs then slab by slab, so peak memory stays flat as the first
axis grows; a ``(t, z, y, x)`` cine is transformed frame by
frame. The `edt` package is faster inside one block but offers no pass on a
non-binary input, which the exact cross-chunk merge needs.
"""

from __future__ import annotations

import dask.array as da
import numba
import numpy as np
import scipy.ndimage as ndi
from dask.base import tokenize
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph

from ._chunked import once_name, per_axis, spatial_axes
from .image import as_image, like, spacing

__all__ = ["distance_transform_bf", "distance_transform_cdt", "distance_transform_edt"]

_OUTPUT_ARRAY = "output arrays cannot be filled by a lazy library: use the returned image"

_SLAB_BYTES = 32 * 2**20  # a slab of whole planes (one task), as float64
_GROUP_BYTES = 64 * 2**20  # a group of slabs (one link of the chains), as mask


@numba.njit(nogil=True, cache=True)
def _lower_envelope_rows(f, weight):  # pragma: no cover - compiled
    """In place: ``f[r, q] <- min_p f[r, p] + weight * (q - p)**2`` for every row.

    Felzenszwalb & Huttenlocher's lower envelope of parabolas; infinite
    entries (no background reached yet) contribute nothing.
    """
    rows, length = f.shape
    vertex = np.empty(length, np.int64)
    bound = np.empty(length + 1, np.float64)
    line = np.empty(length, np.float64)
    for r in range(rows):
        line[:] = f[r]
        k = -1
        for q in range(length):
            fq = line[q]
            if fq == np.inf:
                continue
            if k < 0:
                k = 0
                vertex[0] = q
                bound[0] = -np.inf
                bound[1] = np.inf
                continue
            while True:
                p = vertex[k]
                s = ((fq + weight * q * q) - (line[p] + weight * p * p)) / (2.0 * weight * (q - p))
                if s <= bound[k]:
                    k -= 1  # never below 0: bound[0] is -inf
                else:
                    break
            k += 1
            vertex[k] = q
            bound[k] = s
            bound[k + 1] = np.inf
        if k < 0:
            f[r, :] = np.inf
            continue
        j = 0
        for q in range(length):
            while bound[j + 1] < q:
                j += 1
            d = q - vertex[j]
            f[r, q] = weight * d * d + line[vertex[j]]


@numba.njit(nogil=True, cache=True)
def _along_first_rows(background, start, before, after, weight):  # pragma: no cover - compiled
    """Squared distance along axis 0 to the nearest background, for every column.

    ``before`` and ``after`` hold, per column, the global index of the nearest
    background voxel before and after this block (+-inf if none).
    """
    n, columns = background.shape
    out = np.empty((n, columns), np.float64)
    nearest = before.copy()
    for i in range(n):
        here = start + i
        for j in range(columns):
            if background[i, j]:
                nearest[j] = here
            out[i, j] = here - nearest[j]
    nearest = after.copy()
    for i in range(n - 1, -1, -1):
        here = start + i
        for j in range(columns):
            if background[i, j]:
                nearest[j] = here
            steps = min(out[i, j], nearest[j] - here)
            out[i, j] = weight * steps * steps
    return out


def _along(block, axis, weight):
    """The lower-envelope pass along one axis of an N-d float64 block."""
    moved = np.ascontiguousarray(np.moveaxis(block, axis, -1))
    rows = moved.reshape(-1, moved.shape[-1])
    _lower_envelope_rows(rows, weight)
    return np.moveaxis(rows.reshape(moved.shape), -1, axis)


@numba.njit(nogil=True, cache=True)
def _slab_edges(background, start, before, after, edges):  # pragma: no cover - compiled
    """Nearest background (global index along axis 0) before and after each slab of a group.

    ``edges`` are the slab starts within the group, then the group's length;
    ``before`` and ``after`` hold the nearest background outside the group.
    """
    n, columns = background.shape
    slabs = len(edges) - 1
    befores = np.empty((slabs, columns), np.float64)
    afters = np.empty((slabs, columns), np.float64)
    nearest = before.copy()
    s = 0
    for i in range(n):
        if s < slabs and i == edges[s]:
            befores[s] = nearest
            s += 1
        for j in range(columns):
            if background[i, j]:
                nearest[j] = start + i
    nearest = after.copy()
    s = slabs - 1
    for i in range(n - 1, -1, -1):
        if s >= 0 and i == edges[s + 1] - 1:
            afters[s] = nearest
            s -= 1
        for j in range(columns):
            if background[i, j]:
                nearest[j] = start + i
    return befores, afters


def _rows(block, axis):
    """The background of a block as C-contiguous (length along ``axis``, lines) rows."""
    background = np.moveaxis(block == 0, axis, 0)
    return np.ascontiguousarray(background).reshape(background.shape[0], -1), background.shape


def _bounds(group, axis, start):
    """Per line: global index of the group's first and last background voxel (+-inf if none)."""
    background, _ = _rows(group, axis)
    found = background.any(0)
    first = np.where(found, start + background.argmax(0), np.inf)
    last = np.where(found, start + len(background) - 1 - background[::-1].argmax(0), -np.inf)
    return first, last


def _carry(previous, bounds, which):
    """Fold one group's bounds into the nearest background before (or after) the next group."""
    if which == "last":
        return np.maximum(previous, bounds[1])
    return np.minimum(previous, bounds[0])


def _edges(group, axis, start, before, after, edges):
    background, _ = _rows(group, axis)
    return _slab_edges(background, float(start), before, after, np.asarray(edges, dtype=np.int64))


@numba.njit(nogil=True, cache=True)
def _taxicab_rows(f):  # pragma: no cover - compiled
    """In place: ``f[r, q] <- min_p f[r, p] + |q - p|`` (two scans)."""
    rows, length = f.shape
    for r in range(rows):
        for q in range(1, length):
            f[r, q] = min(f[r, q], f[r, q - 1] + 1.0)
        for q in range(length - 2, -1, -1):
            f[r, q] = min(f[r, q], f[r, q + 1] + 1.0)


@numba.njit(nogil=True, cache=True)
def _chessboard_rows(f):  # pragma: no cover - compiled
    """In place: ``f[r, q] <- min_p max(f[r, p], |q - p|)``; only ``|q - p|`` below the best so far can help."""
    rows, length = f.shape
    line = np.empty(length, np.float64)
    for r in range(rows):
        line[:] = f[r]
        for q in range(length):
            best = line[q]
            k = 1
            while k < best and k < length:
                if q - k >= 0:
                    best = min(best, max(line[q - k], float(k)))
                if q + k < length:
                    best = min(best, max(line[q + k], float(k)))
                k += 1
            f[r, q] = best


def _along_metric(block, axis, rows_pass):
    moved = np.ascontiguousarray(np.moveaxis(block, axis, -1))
    rows = moved.reshape(-1, moved.shape[-1])
    rows_pass(rows)
    return np.moveaxis(rows.reshape(moved.shape), -1, axis)


def _slab(group, axis, piece, start, edges, index, axes, weights, dtype, metric="euclidean"):
    """Distances of the slab ``piece`` (a slice along ``axis``) of a group."""
    take = [slice(None)] * group.ndim
    take[axis] = piece
    background, shape = _rows(group[tuple(take)], axis)
    squared = _along_first_rows(background, float(start), edges[0][index], edges[1][index], weights[0])
    squared = np.moveaxis(squared.reshape(shape), 0, axis)
    if metric != "euclidean":  # whole steps along the first axis (exact square roots), then per line
        steps = np.sqrt(squared)
        for plane_axis in axes[1:]:
            steps = _along_metric(steps, plane_axis, _taxicab_rows if metric == "taxicab" else _chessboard_rows)
        return np.where(np.isinf(steps), -1, steps).astype(dtype)  # no background at all: scipy's -1
    for plane_axis, weight in zip(axes[1:], weights[1:]):
        squared = _along(squared, plane_axis, weight)
    return np.sqrt(squared).astype(dtype, copy=False)


def _layout(data, axes):
    """Group chunks of the mask, and the slab sizes within each group, along the first axis.

    A slab (one task) is about ``_SLAB_BYTES`` of float64; a group (one link
    of the chains) is about ``_GROUP_BYTES`` of mask, so that the planes the
    chains keep stay small next to the data.
    """
    axis = axes[0]
    plane = int(np.prod([data.shape[a] for a in axes[1:]]))
    thickness = max(1, _SLAB_BYTES // (8 * plane))
    group = max(1, _GROUP_BYTES // plane) // thickness * thickness or thickness
    length = data.shape[axis]
    groups = tuple(min(group, length - g) for g in range(0, length, group))
    slabs = [tuple(min(thickness, g - s) for s in range(0, g, thickness)) for g in groups]
    chunks = list(data.chunks)
    chunks[axis] = groups
    for a in axes[1:]:
        chunks[a] = (data.shape[a],)
    for a in range(data.ndim):
        if a not in axes:
            chunks[a] = (1,) * data.shape[a]  # frames one by one
    return tuple(chunks), slabs


def _chains(bounds, grid, axis):
    """For every group: the nearest background before it and after it, per line
    (folds of the groups' bounds along ``axis``, one fold per frame)."""
    bounds = dict(zip(np.ndindex(*grid), bounds))
    before, after = {}, {}
    for index in np.ndindex(*grid):
        g = index[axis]
        lines = bounds[index][0].shape
        if g == 0:
            before[index] = np.full(lines, -np.inf)
        else:
            previous = index[:axis] + (g - 1,) + index[axis + 1:]
            before[index] = _carry(before[previous], bounds[previous], "last")
    for index in reversed(list(np.ndindex(*grid))):
        g = index[axis]
        if g == grid[axis] - 1:
            after[index] = np.full(bounds[index][0].shape, np.inf)
        else:
            following = index[:axis] + (g + 1,) + index[axis + 1:]
            after[index] = _carry(after[following], bounds[following], "first")
    return before, after


def _chain_of(chains, index, which):
    return chains[which][index]


def _graph(data, axes, weights, dtype, metric="euclidean"):
    """The groups' bounds, folded into the planes each group needs (a small result
    computed once), then one task per slab.

    Only planes travel between groups. Written to a store
    (:func:`bmia_dask._chunked.compute_blocks`), the planes are computed
    first, the groups slab by slab, and then the slabs, reading the groups
    again: no group is held while the folds wait for the last one.
    """
    axis = axes[0]
    chunks, slabs = _layout(data, axes)
    groups = data.rechunk(chunks)
    token = tokenize(groups, axes, weights, dtype, metric)
    bounds, edges, name = (f"edt-{k}-{token}" for k in ("bounds", "edges", "slab"))
    chains_key = once_name(f"edt-chains-{token}")
    grid = groups.numblocks
    bounds_graph = {(bounds, *index): (_bounds, (groups.name, *index), axis, int(start))
                    for index in np.ndindex(*grid)
                    for start in [sum(chunks[axis][: index[axis]])]}
    bounds_layer = HighLevelGraph.from_collections(bounds, bounds_graph, dependencies=[groups])
    chains = Delayed(chains_key, HighLevelGraph.from_collections(
        chains_key, {chains_key: (_chains, list(bounds_graph), grid, axis)},
        dependencies=[da.Array(bounds_layer, bounds, chunks=tuple((1,) * n for n in grid), dtype=object)],
    ))
    starts = np.concatenate([[0], np.cumsum(chunks[axis])[:-1]]).astype(int)
    graph = {}
    for index in np.ndindex(*grid):
        g = index[axis]
        offsets = np.concatenate([[0], np.cumsum(slabs[g])]).astype(int)
        graph[(edges, *index)] = (_edges, (groups.name, *index), axis, int(starts[g]),
                                  (_chain_of, chains_key, index, 0), (_chain_of, chains_key, index, 1),
                                  offsets.tolist())
        first_slab = sum(len(s) for s in slabs[:g])
        for k in range(len(slabs[g])):
            piece = slice(int(offsets[k]), int(offsets[k + 1]))
            at = tuple(first_slab + k if a == axis else i for a, i in enumerate(index))
            graph[(name, *at)] = (
                _slab, (groups.name, *index), axis, piece, int(starts[g] + offsets[k]), (edges, *index), k,
                axes, weights, dtype, metric,
            )
    out_chunks = list(chunks)
    out_chunks[axis] = tuple(s for group in slabs for s in group)
    layer = HighLevelGraph.from_collections(name, graph, dependencies=[groups, chains])
    return da.Array(layer, name, chunks=tuple(out_chunks), dtype=dtype)


def _check_returns(return_distances, return_indices, distances, indices):
    """scipy's checks, then refusal of arrays to fill (a lazy library returns its results)."""
    errors = []
    if not return_distances and not return_indices:
        errors.append("at least one of return_distances/return_indices must be True")
    if distances is not None and not return_distances:
        errors.append("return_distances must be True if distances is supplied")
    if indices is not None and not return_indices:
        errors.append("return_indices must be True if indices is supplied")
    if errors:
        raise RuntimeError(", ".join(errors))
    if distances is not None or indices is not None:
        raise TypeError(_OUTPUT_ARRAY)
    if return_indices:
        raise ValueError("return_indices is not available: the index of the nearest background voxel, "
                         "with scipy's choice among equally near ones, is not computed across chunks yet")


def _metric_transform(image, metric, dtype):
    axes = spatial_axes(image)
    if not axes:
        raise ValueError(f"mask must have spatial dims, got dims {image.dims}")
    data = image.data
    distance = _graph(data, axes, (1.0,) * len(axes), np.dtype(dtype), metric)
    in_plane = {a: data.chunks[a] for a in axes[1:]}
    return like(image, distance.rechunk(in_plane), units="")


def distance_transform_cdt(mask, metric="chessboard", *, return_distances=True, return_indices=False,
                           distances=None, indices=None):
    """Chessboard or taxicab distance to the nearest background voxel, as
    ``scipy.ndimage.distance_transform_cdt``, exact across chunks.

    Parameters
    ----------
    mask : xarray.DataArray or array_like
        Non-zero voxels are foreground; ``(t, z, y, x)`` frame by frame.
    metric : {"chessboard", "taxicab", "cityblock", "manhattan"} or array_like
        A name, or scipy's structures for these (``generate_binary_structure(n, n)``
        or ``(n, 1)``). Other structures raise ``ValueError``.

    Returns
    -------
    xarray.DataArray
        int32 distances in voxels (-1 in a frame without background, as scipy).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> mask = np.ones((5, 5), bool)
    >>> mask[0, 0] = False
    >>> bd.distance.distance_transform_cdt(bd.from_array(mask, chunks=2), "taxicab").values[4].tolist()
    [4, 5, 6, 7, 8]
    """
    image = as_image(mask)
    n = len(spatial_axes(image))
    if isinstance(metric, str):
        if metric in ("taxicab", "cityblock", "manhattan"):
            name = "taxicab"
        elif metric == "chessboard":
            name = "chessboard"
        else:
            raise ValueError("invalid metric provided")
    else:
        try:
            structure = np.asarray(metric)
        except Exception as e:
            raise ValueError("invalid metric provided") from e
        if any(s != 3 for s in structure.shape):
            raise ValueError("metric sizes must be equal to 3")
        structure = structure != 0
        names = {1: "taxicab", n: "chessboard"}
        name = next((names[c] for c in names
                     if structure.shape == (3,) * n and np.array_equal(structure, ndi.generate_binary_structure(n, c))),
                    None)
        if name is None:
            raise ValueError("metric: only the taxicab and chessboard structures (generate_binary_structure(n, 1) "
                             "or (n, n)) are computed across chunks")
    _check_returns(return_distances, return_indices, distances, indices)
    return _metric_transform(image, name, np.int32)


def distance_transform_bf(mask, metric="euclidean", sampling=None, *, return_distances=True,
                          return_indices=False, distances=None, indices=None):
    """Distance to the nearest background voxel, as ``scipy.ndimage.distance_transform_bf``.

    Not by brute force: the Euclidean metric is :func:`distance_transform_edt`
    (float64, ``sampling`` as there: default the image's spacing), taxicab and
    chessboard are :func:`distance_transform_cdt`'s answers as uint32, as scipy.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> mask = np.ones((1, 7), bool)
    >>> mask[0, 3] = False
    >>> bd.distance.distance_transform_bf(bd.from_array(mask, chunks=2), "chessboard").values.tolist()
    [[3, 2, 1, 0, 1, 2, 3]]
    """
    image = as_image(mask)
    name = metric.lower()
    if name == "euclidean":
        return distance_transform_edt(image, sampling, return_distances=return_distances,
                                      return_indices=return_indices, distances=distances, indices=indices)
    if name not in ("taxicab", "cityblock", "manhattan", "chessboard"):
        raise RuntimeError("distance metric not supported")
    _check_returns(return_distances, return_indices, distances, indices)
    return _metric_transform(image, "chessboard" if name == "chessboard" else "taxicab", np.uint32)


def distance_transform_edt(mask, sampling=None, *, return_distances=True, return_indices=False, distances=None,
                           indices=None, dtype=np.float64):
    """Euclidean distance of every foreground voxel to the nearest background voxel.

    The same answer as ``scipy.ndimage.distance_transform_edt(mask,
    sampling=spacing)``, computed chunk by chunk: distances are in mm by
    default, background voxels are 0.

    Parameters
    ----------
    mask : xarray.DataArray or array_like
        Non-zero voxels are foreground. A ``(t, z, y, x)`` mask is transformed
        frame by frame.
    sampling : float or sequence of float, optional
        Voxel size per spatial axis; default the image's spacing (mm). Use
        ``sampling=1`` for distances in voxels.
    return_distances, return_indices : bool, optional
        As scipy; ``return_indices=True`` raises ``ValueError`` (not computed
        across chunks yet). ``distances``/``indices`` arrays to fill raise
        ``TypeError``: use the returned image.
    dtype : dtype, optional
        Of the result (default float64, as scipy).

    Returns
    -------
    xarray.DataArray
        Lazy distances on the mask's grid. A frame without background
        (where scipy's answer is undefined) is ``inf``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> mask = np.ones((1, 5, 9), bool)
    >>> mask[0, 2, 4] = False
    >>> image = bd.from_array(mask, spacing=(1.0, 2.0, 0.5), chunks=3)
    >>> distance = bd.distance_transform_edt(image)
    >>> distance.values[0, 2, :].tolist()
    [2.0, 1.5, 1.0, 0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
    >>> float(distance[0, 0, 4])
    4.0
    """
    image = as_image(mask)
    _check_returns(return_distances, return_indices, distances, indices)
    axes = spatial_axes(image)
    if not axes:
        raise ValueError(f"mask must have spatial dims, got dims {image.dims}")
    units = "mm" if sampling is None else ""
    if sampling is None:
        sampling = spacing(image)
    sampling = per_axis(sampling, len(axes), "sampling")
    if min(sampling) <= 0:
        raise ValueError(f"sampling must be > 0 along every axis, got {sampling!r}")
    weights = [s * s for s in sampling]
    data = image.data
    distance = _graph(data, axes, tuple(weights), np.dtype(dtype))
    # back to the mask's chunks in-plane: a split, nothing is gathered
    in_plane = {a: data.chunks[a] for a in axes[1:]}
    return like(image, distance.rechunk(in_plane), units=units)
