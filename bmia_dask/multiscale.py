"""Multiscale pyramids: an image halved level by level, lazily, in the same patient space.

Level ``k`` halves the in-plane axes ``k`` times; ``z`` halves too once the
slices are no thicker than the pixels of that level. A voxel of a ``"mean"``
level is the mean of the voxels it covers and sits at their centre, so every
level's coords and affine place it in the same physical space as level 0.
:func:`bmia_dask.to_zarr` writes these levels as OME-Zarr multiscales, and
:func:`bmia_dask.register` optimises from the coarsest to the finest.
"""

from __future__ import annotations

import numpy as np

from .image import SPATIAL_DIMS, as_image, geometry, regrid
from .image import spacing as image_spacing

__all__ = ["pyramid", "pyramid_factors"]


def pyramid_factors(shape, dims, spacing, levels: int) -> list[dict[str, int]]:
    """Downsampling factor of every dim at each pyramid level (level 0 first).

    In-plane axes halve at every level; ``z`` halves only once its spacing,
    doubled, is no coarser than the in-plane spacing of that level, so thick
    slices are not thinned further; an axis of one voxel stays as it is.

    Examples
    --------
    >>> pyramid_factors((40, 512, 512), ("z", "y", "x"), (2.5, 0.7, 0.7), 4)[1:]
    [{'z': 1, 'y': 2, 'x': 2}, {'z': 1, 'y': 4, 'x': 4}, {'z': 2, 'y': 8, 'x': 8}]
    """
    if isinstance(levels, bool) or int(levels) != levels or levels < 1:
        raise ValueError(f"levels must be a whole number >= 1, got {levels!r}")
    sizes = dict(zip(dims, shape))
    spacing = dict(zip([d for d in dims if d in SPATIAL_DIMS], spacing))
    factors = [{d: 1 for d in dims if d != "t"}]
    for _ in range(1, int(levels)):
        last = factors[-1]
        step = {d: 2 if d in ("y", "x") and sizes[d] // (2 * last[d]) >= 1 else 1 for d in last}
        plane = [spacing[d] * last[d] * step[d] for d in ("y", "x") if d in last]
        if "z" in last and sizes["z"] // (2 * last["z"]) >= 1 and plane:
            step["z"] = 2 if 2 * spacing["z"] * last["z"] <= max(plane) * (1 + 1e-6) else 1
        if all(v == 1 for v in step.values()):
            raise ValueError(f"levels={levels}: the image of shape {tuple(shape)} cannot be halved "
                             f"{levels - 1} times")
        factors.append({d: last[d] * step[d] for d in last})
    return factors


def _downsample(data, dims, step: dict, method: str):
    """One pyramid step: ``step`` voxels of ``data`` per axis -> one (mean or nearest)."""
    factor = tuple(step.get(d, 1) for d in dims)
    if method == "nearest":  # the same shape as the mean's: whole blocks only
        return data[tuple(slice(0, (n // f) * f, f) for n, f in zip(data.shape, factor))]
    trimmed = data[tuple(slice(0, (n // f) * f) for n, f in zip(data.shape, factor))]
    # chunks that are whole multiples of the factor, so each block reduces on its own
    chunks = tuple(max(f, (max(c) // f) * f) for c, f in zip(trimmed.chunks, factor))
    trimmed = trimmed.rechunk(chunks)

    def reduce(block):
        shape = []
        for n, f in zip(block.shape, factor):
            shape += [n // f, f]
        mean = block.reshape(shape).mean(axis=tuple(range(1, 2 * len(factor), 2)), dtype=np.float64)
        if block.dtype == bool:
            return mean >= 0.5
        if np.issubdtype(block.dtype, np.integer):
            return np.round(mean).astype(block.dtype)
        return mean.astype(block.dtype)

    new_chunks = tuple(tuple(c // f for c in cs) for cs, f in zip(trimmed.chunks, factor))
    return trimmed.map_blocks(reduce, chunks=new_chunks, dtype=data.dtype)


def pyramid(image, levels: int, *, downsample: str = "mean") -> list:
    """``levels`` lazy images, level 0 being ``image`` itself, each placed in patient space.

    Parameters
    ----------
    image : xarray.DataArray
        2D, 3D or ``(t, z, y, x)`` image (``t`` is never downsampled).
    levels : int
        Number of levels, at least 1.
    downsample : {"mean", "nearest"}
        The mean of each block (masks: a majority vote; integers rounded),
        or every other voxel ("nearest", for label images).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.arange(16.0).reshape(1, 4, 4), spacing=(5.0, 1.0, 1.0))
    >>> coarse = bd.multiscale.pyramid(image, 2)[1]
    >>> coarse.values.tolist(), coarse.attrs["spacing"], float(coarse.x[0])
    ([[[2.5, 4.5], [10.5, 12.5]]], (5.0, 2.0, 2.0), 0.5)
    """
    if downsample not in ("mean", "nearest"):
        raise ValueError(f"downsample must be 'mean' or 'nearest', got {downsample!r}")
    image = as_image(image)
    factors = pyramid_factors(image.shape, image.dims, image_spacing(image), levels)
    geo = geometry(image)
    spacing, offset = dict(zip(SPATIAL_DIMS, geo.spacing)), dict(zip(SPATIAL_DIMS, geo.offset))
    out = [image]
    for previous, factor in zip(factors, factors[1:]):
        step = {d: factor[d] // previous[d] for d in factor}
        data = _downsample(out[-1].data, image.dims, step, downsample)
        # a mean of f voxels sits at their centre; nearest keeps the first
        shift = {d: (f - 1) / 2 if downsample == "mean" else 0.0 for d, f in factor.items()}
        out.append(regrid(image, data, spacing_zyx={d: spacing[d] * f for d, f in factor.items()},
                          offset_zyx={d: offset[d] + shift[d] * spacing[d] for d in factor}))
    return out
