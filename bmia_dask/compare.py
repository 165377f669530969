"""Compare two images on the same grid: MAE, MSE, IoU, Dice, as lazy scalars.

Each returns a 0-d lazy ``xarray.DataArray``: ``float(result)`` or
``result.compute()`` computes it, and several can be computed in one pass with
``dask.compute``.

Examples
--------
>>> import numpy as np, bmia_dask as bd
>>> a = bd.from_array(np.array([[0, 1, 1, 0]], dtype=bool))
>>> b = bd.from_array(np.array([[0, 1, 0, 1]], dtype=bool))
>>> float(bd.compare.iou(a, b)), float(bd.compare.dice(a, b))
(0.3333333333333333, 0.5)
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

from .image import as_image, require_same_shape

__all__ = ["mae", "mse", "iou", "dice"]


def _pair(image1, image2, *, masks=False):
    image1, image2 = as_image(image1), as_image(image2)
    require_same_shape(image1, image2, "image1", "image2")
    if image1.dims != image2.dims:
        raise ValueError(f"image2 dims {image2.dims} do not match image1 dims {image1.dims}")
    a, b = image1.data, image2.data.rechunk(image1.data.chunks)
    if masks:
        for name, d in (("image1", a), ("image2", b)):
            if d.dtype != bool:
                raise ValueError(f"{name} must be a boolean mask, got dtype {d.dtype}")
    return a, b


def _scalar(value, name):
    return xr.DataArray(value, name=name)


def mae(image1, image2):
    """Mean absolute error ``mean(|image1 - image2|)``, in float64 (no integer wrap-around)."""
    a, b = _pair(image1, image2)
    return _scalar(da.abs(a.astype(np.float64) - b.astype(np.float64)).mean(), "mae")


def mse(image1, image2):
    """Mean squared error ``mean((image1 - image2)**2)``, in float64."""
    a, b = _pair(image1, image2)
    return _scalar(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(), "mse")


def iou(mask1, mask2):
    """Intersection over union of two boolean masks (NaN when both are empty)."""
    a, b = _pair(mask1, mask2, masks=True)
    return _scalar((a & b).sum() / (a | b).sum(), "iou")


def dice(mask1, mask2):
    """Dice coefficient ``2 |A and B| / (|A| + |B|)`` of two boolean masks."""
    a, b = _pair(mask1, mask2, masks=True)
    return _scalar(2 * (a & b).sum() / (a.sum() + b.sum()), "dice")
