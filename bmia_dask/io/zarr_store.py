"""OME-Zarr 0.5 (zarr v3) stores: write an image chunk by chunk, open it lazily.

Layout of a store::

    zarr.json      group: attributes {"ome": {"version": "0.5", "multiscales": [...]},
                                      "bmia_dask": {direction, origin, modality, ...}}
    0/zarr.json    array: dimension_names ("t",) "z", "y", "x"; blosc-lz4-compressed chunks
    1/, 2/, ...    optional pyramid levels (``levels=``), each downsampled by 2 in-plane,
                   and through-plane once the slices are no thicker than the pixels

``scale`` and ``translation`` of the multiscales carry spacing and the per-axis
offsets (the first coord values), so any OME-Zarr reader places the voxels at
the same coordinates; what OME-Zarr cannot say (direction, exact trigger
times, provenance) lives under the ``bmia_dask`` key.
"""

from __future__ import annotations

import math

import dask.array as da
from dask.base import tokenize
import numpy as np
import xarray as xr
import zarr

from .. import __version__
from ..errors import BadInputError
from ..image import DIMS, SPATIAL_DIMS, as_image, from_array, geometry, like
from ..multiscale import pyramid
from .._chunked import rechunk
from ..progress import progress_bar
from . import storage

__all__ = ["to_zarr", "open_image", "storage_chunks"]

ATTRS_KEY = "bmia_dask"
_UNITS = {"t": "millisecond", "z": "millimeter", "y": "millimeter", "x": "millimeter"}
_TYPES = {"t": "time", "z": "space", "y": "space", "x": "space"}
STORE_CHUNK_BYTES = 8 * 2**20
TILE = 256
# lz4 with byte shuffle: several times faster than zarr's default zstd on int16 CT, and
# smaller; every OME-Zarr reader decodes blosc
COMPRESSOR = zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")


def storage_chunks(shape, dims, dtype, *, target_bytes: int = STORE_CHUNK_BYTES) -> tuple[int, ...]:
    """Chunk shape for a store: one time frame; in-plane tiles of at most 256 x 256;
    as many slices as make about ``target_bytes``.

    Blocks, not slabs: a neighbourhood filter re-reads a margin around every
    chunk, which costs least on block-shaped chunks, and a DICOM read task
    (whole slices) still yields whole chunks by splitting, never by merging.

    Examples
    --------
    >>> storage_chunks((300, 512, 512), ("z", "y", "x"), "int16")
    (64, 256, 256)
    >>> storage_chunks((20, 30, 256, 256), ("t", "z", "y", "x"), "int16")
    (1, 30, 256, 256)
    """
    itemsize = np.dtype(dtype).itemsize
    sizes = dict(zip(dims, shape))
    chunks = dict(sizes)
    if "t" in chunks:
        chunks["t"] = 1
    tile = TILE if "z" in sizes else int(math.sqrt(target_bytes / itemsize))
    for dim in ("y", "x"):
        if dim in sizes:
            chunks[dim] = max(1, min(sizes[dim], tile))
    if "z" in sizes:
        plane = chunks.get("y", 1) * chunks.get("x", 1) * itemsize
        chunks["z"] = max(1, min(sizes["z"], target_bytes // plane))
    return tuple(chunks[d] for d in dims)


def _multiscales(image: xr.DataArray, levels) -> dict:
    datasets = []
    for k, level in enumerate(levels):
        geo = geometry(level)
        spacing, offset = dict(zip(SPATIAL_DIMS, geo.spacing)), dict(zip(SPATIAL_DIMS, geo.offset))
        scale, translation = [], []
        for dim in image.dims:
            if dim == "t":
                t = np.asarray(image["t"].values, dtype=float)
                scale.append(float(np.median(np.diff(t))) if t.size > 1 else 1.0)
                translation.append(float(t[0]) if t.size else 0.0)
            else:
                scale.append(spacing[dim])
                translation.append(offset[dim])
        datasets.append({
            "path": str(k),
            "coordinateTransformations": [
                {"type": "scale", "scale": scale},
                {"type": "translation", "translation": translation},
            ],
        })
    return {
        "name": str(image.name or "image"),
        "axes": [{"name": d, "type": _TYPES[d], "unit": _UNITS[d]} for d in image.dims],
        "datasets": datasets,
    }


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class _BlockWriter:
    """Writes a block where it belongs in a zarr array (a callable, so that dask passes
    the array through untouched instead of reading it as an argument)."""

    def __init__(self, target):
        self.target = target

    def __call__(self, block, block_info=None):
        self.target[tuple(slice(start, stop) for start, stop in block_info[0]["array-location"])] = block
        return np.zeros((1,) * block.ndim, dtype=np.int8)


def _whole_chunks(blocks, chunks) -> bool:
    """Whether every block is made of whole storage ``chunks`` (the last ones may be cut
    at the array's end): then each block is written as it is, by one task, and
    splitting the blocks first would only hold them longer."""
    return all(bound % size == 0 for sizes, size in zip(blocks, chunks) for bound in np.cumsum(sizes[:-1]))


def _store(sources, targets) -> None:
    """``da.store``, written slab by slab (:func:`bmia_dask._chunked.compute_blocks`).

    ``da.store`` computes the whole volume in one graph, and behind a
    neighbourhood filter or label's two passes dask's order can hold most of
    the input chunks at once; slabs keep memory to a slab of chunks. The
    other sources (pyramid levels, reduced from the first) are written with
    the slab that completes their region.
    """
    from .._chunked import chunk_bytes, compute_blocks

    writes = [
        source.map_blocks(_BlockWriter(target), dtype=np.int8, chunks=tuple((1,) * n for n in source.numblocks),
                          name=f"store-{tokenize(source, str(target.store_path))}")
        for source, target in zip(sources, targets)
    ]
    compute_blocks(writes[0], alongside=writes[1:], block_bytes=chunk_bytes(sources[0]))


def to_zarr(image, url, *, overwrite: bool = False, chunks=None, levels: int = 1, downsample: str = "mean",
            progress: bool = False) -> str:
    """Write ``image`` as an OME-Zarr 0.5 store (zarr v3), chunk by chunk.

    The image is computed one chunk at a time while writing (a lazy image is
    never held in memory whole); pyramid levels are reduced from the same
    chunks in the same pass. The store is written under a temporary name and
    appears at ``url`` only once complete.

    Parameters
    ----------
    image : xarray.DataArray or array_like
        An image of the bmia_dask model (plain arrays get unit spacing).
    url : str
        Local path or fsspec URL of the store to create.
    overwrite : bool
        Replace an existing store; otherwise an existing ``url`` is refused.
    chunks : tuple of int, optional
        Storage chunk shape of level 0 (default :func:`storage_chunks`).
    levels : int
        Number of multiscale levels (1: full resolution only). Level ``k``
        is downsampled by :func:`bmia_dask.multiscale.pyramid_factors`; its ``scale`` and
        ``translation`` place its voxels in the same physical space.
    downsample : {"mean", "nearest"}
        How a level is reduced: the mean of each block (masks: a majority
        vote), or every other voxel ("nearest", for label images).
    progress : bool
        Show a progress bar over the chunks.

    Returns
    -------
    str
        ``url``.

    Examples
    --------
    >>> import numpy as np, tempfile, os, bmia_dask as bd
    >>> img = bd.from_array(np.arange(24, dtype=np.int16).reshape(2, 3, 4), spacing=(2.0, 1.0, 0.5))
    >>> url = bd.to_zarr(img, os.path.join(tempfile.mkdtemp(), "img.ome.zarr"))
    >>> back = bd.open_image(url)
    >>> bool((back == img).all()), back.attrs["spacing"]
    (True, (2.0, 1.0, 0.5))
    >>> url = bd.to_zarr(img, os.path.join(tempfile.mkdtemp(), "pyramid.ome.zarr"), levels=2)
    >>> bd.open_image(url, level=1).attrs["spacing"]
    (2.0, 2.0, 1.0)
    """
    image = as_image(image)
    geo = geometry(image)
    data = image.data if isinstance(image.data, da.Array) else da.from_array(image.data)
    chunks = tuple(chunks) if chunks is not None else storage_chunks(data.shape, image.dims, data.dtype)
    if len(chunks) != data.ndim:
        raise ValueError(f"chunks must have {data.ndim} entries, got {chunks}")
    chunks = tuple(max(c) for c in da.core.normalize_chunks(chunks, data.shape, dtype=data.dtype))
    if not _whole_chunks(data.chunks, chunks):
        data = rechunk(data, chunks)
    pyramid_images = pyramid(like(image, data), levels, downsample=downsample)
    attrs = image.attrs
    own = {
        "version": 1,
        "writer": f"bmia_dask {__version__}",
        "direction": [list(c) for c in geo.direction],
        "origin": list(geo.origin),
        "modality": attrs.get("modality", "OT"),
        "units": attrs.get("units", ""),
        "source": _json_safe(attrs.get("source", {})),
    }
    if "t" in image.dims:
        own["t_ms"] = [float(v) for v in image["t"].values]
    with storage.atomic_output(str(url), overwrite=overwrite) as tmp:
        root = zarr.open_group(tmp, mode="w", zarr_format=3, storage_options=storage.storage_options(tmp) or None)
        sources, targets = [], []
        for level, level_image in enumerate(pyramid_images):
            level_data, level_chunks = level_image.data, chunks
            if level:
                level_chunks = storage_chunks(level_data.shape, image.dims, data.dtype)
                level_data = rechunk(level_data, level_chunks)
            sources.append(level_data)
            targets.append(root.create_array(
                str(level),
                shape=level_data.shape,
                chunks=level_chunks,
                dtype=data.dtype,
                dimension_names=list(image.dims),
                fill_value=0,
                compressors=[COMPRESSOR],
            ))
        with progress_bar(f"writing {url}", enabled=progress):
            _store(sources, targets)
        multiscales = _multiscales(image, pyramid_images)
        if levels > 1:
            multiscales["type"] = downsample
        root.attrs.update({"ome": {"version": "0.5", "multiscales": [multiscales]}, ATTRS_KEY: own})
    return str(url)


def open_image(url, *, level: int = 0, chunks=None) -> xr.DataArray:
    """Open a store written by :func:`to_zarr` or :func:`convert` as a lazy image.

    ``level`` picks a multiscale level (0: full resolution; negative counts
    from the coarsest); its coords and spacing are those of that level. The
    number of levels is in ``attrs["levels"]``. Stores from other OME-Zarr
    writers open too (identity direction assumed).

    Examples
    --------
    >>> import tempfile, os, bmia_dask as bd
    >>> folder = tempfile.mkdtemp()
    >>> _ = bd.phantoms.write_ct(os.path.join(folder, "dicom"), shape=(6, 32, 32))
    >>> [url] = bd.convert(os.path.join(folder, "dicom"), os.path.join(folder, "zarr"))
    >>> bd.open_image(url).shape
    (6, 32, 32)
    """
    url = str(url)
    if not storage.exists(url):
        raise BadInputError(url, "not found")
    try:
        root = zarr.open_group(url, mode="r", storage_options=storage.storage_options(url) or None)
        attrs = root.attrs.asdict()
        multiscale = attrs["ome"]["multiscales"][0]
        datasets = multiscale["datasets"]
    except (KeyError, IndexError, TypeError, ValueError, FileNotFoundError) as error:
        raise BadInputError(url, f"not an OME-Zarr image store ({type(error).__name__}: {error})") from None
    n_levels = len(datasets)
    if isinstance(level, bool) or int(level) != level or not -n_levels <= level < n_levels:
        raise BadInputError(url, f"has {n_levels} level(s): there is no level {level!r}")
    dataset = datasets[int(level)]
    try:
        array = root[dataset["path"]]
    except (KeyError, TypeError, FileNotFoundError) as error:
        raise BadInputError(url, f"level {level} is missing ({type(error).__name__}: {error})") from None
    dims = tuple(axis["name"] for axis in multiscale["axes"])
    if not set(dims) <= set(DIMS):
        raise BadInputError(url, f"axes {dims} are not a subset of {DIMS}")
    transforms = {t["type"]: t[t["type"]] for t in dataset["coordinateTransformations"]}
    scale = transforms.get("scale", [1.0] * len(dims))
    translation = transforms.get("translation", [0.0] * len(dims))
    own = attrs.get(ATTRS_KEY, {})
    direction = np.asarray(own.get("direction", np.eye(3)), dtype=float)
    spatial = [d for d in dims if d in SPATIAL_DIMS]
    spacing = {d: float(s) for d, s in zip(dims, scale)}
    offsets = dict.fromkeys(SPATIAL_DIMS, 0.0)
    offsets.update({d: float(o) for d, o in zip(dims, translation) if d in SPATIAL_DIMS})
    # origin from the per-axis offsets: x/y/z offsets are the origin along each column
    origin = direction @ np.array([offsets["x"], offsets["y"], offsets["z"]])
    data = da.from_zarr(array, chunks=chunks if chunks is not None else array.chunks)
    times = None
    if "t" in dims:
        n = data.shape[dims.index("t")]
        times = own.get("t_ms") or [translation[0] + i * scale[0] for i in range(n)]
    image = from_array(
        data,
        dims=dims,
        spacing=[spacing[d] for d in spatial],
        origin=origin,
        direction=direction,
        times_ms=times,
        modality=own.get("modality", "OT"),
        units=own.get("units", ""),
        source=own.get("source", {}),
        name=multiscale.get("name"),
    )
    image.attrs["store"] = url
    image.attrs["levels"] = n_levels
    return image
