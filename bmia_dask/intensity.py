"""Intensity: histograms (also per label), CDF, equalisation, windowing, value range.

Histograms are computed in one pass over the chunks and equal
``scipy.ndimage.histogram`` bin for bin (the same bin edges, the same rule for
values on an edge).

Examples
--------
>>> import numpy as np, scipy.ndimage as ndi, bmia_dask as bd
>>> data = np.random.default_rng(0).integers(0, 256, (10, 20, 30)).astype(np.uint8)
>>> image = bd.from_array(data, chunks=(3, 7, 11))
>>> bool((bd.intensity.histogram(image, 0, 255, 256) == ndi.histogram(data, 0, 255, 256)).all())
True
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np

from .image import as_image, like

__all__ = ["histogram", "cdf", "equalize_hist", "window", "value_range"]


def _bin_edges(min, max, bins) -> np.ndarray:
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be a whole number >= 1, got {bins!r}")
    if not max > min:
        raise ValueError(f"max must be greater than min, got min={min!r}, max={max!r}")
    return np.linspace(min, max, int(bins) + 1)  # as scipy.ndimage.histogram


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value as np.histogram counts it (last edge inclusive); -1 outside."""
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = len(edges) - 2
    index[(values < edges[0]) | (values > edges[-1]) | np.isnan(values)] = -1
    return index


def _block_histogram(values, labels, edges, index):
    """Counts per bin, one row per ``index`` value (or one row without labels); with
    labels a last column counts every voxel of the label (in range or not)."""
    bins = len(edges) - 1
    values = np.asarray(values).ravel()
    which = _bin_index(values.astype(np.float64), edges) if bins > 0 else np.full(values.shape, -1)
    if labels is None:
        return np.bincount(which[which >= 0], minlength=bins)[np.newaxis]
    labels = np.asarray(labels).ravel()
    position = np.searchsorted(index, labels).clip(0, len(index) - 1)
    member = index[position] == labels
    inside = member & (which >= 0)
    counts = np.bincount(position[inside] * bins + which[inside], minlength=len(index) * bins)
    total = np.bincount(position[member], minlength=len(index))
    return np.concatenate([counts.reshape(len(index), bins), total[:, np.newaxis]], axis=1)


def _lazy_histogram(image, edges, labels=None, index=None):
    """A lazy ``(n_index, bins + 1)`` array of counts (the last column: voxels per
    label) from dask arrays ``image`` and ``labels`` on the same chunks, or
    ``(1, bins)`` without labels."""
    data = image.data if hasattr(image, "dims") else image
    if labels is None:
        blocks = zip(data.to_delayed().ravel(), [None] * data.npartitions)
    else:
        blocks = zip(data.to_delayed().ravel(), labels.rechunk(data.chunks).to_delayed().ravel())
    parts = [dask.delayed(_block_histogram)(values, lab, edges, index) for values, lab in blocks]
    shape = (1, len(edges) - 1) if labels is None else (len(index), len(edges))
    return da.from_delayed(dask.delayed(sum)(parts), shape=shape, dtype=np.int64)


def histogram(image, min, max, bins, *, labels=None, index=None):
    """Counts of values in ``bins`` equal bins over ``[min, max]``, as ``scipy.ndimage.histogram``.

    One pass over the chunks, whatever the number of labels.

    Parameters
    ----------
    image : xarray.DataArray or array_like
    min, max, bins
        As in scipy: the bin edges are ``np.linspace(min, max, bins + 1)``,
        the last bin includes ``max``, values outside are not counted.
    labels : xarray.DataArray or array_like, optional
        Labels broadcast against ``image``; without ``index`` the voxels with
        ``labels > 0`` are counted.
    index : scalar or array_like, optional
        The label(s) to count (cast to the labels' dtype, as scipy does).

    Returns
    -------
    numpy.ndarray or None
        ``(bins,)`` int counts; for a sequence ``index`` an object array shaped
        like it, holding such counts per label (``None`` for an absent label), as
        scipy's; for a scalar ``index`` its counts (``None`` if absent).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = np.array([0.1, 0.4, 0.9, 1.0])
    >>> bd.intensity.histogram(image, 0, 1, 2, labels=[1, 1, 2, 2], index=[1, 2, 3])
    array([array([2, 0]), array([0, 2]), None], dtype=object)
    """
    from .measure import _dask, _operands

    edges = np.linspace(min, max, bins + 1)  # scipy's edges, and numpy's errors for bad bins
    if np.any(edges[:-1] > edges[1:]):
        raise ValueError(f"`bins` must increase monotonically, when an array: max ({max!r}) < min ({min!r})")
    as_scalar = np.isscalar(index)
    if labels is None:
        if index is not None:
            raise ValueError("index without defined labels")
        return _lazy_histogram(_dask(image), edges).compute()[0]
    try:
        values, labels = _operands(image, labels)
    except ValueError as e:
        raise ValueError("input and labels must have the same shape (excepting dimensions with width 1)") from e
    if index is None:
        counts = _lazy_histogram(values, edges, labels > 0, np.array([True])).compute()
        return counts[0, :-1]
    index = np.atleast_1d(index)
    if np.any(index.astype(labels.dtype).astype(index.dtype) != index):
        raise ValueError(f"Cannot convert index values from <{index.dtype}> to <{labels.dtype}> "
                         "(labels' type) without loss of precision")
    index = index.astype(labels.dtype)
    wanted = np.unique(index)
    counts = _lazy_histogram(values, edges, labels, wanted).compute()
    output = np.empty(index.shape, object)
    output[:] = None
    for at, value in np.ndenumerate(index):
        row = counts[np.searchsorted(wanted, value)]
        if row[-1]:
            output[at] = row[:-1].copy()
    return output[0] if as_scalar else output


def cdf(image, min, max, bins) -> np.ndarray:
    """Cumulative distribution over the bins of :func:`histogram` (ends at 1)."""
    counts = histogram(image, min, max, bins)
    total = counts.sum()
    return counts.cumsum() / total if total else np.zeros(len(counts))


def value_range(image) -> tuple[float, float]:
    """``(min, max)`` of the values, in one pass over the chunks."""
    data = as_image(image).data
    low, high = dask.compute(data.min(), data.max())
    return (low.item(), high.item())


def _equalize_block(block, table, *, low, per_value):
    if per_value:
        return table[block.astype(np.int64) - low]
    return np.interp(block, table[0], table[1])


def _map_with_table(data, table, **kwargs):
    """Apply ``_equalize_block`` to every chunk with the whole (lazy) lookup table."""
    index = "abcd"[: data.ndim]
    table_index = "pq"[: table.ndim]
    return da.blockwise(
        _equalize_block, index, data, index, table.rechunk(-1), table_index,
        concatenate=True, dtype=np.float64, **kwargs,
    )


def equalize_hist(image, *, min=None, max=None, bins=256):
    """Histogram equalisation: each value replaced by its CDF, scaled to ``[min, max]``.

    For integer images the CDF is taken per value (the course's
    ``cdf[im] * 255`` on uint8); for float images over ``bins`` bins,
    interpolated. ``min`` and ``max`` default to the value range (one pass over
    the data); the result is float64 and lazy.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.array([[0, 0, 1, 3]], dtype=np.uint8))
    >>> equalize_hist(image, min=0, max=3).values.tolist()
    [[1.5, 1.5, 2.25, 3.0]]
    """
    image = as_image(image)
    if min is None or max is None:
        low, high = value_range(image)
        min = low if min is None else min
        max = high if max is None else max
    if image.dtype.kind in "iub":
        low, high = int(np.floor(min)), int(np.ceil(max))
        edges = np.arange(low, high + 2) - 0.5  # one bin per integer value
        counts = _lazy_histogram(image, edges)[0]
        table = counts.cumsum(axis=0) / counts.sum() * (high - low) + low
        out = _map_with_table(image.data.clip(low, high), table, low=low, per_value=True)
    else:
        edges = _bin_edges(min, max, bins)
        counts = _lazy_histogram(image, edges)[0]
        centres = (edges[:-1] + edges[1:]) / 2
        table = da.stack([da.from_array(centres), counts.cumsum(axis=0) / counts.sum() * (max - min) + min])
        out = _map_with_table(image.data, table, low=0, per_value=False)
    return like(image, out, units="")


def window(image, *, level, width):
    """Values clipped to the display window ``[level - width/2, level + width/2]``.

    The dtype and the values inside the window are kept: nothing is rescaled.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> ct = bd.from_array(np.array([[-1000, 40, 3000]], dtype=np.int16))
    >>> window(ct, level=40, width=400).values.tolist()
    [[-160, 40, 240]]
    """
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    image = as_image(image)
    low, high = level - width / 2, level + width / 2
    if image.dtype.kind in "iu":
        low, high = int(np.ceil(low)), int(np.floor(high))
    return like(image, image.data.clip(low, high))
