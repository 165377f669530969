"""Per-label measurements in one pass over the chunks, equal to scipy.ndimage's.

Every chunk yields a small table (one row per label present in it: voxel count,
sums, sums of squared deviations, extremes and their first positions, index
sums, bounding box); the tables are combined with exact rules (counts and sums
add; variances merge with Chan's formula; extremes take the extreme). One task
per chunk, never one per label, so a million labels cost what ten do.

scipy.ndimage's measurement functions have twins of the same names and
arguments (``sum_labels``, ``sum``, ``mean``, ``variance``,
``standard_deviation``, ``minimum``, ``maximum``, ``minimum_position``,
``maximum_position``, ``extrema``, ``center_of_mass``, ``median``,
``labeled_comprehension``, ``value_indices``, ``find_objects``, ``histogram``)
that return scipy's values and types: label 0 is the background's group, an
absent label gets scipy's value for it, labels broadcast against the image and
may be float. ``median`` and ``labeled_comprehension`` gather each label's
values (see their docstrings). ``watershed_ift`` has no twin: scipy's image
foresting transform depends on the order of a global queue, which chunks
cannot reproduce.

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
import scipy.ndimage as ndi

from ._chunked import chunk_bytes, compute_blocks
from .image import SPATIAL_DIMS, as_image, geometry, require_same_shape, spacing
from .intensity import histogram

__all__ = [
    "regionprops_table", "find_objects", "center_of_mass", "sum_labels", "sum", "mean", "variance",
    "standard_deviation", "minimum", "maximum", "median", "minimum_position", "maximum_position", "extrema",
    "labeled_comprehension", "value_indices", "histogram", "label_at", "extract",
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
        arrays.append(image.data.rechunk(data.chunks))
    tables = da.map_blocks(_block_entry, *arrays, with_values=with_values, dtype=object,
                           chunks=tuple((1,) * n for n in data.numblocks))
    return _combine(compute_blocks(tables, block_bytes=chunk_bytes(*arrays)), data.ndim, with_values)


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
    """Bounding-box slices per label ``1..max``, as ``scipy.ndimage.find_objects`` (None if absent).

    One pass over the chunks. Labels up to ``max_label`` (default: the largest
    label) are reported; 0 and negative labels are background; float labels are
    truncated to int as scipy truncates them (``trunc(value - 1) + 1``; scipy needs
    ``max_label`` for them).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.measure.find_objects(np.array([[0, 2], [0, 2]]))
    [None, (slice(0, 2, None), slice(1, 2, None))]
    """
    data = _dask(labels)
    if data.dtype.kind == "c":
        raise TypeError("Complex type not supported")
    if _tiny(data):
        return ndi.find_objects(np.asarray(data), max_label)
    if max_label < 1 and data.dtype.kind not in "iu":  # scipy passes input.max() on as an int
        raise TypeError(f"'numpy.{data.dtype.type.__name__}' object cannot be interpreted as an integer")
    if data.dtype.kind == "f":  # scipy's C code truncates ``value - 1`` to an index
        data = (data - 1).astype(np.intp) + 1
    elif data.dtype.kind not in "iu":
        data = data.astype(np.intp)
    raw = _raw_table(data)
    present = raw.index[raw.index > 0] if len(raw) else []
    top = int(max_label) if max_label >= 1 else (int(present.max()) if len(present) else 0)
    out = [None] * top
    for value, row in raw.iterrows():
        if 1 <= value <= top:
            out[value - 1] = tuple(slice(int(row[f"lo{a}"]), int(row[f"hi{a}"]) + 1) for a in range(data.ndim))
    return out


# -- scipy.ndimage's label statistics ------------------------------------------------
#
# Every function below reads the chunks once: each chunk gives a small table (one row
# per group: the voxels of one index, or the single group scipy forms without an
# index), and the tables are combined with exact rules. The answers are then laid out
# with scipy's own expressions, so that types, shapes and the values scipy gives for
# label 0, absent labels and empty groups are scipy's.

_NO_IDENTITY = "zero-size array to reduction operation {} which has no identity"


def _dask(x):
    """A dask array for an image or labels argument (DataArray, dask array or array_like)."""
    if hasattr(x, "dims") and hasattr(x, "data"):
        return da.asarray(x.data)
    if isinstance(x, da.Array):
        return x
    return da.from_array(np.asarray(x))


def _operands(image, labels):
    """``(values, labels or None)``, broadcast against each other as scipy does, on the same chunks."""
    values = _dask(image)
    if labels is None:
        return values, None
    labels = _dask(labels)
    shape = np.broadcast_shapes(values.shape, labels.shape)  # scipy's ValueError when they do not broadcast
    if values.shape != shape:
        values = da.broadcast_to(values, shape)
    if labels.shape != shape:
        labels = da.broadcast_to(labels, shape)
    # a fresh copy: the image's chunks may also feed the labels (image -> filter -> label)
    return values, labels.rechunk(values.chunks)


def _tiny(values) -> bool:
    """Empty or 0-d: nothing to read, scipy itself gives the answer (and its errors)."""
    return values.size == 0 or values.ndim == 0


def _arrays(values, labels):
    return np.asarray(values), None if labels is None else np.asarray(labels)


def _selection(labels, mode, key, wanted):
    """Flat indices of the voxels in the group(s), and each one's group key."""
    if mode == "all":
        return None, None
    flat = labels.ravel()
    if mode == "positive":
        return np.flatnonzero(flat > 0), None
    if mode == "equal":
        return np.flatnonzero(flat == key), None
    where = np.flatnonzero(np.isin(flat, wanted))
    return where, flat[where]


def _label_range(labels):
    """The block's smallest and largest label."""
    flat = labels.ravel()
    return flat.min(), flat.max()


def _grouped(values, labels, mode, key, wanted, start, shape, ravel=True):
    """Values of the selected voxels sorted by group (C order inside a group), their
    global coordinates, and the groups' keys and first rows."""
    v = np.asarray(values)
    block_shape = v.shape
    v = v.ravel()
    lab = None if labels is None else np.asarray(labels)
    where, ids = _selection(lab, mode, key, wanted)
    if where is None:
        where = np.arange(v.size)
    if ids is None:
        ids = np.zeros(len(where), np.int8)
    else:
        order = np.argsort(ids, kind="stable")
        where, ids = where[order], ids[order]
    first = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, np.intp)
    coords = [c + s for c, s in zip(np.unravel_index(where, block_shape), start)]
    flat = np.ravel_multi_index(coords, shape) if ravel and len(shape) else None
    return v[where], ids[first], first, coords, flat


def _accumulator(dtype) -> np.dtype:
    """(dtype of ``np.sum`` of such values, exact dtype to add them in)."""
    total = np.zeros(1, dtype).sum().dtype
    if total.kind in "iu":
        return total, total
    return total, np.dtype(np.complex128 if total.kind == "c" else np.float64)


def _one(value, block_info):
    out = np.empty((1,) * len(block_info[0]["array-location"]), dtype=object)
    out.flat[0] = value
    return out


def _block_stats(values, labels=None, *, mode, key, wanted, need, block_info=None):
    """One chunk's table: per group count, sum, centred sum of squares, extremes and
    their first positions (flat, C order), index-weighted sums."""
    start = [lo for lo, _ in block_info[0]["array-location"]]
    shape = block_info[0]["shape"]
    table = {}
    if labels is not None:
        table["range"] = _label_range(np.asarray(labels))
    positions = "min" in need or "max" in need
    vals, keys, first, coords, flat = _grouped(values, labels, mode, key, wanted, start, shape, positions)
    table["keys"] = keys
    if not len(keys):
        return _one(table, block_info)
    count = np.diff(np.r_[first, len(vals)])
    _, acc = _accumulator(vals.dtype)
    table["n"] = count
    table["sum"] = np.add.reduceat(vals.astype(acc), first)
    if "var" in need:
        d = vals - np.repeat(table["sum"] / count, count)
        table["m2"] = np.add.reduceat((d * np.conj(d)).real, first)
    # NaN, as scipy: its sort puts NaN last, so a label's minimum is NaN only when all
    # its values are (a single group's is NaN when any is: ``vals.min()``); the maximum
    # is NaN when any value is
    lowest = np.minimum if mode != "per" else np.fmin
    for name, reduce in (("min", lowest), ("max", np.maximum)):
        if name in need:
            extreme = reduce.reduceat(vals, first)
            at = np.where(_same(vals, np.repeat(extreme, count)), np.arange(len(vals)), len(vals))
            table[name] = extreme
            table[f"arg{name}"] = flat[np.minimum.reduceat(at, first).clip(max=len(vals) - 1)]
    if "com" in need:
        weights = vals.astype(np.result_type(vals.dtype, np.float64))
        for a, c in enumerate(coords):
            table[f"w{a}"] = np.add.reduceat(weights * c, first)
    return _one(table, block_info)


def _same(a, b):
    """``a == b``, NaN equal to NaN."""
    same = a == b
    if a.dtype.kind in "fc":
        same |= np.isnan(a) & np.isnan(b)
    return same


def _groups(inverse):
    """First and last row of every run of equal ``inverse`` values (sorted)."""
    first = np.flatnonzero(np.r_[True, inverse[1:] != inverse[:-1]])
    return first, np.r_[first[1:], len(inverse)] - 1


def _combine_stats(blocks, need, ndim, single):
    blocks = [b.flat[0] for b in blocks]
    ranges = [b["range"] for b in blocks if "range" in b]
    out = {"range": _merge_ranges(ranges)}
    tables = [b for b in blocks if len(b["keys"])]
    if not tables:
        out["keys"] = np.zeros(0, blocks[0]["keys"].dtype)
        return out
    keys, inverse = np.unique(np.concatenate([t["keys"] for t in tables]), return_inverse=True)
    inverse = inverse.ravel()
    column = lambda name: np.concatenate([t[name] for t in tables])  # noqa: E731
    n_b, sum_b = column("n"), column("sum")
    out["keys"] = keys
    out["n"] = np.zeros(len(keys), np.int64)
    np.add.at(out["n"], inverse, n_b)
    out["sum"] = np.zeros(len(keys), sum_b.dtype)
    np.add.at(out["sum"], inverse, sum_b)
    if "var" in need:
        # Chan et al.: M2 = sum(M2_b) + sum(n_b |mean_b - mean|^2)
        spread = sum_b / n_b - (out["sum"] / out["n"])[inverse]
        out["m2"] = np.zeros(len(keys))
        np.add.at(out["m2"], inverse, column("m2") + n_b * (spread * np.conj(spread)).real)
    for name in ("min", "max"):
        if name in need:
            value, at = column(name), column(f"arg{name}")
            order = np.lexsort((value, inverse))
            low, high = _groups(inverse[order])
            extreme = value[order][low if name == "min" else high]
            if name == "min" and single and value.dtype.kind in "fc":
                np.minimum.at(extreme, inverse, value)  # NaN if any chunk's is (``vals.min()``)
            out[name] = extreme
            position = np.full(len(keys), np.iinfo(np.int64).max)
            hit = _same(value, extreme[inverse])
            np.minimum.at(position, inverse[hit], at[hit])
            out[f"arg{name}"] = position
    if "com" in need:
        for a in range(ndim):
            w = column(f"w{a}")
            out[f"w{a}"] = np.zeros(len(keys), w.dtype)
            np.add.at(out[f"w{a}"], inverse, w)
    return out


def _merge_ranges(ranges):
    """The smallest and largest label over the chunks."""
    return (min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else None


def _mode(labels, index):
    """scipy's groups: everything; labels > 0; labels == index; one per index value."""
    if labels is None:
        return "all", None, None
    if index is None:
        return "positive", None, None
    if np.isscalar(index):
        return "equal", index, None
    index = np.asarray(index)
    wanted = index.ravel()
    try:  # scipy casts the index to int when labels are small non-negative ints
        wanted = np.concatenate([wanted, np.asanyarray(index, np.int_).ravel()])
    except (TypeError, ValueError):
        pass
    return "per", None, np.unique(wanted)


def _safely_castable_to_int(dtype) -> bool:
    size = np.dtype(int).itemsize
    return ((np.issubdtype(dtype, np.signedinteger) and dtype.itemsize <= size)
            or (np.issubdtype(dtype, np.unsignedinteger) and dtype.itemsize < size))


def _lookup(keys, labels_dtype, label_range, size, index):
    """Row of every index value in the combined table (and whether it is there), with
    scipy's rule: compared by value, or cast to int for small non-negative int labels."""
    index = np.asarray(index)
    low, high = label_range[:2]
    probe = index
    if _safely_castable_to_int(labels_dtype) and not low < 0 and not high > size:
        probe = np.asanyarray(index, np.int_)
    if not len(keys):
        return np.zeros(index.shape, np.intp), np.zeros(index.shape, bool)
    row = np.asarray(np.searchsorted(keys, probe))
    row[row >= len(keys)] = 0
    return row, keys[row] == probe


class _Measured:
    """Per-group results, laid out as scipy lays them out."""

    def __init__(self, image, labels, index, need, *, sums=True):
        """``sums``: scipy computes the result with ``np.bincount`` (``_stats``), not by sorting (``_select``)."""
        self.values, self.labels = _operands(image, labels)
        self.index = index
        self.shape = self.values.shape
        self.tiny = _tiny(self.values)
        if self.tiny:
            return
        mode, key, wanted = _mode(self.labels, index)
        self.single = mode != "per"
        if not self.single and sums:
            if self.values.dtype.kind == "c":  # np.bincount's weights are float64
                raise TypeError(f"Cannot cast array data from dtype('{self.values.dtype}') to dtype('float64') "
                                "according to the rule 'safe'")
            if np.ndim(index) == 0:  # scipy assigns into the numpy scalar it indexed out
                raise TypeError("'numpy.int64' object does not support item assignment")
        arrays = [self.values] if self.labels is None else [self.values, self.labels]
        blocks = da.map_blocks(_block_stats, *arrays, mode=mode, key=key, wanted=wanted, need=tuple(need),
                               dtype=object, chunks=tuple((1,) * n for n in self.values.numblocks))
        table = _combine_stats(compute_blocks(blocks, block_bytes=chunk_bytes(*arrays)), tuple(need),
                               self.values.ndim, self.single)
        dtype = self.values.dtype
        total_dtype, acc = _accumulator(dtype)
        ndim = self.values.ndim
        if self.single:
            found = len(table["keys"]) > 0
            get = lambda name, empty: table[name][0] if found and name in table else empty  # noqa: E731
            self.n = int(get("n", 0))
            self.sum = total_dtype.type(get("sum", 0))
            centred = np.result_type(dtype, np.float64) if dtype.kind not in "fc" else dtype
            self.sum_c = centred.type(get("m2", 0)) if "var" in need else None
            for name in ("min", "max"):
                setattr(self, name, get(name, None))
                setattr(self, f"arg{name}", get(f"arg{name}", None))
            self.w = [get(f"w{a}", np.float64(0)) for a in range(ndim)]
            return
        row, found = _lookup(table["keys"], self.labels.dtype, table["range"], self.values.size, index)

        def pick(name, dtype):
            out = np.zeros(row.shape, dtype)
            if found.any():
                out[found] = table[name][row[found]]
            return out[()] if out.ndim == 0 else out  # a 0-d index: scipy's indexing gives a scalar

        self.n = pick("n", np.int64)
        self.sum = pick("sum", np.float64 if acc.kind != "c" else acc)
        self.sum_c = pick("m2", np.float64) if "var" in need else None
        for name in ("min", "max"):
            if name in need:
                setattr(self, name, pick(name, dtype))
                setattr(self, f"arg{name}", pick(f"arg{name}", int))
        self.w = [pick(f"w{a}", np.float64) for a in range(ndim)] if "com" in need else []

    def scipy(self, func):
        """scipy's own answer on an empty or 0-d input (nothing to read)."""
        values, labels = _arrays(self.values, self.labels)
        return func(values, labels, self.index)

    def extreme(self, name):
        if self.single and getattr(self, name) is None:
            raise ValueError(_NO_IDENTITY.format("minimum" if name == "min" else "maximum"))
        return getattr(self, name)

    def position(self, name):
        extreme = self.extreme(name.removeprefix("arg"))  # scipy's error for an empty group
        if self.single and extreme != extreme:  # NaN: scipy finds no voxel equal to it
            raise IndexError("index 0 is out of bounds for axis 0 with size 0")
        return _positions(getattr(self, name), self.shape)


def _positions(result, shape):
    """scipy's conversion of flat positions to index tuples (a tuple, or a list of tuples)."""
    dims = np.array(shape)
    dim_prod = np.cumprod([1] + list(dims[:0:-1]))[::-1]
    if np.isscalar(result):
        return tuple((np.int64(result) // dim_prod) % dims)
    return [tuple(v) for v in (np.asarray(result).reshape(-1, 1) // dim_prod) % dims]


def sum_labels(image, labels=None, index=None):
    """Sum of the values per label, as ``scipy.ndimage.sum_labels``.

    Parameters
    ----------
    image : xarray.DataArray or array_like
    labels : xarray.DataArray or array_like, optional
        Labels broadcast against ``image``. Without ``index``, all voxels with
        ``labels > 0`` form one group; without ``labels``, all voxels.
    index : scalar or array_like, optional
        The label(s) to measure; label 0 is the background, an absent label gives 0.

    Returns
    -------
    numpy scalar or numpy.ndarray
        A scalar (of ``image.sum()``'s dtype) for no or a scalar ``index``; else a
        float64 array shaped like ``index``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = np.arange(12.0).reshape(3, 4)
    >>> labels = np.array([[0, 1, 1, 2]] * 3)
    >>> bd.measure.sum_labels(image, labels, [0, 1, 2, 9])
    array([12., 33., 21.,  0.])
    """
    m = _Measured(image, labels, index, ())
    return m.scipy(ndi.sum_labels) if m.tiny else m.sum


def sum(image, labels=None, index=None):  # noqa: A001 (scipy's name)
    """scipy's alias of :func:`sum_labels`.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.measure.sum(np.array([1, 2, 3]), np.array([1, 1, 0]))
    np.int64(3)
    """
    return sum_labels(image, labels, index)


def mean(image, labels=None, index=None):
    """Mean of the values per label, as ``scipy.ndimage.mean`` (NaN for an empty group).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.measure.mean(np.array([1.0, 2.0, 6.0]), np.array([1, 1, 2]), [1, 2])
    array([1.5, 6. ])
    """
    m = _Measured(image, labels, index, ())
    if m.tiny:
        return m.scipy(ndi.mean)
    return m.sum / np.asanyarray(m.n).astype(np.float64)


def variance(image, labels=None, index=None):
    """Population variance per label, as ``scipy.ndimage.variance`` (NaN for an empty group).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.measure.variance(np.array([1.0, 3.0, 6.0]), np.array([1, 1, 2]), [1, 2])
    array([1., 0.])
    """
    m = _Measured(image, labels, index, ("var",))
    if m.tiny:
        return m.scipy(ndi.variance)
    return m.sum_c / np.asanyarray(m.n).astype(float)


def standard_deviation(image, labels=None, index=None):
    """Population standard deviation per label, as ``scipy.ndimage.standard_deviation``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> float(bd.measure.standard_deviation(np.array([1.0, 3.0, 6.0]), np.array([1, 1, 2]), 1))
    1.0
    """
    return np.sqrt(variance(image, labels, index))


def minimum(image, labels=None, index=None):
    """Smallest value per label, as ``scipy.ndimage.minimum`` (0 for an absent label in a list).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.measure.minimum(np.array([5, 2, 7, 1]), np.array([1, 1, 2, 0]), [0, 1, 2, 3])
    array([1, 2, 7, 0])
    """
    m = _Measured(image, labels, index, ("min",), sums=False)
    return m.scipy(ndi.minimum) if m.tiny else m.extreme("min")


def maximum(image, labels=None, index=None):
    """Largest value per label, as ``scipy.ndimage.maximum`` (0 for an absent label in a list).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.measure.maximum(np.array([5, 2, 7, 1]), np.array([1, 1, 2, 0]), [1, 2])
    array([5, 7])
    """
    m = _Measured(image, labels, index, ("max",), sums=False)
    return m.scipy(ndi.maximum) if m.tiny else m.extreme("max")


def minimum_position(image, labels=None, index=None):
    """Voxel index of the first smallest value per label, as ``scipy.ndimage.minimum_position``.

    A tuple, or a list of tuples for a sequence ``index``; first means first in
    C order. (scipy takes the first in C order for a scalar or no ``index``; for a
    sequence, among tied values, whichever its unstable sort puts first.)

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> [tuple(map(int, p)) for p in bd.measure.minimum_position(np.array([[4, 1], [1, 3]]), np.ones((2, 2), int), [1])]
    [(0, 1)]
    """
    m = _Measured(image, labels, index, ("min",), sums=False)
    return m.scipy(ndi.minimum_position) if m.tiny else m.position("argmin")


def maximum_position(image, labels=None, index=None):
    """Voxel index of the first largest value per label, as ``scipy.ndimage.maximum_position``.

    First in C order, as :func:`minimum_position` (and scipy, but for ties with a
    sequence ``index``, where scipy's choice depends on its unstable sort).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> tuple(int(i) for i in bd.measure.maximum_position(np.array([[4, 1], [9, 3]])))
    (1, 0)
    """
    m = _Measured(image, labels, index, ("max",), sums=False)
    return m.scipy(ndi.maximum_position) if m.tiny else m.position("argmax")


def extrema(image, labels=None, index=None):
    """``(minimums, maximums, min_positions, max_positions)``, as ``scipy.ndimage.extrema``.

    Positions as :func:`minimum_position` and :func:`maximum_position`.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> low, high, _, at = bd.measure.extrema(np.array([[4, 1], [9, 3]]))
    >>> int(low), int(high), tuple(int(i) for i in at)
    (1, 9, (1, 0))
    """
    m = _Measured(image, labels, index, ("min", "max"), sums=False)
    if m.tiny:
        return m.scipy(ndi.extrema)
    return m.extreme("min"), m.extreme("max"), m.position("argmin"), m.position("argmax")


def center_of_mass(image, labels=None, index=None):
    """Value-weighted centre per label in voxel indices, as ``scipy.ndimage.center_of_mass``.

    A tuple, or a list of tuples for a sequence ``index`` (NaN for an empty group).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> [float(c) for c in bd.measure.center_of_mass(np.array([[0, 1], [0, 3]]))]
    [0.75, 1.0]
    """
    m = _Measured(image, labels, index, ("com",))
    if m.tiny:
        return m.scipy(ndi.center_of_mass)
    results = [w / m.sum for w in m.w]
    if np.isscalar(results[0]):
        return tuple(results)
    return [tuple(v) for v in np.array(results).T]


# -- values gathered per label: median, labeled_comprehension --------------------------


def _block_values(values, labels=None, *, mode, key, wanted, block_info=None):
    """One chunk's values of every selected group, with their flat positions (C order)."""
    start = [lo for lo, _ in block_info[0]["array-location"]]
    out = {}
    vals, keys, first, _, flat = _grouped(values, labels, mode, key, wanted, start, block_info[0]["shape"])
    bounds = np.r_[first, len(vals)]
    out["groups"] = {k: (vals[a:b], flat[a:b]) for k, a, b in zip(keys.tolist(), bounds[:-1], bounds[1:])}
    return _one(out, block_info)


def _combine_values(blocks, reduce, keys=None):
    """``reduce(values, positions)`` for every group (or those in ``keys``), its values
    gathered from the chunks in C order, one group at a time."""
    blocks = [b.flat[0] for b in blocks]
    keys = sorted(set().union(*[b["groups"] for b in blocks])) if keys is None else keys
    results = {}
    for key in keys:
        pieces = [b["groups"][key] for b in blocks if key in b["groups"]]
        positions = np.concatenate([p for _, p in pieces])
        order = np.argsort(positions, kind="stable")
        results[key] = reduce(np.concatenate([v for v, _ in pieces])[order], positions[order])
    return results


def _gather(values, labels, mode, key, wanted, reduce):
    """``{group key: reduce(values, positions)}`` for scipy's single group: its values
    are gathered into one task."""
    arrays = [values] if labels is None else [values, labels]
    blocks = da.map_blocks(_block_values, *arrays, mode=mode, key=key, wanted=wanted,
                           dtype=object, chunks=tuple((1,) * n for n in values.numblocks))
    return _combine_values(compute_blocks(blocks, block_bytes=chunk_bytes(*arrays)), reduce)


_BATCH_VOXELS = 2**24  # voxels of the labels gathered together in one task (one label may exceed it)


def _block_presence(labels, *, wanted, block_info=None):
    """A chunk's smallest and largest label and the voxel count of each wanted label in it."""
    flat = np.asarray(labels).ravel()
    keys, counts = np.unique(flat[np.isin(flat, wanted)], return_counts=True)
    return _one({"range": _label_range(flat), "keys": keys, "n": counts}, block_info)


def _combine_presence(blocks):
    """The labels' range, and per wanted label present: its voxel count and its chunks (C order)."""
    blocks = [b.flat[0] for b in blocks]
    present = {}
    for chunk, block in enumerate(blocks):
        for key, n in zip(block["keys"].tolist(), block["n"].tolist()):
            entry = present.setdefault(key, [0, []])
            entry[0] += n
            entry[1].append(chunk)
    return _merge_ranges([b["range"] for b in blocks]), present


def _gather_per_label(values, labels, wanted, reduce):
    """``({label: reduce(values, positions)}, label range)`` for the wanted labels present.

    A first pass over the labels finds which chunks hold each label; then the
    labels are reduced in batches of about ``_BATCH_VOXELS`` voxels (neighbours in
    the chunk grid together), each batch in one task that reads the gathered
    values of its chunks only: a chunk's values are released once its batches are
    done, and memory holds the values of a batch of labels, not of the volume.
    """
    grid = tuple((1,) * n for n in values.numblocks)
    presence = da.map_blocks(_block_presence, labels, wanted=wanted, dtype=object, chunks=grid)
    label_range, present = _combine_presence(compute_blocks(presence, block_bytes=chunk_bytes(labels)))
    if not present:
        return {}, label_range
    keys = sorted(present, key=lambda k: (present[k][1][0], k))
    gathered = da.map_blocks(_block_values, values, labels, mode="per", key=None,
                             wanted=np.array(sorted(present), dtype=labels.dtype), dtype=object,
                             chunks=grid).to_delayed().ravel()
    batches, batch, voxels = [], [], 0
    for key in keys:
        if batch and voxels + present[key][0] > _BATCH_VOXELS:
            batches.append(batch)
            batch, voxels = [], 0
        batch.append(key)
        voxels += present[key][0]
    batches.append(batch)
    tasks = []
    for batch in batches:
        chunks = sorted(set().union(*[present[k][1] for k in batch]))
        tasks.append(dask.delayed(_combine_batch)(batch, reduce, *[gathered[c] for c in chunks]))
    results = {}
    for part in dask.compute(*tasks):
        results.update(part)
    return results, label_range


def _combine_batch(keys, reduce, *blocks):
    return _combine_values(blocks, reduce, keys)


def _block_min_at(values, labels, *, label, block_info=None):
    """The smallest value (in sort order) at ``label`` in a chunk, if it is there."""
    at = np.asarray(labels).ravel() == label
    return _one(np.sort(np.asarray(values).ravel()[at])[:1], block_info)


def _min_at(values, labels, label):
    blocks = da.map_blocks(_block_min_at, values, labels, label=label, dtype=object,
                           chunks=tuple((1,) * n for n in values.numblocks))
    found = [b.flat[0] for b in dask.compute(*blocks.to_delayed().ravel())]
    return np.sort(np.concatenate(found))[0]


def _middle_pair(values, _positions):
    """The two middle values (equal for an odd count), as scipy's median takes them."""
    values = np.sort(values)
    step = (len(values) - 1) // 2
    return values[step], values[len(values) - 1 - step]


def _median_of(values, _positions):
    return np.median(values)


def median(image, labels=None, index=None):
    """Median of the values per label, as ``scipy.ndimage.median``.

    Not a one-pass statistic: the values of each label are gathered. A first
    pass over the labels finds the chunks each requested label lies in; then the
    labels' values are gathered from those chunks and sorted in tasks that each
    hold a batch of labels (about 16 M voxels, or one larger label). Without
    ``labels`` (or ``index``, or with a scalar ``index``) scipy's single group is
    gathered into one task: the whole (labelled) volume. An absent label in a
    sequence ``index`` gets scipy's value for it (the smallest value at the
    smallest label), with one more pass.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> bd.measure.median(np.array([1.0, 5.0, 2.0, 7.0]), np.array([1, 1, 1, 2]), [1, 2])
    array([2., 7.])
    """
    values, labels_ = _operands(image, labels)
    if _tiny(values):
        return ndi.median(*_arrays(values, labels_), index)
    mode, key, wanted = _mode(labels_, index)
    if mode != "per":
        groups = _gather(values, labels_, mode, key, wanted, _median_of)
        return groups[0] if groups else np.median(np.zeros(0, values.dtype))
    groups, label_range = _gather_per_label(values, labels_, wanted, _middle_pair)
    keys = np.array(sorted(groups), dtype=labels_.dtype)
    row, found = _lookup(keys, labels_.dtype, label_range, values.size, index)
    # scipy's value for an absent label: the smallest value at the smallest label
    absent = _min_at(values, labels_, label_range[0]) if not found.all() else 0
    low = np.full(row.shape, absent, dtype=values.dtype)
    high = low.copy()
    for at in np.ndindex(found.shape):
        if found[at]:
            low[at], high[at] = groups[keys[row[at]].item()]
    if np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.bool_):
        return (low.astype("d") + high.astype("d")) / 2.0
    return (low + high) / 2.0


class _Apply:
    """``func(values)`` or ``func(values, positions)`` (a picklable reducer)."""

    def __init__(self, func, pass_positions):
        self.func, self.pass_positions = func, pass_positions

    def __call__(self, values, positions):
        return self.func(values, positions) if self.pass_positions else self.func(values)


def labeled_comprehension(image, labels, index, *, func, out_dtype, default, pass_positions=False):
    """``func`` applied to the values of every label, as ``scipy.ndimage.labeled_comprehension``.

    Not a one-pass statistic: the values of each label (in C order, and with
    ``pass_positions`` their flat indices in C order) are gathered from the
    chunks it lies in (found by a first pass over the labels) into a task that
    holds a batch of labels (about 16 M voxels, or one larger label), where
    ``func`` runs on each. Without ``labels`` or ``index`` scipy's single group
    is gathered into one task: the whole (labelled) volume. ``func`` is called
    once per distinct index value present, possibly from several threads at
    once (scipy: once per index value, in increasing order, with a label's
    values in the order of an unstable sort).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = np.array([[1, 2, 0, 0], [5, 3, 0, 4], [0, 0, 0, 7], [9, 3, 0, 0]])
    >>> labels = bd.label(image)[0]
    >>> bd.measure.labeled_comprehension(image, labels, [1, 2, 3, 4], func=np.mean, out_dtype=float, default=-1)
    array([ 2.75,  5.5 ,  6.  , -1.  ])
    """
    as_scalar = np.isscalar(index)
    reduce = _Apply(func, pass_positions)
    if labels is None:
        if index is not None:
            raise ValueError("index without defined labels")
        values = _dask(image)
        if _tiny(values):
            return ndi.labeled_comprehension(np.asarray(values), None, None, func, out_dtype, default,
                                             pass_positions)
        return _gather(values, None, "all", None, None, reduce)[0]
    try:
        values, labels = _operands(image, labels)
    except ValueError as e:
        raise ValueError("input and labels must have the same shape (excepting dimensions with width 1)") from e
    if _tiny(values):
        return ndi.labeled_comprehension(*_arrays(values, labels), index, func, out_dtype, default, pass_positions)
    if index is None:
        groups = _gather(values, labels, "positive", None, None, reduce)
        return groups[0] if groups else reduce(np.zeros(0, values.dtype), np.zeros(0, int))
    index = np.atleast_1d(index)
    if np.any(index.astype(labels.dtype).astype(index.dtype) != index):
        raise ValueError(f"Cannot convert index values from <{index.dtype}> to <{labels.dtype}> "
                         "(labels' type) without loss of precision")
    index = index.astype(labels.dtype)
    groups, _ = _gather_per_label(values, labels, np.unique(index), reduce)
    temp = np.empty(index.shape, out_dtype)
    temp[:] = default
    for at, value in np.ndenumerate(index):
        if value.item() in groups:
            temp[at] = groups[value.item()]
    output = np.zeros(index.shape, out_dtype)
    output[...] = temp
    return output[0] if as_scalar else output


# -- value_indices ---------------------------------------------------------------------


def _block_indices(block, *, ignore, block_info=None):
    """One chunk's voxels of every value, as global flat indices (C order)."""
    start = [lo for lo, _ in block_info[0]["array-location"]]
    flat = np.asarray(block).ravel()
    where = np.arange(flat.size) if ignore is None else np.flatnonzero(flat != ignore)
    order = np.argsort(flat[where], kind="stable")
    where = where[order]
    ids = flat[where]
    first = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, np.intp)
    coords = [c + s for c, s in zip(np.unravel_index(where, block.shape), start)]
    positions = np.ravel_multi_index(coords, block_info[0]["shape"])
    bounds = np.r_[first, len(ids)]
    return _one({k: positions[a:b] for k, a, b in zip(ids[first].tolist(), bounds[:-1], bounds[1:])}, block_info)


def _combine_indices(blocks, shape, dtype):
    blocks = [b.flat[0] for b in blocks]
    out = {}
    for key in sorted(set().union(*blocks)):
        positions = np.sort(np.concatenate([b[key] for b in blocks if key in b]))
        out[dtype.type(key)] = np.unravel_index(positions, shape)
    return out


def value_indices(arr, *, ignore_value=None) -> dict:
    """The voxel indices of every distinct value, as ``scipy.ndimage.value_indices``.

    Exact across chunks: a dict, in increasing value order, from each value (a
    numpy scalar of ``arr``'s dtype) to a tuple of index arrays (C order), as
    ``np.nonzero(arr == value)``. The indices of the whole volume are returned
    (they are the result); each chunk is read once.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> found = bd.measure.value_indices(np.array([[2, 0], [2, 5]]), ignore_value=0)
    >>> {int(k): [i.tolist() for i in v] for k, v in found.items()}
    {2: [[0, 1], [0, 0]], 5: [[1], [1]]}
    """
    data = _dask(arr)
    if data.dtype.kind not in "iu":
        raise ValueError("Parameter 'arr' must be an integer array")
    ignore = None
    if ignore_value is not None:
        ignore = np.zeros((1,), dtype=data.dtype)
        ignore[0] = ignore.dtype.type(ignore_value)
        ignore = ignore[0]
    if _tiny(data):
        return ndi.value_indices(np.asarray(data), ignore_value=ignore_value)
    blocks = da.map_blocks(_block_indices, data, ignore=ignore, dtype=object,
                           chunks=tuple((1,) * n for n in data.numblocks))
    return _combine_indices(compute_blocks(blocks, block_bytes=chunk_bytes(data)), data.shape, data.dtype)


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
