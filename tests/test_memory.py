"""Peak memory of a pipeline over a store, measured in a fresh process (ru_maxrss), not estimated."""

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
bd.to_zarr(bd.from_array(volume, spacing=(1.0, 0.7, 0.7)), sys.argv[1])
"""

PIPELINE = """
import json, resource, sys
import bmia_dask as bd
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def now():  # resident memory at this moment (the peak so far may lie in the imports)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

image = bd.open_image(sys.argv[1])
before = now()
smooth = bd.filters.gaussian_filter(image, 1.5)
labels, n = bd.label(smooth > 500)
bd.to_zarr(labels, sys.argv[2])
table = bd.regionprops_table(labels, image)
print(json.dumps({"extra_mb": peak() - before, "objects": int(n), "rows": len(table)}))
"""


@pytest.fixture(autouse=True)
def _linux_only():
    if not os.path.exists("/proc/self/status"):
        pytest.skip("reads the resident memory from /proc")


def run(tmp_path, shape, repeat=2):
    """The pipeline's extra memory, the least of ``repeat`` fresh processes: dask's task order
    follows the threads' timing, and a busy machine can spoil one run's order."""
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
    # three times the data: within 50% of the memory (2 cores: the chunks in flight, not the volume)
    assert large["extra_mb"] < 1.5 * small["extra_mb"], (small, large)
    # No absolute bound here: in full-suite runs on 2 busy cores dask's task order has taken
    # both sizes to 550-820 MB (300-400 MB when run alone); BENCHMARKS.md keeps the GB-scale peaks.
