"""bd.ejection_fraction against the analytic truth of cine phantoms, its errors, CLI and cluster runs."""

import json

import numpy as np
import pytest

import bmia_dask as bd
from bmia_dask.cli import main

# (ef, orientation in degrees, snr, slice thickness mm, coil bias): the range the docs' table covers
CASES = [
    (0.25, (0, 0, 0), 20, 8.0, 0.3),
    (0.45, (20, -30, 15), 12, 10.0, 0.4),
    (0.60, (-35, 10, 60), 30, 6.0, 0.2),
    (0.70, (10, 40, -20), 20, 8.0, 0.0),
]


def write(folder, ef=0.6, direction=(0, 0, 0), snr=25, thickness=8.0, bias=0.3, n_frames=10, seed=0):
    n_slices = int(np.ceil(100 / thickness))
    return bd.phantoms.write_cine(folder, n_frames=n_frames, ef=ef, direction=bd.phantoms.rotation(*direction),
                                  snr=snr, bias=bias, spacing=(thickness, 2.2, 2.2), shape=(n_slices, 64, 64),
                                  edv_ml=120, seed=seed)


@pytest.fixture(scope="module")
def cine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cine_ef")
    return str(folder), write(folder)


@pytest.mark.parametrize("ef, direction, snr, thickness, bias", CASES)
def test_against_the_analytic_truth(tmp_path, ef, direction, snr, thickness, bias):
    truth = write(tmp_path, ef, direction, snr, thickness, bias, seed=int(ef * 100))
    result = bd.ejection_fraction(str(tmp_path))
    assert abs(result.ef - truth["ef"]) <= 0.03
    assert result.edv_ml == pytest.approx(truth["edv_ml"], rel=0.05)
    assert result.esv_ml == pytest.approx(truth["esv_ml"], rel=0.05)
    assert (result.ed_index, result.es_index) == (truth["ed_index"], truth["es_index"])
    np.testing.assert_allclose(result.volumes_ml.values, truth["volumes_ml"], rtol=0.06)
    np.testing.assert_allclose(result.volumes_ml.index, truth["times_ms"])
    assert result.category == bd.cardiac.category(result.ef)


def test_mask_is_the_lv_and_lazy(cine):
    folder, truth = cine
    result = bd.ejection_fraction(folder)
    assert result.mask.dims == ("t", "z", "y", "x") and result.mask.chunks is not None
    mask = result.mask.isel(t=result.ed_index).values
    # the LV holds the truth's centre and never reaches the RV (to its +x side)
    centre = np.round(truth["lv_centre_index"]).astype(int)
    assert mask[tuple(centre)]
    assert not mask[:, :, centre[2] + 22 :].any()
    voxel_ml = np.prod(truth["spacing"]) / 1000
    assert mask.sum() * voxel_ml == pytest.approx(result.mask_volumes_ml.iloc[result.ed_index])


def test_store_and_seed_give_the_same_answer(cine, tmp_path):
    folder, _ = cine
    from_folder = bd.ejection_fraction(folder)
    [url] = bd.convert(folder, str(tmp_path))
    from_store = bd.ejection_fraction(url, seed_mm=from_folder.seed_mm)
    assert from_store.ef == pytest.approx(from_folder.ef)
    np.testing.assert_allclose(from_store.volumes_ml, from_folder.volumes_ml)


def test_frames_run_on_a_cluster_of_processes(cine):
    from distributed import Client, LocalCluster

    folder, _ = cine
    local = bd.ejection_fraction(folder)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster):
            remote = bd.ejection_fraction(folder)
    np.testing.assert_allclose(remote.volumes_ml, local.volumes_ml)


def test_not_a_cine(ct_folder):
    with pytest.raises(bd.BadInputError, match="not a cine series"):
        bd.ejection_fraction(ct_folder[0])


def test_one_frame(cine):
    image = bd.read_dicom(cine[0]).isel(t=[0])
    with pytest.raises(bd.BadInputError, match="only one frame"):
        bd.ejection_fraction(image)


def test_no_lv_at_the_seed(cine):
    image = bd.read_dicom(cine[0])
    corner = [float(image[d].values[i]) for d, i in (("z", 0), ("y", 0), ("x", 0))]  # lung, below the apex
    with pytest.raises(bd.BadInputError, match="no left ventricle found at the seed"):
        bd.ejection_fraction(image, seed_mm=corner)
    with pytest.raises(bd.BadInputError, match="outside the image"):
        bd.ejection_fraction(image, seed_mm=(1e4, 0, 0))


def test_no_bright_object_to_seed_from(cine):
    flat = bd.read_dicom(cine[0]) * 0 + 100
    with pytest.raises(bd.BadInputError, match="no round bright object"):
        bd.ejection_fraction(flat)


def test_cli_json_and_figures(cine, tmp_path, capsys):
    folder, truth = cine
    out = tmp_path / "ef"
    assert main(["ef", folder, "--out", str(out), "--json", "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"ef", "edv_ml", "esv_ml", "ed_index", "es_index", "volumes_ml"} <= set(report)
    assert abs(report["ef"] - truth["ef"]) <= 0.03
    for name in ("volume_curve.png", "ed_es_slices.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "ef.json").read_text())["ef"] == report["ef"]
    assert sorted(p.name for p in out.iterdir()) == ["ed_es_slices.png", "ef.json", "volume_curve.png", "volumes.csv"]


def test_cli_errors_are_one_line(ct_folder, capsys):
    assert main(["ef", ct_folder[0], "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"bmia: error: {ct_folder[0]}: not a cine series")


def test_cli_phantom_writes_its_truth(tmp_path, capsys):
    assert main(["phantom", "cine", str(tmp_path / "c"), "--frames", "4", "--ef", "0.4", "--oblique", "10", "0", "0",
                 "--json", "-q"]) == 0
    truth = json.loads((tmp_path / "c" / "truth.json").read_text())
    assert truth["ef"] == pytest.approx(0.4) and len(truth["volumes_ml"]) == 4
    assert bd.scan_dicom(str(tmp_path / "c")).attrs["skipped"] == {}
