"""scipy.ndimage's names in one flat namespace, each bound to its bmia_dask twin.

A recipe written for scipy ports by changing its import::

    import scipy.ndimage as ndi        # before
    import bmia_dask.ndimage as ndi    # after

Every name resolves lazily (PEP 562) to the function of the topic module that
implements it (:mod:`bmia_dask.filters`, ``fourier``, :mod:`~bmia_dask.morphology`,
:mod:`~bmia_dask.distance`, :mod:`~bmia_dask.measure`, :mod:`~bmia_dask.labels`,
:mod:`~bmia_dask.transform`), so importing this module imports none of them.
Where scipy's names clash, scipy's meaning wins: ``minimum``, ``maximum``,
``median``, ``sum``, ``mean``, ``variance`` and ``standard_deviation`` are the
per-label measurements of :mod:`bmia_dask.measure`, not the filters' short aliases.

The results are bmia_dask's, not scipy's types: filters return lazy images
(``xarray.DataArray``; ``.values`` computes), measurements return computed
numbers, and ``label`` returns ``(labels, n)`` with both lazy.

A scipy name whose twin has not been written yet raises ``AttributeError``
saying so; ``__all__`` and ``dir()`` list only the names that exist.

Examples
--------
>>> import numpy as np
>>> import bmia_dask.ndimage as ndi
>>> image = np.zeros((6, 8))
>>> image[1:3, 1:4] = 1.0
>>> image[4:6, 6:8] = 2.0
>>> smooth = ndi.gaussian_filter(image, 1.0)          # lazy image
>>> bool(abs(float(smooth.sum()) - image.sum()) < 1e-9)
True
>>> labels, n = ndi.label(image > 0)                  # lazy labels and count
>>> int(n)
2
>>> sorted(np.unique(labels.values).tolist())
[0, 1, 2]
>>> "gaussian_filter" in dir(ndi)
True
"""

from __future__ import annotations

import importlib

# scipy.ndimage's public name -> the bmia_dask places that may implement it, first found wins
_PLACES: dict[str, tuple[str, ...]] = {}


def _put(module: str, names: str, *, also: tuple[str, ...] = ()) -> None:
    for name in names.split():
        _PLACES[name] = (f"{module}:{name}",) + tuple(a.format(name=name) for a in also)


_put("filters", """correlate1d convolve1d correlate convolve gaussian_filter1d gaussian_filter
    gaussian_laplace gaussian_gradient_magnitude generic_laplace generic_gradient_magnitude
    prewitt sobel laplace uniform_filter1d uniform_filter minimum_filter1d maximum_filter1d
    minimum_filter maximum_filter rank_filter median_filter percentile_filter
    generic_filter1d generic_filter vectorized_filter""")
_put("fourier", "fourier_gaussian fourier_uniform fourier_ellipsoid fourier_shift")
_put("transform", """spline_filter1d spline_filter geometric_transform map_coordinates
    affine_transform shift zoom rotate""")
_put("labels", "label")
_put("measure", """sum_labels mean variance standard_deviation minimum maximum median
    minimum_position maximum_position extrema center_of_mass labeled_comprehension
    watershed_ift value_indices find_objects""")
_put("measure", "sum", also=("measure:sum_labels",))           # scipy's sum is sum_labels
_put("measure", "histogram", also=("intensity:histogram",))
_put("morphology", """iterate_structure generate_binary_structure binary_erosion binary_dilation
    binary_opening binary_closing binary_hit_or_miss binary_propagation binary_fill_holes
    grey_erosion grey_dilation grey_opening grey_closing morphological_gradient
    morphological_laplace white_tophat black_tophat""")
_put("distance", "distance_transform_bf distance_transform_cdt distance_transform_edt",
     also=("morphology:{name}",))

SCIPY_NAMES: tuple[str, ...] = tuple(sorted(_PLACES))


def _find(name: str):
    for place in _PLACES[name]:
        module, attr = place.split(":")
        try:
            mod = importlib.import_module(f"bmia_dask.{module}")
        except ImportError:  # a topic module not written yet
            continue
        if hasattr(mod, attr):
            return getattr(mod, attr)
    return None


def __getattr__(name: str):
    if name == "__all__":
        return [n for n in SCIPY_NAMES if _find(n) is not None]
    if name not in _PLACES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    func = _find(name)
    if func is None:
        where = " or ".join("bmia_dask." + p.replace(":", ".") for p in _PLACES[name])
        raise AttributeError(f"scipy.ndimage.{name} is not provided by bmia_dask yet (looked for {where})")
    return func


def __dir__():
    return sorted(["SCIPY_NAMES", *__getattr__("__all__")])
