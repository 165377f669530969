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

The feature transform (``return_indices=True``) follows the same plan: the
first pass keeps the index of the nearest background voxel (the lower one on
ties, as scipy), and the in-plane passes are scipy's own (Maurer's Voronoi
passes of ``ni_morphology.c``, same arithmetic, same ties), carrying the
feature index beside the squared distance.

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
import xarray as xr
from dask.base import tokenize
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph

from ._chunked import once_name, per_axis, spatial_axes
from .errors import ArgumentError
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


@numba.njit(nogil=True, cache=True)
def _nearest_first_rows(background, start, before, after, later):  # pragma: no cover - compiled
    """Global index along axis 0 of the nearest background voxel, for every column
    (ties: the lower index as scipy's edt, the higher one if ``later``, as its bf),
    -1 if the column has none.

    ``before`` and ``after`` are as for :func:`_along_first_rows`.
    """
    n, columns = background.shape
    out = np.empty((n, columns), np.int64)
    nearest = before.copy()
    for i in range(n):
        for j in range(columns):
            if background[i, j]:
                nearest[j] = start + i
            out[i, j] = -1 if nearest[j] == -np.inf else np.int64(nearest[j])
    nearest = after.copy()
    for i in range(n - 1, -1, -1):
        here = start + i
        for j in range(columns):
            if background[i, j]:
                nearest[j] = here
            if nearest[j] != np.inf and (out[i, j] < 0 or nearest[j] - here < here - out[i, j]
                                         or (later and nearest[j] - here == here - out[i, j])):
                out[i, j] = np.int64(nearest[j])
    return out


@numba.njit(nogil=True, cache=True)
def _voronoi_lines(features, d, outer, start, sampling, later):  # pragma: no cover - compiled
    """In place: Maurer's Voronoi pass along the last axis of ``features`` (rank, X, Y, L),
    with scipy's arithmetic and ties (``ni_morphology.c``, ``_VoronoiFT``); if ``later``,
    the greatest feature (C order) among equally near sites (scipy's bf's choice: exact
    when the distances are whole numbers).

    ``d`` is the component of the line axis, ``outer`` the components of the X and Y
    axes (>= rank: a padding axis), ``start`` the global index of component 0's first
    plane; a voxel is a site when its component 0 is >= 0.
    """
    rank, X, Y, L = features.shape
    f = np.empty((L, rank), np.int64)
    g = np.empty(L, np.int64)
    coor = np.zeros(rank, np.int64)
    for x in range(X):
        for y in range(Y):
            if outer[0] < rank:
                coor[outer[0]] = x + (start if outer[0] == 0 else 0)
            if outer[1] < rank:
                coor[outer[1]] = y + (start if outer[1] == 0 else 0)
            for ii in range(L):
                for jj in range(rank):
                    f[ii, jj] = features[jj, x, y, ii]
            l = -1
            for ii in range(L):
                if f[ii, 0] >= 0:
                    fd = float(f[ii, d])
                    wR = 0.0
                    for jj in range(rank):
                        if jj != d:
                            tw = float(f[ii, jj] - coor[jj]) * sampling[jj]
                            wR += tw * tw
                    while l >= 1:
                        idx1 = g[l]
                        f1 = float(f[idx1, d])
                        idx2 = g[l - 1]
                        a = (f1 - float(f[idx2, d])) * sampling[d]
                        b = (fd - f1) * sampling[d]
                        c = a + b
                        uR = 0.0
                        vR = 0.0
                        for jj in range(rank):
                            if jj != d:
                                cc = float(coor[jj])
                                tu = (float(f[idx2, jj]) - cc) * sampling[jj]
                                tv = (float(f[idx1, jj]) - cc) * sampling[jj]
                                uR += tu * tu
                                vR += tv * tv
                        if c * vR - b * uR - a * wR - a * b * c <= 0.0:
                            break
                        l -= 1
                    l += 1
                    g[l] = ii
            maxl = l
            if maxl < 0:
                continue
            l = 0
            for ii in range(L):
                delta1 = 0.0
                for jj in range(rank):
                    t = float(f[g[l], jj] - (ii if jj == d else coor[jj])) * sampling[jj]
                    delta1 += t * t
                while l < maxl:
                    delta2 = 0.0
                    for jj in range(rank):
                        t = float(f[g[l + 1], jj] - (ii if jj == d else coor[jj])) * sampling[jj]
                        delta2 += t * t
                    if delta1 <= delta2:
                        break
                    delta1 = delta2
                    l += 1
                best = g[l]
                m = l + 1
                while later and m <= maxl:  # the equally near sites follow l
                    delta2 = 0.0
                    for jj in range(rank):
                        t = float(f[g[m], jj] - (ii if jj == d else coor[jj])) * sampling[jj]
                        delta2 += t * t
                    if delta2 != delta1:
                        break
                    for jj in range(rank):
                        if f[g[m], jj] != f[best, jj]:
                            if f[g[m], jj] > f[best, jj]:
                                best = g[m]
                            break
                    m += 1
                for jj in range(rank):
                    features[jj, x, y, ii] = f[best, jj]


@numba.njit(nogil=True, cache=True)
def _later(f, a, b):  # pragma: no cover - compiled
    """Whether feature ``f[a]`` comes after ``f[b]`` in C order."""
    for jj in range(f.shape[1]):
        if f[a, jj] != f[b, jj]:
            return f[a, jj] > f[b, jj]
    return False


@numba.njit(nogil=True, cache=True)
def _taxicab_lines(features, d, outer, start):  # pragma: no cover - compiled
    """In place: the taxicab pass along the last axis of ``features`` (rank, X, Y, L),
    keeping the last feature (C order) among equally near sites (scipy's bf's choice)."""
    rank, X, Y, L = features.shape
    far = np.int64(1) << 60
    f = np.empty((L, rank), np.int64)
    value = np.empty(L, np.int64)
    left = np.empty(L, np.int64)
    left_site = np.empty(L, np.int64)
    coor = np.zeros(rank, np.int64)
    for x in range(X):
        for y in range(Y):
            if outer[0] < rank:
                coor[outer[0]] = x + (start if outer[0] == 0 else 0)
            if outer[1] < rank:
                coor[outer[1]] = y + (start if outer[1] == 0 else 0)
            for ii in range(L):
                for jj in range(rank):
                    f[ii, jj] = features[jj, x, y, ii]
                value[ii] = far
                if f[ii, 0] >= 0:
                    total = 0
                    for jj in range(rank):
                        if jj != d:
                            total += abs(f[ii, jj] - coor[jj])
                    value[ii] = total
            for q in range(L):
                left[q] = value[q]
                left_site[q] = q
                if q > 0 and left[q - 1] < far:
                    step = left[q - 1] + 1
                    if step < left[q] or (step == left[q] and _later(f, left_site[q - 1], q)):
                        left[q] = step
                        left_site[q] = left_site[q - 1]
            right = far
            right_site = -1
            for q in range(L - 1, -1, -1):
                step = right + 1 if right < far else far
                if value[q] < step or (value[q] == step and value[q] < far and _later(f, q, right_site)):
                    right = value[q]
                    right_site = q
                else:
                    right = step
                site = left_site[q]
                if right < left[q] or (right == left[q] and right < far and _later(f, right_site, site)):
                    site = right_site
                if left[q] < far or right < far:
                    for jj in range(rank):
                        features[jj, x, y, q] = f[site, jj]


def _slab_features(group, axis, piece, origin, edges, index, axes, sampling, later=False, taxicab=False):
    """scipy's feature transform of the slab ``piece`` of a group: int32, one component
    per array axis (a frame's ``t`` is its own index), global indices.

    The first pass is the nearest background along ``axes[0]`` (lower index on ties),
    the in-plane passes are scipy's Voronoi passes on whole lines, in axis order.
    """
    take = [slice(None)] * group.ndim
    take[axis] = piece
    block = group[tuple(take)]
    background, _ = _rows(block, axis)
    start = origin[axis]
    first = _nearest_first_rows(background, float(start), edges[0][index], edges[1][index], later)
    rank = len(axes)
    plane = [block.shape[a] for a in axes[1:]]
    layout = (len(background),) + tuple(plane) + (1,) * (3 - rank)
    features = np.empty((rank,) + layout, np.int64)
    features[0] = first.reshape(layout)
    found = features[0] >= 0
    for k in range(1, rank):
        position = np.arange(layout[k]).reshape([-1 if a == k else 1 for a in range(3)])
        features[k] = np.where(found, position, 0)  # scipy leaves 0 where no pass wrote
    samples = np.asarray(sampling, dtype=np.float64)
    for d in range(1, rank):
        outer = np.array([a for a in range(3) if a != d], dtype=np.int64)
        view = np.moveaxis(features, d + 1, -1)
        if taxicab:
            _taxicab_lines(view, d, outer, start)
        else:
            _voronoi_lines(view, d, outer, start, samples, later)
    out = np.empty((group.ndim,) + block.shape, np.int32)
    for a in range(group.ndim):  # spatial dims in layout order; the others (t) are of size 1
        out[a] = features[axes.index(a)].reshape(block.shape) if a in axes else origin[a]
    return out


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
            if metric in ("features", "bf-features", "bf-taxicab-features"):
                origin = tuple(int(starts[g] + offsets[k]) if a == axis else 0 if a in axes else int(i)
                               for a, i in enumerate(index))
                graph[(name, 0, *at)] = (
                    _slab_features, (groups.name, *index), axis, piece, origin, (edges, *index), k, axes, weights,
                    metric != "features", metric == "bf-taxicab-features",
                )
                continue
            graph[(name, *at)] = (
                _slab, (groups.name, *index), axis, piece, int(starts[g] + offsets[k]), (edges, *index), k,
                axes, weights, dtype, metric,
            )
    out_chunks = list(chunks)
    out_chunks[axis] = tuple(s for group in slabs for s in group)
    if metric in ("features", "bf-features", "bf-taxicab-features"):
        out_chunks = [(data.ndim,)] + out_chunks
    layer = HighLevelGraph.from_collections(name, graph, dependencies=[groups, chains])
    return da.Array(layer, name, chunks=tuple(out_chunks), dtype=dtype)


def _bf_without_background(features, axes):
    features = features.copy()
    none = features[axes[0]] < 0
    for a in axes:
        features[a][none] = 0
    return features


def _taxicab_from_features(features, axes, block_info=None):
    """uint32 taxicab distances of a block of bf's feature transform (``UINT_MAX`` without background)."""
    location = block_info[0]["array-location"][1:]
    total = np.zeros(features.shape[1:], np.int64)
    for a in axes:
        here = np.arange(*location[a]).reshape([-1 if b == a else 1 for b in range(len(location))])
        total += np.abs(features[a] - here)
    total[features[axes[0]] < 0] = np.iinfo(np.uint32).max
    return total.astype(np.uint32)


def _distances_from_features(features, axes, sampling, dtype, bf=False, block_info=None):
    """Distances of a block of the feature transform, with scipy's arithmetic
    (``(feature - index) * sampling``, squared, summed in axis order, square root);
    scipy's bf gives ``sqrt(DBL_MAX)`` in a frame without background."""
    location = block_info[0]["array-location"][1:]
    total = None
    for k, a in enumerate(axes):
        here = np.arange(*location[a], dtype=np.int32).reshape([-1 if b == a else 1 for b in range(len(location))])
        step = (features[a] - here).astype(np.float64) * sampling[k]
        step *= step
        total = step if total is None else total + step
    if bf:
        total[features[axes[0]] < 0] = np.finfo(np.float64).max
    return np.sqrt(total).astype(dtype, copy=False)


def _indices_image(image, features):
    """scipy's indices array as a lazy DataArray: ``axis`` (one per dim of the image) first."""
    return xr.DataArray(features, dims=("axis",) + image.dims,
                        coords={**image.coords, "axis": list(image.dims)}, name="indices",
                        attrs={**image.attrs, "units": ""})


@numba.njit(nogil=True, cache=True)
def _chamfer_pass(values, features, offsets, previous, previous_features, has_previous):  # pragma: no cover
    """In place, in raster order: scipy's one pass of ``distance_transform_cdt``
    (``NI_DistanceTransformOnePass``) over a (n0, n1, n2) block, with its ties:
    the first neighbour of the structure's first half (``offsets``, in the
    structure's order) that gives the least distance + 1. ``previous`` is the
    plane before the block (the pass's own result there), if ``has_previous``."""
    n0, n1, n2 = values.shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                best = values[i, j, k]
                if best == 0:
                    continue
                feature = features[i, j, k]
                for o in range(offsets.shape[0]):
                    ii = i + offsets[o, 0]
                    jj = j + offsets[o, 1]
                    kk = k + offsets[o, 2]
                    if jj < 0 or jj >= n1 or kk < 0 or kk >= n2:
                        continue
                    if ii < 0:
                        if not has_previous:
                            continue
                        tt = previous[jj, kk]
                        tf = previous_features[jj, kk]
                    else:
                        tt = values[ii, jj, kk]
                        tf = features[ii, jj, kk]
                    if tt >= 0 and (best < 0 or tt + 1 < best):
                        best = tt + 1
                        feature = tf
                values[i, j, k] = best
                features[i, j, k] = feature


def _cdt_offsets(structure):
    """The first half of a 3**rank structure as neighbour offsets padded to 3 axes, in its order."""
    rank = structure.ndim
    flat = structure.ravel()
    rows = [list(np.unravel_index(q, structure.shape)) for q in range(flat.size // 2) if flat[q]]
    offsets = np.zeros((len(rows), 3), np.int64)
    for r, position in enumerate(rows):
        offsets[r, :rank] = np.asarray(position) - 1
    return offsets


def _cdt_start(block, axis, axes, start):
    """Initial values (-1 foreground, 0 background) and features (flat index in the frame)
    of a slab, in the (n0, n1, n2) layout."""
    background, _ = _rows(block, axis)
    plane = [block.shape[a] for a in axes[1:]]
    layout = (len(background),) + tuple(plane) + (1,) * (3 - len(axes))
    values = np.where(background, 0, -1).astype(np.int64).reshape(layout)
    size = int(np.prod(layout[1:]))
    features = (start * size + np.arange(values.size, dtype=np.int64)).reshape(layout)
    return values, features


def _cdt_forward(block, axis, axes, start, offsets, before):
    values, features = _cdt_start(block, axis, axes, start)
    empty = np.zeros(values.shape[1:], np.int64)
    previous = before if before is not None else (empty, empty)
    _chamfer_pass(values, features, offsets, previous[0], previous[1], before is not None)
    return values, features


def _cdt_both(block, axis, axes, start, offsets, before, after):
    values, features = _cdt_forward(block, axis, axes, start, offsets, before)
    empty = np.zeros(values.shape[1:], np.int64)
    following = (after[0][::-1, ::-1], after[1][::-1, ::-1]) if after is not None else (empty, empty)
    _chamfer_pass(values[::-1, ::-1, ::-1], features[::-1, ::-1, ::-1], offsets, following[0], following[1],
                  after is not None)
    return values, features


def _cdt_last_plane(block, axis, axes, start, offsets, before):
    values, features = _cdt_forward(block, axis, axes, start, offsets, before)
    return values[-1].copy(), features[-1].copy()


def _cdt_first_plane(block, axis, axes, start, offsets, before, after):
    values, features = _cdt_both(block, axis, axes, start, offsets, before, after)
    return values[0].copy(), features[0].copy()


def _cdt_slab(block, axis, axes, start, offsets, before, after, frame, origin):
    """scipy's indices (one component per array axis) and distances of a slab, stacked (int32)."""
    values, features = _cdt_both(block, axis, axes, start, offsets, before, after)
    out = np.empty((block.ndim + 1,) + block.shape, np.int32)
    positions = np.unravel_index(features, frame)
    for a in range(block.ndim):  # spatial dims in layout order; the others (t) are of size 1
        out[a] = positions[axes.index(a)].reshape(block.shape) if a in axes else origin[a]
    out[-1] = values.reshape(block.shape)
    return out


def _cdt_graph(data, axes, structure):
    """Forward planes chained along the first axis, backward planes chained back (each
    recomputing its slab's forward pass), then one task per slab: scipy's raster order
    and ties are sequential, so the planes follow the slabs one after the other."""
    axis = axes[0]
    plane = int(np.prod([data.shape[a] for a in axes[1:]]))
    thickness = max(1, _SLAB_BYTES // (8 * plane))
    chunks = list(data.chunks)
    length = data.shape[axis]
    chunks[axis] = tuple(min(thickness, length - s) for s in range(0, length, thickness))
    for a in axes[1:]:
        chunks[a] = (data.shape[a],)
    for a in range(data.ndim):
        if a not in axes:
            chunks[a] = (1,) * data.shape[a]
    slabs = data.rechunk(tuple(chunks))
    offsets = _cdt_offsets(structure)
    frame = tuple(data.shape[a] for a in axes) + (1,) * (3 - len(axes))
    token = tokenize(slabs, axes, structure)
    forward, backward, name = (f"cdt-{k}-{token}" for k in ("forward", "backward", "slab"))
    starts = np.concatenate([[0], np.cumsum(chunks[axis])[:-1]]).astype(int)
    grid = slabs.numblocks
    graph = {}
    for index in np.ndindex(*grid):
        s = index[axis]
        before = (forward, *index[:axis], s - 1, *index[axis + 1:]) if s > 0 else None
        after = (backward, *index[:axis], s + 1, *index[axis + 1:]) if s < grid[axis] - 1 else None
        start = int(starts[s])
        graph[(forward, *index)] = (_cdt_last_plane, (slabs.name, *index), axis, axes, start, offsets, before)
        graph[(backward, *index)] = (_cdt_first_plane, (slabs.name, *index), axis, axes, start, offsets, before,
                                     after)
        origin = tuple(start if a == axis else 0 if a in axes else int(i) for a, i in enumerate(index))
        graph[(name, 0, *index)] = (_cdt_slab, (slabs.name, *index), axis, axes, start, offsets, before, after,
                                    frame, origin)
    layer = HighLevelGraph.from_collections(name, graph, dependencies=[slabs])
    return da.Array(layer, name, chunks=((data.ndim + 1,),) + tuple(chunks), dtype=np.int32)


def _check_returns(return_distances, return_indices, distances, indices, features=False):
    """scipy's checks, then refusal of arrays to fill (a lazy library returns its results)."""
    errors = []
    if not return_distances and not return_indices:
        errors.append("at least one of return_distances/return_indices must be True")
    if distances is not None and not return_distances:
        errors.append("return_distances must be True if distances is supplied")
    if indices is not None and not return_indices:
        errors.append("return_indices must be True if indices is supplied")
    if errors:
        raise ArgumentError(", ".join(errors))
    if distances is not None or indices is not None:
        raise TypeError(_OUTPUT_ARRAY)
    if return_indices and not features:
        raise ValueError("return_indices is not available for distance_transform_bf's chessboard metric: the "
                         "index of the nearest background voxel, with scipy's bf's choice among equally near "
                         "ones, is not computed across chunks for it yet")


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
    return_distances, return_indices : bool, optional
        As scipy. ``return_indices=True`` gives scipy's indices of the nearest
        background voxel with scipy's choice among equally near ones (its two
        raster passes): planes are then passed from slab to slab along the first
        axis, one slab after the other. ``distances``/``indices`` arrays to fill
        raise ``TypeError``.

    Returns
    -------
    distances : xarray.DataArray
        int32 distances in voxels (-1 in a frame without background, as scipy).
    indices : xarray.DataArray
        With ``return_indices=True``: int32, dims ``("axis",) + mask.dims`` (a
        frame's ``t`` is its own); ``(distances, indices)`` when both are asked for.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> mask = np.ones((5, 5), bool)
    >>> mask[0, 0] = False
    >>> bd.distance.distance_transform_cdt(bd.from_array(mask, chunks=2), "taxicab").values[4].tolist()
    [4, 5, 6, 7, 8]
    >>> distances, indices = bd.distance.distance_transform_cdt(bd.from_array(mask, chunks=2), return_indices=True)
    >>> indices.values[:, 4, 4].tolist()
    [0, 0]
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
    _check_returns(return_distances, return_indices, distances, indices, features=True)
    if not return_indices:
        return _metric_transform(image, name, np.int32)
    axes = spatial_axes(image)
    if not axes:
        raise ValueError(f"mask must have spatial dims, got dims {image.dims}")
    structure = ndi.generate_binary_structure(len(axes), 1 if name == "taxicab" else len(axes))
    stacked = _cdt_graph(image.data, axes, structure)
    in_plane = {a + 1: image.data.chunks[a] for a in axes[1:]}
    indices = _indices_image(image, stacked[:-1].rechunk(in_plane))
    if not return_distances:
        return indices
    return like(image, stacked[-1].rechunk({a - 1: c for a, c in in_plane.items()}), units=""), indices


def distance_transform_bf(mask, metric="euclidean", sampling=None, *, return_distances=True,
                          return_indices=False, distances=None, indices=None):
    """Distance to the nearest background voxel, as ``scipy.ndimage.distance_transform_bf``.

    Not by brute force: the Euclidean metric is :func:`distance_transform_edt`
    (float64, ``sampling`` as there: default the image's spacing), taxicab and
    chessboard are :func:`distance_transform_cdt`'s answers as uint32, as scipy.

    ``return_indices=True`` (Euclidean metric with whole-number ``sampling``,
    or taxicab) gives scipy's bf indices: the last, in C order, of the equally
    near background voxels, and ``(distances, indices)`` as there. With other
    sampling scipy's choice rests on rounded distances, and chessboard ties
    are not computed across chunks: ``ValueError``.

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
        _check_returns(return_distances, return_indices, distances, indices, features=True)
        return _edt(image, sampling, return_distances, return_indices, np.float64, bf=True)
    if name not in ("taxicab", "cityblock", "manhattan", "chessboard"):
        raise ArgumentError("distance metric not supported")
    _check_returns(return_distances, return_indices, distances, indices, features=name != "chessboard")
    if not return_indices:
        return _metric_transform(image, "chessboard" if name == "chessboard" else "taxicab", np.uint32)
    axes = spatial_axes(image)
    if not axes:
        raise ValueError(f"mask must have spatial dims, got dims {image.dims}")
    data = image.data
    features = _graph(data, axes, (1.0,) * len(axes), np.dtype(np.int32), "bf-taxicab-features")
    features = features.rechunk({a + 1: data.chunks[a] for a in axes[1:]})
    distance = da.map_blocks(_taxicab_from_features, features, axes, drop_axis=0, dtype=np.uint32)
    indices = _indices_image(image, features.map_blocks(_bf_without_background, axes, dtype=np.int32))
    if not return_distances:
        return indices
    return like(image, distance, units=""), indices


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
        As scipy. ``return_indices=True`` gives scipy's feature transform: the
        index of the nearest background voxel, with scipy's choice among equally
        near ones. ``distances``/``indices`` arrays to fill raise ``TypeError``:
        use the returned image.
    dtype : dtype, optional
        Of the distances (default float64, as scipy).

    Returns
    -------
    distances : xarray.DataArray
        Lazy distances on the mask's grid. A frame without background
        (where scipy's answer is undefined) is ``inf``; with
        ``return_indices=True`` the distances are computed from the indices,
        as scipy computes them (bit for bit, also there).
    indices : xarray.DataArray
        With ``return_indices=True``: int32, dims ``("axis",) + mask.dims``,
        one plane of global indices per dim of the mask (a frame's ``t`` is its
        own), chunked like the distances. ``(distances, indices)`` when both
        are asked for, as scipy.

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
    >>> indices = bd.distance_transform_edt(image, return_distances=False, return_indices=True)
    >>> indices.sel(axis="x").values[0, 0, :3].tolist(), indices.sel(axis="y").values[0, 0, :3].tolist()
    ([4, 4, 4], [2, 2, 2])
    """
    image = as_image(mask)
    _check_returns(return_distances, return_indices, distances, indices, features=True)
    return _edt(image, sampling, return_distances, return_indices, dtype)


def _edt(image, sampling, return_distances, return_indices, dtype, bf=False):
    """distance_transform_edt, or with ``bf`` the feature transform of distance_transform_bf."""
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
    # back to the mask's chunks in-plane: a split, nothing is gathered
    in_plane = {a: data.chunks[a] for a in axes[1:]}
    if not return_indices:
        distance = _graph(data, axes, tuple(weights), np.dtype(dtype))
        return like(image, distance.rechunk(in_plane), units=units)
    if bf and not all(float(s).is_integer() for s in sampling):
        raise ValueError("distance_transform_bf(return_indices=True) needs whole-number sampling: scipy's choice "
                         f"among equally near voxels then rests on rounded distances, got sampling={sampling!r}")
    features = _graph(data, axes, tuple(sampling), np.dtype(np.int32), "bf-features" if bf else "features")
    features = features.rechunk({a + 1: c for a, c in in_plane.items()})
    distance = da.map_blocks(_distances_from_features, features, axes, tuple(sampling), np.dtype(dtype), bf,
                             drop_axis=0, dtype=np.dtype(dtype))
    if bf:  # a frame without background: scipy's bf gives index 0
        features = features.map_blocks(_bf_without_background, axes, dtype=np.int32)
    indices = _indices_image(image, features)
    if not return_distances:
        return indices
    return like(image, distance, units=units), indices
