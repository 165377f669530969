"""A cohort measured subject by subject on a local dask cluster, then compared by group.

    python examples/cohort_local_cluster.py [MANIFEST]
    python examples/cohort_local_cluster.py            # a 24-subject phantom cohort

The manifest is a CSV with ``id``, ``image`` (store URL), optional ``labels``
(store URL) and any covariates (``group``, ``sex``, ``age`` ...). To use a
running cluster instead, pass its address: ``bd.cluster("tcp://scheduler:8786")``.
"""

import sys

import bmia_dask as bd

if __name__ == "__main__":  # worker processes import this file: start the cluster only here
    if len(sys.argv) > 1:
        manifest = sys.argv[1]
    else:
        manifest = bd.phantoms.write_cohort("example-cohort", n=24)["manifest"]
    with bd.cluster(n_workers=2, threads_per_worker=1) as client:  # prints the dashboard link
        table = bd.cohort.measure(manifest, client, out="example-cohort-table.csv", progress=True)
    print(bd.cohort.wide(table).head().to_string(index=False))
    raw = bd.cohort.compare(table, "volume_mm3_label1", "group")
    normalised = bd.cohort.compare(table, "volume_mm3_label1", "group", normalize_by="volume_mm3_label2")
    print(f"brain volume, AD vs CN:           t = {raw.t:6.2f}, p = {raw.p:.3g}")
    print(f"brain / skull volume, AD vs CN:   t = {normalised.t:6.2f}, p = {normalised.p:.3g}")
    normalised.plot(path="example-cohort.png")
