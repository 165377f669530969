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
from dask.base import tokenize
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph

from ._chunked import once_name, per_axis, spatial_axes
from .image import as_image, like, spacing

__all__ = ["distance_transform_edt"]

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


def _slab(group, axis, piece, start, edges, index, axes, weights, dtype):
    """Distances of the slab ``piece`` (a slice along ``axis``) of a group."""
    take = [slice(None)] * group.ndim
    take[axis] = piece
    background, shape = _rows(group[tuple(take)], axis)
    squared = _along_first_rows(background, float(start), edges[0][index], edges[1][index], weights[0])
    squared = np.moveaxis(squared.reshape(shape), 0, axis)
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


def _graph(data, axes, weights, dtype):
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
    token = tokenize(groups, axes, weights, dtype)
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
                axes, weights, dtype,
            )
    out_chunks = list(chunks)
    out_chunks[axis] = tuple(s for group in slabs for s in group)
    layer = HighLevelGraph.from_collections(name, graph, dependencies=[groups, chains])
    return da.Array(layer, name, chunks=tuple(out_chunks), dtype=dtype)


def distance_transform_edt(mask, *, sampling=None, dtype=np.float64):
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
