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

from .image import as_image, like, require_same_shape

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
    bins = len(edges) - 1
    values = np.asarray(values, dtype=np.float64).ravel()
    which = _bin_index(values, edges)
    if labels is None:
        return np.bincount(which[which >= 0], minlength=bins)[np.newaxis]
    labels = np.asarray(labels).ravel()
    position = np.searchsorted(index, labels).clip(0, len(index) - 1)
    keep = (which >= 0) & (index[position] == labels)
    flat = position[keep] * bins + which[keep]
    return np.bincount(flat, minlength=len(index) * bins).reshape(len(index), bins)


def _lazy_histogram(image, edges, labels=None, index=None):
    """A lazy ``(n_index, bins)`` (or ``(1, bins)``) array of counts."""
    data = image.data
    parts = []
    if labels is None:
        blocks = zip(data.to_delayed().ravel(), [None] * data.npartitions)
        index = None
    else:
        label_data = labels.data if hasattr(labels, "dims") else da.asarray(labels)
        require_same_shape(data, label_data, "image", "labels")
        blocks = zip(data.to_delayed().ravel(), label_data.rechunk(data.chunks).to_delayed().ravel())
    for values, lab in blocks:
        parts.append(dask.delayed(_block_histogram)(values, lab, edges, index))
    n = 1 if index is None else len(index)
    total = dask.delayed(sum)(parts)
    return da.from_delayed(total, shape=(n, len(edges) - 1), dtype=np.int64)


def histogram(image, min, max, bins, *, labels=None, index=None) -> np.ndarray:
    """Counts of values in ``bins`` equal bins over ``[min, max]``, as ``scipy.ndimage.histogram``.

    Parameters
    ----------
    image : xarray.DataArray or array_like
    min, max, bins
        As in scipy (values outside ``[min, max]`` are not counted).
    labels, index : optional
        Histogram per label: ``labels`` is an image of the same shape and
        ``index`` the label value(s).

    Returns
    -------
    numpy.ndarray
        ``(bins,)`` counts; with ``labels``, ``(len(index), bins)`` (one row per
        index value, in the order given) or ``(bins,)`` for a scalar index.
    """
    image = as_image(image)
    edges = _bin_edges(min, max, bins)
    if labels is None:
        return _lazy_histogram(image, edges).compute()[0]
    if index is None:
        raise ValueError("index is required with labels: the label value(s) to histogram")
    wanted = np.atleast_1d(index)
    order = np.argsort(wanted, kind="stable")
    counts = _lazy_histogram(image, edges, labels, wanted[order]).compute()
    result = np.empty_like(counts)
    result[order] = counts
    return result[0] if np.ndim(index) == 0 else result


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
