"""Local paths and fsspec URLs alike: listing, opening and atomic publishing.

A store is written under a temporary sibling name and published under its
final name only when complete. Locally that is one ``rename``; on object
storage (no rename) every object is copied first and the root ``zarr.json``
last, so a reader never sees a group whose arrays are missing.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import uuid

import fsspec

from ..errors import BadInputError

ROOT_METADATA = "zarr.json"


def url_to_fs(url: str):
    """``(filesystem, path)`` for a local path or any fsspec URL."""
    try:
        return fsspec.core.url_to_fs(str(url), **storage_options(url))
    except (ImportError, ValueError) as error:
        raise BadInputError(url, f"unsupported URL: {error}") from None


def storage_options(url) -> dict:
    """fsspec options for ``url``: S3 endpoints come from ``AWS_ENDPOINT_URL``."""
    url = str(url)
    if url.startswith(("s3://", "s3a://")):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            return {"client_kwargs": {"endpoint_url": endpoint}}
    return {}


def is_local(fs) -> bool:
    return "file" in _protocols(fs)


def _protocols(fs) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def full_url(fs, path: str) -> str:
    """The URL of ``path`` on ``fs`` (a plain path for local files)."""
    return path if is_local(fs) else fs.unstrip_protocol(path)


def join(url: str, *names: str) -> str:
    return posixpath.join(str(url).rstrip("/"), *names)


def exists(url: str) -> bool:
    fs, path = url_to_fs(url)
    return _call(url, fs.exists, path)


def _call(url, func, *args, **kwargs):
    """Run a filesystem call, turning unreachable storage into BadInputError."""
    try:
        return func(*args, **kwargs)
    except BadInputError:
        raise
    except FileNotFoundError:
        raise BadInputError(url, "not found") from None
    except PermissionError:
        raise BadInputError(url, "permission denied") from None
    except Exception as error:  # botocore, aiohttp, ... each have their own
        if isinstance(error, (KeyboardInterrupt, MemoryError)):
            raise
        raise BadInputError(url, f"cannot reach: {type(error).__name__}: {error}") from None


def find_files(url: str) -> list[str]:
    """Every file below ``url`` (or ``url`` itself if it is a file), sorted.

    Raises BadInputError if ``url`` does not exist or cannot be reached.
    """
    fs, path = url_to_fs(url)
    if not _call(url, fs.exists, path):
        raise BadInputError(url, "not found")
    if _call(url, fs.isfile, path):
        return [full_url(fs, path)]
    files = _call(url, fs.find, path)
    return [full_url(fs, f) for f in sorted(files)]


@contextlib.contextmanager
def atomic_output(url: str, *, overwrite: bool = False):
    """Yield a temporary URL to write a store to; publish it as ``url`` on success.

    On any error the temporary output is removed and nothing appears at
    ``url``. An existing ``url`` is refused unless ``overwrite``.
    """
    fs, path = url_to_fs(url)
    path = path.rstrip("/")
    if _call(url, fs.exists, path) and not overwrite:
        raise BadInputError(url, "already exists (pass overwrite=True, or --overwrite)")
    parent, name = posixpath.split(path)
    tmp_path = posixpath.join(parent, f".{name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        yield full_url(fs, tmp_path)
        _publish(fs, tmp_path, path, url)
    finally:
        with contextlib.suppress(FileNotFoundError):
            if fs.exists(tmp_path):
                fs.rm(tmp_path, recursive=True)


def _publish(fs, tmp_path: str, path: str, url: str) -> None:
    if fs.exists(path):
        fs.rm(path, recursive=True)
    if is_local(fs):
        os.replace(tmp_path, path)
        return
    files = sorted(fs.find(tmp_path))
    root = posixpath.join(tmp_path, ROOT_METADATA)
    for src in [f for f in files if f != root] + [f for f in files if f == root]:
        fs.copy(src, path + src[len(tmp_path):])


def write_bytes(url: str, data: bytes) -> str:
    """Write one file (a report, a figure) atomically, replacing an older one; returns ``url``."""
    fs, path = url_to_fs(url)
    parent = posixpath.dirname(path.rstrip("/"))
    if parent and is_local(fs):
        _call(url, fs.makedirs, parent, exist_ok=True)
    with atomic_output(url, overwrite=True) as tmp:
        _call(url, fs.pipe_file, url_to_fs(tmp)[1], data)
    return url
