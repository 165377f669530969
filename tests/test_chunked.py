"""The machinery under the chunked operations: margins, the sweep, fresh copies."""

import threading
import time

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi

import bmia_dask as bd
from bmia_dask import _chunked


@pytest.mark.parametrize("shape, chunks, size", [
    ((23, 4), ((5, 5, 5, 5, 3), 4), (7, 1)),        # margins as deep as the chunks
    ((17, 19), ((6, 6, 5), (4, 8, 7)), (5, 3)),     # a 2D grid, uneven chunks
    ((12, 13, 14), (4, 5, 6), (3, 5, 1)),           # no margin along the last axis
    ((3, 10, 11), (1, 4, 5), (3, 3)),               # t, y, x: frame by frame
])
def test_margins_give_scipy_answer(shape, chunks, size):
    volume = np.random.default_rng(0).random(shape)
    dims = ("t", "y", "x") if len(shape) == 3 and shape[0] == 3 else None
    image = bd.from_array(volume, chunks=chunks, dims=dims)
    depth = [s // 2 for s in np.broadcast_to(size, (len(shape) - (dims is not None),))]  # spatial axes
    out = _chunked.overlap_apply(image, ndi.uniform_filter, depth, size=size).values
    expected = ndi.uniform_filter(volume, size=size) if dims is None else \
        np.stack([ndi.uniform_filter(frame, size=size) for frame in volume])
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_margins_are_read_again_only_when_reading_is_cheap():
    image = bd.from_array(np.arange(64.0).reshape(4, 4, 4), chunks=2)
    assert _chunked._read_only(image.data) and _chunked._read_only((image > 3).data)
    smooth = bd.filters.gaussian_filter(image, 1)
    assert not _chunked._read_only(smooth.data)
    names = {key[0] for key in dict(bd.filters.gaussian_filter(smooth, 1).data.dask) if isinstance(key, tuple)}
    # the margins of a computed input come from its own chunks (one copy of the inner filter)
    assert len([n for n in names if n.startswith("overlap-")]) == 2


def _logging_blocks(n, log, lock):
    """A 1D array of n chunks whose reads and per-chunk results are logged."""
    def read(block_info=None):
        k = block_info[None]["chunk-location"][0]
        with lock:
            log.append(("read", k))
        return np.full(1, k)

    def result(block, block_info=None):
        k = block_info[0]["chunk-location"][0]
        time.sleep(0.02)  # time for other threads to start reads, were they free to
        with lock:
            log.append(("done", k))
        return block

    data = da.map_blocks(read, chunks=((1,) * n,), dtype=int, meta=np.array((), dtype=int))
    return data.map_blocks(result, dtype=int).to_delayed()


@pytest.mark.parametrize("ahead", [1, 3])
def test_sweep_reads_a_block_only_once_the_block_ahead_places_before_is_done(ahead):
    log, lock = [], threading.Lock()
    gathered = _chunked.collect_in_sweep(_logging_blocks(12, log, lock), ahead=ahead)
    results = dask.compute(gathered, scheduler="threads", num_workers=4)[0]
    assert [int(r[0]) for r in results] == list(range(12))
    for position, (kind, k) in enumerate(log):
        if kind == "read" and k >= ahead:
            assert ("done", k - ahead) in log[:position], log


def test_sweep_without_gates_would_run_ahead():
    # the check above can fail: with no gate (ahead larger than the volume) reads run ahead
    log, lock = [], threading.Lock()
    gathered = _chunked.collect_in_sweep(_logging_blocks(12, log, lock), ahead=100)
    dask.compute(gathered, scheduler="threads", num_workers=4)
    first_done = log.index(("done", 0))
    assert sum(kind == "read" for kind, _ in log[:first_done]) > 2


def test_sweep_computes_what_goes_alongside():
    log, lock = [], threading.Lock()
    blocks = _logging_blocks(4, log, lock)
    extra = dask.delayed(lambda: log.append(("extra", 0)))()
    assert len(dask.compute(_chunked.collect_in_sweep(blocks, alongside=[extra], ahead=1))[0]) == 4
    assert ("extra", 0) in log


def _with_task_objects(data):
    """``data + 1`` through a layer of dask ``Task`` objects, which dask's clone does not rename."""
    from dask._task_spec import Task, TaskRef
    from dask.highlevelgraph import HighLevelGraph

    name = "plus-one-" + data.name
    tasks = {(name, *i): Task((name, *i), np.add, TaskRef((data.name, *i)), 1) for i in np.ndindex(data.numblocks)}
    return da.Array(HighLevelGraph.from_collections(name, tasks, dependencies=[data]), name, chunks=data.chunks,
                    dtype=data.dtype)


@pytest.mark.parametrize("after", [False, True])
def test_fresh_copy_shares_no_task_with_the_original(after):
    data = _with_task_objects(da.arange(12, chunks=4) * 2)
    gate = dask.delayed(sum)([1, 2]) if after else None
    copy = _chunked.fresh_copy(data, after=gate)
    original_tasks = {k for k, v in dict(data.dask).items() if not isinstance(v, np.ndarray)}
    graph = dict(copy.__dask_optimize__(copy.dask, copy.__dask_keys__()))
    assert not (original_tasks & graph.keys() - (set(gate.dask) if after else set()))
    np.testing.assert_array_equal(copy.compute(), np.arange(12) * 2 + 1)


def test_threads_counts_a_clusters_workers():
    assert _chunked.threads() >= 1
    with bd.cluster(n_workers=2, threads_per_worker=1, echo=None):
        assert _chunked.threads() == 2
