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
    "more than 3 axes": "inputs with more than 3 axes: bmia_dask's kernels have at most 3 spatial axes "
                        "(a 4th axis is time, processed frame by frame)",
    "scipy internals": "the test calls scipy's private helpers (ndimage._ni_support, _measurements._stats, ...)",
    "dask-image's own API": "a dask-image function that is not a scipy.ndimage name (area, threshold_local, "
                            "private _utils), or dask-image's own return format",
    "distances=/indices= arrays": "distance transforms filling caller-given distances=/indices= arrays "
                                  "(a lazy library returns new arrays)",
}

# Known differences, grouped by function and argument.
KNOWN: tuple[Entry, ...] = ()


def entries():
    return EXCLUDED_FILES + KNOWN
