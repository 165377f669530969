"""Every conversion script and example runs on small data, and every agreement it reports holds."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAPTERS = sorted(f for f in os.listdir(os.path.join(ROOT, "conversions")) if f.startswith("chapter"))


def run_script(path, *args, timeout=600):
    result = subprocess.run([sys.executable, path, *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "MPLBACKEND": "Agg"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_one_script_per_chapter():
    assert [c.split("_")[0] for c in CHAPTERS] == ["chapter1", "chapter2", "chapter3", "chapter4"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_conversion_agrees_with_the_original_recipe(chapter, tmp_path):
    out = run_script(os.path.join(ROOT, "conversions", chapter), "--small", "--out", str(tmp_path))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["all_agree"] and len(report["steps"]) >= 10
    assert all(step["agree"] for step in report["steps"])
    assert "DIFF" not in out
    for figure in report["figures"]:
        with open(figure, "rb") as file:
            assert file.read(8) == b"\x89PNG\r\n\x1a\n", figure
