"""Shared machinery of the chunked operations: parameters in voxels or mm,
scipy kernels run on overlapping chunks, and the slab-by-slab computation that
keeps whole-volume results (label's merge, tables, stores) to a slab of chunks
in memory.

Chunks are extended by ``depth`` voxels of their neighbours (as dask's
``map_overlap`` with ``boundary="none"``): at a chunk face inside the volume the
kernel sees real data, and at the volume's own faces the block edge *is* the
volume edge, so scipy's ``mode`` applies there exactly as on the whole array.
With a depth of at least the kernel's reach, the result equals scipy's.
Kernels act on the spatial dims; a ``(t, z, y, x)`` image is processed frame
by frame.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from dask.core import flatten

from .image import SPATIAL_DIMS, as_image, like, spacing

_SCIPY_MODES = ("reflect", "constant", "nearest", "mirror", "wrap", "grid-constant", "grid-mirror", "grid-wrap")


def spatial_axes(image) -> tuple[int, ...]:
    """Positions of the spatial dims in ``image.dims``."""
    return tuple(i for i, d in enumerate(image.dims) if d in SPATIAL_DIMS)


def per_axis(value, n: int, name: str, *, integer: bool = False, minimum: float = 0.0) -> tuple:
    """A scalar or one value per spatial axis, checked (ValueError naming ``name``)."""
    values = np.atleast_1d(np.asarray(value, dtype=float))
    if values.size == 1:
        values = np.repeat(values, n)
    if values.shape != (n,) or not np.isfinite(values).all():
        raise ValueError(f"{name} must be a number or {n} numbers (one per spatial axis), got {value!r}")
    if (values < minimum).any():
        raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")
    if integer:
        if not np.allclose(values, np.round(values)):
            raise ValueError(f"{name} must be whole numbers of voxels, got {value!r}")
        return tuple(int(round(v)) for v in values)
    return tuple(float(v) for v in values)


def voxels_or_mm(image, value, value_mm, name: str, *, integer: bool = False, default=None, minimum=0.0):
    """Resolve a voxel parameter (``sigma``) or its physical twin (``sigma_mm``).

    ``name_mm`` divides by the spacing of each spatial axis; giving both is an
    error, as is giving neither when there is no default.
    """
    n = len(spatial_axes(image))
    if value is not None and value_mm is not None:
        raise ValueError(f"give {name} (voxels) or {name}_mm (millimetres), not both")
    if value_mm is not None:
        mm = per_axis(value_mm, n, f"{name}_mm", minimum=minimum)
        voxels = np.asarray(mm) / np.asarray(spacing(image))
        if integer:  # a window of size_mm covers this many voxels (at least one)
            return tuple(max(1, int(round(v))) for v in voxels)
        return tuple(float(v) for v in voxels)
    if value is None:
        if default is None:
            raise ValueError(f"{name} or {name}_mm is required")
        value = default
    return per_axis(value, n, name, integer=integer, minimum=minimum)


def check_mode(mode: str) -> str:
    if mode not in _SCIPY_MODES:
        raise ValueError(f"mode must be one of {_SCIPY_MODES}, got {mode!r}")
    return mode


def check_kernel(array, image, name: str) -> np.ndarray:
    """A structure, footprint or weights array with one axis per spatial dim."""
    array = np.asarray(array)
    n = len(spatial_axes(image))
    if array.ndim != n:
        raise ValueError(f"{name} must be {n}D for an image with spatial dims "
                         f"{tuple(d for d in image.dims if d in SPATIAL_DIMS)}, got {array.ndim}D")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    return array


def _framewise(func, frame_axis):
    def apply(block, **kwargs):
        if frame_axis is None:
            return func(block, **kwargs)
        return np.stack([func(frame, **kwargs) for frame in np.moveaxis(block, frame_axis, 0)], axis=frame_axis)

    return apply


def overlap_apply(image, func, depth, *, dtype=None, attrs=None, **kwargs):
    """Run ``func(block, **kwargs)`` on overlapping chunks of ``image``.

    ``depth`` is one number of voxels per spatial axis. Returns an image on the
    same grid, lazily.
    """
    image = as_image(image)
    data = image.data
    axes = spatial_axes(image)
    full_depth = dict.fromkeys(range(data.ndim), 0)
    for axis, d in zip(axes, depth):
        full_depth[axis] = min(int(d), data.shape[axis])  # more than the axis is all of it
    # a chunk must be at least as deep as the overlap it lends its neighbours
    chunks = [
        _merge_small(c, full_depth[i]) if full_depth[i] > min(c) else c for i, c in enumerate(data.chunks)
    ]
    if chunks != list(data.chunks):
        data = data.rechunk(tuple(chunks))
    frame_axis = image.dims.index("t") if "t" in image.dims else None
    func = functools.partial(_framewise(func, frame_axis), **kwargs)
    dtype = data.dtype if dtype is None else np.dtype(dtype)
    if kwargs.get("mode") in ("wrap", "grid-wrap"):
        # wrap needs the far side of the volume: dask's map_overlap brings it
        out = data.map_overlap(func, depth=full_depth, boundary="periodic", trim=True, dtype=dtype)
    else:
        out = _map_with_margins(data, func, full_depth, dtype)
    return like(image, out, **(attrs or {}))


def _map_with_margins(data, func, depth: dict, dtype):
    """``data.map_overlap(func, depth=depth, boundary="none")``, holding less.

    dask's margins are views of the neighbouring chunks, and a view keeps its
    whole chunk in memory until the block that takes it is done. Here every
    chunk hands its neighbours copies of the margins they need (one task per
    chunk), so a chunk is freed as soon as its own block is done. The margins
    must not be deeper than the chunks (:func:`overlap_apply` merges smaller
    ones).
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    grid = data.numblocks
    depth = [depth[a] if grid[a] > 1 else 0 for a in range(data.ndim)]
    if not any(depth):  # one chunk along every axis that needs a margin
        return data.map_blocks(func, dtype=dtype)
    token = tokenize(data, func, depth, dtype)
    name, margins_name = f"overlap-{token}", f"margins-{token}"
    steps = [(-1, 0, 1) if d else (0,) for d in depth]

    @functools.lru_cache(maxsize=None)
    def layout(place):
        """What a chunk lends and where its block's lenders sit: the same for every chunk
        with the same place in the grid (first, last or inside, per axis)."""
        index = [0 if p == "first" else n - 1 if p == "last" else 1 for p, n in zip(place, grid)]
        lent = [(side, tuple(_margin(s, d) for s, d in zip(side, depth))) for side in _sides(index, grid, steps, -1)]
        before = [depth[a] * (p != "first") for a, p in enumerate(place)]
        after = [depth[a] * (p != "last") for a, p in enumerate(place)]
        sides = _sides(index, grid, steps, 1)
        # the static arguments inside partials: dask does not walk through them (graphs build faster)
        lend = functools.partial(_copy_margins, lent=lent) if lent else None
        return lend, sides, functools.partial(_with_margins, func, sides, before, after)

    tasks = {}
    for index in np.ndindex(*grid):
        place = tuple("first" if i == 0 else "last" if i == n - 1 else "inside" for i, n in zip(index, grid))
        # the margins this chunk lends, keyed by where it sits as seen from the borrowing block
        lend, sides, extend = layout(place)
        if lend is not None:
            tasks[(margins_name, *index)] = (lend, (data.name, *index))
        tasks[(name, *index)] = (
            extend, (data.name, *index), *[(margins_name, *(i + s for i, s in zip(index, side))) for side in sides],
        )
    graph = HighLevelGraph.from_collections(name, tasks, dependencies=[data])
    return da.Array(graph, name, chunks=data.chunks, dtype=dtype)


def _sides(index, grid, steps, sign: int) -> list:
    """The neighbours' sides (-1, 0, 1 per axis) for which ``index + sign * side`` lies in the grid."""
    return [side for side in itertools.product(*steps)
            if any(side) and all(0 <= i + sign * s < n for i, s, n in zip(index, side, grid))]


def _margin(side: int, depth: int) -> slice:
    """What a chunk lends a neighbouring block along one axis; ``side`` is where the
    chunk sits as seen from the block (1: after it, so its first ``depth`` slices)."""
    return slice(None) if side == 0 else slice(None, depth) if side > 0 else slice(-depth, None)


def _copy_margins(chunk, *, lent):
    # copies, not views: a view would keep the whole chunk alive
    return {side: chunk[region].copy() for side, region in lent}


def _with_margins(func, sides, before, after, block, *margins):
    shape = block.shape
    extended = np.empty([b + n + a for b, n, a in zip(before, shape, after)], dtype=block.dtype)
    centre = tuple(slice(b, b + n) for b, n in zip(before, shape))
    extended[centre] = block
    for side, lent in zip(sides, margins):
        region = tuple(c if s == 0 else slice(0, b) if s < 0 else slice(b + n, None)
                       for s, c, b, n in zip(side, centre, before, shape))
        extended[region] = lent[side]
    return func(extended)[centre]


def _merge_small(chunks: tuple[int, ...], minimum: int) -> tuple[int, ...]:
    """Merge neighbouring chunks until each is at least ``minimum`` long."""
    merged: list[int] = []
    for c in chunks:
        if merged and merged[-1] < minimum:
            merged[-1] += c
        else:
            merged.append(c)
    if len(merged) > 1 and merged[-1] < minimum:
        last = merged.pop()
        merged[-1] += last
    return tuple(merged)


def _release_freed_memory() -> None:
    """Hand memory that is free but kept by glibc's malloc back to the system
    (as dask.distributed's workers do), so the resident size follows what is in use."""
    global _malloc_trim
    if _malloc_trim is None:
        import ctypes
        import ctypes.util

        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


def threads() -> int:
    """How many tasks the scheduler runs at once: the threads of the current
    dask.distributed client's workers, or of the local thread pool."""
    import os
    import sys

    import dask

    if "distributed" in sys.modules:
        from distributed import default_client

        try:
            return max(1, sum(default_client().nthreads().values()))
        except ValueError:  # no client
            pass
    return int(dask.config.get("num_workers", None) or os.cpu_count() or 1)


ONCE = "bmia-once-"


def once_name(name: str) -> str:
    """The key name of a small whole-volume result (label's merge table) that
    :func:`compute_blocks` computes once, before the blocks that need it."""
    return ONCE + name


def _name(key) -> str:
    return str(key[0] if isinstance(key, tuple) else key)


class _Value:
    """A computed result put back into a graph (a plain object: dask does not look inside)."""

    def __init__(self, value):
        self.value = value


def _unwrap(holder):
    return holder.value if isinstance(holder, _Value) else holder


def _graph_of(collections) -> dict:
    graph = {}
    for collection in collections:
        keys = list(flatten(collection.__dask_keys__()))
        graph.update(collection.__dask_optimize__(collection.__dask_graph__(), keys))
    return graph


def _client():
    """The dask.distributed client computations go to, or None (local threads or a
    configured scheduler). ``distributed`` is imported only if it already is: a
    client needs it imported."""
    import sys

    import dask

    if "distributed" not in sys.modules or dask.config.get("scheduler", None):
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


def _get(graph: dict, keys: list, *, keep: bool = False) -> list:
    """Compute ``keys`` of ``graph`` with the scheduler in use (a dask.distributed
    client, a configured scheduler, or the local threads). With ``keep``, on a
    cluster, the results stay on the workers: futures, once all are done."""
    import dask.base
    import dask.threaded
    from dask.optimization import cull

    culled, _ = cull(graph, keys)
    client = _client()
    if client is not None:
        if not keep:
            return list(client.get(culled, keys))
        from distributed import wait

        futures = list(client.get(culled, keys, sync=False))
        wait(futures)
        return futures
    # dask's own look-up imports dask.distributed (0.15 s) to search for a client
    get = dask.base.get_scheduler() if dask.config.get("scheduler", None) else None
    return list((get or dask.threaded.get)(culled, keys))


def _held(value):
    """A computed value put back into a graph: a future stays a reference to the
    worker that holds it; anything else is wrapped, so dask does not look inside."""
    return (_unwrap, value if _is_future(value) else _Value(value))


def _is_future(value) -> bool:
    import sys

    return "distributed" in sys.modules and isinstance(value, sys.modules["distributed"].Future)


def _slabs(keys: list, size: int) -> list:
    """``keys`` (block keys ``(name, i, j, ...)``) in C order of their block index, cut
    into runs of about ``size`` keys that end where a layer (first index) ends when
    one is close."""
    keys = sorted(keys, key=lambda key: tuple(key[1:]) if isinstance(key, tuple) else ())
    runs, run = [], []
    for k, key in enumerate(keys):
        run.append(key)
        layer_ends = k + 1 == len(keys) or not isinstance(key, tuple) or keys[k + 1][1:2] != key[1:2]
        if len(run) >= size and (layer_ends or len(run) >= 2 * size):
            runs.append(run)
            run = []
    return runs + [run] if run else runs


def _compute_in_slabs(graph: dict, keys: list, size: int, *, keep: bool = False) -> dict:
    values = {}
    for run in _slabs(keys, size):
        values.update(zip(run, _get(graph, run, keep=keep)))
        _release_freed_memory()  # a slab's worth freed: hand it back to the system
    return values


def _resolve_once(graph: dict, keys: list, size: int) -> None:
    """Compute in place the small whole-volume results (keys named by
    :func:`once_name`) that ``keys`` need, each from its inputs computed slab by
    slab, innermost first."""
    from dask.core import get_dependencies

    needed, stack, once = set(), list(keys), []
    while stack:
        key = stack.pop()
        if key in needed:
            continue
        needed.add(key)
        if _name(key).startswith(ONCE):
            once.append(key)
        stack.extend(get_dependencies(graph, key))
    for key in sorted(once, key=lambda k: _depth(graph, k)):
        # on a cluster, inputs and result stay on the workers (futures): they travel
        # between workers, not through this process and every slab's graph
        inputs = _compute_in_slabs(graph, list(get_dependencies(graph, key)), size, keep=True)
        local = {k: _held(v) for k, v in inputs.items()}
        local[key] = graph[key]
        graph[key] = _held(_get(local, [key], keep=True)[0])


def _depth(graph: dict, key) -> int:
    """How many small whole-volume results lie below ``key`` (so the innermost come first)."""
    from dask.core import get_dependencies

    seen, stack, depth = set(), [key], 0
    while stack:
        k = stack.pop()
        for dependency in get_dependencies(graph, k):
            if dependency not in seen:
                seen.add(dependency)
                depth += _name(dependency).startswith(ONCE)
                stack.append(dependency)
    return depth


def _slab_size(block_bytes) -> int:
    """Blocks per slab: at least four per scheduler thread, and as many as dask's
    ``array.chunk-size`` per thread holds (small blocks: few computations, so that
    a cluster's round trips stay few)."""
    import dask
    from dask.utils import parse_bytes

    n = threads()
    if not block_bytes:
        return 4 * n
    per_thread = parse_bytes(dask.config.get("array.chunk-size", "128MiB"))
    return max(4 * n, int(n * per_thread // max(1, block_bytes)))


def compute_blocks(blocks, *, alongside=(), block_bytes: int | None = None) -> list:
    """Compute per-block results (a dask array with one chunk per block, e.g. one
    table or one store write per block) and return them in C order.

    The work is cut into slabs of consecutive blocks, each one computation (on
    whatever scheduler is in use: threads, or a dask.distributed client), so
    whatever dask's order within a slab, memory holds about a slab of chunks,
    however large the volume. Small whole-volume results that the blocks need
    (label's merge table, keys named by :func:`once_name`) are computed first,
    once, their own inputs slab by slab, and put back into the graph as values.
    A block that needs its neighbours' margins reads them again in the next
    slab, so a slab is at least four blocks per scheduler thread, and more
    when the blocks are small.

    ``alongside`` are more dask arrays of per-block results (a store's pyramid
    levels), computed with the slab whose blocks they follow (by their first
    block index scaled to ``blocks``' grid); their results are not returned.
    ``block_bytes``, the size of the data behind one block, lets small blocks
    go in larger slabs (:func:`_slab_size`).
    """
    size = _slab_size(block_bytes)
    alongside = list(alongside)
    graph = _graph_of([blocks, *alongside])
    main = list(flatten(blocks.__dask_keys__()))
    extra = [key for other in alongside for key in flatten(other.__dask_keys__())]
    _resolve_once(graph, main + extra, size)
    if not extra:
        values = _compute_in_slabs(graph, main, size)
        return [values[key] for key in main]
    # each extra block goes with the slab that completes the last layer of ``blocks`` its region reaches
    layers = blocks.numblocks[0]
    placed = {}
    for other in alongside:
        for key in flatten(other.__dask_keys__()):
            layer = min(layers - 1, -(-(key[1] + 1) * layers // other.numblocks[0]) - 1)
            placed.setdefault(layer, []).append(key)
    left = dict.fromkeys(range(layers), int(np.prod(blocks.numblocks[1:])))  # blocks of a layer not yet run
    values = {}
    for run in _slabs(main, size):
        for key in run:
            left[key[1]] -= 1
        ready = [key for layer in sorted({key[1] for key in run}) if not left[layer] for key in placed.pop(layer, [])]
        values.update(zip(run + ready, _get(graph, run + ready)))
        _release_freed_memory()
    return [values[key] for key in main]


def merge_chunks(data, min_voxels: int = 2**22):
    """``data`` with neighbouring chunks merged (never split) until a block holds at
    least ``min_voxels``, merging the last axes first: fewer, larger blocks for an
    operation whose answer does not depend on the chunks (label, tables). Small storage
    chunks otherwise cost a task each, and on a cluster a round trip each.

    Examples
    --------
    >>> import dask.array as da
    >>> merge_chunks(da.zeros((8, 64, 64), chunks=(2, 16, 16)), 4096).chunks
    ((2, 2, 2, 2), (32, 32), (64,))
    """
    chunks = [list(c) for c in data.chunks]
    for axis in reversed(range(data.ndim)):
        if int(np.prod([max(c) for c in chunks])) >= min_voxels:
            break
        others = int(np.prod([max(c) for a, c in enumerate(chunks) if a != axis]))
        chunks[axis] = list(_merge_small(tuple(chunks[axis]), -(-min_voxels // others)))
    chunks = tuple(tuple(c) for c in chunks)
    return data if chunks == data.chunks else rechunk(data, chunks)


def chunk_bytes(*arrays) -> int:
    """The bytes of one chunk of each of ``arrays``, added (the data behind a block)."""
    return sum(int(np.prod(a.chunksize)) * a.dtype.itemsize for a in arrays)


def compute(*collections):
    """``dask.compute``, but without importing ``dask.distributed`` (about 0.15 s, once
    per process) to look for a client when none can exist: a client needs
    ``distributed`` imported. A configured scheduler is respected."""
    import sys

    import dask
    import dask.threaded

    # a function, not the name "threads": dask looks for a client even for a name
    default = None if "distributed" in sys.modules or dask.config.get("scheduler", None) else dask.threaded.get
    return dask.compute(*collections, scheduler=default)


def rechunk(data, chunks):
    """``data.rechunk(chunks)``; as :func:`compute`, dask's choice between its methods
    imports ``dask.distributed`` to look for a client, so without one: "tasks"."""
    import sys

    return data.rechunk(chunks, method=None if "distributed" in sys.modules else "tasks")
