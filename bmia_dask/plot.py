"""Figures of images (matplotlib, Agg backend): only the slices shown are computed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no screen needed; figures are saved as PNG
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .image import as_image, spatial_dims  # noqa: E402

__all__ = [
    "slice_grid", "orthogonal_views", "fly_through", "overlay", "histogram", "volume_curve", "outlines", "group_boxplot",
    "checkerboard", "registration_figure",
]


def _extent(image, dims):
    """imshow extent in mm (edges of the first and last voxels); z points up."""
    (rows, cols) = dims
    r, c = image[rows].values, image[cols].values
    dr = (r[1] - r[0]) if r.size > 1 else 1.0
    dc = (c[1] - c[0]) if c.size > 1 else 1.0
    bottom, top = (r[0] - dr / 2, r[-1] + dr / 2) if rows == "z" else (r[-1] + dr / 2, r[0] - dr / 2)
    return (c[0] - dc / 2, c[-1] + dc / 2, bottom, top)


def orthogonal_views(image, *, point_mm=None, t: int = 0, cmap: str = "gray", path=None, title=None):
    """The three orthogonal slices through a point, drawn to scale in mm.

    Parameters
    ----------
    image : xarray.DataArray
        A 3D ``(z, y, x)`` or 4D image (frame ``t`` is shown).
    point_mm : (z, y, x) mm, optional
        Where the slices cross (default: the centre of the volume).
    path : str, optional
        Save the figure as a PNG there.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> img = bd.from_array(np.random.rand(8, 16, 16), spacing=(4.0, 1.0, 1.0))
    >>> fig = orthogonal_views(img)
    >>> [ax.get_title().split()[0] for ax in fig.axes[:3]]
    ['axial', 'coronal', 'sagittal']
    """
    image = as_image(image)
    if "t" in image.dims:
        image = image.isel(t=t)
    if spatial_dims(image) != ("z", "y", "x"):
        raise ValueError(f"image must be 3D (z, y, x), got dims {image.dims}")
    if point_mm is None:
        point_mm = [float(image[d].values[image.sizes[d] // 2]) for d in ("z", "y", "x")]
    point = dict(zip(("z", "y", "x"), point_mm))
    views = [
        ("axial (z = {:.1f} mm)", "z", ("y", "x")),
        ("coronal (y = {:.1f} mm)", "y", ("z", "x")),
        ("sagittal (x = {:.1f} mm)", "x", ("z", "y")),
    ]
    slices = [image.sel({dim: point[dim]}, method="nearest") for _, dim, _ in views]
    low, high = _display_range(slices)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), layout="constrained")
    for ax, (label, dim, dims), plane in zip(axes, views, slices):
        values = np.asarray(plane.transpose(*dims).values)
        shown = ax.imshow(
            values,
            cmap=cmap,
            vmin=low,
            vmax=high,
            extent=_extent(plane, dims),
            origin="lower" if dims[0] == "z" else "upper",
            interpolation="nearest",
        )
        ax.set_title(label.format(float(plane[dim])))
        ax.set_xlabel(f"{dims[1]} (mm)")
        ax.set_ylabel(f"{dims[0]} (mm)")
        ax.set_aspect("equal")  # extents are in mm: equal aspect is the true shape
    units = image.attrs.get("units") or "value"
    fig.colorbar(shown, ax=axes, shrink=0.8, label=units)
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return fig


def _save(fig, path) -> None:
    """Write ``fig`` as a PNG to ``path`` (a local path or fsspec URL), atomically; no-op for None."""
    if path is None:
        return
    import io

    from .io.storage import write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    write_bytes(str(path), buffer.getvalue())


def _display_range(slices):
    values = np.concatenate([np.asarray(s.values, dtype=float).ravel() for s in slices])
    low, high = np.percentile(values, [0.5, 99.5])
    return (float(low), float(high if high > low else low + 1))


def volume_curve(volumes_ml, ed_index: int, es_index: int, *, path=None, title=None):
    """Volume over the heartbeat with end-diastole and end-systole marked.

    ``volumes_ml`` is a pandas Series indexed by time (ms), as
    ``bd.ejection_fraction(...).volumes_ml``.

    Examples
    --------
    >>> import pandas as pd
    >>> fig = volume_curve(pd.Series([120.0, 80.0, 50.0, 90.0], index=[0, 200, 400, 600]), 0, 2)
    >>> fig.axes[0].get_ylabel()
    'LV volume (mL)'
    """
    times, values = np.asarray(volumes_ml.index, dtype=float), np.asarray(volumes_ml.values, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.plot(times, values, "o-", color="tab:red")
    for index, name in ((ed_index, "ED"), (es_index, "ES")):
        ax.annotate(f"{name} {values[index]:.0f} mL", (times[index], values[index]), textcoords="offset points",
                    xytext=(0, 8 if name == "ED" else -16), ha="center")
        ax.plot(times[index], values[index], "s", color="black")
    ax.set_xlabel("time after the R wave (ms)")
    ax.set_ylabel("LV volume (mL)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    _save(fig, path)
    return fig


def outlines(pairs, *, path=None, color: str = "tab:red"):
    """2D images side by side, each with the outline of its mask, to scale in mm.

    ``pairs`` maps a panel title to ``(image, mask)``, both ``(y, x)`` slices.
    """
    fig, axes = plt.subplots(1, len(pairs), figsize=(5 * len(pairs), 4.6), layout="constrained", squeeze=False)
    for ax, (title, (image, mask)) in zip(axes[0], pairs.items()):
        extent = _extent(image, ("y", "x"))
        low, high = _display_range([image])
        ax.imshow(np.asarray(image.values), cmap="gray", vmin=low, vmax=high, extent=extent, interpolation="nearest")
        values = np.asarray(mask.transpose("y", "x").values, dtype=float)
        if values.any():
            ax.contour(mask.x.values, mask.y.values, values, levels=[0.5], colors=[color], linewidths=1.5)
        ax.set_title(title)
        ax.set_xlabel("x (mm)")
        ax.set_ylabel("y (mm)")
        ax.set_aspect("equal")
    _save(fig, path)
    return fig


def group_boxplot(data, value: str, group: str, *, scatter_x=None, scatter_y=None, path=None, title=None):
    """Box plot (with the points) of ``value`` by ``group``; beside it ``scatter_y`` (default
    ``value``) against ``scatter_x``, coloured by group.

    ``data`` is a DataFrame with one row per subject.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0], "g": ["a", "a", "b", "b"], "w": [1.0, 2.0, 2.0, 3.0]})
    >>> len(group_boxplot(data, "v", "g", scatter_x="w").axes)
    2
    """
    groups = sorted(data[group].astype(str).unique())
    panels = 2 if scatter_x else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.5), layout="constrained", squeeze=False)
    ax = axes[0][0]
    samples = [data.loc[data[group].astype(str) == g, value].to_numpy(dtype=float) for g in groups]
    ax.boxplot(samples, tick_labels=groups, showfliers=False)
    for k, sample in enumerate(samples, start=1):
        ax.plot(np.full(len(sample), k) + np.linspace(-0.08, 0.08, len(sample)), sample, "o", alpha=0.6)
    ax.set_xlabel(group)
    ax.set_ylabel(value)
    if scatter_x:
        ax = axes[0][1]
        scatter_y = scatter_y or value
        for g in groups:
            rows = data[data[group].astype(str) == g]
            ax.plot(rows[scatter_x], rows[scatter_y], "o", alpha=0.7, label=g)
        ax.set_xlabel(scatter_x)
        ax.set_ylabel(scatter_y)
        ax.legend(title=group)
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return fig


def _middle_planes(image):
    """``[(title, 2D slice, (row dim, col dim))]``: the three middle planes of a volume, or the 2D image."""
    if spatial_dims(image) == ("y", "x"):
        return [("", image, ("y", "x"))]
    views = [("axial", "z", ("y", "x")), ("coronal", "y", ("z", "x")), ("sagittal", "x", ("z", "y"))]
    return [(title, image.isel({dim: image.sizes[dim] // 2}), dims) for title, dim, dims in views]


def _normalised(values, where):
    low, high = np.percentile(values[where], [1, 99]) if where.any() else (0.0, 1.0)
    return np.clip((values - low) / (high - low if high > low else 1.0), 0, 1)


def checkerboard(fixed_slice, moving_slice, *, tiles: int = 8) -> np.ndarray:
    """Alternating square tiles of two slices of one grid (each scaled to [0, 1]): edges that
    break at the tile borders show misalignment.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.tile(np.arange(16.0), (16, 1))  # dark on the left
    >>> board = checkerboard(ramp, ramp[:, ::-1], tiles=2)  # the moving one is flipped
    >>> bool(board[0, 0] < 0.1), bool(board[0, 15] < 0.1)  # right-hand tile: the moving image
    (True, True)
    """
    a, b = np.asarray(fixed_slice, float), np.asarray(moving_slice, float)
    both = np.isfinite(a) & np.isfinite(b)  # scaled on the same voxels, so equal tissue looks equal
    a, b = _normalised(a, both), _normalised(b, both)
    rows, cols = np.indices(a.shape)
    size = max(1, max(a.shape) // tiles)
    return np.where(((rows // size) + (cols // size)) % 2 == 0, a, np.nan_to_num(b))


def registration_figure(result, path=None):
    """Checkerboards of fixed and moving, after centre-of-mass alignment and after registration,
    on the fixed grid's middle planes, and the cost at each iteration.

    ``result`` is a :class:`bmia_dask.registration.Registration`; only the
    slices shown are resampled and computed.
    """
    from .transform import apply

    fixed = result.fixed
    planes = _middle_planes(fixed)
    stages = [("centre of mass", result.initial), ("registered", result.transform)]
    fig, axes = plt.subplots(2, len(planes) + 1, figsize=(4.2 * (len(planes) + 1), 8), layout="constrained",
                             squeeze=False)
    for row, (stage, matrix) in enumerate(stages):
        moved = apply(result.moving.astype(np.float32), matrix, like=fixed, cval=np.nan)
        for ax, (title, plane, dims) in zip(axes[row], planes):
            index = {d: plane[d] for d in set(fixed.dims) - set(dims)}
            moved_plane = moved.sel(index, method="nearest") if index else moved
            board = checkerboard(plane.transpose(*dims).values, moved_plane.transpose(*dims).values)
            ax.imshow(board, cmap="gray", extent=_extent(plane, dims), origin="lower" if dims[0] == "z" else "upper",
                      interpolation="nearest")
            ax.set_title(f"{stage}: {title}".rstrip(": "))
            ax.set_xlabel(f"{dims[1]} (mm)")
            ax.set_ylabel(f"{dims[0]} (mm)")
    history = result.history
    ax = axes[0][-1]
    for level, rows in history.groupby("level", sort=False):
        ax.plot(rows["iteration"], rows["cost"], "o-", label=f"level {level} ({rows['spacing_mm'].iloc[0]:.1f} mm)")
    ax.set_xlabel("iteration")
    ax.set_ylabel(result.cost_name)
    ax.legend()
    ax.set_title(f"{result.kind} registration")
    axes[1][-1].axis("off")
    axes[1][-1].text(0.0, 0.5, _registration_text(result), family="monospace", va="center")
    _save(fig, path)
    return fig


def _registration_text(result) -> str:
    from .registration import rotation_degrees

    rows = [" ".join(f"{v:8.3f}" for v in row) for row in result.transform[:3]]
    return "\n".join([f"{result.cost_name}: {result.initial_cost:.4g} -> {result.cost:.4g}",
                      f"rotation {rotation_degrees(result.transform):.2f} deg",
                      "moving -> fixed (LPS mm):", *rows])


def _frame(image, t: int):
    image = as_image(image)
    return image.isel(t=t) if "t" in image.dims else image


def _plane_dims(axis: str):
    return {"z": ("y", "x"), "y": ("z", "x"), "x": ("z", "y")}[axis]


def _show(ax, plane, dims, *, cmap="gray", vmin=None, vmax=None, **options):
    """Draw a 2D slice to scale in mm (z up); returns the AxesImage."""
    shown = ax.imshow(np.asarray(plane.transpose(*dims).values), cmap=cmap, vmin=vmin, vmax=vmax,
                      extent=_extent(plane, dims), origin="lower" if dims[0] == "z" else "upper",
                      interpolation="nearest", **options)
    ax.set_aspect("equal")
    return shown


def _chosen_slices(image, axis: str, every, n: int):
    size = image.sizes[axis]
    if every is not None:
        if int(every) != every or every < 1:
            raise ValueError(f"every must be a whole number >= 1, got {every!r}")
        return list(range(0, size, int(every)))
    return sorted(set(np.linspace(0, size - 1, min(n, size)).round().astype(int).tolist()))


def slice_grid(image, *, axis: str = "z", every=None, n: int = 12, columns: int = 6, t: int = 0,
               cmap: str = "gray", path=None, title=None):
    """A grid of slices along ``axis``: every ``every``-th one, or ``n`` evenly spaced.

    The course's subplot grid of a volume, each panel titled by its position in
    mm. Only the slices shown are computed (in one pass).

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.random.rand(20, 16, 16), spacing=(2.0, 1.0, 1.0))
    >>> fig = bd.plot.slice_grid(image, every=5)
    >>> [ax.get_title() for ax in fig.axes if ax.images]
    ['z = 0.0 mm', 'z = 10.0 mm', 'z = 20.0 mm', 'z = 30.0 mm']
    """
    import dask

    image = _frame(image, t)
    if axis not in spatial_dims(image) or len(spatial_dims(image)) != 3:
        raise ValueError(f"axis must be a spatial dim of a 3D image, got {axis!r} for dims {image.dims}")
    indices = _chosen_slices(image, axis, every, n)
    slices = dask.compute(*[image.isel({axis: k}) for k in indices])
    low, high = _display_range(slices)
    rows = -(-len(slices) // columns)
    fig, axes = plt.subplots(rows, min(columns, len(slices)), figsize=(2.4 * min(columns, len(slices)), 2.5 * rows),
                             layout="constrained", squeeze=False)
    dims = _plane_dims(axis)
    for ax, plane in zip(axes.ravel(), slices):
        _show(ax, plane, dims, cmap=cmap, vmin=low, vmax=high)
        ax.set_title(f"{axis} = {float(plane[axis]):.1f} mm")
    for ax in axes.ravel():
        ax.axis("off")
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return fig


def fly_through(image, path, *, axis: str = "z", every: int = 1, t: int = 0, fps: int = 10, cmap: str = "gray"):
    """An animated GIF that steps through every ``every``-th slice along ``axis``.

    Slices are computed a chunk-thickness at a time, so a large volume is
    never held whole. Returns the Figure (showing the last slice).
    """
    import tempfile

    from matplotlib.animation import PillowWriter

    from .io.storage import write_bytes

    image = _frame(image, t)
    if axis not in spatial_dims(image) or len(spatial_dims(image)) != 3:
        raise ValueError(f"axis must be a spatial dim of a 3D image, got {axis!r} for dims {image.dims}")
    indices = _chosen_slices(image, axis, every, 0)
    middle = image.isel({axis: image.sizes[axis] // 2}).compute()
    low, high = _display_range([middle])
    dims = _plane_dims(axis)
    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    shown = _show(ax, middle, dims, cmap=cmap, vmin=low, vmax=high)
    ax.set_xlabel(f"{dims[1]} (mm)")
    ax.set_ylabel(f"{dims[0]} (mm)")
    chunk = image.chunks[image.dims.index(axis)][0] if image.chunks else len(indices)
    with tempfile.TemporaryDirectory() as folder:
        local = f"{folder}/fly.gif"
        writer = PillowWriter(fps=fps)
        with writer.saving(fig, local, dpi=80):
            step = max(1, chunk // every)  # the slices of about one chunk at a time
            for start in range(0, len(indices), step):
                batch = image.isel({axis: indices[start: start + step]}).compute()
                for k in range(batch.sizes[axis]):
                    plane = batch.isel({axis: k})
                    shown.set_data(np.asarray(plane.transpose(*dims).values))
                    ax.set_title(f"{axis} = {float(plane[axis]):.1f} mm")
                    writer.grab_frame()
        with open(local, "rb") as file:
            write_bytes(str(path), file.read())
    return fig


def _plane_at(image, at_mm, axis="z"):
    """The 2D slice of ``image`` nearest ``at_mm`` along ``axis`` (the middle one by default)."""
    if len(spatial_dims(image)) == 2:
        return image
    if at_mm is None:
        return image.isel({axis: image.sizes[axis] // 2})
    return image.sel({axis: at_mm}, method="nearest")


def overlay(image, *, mask=None, labels=None, distance=None, at_mm=None, axis: str = "z", t: int = 0,
            alpha: float = 0.45, colorbar_label: str = "distance (mm)", path=None, title=None):
    """A slice with a mask (red fill and outline), labels (one colour each) or a distance map on it.

    ``distance`` may be any map of positive values (zero is transparent), e.g.
    an edge magnitude; ``colorbar_label`` names it.

    ``image`` and the overlays share a grid; for a volume the slice nearest
    ``at_mm`` along ``axis`` is drawn (default: the middle one). Only that
    slice is computed.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> image = bd.from_array(np.random.rand(4, 32, 32))
    >>> fig = bd.plot.overlay(image, mask=image > 0.9, labels=bd.label(image > 0.95)[0])
    >>> len(fig.axes[0].images)
    3
    """
    image = _frame(image, t)
    layers = {name: _frame(layer, t) for name, layer in (("mask", mask), ("labels", labels), ("distance", distance))
              if layer is not None}
    for name, layer in layers.items():
        if layer.shape != image.shape:
            raise ValueError(f"{name} of shape {layer.shape} does not match image of shape {image.shape}")
    dims = ("y", "x") if len(spatial_dims(image)) == 2 else _plane_dims(axis)
    plane = _plane_at(image, at_mm, axis).compute()
    fig, ax = plt.subplots(figsize=(6, 5.4), layout="constrained")
    low, high = _display_range([plane])
    _show(ax, plane, dims, vmin=low, vmax=high)
    if "distance" in layers:
        values = _plane_at(layers["distance"], at_mm, axis).compute()
        shown = _show(ax, values.where(values > 0), dims, cmap="magma", alpha=0.7)
        fig.colorbar(shown, ax=ax, label=colorbar_label, shrink=0.8)
    if "labels" in layers:  # NaN (the background) is transparent
        values = _plane_at(layers["labels"], at_mm, axis).compute()
        _show(ax, values.where(values > 0), dims, cmap="rainbow", alpha=alpha, vmin=1,
              vmax=max(1.0, float(values.max())))
    if "mask" in layers:
        values = _plane_at(layers["mask"], at_mm, axis).compute().astype(float)
        _show(ax, values.where(values > 0), dims, cmap="autumn", alpha=alpha, vmin=0, vmax=1)
        if values.any():
            ax.contour(values[dims[1]].values, values[dims[0]].values, values.transpose(*dims).values,
                       levels=[0.5], colors=["red"], linewidths=1.0)
    ax.set_xlabel(f"{dims[1]} (mm)")
    ax.set_ylabel(f"{dims[0]} (mm)")
    where = [d for d in spatial_dims(image) if d not in dims]
    ax.set_title(title or (f"{where[0]} = {float(plane[where[0]]):.1f} mm" if where else ""))
    _save(fig, path)
    return fig


def histogram(image, *, bins: int = 256, min=None, max=None, labels=None, index=None, log: bool = False,
              path=None, title=None):
    """Histogram of the values and their cumulative distribution (CDF), as in the course.

    Counted in one lazy pass (:func:`bmia_dask.intensity.histogram`, which
    also takes ``labels`` / ``index``); the range defaults to the values'.

    Examples
    --------
    >>> import numpy as np, bmia_dask as bd
    >>> fig = bd.plot.histogram(bd.from_array(np.arange(100.0).reshape(4, 5, 5)), bins=10)
    >>> fig.axes[0].get_ylabel(), fig.axes[1].get_ylabel()
    ('voxels', 'CDF')
    """
    from .intensity import histogram as count, value_range

    image = as_image(image)
    if min is None or max is None:
        low, high = value_range(image)
        min, max = (low if min is None else min), (high if max is None else max)
    counts = count(image, min, max, bins, labels=labels, index=index)
    if counts is None or np.ndim(index) > 0:  # scipy's layout: one array per label, None where absent
        counts = [c for c in np.ravel(np.asarray(counts, dtype=object)) if c is not None]
        counts = np.sum(counts, axis=0) if counts else np.zeros(bins)
    counts = np.asarray(counts, dtype=float)
    edges = np.linspace(min, max, bins + 1)
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.stairs(counts, edges, fill=True, alpha=0.6, color="tab:blue")
    ax.set_xlabel(f"value ({image.attrs.get('units') or 'a.u.'})")
    ax.set_ylabel("voxels")
    if log:
        ax.set_yscale("log")
    cdf_axis = ax.twinx()
    total = counts.sum()
    cdf_axis.plot(edges[1:], np.cumsum(counts) / (total if total else 1.0), color="tab:red")
    cdf_axis.set_ylabel("CDF")
    cdf_axis.set_ylim(0, 1.02)
    if title:
        ax.set_title(title)
    _save(fig, path)
    return fig
