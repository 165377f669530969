"""Public test helpers: prove laziness, compare with reference readers."""

from __future__ import annotations

import contextlib

import dask


class CountingScheduler:
    """A dask scheduler that counts how often it is asked to compute.

    Examples
    --------
    >>> import dask, dask.array as da
    >>> counter = CountingScheduler()
    >>> with dask.config.set(scheduler=counter):
    ...     _ = da.ones(4, chunks=2).sum().compute()
    >>> counter.count
    1
    """

    def __init__(self, max_computes: int | None = None):
        self.count = 0
        self.max_computes = max_computes

    def __call__(self, dsk, keys, **kwargs):
        self.count += 1
        if self.max_computes is not None and self.count > self.max_computes:
            raise RuntimeError(f"computed {self.count} times, at most {self.max_computes} allowed")
        return dask.get(dsk, keys, **kwargs)


@contextlib.contextmanager
def raise_if_dask_computes(max_computes: int = 0):
    """Fail if the block computes dask graphs more than ``max_computes`` times.

    Examples
    --------
    >>> import dask.array as da
    >>> with raise_if_dask_computes():
    ...     lazy = da.ones(4, chunks=2) + 1  # building a graph computes nothing
    """
    scheduler = CountingScheduler(max_computes)
    with dask.config.set(scheduler=scheduler):
        yield scheduler


def to_sitk(image):
    """A 3D image as a ``SimpleITK.Image`` with the same values and geometry.

    SimpleITK orders spacing and indices ``(x, y, z)``; its direction matrix
    has the same columns as ours.
    """
    import numpy as np
    import SimpleITK as sitk

    from .image import as_image, geometry

    image = as_image(image)
    geo = geometry(image)
    out = sitk.GetImageFromArray(np.asarray(image.values))
    out.SetSpacing(tuple(float(s) for s in geo.spacing[::-1]))
    out.SetOrigin(tuple(float(o) for o in geo.origin))
    out.SetDirection(tuple(float(v) for v in np.ravel(geo.direction)))
    return out
