"""bd.cohort: measure on a cluster against the phantoms' known volumes; compare against scipy.stats."""

import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats

import bmia_dask as bd
from bmia_dask.cli import main


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort")
    return bd.phantoms.write_cohort(folder, n=40)


@pytest.fixture(scope="module")
def table(cohort):
    return bd.cohort.measure(cohort["manifest"])


def test_volumes_equal_the_truth(cohort, table):
    truth = cohort["truth"].set_index("id")
    wide = bd.cohort.wide(table).set_index("id")
    np.testing.assert_allclose(wide.loc[truth.index, "volume_mm3_label1"], truth["brain_mm3"])
    np.testing.assert_allclose(wide.loc[truth.index, "volume_mm3_label2"], truth["skull_mm3"])
    manifest = pd.read_csv(cohort["manifest"]).set_index("id")
    assert (wide.loc[manifest.index, "group"] == manifest["group"]).all()  # covariates carried over
    assert set(table.columns) >= {"id", "label", "n_voxels", "volume_mm3", "mean", "variance", "age", "sex", "error"}
    assert (table["error"] == "").all()


def test_runs_on_a_cluster_of_processes(cohort, table, tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            remote = bd.cohort.measure(cohort["manifest"], client, out=str(tmp_path / "table.csv"))
    pd.testing.assert_frame_equal(remote, table)
    written = pd.read_csv(tmp_path / "table.csv")
    pd.testing.assert_frame_equal(written.drop(columns="error"), table.drop(columns="error"), check_dtype=False)
    assert written.error.isna().all()  # an empty cell: no error


def test_compare_equals_scipy_and_teaches_the_lesson(table):
    wide = bd.cohort.wide(table)
    ad, cn = (wide[wide.group == g] for g in ("AD", "CN"))
    raw = bd.cohort.compare(table, "volume_mm3_label1", "group")
    expected = scipy.stats.ttest_ind(ad.volume_mm3_label1, cn.volume_mm3_label1)
    assert raw.t == pytest.approx(expected.statistic) and raw.p == pytest.approx(expected.pvalue)
    assert raw.n == {"AD": 20, "CN": 20}
    assert raw.mean["AD"] == pytest.approx(ad.volume_mm3_label1.mean())
    normalised = bd.cohort.compare(table, "volume_mm3_label1", "group", normalize_by="volume_mm3_label2")
    ratio = lambda rows: rows.volume_mm3_label1 / rows.volume_mm3_label2  # noqa: E731
    expected = scipy.stats.ttest_ind(ratio(ad), ratio(cn))
    assert normalised.t == pytest.approx(expected.statistic) and normalised.p == pytest.approx(expected.pvalue)
    # raw brain volumes hardly differ (AD's larger heads hide the atrophy); normalised ones clearly do
    assert raw.p > 0.05 and normalised.p < 1e-6
    welch = bd.cohort.compare(table, "volume_mm3_label1", "sex", equal_var=False)
    men, women = wide[wide.sex == "M"], wide[wide.sex == "F"]
    assert welch.t == pytest.approx(scipy.stats.ttest_ind(women.volume_mm3_label1, men.volume_mm3_label1,
                                                          equal_var=False).statistic)
    assert normalised.correlations.loc["volume_mm3_label1", "volume_mm3_label2"] > 0.5
    figure = normalised.plot()
    assert len(figure.axes) == 2


def test_failures_are_recorded_and_a_rerun_resumes(cohort, tmp_path):
    manifest = pd.read_csv(cohort["manifest"]).head(6)
    manifest.loc[2, "image"] = str(tmp_path / "missing.ome.zarr")
    out = str(tmp_path / "table.csv")
    first = bd.cohort.measure(manifest, out=out)
    failed = first[first.error != ""]
    assert failed.id.tolist() == [manifest.id[2]] and "not found" in failed.error.iloc[0]
    assert set(first.id) == set(manifest.id)
    # fix the subject: only it is measured again
    manifest.loc[2, "image"] = pd.read_csv(cohort["manifest"]).image[2]
    measured = []
    original = bd.cohort._measure_subject
    try:
        bd.cohort._measure_subject = lambda s: measured.append(s["id"]) or original(s)
        second = bd.cohort.measure(manifest, out=out)
    finally:
        bd.cohort._measure_subject = original
    assert measured == [manifest.id[2]]
    assert (second.error == "").all() and len(second) == 12


def test_without_labels_nonzero_voxels_are_label_1(cohort):
    manifest = pd.read_csv(cohort["manifest"]).head(2).drop(columns="labels")
    table = bd.cohort.measure(manifest)
    truth = cohort["truth"].set_index("id")
    assert table.label.tolist() == [1, 1]
    # the head: brain, skull and the CSF between them
    head = table.set_index("id").volume_mm3
    assert (head > (truth.brain_mm3 + truth.skull_mm3).loc[head.index]).all()


@pytest.mark.parametrize("problem, match", [
    (lambda m: m.drop(columns="image"), "no column 'image'"),
    (lambda m: pd.concat([m, m.head(1)]), "appears twice"),
])
def test_bad_manifests(cohort, problem, match):
    with pytest.raises(bd.BadInputError, match=match):
        bd.cohort.measure(problem(pd.read_csv(cohort["manifest"])))


@pytest.mark.parametrize("kwargs, match", [
    ({"measure": "nope", "group": "group"}, "no column 'nope'"),
    ({"measure": "volume_mm3_label1", "group": "age"}, "exactly two groups, found"),
    ({"measure": "sex", "group": "group"}, "'sex' is not numeric"),
])
def test_bad_comparisons(table, kwargs, match):
    with pytest.raises(bd.BadInputError, match=match):
        bd.cohort.compare(table, **kwargs)


def test_cli(cohort, tmp_path, capsys):
    out = str(tmp_path / "table.csv")
    assert main(["cohort", "measure", cohort["manifest"], "--out", out, "-q"]) == 0
    capsys.readouterr()
    assert main(["cohort", "compare", out, "--measure", "volume_mm3_label1", "--group", "group",
                 "--normalize-by", "volume_mm3_label2", "--json", "--out", str(tmp_path / "cmp.png")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"t", "p", "n", "mean", "effect_size"} <= set(report) and report["n"] == {"AD": 20, "CN": 20}
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["cohort", "compare", out, "--measure", "volume_mm3_label1", "--group", "age", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "column 'age' must hold exactly two groups" in err[0]


def test_cli_phantom_and_missing_manifest(tmp_path, capsys):
    assert main(["phantom", "cohort", str(tmp_path / "c"), "--n", "3", "-q"]) == 0
    assert len(pd.read_csv(tmp_path / "c" / "manifest.csv")) == 3
    assert main(["cohort", "measure", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "t.csv"), "-q"]) == 2
    assert "nope.csv: not found" in capsys.readouterr().err
