"""DICOM series to OME-Zarr stores, one store per series."""

from __future__ import annotations

import contextlib
import re

from ..errors import BadInputError
from . import storage
from .dicom_read import read_series, select_series
from .dicom_scan import Series, scan_series
from .zarr_store import to_zarr

__all__ = ["convert", "store_name"]


def store_name(series: Series) -> str:
    """``<series number>_<description>.ome.zarr`` in safe characters.

    Examples
    --------
    >>> from types import SimpleNamespace as S
    >>> store_name(S(first=S(series_number=3, description="T1 / MPRAGE (sag)", modality="MR"), key="1.2"))
    '003_T1_MPRAGE_sag.ome.zarr'
    """
    number = series.first.series_number
    description = series.first.description or series.first.modality or "series"
    safe = re.sub(r"[^A-Za-z0-9.+-]+", "_", description).strip("_.") or "series"
    prefix = f"{number:03d}_" if number is not None else ""
    return f"{prefix}{safe[:64]}.ome.zarr"


def convert(
    src,
    dst,
    series_uid: str | None = None,
    *,
    overwrite: bool = False,
    keep_phi: bool = False,
    chunks=None,
    levels: int = 1,
    progress: bool = False,
) -> list[str]:
    """Convert every DICOM series under ``src`` into one OME-Zarr store each under ``dst``.

    Parameters
    ----------
    src : str
        Folder, file or fsspec URL holding DICOM files (searched recursively;
        files that are not DICOM images are skipped with a warning).
    dst : str
        Folder or fsspec URL; stores are named by :func:`store_name`.
    series_uid : str, optional
        Convert only this series.
    overwrite : bool
        Replace existing stores (refused otherwise, before anything is written).
    keep_phi : bool
        Also store patient-identifying attributes (names, IDs, dates, ...).
    chunks : tuple of int, optional
        Storage chunk shape.
    levels : int
        Multiscale levels to write (see :func:`bmia_dask.to_zarr`); the pyramid
        is reduced from the same decoded chunks, so the files are read once.
    progress : bool
        Show a progress bar per series.

    Returns
    -------
    list of str
        The URLs of the stores written. Every store is atomic: complete or absent.

    Raises
    ------
    BadInputError
        Nothing to convert, or some series could not be converted: the error
        carries one line per failed series (``error.failures``) and the stores
        that were written anyway (``error.written``).

    Examples
    --------
    >>> import tempfile, os, bmia_dask as bd
    >>> folder = tempfile.mkdtemp()
    >>> _ = bd.phantoms.write_ct(os.path.join(folder, "dicom"), shape=(6, 32, 32))
    >>> [os.path.basename(u) for u in bd.convert(os.path.join(folder, "dicom"), os.path.join(folder, "out"))]
    ['001_phantom_CT.ome.zarr']
    """
    found, _ = scan_series(src, progress=progress)
    chosen = found if series_uid is None else [select_series(found, series_uid, src)]
    targets, names = [], set()
    for series in chosen:
        name = store_name(series)
        stem = name.removesuffix(".ome.zarr")
        k = 1
        while name in names:  # two series with one number and description
            k += 1
            name = f"{stem}_{k}.ome.zarr"
        names.add(name)
        target = storage.join(str(dst), name)
        if not overwrite and storage.exists(target):
            raise BadInputError(target, "already exists (pass overwrite=True, or --overwrite)")
        targets.append((series, target))
    written, failures = [], []
    for series, target in targets:
        try:
            image = read_series(series, chunks="auto" if chunks is None else chunks[-3], keep_phi=keep_phi)
            with _progress(progress, f"{series.first.modality} {series.first.description}".strip()):
                written.append(to_zarr(image, target, overwrite=overwrite, chunks=chunks, levels=levels))
        except BadInputError as error:
            failures.append(error)
    if failures:
        error = BadInputError(failures[0].path, failures[0].problem)
        error.failures = failures
        error.written = written
        raise error
    return written


def _progress(enabled: bool, label: str):
    if not enabled:
        return contextlib.nullcontext()
    from ..progress import progress_bar

    return progress_bar(label)
