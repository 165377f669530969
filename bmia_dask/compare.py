"""Compare two images: MAE, MSE, IoU, Dice, NCC, mutual information, as lazy scalars.

Each returns a 0-d lazy ``xarray.DataArray``: ``float(result)`` or
``result.compute()`` computes it, and several can be computed in one pass with
``dask.compute``.

Images on different grids (other spacing, origin or orientation, as two scans
of one subject) are compared in patient space: ``image2`` is resampled onto
``image1``'s grid (linear; nearest for masks) and only the voxels where the two
overlap count. Plain arrays have no placement, so they must share a shape.

The formulas are written once for numpy and dask arrays alike, with optional
weights (the overlap): :func:`bmia_dask.register` evaluates the same ones in
memory on its pyramid levels.

Examples
--------
>>> import numpy as np, bmia_dask as bd
>>> a = bd.from_array(np.array([[0, 1, 1, 0]], dtype=bool))
>>> b = bd.from_array(np.array([[0, 1, 0, 1]], dtype=bool))
>>> float(bd.compare.iou(a, b)), float(bd.compare.dice(a, b))
(0.3333333333333333, 0.5)
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import xarray as xr

from .image import as_image, geometry, require_same_shape, spatial_dims

__all__ = ["mae", "mse", "iou", "dice", "ncc", "mutual_information", "overlaps"]


# --- the formulas: numpy or dask arrays, ``weight`` None or a boolean overlap -------------

def _sum(x, weight):
    return x.sum() if weight is None else (x * weight).sum()


def mean_of(x, weight):
    return x.mean() if weight is None else _sum(x, weight) / weight.sum()


def mae_of(a, b, weight=None):
    return mean_of(abs(a - b), weight)


def mse_of(a, b, weight=None):
    return mean_of((a - b) ** 2, weight)


def iou_of(a, b, weight=None):
    """``sum(min) / sum(max)``: IoU for masks, its soft form for fractions in [0, 1]."""
    return _sum(np.minimum(a, b), weight) / _sum(np.maximum(a, b), weight)


def dice_of(a, b, weight=None):
    return 2 * _sum(np.minimum(a, b), weight) / (_sum(a, weight) + _sum(b, weight))


def ncc_of(a, b, weight=None):
    """Pearson correlation of the values (1: equal up to a linear map)."""
    da_, db_ = a - mean_of(a, weight), b - mean_of(b, weight)
    return _sum(da_ * db_, weight) / (_sum(da_ * da_, weight) * _sum(db_ * db_, weight)) ** 0.5


def mutual_information_of(a, b, weight=None, *, bins=32, ranges):
    """Mutual information (nats) from the joint histogram over ``ranges``."""
    weights = None if weight is None else weight.ravel().astype(np.float64)
    if isinstance(a, da.Array):
        joint, _, _ = da.histogram2d(a.ravel(), b.ravel(), bins=bins, range=ranges, weights=weights)
    else:  # equal bins by arithmetic: many times faster than np.histogram2d, for the optimiser
        (low_a, high_a), (low_b, high_b) = ranges
        index_a = np.clip(((a.ravel() - low_a) * (bins / (high_a - low_a))).astype(np.intp), 0, bins - 1)
        index_b = np.clip(((b.ravel() - low_b) * (bins / (high_b - low_b))).astype(np.intp), 0, bins - 1)
        joint = np.bincount(index_a * bins + index_b, weights, minlength=bins * bins).reshape(bins, bins)
    return _mutual_information(joint)


def _mutual_information(joint):
    def finish(joint):
        p = joint / joint.sum()
        pa, pb = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
        nonzero = p > 0
        return np.float64((p[nonzero] * np.log(p[nonzero] / (pa @ pb)[nonzero])).sum())

    if isinstance(joint, da.Array):
        return da.map_blocks(finish, joint.rechunk(-1), drop_axis=[0, 1], dtype=np.float64)
    return finish(joint)


# --- the lazy public scalars --------------------------------------------------------------

def overlaps(image1, image2) -> bool:
    """Whether the extents of two images meet in patient space (corner boxes, in voxels of ``image1``).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> a = bd.from_array(np.zeros((4, 4, 4)))
    >>> bd.compare.overlaps(a, bd.from_array(np.zeros((4, 4, 4)), origin=(2.0, 0.0, 0.0)))
    True
    >>> bd.compare.overlaps(a, bd.from_array(np.zeros((4, 4, 4)), origin=(10.0, 0.0, 0.0)))
    False
    """
    from .transform import voxel_map

    image1, image2 = as_image(image1), as_image(image2)
    index_map = voxel_map(image1, image2)  # image2 index -> image1 index
    shape1, shape2 = _spatial_shape(image1), _spatial_shape(image2)
    corners = np.array(np.meshgrid(*[(-0.5, n - 0.5) for n in shape2], indexing="ij")).reshape(3, -1).T
    mapped = corners @ index_map[:3, :3].T + index_map[:3, 3]
    low, high = mapped.min(axis=0), mapped.max(axis=0)
    return bool(((high > -0.5) & (low < np.array(shape1) - 0.5)).all())


def _spatial_shape(image):
    sizes = dict(zip(image.dims, image.shape))
    return [sizes.get(d, 1) for d in ("z", "y", "x")]


def _same_grid(image1, image2) -> bool:
    if image1.dims != image2.dims or image1.shape != image2.shape:
        return False
    return np.allclose(geometry(image1).affine, geometry(image2).affine, rtol=1e-9, atol=1e-6)


def _pair(image1, image2, *, masks=False):
    """``(a, b, weight)``: dask arrays on ``image1``'s grid and the overlap (None: all of it)."""
    placed = isinstance(image1, xr.DataArray) and isinstance(image2, xr.DataArray)
    image1, image2 = as_image(image1), as_image(image2)
    if masks:
        for name, image in (("image1", image1), ("image2", image2)):
            if image.dtype != bool:
                raise ValueError(f"{name} must be a boolean mask, got dtype {image.dtype}")
    if not placed or _same_grid(image1, image2):
        require_same_shape(image1, image2, "image1", "image2")
        if image1.dims != image2.dims:
            raise ValueError(f"image2 dims {image2.dims} do not match image1 dims {image1.dims}")
        return image1.data, image2.data.rechunk(image1.data.chunks), None
    if len(spatial_dims(image1)) != len(spatial_dims(image2)):
        raise ValueError(f"image2 dims {image2.dims} and image1 dims {image1.dims}: both must be 2D or both 3D")
    if not overlaps(image1, image2):
        raise ValueError("image1 and image2 do not overlap in patient space")
    from .transform import resample

    moved = resample(image2.astype(np.float64), like=image1, order=0 if masks else 1, cval=np.nan)
    require_same_shape(image1, moved, "image1", "image2 on image1's grid")
    b = moved.data
    weight = ~da.isnan(b)
    b = da.where(weight, b, 0.0)
    return image1.data, (b > 0.5) if masks else b, weight


def _scalar(value, name):
    return xr.DataArray(value, name=name)


def _floats(image1, image2):
    a, b, weight = _pair(image1, image2)
    return a.astype(np.float64), b.astype(np.float64), weight


def mae(image1, image2):
    """Mean absolute error ``mean(|image1 - image2|)``, in float64 (no integer wrap-around)."""
    return _scalar(mae_of(*_floats(image1, image2)), "mae")


def mse(image1, image2):
    """Mean squared error ``mean((image1 - image2)**2)``, in float64."""
    return _scalar(mse_of(*_floats(image1, image2)), "mse")


def ncc(image1, image2):
    """Normalised cross-correlation (Pearson's r of the voxel values) over the overlap.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> a = np.arange(12.0).reshape(3, 4)
    >>> round(float(bd.compare.ncc(a, 2 * a + 1)), 12)
    1.0
    """
    return _scalar(ncc_of(*_floats(image1, image2)), "ncc")


def mutual_information(image1, image2, *, bins: int = 32):
    """Mutual information (nats) of the two images' values, from a ``bins`` x ``bins`` joint histogram.

    Unlike the others this computes the two value ranges first (one pass)
    to place the histogram bins; the information itself stays lazy.
    """
    if isinstance(bins, bool) or int(bins) != bins or bins < 2:
        raise ValueError(f"bins must be a whole number >= 2, got {bins!r}")
    a, b, weight = _floats(image1, image2)
    low_a, high_a, low_b, high_b = dask.compute(a.min(), a.max(), b.min(), b.max())
    ranges = [[float(low), max(float(high), float(low) + 1e-9)] for low, high in ((low_a, high_a), (low_b, high_b))]
    return _scalar(mutual_information_of(a, b, weight, bins=int(bins), ranges=ranges), "mutual_information")


def iou(mask1, mask2):
    """Intersection over union of two boolean masks (NaN when both are empty)."""
    return _scalar(iou_of(*_pair(mask1, mask2, masks=True)), "iou")


def dice(mask1, mask2):
    """Dice coefficient ``2 |A and B| / (|A| + |B|)`` of two boolean masks."""
    return _scalar(dice_of(*_pair(mask1, mask2, masks=True)), "dice")
