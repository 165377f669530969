"""What bmia_dask does not do, by reason: the only place a foreign test may be excused.

Every test of the conformance suites either passes or is matched here, and then
reported as skipped or expected-failed (``xfail(strict=False)``) with the reason.
Patterns are ``fnmatch`` patterns over the test id inside its suite and grid, e.g.
``test_filters.py::TestNdimageFilters::test_rank06[int8]`` or
``test_ndmorph/test_ndmorph.py::test_errs[...]``.

Keep it short and by reason; remove an entry when its tests pass.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    suite: str          # "scipy" or "dask_image"
    patterns: tuple     # fnmatch patterns over test ids (file::class::name[params])
    reason: str
    action: str = "xfail"  # or "skip" (not run at all)


# Whole files that are not run (one skipped test each in the counts).
EXCLUDED_FILES = (
    Entry("scipy", ("test_ni_support.py",), "tests scipy's private _ni_support helpers, not a public function",
          "skip"),
    Entry("scipy", ("test_c_api.py",), "scipy's C callback API (LowLevelCallable built from scipy's private "
          "C test modules) is not part of bmia_dask", "skip"),
    Entry("dask_image", ("*/test__utils.py",), "tests of dask-image's private helpers", "skip"),
    Entry("dask_image", ("*/test_cupy_*.py",), "CuPy chunks (no GPU chunk type in bmia_dask)", "skip"),
)

# Groups the adapter raises at call time (tests/conformance/adapter.py: Unsupported):
# the test is reported as an expected failure with the group and the detail.
DYNAMIC = {
    "not provided yet": "bmia_dask.ndimage has no twin of the scipy function, or the twin lacks the argument "
                        "the test passes; this group shrinks as the topic modules land",
    "0-d inputs": "0-d inputs (scalars): a bmia_dask image has 1 to 3 spatial axes",
    "more than 3 axes": "inputs with more than 3 axes: bmia_dask's kernels have at most 3 spatial axes "
                        "(a 4th axis is time, processed frame by frame)",
    "scipy internals": "the test calls scipy's private helpers (ndimage._ni_support, _measurements._stats, ...)",
    "dask-image's own API": "a dask-image function that is not a scipy.ndimage name (area, threshold_local, "
                            "private _utils), or dask-image's own return format",
    "distances=/indices= arrays": "distance transforms filling caller-given distances=/indices= arrays "
                                  "(a lazy library returns new arrays)",
}

# Known differences, grouped by function and argument.
KNOWN: tuple[Entry, ...] = (
    # --- scipy's tests
    Entry("scipy", ("test_morphology.py::*::test_distance_transform_bf03[[]*",),
          "distance_transform_bf with return_indices=True (the feature transform): bmia_dask refuses it "
          "(scipy's choice among equally near background voxels is not computed across chunks yet)"),
    Entry("scipy", ("test_morphology.py::*::test_distance_transform_cdt05[[]*",),
          "distance_transform_cdt(metric=<array with a non-zero centre>): scipy returns -1 in the whole "
          "foreground (its test pins sum == -21); bmia_dask returns chamfer distances"),
    Entry("scipy", ("test_morphology.py::*::test_binary_axes[[]binary_fill_holes-*-origin1-*",
                    "test_morphology.py::*::test_binary_axes[[]binary_propagation-*-origin1-*"),
          "binary_propagation / binary_fill_holes (repeat until stable) with a non-zero origin: bmia_dask "
          "refuses (ValueError), exact across chunks only for structures symmetric about their origin"),
    Entry("scipy", ("test_datatypes.py::test_map_coordinates_dts",
                    "test_interpolation.py::TestMapCoordinates::test_map_coordinates_large_data"),
          "runtime budget: 2,600 calls (6 orders x 12 x 12 dtypes) take minutes through dask; one point "
          "out of a 30000^2 float32 input passes but takes 20 s (and 3.6 GB of address space)", "skip"),
    # --- dask-image's tests
    Entry("dask_image", ("test_ndinterp/*::test_affine_transform_prefilter_not_implemented[[]*",
                         "test_ndinterp/*::test_affine_transform_unsupported_modes[[]*",
                         "test_ndinterp/*::test_rotate_unsupported_modes[[]*",
                         "test_ndinterp/*::test_rotate_prefilter_not_implemented_error",
                         "test_ndinterp/*::test_spline_filter_unsupported_modes[[]*",
                         "test_ndinterp/*::test_spline_filter1d_invalid_depth[[]*",
                         "test_ndmorph/*::test_errs_binary_ops_iter[[]NotImplementedError-*",
                         "test_ndmorph/*::test_errs_binary_ops_expanded[[]NotImplementedError-*",
                         "test_ndmeasure/*::test_find_objects_raises_import_error_without_pandas"),
          "dask-image's own limits (NotImplementedError for modes, prefilters and iterations it does not "
          "implement; its depth= argument; pandas for find_objects): bmia_dask does these as scipy does"),
    Entry("dask_image", (*(f"test_ndfilters/test__order.py::test_order_filter_params[[]{p}" for p in (
                             "TypeError-1.0-None-0-*imum_filter-*", "RuntimeError-None-footprint6-0-*imum_*",
                             "ValueError-1-None-1-*imum_filter-*", "TypeError-1-None-0.0-*",
                             "TypeError-1-None-origin11-*")),
                         "test_ndfilters/test__smooth.py::test_uniform_filter_params[[]TypeError-3.0-0]",
                         "test_ndfilters/test__conv.py::test_convolutions_params[[]ValueError-weights[01]-0-*",
                         "test_ndfilters/test__edge.py::test_edge_func_params[[]*-ValueError-0.0]",
                         "test_ndfilters/test__generic.py::test_generic_filter_shape_type[[]*",
                         "test_ndfourier/test_core.py::test_fourier_filter_err[[]*-NotImplementedError-*",
                         "test_ndfourier/test_core.py::test_fourier_filter_err[[]*-TypeError-s2-0]",
                         "test_ndfourier/test_core.py::test_fourier_filter_err[[]*-RuntimeError-s4-0]",
                         "test_ndmorph/*::test_errs_binary_ops[[]RuntimeError-input0-structure0-0-binary_[cd]*",
                         "test_ndmorph/test_ndmorph.py::test_errs_binary_ops[[]TypeError-*",
                         "test_ndinterp/*::test_affine_transform_numpy_input",
                         "test_ndinterp/*::test_rotate_numpy_input"),
          "dask-image's own argument checks and exact-equality expectations that scipy.ndimage itself fails "
          "(checked by running these tests against scipy): bmia_dask behaves as scipy"),
    Entry("dask_image", ("test_ndinterp/test_map_coordinates.py::test_map_coordinates_large_input",),
          "too slow: map_coordinates of 2 points in a 1000^3 input prefilters the whole input "
          "(about a minute here; dask-image's test allows 3 s)", "skip"),
    Entry("dask_image", ("test_ndinterp/*::test_affine_transform_large_input_small_output_cpu",),
          "too slow: affine_transform builds a 250,001-task graph for a 1-voxel output of a 125,000-chunk input "
          "(15-40 s here; dask-image's test allows 15 s)", "skip"),
)


def entries():
    return EXCLUDED_FILES + KNOWN
