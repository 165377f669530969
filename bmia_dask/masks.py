"""Masks: thresholds, Otsu's threshold, np.where-style application, combinations.

Comparisons such as ``image > 145`` already give lazy masks on the same grid
(xarray); these helpers add what a comparison alone does not: keeping the
image's attrs, inclusive ranges, automatic thresholds and combining masks.

Examples
--------
>>> import numpy as np, bmia_dask as bd
>>> image = bd.from_array(np.array([[10, 150, 400]], dtype=np.int16), units="HU")
>>> bone = bd.masks.threshold(image, low=145)
>>> bone.values.tolist(), bone.attrs["units"]
([[False, True, True]], '')
>>> bd.masks.apply(image, bone).values.tolist()
[[0, 150, 400]]
"""

from __future__ import annotations

import functools

import dask.array as da
import numpy as np
import xarray as xr

from .image import as_image, like, require_same_shape

__all__ = ["threshold", "threshold_otsu", "apply", "combine"]


def threshold(image, low=None, high=None):
    """Mask of ``low <= value <= high`` (either bound may be left out).

    For a strict comparison write it directly: ``image > 145`` is lazy too.
    """
    if low is None and high is None:
        raise ValueError("give low, high or both")
    if low is not None and high is not None and high < low:
        raise ValueError(f"high must be >= low, got low={low}, high={high}")
    image = as_image(image)
    data = image.data
    mask = da.ones(data.shape, dtype=bool, chunks=data.chunks)
    if low is not None:
        mask = mask & (data >= low)
    if high is not None:
        mask = mask & (data <= high)
    return like(image, mask, units="")


def threshold_otsu(image, *, bins: int = 256) -> float:
    """Otsu's threshold: the value that best splits the histogram in two classes.

    Computed from one histogram pass over the chunks (``bins`` bins over the
    value range); voxels above the returned value form the bright class.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> data = np.r_[np.full(50, 10.0), np.full(50, 200.0)].reshape(10, 10)
    >>> 10 < bd.masks.threshold_otsu(bd.from_array(data)) < 200
    True
    """
    from .intensity import histogram, value_range

    low, high = value_range(image)
    if low == high:
        return float(low)
    return otsu_from_histogram(histogram(image, low, high, bins), low, high)


def otsu_from_histogram(counts, low: float, high: float) -> float:
    """Otsu's threshold from a histogram of equal bins over ``[low, high]``."""
    counts = np.asarray(counts, dtype=np.float64)
    bins = len(counts)
    edges = np.linspace(low, high, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    mass = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_low = mass / weight_low
        mean_high = (mass[-1] - mass) / weight_high
        between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[1:][np.nanargmax(between[:-1])])


def apply(image, mask, other=0):
    """``np.where(mask, image, other)`` lazily, keeping the image's grid and attrs.

    ``other`` keeps the image's dtype when it fits (0 in an int16 image stays int16).
    """
    image = as_image(image)
    mask_data = mask.data if isinstance(mask, xr.DataArray) else da.asarray(mask)
    require_same_shape(image, mask_data, "image", "mask")
    if mask_data.dtype != bool:
        raise ValueError(f"mask must be boolean, got dtype {mask_data.dtype}")
    other_data = other.data if isinstance(other, xr.DataArray) else other
    dtype = image.dtype if np.isscalar(other_data) and np.can_cast(np.min_scalar_type(other_data), image.dtype) \
        else np.result_type(image.dtype, np.asarray(other_data).dtype)
    out = da.where(mask_data.rechunk(image.data.chunks), image.data, other_data).astype(dtype)
    return like(image, out)


def combine(*masks, how: str = "and"):
    """Combine masks voxel by voxel: ``how`` is ``"and"``, ``"or"`` or ``"xor"``."""
    operators = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}
    if how not in operators:
        raise ValueError(f"how must be one of {sorted(operators)}, got {how!r}")
    if len(masks) < 2:
        raise ValueError(f"give at least two masks, got {len(masks)}")
    first = as_image(masks[0])
    datas = [m.data if isinstance(m, xr.DataArray) else da.asarray(m) for m in masks]
    for k, d in enumerate(datas[1:], start=2):
        require_same_shape(first, d, "mask 1", f"mask {k}")
    return like(first, functools.reduce(operators[how], datas), units="")
