"""Progress bars for long dask computations (opt-in in the API, on in the CLI)."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def progress_bar(label: str = "", *, enabled: bool = True):
    """Show a tqdm bar over the tasks of every dask computation inside the block.

    Works with the local schedulers (threads, processes, synchronous); on a
    dask.distributed cluster the dashboard shows progress instead.

    Examples
    --------
    >>> import dask.array as da
    >>> with progress_bar("sum", enabled=False):
    ...     int(da.ones(10, chunks=5).sum().compute())
    10
    """
    if not enabled:
        yield
        return
    from tqdm.dask import TqdmCallback

    with TqdmCallback(desc=label or None, unit="task", file=sys.stderr, leave=False):
        yield
