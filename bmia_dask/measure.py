"""Per-label measurements in one pass over the chunks, equal to scipy.ndimage's.

Every chunk yields a small table (one row per label present in it: voxel count,
sums, sums of squared deviations, extremes, index sums, bounding box); the
tables are combined with exact rules (counts and sums add; variances merge with
Chan's formula; extremes take the extreme). One task per chunk, never one per
label, so a million labels cost what ten do.

Examples
--------
>>> import numpy as np, bmia_dask as bd
>>> labels = np.zeros((4, 6, 6), np.int32)
>>> labels[1:3, 1:4, 1:4] = 1
>>> labels[0, 5, 5] = 2
>>> image = bd.from_array(labels * 10.0, spacing=(2.0, 1.0, 1.0))
>>> table = bd.regionprops_table(bd.from_array(labels, spacing=(2.0, 1.0, 1.0)), image)
>>> table[["label", "n_voxels", "volume_mm3", "mean"]].values.tolist()
[[1.0, 18.0, 36.0, 10.0], [2.0, 1.0, 2.0, 20.0]]
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pandas as pd

from ._chunked import collect_in_sweep, fresh_copy
from .image import SPATIAL_DIMS, as_image, geometry, like, require_same_shape, spacing
from .intensity import histogram

__all__ = [
    "regionprops_table", "find_objects", "center_of_mass", "sum_labels", "mean", "variance", "minimum",
    "maximum", "maximum_position", "label_at", "extract", "histogram",
]


_PIECE_VOXELS = 2**20


def _block_table(labels, values, start, with_values: bool) -> pd.DataFrame:
    """One row per label present in a block (rows of slabs of the block, combined later).

    The block is read in slabs of about a million voxels, so that the voxel lists
    sorted here stay small whatever the chunk size.
    """
    labels = np.asarray(labels)
    step = max(1, _PIECE_VOXELS // max(1, labels[0].size))
    if labels.shape[0] > step:
        values = None if values is None else np.asarray(values)
        pieces = [
            _slab_table(labels[i : i + step], None if values is None else values[i : i + step],
                        (start[0] + i, *start[1:]), with_values)
            for i in range(0, labels.shape[0], step)
        ]
        return pd.concat([p for p in pieces if len(p)], ignore_index=True) if any(len(p) for p in pieces) \
            else pd.DataFrame()
    return _slab_table(labels, values, start, with_values)


def _slab_table(labels, values, start, with_values: bool) -> pd.DataFrame:
    flat = labels.ravel()
    where = np.flatnonzero(flat)
    if where.size == 0:
        return pd.DataFrame()
    ids = flat[where]
    order = np.argsort(ids, kind="stable")
    where, ids = where[order], ids[order]
    del order
    first = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    count = np.diff(np.r_[first, len(ids)])
    table = {"label": ids[first].astype(np.int64), "n": count}
    del ids
    strides = np.cumprod((labels.shape[1:] + (1,))[::-1])[::-1]
    v = np.asarray(values).ravel()[where].astype(np.float64) if with_values else None
    for axis, (stride, size) in enumerate(zip(strides, labels.shape)):
        c = where // stride % size + start[axis]  # this axis' global index of every voxel
        table[f"isum{axis}"] = np.add.reduceat(c, first).astype(np.float64)
        table[f"lo{axis}"] = np.minimum.reduceat(c, first)
        table[f"hi{axis}"] = np.maximum.reduceat(c, first)
        if with_values:
            table[f"wsum{axis}"] = np.add.reduceat(v * c, first)
        del c
    if with_values:
        total = np.add.reduceat(v, first)
        table["sum"] = total
        table["m2"] = np.add.reduceat((v - np.repeat(total / count, count)) ** 2, first)
        table["min"] = np.minimum.reduceat(v, first)
        table["max"] = np.maximum.reduceat(v, first)
        # the first position of the maximum in C order, as scipy reports it
        candidate = np.where(v == np.repeat(table["max"], count), np.arange(len(v)), len(v))
        at = where[np.minimum.reduceat(candidate, first)]
        for axis, index in enumerate(np.unravel_index(at, labels.shape)):
            table[f"argmax{axis}"] = index + start[axis]
    return pd.DataFrame(table)


def _block_entry(labels, values=None, *, with_values, block_info=None):
    """A block's table, wrapped in a one-element object array (a dask chunk)."""
    start = tuple(int(lo) for lo, _ in block_info[0]["array-location"])
    out = np.empty((1,) * labels.ndim, dtype=object)
    out.flat[0] = _block_table(labels, values, start, with_values)
    return out


def _combine(tables, ndim: int, with_values: bool) -> pd.DataFrame:
    tables = [t.flat[0] for t in tables]
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame()
    rows = pd.concat(tables, ignore_index=True)
    grouped = rows.groupby("label", sort=True)
    out = grouped[["n"] + [f"isum{a}" for a in range(ndim)]].sum()
    for a in range(ndim):
        out[f"lo{a}"] = grouped[f"lo{a}"].min()
        out[f"hi{a}"] = grouped[f"hi{a}"].max()
    if with_values:
        out["sum"] = grouped["sum"].sum()
        out["mean"] = out["sum"] / out["n"]
        # Chan et al.: M2 = sum(M2_b) + sum(n_b * (mean_b - mean)^2)
        spread = rows["n"] * (rows["sum"] / rows["n"] - rows["label"].map(out["mean"])) ** 2
        out["m2"] = grouped["m2"].sum() + spread.groupby(rows["label"]).sum()
        out["min"] = grouped["min"].min()
        out["max"] = grouped["max"].max()
        for a in range(ndim):
            out[f"wsum{a}"] = grouped[f"wsum{a}"].sum()
        # the maximum's first position in C order over the whole volume
        at_max = rows[rows["max"] == rows["label"].map(out["max"])]
        at_max = at_max.sort_values([f"argmax{a}" for a in range(ndim)]).drop_duplicates("label")
        for a in range(ndim):
            out[f"argmax{a}"] = at_max.set_index("label")[f"argmax{a}"]
    return out


def _raw_table(labels, image=None) -> pd.DataFrame:
    labels = as_image(labels)
    if labels.dtype.kind not in "iub":
        raise ValueError(f"labels must be an integer image, got dtype {labels.dtype}")
    data = labels.data
    with_values = image is not None
    arrays = [data]
    if with_values:
        image = as_image(image)
        require_same_shape(labels, image, "labels", "image")
        # a fresh copy: the image's chunks may also feed the labels (image -> filter
        # -> label); a chunk of its own is read in the same task as its table, and
        # none is held until the labels' last pass
        arrays.append(fresh_copy(image.data).rechunk(data.chunks))
    tables = da.map_blocks(_block_entry, *arrays, with_values=with_values, dtype=object,
                           chunks=tuple((1,) * n for n in data.numblocks))
    return dask.delayed(_combine)(collect_in_sweep(tables.to_delayed()), data.ndim, with_values).compute()


def regionprops_table(labels, image=None, properties=None) -> pd.DataFrame:
    """One row per label: size, intensity statistics, centroids in mm, bounding box.

    Parameters
    ----------
    labels : xarray.DataArray or array_like
        Integer labels (0 is background), e.g. from :func:`bmia_dask.label`.
    image : xarray.DataArray or array_like, optional
        Intensities on the same grid, for ``sum``, ``mean``, ``variance``,
        ``min``, ``max``, ``max_position_*`` and the intensity-weighted
        ``center_of_mass_*_mm``.
    properties : sequence of str, optional
        Columns to keep (``label`` always comes first). Default: all.

    Returns
    -------
    pandas.DataFrame
        ``label``, ``n_voxels``, ``volume_mm3``, ``centroid_{z,y,x}_mm`` (and
        ``centroid_t_ms`` for 4D), ``bbox_{dim}_start`` / ``bbox_{dim}_stop``
        (voxel indices, stop exclusive), and with ``image``: ``sum``, ``mean``,
        ``variance`` (population, as scipy), ``min``, ``max``,
        ``max_position_{dim}`` (voxel index) and ``center_of_mass_{z,y,x}_mm``.
        Sums, means and centres of mass equal ``ndi.sum_labels``,
        ``ndi.mean``, ``ndi.variance``, ``ndi.center_of_mass`` to rounding.
    """
    labels = as_image(labels)
    raw = _raw_table(labels, image)
    dims = labels.dims
    geo = geometry(labels)
    offset = dict(zip(SPATIAL_DIMS, geo.offset))
    step = dict(zip(SPATIAL_DIMS, geo.spacing))
    voxel_mm3 = float(np.prod(spacing(labels)))
    table = pd.DataFrame({"label": raw.index.to_numpy(dtype=np.int64)} if len(raw) else {"label": []})
    if len(raw):
        table["n_voxels"] = raw["n"].to_numpy()
        table["volume_mm3"] = table["n_voxels"] * voxel_mm3
        if image is not None:
            table["sum"] = raw["sum"].to_numpy()
            table["mean"] = raw["mean"].to_numpy()
            table["variance"] = (raw["m2"] / raw["n"]).to_numpy()
            table["min"] = raw["min"].to_numpy()
            table["max"] = raw["max"].to_numpy()
        for a, d in enumerate(dims):
            index = (raw[f"isum{a}"] / raw["n"]).to_numpy()
            if d == "t":
                table["centroid_t_ms"] = np.interp(index, np.arange(labels.sizes["t"]), labels["t"].values)
            else:
                table[f"centroid_{d}_mm"] = offset[d] + index * step[d]
        if image is not None:
            for a, d in enumerate(dims):
                if d != "t":
                    table[f"center_of_mass_{d}_mm"] = offset[d] + (raw[f"wsum{a}"] / raw["sum"]).to_numpy() * step[d]
            for a, d in enumerate(dims):
                table[f"max_position_{d}"] = raw[f"argmax{a}"].to_numpy().astype(np.int64)
        for a, d in enumerate(dims):
            table[f"bbox_{d}_start"] = raw[f"lo{a}"].to_numpy().astype(np.int64)
            table[f"bbox_{d}_stop"] = raw[f"hi{a}"].to_numpy().astype(np.int64) + 1
    if properties is not None:
        missing = [p for p in properties if p not in table.columns]
        if missing:
            raise ValueError(f"properties {missing} are not available; available: {list(table.columns)}")
        table = table[["label"] + [p for p in properties if p != "label"]]
    return table


def find_objects(labels, max_label: int = 0) -> list:
    """Bounding-box slices per label ``1..max``, as ``scipy.ndimage.find_objects`` (None if absent)."""
    labels = as_image(labels)
    raw = _raw_table(labels)
    top = max(int(max_label), int(raw.index.max()) if len(raw) else 0)
    out = [None] * top
    for value, row in raw.iterrows():
        if value <= top:
            out[value - 1] = tuple(slice(int(row[f"lo{a}"]), int(row[f"hi{a}"]) + 1) for a in range(labels.ndim))
    return out


def _per_index(image, labels, index, column):
    """scipy's (input, labels, index) convention over one combined table."""
    image = as_image(image)
    if labels is None:
        # ones of their own, not derived from the image: sharing its graph breaks dask's fusion
        labels = like(image, da.ones(image.shape, dtype=np.int8, chunks=image.data.chunks))
        index = 1 if index is None else index
    elif index is None:  # scipy: all labelled voxels together, one value
        labels, index = as_image(labels) > 0, 1
    raw = _raw_table(labels, image)
    wanted = np.atleast_1d(index)
    result = [column(raw.loc[i]) if i in raw.index else np.nan for i in wanted]
    return result if np.ndim(index) else result[0]


def sum_labels(image, labels=None, index=None):
    """As ``scipy.ndimage.sum_labels``."""
    return _per_index(image, labels, index, lambda r: float(r["sum"]))


def mean(image, labels=None, index=None):
    """As ``scipy.ndimage.mean``."""
    return _per_index(image, labels, index, lambda r: float(r["mean"]))


def variance(image, labels=None, index=None):
    """As ``scipy.ndimage.variance`` (population variance)."""
    return _per_index(image, labels, index, lambda r: float(r["m2"] / r["n"]))


def minimum(image, labels=None, index=None):
    """As ``scipy.ndimage.minimum``."""
    return _per_index(image, labels, index, lambda r: float(r["min"]))


def maximum(image, labels=None, index=None):
    """As ``scipy.ndimage.maximum``."""
    return _per_index(image, labels, index, lambda r: float(r["max"]))


def maximum_position(image, labels=None, index=None):
    """As ``scipy.ndimage.maximum_position``: voxel index of the (first) maximum."""
    ndim = as_image(image).ndim
    return _per_index(image, labels, index, lambda r: tuple(int(r[f"argmax{a}"]) for a in range(ndim)))


def center_of_mass(image, labels=None, index=None):
    """As ``scipy.ndimage.center_of_mass``: intensity-weighted centre, in voxel indices."""
    ndim = as_image(image).ndim
    return _per_index(image, labels, index, lambda r: tuple(float(r[f"wsum{a}"] / r["sum"]) for a in range(ndim)))


def label_at(labels, **position_mm) -> int:
    """The label at a point given in the image's coords (mm; ``t`` in ms), nearest voxel.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> labels = bd.from_array(np.array([[0, 1], [2, 2]]), spacing=(5.0, 5.0))
    >>> label_at(labels, y=5.0, x=0.0)
    2
    """
    labels = as_image(labels)
    unknown = set(position_mm) - set(labels.dims)
    if unknown or set(position_mm) != set(labels.dims):
        raise ValueError(f"give one coordinate per dim {labels.dims}, got {sorted(position_mm)}")
    for dim, value in position_mm.items():
        coord = labels[dim].values
        step = abs(coord[1] - coord[0]) if coord.size > 1 else 0.0
        if not coord.min() - step / 2 <= value <= coord.max() + step / 2:
            raise ValueError(f"{dim}={value} lies outside the image ({coord.min()} to {coord.max()})")
    return int(labels.sel(position_mm, method="nearest").values)


def extract(image, labels, label: int, *, mask: bool = False):
    """The image cropped to the bounding box of one label (lazy; coords follow).

    With ``mask=True`` voxels of other labels are set to 0.
    """
    image, labels = as_image(image), as_image(labels)
    require_same_shape(labels, image, "labels", "image")
    boxes = find_objects(labels)
    if not 1 <= label <= len(boxes) or boxes[label - 1] is None:
        raise ValueError(f"label {label} is not in the labels image")
    box = dict(zip(image.dims, boxes[label - 1]))
    crop = image.isel(box)
    if mask:
        crop = crop.where(labels.isel(box) == label, 0).astype(image.dtype)
        crop.attrs = dict(image.attrs)
    return crop
