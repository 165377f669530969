"""bmia_dask: biomedical image analysis at any scale.

DICOM series become OME-Zarr stores; stores open as lazy, dask-backed
``xarray.DataArray`` images with coordinates in millimetres.

>>> import bmia_dask as bd
>>> bd.__version__
'0.1.0'
"""

__version__ = "0.1.0"

from . import cardiac, cohort, compare, filters, intensity, masks, measure, morphology, multiscale, phantoms  # noqa: E402
from . import transform  # noqa: E402
from .errors import BadInputError, SkippedFileWarning  # noqa: E402
from .image import as_image, from_array, geometry, like, spacing  # noqa: E402
from .io.convert import convert  # noqa: E402
from .cardiac import ejection_fraction  # noqa: E402
from .cluster import cluster  # noqa: E402
from .labels import label  # noqa: E402
from .registration import register  # noqa: E402
from .measure import regionprops_table  # noqa: E402
from .progress import progress_bar  # noqa: E402
from .io.dicom_read import read_dicom  # noqa: E402
from .io.dicom_scan import scan_dicom  # noqa: E402
from .io.zarr_store import open_image, to_zarr  # noqa: E402



def __getattr__(name):
    # matplotlib (figures), numba (distances, 100 MB) and the scipy.ndimage namespace are imported when
    # first asked for
    import importlib

    if name in ("plot", "distance", "fourier", "ndimage"):
        return importlib.import_module(f".{name}", __name__)
    if name in ("distance_transform_edt", "distance_transform_cdt", "distance_transform_bf"):
        return getattr(importlib.import_module(".distance", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BadInputError",
    "SkippedFileWarning",
    "as_image",
    "cardiac",
    "cluster",
    "cohort",
    "compare",
    "ejection_fraction",
    "distance",
    "distance_transform_bf",
    "distance_transform_cdt",
    "distance_transform_edt",
    "filters",
    "fourier",
    "intensity",
    "masks",
    "measure",
    "progress_bar",
    "regionprops_table",
    "register",
    "morphology",
    "ndimage",
    "multiscale",
    "transform",
    "convert",
    "from_array",
    "label",
    "geometry",
    "like",
    "open_image",
    "phantoms",
    "plot",
    "read_dicom",
    "scan_dicom",
    "spacing",
    "to_zarr",
]
