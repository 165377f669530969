"""The adapter itself: it must only ever call bmia_dask, and it must catch bad graphs."""

import types

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage
from dask.highlevelgraph import HighLevelGraph

from . import adapter, sources


def test_every_scipy_name_resolves_to_bmia_dask_or_not_provided():
    for name in scipy.ndimage.__all__:
        try:
            func = adapter.resolve(name)
        except adapter.NotProvided:
            continue
        assert func is not getattr(scipy.ndimage, name) or name in adapter.REEXPORTS_ALLOWED, name
        assert func.__module__.startswith("bmia_dask") or name in adapter.REEXPORTS_ALLOWED, name


def test_a_missing_twin_is_not_provided_not_scipy(monkeypatch):
    fake = types.SimpleNamespace(SCIPY_NAMES=("gaussian_filter",))
    monkeypatch.setattr(adapter, "bnd", fake)
    with pytest.raises(adapter.NotProvided, match="gaussian_filter"):
        adapter.resolve("gaussian_filter")
    # a BaseException: a test's pytest.raises(Exception) cannot swallow it
    assert not issubclass(adapter.NotProvided, Exception)


def test_a_twin_that_is_scipy_function_is_not_provided(monkeypatch):
    fake = types.SimpleNamespace(SCIPY_NAMES=("median_filter",), median_filter=scipy.ndimage.median_filter)
    monkeypatch.setattr(adapter, "bnd", fake)
    with pytest.raises(adapter.NotProvided, match="not bmia_dask's"):
        adapter.resolve("median_filter")


def test_graph_with_an_undeclared_dependency_fails():
    x = da.ones((4, 4), chunks=2)
    name = "bad-layer"
    layer = {(name, i, j): (np.add, (x.name, i, j), 1) for i in range(2) for j in range(2)}
    graph = HighLevelGraph({**x.dask.layers, name: layer}, {**x.dask.dependencies, name: set()})
    bad = da.Array(graph, name, chunks=x.chunks, dtype=x.dtype)
    with pytest.raises(adapter.GraphInvalid):
        adapter.compute_checked(bad)


def test_chunks_that_lie_about_their_shape_fail():
    x = da.ones((6,), chunks=3)
    bad = x.map_blocks(lambda b: b[:2], chunks=x.chunks, dtype=x.dtype)
    with pytest.raises(adapter.GraphInvalid, match="shape"):
        adapter.compute_checked(bad)


def test_chunks_that_lie_about_their_dtype_fail():
    x = da.ones((6,), chunks=3)
    bad = x.map_blocks(lambda b: b.astype(np.float32), dtype=np.float64)
    with pytest.raises(adapter.GraphInvalid, match="dtype"):
        adapter.compute_checked(bad)


def test_inputs_become_images_with_the_grid_chunks():
    image = adapter.to_image(np.zeros((13, 17, 19)), adapter.GRIDS["g1"], "input")
    assert image.dims == ("z", "y", "x")
    assert image.data.chunksize == (3, 4, 5)
    with pytest.raises(adapter.OutOfScope):
        adapter.to_image(np.zeros((2, 3, 4, 5)), adapter.GRIDS["g1"], "input")


def test_rewriting_points_the_imports_at_the_adapter():
    text = "import numpy as np\nfrom scipy import ndimage\nfrom . import types\n"
    out = sources.rewrite_scipy(text, "g1")
    assert "from _bmia_conformance import scipy_g1 as ndimage" in out
    assert "from scipy.ndimage.tests import types" in out
    text = "import scipy.ndimage\nimport dask_image.ndfilters\nimport dask_image.ndinterp as nd\n"
    out = sources.rewrite_dask_image(text, "native")
    assert "import scipy.ndimage\n" in out  # the expected side stays scipy
    assert "from _bmia_conformance import dask_image_native as dask_image" in out
    assert "from _bmia_conformance.dask_image_native import ndinterp as nd" in out
