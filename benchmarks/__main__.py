"""Run every benchmark side by side with its peers and print one table.

Each run happens in its own subprocess so that its peak resident memory
(``ru_maxrss``) is measured, not estimated. Times are wall-clock seconds on a
shared machine: read the ratios, not the absolute numbers.

    python -m benchmarks                 # 300 x 512 x 512 CT series
    python -m benchmarks --shape 60 256 256 --write BENCHMARKS.md
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

RUNNERS = {
    "bmia_dask convert": """
        import bmia_dask as bd
        bd.convert(SRC, OUT)
    """,
    "SimpleITK read+write": """
        import SimpleITK as sitk
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(SRC))
        sitk.WriteImage(reader.Execute(), OUT + ".nii")
    """,
    "dcm2niix": """
        import subprocess, shutil, os
        os.makedirs(OUT)
        exe = shutil.which("dcm2niix")
        subprocess.run([exe, "-z", "n", "-o", OUT, SRC], check=True, capture_output=True)
    """,
}

_WRAPPER = """
import json, os, resource, sys, time
SRC, OUT = sys.argv[1], sys.argv[2]
start = time.perf_counter()
{code}
seconds = time.perf_counter() - start
peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({{"seconds": seconds, "peak_mb": peak_kb / 1024}}))
"""


def run_one(name: str, src: str, workdir: str) -> dict | None:
    out = os.path.join(workdir, name.replace(" ", "_").replace("+", "_"))
    code = _WRAPPER.format(code=textwrap.dedent(RUNNERS[name]))
    result = subprocess.run([sys.executable, "-c", code, src, out], capture_output=True, text=True)
    shutil.rmtree(out, ignore_errors=True)
    if result.returncode != 0:
        print(f"  {name}: failed: {result.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(300, 512, 512), metavar=("Z", "Y", "X"))
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the best is kept")
    parser.add_argument("--write", metavar="FILE", help="also write the table as Markdown")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        src = os.path.join(workdir, "ct")
        print(f"writing a {tuple(args.shape)} CT phantom series ...", file=sys.stderr)
        # in a subprocess: this process stays small, and ru_maxrss survives fork + exec
        make = f"import bmia_dask as bd; bd.phantoms.write_ct({src!r}, shape={tuple(args.shape)}, spacing=(1.0, 0.7, 0.7))"
        subprocess.run([sys.executable, "-c", make], check=True)
        results = {}
        for name in RUNNERS:
            runs = [r for r in (run_one(name, src, workdir) for _ in range(args.repeat)) if r]
            if runs:
                results[name] = min(runs, key=lambda r: r["seconds"])
        ours = results.get("bmia_dask convert")
        for name, r in results.items():
            ratio = r["seconds"] / ours["seconds"] if ours else float("nan")
            rows.append((f"convert {args.shape[0]}x{args.shape[1]}x{args.shape[2]} CT series", name,
                         r["seconds"], ratio, r["peak_mb"]))
    header = "| operation | tool | seconds (best of {}) | time / bmia_dask | peak RSS (MB) |".format(args.repeat)
    lines = [header, "| --- | --- | ---: | ---: | ---: |"]
    lines += [f"| {op} | {tool} | {s:.2f} | {ratio:.2f} | {mb:.0f} |" for op, tool, s, ratio, mb in rows]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = "\n".join(lines)
    print(table)
    print(f"machine: {machine}")
    if args.write:
        with open(args.write, "w") as f:
            f.write(f"# Benchmarks\n\n`python -m benchmarks` on {machine}.\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
