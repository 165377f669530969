"""Collect scipy.ndimage's and dask-image's own tests and run them against bmia_dask.

The files ``scipy.suite`` and ``dask_image.suite`` in this folder stand for the two
foreign suites: collecting one of them copies the foreign test files (rewritten to
import the adapter, see ``sources.py``) into the cache and collects those copies, once
per chunk grid, as ``tests/conformance/scipy.suite::g1/test_filters.py::...``.

Outcomes: a test passes, or it is matched by ``unsupported.py`` (by pattern, or
because the adapter raised one of its ``Unsupported`` groups) and is reported as
skipped / expected-failed with the reason. A result whose dask graph fails
validation is always a failure.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import signal
import sys
import threading
import zlib

import numpy as np
import pytest

from . import adapter, sources, unsupported

# chunk grids per suite; the second grid of a suite runs on a deterministic subset
# (the tests whose id hashes to 0 mod SUBSET[suite, grid]); 1 means every test
GRIDS = {"scipy": ("g1", "g2"), "dask_image": ("native", "g1")}
SUBSET = {("scipy", "g2"): 6, ("dask_image", "g1"): 8}
SUITE_FILES = {"scipy.suite": "scipy", "dask_image.suite": "dask_image"}
TIME_LIMIT = float(os.environ.get("BMIA_CONFORMANCE_TIME_LIMIT", "60"))  # seconds per foreign test


def in_subset(suite: str, grid: str, test_id: str) -> bool:
    every = SUBSET.get((suite, grid), 1)
    return every == 1 or zlib.crc32(test_id.encode()) % every == 0


def pytest_configure(config):
    for line in (
        "skip_xp_backends(backends, reason=None, np_only=False, cpu_only=False, exceptions=None): scipy's",
        "xfail_xp_backends(backends, reason=None, np_only=False, cpu_only=False, exceptions=None): scipy's",
        "array_api_backends: scipy's",
        "cupy: dask-image's GPU tests",
        "timeout(seconds): dask-image's",
    ):
        config.addinivalue_line("markers", line)
    if not config.pluginmanager.has_plugin("bmia-conformance-outcomes"):
        config.pluginmanager.register(Outcomes(), "bmia-conformance-outcomes")


def pytest_collect_file(file_path, parent):
    if file_path.name in SUITE_FILES and file_path.parent == parent.path:
        return Suite.from_parent(parent, path=file_path)
    return None


class Suite(pytest.File):
    """One foreign suite: its test files, rewritten, once per grid."""

    def collect(self):
        suite = SUITE_FILES[self.path.name]
        try:
            files = sources.scipy_test_files() if suite == "scipy" else sources.dask_image_test_files()
        except sources.Unavailable as err:
            pytest.skip(f"{suite} tests unavailable: {err}")
        adapter.xp_module()
        for grid in GRIDS[suite]:
            if suite == "scipy":
                adapter.scipy_module(grid)
            else:
                adapter.dask_image_package(grid)
            for name, text in files:
                excluded = _match(suite, name)
                if excluded is not None and excluded in unsupported.EXCLUDED_FILES:
                    if grid == GRIDS[suite][0]:
                        yield ExcludedFile.from_parent(self, name=f"{grid}/{name}", reason=excluded.reason)
                    continue
                rewrite = sources.rewrite_scipy if suite == "scipy" else sources.rewrite_dask_image
                path = sources.write_copy(suite, grid, name, rewrite(text, grid))
                yield ForeignModule.from_parent(self, path=path, name=f"{grid}/{name}",
                                                nodeid=f"{self.nodeid}::{grid}/{name}", suite=suite, grid=grid)


class ForeignModule(pytest.Module):
    """A rewritten foreign test file, imported under a unique module name."""

    def __init__(self, *args, suite: str, grid: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.suite, self.grid = suite, grid

    def _getobj(self):
        stem = self.name.replace("/", "_").removesuffix(".py")
        qual = f"_bmia_ct_{self.suite}_{stem}"
        if qual in sys.modules:
            return sys.modules[qual]
        spec = importlib.util.spec_from_file_location(qual, self.path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[qual] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[qual]
            raise
        return module


class ExcludedFile(pytest.Item):
    def __init__(self, *args, reason: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.reason = reason
        self.add_marker(pytest.mark.skip(reason=f"excluded file: {reason}"))

    def runtest(self):  # never reached: skipped
        raise AssertionError("excluded")

    def reportinfo(self):
        return self.path, 0, self.name


def _test_id(item) -> tuple[str | None, str | None, str]:
    module = item.getparent(ForeignModule)
    if module is None:
        return None, None, item.nodeid
    return module.suite, module.grid, item.nodeid.split(f"::{module.grid}/", 1)[1]


def _match(suite: str, test_id: str):
    for entry in unsupported.entries():
        if entry.suite == suite and any(fnmatch.fnmatchcase(test_id, p) for p in entry.patterns):
            return entry
    return None


def pytest_collection_modifyitems(config, items):
    keep, dropped = [], []
    for item in items:
        suite, grid, test_id = _test_id(item)
        if suite is None:
            keep.append(item)
            continue
        if not in_subset(suite, grid, test_id):
            dropped.append(item)
            continue
        keep.append(item)
        entry = _match(suite, test_id)
        if entry is None:
            continue
        if entry.action == "skip":
            item.add_marker(pytest.mark.skip(reason=entry.reason))
        else:
            item.add_marker(pytest.mark.xfail(strict=False, reason=entry.reason))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


class Outcomes:
    """Registered as a plugin (the copies live outside this folder, so a conftest hook
    would not see their reports): adapter's Unsupported -> expected failure with its
    group; GraphInvalid -> failure, even under an xfail entry."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        limited = (item.getparent(ForeignModule) is not None and TIME_LIMIT > 0
                   and threading.current_thread() is threading.main_thread())
        if not limited:
            return (yield)

        def alarm(signum, frame):
            raise adapter.TooSlow(f"the test ran longer than {TIME_LIMIT:g} s")

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
        try:
            return (yield)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        rep = yield
        excinfo = call.excinfo
        if excinfo is None or item.getparent(ForeignModule) is None:
            return rep
        if excinfo.errisinstance((adapter.GraphInvalid, adapter.TooSlow)):
            rep.outcome = "failed"
            if hasattr(rep, "wasxfail"):
                del rep.wasxfail
        elif excinfo.errisinstance(adapter.Unsupported):
            error = excinfo.value
            rep.outcome = "skipped"
            rep.wasxfail = f"{error.group}: {error.detail}"
        return rep


@pytest.fixture
def xp(request):
    """scipy's array-API fixture, numpy only (honours skip/xfail marks naming numpy)."""
    for kind in ("skip", "xfail"):
        for mark in request.node.iter_markers(f"{kind}_xp_backends"):
            backends = mark.args[0] if mark.args else mark.kwargs.get("backends", ())
            if isinstance(backends, str):
                backends = (backends,)
            if "numpy" in backends:
                reason = mark.kwargs.get("reason") or f"{kind}_xp_backends(numpy)"
                if kind == "skip":
                    pytest.skip(reason)
                request.applymarker(pytest.mark.xfail(reason=reason, strict=False))
    return np


@pytest.fixture
def num_parallel_threads():
    """scipy's fixture (pytest-run-parallel): these tests run on one thread."""
    return 1
