"""Figures of images (matplotlib, Agg backend): only the slices shown are computed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no screen needed; figures are saved as PNG
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .image import as_image, spatial_dims  # noqa: E402

__all__ = ["orthogonal_views", "volume_curve", "outlines", "group_boxplot", "checkerboard", "registration_figure"]


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
    break at the tile borders show misalignment."""
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
