"""What every chapter script shares: arguments, the side-by-side check, the report.

A chapter script runs each step of the course twice: the original recipe
(imageio + NumPy + scipy.ndimage + pandas + scipy.stats, one array in memory)
and the bmia_dask version on a chunked OME-Zarr store of the same phantom
data, whose chunks cut through the objects. ``Recipe.check`` prints both
results and whether they agree; ``finish`` writes ``report.json`` and exits 1
if any step disagrees.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import pandas as pd
import xarray as xr


def _values(result):
    """A plain numpy array or float from whatever a step returned."""
    if isinstance(result, xr.DataArray):
        result = result.values
    if hasattr(result, "compute") and not isinstance(result, (pd.DataFrame, pd.Series)):
        result = result.compute()
    if isinstance(result, (pd.DataFrame, pd.Series)):
        result = result.to_numpy()
    return np.asarray(result, dtype=float)


def _describe(values: np.ndarray) -> str:
    if values.ndim == 0:
        return f"{float(values):.6g}"
    if values.size <= 4:
        return "[" + ", ".join(f"{v:.4g}" for v in values.ravel()) + "]"
    return f"array{tuple(values.shape)} sum {np.nansum(values):.6g}"


class Recipe:
    """One chapter: ``check`` each step, ``figure`` each picture, then ``finish``."""

    def __init__(self, name: str, title: str, argv=None):
        parser = argparse.ArgumentParser(description=title)
        parser.add_argument("--out", default=os.path.join("conversions-out", name),
                            help="folder for the data, stores, figures and report.json")
        parser.add_argument("--small", action="store_true", help="small phantoms (what the tests run)")
        args = parser.parse_args(argv)
        self.out, self.small = args.out, args.small
        os.makedirs(self.out, exist_ok=True)
        self.rows, self.figures = [], []
        print(f"{title}\n{'=' * len(title)}")
        print(f"{'':4} {'step':<46} {'original recipe':<34} {'bmia_dask':<34} agreement")

    def path(self, name: str) -> str:
        return os.path.join(self.out, name)

    def section(self, title: str) -> None:
        print(f"\n-- {title}")

    def check(self, step: str, original, ours, *, atol: float = 0.0, note: str = ""):
        """Print and record whether two results agree (equal, or within ``atol``)."""
        a, b = _values(original), _values(ours)
        if a.shape != b.shape:
            agree, diff, agreement = False, float("inf"), f"shapes differ: {a.shape} vs {b.shape}"
        else:
            same_nan = np.array_equal(np.isnan(a), np.isnan(b))
            finite = ~np.isnan(a)
            diff = float(np.abs(a[finite] - b[finite]).max()) if finite.any() else 0.0
            agree = same_nan and diff <= atol
            agreement = "equal" if diff == 0 and same_nan else f"max abs diff {diff:.2g}"
        print(f"{'ok' if agree else 'DIFF':<4} {step:<46} {_describe(a):<34} {_describe(b):<34} {agreement}"
              + (f"  ({note})" if note else ""))
        self.rows.append({"step": step, "agree": bool(agree), "max_abs_diff": diff, "tolerance": atol,
                          "original": _describe(a), "bmia_dask": _describe(b), "note": note})
        return agree

    def figure(self, name: str) -> str:
        """The path for a figure; recorded for the report."""
        path = self.path(name)
        self.figures.append(path)
        return path

    def finish(self) -> int:
        failed = [row["step"] for row in self.rows if not row["agree"]]
        report = {"steps": self.rows, "figures": self.figures, "all_agree": not failed}
        with open(self.path("report.json"), "w") as file:
            json.dump(report, file, indent=2)
        print(f"\n{len(self.rows)} steps, {len(self.rows) - len(failed)} agree; figures in {self.out}")
        if failed:
            print("disagree: " + ", ".join(failed), file=sys.stderr)
        return 1 if failed else 0


def canonical(labels) -> np.ndarray:
    """Labels renumbered by first appearance (row-major), so that two labellings of one
    partition compare equal whatever numbers each tool gave."""
    labels = _values(labels).astype(np.int64)
    flat = labels.ravel()
    values, first = np.unique(flat, return_index=True)
    keep = values != 0
    order = values[keep][np.argsort(first[keep])]
    table = np.zeros(int(values.max()) + 1 if values.size else 1, np.int64)
    table[order] = np.arange(1, len(order) + 1)
    return table[labels]


def boxes(slices) -> np.ndarray:
    """``find_objects`` output as a ``(n, ndim, 2)`` array of starts and stops."""
    return np.array([[(s.start, s.stop) for s in box] for box in slices], dtype=float)
