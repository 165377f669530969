"""Out of core: one pipeline on stores of growing size, peak memory per run (fresh process each).

    python -m benchmarks.scale                    # 160 and 640 x 1024 x 1024 int16 (0.3 and 1.3 GB)
    python -m benchmarks.scale --slices 64 256    # smaller

The pipeline: open store -> gaussian (sigma 1.5) -> threshold -> label -> labels
written to a store -> regionprops_table, on the threaded scheduler.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

MAKE = """
import sys, numpy as np, dask.array as da, bmia_dask as bd
n = int(sys.argv[2])
def blobs(block_info=None):
    (z0, z1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
    z, y, x = np.ogrid[z0:z1, y0:y1, x0:x1]
    inside = ((z % 40) - 20) ** 2 + ((y % 50) - 25) ** 2 + ((x % 60) - 30) ** 2 < 300
    noise = np.random.default_rng(z0 * 7 + y0 * 3 + x0).integers(0, 50, inside.shape)
    return (1000 * inside + noise).astype(np.int16)
data = da.map_blocks(blobs, dtype=np.int16, chunks=((64,) * (n // 64) + ((n % 64,) if n % 64 else ()), (256,) * 4, (256,) * 4))
bd.to_zarr(bd.from_array(data, spacing=(1.0, 0.7, 0.7)), sys.argv[1])
"""

PIPELINE = """
import json, resource, sys, time
import bmia_dask as bd
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
image = bd.open_image(sys.argv[1])
before, start = peak(), time.perf_counter()
labels, n = bd.label(bd.filters.gaussian_filter(image, 1.5) > 500)
bd.to_zarr(labels, sys.argv[2])
table = bd.regionprops_table(labels, image)
print(json.dumps({"seconds": time.perf_counter() - start, "peak_mb": peak(), "after_imports_mb": before,
                  "objects": len(table), "volume_gb": image.nbytes / 1e9}))
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, nargs="+", default=[160, 640], help="volumes of N x 1024 x 1024")
    args = parser.parse_args(argv)
    lines = ["| volume (int16) | GB | seconds | peak RSS (MB) | of which imports (MB) | objects |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    with tempfile.TemporaryDirectory() as workdir:
        for n in args.slices:
            store = os.path.join(workdir, f"v{n}.ome.zarr")
            print(f"making {n} x 1024 x 1024 ...", file=sys.stderr)
            subprocess.run([sys.executable, "-c", MAKE, store, str(n)], check=True)
            out = subprocess.run([sys.executable, "-c", PIPELINE, store, store + ".labels"], check=True,
                                 capture_output=True, text=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            lines.append(f"| {n} x 1024 x 1024 | {r['volume_gb']:.2f} | {r['seconds']:.1f} | {r['peak_mb']:.0f} "
                         f"| {r['after_imports_mb']:.0f} | {r['objects']} |")
            print(lines[-1], file=sys.stderr)
            subprocess.run(["rm", "-rf", store, store + ".labels"])
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
