"""The image model: one lazily backed ``xarray.DataArray`` in physical space.

Every module of bmia_dask takes and returns images built here. The rules:

* dims are a subset of ``("t", "z", "y", "x")`` in that order;
* ``z``, ``y``, ``x`` coords are millimetres, ``offset + index * spacing``, where
  ``offset`` is the origin expressed along that axis' direction;
* ``t`` coords are milliseconds;
* attrs ``spacing`` (per spatial dim, mm), ``origin`` (LPS mm of voxel 0),
  ``direction`` (3x3, columns are the x, y, z array axes in LPS), ``affine``
  (4x4 from ``(z, y, x, 1)`` index to LPS mm), ``modality``, ``units``, ``source``.

The coords are the truth: after ``image[10:20]`` the attrs ``origin`` and
``affine`` are stale, so code that needs geometry calls :func:`geometry`, which
derives it from the coords and the direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dask.array as da
import numpy as np
import xarray as xr

DIMS = ("t", "z", "y", "x")
SPATIAL_DIMS = ("z", "y", "x")
_DEFAULT_DIMS = {1: ("x",), 2: ("y", "x"), 3: ("z", "y", "x"), 4: ("t", "z", "y", "x")}

__all__ = [
    "DIMS",
    "SPATIAL_DIMS",
    "Geometry",
    "as_image",
    "from_array",
    "geometry",
    "like",
    "regrid",
    "spacing",
    "spatial_dims",
    "with_geometry_attrs",
]


@dataclass(frozen=True)
class Geometry:
    """Physical placement of an image's voxel grid.

    ``spacing`` and ``offset`` are in ``(z, y, x)`` order; ``origin`` is the LPS
    position of voxel index 0; ``direction`` has the unit vectors of the x, y and
    z array axes as columns (SimpleITK's convention).
    """

    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[tuple[float, float, float], ...]

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping ``(z, y, x, 1)`` voxel indices to LPS mm."""
        d = np.asarray(self.direction, dtype=float)
        sz, sy, sx = self.spacing
        a = np.eye(4)
        a[:3, 0] = d[:, 2] * sz
        a[:3, 1] = d[:, 1] * sy
        a[:3, 2] = d[:, 0] * sx
        a[:3, 3] = self.origin
        return a

    @property
    def offset(self) -> tuple[float, float, float]:
        """The origin along each array axis, ``(z, y, x)``: the first coord value."""
        ox, oy, oz = np.linalg.solve(np.asarray(self.direction, float), self.origin)
        return (float(oz), float(oy), float(ox))

    @classmethod
    def from_offset(cls, spacing, offset, direction) -> Geometry:
        """Geometry from per-axis ``(z, y, x)`` offsets (the first coord values)."""
        d = np.asarray(direction, dtype=float)
        oz, oy, ox = offset
        origin = d @ np.array([ox, oy, oz], dtype=float)
        return cls(_floats(spacing), _floats(origin), _matrix(d))


def _floats(values) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _matrix(m) -> tuple[tuple[float, ...], ...]:
    return tuple(_floats(row) for row in np.asarray(m, dtype=float))


def spatial_dims(image: xr.DataArray) -> tuple[str, ...]:
    """The spatial dims of ``image``, in order (a subset of ``("z", "y", "x")``)."""
    return tuple(d for d in image.dims if d in SPATIAL_DIMS)


def _check_dims(dims) -> tuple[str, ...]:
    dims = tuple(dims)
    if not set(dims) <= set(DIMS) or len(set(dims)) != len(dims):
        raise ValueError(f"dims must be a subset of {DIMS}, got {dims}")
    if list(dims) != [d for d in DIMS if d in dims]:
        raise ValueError(f"dims must be in ('t', 'z', 'y', 'x') order, got {dims}")
    if not set(dims) & set(SPATIAL_DIMS):
        raise ValueError(f"dims must contain a spatial dim, got {dims}")
    return dims


def from_array(
    data,
    *,
    dims=None,
    spacing=None,
    origin=(0.0, 0.0, 0.0),
    direction=None,
    times_ms=None,
    modality: str = "OT",
    units: str = "",
    source: dict | None = None,
    name: str | None = None,
    chunks=None,
) -> xr.DataArray:
    """Wrap a numpy or dask array as an image of the bmia_dask model.

    Parameters
    ----------
    data : array_like
        numpy or dask array; numpy input becomes a dask array (``chunks``).
    dims : tuple of str, optional
        Defaults to ``("x",)``, ``("y", "x")``, ``("z", "y", "x")`` or ``("t", "z", "y", "x")``
        by the number of dimensions.
    spacing : float or sequence of float, optional
        Voxel size in mm, one per spatial dim in dims order (or one for all).
        Default 1 mm.
    origin : sequence of 3 float
        LPS position (mm) of the voxel at index 0.
    direction : (3, 3) array_like, optional
        Columns are the unit vectors of the x, y and z array axes in LPS.
        Default identity (x along L, y along P, z along S).
    times_ms : sequence of float, optional
        ``t`` coordinate values in ms (default: frame index).
    modality, units : str
        DICOM modality (``"CT"``, ``"MR"``, ...) and the unit of the values.
    source : dict, optional
        Provenance.
    chunks : optional
        Chunks for numpy input (default ``"auto"``).

    Returns
    -------
    xarray.DataArray
        Lazy (dask-backed) image with coords in mm and geometry attrs.

    Examples
    --------
    >>> import numpy as np
    >>> img = from_array(np.zeros((4, 5, 6), np.int16), spacing=(2.0, 0.5, 0.5),
    ...                  origin=(10.0, 20.0, 30.0))
    >>> img.dims
    ('z', 'y', 'x')
    >>> float(img.z[1]), float(img.x[0])
    (32.0, 10.0)
    >>> geometry(img).affine[:3, 3].tolist()
    [10.0, 20.0, 30.0]
    """
    if isinstance(data, xr.DataArray):
        data = data.data
    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks="auto" if chunks is None else chunks)
    elif chunks is not None:
        data = data.rechunk(chunks)
    if dims is None:
        if data.ndim not in _DEFAULT_DIMS:
            raise ValueError(f"data must be 1D to 4D, got {data.ndim}D")
        dims = _DEFAULT_DIMS[data.ndim]
    dims = _check_dims(dims)
    if len(dims) != data.ndim:
        raise ValueError(f"dims {dims} do not match data with {data.ndim} dimensions")
    sdims = [d for d in dims if d in SPATIAL_DIMS]
    if spacing is None:
        spacing = (1.0,) * len(sdims)
    spacing = np.atleast_1d(np.asarray(spacing, dtype=float))
    spacing = _floats(np.repeat(spacing, len(sdims)) if spacing.size == 1 else spacing)
    if len(spacing) != len(sdims) or min(spacing) <= 0:
        raise ValueError(f"spacing must be {len(sdims)} positive values for dims {sdims}, got {spacing}")
    full_spacing = dict(zip(SPATIAL_DIMS, (1.0, 1.0, 1.0)))
    full_spacing.update(zip(sdims, spacing))
    direction = np.eye(3) if direction is None else np.asarray(direction, dtype=float)
    if direction.shape != (3, 3) or abs(np.linalg.det(direction)) < 1e-6:
        raise ValueError(f"direction must be an invertible 3x3 matrix, got {direction.tolist()}")
    origin = np.asarray(origin, dtype=float)
    if origin.shape != (3,):
        raise ValueError(f"origin must be 3 LPS values, got {origin.tolist()}")
    geo = Geometry(
        spacing=tuple(full_spacing[d] for d in SPATIAL_DIMS),
        origin=_floats(origin),
        direction=_matrix(direction),
    )
    offsets = dict(zip(SPATIAL_DIMS, geo.offset))
    coords = {}
    for axis, dim in enumerate(dims):
        n = data.shape[axis]
        if dim == "t":
            values = np.arange(n, dtype=float) if times_ms is None else np.asarray(times_ms, float)
            if values.shape != (n,):
                raise ValueError(f"times_ms must have {n} values, got {values.shape}")
            coords["t"] = ("t", values, {"units": "ms"})
        else:
            coords[dim] = (dim, offsets[dim] + np.arange(n) * full_spacing[dim], {"units": "mm"})
    image = xr.DataArray(data, dims=dims, coords=coords, name=name)
    image.attrs.update(modality=modality, units=units, source=dict(source or {}))
    return with_geometry_attrs(image, geo)


def geometry(image: xr.DataArray) -> Geometry:
    """The geometry of ``image``, derived from its coords and ``direction``.

    Works after slicing (a sliced image keeps its coords, so its origin follows),
    and for 2D images (the missing axis comes from a scalar coord or the attrs).

    Examples
    --------
    >>> import numpy as np
    >>> img = from_array(np.zeros((4, 5, 6)), spacing=(2.0, 1.0, 1.0))
    >>> geometry(img[2:]).origin
    (0.0, 0.0, 4.0)
    """
    attrs = image.attrs
    direction = attrs.get("direction", np.eye(3))
    fallback_spacing = dict(zip(SPATIAL_DIMS, attrs.get("spacing_zyx", (1.0, 1.0, 1.0))))
    if "origin" in attrs:
        fallback_offset = dict(
            zip(SPATIAL_DIMS, Geometry(tuple(fallback_spacing.values()), attrs["origin"], direction).offset)
        )
    else:
        fallback_offset = dict.fromkeys(SPATIAL_DIMS, 0.0)
    spacing, offset = [], []
    for dim in SPATIAL_DIMS:
        coord = image.coords.get(dim)
        if coord is not None and coord.ndim == 1 and coord.size >= 2:
            values = np.asarray(coord.values, dtype=float)
            steps = np.diff(values)
            if not np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9) or steps[0] <= 0:
                raise ValueError(f"coord {dim!r} is not evenly increasing: cannot derive a spacing")
            step = float(steps[0])
            # the attr keeps the exact spacing that coords only approximate
            spacing.append(fallback_spacing[dim] if math.isclose(step, fallback_spacing[dim], rel_tol=1e-9) else step)
            offset.append(float(values[0]))
        elif coord is not None and coord.size == 1:
            spacing.append(fallback_spacing[dim])
            offset.append(float(np.asarray(coord.values).ravel()[0]))
        else:
            spacing.append(fallback_spacing[dim])
            offset.append(fallback_offset[dim])
    return Geometry.from_offset(spacing, offset, direction)


def with_geometry_attrs(image: xr.DataArray, geo: Geometry | None = None) -> xr.DataArray:
    """Return ``image`` with ``spacing``/``origin``/``direction``/``affine`` attrs
    refreshed from ``geo`` (default: :func:`geometry` of the image's coords)."""
    geo = geometry(image) if geo is None else geo
    out = image.copy(deep=False)
    out.attrs = dict(image.attrs)
    full = dict(zip(SPATIAL_DIMS, geo.spacing))
    out.attrs.update(
        spacing=tuple(full[d] for d in spatial_dims(image)),
        spacing_zyx=geo.spacing,
        origin=geo.origin,
        direction=geo.direction,
        affine=_matrix(geo.affine),
    )
    return out


def spacing(image) -> tuple[float, ...]:
    """Voxel size in mm of each spatial dim of ``image`` (unit for plain arrays)."""
    image = as_image(image)
    full = dict(zip(SPATIAL_DIMS, geometry(image).spacing))
    return tuple(full[d] for d in spatial_dims(image))


def as_image(data) -> xr.DataArray:
    """Accept an image, or a plain numpy/dask array (unit spacing, zero origin).

    Examples
    --------
    >>> import numpy as np
    >>> as_image(np.ones((3, 4))).dims
    ('y', 'x')
    """
    if isinstance(data, xr.DataArray):
        _check_dims(data.dims)
        if "direction" not in data.attrs:
            return from_array(
                data.data,
                dims=data.dims,
                spacing=[_step(data, d) for d in spatial_dims(data)],
                origin=[0.0, 0.0, 0.0],
                name=data.name,
            )
        return data
    return from_array(data)


def _step(image: xr.DataArray, dim: str) -> float:
    coord = image.coords.get(dim)
    if coord is None or coord.size < 2:
        return 1.0
    return float(coord.values[1] - coord.values[0])


def require_same_shape(first, second, first_name: str, second_name: str) -> None:
    """ValueError naming both parameters when two arrays are not on one grid shape."""
    if tuple(second.shape) != tuple(first.shape):
        raise ValueError(f"{second_name} of shape {tuple(second.shape)} does not match "
                         f"{first_name} of shape {tuple(first.shape)}")


def regrid(image: xr.DataArray, data, spacing_zyx=None, offset_zyx=None, *, grid: Geometry | None = None
           ) -> xr.DataArray:
    """An image around new ``data`` on a new grid: ``grid``, or ``image``'s own grid with
    ``spacing_zyx`` / ``offset_zyx`` (dicts by dim) changing the spacing and the first
    coord value of some axes. Everything else (times, modality, units, source) comes
    from ``image``.
    """
    new = grid
    if new is None:
        geo = geometry(image)
        spacing = dict(zip(SPATIAL_DIMS, geo.spacing))
        offset = dict(zip(SPATIAL_DIMS, geo.offset))
        spacing.update(spacing_zyx or {})
        offset.update(offset_zyx or {})
        new = Geometry.from_offset([spacing[d] for d in SPATIAL_DIMS], [offset[d] for d in SPATIAL_DIMS],
                                   geo.direction)
    sdims = [d for d in image.dims if d in SPATIAL_DIMS]
    spacing = dict(zip(SPATIAL_DIMS, new.spacing))
    out = from_array(
        data, dims=image.dims, spacing=[spacing[d] for d in sdims], origin=new.origin, direction=new.direction,
        times_ms=image["t"].values if "t" in image.dims else None, name=image.name,
    )
    geometry_keys = set(out.attrs) - {"modality", "units", "source"}
    out.attrs.update({k: v for k, v in image.attrs.items() if k not in geometry_keys})
    return out


def like(image: xr.DataArray, data, *, name: str | None = None, **attrs) -> xr.DataArray:
    """A new image with ``data`` on the grid of ``image`` (same dims, coords, attrs).

    Examples
    --------
    >>> import numpy as np
    >>> img = from_array(np.zeros((2, 3)), spacing=(0.5, 0.5))
    >>> like(img, img.data + 1, units="a.u.").attrs["units"]
    'a.u.'
    """
    if tuple(data.shape) != tuple(image.shape):
        raise ValueError(f"data of shape {tuple(data.shape)} does not fit the image grid {image.shape}")
    out = xr.DataArray(data, dims=image.dims, coords=image.coords, name=name or image.name)
    out.attrs = {**image.attrs, **attrs}
    return out
