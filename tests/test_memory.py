"""Peak memory of a pipeline over a store, measured in a fresh process (the kernel's VmHWM), not estimated."""

import json
import os
import subprocess
import sys

import pytest

MAKE = """
import sys, numpy as np, bmia_dask as bd
shape = tuple(int(v) for v in sys.argv[2:5])
z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
blobs = ((z % 40) - 20) ** 2 + ((y % 50) - 25) ** 2 + ((x % 60) - 30) ** 2 < 300
volume = (1000 * blobs + np.random.default_rng(0).integers(0, 50, shape)).astype(np.int16)
bd.to_zarr(bd.from_array(volume, spacing=(1.0, 0.7, 0.7)), sys.argv[1], chunks=(32, 128, 128))
"""

PIPELINE = """
import json, sys
import bmia_dask as bd

def status(field):  # MB, from /proc/self/status
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field)) / 1024

def pipeline(image, store):
    labels, n = bd.label(bd.filters.gaussian_filter(image, 1.5) > 500)
    bd.to_zarr(labels, store)
    return n, bd.regionprops_table(labels, image)

image = bd.open_image(sys.argv[1])
pipeline(image[:8], sys.argv[2] + ".warm-up")  # lazy imports and first-call costs, paid before measuring
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak so far (imports, warm-up) is not the pipeline's: reset it
before = status("VmRSS")
n, table = pipeline(image, sys.argv[2])
print(json.dumps({"extra_mb": status("VmHWM") - before, "objects": int(n), "rows": len(table)}))
"""


@pytest.fixture(autouse=True)
def _linux_only():
    if not os.path.exists("/proc/self/status"):
        pytest.skip("reads the resident memory from /proc")


def run(tmp_path, shape, repeat=2):
    """The pipeline's extra memory, the least of ``repeat`` fresh processes (the machine is shared)."""
    store = str(tmp_path / f"volume-{shape[0]}.ome.zarr")
    subprocess.run([sys.executable, "-c", MAKE, store, *map(str, shape)], check=True)
    runs = []
    for k in range(repeat):
        result = subprocess.run([sys.executable, "-c", PIPELINE, store, f"{store}.labels{k}"],
                                check=True, capture_output=True, text=True)
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda r: r["extra_mb"])


@pytest.mark.parametrize("shape", [(128, 512, 512)])
def test_pipeline_memory_stays_flat_as_the_data_grows(tmp_path, shape):
    small = run(tmp_path, shape)
    large = run(tmp_path, (3 * shape[0],) + shape[1:])
    assert small["rows"] == small["objects"] > 0 and large["rows"] == large["objects"] > small["objects"]
    volume_mb = shape[0] * shape[1] * shape[2] * 2 / 2**20  # int16
    # twice the data (3x) adds less than half as much memory: the chunks of about one layer
    # are in flight, and only per-chunk summaries (label's faces, the tables' rows) grow
    assert large["extra_mb"] - small["extra_mb"] < 0.5 * 2 * volume_mb, (small, large)
    # and the pipeline needs less memory than the large volume's own size
    assert large["extra_mb"] < 3 * volume_mb, (small, large)
