"""Run the conformance suites and print the counts.

    python -m tests.conformance.report                 # run, print the table
    python -m tests.conformance.report --write         # ... and update docs/conformance.md
    python -m tests.conformance.report --json out.json # ... and keep every outcome
    python -m tests.conformance.report -- -k test_filters   # extra pytest arguments

Counts per suite (scipy, dask-image) and grid: tests run, passed, expected failures
by reason group, skipped, failed (each failure is a finding: fix it or add it to
``unsupported.py``), and the tests of a grid's subset left out.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "conformance.md"
BEGIN, END = "<!-- counts:begin -->", "<!-- counts:end -->"


class Recorder:
    """Pytest plugin: one record per foreign test."""

    def __init__(self):
        self.records: dict[str, dict] = {}
        self.deselected: collections.Counter = collections.Counter()

    @staticmethod
    def _where(nodeid: str):
        m = re.match(r".*?(scipy|dask_image)\.suite::([^/]+)/(.*)", nodeid)
        return (m.group(1), m.group(2), m.group(3)) if m else (None, None, nodeid)

    def pytest_deselected(self, items):
        for item in items:
            suite, grid, _ = self._where(item.nodeid)
            if suite:
                self.deselected[suite, grid] += 1

    def pytest_runtest_logreport(self, report):
        suite, grid, test_id = self._where(report.nodeid)
        if suite is None:
            return
        if report.when != "call" and not (report.failed or report.skipped):
            return
        if report.nodeid in self.records and report.when == "teardown" and not report.failed:
            return
        if hasattr(report, "wasxfail"):
            outcome = "xpassed" if report.passed else "xfailed"
            reason = report.wasxfail
        elif report.skipped:
            outcome = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        else:
            outcome = report.outcome
            reason = ""
            if report.failed:
                crash = getattr(report.longrepr, "reprcrash", None)
                reason = crash.message if crash is not None else str(report.longrepr)[-300:]
        self.records[report.nodeid] = {"suite": suite, "grid": grid, "test": test_id, "outcome": outcome,
                                       "reason": reason, "seconds": round(report.duration, 3)}


def group_of(reason: str) -> str:
    from .unsupported import DYNAMIC

    reason = reason.removeprefix("Skipped: ").removeprefix("reason: ")
    for prefix in (*DYNAMIC, "excluded file"):
        if reason.startswith(prefix):
            return prefix
    return reason


def summarize(rec: Recorder) -> dict:
    table: dict = {}
    for r in rec.records.values():
        key = (r["suite"], r["grid"])
        t = table.setdefault(key, {"run": 0, "passed": 0, "failed": 0, "xpassed": 0, "skipped": 0,
                                   "xfailed": 0, "by_reason": collections.Counter(),
                                   "not_provided": collections.Counter(), "failures": collections.Counter()})
        t[r["outcome"]] += 1
        if r["outcome"] != "skipped":
            t["run"] += 1
        if r["outcome"] in ("xfailed", "skipped"):
            group = group_of(r["reason"])
            t["by_reason"][group] += 1
            if group == "not provided yet":
                m = re.search(r"bmia_dask\.ndimage\.(\w+)(?:.*parameter '(\w+)')?", r["reason"])
                if m:
                    t["not_provided"][m.group(1) + (f"({m.group(2)}=)" if m.group(2) else "")] += 1
        if r["outcome"] == "failed":
            t["failures"][_failure_key(r)] += 1
    for key, n in rec.deselected.items():
        table.setdefault(key, {"run": 0, "passed": 0, "failed": 0, "xpassed": 0, "skipped": 0, "xfailed": 0,
                               "by_reason": collections.Counter(), "not_provided": collections.Counter(),
                               "failures": collections.Counter()})["deselected"] = n
    return table


def _failure_key(r) -> str:
    test = re.sub(r"\[.*\]$", "", r["test"])
    return f"{test.split('::')[-1]}: {r['reason'].splitlines()[0][:100] if r['reason'] else ''}"


def render(table: dict, seconds: float) -> str:
    lines = [f"Run of {time.strftime('%Y-%m-%d')}, {seconds:.0f} s wall.", "",
             "| suite | grid | run | passed | expected failures | xpassed | failed | skipped | left out (subset) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (suite, grid), t in sorted(table.items()):
        lines.append(f"| {suite} | {grid} | {t['run']} | {t['passed']} | {t['xfailed']} | {t['xpassed']} | "
                     f"{t['failed']} | {t['skipped']} | {t.get('deselected', 0)} |")
    lines += ["", "Expected failures and skips by reason:", ""]
    for (suite, grid), t in sorted(table.items()):
        for reason, n in t["by_reason"].most_common():
            lines.append(f"- {suite} {grid}: {n} — {reason}")
    lines += ["", "Not provided yet (function or argument: tests, all grids):", ""]
    merged: collections.Counter = collections.Counter()
    for (suite, grid), t in table.items():
        for name, n in t["not_provided"].items():
            merged[f"{suite}: {name}"] += n
    lines += [f"- {name}: {n}" for name, n in merged.most_common()]
    return "\n".join(lines) + "\n"


def render_reasons() -> str:
    """The reasons of ``unsupported.py``, as a list for the docs."""
    from .unsupported import DYNAMIC, EXCLUDED_FILES, KNOWN

    lines = ["Raised by the adapter at call time (reported as expected failures):", ""]
    lines += [f"- **{group}**: {reason}" for group, reason in DYNAMIC.items()]
    lines += ["", "Known differences (test-id patterns in `tests/conformance/unsupported.py`):", ""]
    for e in KNOWN:
        lines.append(f"- {e.suite}, {len(e.patterns)} pattern(s), {e.action}: {e.reason}")
    lines += ["", "Files not run:", ""]
    lines += [f"- {e.suite} `{', '.join(e.patterns)}`: {e.reason}" for e in EXCLUDED_FILES]
    return "\n".join(lines) + "\n"


def _replace(doc: str, begin: str, end: str, text: str) -> str:
    head, _, rest = doc.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{text}{end}{tail}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="update the counts in docs/conformance.md")
    parser.add_argument("--json", help="write every outcome to this file")
    parser.add_argument("--failures", action="store_true", help="list the failures, grouped")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args(argv)
    rec = Recorder()
    start = time.time()
    paths = [] if any(a.startswith("tests/") for a in args.pytest_args) else [str(ROOT / "tests" / "conformance")]
    code = pytest.main([*paths, "-q", "-p", "no:cacheprovider", "--no-header",
                        "-rN", "--tb=no", "-o", "addopts=", *args.pytest_args], plugins=[rec])
    seconds = time.time() - start
    table = summarize(rec)
    text = render(table, seconds)
    print(text)
    if args.failures:
        for (suite, grid), t in sorted(table.items()):
            for key, n in t["failures"].most_common():
                print(f"FAILED {suite} {grid} x{n}: {key}")
    if args.json:
        Path(args.json).write_text(json.dumps(list(rec.records.values()), indent=1))
    if args.write:
        doc = _replace(DOC.read_text(), BEGIN, END, text)
        DOC.write_text(_replace(doc, "<!-- reasons:begin -->", "<!-- reasons:end -->", render_reasons()))
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
