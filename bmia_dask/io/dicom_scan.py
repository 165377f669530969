"""Scan DICOM headers: group files into series and work out their geometry.

Only headers are read (``stop_before_pixels``). Every image frame becomes a
:class:`Frame`; frames are grouped into series by SeriesInstanceUID, split
further when orientation or image size differ; a series' :class:`Layout` puts
its frames on a ``(t, z)`` grid ordered by position along the slice normal
(never by file name or InstanceNumber) and lists the problems found.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import warnings
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pydicom
from pydicom.errors import InvalidDicomError

from ..errors import BadInputError, SkippedFileWarning
from . import storage

__all__ = ["scan_dicom", "Frame", "Layout", "Series"]

# Technical attributes worth keeping with a store: none identifies the patient.
TECHNICAL_KEYWORDS = (
    "Modality", "SOPClassUID", "Manufacturer", "ManufacturerModelName", "BodyPartExamined",
    "SeriesNumber", "SeriesDescription", "ProtocolName", "ImageType", "ScanningSequence",
    "SequenceVariant", "MRAcquisitionType", "SliceThickness", "SpacingBetweenSlices",
    "RepetitionTime", "EchoTime", "InversionTime", "FlipAngle", "MagneticFieldStrength",
    "ImagingFrequency", "EchoTrainLength", "KVP", "XRayTubeCurrent", "Exposure",
    "ConvolutionKernel", "ReconstructionDiameter", "PatientPosition", "PhotometricInterpretation",
    "BitsAllocated", "BitsStored", "PixelRepresentation", "RescaleType", "WindowCenter",
    "WindowWidth", "CardiacNumberOfImages", "HeartRate", "ContrastBolusAgent",
)
# DICOM PS3.15 Annex E basic profile attributes, kept only on explicit request.
PHI_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "PatientSex",
    "PatientAge", "PatientSize", "PatientWeight", "PatientAddress", "OtherPatientIDs",
    "OtherPatientNames", "PatientMotherBirthName", "EthnicGroup", "PatientComments",
    "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "StudyTime", "SeriesTime",
    "AcquisitionTime", "ContentTime", "AccessionNumber", "StudyID", "StudyInstanceUID",
    "StudyDescription", "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
    "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName", "StationName",
    "DeviceSerialNumber", "RequestingPhysician", "PhysiciansOfRecord",
)

_IMAGE_FRAME_GROUPS = {
    "ImagePositionPatient": "PlanePositionSequence",
    "ImageOrientationPatient": "PlaneOrientationSequence",
    "PixelSpacing": "PixelMeasuresSequence",
    "SliceThickness": "PixelMeasuresSequence",
    "SpacingBetweenSlices": "PixelMeasuresSequence",
    "RescaleSlope": "PixelValueTransformationSequence",
    "RescaleIntercept": "PixelValueTransformationSequence",
    "RescaleType": "PixelValueTransformationSequence",
    "NominalCardiacTriggerDelayTime": "CardiacSynchronizationSequence",
    "TemporalPositionIndex": "FrameContentSequence",
}
_AXIAL_IOP = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class Frame:
    """One 2D image: a single-frame file, or one frame of a multi-frame file."""

    url: str
    index: int | None  # frame number in a multi-frame file, None for single-frame
    series_uid: str
    series_number: int | None
    description: str
    modality: str
    rows: int
    columns: int
    orientation: tuple[float, ...]
    position: tuple[float, float, float] | None
    pixel_spacing: tuple[float, float]
    slice_spacing: float | None
    trigger_time: float | None
    temporal_index: float | None
    instance_number: int | None
    slope: float
    intercept: float
    bits_stored: int
    signed: bool
    samples_per_pixel: int
    photometric: str
    transfer_syntax: str
    rescale_type: str
    gantry_tilt: float
    truncated: str | None = None
    # byte offset of the Pixel Data element of a plain little-endian single-frame
    # file (None otherwise): its values can be read straight from the file
    pixel_data_at: int | None = None


@dataclass
class Layout:
    """Frames of one series on a ``(t, z)`` grid, with geometry and problems."""

    grid: np.ndarray  # object array (T, Z) of Frame
    spacing: tuple[float, float, float]  # (z, y, x) mm
    origin: tuple[float, float, float]
    direction: np.ndarray
    times_ms: np.ndarray | None  # None: not a time series
    problems: list[str] = field(default_factory=list)
    fatal: list[tuple[str, str]] = field(default_factory=list)  # (file, problem)

    @property
    def shape(self) -> tuple[int, ...]:
        f = self.grid[0, 0]
        spatial = (self.grid.shape[1], f.rows, f.columns)
        return spatial if self.times_ms is None else (self.grid.shape[0], *spatial)


@dataclass
class Series:
    key: str  # SeriesInstanceUID, with "#k" appended when one UID had to be split
    frames: list[Frame]
    metadata: dict
    phi: dict
    layout: Layout | None = None

    @property
    def first(self) -> Frame:
        return self.frames[0]

    @property
    def n_files(self) -> int:
        return len({f.url for f in self.frames})


def _number(value, default=None):
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


_TAGS: dict[str, int | None] = {}
_STRUCTS = {"US": "<H", "SS": "<h", "UL": "<I", "SL": "<i"}


def _get(ds, keyword, default=None):
    """``ds.get(keyword, default)``, with the common value types read straight from the raw
    bytes: pydicom's conversion costs about 13 us an element and a header has some 25 that
    scanning needs, which made it most of the scan. Anything unusual goes to pydicom."""
    if keyword not in _TAGS:
        _TAGS[keyword] = pydicom.datadict.tag_for_keyword(keyword)
    tag = _TAGS[keyword]
    element = ds.get_item(tag) if tag is not None and tag in ds else None
    if element is None:
        return default if tag is not None else ds.get(keyword, default)
    if not isinstance(element, pydicom.dataelem.RawDataElement) or not element.value or element.VR is None:
        return ds.get(keyword, default)
    vr, raw = element.VR, element.value
    try:
        if vr in _STRUCTS and element.is_little_endian:
            values = [v for (v,) in struct.iter_unpack(_STRUCTS[vr], raw)]
            return values[0] if len(values) == 1 else values
        if vr in ("DS", "IS", "UI", "CS"):
            text = raw.decode("ascii").strip(" \x00")
            if vr in ("UI", "CS"):
                return ds.get(keyword, default) if "\\" in text else text
            values = [(float if vr == "DS" else int)(v) for v in text.split("\\")]
            return values[0] if len(values) == 1 else values
    except (UnicodeDecodeError, ValueError, struct.error):
        pass
    return ds.get(keyword, default)


def _lookup(ds, keyword, per_frame_item, shared_item):
    """An attribute from the frame's functional groups, else the dataset itself."""
    group = _IMAGE_FRAME_GROUPS.get(keyword)
    if group:
        for item in (per_frame_item, shared_item):
            if item is not None and group in item and len(item[group].value):
                value = item[group][0].get(keyword)
                if value is not None:
                    return value
    return _get(ds, keyword)


def _frames_from_dataset(ds, url: str, truncated: str | None) -> list[Frame]:
    n_frames = int(_number(_get(ds, "NumberOfFrames"), 1) or 1)
    shared = ds.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in ds else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    frame_offsets = _get(ds, "GridFrameOffsetVector")
    series_number = _number(_get(ds, "SeriesNumber"))
    common = dict(
        url=url,
        series_uid=str(_get(ds, "SeriesInstanceUID", "") or f"no-series-uid:{url}"),
        series_number=None if series_number is None else int(series_number),
        description=str(_get(ds, "SeriesDescription", "") or ""),
        modality=str(_get(ds, "Modality", "") or "OT"),
        rows=int(_get(ds, "Rows")),
        columns=int(_get(ds, "Columns")),
        instance_number=None if (instance := _number(_get(ds, "InstanceNumber"))) is None else int(instance),
        bits_stored=int(_get(ds, "BitsStored", _get(ds, "BitsAllocated", 16)) or 16),
        signed=bool(_get(ds, "PixelRepresentation", 0)),
        samples_per_pixel=int(_get(ds, "SamplesPerPixel", 1) or 1),
        photometric=str(_get(ds, "PhotometricInterpretation", "MONOCHROME2")),
        transfer_syntax=str(ds.file_meta.get("TransferSyntaxUID", pydicom.uid.ImplicitVRLittleEndian)),
        gantry_tilt=_number(_get(ds, "GantryDetectorTilt"), 0.0),
        truncated=truncated,
    )
    frames = []
    for i in range(n_frames):
        item = per_frame[i] if per_frame is not None and i < len(per_frame) else None

        def get(keyword, item=item):
            return _lookup(ds, keyword, item, shared)

        iop = get("ImageOrientationPatient")
        ipp = get("ImagePositionPatient")
        spacing = get("PixelSpacing") or _get(ds, "ImagerPixelSpacing") or (1.0, 1.0)
        orientation = tuple(float(v) for v in iop) if iop and len(iop) == 6 else _AXIAL_IOP
        position = tuple(float(v) for v in ipp) if ipp and len(ipp) == 3 else None
        slice_spacing = _number(get("SpacingBetweenSlices")) or _number(get("SliceThickness"))
        if n_frames > 1 and per_frame is None and position is not None:
            # classic multi-frame (e.g. RT dose): frames stacked along the normal
            normal = np.cross(orientation[:3], orientation[3:])
            if frame_offsets is not None and len(frame_offsets) == n_frames:
                step = float(frame_offsets[i])
            else:
                step = i * (slice_spacing or 1.0)
            position = tuple(float(v) for v in np.asarray(position) + step * normal)
        frame_time = _number(_get(ds, "FrameTime"))
        trigger = _number(get("NominalCardiacTriggerDelayTime"))
        if trigger is None:
            trigger = _number(_get(ds, "TriggerTime"))
        if trigger is None and n_frames > 1 and per_frame is None and frame_time is not None:
            trigger = i * frame_time  # a cine loop in one file
        temporal = _number(get("TemporalPositionIndex"))
        if temporal is None:
            temporal = _number(_get(ds, "TemporalPositionIdentifier"))
        frames.append(
            Frame(
                index=i if n_frames > 1 else None,
                orientation=orientation,
                position=position,
                pixel_spacing=(float(spacing[0]), float(spacing[1])),
                slice_spacing=slice_spacing,
                trigger_time=trigger,
                temporal_index=temporal,
                slope=_number(get("RescaleSlope"), 1.0),
                intercept=_number(get("RescaleIntercept"), 0.0),
                rescale_type=str(get("RescaleType") or ""),
                **common,
            )
        )
    return frames


def _expected_pixel_bytes(ds) -> int:
    frames = int(_number(_get(ds, "NumberOfFrames"), 1) or 1)
    samples = int(_get(ds, "SamplesPerPixel", 1) or 1)
    bits = int(_get(ds, "BitsAllocated", 16) or 16)
    return math.ceil(int(_get(ds, "Rows")) * int(_get(ds, "Columns")) * frames * samples * bits / 8)


def read_header(url: str, *, known_series=()):
    """Parse one file's header: ``(frames, metadata, phi)``; BadInputError if not DICOM.

    For a file of a series in ``known_series`` the metadata (the same for the
    whole series) is not collected again: ``({}, {})``.
    """
    fs, path = storage.url_to_fs(url)
    try:
        with fs.open(path, "rb") as fp:
            ds = pydicom.dcmread(fp, stop_before_pixels=True)
            pixel_start = fp.tell()
            size = fs.size(path)
    except InvalidDicomError:
        raise BadInputError(url, "not a DICOM file") from None
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise BadInputError(url, f"unreadable DICOM header ({type(error).__name__}: {error})") from None
    if "Rows" not in ds or "Columns" not in ds:
        return [], {}, {}
    truncated = None
    ts = ds.file_meta.get("TransferSyntaxUID")
    if size <= pixel_start:
        truncated = "truncated: no pixel data"
    elif ts is not None and not pydicom.uid.UID(ts).is_compressed:
        header = 8 if pydicom.uid.UID(ts).is_implicit_VR else 12
        expected = _expected_pixel_bytes(ds)
        if size - pixel_start - header < expected:
            truncated = f"truncated: {size - pixel_start - header} of {expected} bytes of pixel data"
    try:
        frames = _frames_from_dataset(ds, url, truncated)
    except (ValueError, TypeError, AttributeError, IndexError) as error:
        raise BadInputError(url, f"inconsistent image attributes ({error})") from None
    if (len(frames) == 1 and frames[0].index is None and truncated is None and ts in _PLAIN_SYNTAXES
            and ds.get("BitsAllocated") in (8, 16) and frames[0].samples_per_pixel == 1):
        frames = [dataclasses.replace(frames[0], pixel_data_at=pixel_start)]
    if frames and frames[0].series_uid in known_series:
        return frames, {}, {}
    return frames, _metadata(ds, TECHNICAL_KEYWORDS), _metadata(ds, PHI_KEYWORDS)


def _metadata(ds, keywords) -> dict:
    out = {}
    for keyword in keywords:
        value = ds.get(keyword)
        if value is None or value == "":
            continue
        if isinstance(value, pydicom.multival.MultiValue):
            value = [_plain(v) for v in value]
        else:
            value = _plain(value)
        out[keyword] = value
    return out


def _plain(value):
    if isinstance(value, (int, float, str)):
        return value if not isinstance(value, float) or math.isfinite(value) else str(value)
    try:
        number = float(value)
        return int(number) if number.is_integer() and "." not in str(value) else number
    except (TypeError, ValueError):
        return str(value)

_SIDECARS = (".json",)
_PLAIN_SYNTAXES = (pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.ImplicitVRLittleEndian)


def scan_series(src, *, progress: bool = False) -> tuple[list[Series], dict[str, str]]:
    """Read every header under ``src``: ``(series, skipped)``.

    ``skipped`` maps files that are not usable DICOM images to the reason.
    Raises BadInputError if ``src`` holds no DICOM image at all.
    """
    # JSON sidecars (BIDS, a phantom's truth.json) are never DICOM: skipped quietly
    files = [f for f in storage.find_files(src) if not f.lower().endswith(_SIDECARS)]
    skipped: dict[str, str] = {}
    by_key: dict[tuple, list[Frame]] = defaultdict(list)
    metadata: dict[str, tuple[dict, dict]] = {}

    def read(url):
        try:
            return url, read_header(url, known_series=metadata), None
        except BadInputError as error:
            return url, None, error.problem

    # parsing holds the GIL: threads only pay where reading waits (object storage)
    fs, _ = storage.url_to_fs(src)
    workers = 1 if storage.is_local(fs) else 16
    # warnings.catch_warnings is process-global: entered once here, never in the threads
    with ThreadPoolExecutor(max_workers=workers) as pool, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's chatter about odd values in headers
        results = pool.map(read, files)
        if progress:
            from tqdm.auto import tqdm

            results = tqdm(results, total=len(files), desc="reading headers", unit="file")
        for url, parsed, problem in results:
            if problem is not None:
                skipped[url] = problem
                continue
            frames, meta, phi = parsed
            if not frames:
                skipped[url] = "no image data (not an image object)"
                continue
            for f in frames:
                orientation = tuple(round(v, 4) for v in f.orientation)
                by_key[(f.series_uid, orientation, f.rows, f.columns, f.samples_per_pixel)].append(f)
            metadata.setdefault(frames[0].series_uid, (meta, phi))
    for url, problem in skipped.items():
        warnings.warn(f"{url}: {problem} (skipped)", SkippedFileWarning, stacklevel=2)
    if not by_key:
        raise BadInputError(src, f"no DICOM images found ({len(files)} files looked at)")
    groups_per_uid = defaultdict(list)
    for key in sorted(by_key, key=lambda k: (k[0], -len(by_key[k]))):
        groups_per_uid[key[0]].append(key)
    series = []
    for uid, keys in groups_per_uid.items():
        meta, phi = metadata[uid]
        for k, key in enumerate(keys):
            name = uid if k == 0 else f"{uid}#{k + 1}"
            s = Series(key=name, frames=by_key[key], metadata=meta, phi=phi)
            s.layout = layout(s.frames)
            series.append(s)
    series.sort(key=lambda s: (s.first.series_number is None, s.first.series_number or 0, s.key))
    return series, skipped


def _time_key(f: Frame):
    return (
        f.temporal_index if f.temporal_index is not None else math.inf,
        f.trigger_time if f.trigger_time is not None else math.inf,
        f.instance_number if f.instance_number is not None else math.inf,
        f.url,
        f.index or 0,
    )


def _name(f: Frame) -> str:
    return f.url if f.index is None else f"{f.url} (frame {f.index})"


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=float)
    return vector / np.linalg.norm(vector)


def layout(frames: list[Frame]) -> Layout:
    """Order ``frames`` into a ``(t, z)`` grid and derive spacing, origin, direction."""
    first = frames[0]
    problems, fatal = [], []
    row = _unit(first.orientation[:3])
    col = _unit(first.orientation[3:])
    normal = _unit(np.cross(row, col))
    if first.samples_per_pixel != 1 or first.photometric not in ("MONOCHROME1", "MONOCHROME2"):
        fatal.append((
            first.url,
            f"colour images (PhotometricInterpretation {first.photometric}) are not supported: "
            "only greyscale images",
        ))
    for f in frames:
        if f.truncated:
            fatal.append((_name(f), f.truncated))
    if first.photometric == "MONOCHROME1":
        problems.append("MONOCHROME1: values kept as stored (high = dark)")
    unpositioned = [f for f in frames if f.position is None]
    if unpositioned and len(frames) > 1:
        if all(f.url == first.url for f in frames):  # one multi-frame file: frames in time
            return _multiframe_time_layout(frames, problems, fatal)
        fatal.append((
            _name(unpositioned[0]),
            f"no ImagePositionPatient (in {len(unpositioned)} of {len(frames)} images): "
            "the slices cannot be ordered",
        ))
    positions = np.array([f.position if f.position is not None else (0.0, 0.0, 0.0) for f in frames])
    if unpositioned:
        problems.append("no patient geometry (ImagePositionPatient): origin 0, axial direction assumed")
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    slices: list[list[Frame]] = []
    slice_distance: list[float] = []
    for i in order:
        if slice_distance and abs(distance[i] - slice_distance[-1]) < 1e-3:
            slices[-1].append(frames[i])
        else:
            slices.append([frames[i]])
            slice_distance.append(float(distance[i]))
    counts = {len(s) for s in slices}
    times_ms = None
    if counts != {1}:
        n_t = max(counts)
        distinct = all(len({_time_key(f)[:2] for f in s}) == len(s) for s in slices)
        timed = all(f.trigger_time is not None or f.temporal_index is not None for f in frames)
        if len(counts) > 1 and timed:
            fatal.append((
                _name(first),
                f"uneven number of images per slice position ({min(counts)} to {max(counts)}): "
                "a missing or duplicate image",
            ))
        elif not (distinct and timed) or len(counts) > 1:
            dup = next(s for s in slices if len(s) > 1)
            fatal.append((
                _name(dup[0]),
                f"duplicate slice position: {len(dup)} images at {slice_distance[slices.index(dup)]:.3f} mm "
                f"along the normal (also {_name(dup[1])})",
            ))
        else:
            for s in slices:
                s.sort(key=_time_key)
            triggers = np.array(
                [[f.trigger_time if f.trigger_time is not None else np.nan for f in s] for s in slices]
            )
            if np.isnan(triggers).any():
                times_ms = np.arange(n_t, dtype=float)
                problems.append("no trigger times: t is the frame number")
            else:
                times_ms = np.round(triggers.mean(axis=0), 3)
    n_z = len(slices)
    slice_positions = np.array([s[0].position if s[0].position is not None else (0, 0, 0) for s in slices])
    z_direction = normal
    if n_z >= 2:
        gaps = np.diff(slice_distance)
        step = float(np.median(gaps))
        tolerance = max(0.01 * step, 1e-3)
        irregular = np.abs(gaps - step) > tolerance
        if irregular.any():
            i = int(np.argmax(irregular))
            ratio = gaps[i] / step
            where = f"between {slice_distance[i]:.3f} and {slice_distance[i + 1]:.3f} mm along the normal"
            if abs(ratio - round(ratio)) < 0.05 and round(ratio) >= 2:
                problem = f"missing slice after this one: a gap of {gaps[i]:.3f} mm where the spacing is {step:.3f} mm, {where}"
            else:
                problem = f"uneven slice spacing: gaps from {gaps.min():.3f} to {gaps.max():.3f} mm, first {where}"
            fatal.append((_name(slices[i][0]), problem))
        step_vector = (slice_positions[-1] - slice_positions[0]) / (n_z - 1)
        slice_spacing = float(np.linalg.norm(step_vector))
        z_direction = step_vector / slice_spacing
        tilt = math.degrees(math.atan2(np.linalg.norm(np.cross(z_direction, normal)), abs(z_direction @ normal)))
        if tilt > 0.01:
            problems.append(
                f"gantry tilt {tilt:.2f} deg: the z axis follows the slice positions (sheared grid)"
            )
    else:
        slice_spacing = first.slice_spacing or 1.0
    direction = np.column_stack([row, col, z_direction])
    grid = np.empty((max(counts) if times_ms is not None else 1, n_z), dtype=object)
    for z, s in enumerate(slices):
        for t, f in enumerate(s if times_ms is not None else s[:1]):
            grid[t, z] = f
    spacing = _checked_spacing((slice_spacing, *first.pixel_spacing), problems)
    return Layout(grid, spacing, tuple(map(float, slice_positions[0])), direction, times_ms, problems, fatal)


def _multiframe_time_layout(frames, problems, fatal) -> Layout:
    """A multi-frame file without per-frame positions (e.g. an ultrasound loop)."""
    first = frames[0]
    frames = sorted(frames, key=lambda f: f.index)
    triggers = [f.trigger_time for f in frames]
    if any(t is None for t in triggers):
        times = np.arange(len(frames), dtype=float)
        problems.append("multi-frame without positions or frame times: frames along t, t = frame number")
    else:
        times = np.asarray(triggers, float)
    problems.append("no patient geometry (ImagePositionPatient): origin 0, axial direction assumed")
    grid = np.empty((len(frames), 1), dtype=object)
    grid[:, 0] = frames
    spacing = _checked_spacing((first.slice_spacing or 1.0, *first.pixel_spacing), problems)
    row, col = _unit(first.orientation[:3]), _unit(first.orientation[3:])
    direction = np.column_stack([row, col, _unit(np.cross(row, col))])
    return Layout(grid, spacing, (0.0, 0.0, 0.0), direction, times, problems, fatal)


def _checked_spacing(spacing, problems) -> tuple[float, float, float]:
    if all(v > 0 for v in spacing):
        return tuple(float(v) for v in spacing)
    problems.append(f"invalid spacing {tuple(spacing)} in the header: 1 mm assumed where not positive")
    return tuple(float(v) if v > 0 else 1.0 for v in spacing)


def _orientation_label(direction: np.ndarray) -> str:
    normal = direction[:, 2]
    axis = int(np.argmax(np.abs(normal)))
    if abs(normal[axis]) < 0.9999:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def scan_dicom(src, *, progress: bool = False) -> pd.DataFrame:
    """The series found under a folder, file or fsspec URL: one row per series.

    Reads headers only. Columns: ``series_uid`` (with ``#k`` appended when one
    UID holds images of different orientation or size), ``series_number``,
    ``modality``, ``description``, ``n_files``, ``shape``, ``spacing`` (mm, in
    dims order), ``orientation``, ``transfer_syntax``, ``problems`` (list of
    strings) and ``ok`` (False when a problem stops conversion). Files that are
    not DICOM images are listed in ``table.attrs["skipped"]``.

    Raises
    ------
    BadInputError
        ``src`` does not exist, cannot be reached, or holds no DICOM image.

    Examples
    --------
    >>> import tempfile, bmia_dask as bd
    >>> folder = tempfile.mkdtemp()
    >>> _ = bd.phantoms.write_ct(folder, shape=(6, 32, 32))
    >>> table = bd.scan_dicom(folder)
    >>> table[["modality", "n_files", "shape", "ok"]].values.tolist()
    [['CT', 6, (6, 32, 32), True]]
    """
    series, skipped = scan_series(src, progress=progress)
    rows = []
    for s in series:
        lay = s.layout
        rows.append(
            dict(
                series_uid=s.key,
                series_number=s.first.series_number,
                modality=s.first.modality,
                description=s.first.description,
                n_files=s.n_files,
                shape=lay.shape,
                spacing=tuple(round(v, 6) for v in lay.spacing),
                orientation=_orientation_label(lay.direction),
                transfer_syntax=pydicom.uid.UID(s.first.transfer_syntax).name,
                problems=[f"{path}: {problem}" for path, problem in lay.fatal] + lay.problems,
                ok=not lay.fatal,
            )
        )
    table = pd.DataFrame(rows)
    table.attrs["skipped"] = skipped
    return table
