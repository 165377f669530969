"""The machinery under the chunked operations: margins, slab-by-slab computation, fresh copies."""

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


def test_margins_of_a_single_chunk_or_no_depth_are_a_plain_map():
    # no unused dependency: dask's own graph validation passes (assert_eq checks the graph)
    volume = np.random.default_rng(1).random((10, 12))
    for chunks in [(10, 12), (5, 12), (3, 4)]:
        for sigma in [0, 1, 2]:
            image = bd.from_array(volume, chunks=chunks)
            da.utils.assert_eq(bd.filters.gaussian_filter(image, sigma).data, ndi.gaussian_filter(volume, sigma))


def _logging_blocks(n, log, lock, *, layers=1):
    """An array of ``layers x n`` chunks whose reads and per-chunk results are logged."""
    def read(block_info=None):
        k = block_info[None]["chunk-location"]
        with lock:
            log.append(("read", k))
        return np.full((1, 1), k[1])

    def result(block, block_info=None):
        k = block_info[0]["chunk-location"]
        time.sleep(0.01)  # time for other threads to start reads, were they free to
        with lock:
            log.append(("done", k))
        return block

    data = da.map_blocks(read, chunks=((1,) * layers, (1,) * n), dtype=int, meta=np.array((), dtype=int).reshape(0, 0))
    return data.map_blocks(result, dtype=int)


def test_compute_blocks_computes_slab_by_slab_in_c_order(monkeypatch):
    monkeypatch.setattr(_chunked, "threads", lambda: 1)  # slabs of 4 blocks
    log, lock = [], threading.Lock()
    results = _chunked.compute_blocks(_logging_blocks(6, log, lock, layers=2))
    assert [int(r[0, 0]) for r in results] == list(range(6)) * 2
    # slabs of at least 4 blocks that end with a layer: here one layer each; a block of
    # the second layer is read only once every block of the first is done
    for position, (kind, k) in enumerate(log):
        if kind == "read" and k[0] == 1:
            assert all(("done", (0, j)) in log[:position] for j in range(6)), log


def test_one_compute_would_run_ahead():
    # the check above can fail: in one computation dask reads ahead of the results
    log, lock = [], threading.Lock()
    dask.compute(_logging_blocks(6, log, lock, layers=2), scheduler="threads", num_workers=4)
    first_done = next(i for i, (kind, _) in enumerate(log) if kind == "done")
    assert sum(kind == "read" for kind, _ in log[:first_done]) > 2


def test_small_results_are_computed_once_before_the_blocks(monkeypatch):
    calls = []

    def merge(parts):
        calls.append(len(parts))
        return sum(int(p.sum()) for p in parts)

    data = da.ones((8, 8), chunks=2)
    key = _chunked.once_name("total-" + data.name)
    total = dask.delayed(merge)(list(data.to_delayed().ravel()), dask_key_name=key)
    blocks = data.map_blocks(lambda block, total: block * total, total, dtype=float)
    results = _chunked.compute_blocks(blocks)
    assert calls == [16]  # once, not once per slab
    assert all((r == 64).all() for r in results)


def test_alongside_blocks_are_computed_with_their_slab():
    log, lock = [], threading.Lock()
    blocks = _logging_blocks(4, log, lock, layers=3)
    extra = blocks[::2].map_blocks(lambda b: b * 0, dtype=int)
    assert len(_chunked.compute_blocks(blocks, alongside=[extra])) == 12
    assert sum(kind == "done" for kind, _ in log) >= 12


def test_threads_counts_a_clusters_workers():
    assert _chunked.threads() >= 1
    with bd.cluster(n_workers=2, threads_per_worker=1, echo=None):
        assert _chunked.threads() == 2
