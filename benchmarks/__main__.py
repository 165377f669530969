"""Run every benchmark side by side with its peers and print one table.

Each run happens in its own subprocess, so that its peak resident memory
(``ru_maxrss``, imports included) is measured, not estimated; the clock starts
after the imports. Operations read a zarr store and write their result to a new
one with the same compressor (scipy: load whole, compute, write; dask-image and
bmia_dask: chunk by chunk). Times are wall-clock on a shared machine: read the
ratios, not the absolute seconds.

    python -m benchmarks                          # 300 x 512 x 512, every case
    python -m benchmarks --only gaussian closing  # some cases
    python -m benchmarks --write BENCHMARKS.md    # also keep the table
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap

# case -> tool -> (setup, timed code). SRC and OUT are paths; each runs in a fresh
# interpreter; the clock starts after the setup (imports). Peers write with the same
# compressor as bmia_dask's stores, so that the ratios compare the computations.
WRITE = "zarr.create_array(OUT, shape=r.shape, chunks=CHUNKS, dtype=r.dtype, compressors=[COMPRESSOR])"
PEER_SETUP = """
SPACING = (1.0, 0.7, 0.7)
import numpy as np, zarr, dask.array as da, scipy.ndimage as ndi
from bmia_dask.io.zarr_store import COMPRESSOR
"""
CASES = {
    "convert": {
        "bmia_dask": ("import bmia_dask as bd", "bd.convert(SRC + '/dicom', OUT)"),
        "SimpleITK": ("import SimpleITK as sitk", """
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(reader.GetGDCMSeriesFileNames(SRC + '/dicom'))
            sitk.WriteImage(reader.Execute(), OUT + '.nii')
        """),
        "dcm2niix": ("import os, shutil, subprocess, sys", """
            os.makedirs(OUT)
            # the pip wheel installs it next to this interpreter, which may not be on PATH
            exe = shutil.which('dcm2niix') or os.path.join(os.path.dirname(sys.executable), 'dcm2niix')
            subprocess.run([exe, '-z', 'n', '-o', OUT, SRC + '/dicom'], check=True, capture_output=True)
        """),
    },
}


def _operation(name, ours, dask_image, scipy, store):
    """A store-to-store case: bmia_dask, dask-image and scipy.ndimage on ``store``."""
    source = f"SRC + '/{store}.ome.zarr'"
    CASES[name] = {
        "bmia_dask": ("import bmia_dask as bd", f"bd.to_zarr({ours.format(x=f'bd.open_image({source})')}, OUT)"),
        "dask-image": (PEER_SETUP + "from dask_image import ndfilters, ndinterp, ndmeasure, ndmorph", f"""
            x = da.from_zarr({source} + '/0'); CHUNKS = x.chunksize
            r = {dask_image}
            da.store(r, {WRITE}, lock=False)
        """),
        "scipy.ndimage": (PEER_SETUP, f"""
            z = zarr.open_array({source} + '/0'); CHUNKS = z.chunks; x = z[:]
            r = {scipy}
            {WRITE}[:] = r
        """),
    }
    if dask_image is None:  # dask-image has no such function
        del CASES[name]["dask-image"]


_operation("gaussian sigma=2", "bd.filters.gaussian_filter({x}, 2)", "ndfilters.gaussian_filter(x, 2)",
           "ndi.gaussian_filter(x, 2)", "volume")
_operation("binary_closing", "bd.morphology.binary_closing({x})", "ndmorph.binary_closing(x)",
           "ndi.binary_closing(x)", "mask")
_operation("label", "bd.label({x})[0]", "ndmeasure.label(x)[0]", "ndi.label(x)[0]", "mask")
CASES["regionprops (label + 5 statistics)"] = {
    "bmia_dask": ("import bmia_dask as bd", """
        labels, n = bd.label(bd.open_image(SRC + '/mask.ome.zarr'))
        table = bd.regionprops_table(labels, bd.open_image(SRC + '/volume.ome.zarr'))
    """),
    "dask-image": (PEER_SETUP + "from dask_image import ndmeasure", """
        x = da.from_zarr(SRC + '/volume.ome.zarr/0'); m = da.from_zarr(SRC + '/mask.ome.zarr/0')
        labels, n = ndmeasure.label(m); n = int(n); index = np.arange(1, n + 1)
        da.compute(*[f(x, labels, index) for f in (ndmeasure.sum_labels, ndmeasure.mean, ndmeasure.variance,
                                                   ndmeasure.minimum, ndmeasure.maximum)])
    """),
    "scipy.ndimage": (PEER_SETUP, """
        x = zarr.open_array(SRC + '/volume.ome.zarr/0')[:]; m = zarr.open_array(SRC + '/mask.ome.zarr/0')[:]
        labels, n = ndi.label(m); index = np.arange(1, n + 1)
        [f(x, labels, index) for f in (ndi.sum_labels, ndi.mean, ndi.variance, ndi.minimum, ndi.maximum)]
    """),
}
CASES["distance_transform_edt"] = {
    "bmia_dask": ("import bmia_dask as bd", "bd.to_zarr(bd.distance_transform_edt(bd.open_image(SRC + '/mask.ome.zarr')), OUT)"),
    "edt (one block)": (PEER_SETUP + "import edt", """
        z = zarr.open_array(SRC + '/mask.ome.zarr/0'); CHUNKS = z.chunks
        r = edt.edt(z[:], anisotropy=SPACING, parallel=2)
        {WRITE}[:] = r
    """.replace("{WRITE}", WRITE)),
    "scipy.ndimage": (PEER_SETUP, """
        z = zarr.open_array(SRC + '/mask.ome.zarr/0'); CHUNKS = z.chunks
        r = ndi.distance_transform_edt(z[:], sampling=SPACING)
        {WRITE}[:] = r
    """.replace("{WRITE}", WRITE)),
}
_operation("median_filter size=3", "bd.filters.median_filter({x}, 3)", "ndfilters.median_filter(x, 3)",
           "ndi.median_filter(x, 3)", "volume")
_operation("percentile_filter 90 size=3", "bd.filters.percentile_filter({x}, 90, size=3)",
           "ndfilters.percentile_filter(x, 90, size=3)", "ndi.percentile_filter(x, 90, size=3)", "volume")
_operation("gaussian_gradient_magnitude sigma=2", "bd.filters.gaussian_gradient_magnitude({x}, 2)",
           "ndfilters.gaussian_gradient_magnitude(x, 2)", "ndi.gaussian_gradient_magnitude(x, 2)", "volume")
_operation("gaussian_laplace sigma=2", "bd.filters.gaussian_laplace({x}, 2)", "ndfilters.gaussian_laplace(x, 2)",
           "ndi.gaussian_laplace(x, 2)", "volume")
_operation("white_tophat size=5", "bd.morphology.white_tophat({x}, size=5)", None,
           "ndi.white_tophat(x, size=5)", "volume")
_operation("shift order=1", "bd.transform.shift({x}, (2.3, -4.6, 7.1), order=1)",
           "ndinterp.affine_transform(x, np.eye(3), -np.array([2.3, -4.6, 7.1]), order=1)",
           "ndi.shift(x, (2.3, -4.6, 7.1), order=1)", "volume")

_WRAPPER = """
import json, resource, sys, time
SRC, OUT = sys.argv[1], sys.argv[2]
{setup}
start = time.perf_counter()
{code}
seconds = time.perf_counter() - start
peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({{"seconds": seconds, "peak_mb": peak_kb / 1024}}))
"""

_MAKE_DATA = """
import sys, numpy as np, bmia_dask as bd
src, shape = sys.argv[1], tuple(int(v) for v in sys.argv[2:5])
truth = bd.phantoms.write_ct(src + '/dicom', shape=shape, spacing=(1.0, 0.7, 0.7))
ct = truth['values'].astype(np.float32) + np.random.default_rng(0).normal(0, 20, shape).astype(np.float32)
bd.to_zarr(bd.from_array(ct, spacing=(1.0, 0.7, 0.7)), src + '/volume.ome.zarr')
bd.to_zarr(bd.from_array(ct > 0, spacing=(1.0, 0.7, 0.7)), src + '/mask.ome.zarr')
"""


def run_one(setup: str, code: str, src: str, out: str) -> dict | None:
    script = _WRAPPER.format(setup=textwrap.dedent(setup).strip(), code=textwrap.dedent(code).strip())
    result = subprocess.run([sys.executable, "-c", script, src, out], capture_output=True, text=True)
    shutil.rmtree(out, ignore_errors=True)
    for leftover in (out + ".nii",):
        if os.path.exists(leftover):
            os.remove(leftover)
    if result.returncode != 0:
        print(f"  failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(300, 512, 512), metavar=("Z", "Y", "X"))
    parser.add_argument("--repeat", type=int, default=2, help="runs per tool; the fastest is kept")
    parser.add_argument("--only", nargs="+", metavar="CASE", help=f"cases to run, of: {', '.join(CASES)}")
    parser.add_argument("--write", metavar="FILE", help="also write the table as Markdown")
    args = parser.parse_args(argv)
    cases = {k: v for k, v in CASES.items() if not args.only or any(o in k for o in args.only)}
    shape = "x".join(map(str, args.shape))
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        src = os.path.join(workdir, "data")
        print(f"making the {shape} test data ...", file=sys.stderr)
        # in a subprocess: this process stays small, and ru_maxrss survives fork + exec
        subprocess.run([sys.executable, "-c", _MAKE_DATA, src, *map(str, args.shape)], check=True)
        for case, tools in cases.items():
            results = {}
            for tool, (setup, code) in tools.items():
                print(f"{case}: {tool} ...", file=sys.stderr)
                out = os.path.join(workdir, "out")
                runs = [r for r in (run_one(setup, code, src, out) for _ in range(args.repeat)) if r]
                if runs:
                    results[tool] = min(runs, key=lambda r: r["seconds"])
            ours = results.get("bmia_dask")
            for tool, r in results.items():
                ratio = r["seconds"] / ours["seconds"] if ours else float("nan")
                rows.append((case, tool, r["seconds"], ratio, r["peak_mb"]))
    lines = [
        f"| operation ({shape}) | tool | seconds (best of {args.repeat}) | time / bmia_dask time | peak RSS (MB) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {case} | {tool} | {s:.2f} | {ratio:.2f} | {mb:.0f} |" for case, tool, s, ratio, mb in rows]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = "\n".join(lines)
    print(table)
    print(f"machine: {machine}")
    if args.write:
        with open(args.write, "w") as f:
            f.write(
                f"# Benchmarks\n\n`python -m benchmarks` on {machine}. Each run is a fresh process; "
                "the clock starts after its imports. Operations read a zarr store and write one with the "
                "same compressor; peak RSS is that process's `ru_maxrss` (imports included). A ratio above "
                "1 means the peer took longer than bmia_dask.\n\n"
                f"{table}\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
