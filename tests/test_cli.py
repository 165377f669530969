"""The bmia command: exit codes, one-line errors, no tracebacks, JSON output."""

import json
import os
import shutil
import subprocess
import sys

import pydicom
import pytest

from bmia_dask.cli import main


def run(*args, env=None):
    """Run ``python -m bmia_dask`` in a subprocess, as a user would."""
    result = subprocess.run(
        [sys.executable, "-m", "bmia_dask", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})},
    )
    return result.returncode, result.stdout, result.stderr


def assert_one_line_error(rc, err, *words):
    assert rc == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("bmia: error:")]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], lines[0]


def test_demo_runs_end_to_end(tmp_path):
    rc, out, err = run("demo", "--out", str(tmp_path / "demo"), "--json")
    assert rc == 0, err
    report = json.loads(out)
    assert report["ct"]["values_equal_truth"] and report["ct"]["origin_equal_truth"]
    assert report["ct"]["direction_equal_truth"] and report["cine"]["values_equal_truth"]
    measured = report["measurements"]
    assert measured["lungs_found"] == 2 and measured["lesions_found"] == 1
    assert measured["lesion_volume_mm3"] == pytest.approx(measured["lesion_volume_truth_mm3"], rel=0.05)
    with open(report["figures"][0], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_scan_convert_info(ct_folder, tmp_path, capsys):
    folder, truth = ct_folder
    assert main(["scan", folder, "--json", "-q"]) == 0
    [series] = json.loads(capsys.readouterr().out)["series"]
    assert series["shape"] == [12, 40, 48] and series["ok"]
    assert main(["convert", folder, str(tmp_path / "out"), "-q"]) == 0
    [url] = capsys.readouterr().out.split()
    assert main(["info", url, "--json", "-q"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [12, 40, 48] and info["dtype"] == "int16"
    assert info["min"] == truth["values"].min() and info["max"] == truth["values"].max()
    assert info["spacing_mm"] == pytest.approx([2.5, 0.75, 0.8], rel=1e-5)
    assert main(["info", url, "-q"]) == 0
    assert "spacing_mm" in capsys.readouterr().out


def test_phantom_command(tmp_path, capsys):
    assert main(["phantom", "ct", str(tmp_path / "ct"), "--shape", "4", "16", "16", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_files"] == 4 and len(os.listdir(tmp_path / "ct")) == 4


def test_folder_without_dicom(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing to see")
    rc, out, err = run("convert", str(tmp_path), str(tmp_path / "out"))
    assert_one_line_error(rc, err, str(tmp_path), "no DICOM images")
    assert not (tmp_path / "out").exists()


def test_truncated_file(ct_folder, tmp_path):
    src = shutil.copytree(ct_folder[0], tmp_path / "src")
    victim = str(sorted(src.iterdir())[2])
    with open(victim, "r+b") as f:
        f.truncate(os.path.getsize(victim) // 2)
    rc, out, err = run("convert", str(src), str(tmp_path / "out"))
    assert_one_line_error(rc, err, victim, "truncated")
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_non_dicom_among_good_files_is_named_and_the_rest_converted(ct_folder, tmp_path):
    src = shutil.copytree(ct_folder[0], tmp_path / "src")
    (src / "report.pdf").write_bytes(b"%PDF-1.4 not dicom")
    rc, out, err = run("convert", str(src), str(tmp_path / "out"), "-q")
    assert rc == 0, err
    assert f"bmia: warning: {src / 'report.pdf'}: not a DICOM file" in err
    assert os.listdir(tmp_path / "out") == ["001_phantom_CT.ome.zarr"]


def test_missing_slice(ct_folder, tmp_path):
    src = shutil.copytree(ct_folder[0], tmp_path / "src")
    files = sorted(src.iterdir(), key=lambda f: float(pydicom.dcmread(f).ImagePositionPatient[2]))
    os.remove(files[5])
    rc, out, err = run("convert", str(src), str(tmp_path / "out"))
    assert_one_line_error(rc, err, str(files[4]), "missing slice")
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_existing_destination(ct_folder, tmp_path, capsys):
    assert main(["convert", ct_folder[0], str(tmp_path), "-q"]) == 0
    assert main(["convert", ct_folder[0], str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "001_phantom_CT.ome.zarr" in err
    assert main(["convert", ct_folder[0], str(tmp_path), "-q", "--overwrite"]) == 0


def test_unreachable_url(tmp_path):
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_MAX_ATTEMPTS": "1"}
    rc, out, err = run("convert", "s3://no-such-bucket/dicom", str(tmp_path / "out"), env=env)
    assert_one_line_error(rc, err, "s3://no-such-bucket/dicom", "cannot reach")
    assert not (tmp_path / "out").exists()


def test_missing_store(tmp_path):
    rc, out, err = run("info", str(tmp_path / "nothing.ome.zarr"))
    assert_one_line_error(rc, err, "nothing.ome.zarr", "not found")


def test_help_lists_every_command():
    rc, out, err = run("--help")
    assert rc == 0
    for command in ("demo", "scan", "convert", "info", "ef", "cohort", "register", "phantom"):
        assert command in out


def test_scheduler_option_runs_on_a_cluster(cine_folder, tmp_path, capsys):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster:
        assert main(["convert", cine_folder[0], str(tmp_path), "--scheduler", cluster.scheduler_address, "-q"]) == 0
    assert os.listdir(tmp_path) == ["001_phantom_cine.ome.zarr"]


def test_unreachable_scheduler(ct_folder, tmp_path, capsys):
    assert main(["convert", ct_folder[0], str(tmp_path), "--scheduler", "tcp://127.0.0.1:9", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("bmia: error:") == 1 and "tcp://127.0.0.1:9" in err and "scheduler" in err
