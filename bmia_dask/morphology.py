"""Binary and grey morphology with scipy.ndimage's answers, chunk by chunk.

``iterations`` repeats of a structure reach ``iterations * radius`` voxels, so
chunks overlap by that much and every iteration happens inside one task:
exact near chunk faces for any number of iterations, and a single pass over
the data (dask-image runs one overlapping pass per iteration).

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

import dask
import dask.array as da
import numpy as np
import scipy.ndimage as ndi

from ._chunked import check_kernel, check_mode, overlap_apply, spatial_axes, voxels_or_mm
from .image import as_image, like

__all__ = [
    "binary_dilation", "binary_erosion", "binary_opening", "binary_closing", "binary_fill_holes",
    "grey_dilation", "grey_erosion", "generate_binary_structure",
]

generate_binary_structure = ndi.generate_binary_structure


def _structure(image, structure):
    n = len(spatial_axes(image))
    if structure is None:
        return ndi.generate_binary_structure(n, 1)
    return check_kernel(structure, image, "structure").astype(bool)


def _iterations(iterations) -> int:
    if isinstance(iterations, bool) or int(iterations) != iterations or iterations < 1:
        raise ValueError(
            f"iterations must be a whole number >= 1, got {iterations!r} "
            "(repeating until nothing changes is a whole-volume operation: pass a number)"
        )
    return int(iterations)


def _binary(func, passes, image, structure, iterations, border_value, **extra):
    image = as_image(image)
    structure = _structure(image, structure)
    iterations = _iterations(iterations)
    depth = tuple(passes * iterations * (s // 2) for s in structure.shape)
    return overlap_apply(image, func, depth, dtype=bool, structure=structure, iterations=iterations,
                         border_value=border_value, **extra)


def binary_dilation(image, structure=None, iterations=1, *, border_value=0):
    """As ``scipy.ndimage.binary_dilation`` (default structure: faces connectivity)."""
    return _binary(ndi.binary_dilation, 1, image, structure, iterations, border_value)


def binary_erosion(image, structure=None, iterations=1, *, border_value=0):
    """As ``scipy.ndimage.binary_erosion``; outside the volume counts as ``border_value``."""
    return _binary(ndi.binary_erosion, 1, image, structure, iterations, border_value)


def binary_opening(image, structure=None, iterations=1, *, border_value=0):
    """Erosion then dilation, as ``scipy.ndimage.binary_opening``."""
    return _binary(ndi.binary_opening, 2, image, structure, iterations, border_value)


def binary_closing(image, structure=None, iterations=1, *, border_value=0):
    """Dilation then erosion, as ``scipy.ndimage.binary_closing``."""
    return _binary(ndi.binary_closing, 2, image, structure, iterations, border_value)


def _grey(func, image, size, size_mm, footprint, structure, mode, cval):
    image = as_image(image)
    check_mode(mode)
    kwargs = {"mode": mode, "cval": cval}
    shapes = []
    if footprint is not None:
        kwargs["footprint"] = check_kernel(footprint, image, "footprint").astype(bool)
        shapes.append(kwargs["footprint"].shape)
    if structure is not None:
        kwargs["structure"] = check_kernel(structure, image, "structure")
        shapes.append(kwargs["structure"].shape)
    if size is not None or size_mm is not None or not shapes:
        if shapes:
            raise ValueError("give size (or size_mm), or footprint/structure, not both")
        kwargs["size"] = voxels_or_mm(image, size, size_mm, "size", integer=True, minimum=1)
        shapes.append(kwargs["size"])
    depth = tuple(max(int(s) // 2 for s in axis_sizes) for axis_sizes in zip(*shapes))
    return overlap_apply(image, func, depth, **kwargs)


def grey_dilation(image, size=None, *, size_mm=None, footprint=None, structure=None, mode="reflect", cval=0.0):
    """As ``scipy.ndimage.grey_dilation`` (``size``, ``size_mm``, ``footprint`` or ``structure``)."""
    return _grey(ndi.grey_dilation, image, size, size_mm, footprint, structure, mode, cval)


def grey_erosion(image, size=None, *, size_mm=None, footprint=None, structure=None, mode="reflect", cval=0.0):
    """As ``scipy.ndimage.grey_erosion`` (``size``, ``size_mm``, ``footprint`` or ``structure``)."""
    return _grey(ndi.grey_erosion, image, size, size_mm, footprint, structure, mode, cval)


def _border_labels(*faces) -> np.ndarray:
    """Label values found on the volume's faces (background components reaching out)."""
    return np.unique(np.concatenate([np.ravel(f) for f in faces]))


def _fill(mask, background_labels, border):
    return mask | ((background_labels > 0) & ~np.isin(background_labels, border))


def binary_fill_holes(image, structure=None):
    """Fill the holes of a mask, as ``scipy.ndimage.binary_fill_holes``, across chunks.

    A hole is a background component (connected by ``structure``) that does not
    reach the volume's faces. The background is labelled with
    :func:`bmia_dask.label` (exact across chunks); only the labels on the six
    faces are gathered, so memory stays at a few chunks.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> ring = np.zeros((5, 5), bool)
    >>> ring[1:4, 1:4] = True
    >>> ring[2, 2] = False
    >>> bool(bd.morphology.binary_fill_holes(bd.from_array(ring, chunks=2)).values[2, 2])
    True
    """
    from .labels import label

    image = as_image(image)
    structure = _structure(image, structure)
    mask = image.data.astype(bool)
    background, _ = label(like(image, ~mask), structure)
    data = background.data
    faces = [data[tuple(slice(None) if k != a else side for k in range(data.ndim))]
             for a in range(data.ndim) for side in (slice(0, 1), slice(-1, None))]
    border = dask.delayed(_border_labels)(*[f.rechunk(-1) for f in faces])
    filled = da.map_blocks(_fill, mask, data, border, dtype=bool)
    return like(image, filled, units="")
