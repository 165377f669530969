"""Shared machinery of the chunked operations: parameters in voxels or mm,
and scipy kernels run on overlapping chunks.

Chunks are extended by ``depth`` voxels of their neighbours (dask's
``map_overlap`` with ``boundary="none"``): at a chunk face inside the volume the
kernel sees real data, and at the volume's own faces the block edge *is* the
volume edge, so scipy's ``mode`` applies there exactly as on the whole array.
With a depth of at least the kernel's reach, the result equals scipy's.
Kernels act on the spatial dims; a ``(t, z, y, x)`` image is processed frame
by frame.
"""

from __future__ import annotations

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
    out = data.map_overlap(
        _framewise(func, frame_axis),
        depth=full_depth,
        # wrap needs the far side of the volume: dask brings it; otherwise the block
        # edge at a volume face is the face, where scipy's own mode applies
        boundary="periodic" if kwargs.get("mode") in ("wrap", "grid-wrap") else "none",
        trim=True,
        dtype=data.dtype if dtype is None else dtype,
        **kwargs,
    )
    return like(image, out, **(attrs or {}))


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


def _first(value, _after):
    return value


def _complete(array) -> bool:
    """Whether the optimised graph of the first and last chunks has every dependency
    (dask's clone drops some); two chunks, so that the check stays cheap."""
    from dask._task_spec import convert_legacy_graph
    from dask.core import flatten

    keys = list(flatten(array.__dask_keys__()))
    try:
        graph = array.__dask_optimize__(array.__dask_graph__(), [keys[0], keys[-1]])
        graph = convert_legacy_graph(dict(graph))
    except ValueError:
        return False
    return all(dependency in graph for node in graph.values() for dependency in node.dependencies)


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
    if _complete(copy):
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
            if not node.dependencies:  # a first task: runs once ``after`` is done
                inner = rename(key, "-before")
                tasks[inner] = node.substitute(renamed, key=inner)
                tasks[renamed[key]] = Task(renamed[key], _first, TaskRef(inner), TaskRef(after.key))
    return da.Array(tasks, f"{data.name}-{token}", chunks=data.chunks, dtype=data.dtype, meta=data._meta)


def _extend(done: list, layer: list) -> list:
    return [*done, *layer]


def collect_in_sweep(blocks: np.ndarray):
    """One ``dask.delayed`` list of per-block results, gathered layer by layer along the
    first axis of the block grid (C order overall).

    A single task that takes every block's result lets dask start any block
    in any order, and it holds the input chunks of many at once (the whole
    volume, at worst). A chain of small gathering tasks, one per layer, makes
    it finish one layer before the next, so only the chunks of a few layers
    are in memory whatever the size of the volume.
    """
    import dask

    from dask.base import tokenize

    blocks = np.asarray(blocks, dtype=object)
    token = tokenize([block.key for block in blocks.ravel()])
    gathered = dask.delayed([])
    for k, layer in enumerate(blocks):
        gathered = dask.delayed(_extend)(gathered, list(np.ravel(layer)), dask_key_name=f"sweep-{token}-{k}")
    return gathered


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
