"""The adapter: scipy.ndimage's and dask-image's call conventions in front of bmia_dask.

Foreign test files import the modules built here in place of ``scipy.ndimage``
(``scipy_module``) or ``dask_image.nd*`` (``dask_image_package``). Each public name
is a wrapper that

1. resolves the name in :mod:`bmia_dask.ndimage` (never in scipy or dask-image:
   a name bmia_dask lacks raises :class:`NotProvided`, which the conformance
   conftest reports as an expected failure of the "not provided yet" group);
2. binds the call to scipy's signature (bmia_dask takes scipy's extra positional
   parameters as keywords) and passes every argument by scipy's name; an argument
   bmia_dask's function does not take raises :class:`NotProvided` too, unless it
   has scipy's default value;
3. hands the image arguments (``input``, ``labels``, ``mask``, ``markers``) to
   bmia_dask as lazy images with small chunks (the grid of the module: chunks
   that cut through the tests' objects), and refuses more than 3 axes
   (:class:`OutOfScope`);
4. turns the result into the tested library's types: for scipy, computed numpy
   values, each dask graph checked first as ``dask.array.utils.assert_eq`` checks
   it (layers and dependencies, key collisions, every chunk's shape and dtype,
   meta); for dask-image, dask arrays (graph checked; the tests compute them).

``output=`` given as an array: bmia_dask refuses arrays (a lazy library cannot
fill them), so the adapter asks bmia_dask for ``output=<that array's dtype>``,
checks the result has that dtype, and copies it into the array, returning what
scipy returns then. ``distances=`` / ``indices=`` arrays are out of scope.
"""

from __future__ import annotations

import functools
import inspect
import sys
import types

import dask
import dask.array as da
import dask.array.utils
import numpy as np
import scipy.ndimage
import xarray as xr
from dask.highlevelgraph import HighLevelGraph

import bmia_dask
import bmia_dask.ndimage as bnd

GRIDS = {
    "g1": (3, 4, 5),   # fine: every test object is cut
    "g2": (7, 6, 5),   # coarser, different cuts
}
MAX_NDIM = 3
# large test arrays get proportionally larger chunks (at most this many per axis): the
# chunks still cut every object, and a 100 x 100 test image is not 850 chunks
MAX_CHUNKS_PER_AXIS = 8

# functions whose first parameter is not an image (structuring-element helpers)
NOT_IMAGE_FUNCTIONS = {"generate_binary_structure", "iterate_structure"}
IMAGE_PARAMETERS = {"input", "labels", "mask", "markers", "arr"}
# bmia_dask functions allowed to be scipy's own objects: they build small numpy kernels,
# they never touch an image
REEXPORTS_ALLOWED = {"generate_binary_structure", "iterate_structure"}


# --------------------------------------------------------------------------- outcomes
class Unsupported(BaseException):
    """Raised by the adapter for a call bmia_dask cannot be asked to do.

    A BaseException, so that no ``pytest.raises(Exception)`` in a foreign test can
    swallow it and pass. ``group`` names the reason group of ``unsupported.py``.
    """

    group = "unsupported"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class NotProvided(Unsupported):
    group = "not provided yet"


class OutOfScope(Unsupported):
    group = "more than 3 axes"


class ZeroDim(Unsupported):
    group = "0-d inputs"


class ScipyInternals(Unsupported):
    group = "scipy internals"


class DaskImageOnly(Unsupported):
    group = "dask-image's own API"


class OutputArrays(Unsupported):
    group = "distances=/indices= arrays"


class GraphInvalid(BaseException):
    """A bmia_dask result whose dask graph fails validation: always a failure."""


class TooSlow(BaseException):
    """A foreign test that ran longer than the conformance time limit: a failure."""


# --------------------------------------------------------------------------- graphs
def check_graph(x) -> bool:
    """The graph checks of ``dask.array.utils.assert_eq``, with dask's public API:
    layers and their dependencies (``HighLevelGraph.validate``) must hold. Returns
    whether some key is defined in two layers by different-looking tasks (then
    ``compute_checked`` asks ``assert_eq`` itself, which compares them as tasks)."""
    graph = x.__dask_graph__()
    if not isinstance(graph, HighLevelGraph):
        return False
    try:
        graph.validate()
    except Exception as err:  # noqa: BLE001 - any validation error is the finding
        raise GraphInvalid(f"HighLevelGraph.validate: {err!r}") from None
    seen: set = set()
    twice: set = set()
    for layer in graph.layers.values():
        keys = layer.keys()
        twice |= seen & keys
        seen |= keys
    for key in twice:
        tasks = {dask.base.tokenize(layer[key]) for layer in graph.layers.values() if key in layer}
        if len(tasks) > 1:
            return True
    return False


def _checked_block(block, block_info=None):
    info = block_info[None]
    where = info["chunk-location"]
    if not hasattr(block, "dtype"):
        raise GraphInvalid(f"chunk {where} is a {type(block).__name__}, not an array")
    want = tuple(info["chunk-shape"])
    if tuple(block.shape) != want and not any(np.isnan(w) for w in want):
        raise GraphInvalid(f"chunk {where} has shape {block.shape}, the array declares {want}")
    if block.dtype != info["dtype"]:
        raise GraphInvalid(f"chunk {where} has dtype {block.dtype}, the array declares {info['dtype']}")
    return block


def compute_checked(x: da.Array, optimize: bool = False) -> np.ndarray:
    """Compute a dask array as ``assert_eq`` does: the graph validated first, then
    every chunk checked against the shape and dtype the array declares, then the
    whole against its meta (one computation, synchronous). ``optimize``: through
    dask's graph optimizations (fusion, culling) as a user's compute does, or the
    graph as built (four times faster on the tests' tiny arrays)."""
    suspect = check_graph(x)
    value = x.map_blocks(_checked_block, dtype=x.dtype, meta=x._meta).compute(scheduler="sync", optimize_graph=optimize)
    if getattr(x, "_meta", None) is not None and np.ndim(value) != x._meta.ndim:
        raise GraphInvalid(f"computing changes the number of dimensions ({x._meta.ndim} -> {np.ndim(value)})")
    if hasattr(value, "dtype") and value.dtype != x.dtype and np.size(value):
        raise GraphInvalid(f"computed dtype {value.dtype}, the array declares {x.dtype}")
    if tuple(np.shape(value)) != tuple(x.shape) and not any(np.isnan(s) for s in x.shape):
        raise GraphInvalid(f"computed shape {np.shape(value)}, the array declares {x.shape}")
    if suspect:  # a key in two layers: dask's own check decides whether the tasks differ
        try:
            dask.array.utils.assert_eq(x, value, check_chunks=False)
        except AssertionError as err:
            raise GraphInvalid(f"dask.array.utils.assert_eq: {err}") from None
    return value


# --------------------------------------------------------------------------- inputs
def _chunks(shape, grid) -> tuple[int, ...]:
    return tuple(max(1, min(max(c, -(-n // MAX_CHUNKS_PER_AXIS)), n)) for c, n in zip(grid, shape))


def to_image(value, grid, name: str):
    """A test's array as a bmia_dask image with the grid's chunks (``grid=None``:
    dask arrays keep their own chunks)."""
    if isinstance(value, xr.DataArray):
        return value
    if not isinstance(value, da.Array):
        value = np.asarray(value)
        if value.dtype == object:
            return value
    if value.ndim == 0:
        raise ZeroDim(f"{name} is 0-d: a bmia_dask image has 1 to 3 spatial axes")
    if value.ndim > MAX_NDIM:
        raise OutOfScope(f"{name} has {value.ndim} axes: bmia_dask's kernels have at most 3 spatial axes")
    if isinstance(value, da.Array):
        arr = value if grid is None else value.rechunk(_chunks(value.shape, grid))
    else:
        arr = da.from_array(value, chunks=_chunks(value.shape, grid or GRIDS["g1"]))
    return bmia_dask.from_array(arr)


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - arrays etc.
        return False


def resolve(name: str):
    """bmia_dask's function for a scipy.ndimage name; never scipy's."""
    if name.startswith("_"):
        raise ScipyInternals(f"scipy.ndimage.{name} is a private helper of scipy")
    if name not in bnd.SCIPY_NAMES:
        raise DaskImageOnly(f"{name} is not a scipy.ndimage name")
    try:
        func = getattr(bnd, name)
    except AttributeError as err:
        raise NotProvided(f"bmia_dask.ndimage.{name}: {err}") from None
    module = getattr(func, "__module__", "") or ""
    if not module.startswith("bmia_dask") and name not in REEXPORTS_ALLOWED:
        raise NotProvided(f"bmia_dask.ndimage.{name} is {module}'s function, not bmia_dask's")
    return func


def _parameters(func):
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return None, True
    return params, any(p.kind is p.VAR_KEYWORD for p in params.values())


DASK_IMAGE_RENAMES = {"image": "input", "label_image": "labels", "input_arr": "input"}


def _call(name: str, grid, args, kwargs, dialect: str = "scipy"):
    """Call bmia_dask's twin of ``scipy.ndimage.<name>``.

    Returns ``(result, output array or None, dask-image's output_chunks or None)``.
    """
    func = resolve(name)
    scipy_sig = inspect.signature(getattr(scipy.ndimage, name))
    params, var_kw = _parameters(func)
    output_chunks = extra = None
    if dialect == "dask_image":  # dask-image's names of scipy's parameters, and its extras
        kwargs = {DASK_IMAGE_RENAMES.get(k, k): v for k, v in kwargs.items()}
        output_chunks = kwargs.pop("output_chunks", None)
        if output_chunks is not None and params is not None and "output_chunks" in params:
            extra, output_chunks = {"output_chunks": output_chunks}, None  # bmia_dask takes it itself
        kwargs.pop("depth", None)  # the overlap dask-image should use: bmia_dask derives its own
        if kwargs.pop("wrap_axes", None) is not None:
            raise DaskImageOnly(f"dask_image.ndmeasure.{name}(wrap_axes=...) has no scipy equivalent")
    bound = scipy_sig.bind(*args, **kwargs)
    if name in NOT_IMAGE_FUNCTIONS:
        return func(*bound.args, **bound.kwargs), None, None
    scipy_params = list(scipy_sig.parameters.values())
    first = scipy_params[0].name
    arguments = {}
    for key, value in bound.arguments.items():
        if scipy_sig.parameters[key].kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(value)  # e.g. gaussian_gradient_magnitude's **kwargs (truncate)
        else:
            arguments[key] = value
    call_kw, out_array = dict(extra or {}), None
    for key, value in arguments.items():
        if key == first:
            continue
        if key in ("distances", "indices") and isinstance(value, np.ndarray):
            raise OutputArrays(f"{name}({key}=array): bmia_dask returns new arrays")
        if key == "output" and isinstance(value, np.ndarray):
            out_array, value = value, value.dtype
            if ("output_shape" in scipy_sig.parameters and arguments.get("output_shape") is None
                    and out_array.ndim):  # scipy's rule: the output array's shape is the output shape
                call_kw["output_shape"] = out_array.shape
        if params is not None and key not in params and not var_kw:
            param = scipy_sig.parameters.get(key)
            if out_array is None and param is not None and _same(value, param.default):
                continue
            raise NotProvided(f"bmia_dask.ndimage.{name} has no parameter {key!r}")
        if key in IMAGE_PARAMETERS and value is not None:
            value = to_image(value, grid, key)
        if key == "output_shape" and value is None and key in call_kw:
            continue  # taken from the output array
        call_kw[key] = value
    image = to_image(arguments.get(first, scipy_params[0].default), grid, first)
    return func(image, **call_kw), out_array, output_chunks


# --------------------------------------------------------------------------- results
def to_numpy(result, optimize: bool = False):
    """bmia_dask's result as scipy's: computed (graphs checked), containers kept."""
    if isinstance(result, xr.DataArray):
        result = result.data
    if isinstance(result, da.Array):
        return compute_checked(result, optimize)
    if dask.is_dask_collection(result):
        check_graph(result)  # layers and dependencies (the key check needs an array: assert_eq)
        return dask.compute(result, scheduler="sync", optimize_graph=optimize)[0]
    if isinstance(result, tuple) and not hasattr(result, "_fields"):
        return tuple(to_numpy(r, optimize) for r in result)
    if isinstance(result, list):
        return [to_numpy(r, optimize) for r in result]
    if isinstance(result, dict):
        return {k: to_numpy(v, optimize) for k, v in result.items()}
    return result


class _OutputShapeError(ValueError, RuntimeError):
    """scipy raises RuntimeError (filters, transforms) or ValueError (label) for an
    output array of the wrong shape; the adapter's output-array protocol raises both."""


def _fill(name, result, out, optimize=False):
    value = to_numpy(result, optimize)
    labels = value[0] if name == "label" else value
    labels = np.asarray(labels)
    if labels.shape != out.shape:  # scipy's error for an output array of the wrong shape
        raise _OutputShapeError("output shape not correct")
    if np.iscomplexobj(labels) and not np.iscomplexobj(out):  # scipy's error, too
        raise RuntimeError("output must have complex dtype")
    if labels.dtype != out.dtype:
        raise AssertionError(f"bmia_dask.ndimage.{name}(output={out.dtype}) returned dtype {labels.dtype}")
    out[...] = labels
    if name == "label":
        return value[1]
    if name == "binary_fill_holes":
        return None
    return out


def scipy_function(name: str, grid):
    scipy_func = getattr(scipy.ndimage, name)
    optimize = grid == GRIDS["g2"]  # g2's results go through dask's optimizations, g1's do not

    @functools.wraps(scipy_func, assigned=("__name__", "__qualname__"))
    def wrapper(*args, **kwargs):
        result, out, _ = _call(name, grid, args, kwargs)
        if out is not None:
            return _fill(name, result, out, optimize)
        return to_numpy(result, optimize)

    wrapper.__module__ = f"bmia_dask.ndimage (through the conformance adapter, grid {grid})"
    wrapper.__doc__ = f"bmia_dask.ndimage.{name}, called as scipy.ndimage.{name}."
    return wrapper


def to_dask(result, name: str):
    """bmia_dask's result as dask-image's: dask arrays (graphs checked, not computed)."""
    if isinstance(result, xr.DataArray):
        result = result.data
    if isinstance(result, da.Array):
        check_graph(result)  # the tests compute it with assert_eq, which checks the rest
        return result
    if name in ("label", "extrema") and isinstance(result, tuple):
        return tuple(to_dask(r, "") for r in result)
    if isinstance(result, (list, tuple)) and any(isinstance(r, (da.Array, xr.DataArray)) for r in result):
        return type(result)(to_dask(r, "") for r in result)
    if dask.is_dask_collection(result):
        return result
    if result is None:  # dask-image returns a lazy None where scipy returns None
        return dask.delayed(None)
    value = np.asarray(result)
    if value.dtype == object and value.ndim:  # per-label arrays (histogram, labeled_comprehension)
        out = np.empty(value.shape, dtype=object)
        out[...] = result if isinstance(result, np.ndarray) else list(result)
        return da.from_array(out, chunks=out.shape)
    if value.dtype == object:
        return result
    return da.from_array(value, chunks=value.shape or ())


def dask_image_function(name: str, grid):
    def wrapper(*args, **kwargs):
        result, out, output_chunks = _call(name, grid, args, kwargs, "dask_image")
        if out is not None:
            return _fill(name, result, out)
        result = to_dask(result, name)
        first = args[0] if args else kwargs.get("image", kwargs.get("input"))
        if output_chunks is not None and isinstance(result, da.Array):
            result = result.rechunk(output_chunks)  # a chunking choice of dask-image's, not a value
        elif (grid is not None and isinstance(first, da.Array) and isinstance(result, da.Array)
              and result.shape == first.shape):
            result = result.rechunk(first.chunks)  # the test's chunks back (the grid was the adapter's)
        return result

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__module__ = f"bmia_dask.ndimage (through the conformance adapter, dask-image, grid {grid})"
    return wrapper


# --------------------------------------------------------------------------- modules
PACKAGE = "_bmia_conformance"


def _package():
    if PACKAGE not in sys.modules:
        pkg = types.ModuleType(PACKAGE, "The conformance adapters (built by tests/conformance/adapter.py).")
        pkg.__path__ = []
        sys.modules[PACKAGE] = pkg
    return sys.modules[PACKAGE]


# attributes that pytest and unittest.mock look up on any object while collecting
# (``_mock_name`` since pytest 9.2): not the tested library's names
_PROBES = ("__", "_pytest", "_fixture", "_mock")


def _namespace(qualname: str, make):
    """A module whose attributes are made on first access by ``make(name)``."""
    if qualname in sys.modules:
        return sys.modules[qualname]
    module = types.ModuleType(qualname)
    cache: dict = {}

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in cache:
            cache[name] = make(name)
        return cache[name]

    module.__getattr__ = __getattr__
    sys.modules[qualname] = module
    parent, _, child = qualname.rpartition(".")
    setattr(sys.modules[parent], child, module)
    return module


class _Private:
    """Stands for a private module of scipy.ndimage or dask-image: using it raises ``error``."""

    def __init__(self, name, error=None):
        self._name = name
        self._error = error or ScipyInternals

    def __getattr__(self, attr):
        if attr.startswith(_PROBES):  # dunders, pytest's probes
            raise AttributeError(attr)
        raise self._error(f"{self._name}.{attr} is a private helper of the tested library")


SCIPY_PRIVATE = {n for n in dir(scipy.ndimage) if n.startswith("_") and not n.startswith("__")}


def scipy_module(grid_name: str):
    """``scipy.ndimage`` in front of bmia_dask, at one chunk grid."""
    _package()
    grid = GRIDS[grid_name]

    def make(name):
        if name in SCIPY_PRIVATE:
            return _Private(f"scipy.ndimage.{name}")
        if name in scipy.ndimage.__all__:
            return scipy_function(name, grid)
        raise AttributeError(f"scipy.ndimage has no public {name!r}")

    return _namespace(f"{PACKAGE}.scipy_{grid_name}", make)


DASK_IMAGE_MODULES = ("ndfilters", "ndfourier", "ndinterp", "ndmeasure", "ndmorph")
DASK_IMAGE_ALIASES = {"gaussian": "gaussian_filter"}  # dask-image's short name of a scipy function


def dask_image_package(grid_name: str):
    """A ``dask_image`` package whose nd* modules call bmia_dask; ``grid_name`` "native"
    keeps the tests' own chunks."""
    _package()
    grid = None if grid_name == "native" else GRIDS[grid_name]
    qual = f"{PACKAGE}.dask_image_{grid_name}"
    if qual not in sys.modules:
        pkg = types.ModuleType(qual)
        pkg.__path__ = []
        sys.modules[qual] = pkg
        setattr(sys.modules[PACKAGE], f"dask_image_{grid_name}", pkg)

        def make(name):
            if name == "_label":  # the tests' helper to compare two labelings
                return types.SimpleNamespace(_unique_axis=lambda a, axis=0: np.unique(a, axis=axis))
            if name.startswith(_PROBES):
                raise AttributeError(name)
            if name.startswith("_"):
                raise DaskImageOnly(f"dask_image private helper {name}")
            return dask_image_function(DASK_IMAGE_ALIASES.get(name, name), grid)

        for mod in DASK_IMAGE_MODULES:
            _namespace(f"{qual}.{mod}", make)
    return sys.modules[qual]


def xp_module():
    """``scipy._lib._array_api`` for the rewritten scipy tests: everything real, except
    the helpers that read scipy's capability table by function object (our wrappers
    are not in it); with numpy the only backend, their marks would be no-ops anyway."""
    import pytest
    import scipy._lib._array_api as real

    qual = f"{PACKAGE}.xp"
    if qual in sys.modules:
        return sys.modules[qual]
    _package()
    module = types.ModuleType(qual)
    module.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})

    def make_xp_pytest_marks(*funcs, capabilities_table=None):
        return []

    def make_xp_test_case(*funcs, capabilities_table=None):
        return lambda func: func

    def make_xp_pytest_param(func, *args, capabilities_table=None):
        return pytest.param(func, *args, id=func.__name__)

    module.make_xp_pytest_marks = make_xp_pytest_marks
    module.make_xp_test_case = make_xp_test_case
    module.make_xp_pytest_param = make_xp_pytest_param
    sys.modules[qual] = module
    sys.modules[PACKAGE].xp = module
    return module
