"""bd.cluster: a real LocalCluster of worker processes, or a scheduler address."""

import numpy as np
import pytest

import bmia_dask as bd


def test_local_cluster_runs_operations_and_says_where_the_dashboard_is():
    said = []
    with bd.cluster(n_workers=2, threads_per_worker=1, echo=said.append) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        image = bd.from_array(np.random.default_rng(0).random((20, 30, 30)) > 0.7, chunks=10)
        labels, n = bd.label(image)
        assert int(n) == len(bd.regionprops_table(labels))
        address = client.scheduler.address
        with bd.cluster(address, echo=None) as second:  # joining a running scheduler
            assert second.scheduler.address == address
    assert said and said[0].startswith("dask dashboard: http")


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(bd.BadInputError, match="cannot reach the dask scheduler"):
        bd.cluster("tcp://127.0.0.1:1", timeout="1s", echo=None)
