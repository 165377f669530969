"""Synthetic DICOM series with known truth, for tests, benchmarks and the demo.

Every writer returns a ``truth`` dict (geometry and the analytic quantities of
the objects it drew). Files get random names, are written in random order and
carry instance numbers opposite to their position, so a reader that orders
slices by anything but their position along the normal gets them wrong.
"""

from __future__ import annotations

import datetime
import itertools
import json
import os

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

__all__ = [
    "write_series", "write_ct", "write_cine", "write_cohort", "cine_volumes", "ct_volume", "head", "rigid", "rotation",
    "write_pair", "radiograph",
]

_SOP_CLASS = {
    "CT": pydicom.uid.CTImageStorage,
    "MR": pydicom.uid.MRImageStorage,
}
# Identifying attributes a PACS export would carry: tests check none is stored.
FAKE_PHI = {
    "PatientName": "Doe^Jane",
    "PatientID": "PHANTOM-0042",
    "PatientBirthDate": "19700101",
    "PatientSex": "F",
    "InstitutionName": "Phantom General Hospital",
    "ReferringPhysicianName": "House^Gregory",
    "AccessionNumber": "ACC123456",
    "StudyDate": "20260101",
}


def rotation(degrees_about_x: float = 0.0, degrees_about_y: float = 0.0, degrees_about_z: float = 0.0):
    """A 3x3 direction matrix: the identity turned about the L, P and S axes.

    Examples
    --------
    >>> rotation(0, 0, 90).round(6).tolist()
    [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    ax, ay, az = np.radians([degrees_about_x, degrees_about_y, degrees_about_z])
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def rigid(degrees_about_x: float = 0.0, degrees_about_y: float = 0.0, degrees_about_z: float = 0.0,
          translation_mm=(0.0, 0.0, 0.0), *, centre_mm=(0.0, 0.0, 0.0)) -> np.ndarray:
    """A 4x4 rigid transform in LPS mm: :func:`rotation` about ``centre_mm``, then ``translation_mm``.

    Examples
    --------
    >>> rigid(0, 0, 90, (1.0, 0.0, 0.0)).round(6)[:3].tolist()
    [[0.0, -1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    """
    matrix = np.eye(4)
    matrix[:3, :3] = rotation(degrees_about_x, degrees_about_y, degrees_about_z)
    centre = np.asarray(centre_mm, dtype=float)
    matrix[:3, 3] = centre - matrix[:3, :3] @ centre + np.asarray(translation_mm, dtype=float)
    return matrix


# A head: (centre LPS mm, semi-axes (L, P, S) mm, value added inside). Nose, a lesion and
# unequal ventricles make it asymmetric along every axis, so a rigid pose is unique.
_HEAD = [
    ((0.0, 0.0, 0.0), (58.0, 70.0, 52.0), 1.0),      # skull
    ((0.0, 0.0, 0.0), (53.0, 65.0, 47.0), -0.55),    # brain inside it
    ((-11.0, 2.0, 8.0), (6.0, 20.0, 9.0), -0.30),    # left ventricle
    ((12.0, 4.0, 6.0), (5.0, 16.0, 7.0), -0.30),     # right ventricle (smaller)
    ((24.0, -28.0, -14.0), (10.0, 10.0, 10.0), 0.40),  # a lesion
    ((0.0, -72.0, -18.0), (12.0, 9.0, 14.0), 0.70),  # the nose
]


def head(shape, *, spacing=(1.0, 1.0, 1.0), origin=None, direction=None, transform=None, edge_mm=None,
         chunks=None):
    """An analytic head (skull, brain, ventricles, lesion, nose) sampled on a grid, as an image.

    Every edge is a smooth ramp about ``edge_mm`` wide (default: the largest
    voxel size, as a scanner's partial volume blurs it), so the picture does
    not alias and a registration can find its pose to a fraction of a voxel. ``transform`` (4x4, LPS mm) places the head: the
    image shows at ``p`` what the untransformed head has at ``transform @ p``,
    so ``bd.transform.apply(image, transform)`` brings it back, and
    :func:`bmia_dask.register` of this image onto an untransformed one
    should return ``transform``.

    Parameters
    ----------
    shape : tuple of int
        ``(z, y, x)`` grid shape.
    spacing, origin, direction
        The grid's geometry (default origin: the grid centred on the head).

    Examples
    --------
    >>> import bmia_dask as bd
    >>> image = bd.phantoms.head((40, 48, 40), spacing=4.0)
    >>> image.shape, round(float(image.max()), 2)
    ((40, 48, 40), 1.33)
    """
    from .image import from_array

    shape = tuple(int(n) for n in shape)
    spacing = np.broadcast_to(np.asarray(spacing, dtype=float), (3,))
    direction = np.eye(3) if direction is None else np.asarray(direction, dtype=float)
    edge_mm = float(spacing.max()) if edge_mm is None else float(edge_mm)
    if origin is None:  # the grid's centre at the head's centre
        origin = -direction @ ((np.array(shape[::-1]) - 1) / 2 * spacing[::-1])
    image = from_array(np.zeros(shape, np.float32), spacing=spacing, origin=origin, direction=direction, modality="MR")
    index = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).reshape(-1, 3)
    affine = np.asarray(image.attrs["affine"])
    if transform is not None:
        affine = np.asarray(transform, dtype=float) @ affine
    points = index @ affine[:3, :3].T + affine[:3, 3]
    values = np.zeros(len(points))
    for centre, axes, value in _HEAD:
        radius = np.linalg.norm((points - centre) / axes, axis=1)  # 1 on the surface
        # distance to the surface along the ray, about (1 - radius) * semi-axis
        values += value / (1 + np.exp(-(1 - radius) * min(axes) / (edge_mm / 4)))
    return from_array(values.reshape(shape).astype(np.float32), spacing=spacing, origin=origin,
                      direction=direction, modality="MR", chunks=chunks)


def _segment_distance(y, x, start, end):
    """Distance (pixels) from every pixel to the segment ``start``-``end``."""
    (y0, x0), (y1, x1) = start, end
    dy, dx = y1 - y0, x1 - x0
    t = np.clip(((y - y0) * dy + (x - x0) * dx) / (dy * dy + dx * dx), 0, 1)
    return np.hypot(y - (y0 + t * dy), x - (x0 + t * dx))


def radiograph(shape=(256, 256), *, seed: int = 0) -> np.ndarray:
    """A hand radiograph (uint8): soft tissue about 90, bones about 190, a dark background.

    A palm and five fingers, each with its bones (metacarpals and phalanges
    with joint gaps), smooth edges and noise: the course's chapter 2 image.

    Examples
    --------
    >>> image = radiograph((128, 128))
    >>> image.dtype, image.shape, bool(image.max() > 150 and image.min() < 40)
    (dtype('uint8'), (128, 128), True)
    """
    rows, cols = shape
    y, x = np.mgrid[0:rows, 0:cols].astype(float)
    scale = min(rows, cols) / 256
    soft = ((y - 175 * scale) / (62 * scale)) ** 2 + ((x - 128 * scale) / (58 * scale)) ** 2 <= 1
    bone = np.zeros(shape, bool)
    fingers = [(-40, 36, 0.75), (-20, 18, 0.95), (0, 12, 1.0), (20, 18, 0.9), (42, 70, 0.6)]  # x offset, top y, length
    for dx, top, length in fingers:
        base = np.array([150.0 * scale, (128 + dx) * scale])
        tip = np.array([top * scale, (128 + dx * (1.6 if dx == 42 else 1.2)) * scale])
        soft |= _segment_distance(y, x, base, tip) <= 11 * scale
        palm_end = np.array([215.0 * scale, (128 + dx * 0.6) * scale])
        bone |= _segment_distance(y, x, palm_end + (base - palm_end) * 0.1, base - (base - palm_end) * 0.05) <= 5 * scale
        for a, b in ((0.04, 0.42), (0.47, 0.74), (0.79, 0.97)):  # phalanges with joint gaps
            bone |= _segment_distance(y, x, base + (tip - base) * a, base + (tip - base) * b) <= 4.5 * scale * length
    soft |= (np.abs(x - 128 * scale) < 40 * scale) & (y > 215 * scale)  # the wrist
    bone |= (np.abs(x - 128 * scale) < 28 * scale) & (y > 222 * scale) & (np.abs(x - 128 * scale) > 4 * scale)
    values = 12.0 + 78.0 * soft + 100.0 * (bone & soft)
    from scipy.ndimage import gaussian_filter

    values = gaussian_filter(values, 1.2 * scale) + np.random.default_rng(seed).normal(0, 4, shape)
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def write_pair(folder, *, rotation_deg=(3.0, -2.0, 5.0), translation_mm=(4.0, -3.0, 2.5), levels: int = 1) -> dict:
    """Two head stores from different scans and the transform between them, for registration.

    ``fixed.ome.zarr``: 2.5 mm isotropic, axial. ``moving.ome.zarr``: 3.0 x
    2.6 x 2.4 mm, tilted 10 and -15 degrees, showing the head moved by the
    rigid transform (degrees about L, P, S, then mm). ``truth.json`` holds the
    4x4 moving -> fixed matrix that a registration should find.

    Examples
    --------
    >>> import tempfile, bmia_dask as bd
    >>> truth = bd.phantoms.write_pair(tempfile.mkdtemp())
    >>> sorted(truth)
    ['fixed', 'matrix_lps_mm', 'moving', 'rotation_deg', 'translation_mm']
    """
    from .io import storage
    from .io.zarr_store import to_zarr

    matrix = rigid(*rotation_deg, translation_mm=translation_mm)
    fixed = head((60, 68, 60), spacing=2.5, edge_mm=3.0, chunks=(32, 32, 32))
    moving = head((52, 66, 64), spacing=(3.0, 2.6, 2.4), direction=rotation(10, 0, -15), transform=matrix,
                  edge_mm=3.0, chunks=(32, 32, 32))
    truth = {
        "fixed": to_zarr(fixed, storage.join(str(folder), "fixed.ome.zarr"), levels=levels),
        "moving": to_zarr(moving, storage.join(str(folder), "moving.ome.zarr"), levels=levels),
        "matrix_lps_mm": matrix.tolist(),
        "rotation_deg": list(rotation_deg),
        "translation_mm": list(translation_mm),
    }
    storage.write_bytes(storage.join(str(folder), "truth.json"), json.dumps(truth, indent=2).encode())
    return truth


def write_series(
    values,
    folder,
    *,
    spacing=(1.0, 1.0, 1.0),
    origin=(0.0, 0.0, 0.0),
    direction=None,
    times_ms=None,
    modality: str = "CT",
    slope: float = 1.0,
    intercept: float = 0.0,
    bits_stored: int = 12,
    signed: bool = False,
    transfer_syntax=ExplicitVRLittleEndian,
    description: str = "phantom",
    series_number: int = 1,
    seed: int = 0,
    phi: dict | None = None,
) -> list[str]:
    """Write ``values`` (``(z, y, x)`` or ``(t, z, y, x)``, after rescale) as a DICOM series.

    Slice ``k`` lies at ``origin + k * spacing[0] * direction[:, 2]``; rows run
    along ``direction[:, 1]`` and columns along ``direction[:, 0]``. Values are
    stored as ``(value - intercept) / slope`` in ``bits_stored`` bits and must be
    representable exactly. ``transfer_syntax`` may be any syntax pydicom can
    encode (RLE Lossless, JPEG 2000 Lossless, ...). Returns the file paths.
    """
    values = np.asarray(values)
    if values.ndim == 3:
        values = values[np.newaxis]
    if values.ndim != 4:
        raise ValueError(f"values must be 3D or 4D, got {values.ndim}D")
    n_t, n_z, rows, cols = values.shape
    direction = np.eye(3) if direction is None else np.asarray(direction, dtype=float)
    raw = (values.astype(np.float64) - intercept) / slope
    low, high = (-(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1) - 1) if signed else (0, 2**bits_stored - 1)
    if not np.allclose(raw, np.rint(raw), atol=1e-6) or raw.min() < low or raw.max() > high:
        raise ValueError("values are not representable with this slope, intercept and bits_stored")
    raw = np.rint(raw).astype(np.int16 if signed else np.uint16)
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    study_uid = generate_uid(entropy_srcs=["study", str(seed)])
    series_uid = generate_uid(entropy_srcs=["series", str(seed), description, str(series_number)])
    frame_uid = generate_uid(entropy_srcs=["frame", str(seed)])
    order = [(t, z) for t in range(n_t) for z in range(n_z)]
    paths = []
    for position in rng.permutation(len(order)):
        t, z = order[position]
        ds = _dataset(modality, transfer_syntax)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.SeriesNumber = series_number
        ds.SeriesDescription = description
        ds.InstanceNumber = len(order) - position  # opposite to the position order on purpose
        ipp = np.asarray(origin, float) + z * spacing[0] * direction[:, 2]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in ipp]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*direction[:, 0], *direction[:, 1])]
        ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[2]:.6f}"]
        ds.SliceThickness = f"{spacing[0]:.6f}"
        ds.SliceLocation = f"{ipp @ np.cross(direction[:, 0], direction[:, 1]):.6f}"
        ds.Rows, ds.Columns = rows, cols
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
        ds.PixelRepresentation = int(signed)
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:g}", f"{intercept:g}"
        if modality == "CT":
            ds.RescaleType = "HU"
        if times_ms is not None:
            ds.TriggerTime = f"{float(times_ms[t]):.3f}"
            ds.TemporalPositionIdentifier = t + 1
            ds.NumberOfTemporalPositions = n_t
            ds.CardiacNumberOfImages = n_t
        for keyword, value in (FAKE_PHI if phi is None else phi).items():
            setattr(ds, keyword, value)
        frame = np.ascontiguousarray(raw[t, z])
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.compress(transfer_syntax, frame)
        else:
            ds.PixelData = frame.tobytes()
        name = f"{rng.integers(16**8):08x}{'.dcm' if position % 3 else ''}"
        path = os.path.join(str(folder), name)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _dataset(modality: str, transfer_syntax) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = _SOP_CLASS.get(modality, pydicom.uid.SecondaryCaptureImageStorage)
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.Manufacturer = "bmia_dask phantoms"
    ds.ContentDate = datetime.date(2026, 1, 1).strftime("%Y%m%d")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    meta.TransferSyntaxUID = pydicom.uid.UID(transfer_syntax)
    return ds


def _grid_mm(shape, spacing):
    """Voxel centre coordinates (mm) along the array axes, centred on the volume."""
    return np.meshgrid(
        *[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)], indexing="ij", sparse=True
    )


def ct_volume(shape=(40, 96, 96), spacing=(2.5, 0.8, 0.8)):
    """A chest-like CT volume in HU and its truth.

    Air (-1000) around an elliptic body (40 HU) with two lungs (-850), a spine
    (700) and a spherical lesion (60 HU) whose centre and volume are known.
    """
    z, y, x = _grid_mm(shape, spacing)
    extent = [n * s for n, s in zip(shape, spacing)]
    ry, rx = 0.42 * extent[1], 0.45 * extent[2]
    volume = np.full(shape, -1000, dtype=np.int16)
    body = (y / ry) ** 2 + (x / rx) ** 2 <= 1
    volume[np.broadcast_to(body, shape)] = 40
    for side in (-1, 1):
        lung = ((y + 0.05 * extent[1]) / (0.6 * ry)) ** 2 + ((x - side * 0.45 * rx) / (0.3 * rx)) ** 2 <= 1
        volume[np.broadcast_to(lung, shape)] = -850
    spine = ((y - 0.6 * ry) / (0.15 * ry)) ** 2 + (x / (0.12 * rx)) ** 2 <= 1
    volume[np.broadcast_to(spine, shape)] = 700
    radius = 0.18 * min(ry, rx, extent[0] / 2)
    centre = (0.1 * extent[0], -0.2 * ry, 0.0)
    sphere = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius**2
    volume[sphere] = 60
    truth = {
        "lesion_centre_mm_from_centre": centre,
        "lesion_radius_mm": radius,
        "lesion_volume_mm3": 4 / 3 * np.pi * radius**3,
        "lesion_voxels": int(sphere.sum()),
    }
    return volume, truth


def write_ct(
    folder,
    *,
    shape=(40, 96, 96),
    spacing=(2.5, 0.8, 0.8),
    origin=(-38.0, -38.0, -50.0),
    direction=None,
    seed: int = 0,
    **options,
) -> dict:
    """Write a CT phantom series (int16 HU, intercept -1024) into ``folder``.

    Returns the truth: geometry as written (``spacing``, ``origin``,
    ``direction``), the HU volume as ``values`` and the lesion's analytic size.

    Examples
    --------
    >>> import tempfile
    >>> truth = write_ct(tempfile.mkdtemp(), shape=(4, 16, 16))
    >>> len(truth["files"]), truth["values"].shape
    (4, (4, 16, 16))
    """
    volume, truth = ct_volume(shape, spacing)
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    options = {"modality": "CT", "intercept": -1024.0, "description": "phantom CT", **options}
    files = write_series(volume, folder, spacing=spacing, origin=origin, direction=direction, seed=seed, **options)
    truth.update(
        files=files, values=volume, spacing=tuple(spacing), origin=tuple(origin), direction=direction
    )
    return truth


def _truncated_ellipsoid_ml(a, b, h):
    """Volume (mL) of the ellipsoid z^2/a^2 + r^2/b^2 <= 1 cut at the plane z = h (kept: z <= h)."""
    h = np.clip(h, -a, a)
    return np.pi * b * b * ((h + a) - (h**3 + a**3) / (3 * a * a)) / 1000


def _heart(z, y, x, *, a, b, base, wall, rv_offset, rv_scale):
    """Blood (LV, RV) and myocardium occupancy at points given in mm, heart coordinates.

    The LV cavity is a prolate ellipsoid (long axis along z, apex at -z) cut
    at the base plane; the myocardium is a wall of thickness ``wall`` around
    it, closed by a lid as thick above the base (the valve plane); the RV is a flattened ellipsoid beside it (+x)
    wrapped around the septum.
    """
    below_base = z <= base
    lv = ((z / a) ** 2 + (y**2 + x**2) / b**2 <= 1) & below_base
    outer = ((z / (a + wall)) ** 2 + (y**2 + x**2) / (b + wall) ** 2 <= 1) & (z <= base + wall)
    rv = (
        ((z / (rv_scale * a)) ** 2 + (y / (1.1 * b)) ** 2 + ((x - rv_offset) / (0.75 * b)) ** 2 <= 1)
        & below_base
        & ~((z / (a + wall + 2)) ** 2 + (y**2 + x**2) / (b + wall + 2) ** 2 <= 1)
    )
    return lv, rv, outer & ~lv


def cine_volumes(*, n_frames=20, rr_ms=900.0, ef=0.6, edv_ml=140.0):
    """Analytic LV cavity volumes of the cine phantom: (times_ms, volumes_ml, semi-axes).

    The volume follows ``1 - ef * (1 - cos(2 pi t / RR)) / 2`` of the end-diastolic
    volume: end-diastole at frame 0, end-systole at ``t = RR / 2``. The cavity
    shortens (long axis) and narrows (short axis) together.

    Examples
    --------
    >>> times, volumes, _ = cine_volumes(n_frames=4, ef=0.5, edv_ml=120)
    >>> [round(v, 6) for v in volumes]
    [120.0, 90.0, 60.0, 90.0]
    """
    times = np.arange(n_frames) * rr_ms / n_frames
    ratio = 1 - ef * (1 - np.cos(2 * np.pi * times / rr_ms)) / 2
    # ED shape: long semi-axis 1.7 x the short one, cut at 0.35 of the long axis above the centre
    shape_factor = _truncated_ellipsoid_ml(1.7, 1.0, 0.35 * 1.7)  # mL per mm^3 of b^3
    b0 = (edv_ml / shape_factor) ** (1 / 3)
    a = 1.7 * b0 * ratio**0.25  # longitudinal shortening ...
    b = b0 * ratio**0.375  # ... and radial narrowing: a * b^2 follows the ratio
    volumes = [float(_truncated_ellipsoid_ml(ai, bi, 0.35 * ai)) for ai, bi in zip(a, b)]
    return times, volumes, (a, b)


def write_cine(
    folder,
    *,
    n_frames: int = 20,
    shape=(12, 80, 80),
    spacing=(8.0, 1.8, 1.8),
    origin=None,
    direction=None,
    rr_ms: float = 900.0,
    ef: float = 0.6,
    edv_ml: float = 140.0,
    snr: float = 25.0,
    bias: float = 0.3,
    supersample=None,
    seed: int = 0,
    truth_file: bool = True,
    **options,
) -> dict:
    """Write a short-axis cine MR phantom ``(t, z, y, x)`` with known LV volumes.

    A beating left ventricle (bright blood pool, 600) inside its myocardium
    (120), a right ventricle (bright, 550) beside the septum, in tissue (250)
    surrounded by lung (40). Slices run along the LV long axis (apex to base);
    the stack may be oblique in the patient (``direction``). Voxels carry
    partial volumes (``supersample`` points per voxel along z, y, x; default
    one per mm through the slice and 3 x 3 in-plane), a smooth
    multiplicative coil bias (``bias``: the field spans 1 +- bias over the field
    of view) and Rician noise (``snr``: blood-to-myocardium contrast over the
    noise level). The analytic cavity volume of every frame, ED/ES and EF are in
    the returned truth (and in ``truth.json`` in ``folder``, which readers skip).
    """
    times, volumes, (a, b) = cine_volumes(n_frames=n_frames, rr_ms=rr_ms, ef=ef, edv_ml=edv_ml)
    rng = np.random.default_rng(seed)
    if supersample is None:  # a point per mm through the slice, 3 x 3 in-plane
        supersample = (max(3, int(np.ceil(spacing[0]))), 3, 3)
    extent = np.array(shape) * np.array(spacing)
    # the stack runs from just below the apex to above the base; the LV sits a little off the FOV centre
    centre = np.array([-extent[0] / 2 + spacing[0] + a[0], -0.05 * extent[1], -0.08 * extent[2]])
    if centre[0] + 0.35 * a[0] > extent[0] / 2 - spacing[0] / 2:
        raise ValueError(f"a stack of {shape[0]} x {spacing[0]} mm slices cannot hold an LV of {edv_ml} mL "
                         f"(long axis {1.35 * a[0]:.0f} mm): add slices")
    wall = 9.0
    values = np.empty((n_frames, *shape), np.float64)
    offsets = [(np.arange(k) + 0.5) / k - 0.5 for k in supersample]
    grid = _grid_mm(shape, spacing)
    lung = (grid[1] / (0.48 * extent[1])) ** 2 + (grid[2] / (0.48 * extent[2])) ** 2 > 1
    field = 1 + bias * (grid[2] / (extent[2] / 2) * 0.8 + grid[1] / (extent[1] / 2) * 0.6) / 1.4
    for t in range(n_frames):
        blood_lv = np.zeros(shape)
        blood_rv = np.zeros(shape)
        muscle = np.zeros(shape)
        for dz, dy, dx in itertools.product(*offsets):
            z = grid[0] + dz * spacing[0] - centre[0]
            y = grid[1] + dy * spacing[1] - centre[1]
            x = grid[2] + dx * spacing[2] - centre[2]
            lv, rv, myo = _heart(z, y, x, a=a[t], b=b[t], base=0.35 * a[t], wall=wall,
                                 rv_offset=b[0] + wall + 0.6 * b[t], rv_scale=0.9)
            blood_lv += lv
            blood_rv += rv
            muscle += myo
        n = np.prod(supersample)
        blood_lv, blood_rv, muscle = blood_lv / n, blood_rv / n, muscle / n
        rest = 1 - blood_lv - blood_rv - muscle
        signal = 600 * blood_lv + 550 * blood_rv + 120 * muscle + np.where(lung, 40, 250) * rest
        signal = signal * field
        sigma = (600 - 120) / snr
        noisy = np.hypot(signal + rng.normal(0, sigma, shape), rng.normal(0, sigma, shape))  # Rician
        values[t] = noisy
    values = np.clip(np.rint(values), 0, 4095).astype(np.int16)
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    if origin is None:  # the stack centred on the patient's origin
        origin = -direction @ ((np.array(shape[::-1]) - 1) / 2 * np.array(spacing[::-1]))
    options = {"modality": "MR", "description": "phantom cine", "bits_stored": 12, **options}
    files = write_series(
        values, folder, spacing=spacing, origin=origin, direction=direction, times_ms=times, seed=seed, **options
    )
    ed, es = int(np.argmax(volumes)), int(np.argmin(volumes))
    truth = {
        "times_ms": [float(t) for t in times],
        "volumes_ml": [float(v) for v in volumes],
        "ed_index": ed,
        "es_index": es,
        "edv_ml": float(volumes[ed]),
        "esv_ml": float(volumes[es]),
        "ef": float((volumes[ed] - volumes[es]) / volumes[ed]),
        "snr": snr,
        "bias": bias,
        "spacing": [float(v) for v in spacing],
        "origin": [float(v) for v in origin],
        "direction": np.asarray(direction).tolist(),
        # LV centre in the middle of the cavity at end-diastole, array index (z, y, x)
        "lv_centre_index": [float(c / s + (n - 1) / 2) for c, s, n in zip(centre, spacing, shape)],
    }
    if truth_file:
        with open(os.path.join(str(folder), "truth.json"), "w") as f:
            json.dump(truth, f, indent=1)
    return {**truth, "files": files, "values": values}


def write_cohort(folder, *, n: int = 40, shape=(48, 56, 48), spacing=(3.0, 3.0, 3.0), seed: int = 0) -> dict:
    """Write a cohort of brain-in-skull volumes as stores, with a manifest and the truth.

    Every subject gets ``sub-XXX.ome.zarr`` (intensities: brain 100, CSF 20,
    skull 250, air 0, with noise) and ``sub-XXX_labels.ome.zarr`` (1 brain, 2
    skull), and a row in ``manifest.csv`` (``id``, ``image``, ``labels``,
    ``age``, ``sex``, ``group``). The course's lesson is built in: men have
    larger heads (and skulls), and the ``AD`` group, which has lost brain (a
    smaller brain-to-skull ratio), holds three men in four against one in four
    in ``CN``: its raw brain volume hardly differs from ``CN``'s, while the
    volume normalised by the skull's clearly does. ``truth.csv`` has every subject's label
    volumes (mm^3).

    Returns ``{"manifest": path, "truth": DataFrame}``.
    """
    from .image import from_array
    from .io.zarr_store import to_zarr

    import pandas as pd

    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    z, y, x = _grid_mm(shape, spacing)
    extent = np.array(shape) * np.array(spacing)
    rows, truth = [], []
    for k in range(n):
        subject = f"sub-{k + 1:03d}"
        group = "AD" if k % 2 else "CN"
        # three men in four in AD, one in four in CN
        sex = "M" if ((k // 2) % 4 != 0) == (group == "AD") else "F"
        size = rng.normal(1.07 if sex == "M" else 1.0, 0.025)  # head size
        ratio = rng.normal(0.72 if group == "AD" else 0.80, 0.02)  # brain share of the intracranial volume
        semi = 0.40 * extent / 1.07 * size
        head = (z / semi[0]) ** 2 + (y / semi[1]) ** 2 + (x / semi[2]) ** 2
        inner = semi * 0.88  # inside the skull
        cranium = (z / inner[0]) ** 2 + (y / inner[1]) ** 2 + (x / inner[2]) ** 2
        brain_semi = inner * ratio ** (1 / 3)
        brain = (z / brain_semi[0]) ** 2 + (y / brain_semi[1]) ** 2 + (x / brain_semi[2]) ** 2 <= 1
        skull = (head <= 1) & (cranium > 1)
        labels = np.where(brain, 1, np.where(skull, 2, 0)).astype(np.uint8)
        values = np.select([brain, skull, cranium <= 1], [100.0, 250.0, 20.0], 0.0)
        values = np.where(head <= 1, values + rng.normal(0, 5, shape), 0).astype(np.float32)
        image_url = os.path.join(str(folder), f"{subject}.ome.zarr")
        labels_url = os.path.join(str(folder), f"{subject}_labels.ome.zarr")
        to_zarr(from_array(values, spacing=spacing, modality="MR"), image_url, overwrite=True)
        to_zarr(from_array(labels, spacing=spacing), labels_url, overwrite=True)
        voxel = float(np.prod(spacing))
        rows.append({"id": subject, "image": image_url, "labels": labels_url, "age": int(rng.integers(60, 90)),
                     "sex": sex, "group": group})
        truth.append({"id": subject, "brain_mm3": float(brain.sum() * voxel), "skull_mm3": float(skull.sum() * voxel)})
    manifest = os.path.join(str(folder), "manifest.csv")
    pd.DataFrame(rows).to_csv(manifest, index=False)
    truth = pd.DataFrame(truth)
    truth.to_csv(os.path.join(str(folder), "truth.csv"), index=False)
    return {"manifest": manifest, "truth": truth}
