"""Read a DICOM series lazily into the image model.

The dask graph has one task per chunk of slices; each task decodes only its
own files (any transfer syntax pydicom's plugins handle: RLE, JPEG lossless,
JPEG-LS, JPEG 2000) and applies rescale slope/intercept into the narrowest
dtype that holds every possible value exactly.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pydicom
import pydicom.pixels

from .. import __version__
from ..errors import BadInputError
from ..image import from_array
from . import storage
from .dicom_scan import Frame, Series, scan_series
from .zarr_store import storage_chunks

__all__ = ["read_dicom", "read_series", "value_dtype"]

_INTEGER_DTYPES = [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64]


def value_dtype(frames) -> np.dtype:
    """Narrowest dtype holding every rescaled value of ``frames`` exactly.

    Integer slope and intercept keep integers (int16 for 12-bit CT with
    intercept -1024); any non-integer slope or intercept gives float32.

    Examples
    --------
    >>> from types import SimpleNamespace as F
    >>> value_dtype([F(bits_stored=12, signed=False, slope=1.0, intercept=-1024.0)])
    dtype('int16')
    >>> value_dtype([F(bits_stored=16, signed=False, slope=1.0, intercept=0.0)])
    dtype('uint16')
    >>> value_dtype([F(bits_stored=12, signed=False, slope=0.5, intercept=0.0)])
    dtype('float32')
    """
    lows, highs = [], []
    for f in frames:
        if not (float(f.slope).is_integer() and float(f.intercept).is_integer()):
            return np.dtype(np.float32)
        raw_low, raw_high = (-(2 ** (f.bits_stored - 1)), 2 ** (f.bits_stored - 1) - 1) if f.signed else (0, 2**f.bits_stored - 1)
        ends = (raw_low * f.slope + f.intercept, raw_high * f.slope + f.intercept)
        lows.append(min(ends))
        highs.append(max(ends))
    low, high = min(lows), max(highs)
    for dtype in _INTEGER_DTYPES:
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return np.dtype(dtype)
    return np.dtype(np.float64)


_PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"


def _read_plain(fp, frame: Frame) -> np.ndarray | None:
    """The values of a plain little-endian file, read straight from its bytes (what
    dcm2niix does); None where pydicom must decide (a surprise in the element, or
    bits above BitsStored that pydicom would treat)."""
    implicit = frame.transfer_syntax == pydicom.uid.ImplicitVRLittleEndian
    fp.seek(frame.pixel_data_at)
    head = fp.read(8 if implicit else 12)
    if len(head) < 8 or head[:4] != _PIXEL_DATA_TAG:
        return None
    length = int.from_bytes(head[-4:], "little")
    bits = 16 if implicit or head[4:6] == b"OW" else 8
    if not implicit and head[4:6] not in (b"OW", b"OB"):
        return None
    if implicit:  # the VR is not in the file: the length tells 8 from 16 bits
        bits = 8 * length // (frame.rows * frame.columns) if frame.rows * frame.columns else 0
    if bits not in (8, 16) or (bits == 8 and frame.bits_stored > 8):
        return None
    count = frame.rows * frame.columns
    dtype = np.dtype(f"<{'i' if frame.signed else 'u'}{bits // 8}")
    if length < count * dtype.itemsize:
        return None
    pixels = np.frombuffer(fp.read(count * dtype.itemsize), dtype=dtype)
    if len(pixels) < count:
        return None
    if frame.bits_stored < bits and (frame.signed or (pixels >> frame.bits_stored).any()):
        return None
    return pixels.reshape(frame.rows, frame.columns)


def _decode(frame: Frame) -> np.ndarray:
    fs, path = storage.url_to_fs(frame.url)
    try:
        with fs.open(path, "rb") as fp:
            pixels = _read_plain(fp, frame) if frame.pixel_data_at is not None else None
            if pixels is None:
                fp.seek(0)
                pixels = pydicom.pixels.pixel_array(fp, index=frame.index, raw=True)
    except (ValueError, EOFError, OSError, RuntimeError, AttributeError, KeyError, NotImplementedError) as error:
        raise BadInputError(frame.url, f"cannot decode pixel data ({error})") from None
    if pixels.shape != (frame.rows, frame.columns):
        raise BadInputError(
            frame.url, f"pixel data of shape {pixels.shape} where the header says {(frame.rows, frame.columns)}"
        )
    return pixels


def _rescale(pixels: np.ndarray, frame: Frame, dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "f":
        return (pixels.astype(np.float64) * frame.slope + frame.intercept).astype(dtype)
    if frame.slope == 1 and frame.intercept == 0:
        return pixels.astype(dtype, copy=False)
    return (pixels.astype(np.int64) * int(frame.slope) + int(frame.intercept)).astype(dtype)


def _read_block(frames: np.ndarray, out_dtype) -> np.ndarray:
    """Decode a ``(t, z)`` block of frames into a ``(t, z, y, x)`` array."""
    first = frames.flat[0]
    out = np.empty(frames.shape + (first.rows, first.columns), dtype=out_dtype)
    for index in np.ndindex(frames.shape):
        out[index] = _rescale(_decode(frames[index]), frames[index], out_dtype)
    return out


def _auto_slices(layout, dtype, chunks) -> int:
    if isinstance(chunks, int):
        return max(1, chunks)
    if chunks not in ("auto", None):
        raise ValueError(f"chunks must be 'auto' or a number of slices per chunk, got {chunks!r}")
    # the slices of one storage chunk: converting then splits chunks, never merges them
    return storage_chunks(layout.shape[-3:], ("z", "y", "x"), dtype)[0]


def read_series(series: Series, *, chunks="auto", keep_phi: bool = False):
    """The lazy image of one scanned :class:`Series` (see :func:`read_dicom`)."""
    lay = series.layout
    if lay.fatal:
        raise BadInputError(*lay.fatal[0])
    dtype = value_dtype(lay.grid.ravel())
    n_t, n_z = lay.grid.shape
    f = lay.grid[0, 0]
    per_chunk = _auto_slices(lay, dtype, chunks)
    is_4d = lay.times_ms is not None
    # The frame grid itself is chunked like the image: each task gets its own frames.
    frame_grid = da.from_array(lay.grid, chunks=(1, per_chunk), name=False, asarray=False)
    data = da.map_blocks(
        _read_block,
        frame_grid,
        dtype=dtype,
        new_axis=[2, 3],
        chunks=((1,) * n_t, frame_grid.chunks[1], (f.rows,), (f.columns,)),
        meta=np.empty((0, 0, 0, 0), dtype),
        out_dtype=dtype,
    )
    if not is_4d:
        data = data[0]
    metadata = dict(series.metadata)
    if keep_phi:
        metadata.update(series.phi)
    source = {
        "converter": f"bmia_dask {__version__}",
        "series_uid": series.key,
        "n_files": series.n_files,
        "transfer_syntax": pydicom.uid.UID(f.transfer_syntax).name,
        "problems": list(lay.problems),
        "dicom": metadata,
    }
    units = f.rescale_type or ("HU" if f.modality == "CT" else "")
    return from_array(
        data,
        spacing=lay.spacing,
        origin=lay.origin,
        direction=lay.direction,
        times_ms=lay.times_ms,
        modality=f.modality,
        units=units,
        source=source,
        name=_series_label(series),
    )


def _series_label(series: Series) -> str:
    number = series.first.series_number
    return f"{number if number is not None else ''} {series.first.description}".strip() or series.key


def read_dicom(src, series_uid: str | None = None, *, chunks="auto", keep_phi: bool = False):
    """Open a DICOM series as a lazy image in millimetres.

    Parameters
    ----------
    src : str or path
        A folder (searched recursively), a file, or an fsspec URL.
    series_uid : str, optional
        Which series (see :func:`scan_dicom`); needed when ``src`` holds several.
    chunks : "auto" or int
        Slices per chunk ("auto": about 8 MB per chunk, as stores are chunked).
    keep_phi : bool
        Keep patient-identifying attributes in ``attrs["source"]["dicom"]``.

    Returns
    -------
    xarray.DataArray
        ``(z, y, x)``, or ``(t, z, y, x)`` for a cine series (t in ms), with
        slices ordered along the slice normal and rescale applied. Nothing is
        decoded until computed.

    Raises
    ------
    BadInputError
        No DICOM image, several series and no ``series_uid``, a missing slice,
        uneven spacing, duplicate positions, colour images, truncated files.
        Missing slices are never stretched over: the true positions are not
        evenly spaced, so the series is refused with the gap it found.

    Examples
    --------
    >>> import tempfile, bmia_dask as bd
    >>> folder = tempfile.mkdtemp()
    >>> truth = bd.phantoms.write_ct(folder, shape=(6, 32, 32), spacing=(2.5, 0.8, 0.8))
    >>> image = bd.read_dicom(folder)
    >>> image.dims, image.dtype.name, image.attrs["spacing"]
    (('z', 'y', 'x'), 'int16', (2.5, 0.8, 0.8))
    """
    series, _ = scan_series(src)
    return read_series(select_series(series, series_uid, src), chunks=chunks, keep_phi=keep_phi)


def select_series(series: list[Series], series_uid: str | None, src) -> Series:
    if series_uid is None:
        if len(series) > 1:
            listing = ", ".join(f"{s.key} ({s.first.description or s.first.modality})" for s in series[:5])
            raise BadInputError(src, f"{len(series)} series found, pass series_uid= one of: {listing}")
        return series[0]
    for s in series:
        if s.key == series_uid:
            return s
    raise BadInputError(src, f"no series with SeriesInstanceUID {series_uid}")
