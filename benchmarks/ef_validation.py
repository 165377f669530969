"""Validate bd.ejection_fraction on cine phantoms with analytic truth; print a Markdown table.

    python -m benchmarks.ef_validation            # the table in docs/cardiac.md
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np

import bmia_dask as bd

# ef, orientation (degrees about L, P, S), snr, slice thickness (mm), coil bias, edv (mL)
CASES = [
    (0.25, (0, 0, 0), 25, 8.0, 0.3, 160),
    (0.35, (20, -30, 15), 15, 10.0, 0.4, 140),
    (0.45, (-35, 10, 60), 30, 6.0, 0.2, 120),
    (0.55, (10, 40, -20), 20, 8.0, 0.0, 140),
    (0.60, (25, -35, 10), 10, 8.0, 0.3, 140),
    (0.65, (0, 0, 0), 40, 5.0, 0.3, 100),
    (0.70, (45, 0, 30), 20, 10.0, 0.5, 180),
    (0.70, (-20, 25, -40), 25, 7.0, 0.3, 90),
]


def main() -> int:
    lines = [
        "| truth EF | orientation (deg) | SNR | slice (mm) | bias | EF | EF error | EDV truth / ours (mL) | EDV error "
        "| ESV truth / ours (mL) | ESV error | seconds |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: |",
    ]
    worst = [0.0, 0.0]
    for k, (ef, angles, snr, thickness, bias, edv) in enumerate(CASES):
        with tempfile.TemporaryDirectory() as folder:
            slices = int(np.ceil((1.35 * 1.7 * (edv / 0.005353) ** (1 / 3) + 3 * thickness) / thickness))
            truth = bd.phantoms.write_cine(folder, ef=ef, direction=bd.phantoms.rotation(*angles), snr=snr, bias=bias,
                                           spacing=(thickness, 1.8, 1.8), shape=(slices, 96, 96), edv_ml=edv, seed=k)
            start = time.perf_counter()
            result = bd.ejection_fraction(folder)
            seconds = time.perf_counter() - start
        edv_error = result.edv_ml / truth["edv_ml"] - 1
        esv_error = result.esv_ml / truth["esv_ml"] - 1
        worst = [max(worst[0], abs(result.ef - truth["ef"])), max(worst[1], abs(edv_error), abs(esv_error))]
        lines.append(
            f"| {truth['ef']:.2f} | {angles} | {snr} | {thickness:g} | {bias:g} | {result.ef:.3f} "
            f"| {result.ef - truth['ef']:+.3f} | {truth['edv_ml']:.1f} / {result.edv_ml:.1f} | {edv_error:+.1%} "
            f"| {truth['esv_ml']:.1f} / {result.esv_ml:.1f} | {esv_error:+.1%} | {seconds:.1f} |"
        )
        print(lines[-1], file=sys.stderr)
    print("\n".join(lines))
    print(f"\nworst absolute EF error {worst[0]:.3f}; worst volume error {worst[1]:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
