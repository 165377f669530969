"""bd.register against SimpleITK's ImageRegistrationMethod on the same phantom pairs.

Each pair: an analytic head on a fixed grid (1.5 mm, axial) and on a moving
grid of other spacing and orientation, moved by a known rigid transform. Both
tools start from the centres of mass (SimpleITK: its MOMENTS initialiser),
optimise a rigid transform on three pyramid levels, and are scored by the
rotation and translation left over. Prints one Markdown table (docs/registration.md).

    python -m benchmarks.registration
"""

from __future__ import annotations

import time

import numpy as np

import bmia_dask as bd
from bmia_dask.phantoms import head, rigid, rotation
from bmia_dask.registration import rotation_degrees
from bmia_dask.testing import to_sitk

# degrees about L, P, S; translation mm; moving spacing; moving orientation (degrees)
CASES = [
    ((0, 0, 8), (5.0, -4.0, 3.0), (2.0, 1.8, 1.6), (0, 0, 0)),
    ((4, -3, 6), (-8.0, 6.0, 2.0), (3.0, 1.5, 1.5), (10, 0, -15)),
    ((-6, 5, -10), (3.0, 10.0, -6.0), (2.5, 2.0, 2.2), (-5, 20, 10)),
]


def _sitk_register(moving, fixed, metric: str) -> np.ndarray:
    """SimpleITK's usual recipe; returns the moving -> fixed matrix (LPS mm)."""
    import SimpleITK as sitk

    fixed_s, moving_s = to_sitk(fixed.astype(np.float32)), to_sitk(moving.astype(np.float32))
    method = sitk.ImageRegistrationMethod()
    if metric == "mae":  # SimpleITK has no MAE: mean squares is its same-modality metric
        method.SetMetricAsMeanSquares()
    else:
        method.SetMetricAsCorrelation()
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.2, 1)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=1e-4, numberOfIterations=300,
                                                    gradientMagnitudeTolerance=1e-8)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2, 1, 0])
    start = sitk.CenteredTransformInitializer(fixed_s, moving_s, sitk.Euler3DTransform(),
                                              sitk.CenteredTransformInitializerFilter.MOMENTS)
    method.SetInitialTransform(start, inPlace=False)
    found = method.Execute(fixed_s, moving_s)
    # the transform maps fixed points to moving points: read it off four points
    points = np.vstack([np.zeros(3), 50 * np.eye(3)])
    mapped = np.array([found.TransformPoint(tuple(p)) for p in points])
    fixed_to_moving = np.eye(4)
    fixed_to_moving[:3, :3] = (mapped[1:] - mapped[0]).T / 50
    fixed_to_moving[:3, 3] = mapped[0]
    return np.linalg.inv(fixed_to_moving)


def main() -> int:
    # one object, one blur: the edges are as wide as the coarsest voxel of all the grids
    edge_mm = max(max(spacing) for *_, spacing, _ in CASES)
    fixed = head((110, 120, 110), spacing=1.5, edge_mm=edge_mm, chunks=(64, 64, 64)).persist()
    lines = [
        "| case | cost | tool | rotation error (deg) | translation error (mm) | seconds | time / bmia_dask |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for k, (angles, shift, spacing, orientation) in enumerate(CASES, start=1):
        truth = rigid(*angles, translation_mm=shift)
        extent = np.array([165.0, 180.0, 165.0])
        moving = head(tuple(int(v) for v in extent / spacing), spacing=spacing, direction=rotation(*orientation),
                      transform=truth, edge_mm=edge_mm, chunks=(64, 64, 64)).persist()
        for cost in ("mae", "ncc"):
            timings = {}
            for tool in ("bmia_dask", "SimpleITK"):
                start = time.perf_counter()
                if tool == "bmia_dask":
                    found = bd.register(moving, fixed, transform="rigid", cost=cost).transform
                else:
                    found = _sitk_register(moving, fixed, cost)
                timings[tool] = time.perf_counter() - start
                residual = np.linalg.inv(found) @ truth
                label = f"{cost}" if tool == "bmia_dask" else ("mean squares" if cost == "mae" else "correlation")
                lines.append(
                    f"| {k}: {angles} deg, {shift} mm | {label} | {tool} | {rotation_degrees(residual):.3f} | "
                    f"{np.linalg.norm(residual[:3, 3]):.3f} | {timings[tool]:.2f} | "
                    f"{timings[tool] / timings['bmia_dask']:.2f} |"
                )
                print(lines[-1], flush=True)
    print()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
