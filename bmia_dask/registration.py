"""Registration: the transform that puts a moving image onto a fixed one, in patient space.

Both images keep their own grids (spacing, origin, orientation); every
comparison maps fixed voxels through both affines, so the answer is a 4x4
transform in LPS millimetres, independent of how either scan was sampled.

The method, as in the course and in ITK's registration framework:

1. centre-of-mass initialisation: the translation that puts the moving
   image's centre of mass on the fixed one's;
2. a pyramid of both images (:mod:`bmia_dask.multiscale`), computed lazily
   from the stores down to a size that fits in memory (``max_voxels``);
3. from the coarsest level to the finest, Powell's method (scipy.optimize)
   minimises the cost over the transform's parameters: translation (mm),
   rotation (degrees about the fixed image's axes, around its centre of
   mass), and for ``"affine"`` the linear part (per cent);
4. the cost is one of :mod:`bmia_dask.compare`'s formulas (MAE, NCC, IoU,
   mutual information), evaluated at up to ``max_samples`` fixed voxels
   (all of them on small levels) by linear interpolation of the moving level,
   over the overlap of the two grids only.

Examples
--------
>>> import bmia_dask as bd
>>> truth = bd.phantoms.rigid(0, 0, 4, translation_mm=(3.0, -2.0, 1.0))
>>> fixed = bd.phantoms.head((40, 48, 40), spacing=4.0)
>>> moving = bd.phantoms.head((36, 44, 36), spacing=4.5, transform=truth)
>>> result = bd.register(moving, fixed, transform="rigid")
>>> bool(abs(result.transform - truth).max() < 0.5)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dask
import numpy as np
import pandas as pd
import scipy.ndimage as ndi
import scipy.optimize
import xarray as xr

from . import compare
from .image import as_image, geometry, spatial_dims
from .multiscale import pyramid, pyramid_factors
from .progress import progress_bar
from .transform import _check_matrix, apply, write_transform

__all__ = ["register", "Registration", "TRANSFORMS", "COSTS"]

TRANSFORMS = ("translation", "rigid", "affine")
# name -> (formula, sign): the optimiser minimises sign * value
COSTS = {
    "mae": (compare.mae_of, 1.0),
    "ncc": (compare.ncc_of, -1.0),
    "iou": (compare.iou_of, -1.0),
    "mi": (compare.mutual_information_of, -1.0),
}
_MIN_OVERLAP = 0.1  # a pose that keeps less of the fixed samples than this is refused


@dataclass
class Registration:
    """The result of :func:`register`.

    Attributes
    ----------
    transform : numpy.ndarray
        4x4 in LPS mm, moving point -> fixed point: ``bd.transform.apply(moving,
        transform, like=fixed)`` puts the moving image on the fixed grid.
    cost : float
        The cost at the solution on the finest level (the metric itself:
        MAE in image units, NCC, IoU or mutual information in nats).
    initial_cost : float
        The cost after centre-of-mass initialisation, on the same level.
    history : pandas.DataFrame
        One row per optimiser iteration: ``level``, ``spacing_mm``,
        ``iteration``, ``cost``.
    """

    transform: np.ndarray
    cost: float
    initial_cost: float
    history: pd.DataFrame
    kind: str
    cost_name: str
    initial: np.ndarray
    moving: xr.DataArray = field(repr=False)
    fixed: xr.DataArray = field(repr=False)

    def apply(self, *, order: int | None = None) -> xr.DataArray:
        """The moving image resampled onto the fixed grid (lazy): linear, nearest for masks."""
        if order is None:
            order = 0 if self.moving.dtype == bool else 1
        return apply(self.moving, self.transform, like=self.fixed, order=order)

    def to_dict(self) -> dict:
        return {
            "matrix_lps_mm": self.transform.tolist(),
            "kind": self.kind,
            "cost": self.cost_name,
            "cost_value": self.cost,
            "initial_cost_value": self.initial_cost,
            "rotation_degrees": rotation_degrees(self.transform),
            "translation_mm": self.transform[:3, 3].tolist(),
            "iterations": int(len(self.history)),
        }

    def save(self, path) -> str:
        """Write the transform and its summary as JSON (readable by ``bd.transform.read_transform``)."""
        info = self.to_dict()
        info.pop("matrix_lps_mm")
        return write_transform(self.transform, path, **info)

    def plot(self, path=None):
        """Fixed image with the moving one before (centre of mass only) and after registration, and the cost.

        Middle slices of each spatial plane in a checkerboard of fixed and
        moving, so misalignment shows as broken edges; returns the Figure and
        writes a PNG to ``path`` if given.
        """
        from .plot import registration_figure

        return registration_figure(self, path)


def rotation_degrees(matrix) -> float:
    """The rotation angle (degrees) of a transform's linear part (its closest rotation)."""
    u, _, vt = np.linalg.svd(np.asarray(matrix, dtype=float)[:3, :3])
    rotation = u @ vt
    return float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1.0, 1.0))))


# --- the parameters -------------------------------------------------------------------------

def _n_parameters(kind: str, n: int) -> int:
    rotations = 3 if n == 3 else 1
    return {"translation": n, "rigid": n + rotations, "affine": n + n * n}[kind]


def _axis_rotation(angle_degrees: float, a: int, b: int) -> np.ndarray:
    """A 3x3 rotation in the plane of local axes ``a`` and ``b`` (z=0, y=1, x=2)."""
    c, s = np.cos(np.radians(angle_degrees)), np.sin(np.radians(angle_degrees))
    matrix = np.eye(3)
    matrix[a, a], matrix[a, b], matrix[b, a], matrix[b, b] = c, -s, s, c
    return matrix


def _local_linear(params, kind: str, n: int) -> np.ndarray:
    """The 3x3 linear part in the fixed image's ``(z, y, x)`` frame."""
    axes = [0, 1, 2][3 - n:]  # 2D images move in their (y, x) plane
    linear = np.eye(3)
    if kind == "rigid":
        angles = params[n:]
        planes = [(1, 2), (0, 2), (0, 1)] if n == 3 else [(1, 2)]  # about z, y, x
        for angle, (a, b) in zip(angles, planes):
            linear = _axis_rotation(angle, a, b) @ linear
    elif kind == "affine":
        linear[np.ix_(axes, axes)] += np.reshape(params[n:], (n, n)) / 100.0
    return linear


class _Pose:
    """Parameters <-> the fixed-to-moving map ``S`` in LPS (ITK's direction of a transform)."""

    def __init__(self, fixed, kind: str, centre):
        self.kind, self.n = kind, len(spatial_dims(fixed))
        direction = np.asarray(geometry(fixed).direction, dtype=float)
        self.frame = direction[:, ::-1]  # columns: the fixed z, y, x axes in LPS
        self.centre = np.asarray(centre, float)

    def fixed_to_moving(self, params) -> np.ndarray:
        params = np.asarray(params, dtype=float)
        local_translation = np.zeros(3)
        local_translation[3 - self.n:] = params[: self.n]
        linear = self.frame @ _local_linear(params, self.kind, self.n) @ np.linalg.inv(self.frame)
        matrix = np.eye(4)
        matrix[:3, :3] = linear
        matrix[:3, 3] = self.centre - linear @ self.centre + self.frame @ local_translation
        return matrix

    def transform(self, params) -> np.ndarray:
        """Moving point -> fixed point: the inverse of ``S``."""
        return np.linalg.inv(self.fixed_to_moving(params))

    def steps(self, spacing_mm: float) -> np.ndarray:
        """Powell's first step per parameter: a voxel, two degrees, two per cent."""
        size = _n_parameters(self.kind, self.n)
        steps = np.full(size, 2.0)
        steps[: self.n] = spacing_mm
        return steps


# --- one level of the pyramid ---------------------------------------------------------------

class _Level:
    """The cost on one pyramid level: fixed samples, the moving array, the index maps."""

    def __init__(self, fixed, moving, mask, cost: str, max_samples: int, rng):
        self.fixed_affine = geometry(fixed).affine
        self.moving_affine_inv = np.linalg.inv(geometry(moving).affine)
        self.n = len(spatial_dims(fixed))
        self.moving = np.asarray(moving.values, dtype=np.float64)
        values = np.asarray(fixed.values, dtype=np.float64)
        chosen = np.isfinite(values) if mask is None else np.asarray(mask.values) > 0.5
        index = np.argwhere(chosen)
        if len(index) > max_samples:  # a fixed random subset: the cost stays a smooth function
            index = index[np.sort(rng.choice(len(index), max_samples, replace=False))]
        self.values = values[tuple(index.T)]
        full = np.zeros((len(index), 3))
        full[:, 3 - self.n:] = index  # 2D: the plane's own z index is 0
        self.index = np.c_[full, np.ones(len(index))]
        self.formula, self.sign = COSTS[cost]
        self.options = {}
        if cost == "mi":
            self.options["ranges"] = [[values.min(), values.max() + 1e-9],
                                      [self.moving.min(), self.moving.max() + 1e-9]]
        self.spacing = float(np.mean(geometry(fixed).spacing[3 - self.n:]))
        self.eps = 0.01 * float(np.ptp(self.values) or 1.0)

    def _sampled(self, fixed_to_moving: np.ndarray):
        """The moving values at the fixed samples and where they exist (None: too little overlap)."""
        index_map = self.moving_affine_inv @ fixed_to_moving @ self.fixed_affine
        coords = (self.index @ index_map.T)[:, 3 - self.n:3].T
        sampled = ndi.map_coordinates(self.moving, coords, order=1, mode="constant", cval=np.nan)
        weight = np.isfinite(sampled)
        if weight.sum() < _MIN_OVERLAP * len(weight):
            return None, None
        return np.where(weight, sampled, 0.0), weight

    def value(self, fixed_to_moving: np.ndarray) -> float:
        """The metric (not signed) at a pose, NaN when the overlap is too small."""
        sampled, weight = self._sampled(fixed_to_moving)
        if sampled is None:
            return np.nan
        return float(self.formula(self.values, sampled, weight, **self.options))

    def objective(self, fixed_to_moving: np.ndarray) -> float:
        sampled, weight = self._sampled(fixed_to_moving)
        if sampled is None:
            return 1e12
        if self.formula is compare.mae_of:
            # |d| has a kink at 0 that stalls line searches: minimise its smooth twin
            # sqrt(d^2 + eps^2) (Charbonnier), which has the same minimiser as eps -> 0
            return float(compare.mean_of(np.sqrt((self.values - sampled) ** 2 + self.eps**2), weight))
        return self.sign * float(self.formula(self.values, sampled, weight, **self.options))


# --- the public call ------------------------------------------------------------------------

def _check_pair(moving, fixed, mask, cost):
    moving, fixed = as_image(moving), as_image(fixed)
    for name, image in (("moving", moving), ("fixed", fixed)):
        if "t" in image.dims:
            raise ValueError(f"{name} has a time axis: register one frame at a time (image.isel(t=k))")
    if len(spatial_dims(moving)) != len(spatial_dims(fixed)):
        raise ValueError(f"moving is {len(spatial_dims(moving))}D and fixed is {len(spatial_dims(fixed))}D: "
                         "both must be 2D or both 3D")
    if moving.dims != fixed.dims:
        raise ValueError(f"moving dims {moving.dims} do not match fixed dims {fixed.dims}")
    if not compare.overlaps(fixed, moving):
        raise ValueError("moving and fixed do not overlap in patient space: check their origins")
    if cost == "iou":
        for name, image in (("moving", moving), ("fixed", fixed)):
            if image.dtype != bool:
                raise ValueError(f"cost='iou' compares masks: {name} must be boolean, got {image.dtype}")
    if mask is not None:
        mask = as_image(mask)
        if mask.dtype != bool or mask.shape != fixed.shape:
            raise ValueError(f"mask must be a boolean image of the fixed image's shape {fixed.shape}, "
                             f"got {mask.dtype} {mask.shape}")
    return moving, fixed, mask


def _levels_within(image, levels: int, max_voxels: int):
    """The pyramid levels to optimise on: the finest below ``max_voxels``, then coarser ones."""
    spacing = [float(s) for s in geometry(image).spacing[3 - len(spatial_dims(image)):]]
    available = 1
    while True:  # as many levels as the image can be halved
        try:
            pyramid_factors(image.shape, image.dims, spacing, available + 1)
        except ValueError:
            break
        available += 1
        if available > 12:
            break
    factors = pyramid_factors(image.shape, image.dims, spacing, available)
    sizes = [int(np.prod([n // f[d] for n, d in zip(image.shape, image.dims)])) for f in factors]
    finest = next((k for k, size in enumerate(sizes) if size <= max_voxels), len(sizes) - 1)
    coarsest = finest
    while coarsest + 1 < len(sizes) and coarsest - finest + 1 < levels and min(
            n // factors[coarsest + 1][d] for n, d in zip(image.shape, image.dims)) >= 8:
        coarsest += 1
    return factors, list(range(coarsest, finest - 1, -1))


def _centre_of_mass(image: np.ndarray, affine: np.ndarray, n: int) -> np.ndarray:
    """LPS centre of mass of ``image - min`` (air and background weigh nothing)."""
    weights = image - np.nanmin(image)
    centre = np.zeros(4)
    centre[3 - n:3] = ndi.center_of_mass(weights)
    centre[3] = 1.0
    return (affine @ centre)[:3]


def register(moving, fixed, *, transform: str = "rigid", cost: str = "mae", mask=None, levels: int = 3,
             max_voxels: int = 2**21, max_samples: int = 2**17, initial=None, seed: int = 0,
             progress: bool = False) -> Registration:
    """Find the transform that puts ``moving`` onto ``fixed`` in patient space.

    Parameters
    ----------
    moving, fixed : xarray.DataArray
        2D or 3D images (stores opened with :func:`bmia_dask.open_image`,
        any spacing, origin and orientation each). For ``cost="iou"`` both
        are boolean masks.
    transform : {"translation", "rigid", "affine"}
        The family searched.
    cost : {"mae", "ncc", "iou", "mi"}
        Mean absolute error (same modality, same units), normalised
        cross-correlation (same modality, other scaling), intersection over
        union (masks), mutual information (other modalities).
    mask : xarray.DataArray of bool, optional
        On the fixed grid: only these voxels count.
    levels : int
        Pyramid levels to optimise on, coarse to fine.
    max_voxels : int
        The finest level used is the first with at most this many voxels;
        the levels are computed from the (lazy) images and held in memory.
    max_samples : int
        Fixed voxels at which the cost is evaluated per level (a fixed
        random subset when there are more).
    initial : (4, 4) array_like, optional
        Start from this transform (moving -> fixed) instead of the
        centre-of-mass alignment.
    seed : int
        Seed of the sample subset.
    progress : bool
        Show a progress bar while the pyramid levels are read.

    Returns
    -------
    Registration
        ``transform`` (4x4, LPS mm, moving -> fixed), ``cost``, ``history``,
        plus ``apply()``, ``save(path)``, ``plot()``.
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
    if cost not in COSTS:
        raise ValueError(f"cost must be one of {tuple(COSTS)}, got {cost!r}")
    moving, fixed, mask = _check_pair(moving, fixed, mask, cost)
    fixed_factors, fixed_levels = _levels_within(fixed, levels, max_voxels)
    moving_factors, _ = _levels_within(moving, levels, max_voxels)
    as_float = {"iou": np.float32}.get(cost)  # masks become fractions when halved: a smooth IoU
    fixed_pyramid = pyramid(fixed.astype(as_float) if as_float else fixed, max(fixed_levels) + 1)
    moving_pyramid = pyramid(moving.astype(as_float) if as_float else moving, len(moving_factors))
    mask_pyramid = pyramid(mask.astype(np.float32), max(fixed_levels) + 1) if mask is not None else None
    # for each fixed level, the coarsest moving level at least as fine
    chosen = []
    for k in fixed_levels:
        target = np.mean(geometry(fixed_pyramid[k]).spacing)
        fine_enough = [j for j, level in enumerate(moving_pyramid)
                       if np.mean(geometry(level).spacing) <= target * 1.01
                       and level.size <= max(max_voxels, moving_pyramid[-1].size)]
        chosen.append(max(fine_enough) if fine_enough else 0)
    wanted = [fixed_pyramid[k] for k in fixed_levels] + [moving_pyramid[j] for j in chosen]
    if mask_pyramid is not None:
        wanted += [mask_pyramid[k] for k in fixed_levels]
    with progress_bar("pyramid levels", enabled=progress):
        computed = dask.compute(*wanted)  # the small levels, in one pass over the images
    count = len(fixed_levels)
    fixed_arrays, moving_arrays = computed[:count], computed[count: 2 * count]
    mask_arrays = computed[2 * count:] if mask_pyramid is not None else [None] * count

    rng = np.random.default_rng(seed)
    level_costs = [
        _Level(f, m, k, cost, max_samples, rng) for f, m, k in zip(fixed_arrays, moving_arrays, mask_arrays)
    ]
    n = len(spatial_dims(fixed))
    finest_fixed, finest_moving = fixed_arrays[-1], moving_arrays[-1]
    centre = _centre_of_mass(np.asarray(finest_fixed.values, float), geometry(finest_fixed).affine, n)
    current = np.eye(4)  # fixed -> moving
    if initial is None:
        current[:3, 3] = _centre_of_mass(np.asarray(finest_moving.values, float), geometry(finest_moving).affine,
                                         n) - centre
    else:
        current = np.linalg.inv(_check_matrix(initial, "initial"))
    initial_cost, initial_transform = level_costs[-1].value(current), np.linalg.inv(current)
    # an affine search starts from the rigid answer, on the two finest levels (as ITK users do)
    stages = [(transform, range(len(level_costs)))]
    if transform == "affine":
        stages = [("rigid", range(len(level_costs))), ("affine", range(max(0, len(level_costs) - 2), len(level_costs)))]
    rows = []
    for kind, chosen_levels in stages:
        pose = _Pose(fixed, kind, centre)
        params = _fit(pose, current)
        for k in chosen_levels:
            params = _optimise(pose, params, level_costs[k], fixed_levels[k], rows, final=k == len(level_costs) - 1)
        current = pose.fixed_to_moving(params)
    return Registration(
        transform=np.linalg.inv(current), cost=level_costs[-1].value(current), initial_cost=initial_cost,
        history=pd.DataFrame(rows, columns=["level", "spacing_mm", "iteration", "cost"]),
        kind=transform, cost_name=cost, initial=initial_transform, moving=moving, fixed=fixed,
    )


def _optimise(pose, params, level: _Level, level_index: int, rows: list, *, final: bool) -> np.ndarray:
    """Powell's method on one level, from ``params``; one history row per iteration."""
    def record(p):
        rows.append({"level": level_index, "spacing_mm": level.spacing, "iteration": len(rows),
                     "cost": level.value(pose.fixed_to_moving(p))})

    record(params)
    result = scipy.optimize.minimize(
        lambda p: level.objective(pose.fixed_to_moving(p)), params, method="Powell", callback=record,
        options={"direc": np.diag(pose.steps(level.spacing)), "xtol": (0.01 if final else 0.05) * level.spacing,
                 "ftol": 1e-6 if final else 1e-4, "maxfev": 4000},
    )
    return result.x


def _fit(pose: _Pose, fixed_to_moving: np.ndarray) -> np.ndarray:
    """Parameters whose map is closest to a given map (least squares on a few points): exact
    when the map is in the family, as a pure translation always is."""
    probe = pose.centre + 50.0 * np.vstack([np.zeros(3), np.eye(3), -np.eye(3)])
    target = probe @ fixed_to_moving[:3, :3].T + fixed_to_moving[:3, 3]

    def residual(p):
        matrix = pose.fixed_to_moving(p)
        return (probe @ matrix[:3, :3].T + matrix[:3, 3] - target).ravel()

    return scipy.optimize.least_squares(residual, np.zeros(_n_parameters(pose.kind, pose.n))).x

