"""Every example runs as a user would run it (a fresh process, its own folder) and says what it should."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def run_example(name, cwd, *args):
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args], cwd=cwd, capture_output=True,
                            text=True, timeout=600, env={**os.environ, "MPLBACKEND": "Agg"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_every_example_is_tested():
    tested = {"convert_folder.py", "explore_store.py", "ejection_fraction.py", "cohort_local_cluster.py",
              "s3_pipeline.py", "register_scans.py"}
    assert set(f for f in os.listdir(EXAMPLES) if f.endswith(".py")) == tested


def test_convert_and_explore(tmp_path):
    out = run_example("convert_folder.py", tmp_path)
    assert "levels: 3" in out
    out = run_example("explore_store.py", tmp_path, str(tmp_path / "example-stores" / "001_phantom_CT.ome.zarr"))
    assert "field of view (mm) [100.0, 102.4, 102.4]" in out
    for name in ("views", "slices", "histogram", "lungs"):
        assert (tmp_path / "example-figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_ejection_fraction(tmp_path):
    run_example("ejection_fraction.py", tmp_path)
    report = json.loads((tmp_path / "example-ef" / "ef.json").read_text())
    assert report["ef"] == pytest.approx(0.55, abs=0.03)


def test_cohort_on_a_local_cluster(tmp_path):
    out = run_example("cohort_local_cluster.py", tmp_path)
    assert "dashboard" in out.lower()
    p_raw, p_normalised = (float(line.split("p = ")[1]) for line in out.splitlines() if "AD vs CN" in line)
    assert p_raw > 0.01 and p_normalised < 1e-6
    assert (tmp_path / "example-cohort.png").exists()


def test_registration(tmp_path):
    out = run_example("register_scans.py", tmp_path)
    degrees, mm = (float(v) for v in out.split("left over: ")[1].replace(" degrees,", "").split()[:2])
    assert degrees < 0.5 and mm < 0.5
    assert (tmp_path / "example-aligned.ome.zarr" / "zarr.json").exists()


def test_s3_pipeline(tmp_path, bucket):
    out = run_example("s3_pipeline.py", tmp_path, f"{bucket}/study")
    assert out.startswith("objects: 1 in s3://")  # the spine
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": os.environ["AWS_ENDPOINT_URL"]}, skip_instance_cache=True)
    assert fs.exists(f"{bucket}/study/labels.ome.zarr/zarr.json")
