"""Binary and grey morphology with scipy.ndimage's answers, chunk by chunk.

Local operations (a given number of ``iterations``, grey morphology) run
scipy's own function on chunks extended by the structure's reach (grown by
``|origin|``) times the number of passes: exact near chunk faces, and a
single pass over the data (dask-image runs one overlapping pass per
iteration).

Global operations (``iterations < 1``: repeat until nothing changes,
:func:`binary_propagation`, :func:`binary_fill_holes`) are reachability: a
voxel of the mask is set when a chain of the structure's offsets, through the
mask, leads to it from a set voxel (or from outside the volume when
``border_value`` says so). When the offsets are symmetric and one voxel long
(every 3 x ... x 3 structure symmetric about its origin) that is a connected
component question, answered exactly across chunks by :func:`bmia_dask.label`.
Other structures raise ``ValueError`` for these operations (directed
reachability across chunks has no exact single-pass answer here).

Examples
--------
>>> import numpy as np, scipy.ndimage as ndi, bmia_dask as bd
>>> mask = np.random.default_rng(1).random((30, 30, 30)) > 0.7
>>> image = bd.from_array(mask, chunks=(8, 9, 10))
>>> closed = bd.morphology.binary_closing(image, iterations=2)
>>> bool((closed.values == ndi.binary_closing(mask, iterations=2)).all())
True
"""

from __future__ import annotations

import functools
import operator
import warnings

import dask.array as da
import numpy as np
import scipy.ndimage as ndi
from dask.base import tokenize
from dask.core import flatten
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph

from ._chunked import overlap_apply, spatial_axes, voxels_or_mm
from .errors import ArgumentError, scipy_errors
from .image import as_image, like

__all__ = [
    "binary_dilation", "binary_erosion", "binary_opening", "binary_closing", "binary_hit_or_miss",
    "binary_propagation", "binary_fill_holes",
    "grey_dilation", "grey_erosion", "grey_opening", "grey_closing", "white_tophat", "black_tophat",
    "morphological_gradient", "morphological_laplace",
    "generate_binary_structure", "iterate_structure",
]

generate_binary_structure = ndi.generate_binary_structure
iterate_structure = ndi.iterate_structure

_OUTPUT_ARRAY = "output arrays cannot be filled by a lazy library: use the returned image"


# --------------------------------------------------------------------------- arguments


def _output(output):
    """None or a dtype; an array to fill is refused (TypeError)."""
    if output is None:
        return None
    if not isinstance(output, (type, str, np.dtype)) and hasattr(output, "shape"):
        raise TypeError(_OUTPUT_ARRAY)
    return np.dtype(output)


def _axes(image, axes) -> tuple[int, ...]:
    """``axes`` (array axes of the image or dim names) as positions among its spatial axes."""
    spatial = spatial_axes(image)
    if axes is None:
        return tuple(range(len(spatial)))
    items = [axes] if isinstance(axes, (str, int, np.integer)) else list(axes)
    out = []
    for ax in items:
        if isinstance(ax, str):
            if ax not in image.dims:
                raise ValueError(f"axes: {ax!r} is not a dim of the image {image.dims}")
            ax = image.dims.index(ax)
        else:
            ax = operator.index(ax)
            if not -image.ndim <= ax < image.ndim:
                raise ValueError(f"specified axis: {ax} is out of range")
            ax %= image.ndim
        if ax not in spatial:
            raise ValueError(f"axes: dim {image.dims[ax]!r} is not spatial (a frame axis is never filtered)")
        out.append(spatial.index(ax))
    if len(set(out)) != len(out):
        raise ValueError("axes must be unique")
    return tuple(out)


def _sequence(value, n):
    values = list(value) if np.ndim(value) else [value] * n
    if len(values) != n:
        raise ArgumentError("sequence argument must have length equal to input rank")
    return values


def _expand(kernel, origin, axes, n):
    """A kernel and origins over every spatial axis (extent 1 and origin 0 off ``axes``), as scipy."""
    origins = [0] * n
    for o, ax in zip(_sequence(origin, len(axes)), axes):
        origins[ax] = int(o)
    if kernel is not None:
        kernel = np.asarray(kernel)
        if kernel.ndim == len(axes) and len(axes) < n:
            kernel = np.expand_dims(kernel, tuple(a for a in range(n) if a not in axes))
    return kernel, origins


def _reach(shape, origins, passes=1):
    """Overlap depth per spatial axis: the kernel's reach on either side, grown by |origin|."""
    return tuple(passes * (max(s // 2, s - 1 - s // 2) + abs(o) + (s % 2 == 0)) for s, o in zip(shape, origins))


def _dummy(image, n, dtype=None):
    return np.zeros((3,) * n, dtype=image.dtype if dtype is None else dtype)


def _check_mask(image, mask):
    if mask is None:
        return None
    mask = mask.data if hasattr(mask, "dims") else mask
    if tuple(np.shape(mask)) != tuple(image.shape):
        raise ArgumentError("mask and input must have equal sizes")
    return da.asarray(mask)


def _iterations(iterations) -> int:
    try:
        return operator.index(iterations)
    except TypeError as e:
        raise TypeError("iterations parameter should be an integer") from e


# --------------------------------------------------------------------------- local (overlapping chunks)


def _apply(block, scipy_func, packed, **kwargs):
    if packed:  # bit 0: the input, bit 1: the mask
        kwargs["mask"] = (block & 2) != 0
        block = (block & 1) != 0
    return scipy_func(block, **kwargs)


def _local(image, func, depth, dtype, mask=None, **kwargs):
    """``func(block, **kwargs)`` on chunks overlapping by ``depth``, the mask carried along."""
    data = image.data
    packed = mask is not None
    if packed:
        data = (data != 0).astype(np.uint8) | ((mask != 0).astype(np.uint8) << 1)
    mode = kwargs.get("mode")
    modes = [] if mode is None else [mode] if isinstance(mode, str) else list(mode)
    wraps = [m in ("wrap", "grid-wrap") for m in modes]
    if any(wraps) and not isinstance(mode, str):
        return _local_wrap(image, data, func, depth, dtype, packed, wraps, **kwargs)
    source = like(image, data) if packed else image
    return like(image, overlap_apply(source, _apply, depth, dtype=dtype, scipy_func=func, packed=packed,
                                     **kwargs).data)


def _local_wrap(image, data, func, depth, dtype, packed, wraps, **kwargs):
    """Modes mixing wrap with others: the far side of the volume only along the wrapped axes."""
    axes = spatial_axes(image)
    if "t" in image.dims:
        raise ValueError("modes mixing 'wrap' with others are not supported on (t, ...) images")
    wraps = wraps * len(axes) if len(wraps) == 1 else wraps
    boundary = {a: "periodic" if w else "none" for a, w in zip(axes, wraps)}
    full = {a: min(int(d), data.shape[a]) for a, d in zip(axes, depth)}
    apply = functools.partial(_apply, scipy_func=func, packed=packed, **kwargs)
    out = data.map_overlap(apply, depth=full, boundary=boundary, trim=True, dtype=dtype)
    return like(image, out)


# --------------------------------------------------------------------------- binary


def _binary_setup(image, structure, origin, axes, n_passes=1):
    n = len(spatial_axes(image))
    axes_ = _axes(image, axes)
    if structure is None:
        structure = ndi.generate_binary_structure(len(axes_), 1)
    full, origins = _expand(np.asarray(structure), origin, axes_, n)
    return axes_, full, origins


def _binary(name, image, structure, iterations, mask, output, border_value, origin, brute_force, axes):
    image = as_image(image)
    if np.iscomplexobj(image.dtype.type(0)):
        raise TypeError("Complex type not supported")
    iterations = _iterations(iterations)
    dtype = _output(output)
    axes_, full, origins = _binary_setup(image, structure, origin, axes)
    n = len(spatial_axes(image))
    func = getattr(ndi, name)
    mask_data = _check_mask(image, mask)
    kwargs = dict(structure=structure, border_value=border_value, origin=origin, brute_force=brute_force,
                  axes=axes_)
    # scipy checks the arguments (and gives the output's dtype) on a small array
    with scipy_errors():
        probe = func(_dummy(image, n), iterations=1, mask=None if mask is None else np.ones((3,) * n, bool),
                     output=dtype, **kwargs)
    dtype = probe.dtype
    if iterations < 1:
        return _until_stable(name, image, full, origins, mask_data, border_value, dtype)
    passes = 2 if name in ("binary_opening", "binary_closing") else 1
    depth = _reach(full.shape, origins, passes * iterations)
    return _local(image, func, depth, dtype, mask=mask_data, iterations=iterations, output=dtype, **kwargs)


def binary_dilation(image, structure=None, iterations=1, *, mask=None, output=None, border_value=0, origin=0,
                    brute_force=False, axes=None):
    """As ``scipy.ndimage.binary_dilation``, across chunks.

    ``iterations < 1`` repeats until nothing changes (exact across chunks for
    structures symmetric about their origin, see the module's notes).
    ``brute_force`` is accepted and gives the same answer.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> line = np.zeros(9, bool)
    >>> line[4] = True
    >>> bd.morphology.binary_dilation(bd.from_array(line, chunks=3), iterations=2).values.astype(int).tolist()
    [0, 0, 1, 1, 1, 1, 1, 0, 0]
    """
    return _binary("binary_dilation", image, structure, iterations, mask, output, border_value, origin,
                   brute_force, axes)


def binary_erosion(image, structure=None, iterations=1, *, mask=None, output=None, border_value=0, origin=0,
                   brute_force=False, axes=None):
    """As ``scipy.ndimage.binary_erosion``; outside the volume counts as ``border_value``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> square = np.zeros((6, 6), bool)
    >>> square[1:5, 1:5] = True
    >>> int(bd.morphology.binary_erosion(bd.from_array(square, chunks=2)).values.sum())
    4
    """
    return _binary("binary_erosion", image, structure, iterations, mask, output, border_value, origin,
                   brute_force, axes)


def binary_opening(image, structure=None, iterations=1, *, output=None, origin=0, mask=None, border_value=0,
                   brute_force=False, axes=None):
    """Erosion then dilation, as ``scipy.ndimage.binary_opening``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> mask = np.zeros((7, 7), bool)
    >>> mask[1:6, 1:6] = True
    >>> mask[0, 0] = True   # a speck: opened away
    >>> bool(bd.morphology.binary_opening(bd.from_array(mask, chunks=3)).values[0, 0])
    False
    """
    return _binary("binary_opening", image, structure, iterations, mask, output, border_value, origin,
                   brute_force, axes)


def binary_closing(image, structure=None, iterations=1, *, output=None, origin=0, mask=None, border_value=0,
                   brute_force=False, axes=None):
    """Dilation then erosion, as ``scipy.ndimage.binary_closing``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> mask = np.ones((5, 5), bool)
    >>> mask[2, 2] = False
    >>> bool(bd.morphology.binary_closing(bd.from_array(mask, chunks=2)).values[2, 2])
    True
    """
    return _binary("binary_closing", image, structure, iterations, mask, output, border_value, origin,
                   brute_force, axes)


def _hit_or_miss(block, **kwargs):
    return ndi.binary_hit_or_miss(block, **kwargs)


def binary_hit_or_miss(image, structure1=None, structure2=None, *, output=None, origin1=0, origin2=None,
                       axes=None):
    """As ``scipy.ndimage.binary_hit_or_miss``: ``structure1`` fits the foreground and
    ``structure2`` (default: its complement) the background.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> mask = np.zeros((5, 5), bool)
    >>> mask[2, 2] = True   # an isolated voxel
    >>> alone = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]])   # and, by default, nothing around
    >>> hits = bd.morphology.binary_hit_or_miss(bd.from_array(mask, chunks=2), alone)
    >>> np.argwhere(hits.values).tolist()
    [[2, 2]]
    """
    image = as_image(image)
    _output(output)
    n = len(spatial_axes(image))
    axes_ = _axes(image, axes)
    if structure1 is None:
        structure1 = ndi.generate_binary_structure(len(axes_), 1)
    kwargs = dict(structure1=structure1, structure2=structure2, origin1=origin1, origin2=origin2, axes=axes_)
    with scipy_errors():
        probe = ndi.binary_hit_or_miss(_dummy(image, n), **kwargs)
    depth = (0,) * n
    for s, o in ((structure1, origin1), (np.logical_not(structure1) if structure2 is None else structure2,
                                         origin1 if origin2 is None else origin2)):
        full, origins = _expand(np.asarray(s), o, axes_, n)
        depth = tuple(max(a, b) for a, b in zip(depth, _reach(full.shape, origins)))
    return _local(image, _hit_or_miss, depth, probe.dtype, **kwargs)


# --------------------------------------------------------------------------- binary, until nothing changes


def _offsets(structure, origins, dilation: bool) -> np.ndarray:
    """The steps ``s`` of one pass: a voxel is set (dilation) or cleared (erosion) when
    the voxel ``x - s`` is set (dilation) or clear (erosion), found by probing scipy."""
    reach = [s + abs(o) + 1 for s, o in zip(structure.shape, origins)]
    probe = np.zeros([2 * r + 1 for r in reach], bool)
    centre = tuple(reach)
    if dilation:
        probe[centre] = True
        hit = ndi.binary_dilation(probe, structure, origin=origins)
    else:
        probe[:] = True
        probe[centre] = False
        hit = ~ndi.binary_erosion(probe, structure, origin=origins, border_value=1)
    return np.argwhere(hit) - np.array(centre)


def _label_structure(steps: np.ndarray, n: int):
    """The 3 x ... x 3 connectivity of ``steps``, or None when they are not that."""
    if len(steps) == 0 or (np.abs(steps) > 1).any():
        return None
    structure = np.zeros((3,) * n, bool)
    structure[tuple((steps + 1).T)] = True
    if not structure[(1,) * n] or not np.array_equal(structure, np.flip(structure)):
        return None
    return structure


def _border_zone(block, steps, shape, block_info=None):
    """Voxels ``x`` for which some ``x - s`` lies outside the volume."""
    location = block_info[0]["array-location"]
    zone = np.zeros(block.shape, bool)
    high, low = steps.max(0), steps.min(0)
    for a, (start, stop) in enumerate(location):
        coord = np.arange(start, stop).reshape([-1 if k == a else 1 for k in range(block.ndim)])
        zone |= (coord < high[a]) | (coord > shape[a] - 1 + low[a])
    return zone


def _found(labels, seeds):
    out = np.empty((1,) * labels.ndim, dtype=object)
    out.flat[0] = np.unique(labels[seeds])
    return out


def _union(*found):
    return np.unique(np.concatenate([np.asarray(f.flat[0], dtype=np.int64) for f in found] + [np.zeros(0, int)]))


def _reached(labels, seeds, changeable, seeded):
    return seeds | (changeable & np.isin(labels, seeded))


def _propagate(image, seeds, changeable, steps, border):
    """``seeds`` plus the ``changeable`` voxels reached from them (or from outside the
    volume, with ``border``) by chains of ``steps`` through changeable voxels."""
    from .labels import label

    axes = spatial_axes(image)
    n = len(axes)
    structure = _label_structure(steps, n)
    if structure is None:
        raise ValueError(
            "repeating until nothing changes (iterations < 1, binary_propagation, binary_fill_holes) is "
            "exact across chunks only for structures symmetric about their origin with offsets of at most "
            "one voxel; this structure/origin gives the steps "
            f"{sorted(map(tuple, steps.tolist()))}: pass a number of iterations instead"
        )
    full_steps = np.zeros((len(steps), image.ndim), int)
    full_steps[:, list(axes)] = steps
    labels, _ = label(like(image, seeds | changeable), structure, dims=[image.dims[a] for a in axes])
    labels = labels.data
    # label merges small chunks: the seeds follow its blocks
    seeds, changeable = seeds.rechunk(labels.chunks), changeable.rechunk(labels.chunks)
    origins = seeds
    if border:
        zone = da.map_blocks(_border_zone, seeds, full_steps, seeds.shape, dtype=bool)
        origins = seeds | (changeable & zone)
    found = da.map_blocks(_found, labels, origins, dtype=object, chunks=tuple((1,) * k for k in labels.numblocks))
    key = f"propagate-seeded-{tokenize(found)}"
    seeded = Delayed(key, HighLevelGraph.from_collections(
        key, {key: (_union, *flatten(found.__dask_keys__()))}, dependencies=[found]))
    return da.map_blocks(_reached, labels, seeds, changeable, seeded, dtype=bool)


def _until_stable(name, image, structure, origins, mask, border_value, dtype, data=None):
    data = image.data != 0 if data is None else data
    mask = da.ones(data.shape, dtype=bool, chunks=data.chunks) if mask is None else (mask != 0).rechunk(data.chunks)
    border = bool(border_value)
    if name == "binary_opening":
        first = _until_stable("binary_erosion", image, structure, origins, mask, border_value, bool, data)
        return _until_stable("binary_dilation", image, structure, origins, mask, border_value, dtype,
                             first.data)
    if name == "binary_closing":
        first = _until_stable("binary_dilation", image, structure, origins, mask, border_value, bool, data)
        return _until_stable("binary_erosion", image, structure, origins, mask, border_value, dtype, first.data)
    if name == "binary_dilation":
        out = _propagate(image, data, mask, _offsets(structure, origins, True), border)
    else:  # erosion: clear voxels are sinks that empty, backwards along the steps, what reaches them
        steps = -_offsets(structure, origins, False)
        out = ~_propagate(image, ~data, mask & data, steps, not border)
    return like(image, out.astype(dtype))


def binary_propagation(image, structure=None, *, mask=None, output=None, border_value=0, origin=0, axes=None):
    """As ``scipy.ndimage.binary_propagation``: dilation repeated until nothing changes.

    The voxels of ``mask`` reached from ``image`` through ``mask`` along the
    structure, plus ``image`` itself; exact across chunks (connected
    components with :func:`bmia_dask.label`), for structures symmetric about
    their origin.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> mask = np.zeros((6, 6), bool)
    >>> mask[1:5, 1] = mask[4, 1:5] = True     # an L across chunks
    >>> mask[0, 5] = True
    >>> seed = np.zeros_like(mask)
    >>> seed[1, 1] = True
    >>> grown = bd.morphology.binary_propagation(bd.from_array(seed, chunks=2), mask=mask)
    >>> int(grown.values.sum()), bool(grown.values[0, 5])
    (7, False)
    """
    return binary_dilation(image, structure, -1, mask=mask, output=output, border_value=border_value,
                           origin=origin, axes=axes)


def binary_fill_holes(image, structure=None, *, output=None, origin=0, axes=None):
    """Fill the holes of a mask, as ``scipy.ndimage.binary_fill_holes``, across chunks.

    A hole is a background component (connected by ``structure``) that does not
    reach the volume's faces. The background is labelled with
    :func:`bmia_dask.label` (exact across chunks); only the labels found at
    the faces are gathered, so memory stays at a few chunks.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> ring = np.zeros((5, 5), bool)
    >>> ring[1:4, 1:4] = True
    >>> ring[2, 2] = False
    >>> bool(bd.morphology.binary_fill_holes(bd.from_array(ring, chunks=2)).values[2, 2])
    True
    """
    image = as_image(image)
    data = image.data != 0
    zeros = like(image, da.zeros(data.shape, dtype=bool, chunks=data.chunks))
    outside = binary_dilation(zeros, structure, -1, mask=like(image, ~data), output=output, border_value=1,
                              origin=origin, axes=axes)
    filled = ~(outside.data != 0)
    return like(image, filled.astype(outside.dtype), units="")


# --------------------------------------------------------------------------- grey


def _grey(name, image, size, footprint, structure, output, mode, cval, origin, axes, size_mm=None):
    image = as_image(image)
    n = len(spatial_axes(image))
    axes_ = _axes(image, axes)
    dtype = _output(output)
    if size_mm is not None:
        if size is not None:
            raise ValueError("give size (voxels) or size_mm (millimetres), not both")
        size = voxels_or_mm(image, None, size_mm, "size", integer=True, minimum=1)
        size = tuple(size[a] for a in axes_)
    if size is None and footprint is None and structure is None:
        raise ValueError("size, footprint, or structure must be specified")
    if size is not None and footprint is not None and name in ("grey_opening", "grey_closing", "white_tophat",
                                                               "black_tophat"):
        warnings.warn("ignoring size because footprint is set", UserWarning, stacklevel=3)
    if not isinstance(mode, str):
        mode = list(mode)
    kwargs = dict(size=size, footprint=footprint, structure=structure, mode=mode, cval=cval, origin=origin,
                  axes=axes_)
    func = getattr(ndi, name)
    with warnings.catch_warnings(), scipy_errors():
        warnings.simplefilter("ignore", UserWarning)
        probe = func(_dummy(image, n), output=dtype, **kwargs)
    shapes = [np.shape(k) for k in (footprint, structure) if k is not None]
    if not shapes:
        shapes = [tuple(_sequence(size, len(axes_)))]
    depth = (0,) * n
    for shape in shapes:
        full, origins = _expand(np.zeros(shape, bool), origin, axes_, n)
        passes = 1 if name in ("grey_dilation", "grey_erosion", "morphological_gradient",
                               "morphological_laplace") else 2
        depth = tuple(max(a, b) for a, b in zip(depth, _reach(full.shape, origins, passes)))
    return _local(image, _quiet, depth, probe.dtype, name=name, output=dtype, **kwargs)


def _quiet(block, name, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return getattr(ndi, name)(block, **kwargs)


def grey_dilation(image, size=None, *, footprint=None, structure=None, output=None, mode="reflect", cval=0.0,
                  origin=0, axes=None, size_mm=None):
    """As ``scipy.ndimage.grey_dilation`` (``size``, ``size_mm``, ``footprint`` or ``structure``).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.morphology.grey_dilation(bd.from_array(np.array([0, 5, 0, 0, 2]), chunks=2), 3).values.tolist()
    [5, 5, 5, 2, 2]
    """
    return _grey("grey_dilation", image, size, footprint, structure, output, mode, cval, origin, axes, size_mm)


def grey_erosion(image, size=None, *, footprint=None, structure=None, output=None, mode="reflect", cval=0.0,
                 origin=0, axes=None, size_mm=None):
    """As ``scipy.ndimage.grey_erosion`` (``size``, ``size_mm``, ``footprint`` or ``structure``).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.morphology.grey_erosion(bd.from_array(np.array([4, 5, 1, 6, 7]), chunks=2), 3).values.tolist()
    [4, 1, 1, 1, 6]
    """
    return _grey("grey_erosion", image, size, footprint, structure, output, mode, cval, origin, axes, size_mm)


def grey_opening(image, size=None, *, footprint=None, structure=None, output=None, mode="reflect", cval=0.0,
                 origin=0, axes=None, size_mm=None):
    """Grey erosion then dilation, as ``scipy.ndimage.grey_opening``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.morphology.grey_opening(bd.from_array(np.array([1, 1, 9, 1, 1]), chunks=2), 3).values.tolist()
    [1, 1, 1, 1, 1]
    """
    return _grey("grey_opening", image, size, footprint, structure, output, mode, cval, origin, axes, size_mm)


def grey_closing(image, size=None, *, footprint=None, structure=None, output=None, mode="reflect", cval=0.0,
                 origin=0, axes=None, size_mm=None):
    """Grey dilation then erosion, as ``scipy.ndimage.grey_closing``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.morphology.grey_closing(bd.from_array(np.array([5, 5, 0, 5, 5]), chunks=2), 3).values.tolist()
    [5, 5, 5, 5, 5]
    """
    return _grey("grey_closing", image, size, footprint, structure, output, mode, cval, origin, axes, size_mm)


def white_tophat(image, size=None, *, footprint=None, structure=None, output=None, mode="reflect", cval=0.0,
                 origin=0, axes=None, size_mm=None):
    """The image minus its grey opening, as ``scipy.ndimage.white_tophat``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.morphology.white_tophat(bd.from_array(np.array([1, 1, 9, 1, 1]), chunks=2), 3).values.tolist()
    [0, 0, 8, 0, 0]
    """
    return _grey("white_tophat", image, size, footprint, structure, output, mode, cval, origin, axes, size_mm)


def black_tophat(image, size=None, *, footprint=None, structure=None, output=None, mode="reflect", cval=0.0,
                 origin=0, axes=None, size_mm=None):
    """The grey closing minus the image, as ``scipy.ndimage.black_tophat``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.morphology.black_tophat(bd.from_array(np.array([5, 5, 0, 5, 5]), chunks=2), 3).values.tolist()
    [0, 0, 5, 0, 0]
    """
    return _grey("black_tophat", image, size, footprint, structure, output, mode, cval, origin, axes, size_mm)


def morphological_gradient(image, size=None, *, footprint=None, structure=None, output=None, mode="reflect",
                           cval=0.0, origin=0, axes=None, size_mm=None):
    """Grey dilation minus grey erosion, as ``scipy.ndimage.morphological_gradient``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.morphology.morphological_gradient(bd.from_array(np.array([0, 0, 4, 4, 4]), chunks=2), 3).values.tolist()
    [0, 4, 4, 0, 0]
    """
    return _grey("morphological_gradient", image, size, footprint, structure, output, mode, cval, origin, axes,
                 size_mm)


def morphological_laplace(image, size=None, *, footprint=None, structure=None, output=None, mode="reflect",
                          cval=0.0, origin=0, axes=None, size_mm=None):
    """Grey dilation plus grey erosion minus twice the image, as ``scipy.ndimage.morphological_laplace``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.morphology.morphological_laplace(bd.from_array(np.array([0, 0, 4, 4, 4]), chunks=2), 3).values.tolist()
    [0, 4, -4, 0, 0]
    """
    return _grey("morphological_laplace", image, size, footprint, structure, output, mode, cval, origin, axes,
                 size_mm)
