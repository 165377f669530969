"""Where the foreign test files come from, and how they are pointed at the adapter.

* scipy: ``scipy/ndimage/tests/test_*.py`` of the installed scipy (read, never copied
  into this repository);
* dask-image: the tests of its source distribution, ``pip download``-ed once into
  the cache (``~/.cache/bmia_dask/conformance``, or ``$BMIA_CONFORMANCE_CACHE``).

Each file is copied, at test time, into the cache with its imports of
``scipy.ndimage`` / ``dask_image.nd*`` rewritten to the adapter modules of one
chunk grid (the expected side, plain ``scipy.ndimage`` in dask-image's tests, is
left alone).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

DASK_IMAGE_PINNED = "2026.5.0"  # used when dask-image is not installed
DASK_IMAGE_DIRS = ("test_ndfilters", "test_ndfourier", "test_ndinterp", "test_ndmeasure", "test_ndmorph")


def cache_dir() -> Path:
    root = os.environ.get("BMIA_CONFORMANCE_CACHE") or Path.home() / ".cache" / "bmia_dask" / "conformance"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- scipy
def scipy_version() -> str:
    import scipy

    return scipy.__version__


def scipy_tests_folder() -> Path:
    import scipy.ndimage

    return Path(scipy.ndimage.__file__).parent / "tests"


def scipy_test_files() -> list[tuple[str, str]]:
    """``(name, source text)`` of scipy.ndimage's test files."""
    return [(p.name, p.read_text()) for p in sorted(scipy_tests_folder().glob("test_*.py"))]


HYPOTHESIS = "@_bmia_hypothesis_settings(max_examples=8, deadline=None, derandomize=True, database=None)\n"


def rewrite_scipy(text: str, grid: str) -> str:
    adapter = f"from _bmia_conformance import scipy_{grid} as ndimage"
    text = re.sub(r"^from scipy import ndimage\s*$", adapter, text, flags=re.M)
    text = re.sub(r"^import scipy\.ndimage as ndimage\s*$", adapter, text, flags=re.M)
    text = re.sub(r"^from scipy\._lib\._array_api import", "from _bmia_conformance.xp import", text, flags=re.M)
    text = re.sub(r"^from \. import", "from scipy.ndimage.tests import", text, flags=re.M)
    text = re.sub(r"^@given\(", HYPOTHESIS + "@given(", text, flags=re.M)
    if re.search(r"^\s*(from scipy import ndimage|import scipy\.ndimage)\b", text, flags=re.M):
        raise RuntimeError("a scipy.ndimage import was left unrewritten")
    return _header("scipy " + scipy_version(), grid, text) + text


# --------------------------------------------------------------------------- dask-image
def dask_image_version() -> str:
    try:
        return metadata.version("dask-image")
    except metadata.PackageNotFoundError:
        return DASK_IMAGE_PINNED


class Unavailable(Exception):
    """The dask-image source distribution could not be obtained (the reason)."""


def dask_image_sdist() -> Path:
    """The dask-image sdist in the cache, downloaded (once) with pip."""
    version = dask_image_version()
    folder = cache_dir()
    found = sorted(folder.glob(f"dask_image-{version}.tar.gz")) + sorted(folder.glob(f"dask-image-{version}.tar.gz"))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "-q", f"dask-image=={version}", "-d", str(folder)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise Unavailable(f"pip download dask-image=={version} failed: {err}") from None
    found = sorted(folder.glob(f"dask_image-{version}.tar.gz")) + sorted(folder.glob(f"dask-image-{version}.tar.gz"))
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"pip download dask-image=={version} failed: {last}")
    return found[0]


def dask_image_test_files() -> list[tuple[str, str]]:
    """``(relative name, source text)`` of dask-image's nd* test files."""
    sdist = dask_image_sdist()
    files = []
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if (member.isfile() and len(parts) == 5 and parts[1:3] == ["tests", "test_dask_image"]
                    and parts[3] in DASK_IMAGE_DIRS and parts[4].startswith("test") and parts[4].endswith(".py")):
                files.append((f"{parts[3]}/{parts[4]}", tar.extractfile(member).read().decode()))
    if not files:
        raise Unavailable(f"no tests found in {sdist.name}")
    return sorted(files)


def rewrite_dask_image(text: str, grid: str) -> str:
    pkg = f"_bmia_conformance.dask_image_{grid}"

    def plain(m):  # import dask_image.ndfilters [as name]
        indent, module, alias = m.group(1), m.group(2), m.group(4)
        if alias:
            return f"{indent}from {pkg} import {module} as {alias}"
        return f"{indent}from _bmia_conformance import dask_image_{grid} as dask_image"

    text = re.sub(r"^(\s*)import dask_image\.(\w+)(\s+as\s+(\w+))?", plain, text, flags=re.M)
    text = re.sub(r"^(\s*)from dask_image\.(\w+) import", rf"\1from {pkg}.\2 import", text, flags=re.M)
    text = re.sub(r"^@given\(", HYPOTHESIS + "@given(", text, flags=re.M)
    if re.search(r"^\s*(import|from) dask_image\b", text, flags=re.M):
        raise RuntimeError("a dask_image import was left unrewritten")
    return _header("dask-image " + dask_image_version(), grid, text) + text


# --------------------------------------------------------------------------- copies
def _header(source: str, grid: str, text: str) -> str:
    head = (f"# {source}'s test file, run against bmia_dask at grid {grid!r} by tests/conformance.\n"
            "# Generated at test time; do not edit.\n")
    if HYPOTHESIS in text:
        head += "from hypothesis import settings as _bmia_hypothesis_settings  # noqa: E402\n"
    return head


def write_copy(suite: str, grid: str, name: str, text: str) -> Path:
    """Write a rewritten test file into the cache (content-addressed, so reruns reuse it).

    scipy's data files (``data/``, ``dots.png``) are linked beside the copy, where the
    tests look for them (``os.path.dirname(__file__)``).
    """
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    path = cache_dir() / "rewritten" / suite / grid / digest / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text)
        tmp.replace(path)
    if suite == "scipy":
        for item in scipy_tests_folder().iterdir():
            link = path.parent / item.name
            if item.suffix != ".py" and item.name != "__pycache__" and not link.exists():
                try:
                    link.symlink_to(item)
                except FileExistsError:
                    pass
    return path
