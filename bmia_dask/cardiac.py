"""Left-ventricular volumes and ejection fraction from a short-axis cine.

The course's chapter 3 recipe, made automatic: in every frame, smooth,
threshold the bright blood pool, label each slice, keep the left ventricle
(LV) and turn its voxels into millilitres; end-diastole (ED) is the largest
volume, end-systole (ES) the smallest, and EF = (EDV - ESV) / EDV.

Choices that make it work without hand-tuning:

- The seed (a point in the LV) defaults to the round bright object nearest
  the centre of the stack, found on the maximum over time of the middle
  slices: the right ventricle is crescent-shaped and off-centre, the aorta is
  above the base.
- The threshold is local: it starts at half the blood signal at the seed and
  moves to the midpoint between the blood pool and the wall around it, where
  partial-volume voxels split evenly; a smooth coil bias changes little over
  the heart.
- From the seed's slice the LV is followed slice by slice: a component of the
  next slice belongs to it when most of it lies over the LV of the slice
  before. Slices above the base or below the apex, which have no such
  component, drop out; the right ventricle never overlaps the LV.
- Holes inside the blood pool (papillary muscles) are filled, as clinical
  contours include them.
- Volumes count the blood in partial-volume voxels by their signal, so thick
  slices cut by the base or the apex count for what they hold.

Frames are segmented in parallel, one task per frame, on whatever scheduler
is active (threads, or a ``dask.distributed`` cluster).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import scipy.ndimage as ndi
import xarray as xr

from .errors import BadInputError
from .image import geometry, like
from .io import load_image
from .progress import progress_bar

__all__ = ["ejection_fraction", "EjectionFraction", "find_seed", "category"]

# the course's chart of left-ventricular ejection fractions
CATEGORIES = ((0.55, "normal"), (0.45, "mildly abnormal"), (0.35, "moderately abnormal"), (-np.inf, "severely abnormal"))


def category(ef: float) -> str:
    """Where an ejection fraction falls on the course's chart.

    Examples
    --------
    >>> category(0.62), category(0.50), category(0.40), category(0.20)
    ('normal', 'mildly abnormal', 'moderately abnormal', 'severely abnormal')
    """
    return next(name for low, name in CATEGORIES if ef >= low)


@dataclasses.dataclass
class EjectionFraction:
    """The result of :func:`ejection_fraction`.

    ``volumes_ml`` is a pandas Series indexed by the trigger time (ms): the
    blood in the LV, partial-volume voxels counted by their signal;
    ``mask_volumes_ml`` counts the voxels of the mask (the course's way, biased
    by up to half a slice at the base and apex);
    ``mask`` is the lazy LV mask ``(t, z, y, x)``; ``seed_mm`` the ``(z, y, x)``
    point (image coords, mm) the LV was found from; ``thresholds`` the
    blood-pool threshold used in each frame.
    """

    volumes_ml: pd.Series
    mask_volumes_ml: pd.Series
    ed_index: int
    es_index: int
    edv_ml: float
    esv_ml: float
    ef: float
    category: str
    seed_mm: tuple[float, float, float]
    thresholds: np.ndarray
    mask: xr.DataArray
    image: xr.DataArray = dataclasses.field(repr=False)

    def to_dict(self) -> dict:
        """The numbers, JSON-ready (what ``bmia ef --json`` prints)."""
        return {
            "ef": self.ef,
            "category": self.category,
            "edv_ml": self.edv_ml,
            "esv_ml": self.esv_ml,
            "ed_index": self.ed_index,
            "es_index": self.es_index,
            "times_ms": [float(t) for t in self.volumes_ml.index],
            "volumes_ml": [float(v) for v in self.volumes_ml.values],
            "seed_mm": [float(v) for v in self.seed_mm],
        }

    def save(self, out) -> list[str]:
        """Write ``ef.json``, ``volumes.csv`` and the two figures (PNG) under ``out`` (a folder or URL).

        Each file is written under a temporary name and renamed when complete.
        Returns the URLs written.
        """
        import json

        from .io.storage import join, write_bytes

        written = [
            write_bytes(join(out, "ef.json"), json.dumps(self.to_dict(), indent=2).encode()),
            write_bytes(join(out, "volumes.csv"),
                        pd.concat([self.volumes_ml, self.mask_volumes_ml], axis=1).to_csv().encode()),
        ]
        for name, draw in (("volume_curve.png", self.plot_volumes), ("ed_es_slices.png", self.plot_slices)):
            draw(path=join(out, name)).clf()
            written.append(join(out, name))
        return written

    def plot_volumes(self, *, path=None):
        """The volume curve over the heartbeat, ED and ES marked (a matplotlib Figure)."""
        from .plot import volume_curve

        return volume_curve(self.volumes_ml, self.ed_index, self.es_index, path=path,
                            title=f"LV volume: EF {self.ef:.0%} ({self.category})")

    def plot_slices(self, *, path=None):
        """The ED and ES frames' middle LV slices with the LV outline (a matplotlib Figure)."""
        from .plot import outlines

        frames = {"ED": self.ed_index, "ES": self.es_index}
        lv_slices = self.mask.isel(t=self.ed_index).any(("y", "x")).values.nonzero()[0]
        z = int(np.median(lv_slices)) if lv_slices.size else self.image.sizes["z"] // 2
        pairs = {
            f"{name} (t = {float(self.image.t[k]):.0f} ms, z = {float(self.image.z[z]):.1f} mm)":
                (self.image.isel(t=k, z=z), self.mask.isel(t=k, z=z))
            for name, k in frames.items()
        }
        return outlines(pairs, path=path)


def _in_plane_distance_mm(shape_yx, point_yx, spacing_yx):
    y = (np.arange(shape_yx[0]) - point_yx[0]) * spacing_yx[0]
    x = (np.arange(shape_yx[1]) - point_yx[1]) * spacing_yx[1]
    return np.hypot(y[:, None], x[None, :])


def _component_at(bright, point_yx, spacing_yx, max_mm):
    """The component of a 2D mask containing the point, or the nearest one within ``max_mm``."""
    labels, n = ndi.label(bright)
    if n == 0:
        return None
    iy, ix = (int(round(v)) for v in point_yx)
    iy, ix = min(max(iy, 0), bright.shape[0] - 1), min(max(ix, 0), bright.shape[1] - 1)
    if labels[iy, ix]:
        return labels == labels[iy, ix]
    distance, (ny, nx) = ndi.distance_transform_edt(labels == 0, sampling=spacing_yx, return_indices=True)
    if distance[iy, ix] > max_mm:
        return None
    return labels == labels[ny[iy, ix], nx[iy, ix]]


def _follow(bright, start, z0, step):
    """Extend the LV from slice ``z0`` along ``step``: components mostly over the LV before."""
    lv = np.zeros(bright.shape, bool)
    previous = start
    z = z0 + step
    while 0 <= z < bright.shape[0]:
        labels, n = ndi.label(bright[z])
        if n == 0:
            break
        area = np.bincount(labels.ravel(), minlength=n + 1)
        over = np.bincount(labels[previous].ravel(), minlength=n + 1)
        keep = (over >= 0.5 * area) & (np.arange(n + 1) > 0)
        if not keep.any():
            break
        previous = keep[labels]
        lv[z] = previous
        z += step
    return lv


def _lv_mask(bright, seed, spacing, max_mm):
    """The LV in a thresholded frame: the seed's component, followed slice by slice."""
    z0 = int(round(seed[0]))
    start = _component_at(bright[z0], seed[1:], spacing[1:], max_mm)
    lv = np.zeros(bright.shape, bool)
    if start is None:
        return lv
    lv[z0] = start
    lv |= _follow(bright, start, z0, +1) | _follow(bright, start, z0, -1)
    for z in np.flatnonzero(lv.any((1, 2))):
        lv[z] = ndi.binary_fill_holes(lv[z])
    return lv


_IN_PLANE = ndi.generate_binary_structure(2, 1)[np.newaxis]  # grow and shrink within slices only


def _levels(frame, lv):
    """Blood-pool and wall signal: medians inside the LV (eroded) and 2-3 voxels outside it."""
    inner = ndi.binary_erosion(lv, _IN_PLANE)
    blood = float(np.median(frame[inner if inner.any() else lv]))
    wall = ndi.binary_dilation(lv, _IN_PLANE, iterations=3) & ~ndi.binary_dilation(lv, _IN_PLANE)
    return blood, float(np.median(frame[wall])) if wall.any() else np.nan


def _partial_volume(frame, lv, blood, wall):
    """Blood content of the LV in voxels, counting partial-volume voxels by their signal.

    Every voxel within 3 voxels (in-plane) of the LV in its own or a
    neighbouring slice counts for ``(signal - wall) / (blood - wall)``, clipped
    to [0, 1]: a slice the base or apex cuts through counts for the blood it
    holds, whether or not the threshold kept it.
    """
    through = np.zeros((3, 1, 1), bool)
    through[:, 0, 0] = True
    region = ndi.binary_dilation(ndi.binary_dilation(lv, through), _IN_PLANE, iterations=3)
    fraction = np.clip((frame[region] - wall) / max(blood - wall, 1e-6), 0, 1)
    return float(fraction.sum())


def _segment_frame(frame, *, seed, spacing, threshold, smooth_mm, max_mm):
    """One (z, y, x) frame: the LV mask, the threshold, the LV blood volume in voxels.

    Without a given threshold: start at half the blood signal near the seed
    (half maximum), then three times move the threshold to the midpoint between the
    blood pool and the wall around it, where partial-volume voxels split evenly.
    """
    frame = np.asarray(frame, dtype=np.float32)
    smooth = ndi.gaussian_filter(frame, (0, smooth_mm / spacing[1], smooth_mm / spacing[2]))
    if threshold is None:
        z0 = int(round(seed[0]))
        near_seed = _in_plane_distance_mm(frame.shape[1:], seed[1:], spacing[1:]) <= 10.0
        level = float(np.percentile(smooth[z0][near_seed], 90)) / 2
        for _ in range(3):
            lv = _lv_mask(smooth > level, seed, spacing, max_mm)
            blood, wall = _levels(smooth, lv) if lv.any() else (np.nan, np.nan)
            if np.isnan(wall):  # nothing at the seed, or no wall around it: keep the level
                break
            level = (blood + wall) / 2
    else:
        level = float(threshold)
    lv = _lv_mask(smooth > level, seed, spacing, max_mm)
    blood, wall = _levels(frame, lv) if lv.any() else (np.nan, np.nan)
    if np.isnan(wall):
        return np.zeros_like(lv), level, 0.0
    return lv, level, _partial_volume(frame, lv, blood, wall)


def find_seed(cine, *, smooth_mm: float = 2.0):
    """The centre of the round bright object nearest the stack's axis: a point in the LV.

    Looks at the maximum over time of the middle half of the slices (a small
    computation: one image per slice), where the LV shows at its largest. Returns ``(z, y, x)`` in the image's coords (mm).
    """
    return _find_seed(*load_image(cine), smooth_mm=smooth_mm)


def _find_seed(image, where, *, smooth_mm):
    spacing = geometry(image).spacing
    n_z = image.sizes["z"]
    middle = slice(n_z // 4, max(n_z // 4 + 1, (3 * n_z + 3) // 4))
    brightest = np.asarray(image.isel(z=middle).max("t").values, dtype=np.float32)
    candidates = []
    centre = (np.array(brightest.shape[1:]) - 1) / 2
    for k, plane in enumerate(brightest):
        smooth = ndi.gaussian_filter(plane, smooth_mm / np.asarray(spacing[1:]))
        labels, n = ndi.label(smooth > np.mean(np.percentile(smooth, [50, 99])))  # the brightest objects
        for component in range(1, n + 1):
            region = labels == component
            inner = ndi.distance_transform_edt(np.pad(region, 1), sampling=spacing[1:])[1:-1, 1:-1]
            area = region.sum() * spacing[1] * spacing[2]
            radius = inner.max()
            if radius < 5.0 or np.pi * radius**2 < 0.5 * area:  # small, or not round
                continue
            deepest = np.unravel_index(np.argmax(inner), inner.shape)
            off_axis = np.hypot(*((np.array(deepest) - centre) * spacing[1:]))
            candidates.append((off_axis, radius, (middle.start + k, *deepest)))
    if not candidates:
        raise BadInputError(where, "no round bright object (left ventricle) near the centre of the stack; "
                            "give seed_mm=(z, y, x)")
    # the object nearest the axis, at the slice where it is widest
    lv = min(candidates)[2]
    same = [c for c in candidates if np.hypot(*((np.array(c[2][1:]) - lv[1:]) * spacing[1:])) < 10.0]
    index = max(same, key=lambda c: c[1])[2]
    return tuple(float(image[d].values[i]) for d, i in zip(("z", "y", "x"), index))


def ejection_fraction(cine, *, seed_mm=None, threshold=None, smooth_mm: float = 2.0,
                      max_seed_distance_mm: float = 10.0, progress: bool = False) -> EjectionFraction:
    """Segment the left ventricle in every frame of a cine and compute its ejection fraction.

    Parameters
    ----------
    cine : xarray.DataArray or str
        A ``(t, z, y, x)`` short-axis cine, or the path/URL of a DICOM folder
        or a store.
    seed_mm : (z, y, x), optional
        A point inside the LV blood pool, in the image's coords (mm). Default:
        :func:`find_seed`.
    threshold : float, optional
        Blood-pool threshold for every frame. Default: per frame, the midpoint
        between the blood pool and the wall around it.
    smooth_mm : float
        Gaussian smoothing (in-plane sigma) before thresholding.
    max_seed_distance_mm : float
        If the seed's voxel is not in the blood pool of a frame, the nearest
        component within this distance is taken as the LV.
    progress : bool
        Show a progress bar over the frames.

    Returns
    -------
    EjectionFraction
        ``volumes_ml`` (per frame, indexed by trigger time), ``ed_index``,
        ``es_index``, ``edv_ml``, ``esv_ml``, ``ef``, ``category`` and the lazy
        LV ``mask``.

    Raises
    ------
    BadInputError
        The image is not a cine (no time axis, one frame), or no LV is found
        at the seed in some frame.

    Examples
    --------
    >>> import tempfile, bmia_dask as bd
    >>> folder = tempfile.mkdtemp()
    >>> truth = bd.phantoms.write_cine(folder, n_frames=8, ef=0.5, shape=(10, 64, 64), spacing=(9.0, 2.2, 2.2))
    >>> result = bd.ejection_fraction(folder)
    >>> abs(result.ef - truth["ef"]) < 0.03, result.category
    (True, 'mildly abnormal')
    """
    image, where = load_image(cine)
    if "t" not in image.dims or "z" not in image.dims:
        raise BadInputError(where, f"not a cine series: dims {image.dims}, a (t, z, y, x) stack is needed")
    if image.sizes["t"] < 2:
        raise BadInputError(where, "only one frame: the ejection fraction needs the frames of a heartbeat")
    image = image.transpose("t", "z", "y", "x")
    if seed_mm is None:
        seed_mm = _find_seed(image, where, smooth_mm=smooth_mm)
    seed_mm = tuple(float(v) for v in seed_mm)
    if len(seed_mm) != 3:
        raise ValueError(f"seed_mm must be (z, y, x) in mm, got {seed_mm!r}")
    seed = tuple((v - float(image[d].values[0])) / (float(image[d].values[1] - image[d].values[0]) or 1.0)
                 if image.sizes[d] > 1 else 0.0 for d, v in zip(("z", "y", "x"), seed_mm))
    if not all(-0.5 <= s <= image.sizes[d] - 0.5 for s, d in zip(seed, ("z", "y", "x"))):
        raise BadInputError(where, f"the seed {seed_mm} mm lies outside the image")
    geo = geometry(image)
    options = dict(seed=seed, spacing=geo.spacing, threshold=threshold, smooth_mm=smooth_mm,
                   max_mm=max_seed_distance_mm)
    frames = image.data.rechunk({0: 1, 1: -1, 2: -1, 3: -1})

    def mask_of(frame):
        return _segment_frame(frame[0], **options)[0][np.newaxis]

    def summary_of(frame):
        lv, level, blood = _segment_frame(frame[0], **options)
        return np.array([[lv.sum(), level, blood]], dtype=np.float64)

    mask = frames.map_blocks(mask_of, dtype=bool)
    summary = frames.map_blocks(summary_of, dtype=np.float64, drop_axis=(2, 3), chunks=((1,) * frames.shape[0], (3,)))
    with progress_bar("LV, frame by frame", enabled=progress):
        counts, thresholds, blood = summary.compute().T
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise BadInputError(where, f"no left ventricle found at the seed {tuple(round(v, 1) for v in seed_mm)} mm "
                            f"in frame {int(empty[0])} (give seed_mm, or a threshold)")
    voxel_ml = abs(np.linalg.det(geo.affine[:3, :3])) / 1000
    index = pd.Index(image.t.values, name="t_ms")
    volumes = pd.Series(blood * voxel_ml, index=index, name="volume_ml")
    ed, es = int(np.argmax(blood)), int(np.argmin(blood))
    ef = float((volumes.iloc[ed] - volumes.iloc[es]) / volumes.iloc[ed])
    return EjectionFraction(
        volumes_ml=volumes, ed_index=ed, es_index=es, edv_ml=float(volumes.iloc[ed]),
        esv_ml=float(volumes.iloc[es]), ef=ef, category=category(ef), seed_mm=seed_mm,
        mask_volumes_ml=pd.Series(counts * voxel_ml, index=index, name="mask_volume_ml"),
        thresholds=thresholds, mask=like(image, mask.rechunk(image.data.chunks), units=""), image=image,
    )
