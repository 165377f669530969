"""Shared machinery of the chunked operations: parameters in voxels or mm,
scipy kernels run on overlapping chunks, and the sweep that keeps whole-volume
results (label's merge, tables, stores) to a layer of chunks in memory.

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
    whole chunk in memory until the block that takes it is done: a sweep then
    holds three layers of chunks. Here every chunk hands its neighbours
    copies of the margins they need (one task per chunk), so a chunk is freed
    as soon as its own block is done. When the chunks are read straight from
    storage, the margins come from a read of their own: a chunk is then not
    held from the block before it that needs its margin (a whole layer of
    blocks earlier, in a sweep) to its own block. The margins must not be
    deeper than the chunks (:func:`overlap_apply` merges smaller ones).
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    lender = fresh_copy(data) if _read_only(data) else data
    token = tokenize(data, func, depth, dtype)
    name, margins_name = f"overlap-{token}", f"margins-{token}"
    grid = data.numblocks
    depth = [depth[a] if grid[a] > 1 else 0 for a in range(data.ndim)]
    steps = [(-1, 0, 1) if d else (0,) for d in depth]
    # tuple tasks, not dask's Task objects: dask's clone (fresh_copy) renames only the former
    tasks = {}
    for index in np.ndindex(*grid):
        # the margins this chunk lends, keyed by where it sits as seen from the borrowing block
        lent = [(side, tuple(_margin(s, d) for s, d in zip(side, depth))) for side in _sides(index, grid, steps, -1)]
        if lent:
            tasks[(margins_name, *index)] = (_copy_margins, (lender.name, *index), lent)
        sides = _sides(index, grid, steps, 1)  # where this block's lenders sit
        tasks[(name, *index)] = (
            _with_margins, func, (data.name, *index), sides,
            [depth[a] * (index[a] > 0) for a in range(data.ndim)],
            [depth[a] * (index[a] < grid[a] - 1) for a in range(data.ndim)],
            *[(margins_name, *(i + s for i, s in zip(index, side))) for side in sides],
        )
    graph = HighLevelGraph.from_collections(name, tasks, dependencies=[data, lender])
    return da.Array(graph, name, chunks=data.chunks, dtype=dtype)


_CHEAP = {"getter", "getter_nofancy", "getter_inline", "getitem", "concatenate_shaped", "concatenate3", "astype"}


def _read_only(data) -> bool:
    """Whether ``data``'s chunks are read from storage, through nothing costlier than
    slicing, rechunking and element-wise operators: reading one twice then
    costs less than holding it."""
    from dask._task_spec import Task, convert_legacy_graph

    for node in convert_legacy_graph(dict(data.__dask_graph__())).values():
        if isinstance(node, Task):
            func = node.func
            if not (isinstance(func, np.ufunc) or getattr(func, "__module__", None) in ("_operator", "operator")
                    or getattr(func, "__name__", None) in _CHEAP):
                return False
    return True


def _sides(index, grid, steps, sign: int) -> list:
    """The neighbours' sides (-1, 0, 1 per axis) for which ``index + sign * side`` lies in the grid."""
    return [side for side in itertools.product(*steps)
            if any(side) and all(0 <= i + sign * s < n for i, s, n in zip(index, side, grid))]


def _margin(side: int, depth: int) -> slice:
    """What a chunk lends a neighbouring block along one axis; ``side`` is where the
    chunk sits as seen from the block (1: after it, so its first ``depth`` slices)."""
    return slice(None) if side == 0 else slice(None, depth) if side > 0 else slice(-depth, None)


def _copy_margins(chunk, lent):
    # copies, not views: a view would keep the whole chunk alive
    return {side: chunk[region].copy() for side, region in lent}


def _with_margins(func, block, sides, before, after, *margins):
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


def _after(value, _gate):
    return value


def _fresh(copy, original, after) -> bool:
    """Whether the optimised graph of the copy's first and last chunks has every
    dependency (dask's clone drops some) and no task of the original outside
    ``after`` (dask's clone does not rename the keys that dask's own ``Task``
    objects refer to); two chunks, so that the check stays cheap."""
    from dask._task_spec import DataNode, convert_legacy_graph
    from dask.core import flatten

    keys = list(flatten(copy.__dask_keys__()))
    try:
        graph = copy.__dask_optimize__(copy.__dask_graph__(), [keys[0], keys[-1]])
        graph = convert_legacy_graph(dict(graph))
    except ValueError:
        return False
    if not all(dependency in graph for node in graph.values() for dependency in node.dependencies):
        return False
    shared = (graph.keys() & original.__dask_graph__().keys()) - set(() if after is None else after.__dask_graph__())
    return all(isinstance(graph[key], DataNode) for key in shared)


def fresh_copy(data, *, after=None):
    """The same dask array under new keys: a task that needs its chunks computes them
    again instead of sharing (and holding) the original ones.

    With ``after`` (a ``dask.delayed`` value) the copy's first tasks wait for it,
    so its chunks are read only once ``after`` is done. This is dask's ``clone``
    and ``bind``, which keep the graph's layers (and so its fusion); they lose
    keys on arrays with a slicing layer (``image.isel(t=3)``, see dask-ms#374),
    and then the graph is renamed here key by key instead.
    """
    import dask.array as da
    from dask._task_spec import Task, TaskRef, convert_legacy_graph
    from dask.base import tokenize
    from dask.graph_manipulation import bind, clone

    copy = clone(data) if after is None else bind(data, after)
    if _fresh(copy, data, after):
        return copy
    graph = convert_legacy_graph(dict(data.__dask_graph__()))
    token = tokenize(data, after, "fresh-copy")

    def rename(key, suffix=""):
        name = f"{key[0] if isinstance(key, tuple) else key}-{token}{suffix}"
        return (name, *key[1:]) if isinstance(key, tuple) else name

    renamed = {key: rename(key) for key in graph}
    tasks = {renamed[key]: node.substitute(renamed, key=renamed[key]) for key, node in graph.items()}
    if after is not None:
        tasks.update(convert_legacy_graph(dict(after.__dask_graph__())))
        for key, node in graph.items():
            if not node.dependencies:  # a first task: runs (inside this one) once ``after`` is done
                tasks[renamed[key]] = Task(renamed[key], _after, node, TaskRef(after.key))
    return da.Array(tasks, f"{data.name}-{token}", chunks=data.chunks, dtype=data.dtype, meta=data._meta)


def _done(_previous, _result, release: bool) -> None:
    if release:
        _release_freed_memory()


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


def collect_in_sweep(blocks: np.ndarray, *, alongside=(), ahead: int | None = None):
    """One ``dask.delayed`` list of per-block results, computed block by block in C
    order with at most ``ahead`` blocks under way.

    A single task that takes every block's result lets dask start any block in
    any order, and behind a neighbourhood filter it holds the input chunks of
    most of the volume. Here a chain of small tasks marks the blocks done in C
    order, and the work that a block is the first to need (reading its
    neighbours' chunks, mostly) waits until the block ``ahead`` places before
    it is done: whatever dask's order, the chunks in memory are those of
    about one layer of blocks, however large the volume. ``ahead`` defaults
    to twice the scheduler's threads (:func:`threads`), so that every thread
    has work.

    ``alongside`` are more ``dask.delayed`` values computed in the same graph
    (a store's pyramid levels): they are not gathered, and the work they share
    with ``blocks`` follows the sweep.
    """
    from dask._task_spec import Task, TaskRef, convert_legacy_graph
    from dask.base import tokenize
    from dask.delayed import Delayed

    blocks = list(np.ravel(np.asarray(blocks, dtype=object)))
    alongside = list(alongside)
    token = tokenize([block.key for block in blocks])
    ahead = max(1, 2 * threads() if ahead is None else int(ahead))
    # the graph written out, not through dask.delayed calls: each of those would cull
    # the whole graph again (minutes for 1000s of blocks)
    graphs = {id(g): g for g in (value.__dask_graph__() for value in blocks + alongside)}
    graph = {}
    for g in graphs.values():
        graph.update(convert_legacy_graph(dict(g)))
    done, previous = [], None
    for k, block in enumerate(blocks):
        key = f"sweep-{token}-{k}"
        # every ``ahead`` blocks, a window's worth freed: hand their memory back to the system
        graph[key] = Task(key, _done, previous and TaskRef(previous), TaskRef(block.key), k % ahead == 0)
        done.append(previous := key)
    key = f"sweep-{token}"
    graph[key] = Task(key, _first_values, len(blocks), *[TaskRef(value.key) for value in blocks + alongside],
                      *([TaskRef(previous)] if previous else []))
    return Delayed(key, _gated(graph, [[block.key] for block in blocks], done, ahead))


def _first_values(n: int, *values) -> list:
    return list(values[:n])


def _gated(graph: dict, steps: list, done: list, ahead: int) -> dict:
    """``graph`` with the tasks where step k's own work starts bound to ``done[k - ahead]``.

    ``steps`` are lists of keys, ``done[k]`` a key computed once steps 0..k
    are. Step k's own work starts with the tasks first needed by step k that
    depend on nothing but what every step needs (the store's handle, label's
    merge table): the chunk reads. Binding them to an earlier step keeps the
    graph acyclic (``done[k - ahead]`` needs nothing of step k). Tasks that
    take an earlier step's data, such as the margins of a neighbour, are
    left free, so that data is not held for the gate.
    """
    from dask._task_spec import Task, TaskRef

    first_use = _first_step(graph, steps)
    last_use = _first_step(graph, steps[::-1])
    everywhere = {key for key, k in first_use.items() if k == 0 and last_use[key] == 0}
    for key, k in first_use.items():
        node = graph[key]
        if k >= ahead and isinstance(node, Task) and node.dependencies <= everywhere:
            graph[key] = Task(key, _after, node, TaskRef(done[k - ahead]))
    return graph


def _first_step(graph: dict, steps: list) -> dict:
    """For every key, the index of the first of ``steps`` (lists of keys) that needs it."""
    first: dict = {}
    for k, keys in enumerate(steps):
        stack = [key for key in keys if key not in first]
        first.update(dict.fromkeys(stack, k))
        while stack:
            for dependency in graph[stack.pop()].dependencies:
                if dependency not in first:
                    first[dependency] = k
                    stack.append(dependency)
    return first


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
