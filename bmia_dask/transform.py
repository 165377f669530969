"""Geometric transforms with scipy.ndimage's answers: every output chunk reads
only the input region it needs.

For each output chunk the corners of its grid are mapped into the input; the
task gets that bounding box (plus the spline's reach) and calls scipy on it.
Orders 0 and 1 equal scipy exactly. For higher orders scipy first computes
spline coefficients over the whole array; here they are computed chunk by
chunk with a 16-voxel overlap (the filter's influence decays as 0.27^n), which
agrees with scipy to about 1e-6 of the value range.

``shift``, ``zoom``, ``rotate`` and ``affine_transform`` keep scipy's voxel
semantics; ``resample`` and ``apply`` work in millimetres of patient space
(LPS): they map every output voxel through both images' affines, so images
from different scans (other spacing, origin, orientation) land on one grid.
Transforms act on the spatial dims; each frame of a cine is transformed alike.

Examples
--------
>>> import numpy as np, scipy.ndimage as ndi, bmia_dask as bd
>>> data = np.random.default_rng(0).random((20, 24, 28))
>>> image = bd.from_array(data, chunks=(7, 9, 11))
>>> out = bd.transform.rotate(image, 30, axes=(1, 2), order=1)
>>> bool(np.allclose(out.values, ndi.rotate(data, 30, axes=(1, 2), order=1)))
True
"""

from __future__ import annotations

import itertools
import json

import dask.array as da
from dask.array.core import concatenate3
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
import numpy as np
import scipy.ndimage as ndi
from scipy import special

from ._chunked import check_mode, per_axis, spatial_axes, voxels_or_mm
from .errors import BadInputError
from .image import SPATIAL_DIMS, as_image, geometry, regrid, spatial_dims

__all__ = ["affine_transform", "shift", "zoom", "rotate", "resample", "apply", "voxel_map", "read_transform",
           "write_transform"]

_FAR_MODES = ("reflect", "mirror", "wrap", "grid-mirror", "grid-wrap")  # need the far side of an axis
_SPLINE_DEPTH = 16


def _check_order(order) -> int:
    if isinstance(order, bool) or int(order) != order or not 0 <= order <= 5:
        raise ValueError(f"order must be a whole number from 0 to 5, got {order!r}")
    return int(order)


def _spline_coefficients(data, axes, order, mode, cval):
    """scipy's prefilter, chunked: ``(coefficients, npad)``."""
    npad = 0
    if mode in ("nearest", "grid-constant"):  # as scipy's _prepad_for_spline_filter
        npad = 12
        pad = [(npad, npad) if a in axes else (0, 0) for a in range(data.ndim)]
        data = da.pad(data, pad, mode="edge") if mode == "nearest" else da.pad(
            data, pad, mode="constant", constant_values=cval)
    depth = {a: (min(_SPLINE_DEPTH, data.shape[a]) if a in axes else 0) for a in range(data.ndim)}

    def prefilter(block):
        out = block.astype(np.float64)
        for axis in axes:
            out = ndi.spline_filter1d(out, order, axis=axis, output=np.float64, mode=mode)
        return out

    chunks = tuple(c if depth[a] <= min(c) else data.shape[a] for a, c in enumerate(data.chunks))
    coefficients = data.rechunk(chunks).map_overlap(
        prefilter, depth=depth, boundary="none", trim=True, dtype=np.float64
    )
    return coefficients, npad


def _transform_region(blocks, crop, matrix, offset, shape, axes, order, mode, cval, out_dtype):
    """scipy.ndimage.affine_transform over ``axes`` of one region, plane by plane for the rest."""
    region = concatenate3(blocks)[crop]
    other = [a for a in range(region.ndim) if a not in axes]
    moved = np.moveaxis(region, other, list(range(len(other)))) if other else region
    batch_shape = moved.shape[: len(other)]
    out = np.empty(batch_shape + tuple(shape), dtype=out_dtype)
    for index in np.ndindex(*batch_shape):
        ndi.affine_transform(moved[index], matrix, offset, output_shape=tuple(shape), output=out[index],
                             order=order, mode=mode, cval=cval, prefilter=False)
    return np.moveaxis(out, list(range(len(other))), other) if other else out


def _nested_keys(name, ranges):
    """Nested lists of block keys over the given per-axis block index ranges."""
    def build(prefix, depth):
        if depth == len(ranges):
            return (name, *prefix)
        return [build(prefix + (i,), depth + 1) for i in ranges[depth]]

    return build((), 0)


def _chunked_affine(data, matrix, offset, output_shape, axes, *, order, mode, cval, prefilter, output_chunks=None):
    """``affine_transform`` of the axes ``axes`` of a dask array; other axes pass through.

    One task per output chunk, depending only on the input chunks that its
    region of the input touches.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    out_dtype = data.dtype
    source, npad = data, 0
    if prefilter and order > 1:
        source, npad = _spline_coefficients(data, axes, order, mode, cval)
    margin = order + 1  # the least region length along an axis
    if output_chunks is None:  # like the input's chunks along each transformed axis
        output_chunks = [da.core.normalize_chunks(max(data.chunks[a]), (n,))[0] for a, n in zip(axes, output_shape)]
    out_chunks = list(data.chunks)
    for a, c in zip(axes, output_chunks):
        out_chunks[a] = tuple(c)
    out_starts = [np.cumsum((0,) + c[:-1]) for c in out_chunks]
    in_bounds = [np.cumsum((0,) + c) for c in source.chunks]
    name = "affine-transform-" + tokenize(source, matrix, offset, output_shape, axes, order, mode, cval, out_chunks)
    graph = {}
    for block_index in itertools.product(*[range(len(c)) for c in out_chunks]):
        out_start = np.array([out_starts[a][block_index[a]] for a in axes], dtype=float)
        out_shape = [out_chunks[a][block_index[a]] for a in axes]
        corners = np.array(list(itertools.product(*[(s, s + n - 1) for s, n in zip(out_start, out_shape)])))
        mapped = corners @ matrix.T + offset
        local_offset = offset + matrix @ out_start
        bounds = []  # [low, high) of the region along every axis of `source`
        for a in range(data.ndim):
            if a not in axes:
                s = out_starts[a][block_index[a]]
                bounds.append((s, s + out_chunks[a][block_index[a]]))
                continue
            k, n = axes.index(a), data.shape[a]
            # scipy's spline of this order reads floor(x) - order//2 ... + order (one more
            # voxel each side against rounding noise in the mapped corners)
            low = int(np.floor(mapped[:, k].min())) - order // 2 - 1
            high = int(np.floor(mapped[:, k].max() + 0.5)) - order // 2 + order + 2
            if mode in _FAR_MODES and (low < 0 or high > n):
                low, high = 0, n  # reflections and wraps reach across the whole axis
            # clip into the axis, keeping at least `margin` voxels: scipy treats a
            # length-1 axis as constant whatever the mode
            low = max(0, min(low, n - margin))
            high = min(n, max(high, low + margin))
            # scipy's spline padding (npad) goes with the volume's faces
            low, high = (0 if low == 0 else low + npad), (high + 2 * npad if high == n else high + npad)
            local_offset[k] -= low - npad
            bounds.append((low, high))
        ranges, crop = [], []
        for a, (low, high) in enumerate(bounds):
            first = int(np.searchsorted(in_bounds[a], low, side="right") - 1)
            last = int(np.searchsorted(in_bounds[a], high, side="left") - 1)
            ranges.append(range(first, last + 1))
            crop.append(slice(low - in_bounds[a][first], high - in_bounds[a][first]))
        graph[(name, *block_index)] = (
            _transform_region, _nested_keys(source.name, ranges), tuple(crop), matrix, local_offset,
            out_shape, list(axes), order, mode, cval, out_dtype,
        )
    hlg = HighLevelGraph.from_collections(name, graph, dependencies=[source])
    return da.Array(hlg, name, chunks=tuple(out_chunks), dtype=out_dtype)


def _homogeneous(matrix, offset, n):
    """scipy's accepted matrix forms -> ``(n x n matrix, offset)``."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim == 1:
        if matrix.shape != (n,):
            raise ValueError(f"matrix must have {n} diagonal entries, got shape {matrix.shape}")
        matrix = np.diag(matrix)
    elif matrix.shape == (n + 1, n + 1):
        if not np.allclose(matrix[n], [0] * n + [1]):
            raise ValueError(f"matrix: the bottom row of a homogeneous matrix must be {[0] * n + [1]}")
        return matrix[:n, :n], matrix[:n, n]
    elif matrix.shape == (n, n + 1):
        return matrix[:, :n], matrix[:, n]
    elif matrix.shape != (n, n):
        raise ValueError(f"matrix must be ({n},), ({n}, {n}), ({n}, {n + 1}) or ({n + 1}, {n + 1}), got {matrix.shape}")
    return matrix, np.broadcast_to(np.asarray(offset, dtype=np.float64), (n,)).copy()


def affine_transform(image, matrix, offset=0.0, *, output_shape=None, order=3, mode="constant", cval=0.0,
                     prefilter=True):
    """As ``scipy.ndimage.affine_transform``, over the spatial axes, in voxels.

    The output voxel ``o`` takes the input value at ``matrix @ o + offset``.
    ``matrix`` may be a diagonal, a square matrix, or a homogeneous
    ``(n+1, n+1)`` / ``(n, n+1)`` matrix. The output grid keeps the input's
    spacing and first-voxel position.
    """
    image = as_image(image)
    order = _check_order(order)
    check_mode(mode)
    axes = list(spatial_axes(image))
    matrix, offset = _homogeneous(matrix, offset, len(axes))
    if output_shape is None:
        output_shape = tuple(image.shape[a] for a in axes)
    output_shape = per_axis(output_shape, len(axes), "output_shape", integer=True, minimum=1)
    data = _chunked_affine(image.data, matrix, offset, output_shape, axes, order=order, mode=mode, cval=cval,
                           prefilter=prefilter)
    return regrid(image, data)


def shift(image, shift=None, *, shift_mm=None, order=3, mode="constant", cval=0.0, prefilter=True):
    """As ``scipy.ndimage.shift``: content moves by ``shift`` voxels (or ``shift_mm``) along each axis.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.arange(5.0)[None, None, :])
    >>> bd.transform.shift(image, (0, 0, 2), order=0).values.ravel().tolist()
    [0.0, 0.0, 0.0, 1.0, 2.0]
    """
    image = as_image(image)
    amount = voxels_or_mm(image, shift, shift_mm, "shift", minimum=-np.inf)
    n = len(amount)
    return affine_transform(image, np.eye(n), -np.asarray(amount), order=order, mode=mode, cval=cval,
                            prefilter=prefilter)


def zoom(image, zoom, *, order=3, mode="constant", cval=0.0, prefilter=True):
    """As ``scipy.ndimage.zoom`` (``grid_mode=False``): first and last voxels stay in place.

    The output covers the same extent with ``round(n * zoom)`` voxels per
    axis; its coords and spacing say so.
    """
    image = as_image(image)
    axes = list(spatial_axes(image))
    factors = per_axis(zoom, len(axes), "zoom")
    if min(factors) <= 0:
        raise ValueError(f"zoom must be > 0, got {zoom!r}")
    in_shape = np.array([image.shape[a] for a in axes])
    out_shape = tuple(int(round(n * z)) for n, z in zip(in_shape, factors))
    step = np.array([(i - 1) / (o - 1) if o > 1 else 1.0 for i, o in zip(in_shape, out_shape)])
    data = _chunked_affine(image.data, np.diag(step), np.zeros(len(axes)), out_shape, axes, order=_check_order(order),
                           mode=check_mode(mode), cval=cval, prefilter=prefilter)
    old = dict(zip(SPATIAL_DIMS, geometry(image).spacing))
    dims = [image.dims[a] for a in axes]
    return regrid(image, data, spacing_zyx={d: old[d] * s for d, s in zip(dims, step)})


def rotate(image, angle, axes=(1, 0), *, reshape=True, order=3, mode="constant", cval=0.0, prefilter=True):
    """As ``scipy.ndimage.rotate``: ``angle`` degrees in the plane of two spatial ``axes``.

    ``axes`` are indices among the spatial dims (or dim names). With
    ``reshape`` the output grows to hold the whole rotated image, centred on
    the same point.
    """
    image = as_image(image)
    spatial = list(spatial_axes(image))
    names = [image.dims[a] for a in spatial]
    plane = sorted(names.index(a) if isinstance(a, str) else int(a) % len(spatial) for a in axes)
    if len(set(plane)) != 2:
        raise ValueError(f"axes must name two different spatial axes, got {axes!r}")
    c, s = special.cosdg(angle), special.sindg(angle)
    rotation = np.array([[c, s], [-s, c]])
    in_plane = np.array([image.shape[spatial[p]] for p in plane])
    if reshape:  # scipy's arithmetic, to the letter
        iy, ix = in_plane
        bounds = rotation @ [[0, 0, iy, iy], [0, ix, 0, ix]]
        out_plane = (np.ptp(bounds, axis=1) + 0.5).astype(int)
    else:
        out_plane = in_plane
    offset = (in_plane - 1) / 2 - rotation @ ((out_plane - 1) / 2)
    axes_in_data = [spatial[p] for p in plane]
    data = _chunked_affine(image.data, rotation, offset, tuple(int(v) for v in out_plane), axes_in_data,
                           order=_check_order(order), mode=check_mode(mode), cval=cval, prefilter=prefilter)
    # keep the centre of the plane where it was
    geo = geometry(image)
    geo_offset, spacing = dict(zip(SPATIAL_DIMS, geo.offset)), dict(zip(SPATIAL_DIMS, geo.spacing))
    new_offset = {}
    for p, n_in, n_out in zip(plane, in_plane, out_plane):
        d = names[p]
        new_offset[d] = geo_offset[d] + (n_in - n_out) / 2 * spacing[d]
    return regrid(image, data, offset_zyx=new_offset)


def resample(image, *, spacing_mm=None, like=None, order=1, mode=None, cval=0.0):
    """Resample onto a grid of ``spacing_mm`` (same extent), or onto the grid of ``like``.

    With ``spacing_mm`` the first voxel stays in place and the grid covers
    the same extent. With ``like`` every output voxel is placed through both
    images' affines (LPS mm), so the images may differ in spacing, origin and
    orientation; the output has ``like``'s grid and chunks and ``image``'s
    values, dims ``t`` included. ``order=1`` (linear) by default; ``mode`` is
    ``"nearest"`` for ``spacing_mm`` and ``"constant"`` (``cval`` outside
    ``image``) for ``like``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.zeros((10, 20, 20)), spacing=(3.0, 1.0, 1.0))
    >>> out = bd.transform.resample(image, spacing_mm=1.5)
    >>> out.shape, out.attrs["spacing"]
    ((19, 13, 13), (1.5, 1.5, 1.5))
    >>> grid = bd.from_array(np.zeros((5, 8, 8)), spacing=2.0, origin=(4.0, 4.0, 6.0))
    >>> bd.transform.resample(image, like=grid).attrs["origin"]
    (4.0, 4.0, 6.0)
    """
    if (spacing_mm is None) == (like is None):
        raise ValueError("give spacing_mm or like (one of them)")
    if like is not None:
        return apply(image, np.eye(4), like=like, order=order, mode="constant" if mode is None else mode, cval=cval)
    mode = "nearest" if mode is None else mode
    image = as_image(image)
    axes = list(spatial_axes(image))
    new = np.asarray(per_axis(spacing_mm, len(axes), "spacing_mm"))
    if (new <= 0).any():
        raise ValueError(f"spacing_mm must be > 0, got {spacing_mm!r}")
    dims = [image.dims[a] for a in axes]
    old_all = dict(zip(SPATIAL_DIMS, geometry(image).spacing))
    old = np.array([old_all[d] for d in dims])
    in_shape = np.array([image.shape[a] for a in axes])
    out_shape = tuple(int(np.floor((n - 1) * o / s + 1e-9)) + 1 for n, o, s in zip(in_shape, old, new))
    data = _chunked_affine(image.data, np.diag(new / old), np.zeros(len(axes)), out_shape, axes,
                           order=_check_order(order), mode=check_mode(mode), cval=cval, prefilter=True)
    return regrid(image, data, spacing_zyx=dict(zip(dims, new.tolist())))


def _check_matrix(matrix, name="transform") -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise ValueError(f"{name} must be a 4x4 matrix in LPS mm, got shape {matrix.shape}")
    if not np.isfinite(matrix).all() or not np.allclose(matrix[3], [0, 0, 0, 1]):
        raise ValueError(f"{name}: the bottom row must be [0, 0, 0, 1] and every entry finite")
    if abs(np.linalg.det(matrix[:3, :3])) < 1e-9:
        raise ValueError(f"{name} is not invertible")
    return matrix


def voxel_map(moving, fixed, transform=None) -> np.ndarray:
    """The 4x4 map from ``fixed``'s ``(z, y, x, 1)`` indices to ``moving``'s indices.

    ``transform`` (4x4, LPS mm) takes points of ``moving`` to where they lie
    in ``fixed``'s space; without it both images share patient space.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> fine = bd.from_array(np.zeros((4, 4, 4)), spacing=1.0)
    >>> coarse = bd.from_array(np.zeros((2, 2, 2)), spacing=2.0)
    >>> bd.transform.voxel_map(fine, coarse)[:3, :3].diagonal().tolist()  # one coarse voxel = two fine ones
    [2.0, 2.0, 2.0]
    """
    transform = np.eye(4) if transform is None else _check_matrix(transform)
    to_fixed = geometry(fixed).affine
    to_moving = geometry(moving).affine
    return np.linalg.solve(to_moving, np.linalg.solve(transform, to_fixed))


def apply(image, transform, *, like=None, order=1, mode="constant", cval=0.0):
    """Move ``image`` by a 4x4 ``transform`` in LPS mm and sample it on a grid.

    The point at ``p`` in ``image`` appears at ``transform @ p`` in the
    output (the convention of :func:`bmia_dask.register`'s result, which
    takes the moving image onto the fixed one). The output grid is ``like``'s
    (default: ``image``'s own), built lazily chunk by chunk; voxels that fall
    outside ``image`` take ``cval``.

    Parameters
    ----------
    image : xarray.DataArray
        2D, 3D or ``(t, z, y, x)`` image.
    transform : (4, 4) array_like or str
        Homogeneous matrix acting on LPS points, or the path of a JSON file
        written by :func:`write_transform` / ``bmia register``.
    like : xarray.DataArray, optional
        The image whose grid (shape, spacing, origin, direction) the output takes.
    order, mode, cval
        As in ``scipy.ndimage.affine_transform``.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.arange(5.0)[None, None, :], spacing=2.0)
    >>> move = np.eye(4); move[0, 3] = 4.0  # 4 mm along L, the x axis here
    >>> bd.transform.apply(image, move).values.ravel().tolist()
    [0.0, 0.0, 0.0, 1.0, 2.0]
    """
    if isinstance(transform, str):
        transform = read_transform(transform)
    transform = _check_matrix(transform)
    image = as_image(image)
    target = image if like is None else as_image(like)
    sdims, tdims = spatial_dims(image), spatial_dims(target)
    if len(sdims) != len(tdims):
        raise ValueError(f"like has spatial dims {tdims}, image has {sdims}: both must be 2D or both 3D")
    order, mode = _check_order(order), check_mode(mode)
    index_map = voxel_map(image, target, transform)
    # a 2D image is the plane z = its scalar coord: map within that plane
    keep = [SPATIAL_DIMS.index(d) for d in sdims]
    matrix, offset = index_map[np.ix_(keep, keep)], index_map[keep, 3]
    axes = list(spatial_axes(image))
    out_shape = tuple(target.shape[target.dims.index(d)] for d in tdims)
    target_chunks = target.chunks if target.chunks else None
    output_chunks = ([target_chunks[target.dims.index(d)] for d in tdims] if target_chunks
                     else [da.core.normalize_chunks(max(image.data.chunks[a]), (n,))[0]
                           for a, n in zip(axes, out_shape)])
    data = _chunked_affine(image.data, matrix, offset, out_shape, axes, order=order, mode=mode, cval=cval,
                           prefilter=True, output_chunks=output_chunks)
    out = regrid(image, data, grid=geometry(target))
    for dim in tdims:  # a 2D target's plane position (its scalar coords) comes along
        out = out.assign_coords({dim: target[dim].values})
    for dim in set(SPATIAL_DIMS) - set(tdims):
        if dim in target.coords:
            out = out.assign_coords({dim: target[dim]})
    return out


def write_transform(transform, path, **info) -> str:
    """Write a 4x4 LPS transform as JSON (``{"matrix_lps_mm": ..., **info}``), atomically.

    Examples
    --------
    >>> import os, tempfile, numpy as np, bmia_dask as bd
    >>> path = bd.transform.write_transform(np.eye(4), os.path.join(tempfile.mkdtemp(), "t.json"), note="none")
    >>> bd.transform.read_transform(path)[:3, 3].tolist()
    [0.0, 0.0, 0.0]
    """
    from .io import storage

    matrix = _check_matrix(transform)
    text = json.dumps({"matrix_lps_mm": matrix.tolist(),
                       "convention": "moving LPS point p -> fixed LPS point matrix @ p", **info}, indent=2)
    storage.write_bytes(str(path), text.encode())
    return str(path)


def read_transform(path) -> np.ndarray:
    """Read a 4x4 transform from a JSON file: ``{"matrix_lps_mm": [[...]]}`` or a bare 4x4 list.

    Raises :class:`~bmia_dask.BadInputError` naming the file when it is not
    JSON or not a valid 4x4 homogeneous matrix.
    """
    from .io import storage

    path = str(path)
    try:
        fs, fs_path = storage.url_to_fs(path)
        with fs.open(fs_path, "rb") as file:
            content = json.loads(file.read())
    except FileNotFoundError:
        raise BadInputError(path, "not found") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BadInputError(path, f"not a JSON transform ({error})") from None
    matrix = content.get("matrix_lps_mm") if isinstance(content, dict) else content
    try:
        return _check_matrix(np.asarray(matrix, dtype=np.float64))
    except (ValueError, TypeError) as error:
        raise BadInputError(path, str(error)) from None
