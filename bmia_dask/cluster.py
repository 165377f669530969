"""Start or join a dask.distributed cluster, and say where its dashboard is."""

from __future__ import annotations

__all__ = ["cluster"]


def cluster(address: str | None = None, *, n_workers: int | None = None, threads_per_worker: int | None = None,
            memory_limit="auto", processes: bool = True, timeout: str = "10s", echo=print):
    """A ``distributed.Client``: connected to ``address``, or to a new LocalCluster.

    Every bmia_dask computation started while the client is active (the
    default after this call, or inside ``with bd.cluster():``) runs on it.

    Parameters
    ----------
    address : str, optional
        A running scheduler (``tcp://host:8786``). Default: start a LocalCluster
        of worker processes on this machine.
    n_workers, threads_per_worker, memory_limit, processes
        For the LocalCluster (defaults: dask's, from the cores and memory).
    timeout : str
        How long to try reaching ``address``.
    echo : callable or None
        Where to say the dashboard's address (``None``: silent).

    Examples
    --------
    >>> import bmia_dask as bd
    >>> with bd.cluster(n_workers=1, threads_per_worker=1, processes=False, echo=None) as client:
    ...     len(client.scheduler_info()["workers"])
    1
    """
    from distributed import Client

    from .errors import BadInputError

    if address is not None:
        try:
            client = Client(address, timeout=timeout)
        except OSError as error:
            raise BadInputError(address, f"cannot reach the dask scheduler ({error})") from None
    else:
        # a Client given no address starts a LocalCluster it owns (and closes with itself)
        client = Client(n_workers=n_workers, threads_per_worker=threads_per_worker, memory_limit=memory_limit,
                        processes=processes, dashboard_address=":0")
    if echo is not None:
        echo(f"dask dashboard: {client.dashboard_link}")
    return client
