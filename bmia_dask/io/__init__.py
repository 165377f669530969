"""Readers and writers: DICOM series, OME-Zarr stores, local and object storage."""

from __future__ import annotations

import os


def load_image(source):
    """``(image, name for messages)`` from a DataArray, a store URL or a DICOM folder/URL.

    Stores open lazily with :func:`bmia_dask.open_image`; anything else is read
    as DICOM with :func:`bmia_dask.read_dicom` (one series expected).
    """
    from ..image import as_image

    if isinstance(source, (str, os.PathLike)):
        from .storage import exists, join

        url = str(source)
        if exists(join(url, "zarr.json")):
            from .zarr_store import open_image

            return open_image(url), url
        from .dicom_read import read_dicom

        return read_dicom(url), url
    image = as_image(source)
    provenance = image.attrs.get("source")
    if image.attrs.get("store"):
        return image, image.attrs["store"]
    if isinstance(provenance, dict) and provenance.get("series_uid"):
        return image, f"series {provenance['series_uid']}"
    return image, "image"
