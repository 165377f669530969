"""``bmia demo``: every stage end to end on built-in phantoms, no data, no network."""

from __future__ import annotations

import json
import os

import numpy as np

from . import cohort, filters, masks, morphology, phantoms, plot
from .cardiac import ejection_fraction
from .labels import label
from .measure import regionprops_table
from .registration import register, rotation_degrees
from .io.convert import convert
from .io.dicom_scan import scan_dicom
from .io.zarr_store import open_image
from .progress import progress_bar


def run_demo(out="bmia-demo", *, progress: bool = True, echo=print) -> dict:
    """Make phantoms, convert them, open the stores, write figures and a report.

    Returns the report (also written to ``<out>/report.json``).
    """
    say = echo or (lambda *a, **k: None)
    os.makedirs(out, exist_ok=True)
    report = {"out": os.path.abspath(out)}

    ct_dicom = os.path.join(out, "dicom", "ct")
    cine_dicom = os.path.join(out, "dicom", "cine")
    stores = os.path.join(out, "zarr")
    say(f"1. phantoms: an oblique chest CT and a short-axis cine MR as DICOM under {out}/dicom")
    ct_truth = phantoms.write_ct(ct_dicom, direction=phantoms.rotation(8, -5, 12))
    cine_truth = phantoms.write_cine(cine_dicom, direction=phantoms.rotation(25, -35, 10), ef=0.6)

    say("2. scan: series found from headers only")
    for folder in (ct_dicom, cine_dicom):
        for row in scan_dicom(folder).itertuples():
            say(f"   {row.modality} {row.description!r}: {row.n_files} files, shape {row.shape}, "
                f"spacing {row.spacing} mm, {row.orientation}, problems: {row.problems or 'none'}")

    say(f"3. convert: one OME-Zarr (zarr v3) store per series under {stores} (the CT with a 3-level pyramid)")
    urls = convert(ct_dicom, stores, overwrite=True, levels=3, progress=progress)
    urls += convert(cine_dicom, stores, overwrite=True, progress=progress)
    for url in urls:
        say(f"   {url}")

    say("4. open lazily and check against the truth")
    ct = open_image(urls[0])
    with progress_bar("CT checks", enabled=progress):
        values = ct.values
    lesion_voxels = int((values == 60).sum())
    voxel_mm3 = float(np.prod(ct.attrs["spacing"]))
    report["ct"] = {
        "store": urls[0],
        "shape": list(ct.shape),
        "spacing_mm": list(ct.attrs["spacing"]),
        "origin_lps_mm": list(ct.attrs["origin"]),
        "dtype": str(ct.dtype),
        "values_equal_truth": bool(np.array_equal(values, ct_truth["values"])),
        "origin_equal_truth": bool(np.allclose(ct.attrs["origin"], ct_truth["origin"], atol=1e-4)),
        "direction_equal_truth": bool(np.allclose(ct.attrs["direction"], ct_truth["direction"], atol=1e-6)),
        "lesion_volume_mm3": lesion_voxels * voxel_mm3,
        "lesion_volume_truth_mm3": ct_truth["lesion_volume_mm3"],
    }
    cine = open_image(urls[1])
    report["cine"] = {
        "store": urls[1],
        "dims": list(cine.dims),
        "shape": list(cine.shape),
        "t_ms": [float(t) for t in cine["t"].values],
        "values_equal_truth": bool(np.array_equal(cine.values, cine_truth["values"])),
    }
    for key in ("ct", "cine"):
        say(f"   {key}: " + ", ".join(f"{k}={v}" for k, v in report[key].items() if k != "store"))

    say("5. operations: smooth, threshold, label, measure (lazy, chunk by chunk)")
    smooth = filters.gaussian_filter(ct, sigma_mm=1.0)
    lungs, n_lungs = label(morphology.binary_opening(masks.threshold(smooth, low=-900, high=-700), iterations=2))
    lesion, n_lesion = label(masks.threshold(ct, low=50, high=100))
    with progress_bar("labels and measurements", enabled=progress):
        lung_table = regionprops_table(lungs, ct)
        lesion_table = regionprops_table(lesion, ct)
    big = lung_table[lung_table.volume_mm3 > 1000].sort_values("volume_mm3", ascending=False)
    report["measurements"] = {
        "lungs_found": int(len(big)),
        "lung_volumes_ml": [round(v / 1000, 2) for v in big.volume_mm3],
        "lung_mean_hu": [round(v, 1) for v in big["mean"]],
        "lesions_found": int(n_lesion),
        "lesion_volume_mm3": float(lesion_table.volume_mm3.sum()),
        "lesion_volume_truth_mm3": ct_truth["lesion_volume_mm3"],
        "lesion_centroid_mm": [float(lesion_table[f"centroid_{d}_mm"].iloc[0]) for d in "zyx"],
    }
    say("   " + ", ".join(f"{k}={v}" for k, v in report["measurements"].items()))
    centre_z = float(lesion_table["centroid_z_mm"].iloc[0])
    report["figures"] = [os.path.join(out, name) for name in ("ct_orthogonal_views.png", "ct_labels.png",
                                                               "ct_histogram.png")]
    plot.orthogonal_views(ct, path=report["figures"][0], title="phantom CT (HU), slices to scale in mm")
    plot.overlay(ct, labels=lungs, mask=lesion > 0, at_mm=centre_z, path=report["figures"][1],
                 title=f"lungs (labels) and the lesion (mask) at z = {centre_z:.1f} mm")
    plot.histogram(ct, bins=200, log=True, path=report["figures"][2], title="CT values (HU) and their CDF")

    say("6. ejection fraction: the LV segmented in every frame of the cine (one task per frame)")
    with progress_bar("LV, frame by frame", enabled=progress):
        ef = ejection_fraction(urls[1])
    ef_files = ef.save(os.path.join(out, "ef"))
    report["ejection_fraction"] = {
        "ef": round(ef.ef, 4),
        "ef_truth": round(cine_truth["ef"], 4),
        "category": ef.category,
        "edv_ml": round(ef.edv_ml, 2),
        "edv_truth_ml": round(cine_truth["edv_ml"], 2),
        "esv_ml": round(ef.esv_ml, 2),
        "esv_truth_ml": round(cine_truth["esv_ml"], 2),
        "ed_index": ef.ed_index,
        "es_index": ef.es_index,
    }
    say("   " + ", ".join(f"{k}={v}" for k, v in report["ejection_fraction"].items()))

    say("7. cohort: 40 brain-in-skull subjects measured subject-parallel, then AD vs CN")
    written = phantoms.write_cohort(os.path.join(out, "cohort"), n=40)
    table = cohort.measure(written["manifest"], out=os.path.join(out, "cohort", "table.csv"), progress=progress)
    report["cohort"] = {}
    for normalize_by in (None, "volume_mm3_label2"):
        result = cohort.compare(table, "volume_mm3_label1", "group", normalize_by=normalize_by)
        report["cohort"][result.label()] = {"t": round(result.t, 3), "p": float(f"{result.p:.3g}"),
                                            "mean": {g: float(f"{m:.4g}") for g, m in result.mean.items()}}
        say(f"   {result.label()}: t = {result.t:.2f}, p = {result.p:.3g}")
    cohort_figure = os.path.join(out, "cohort", "brain_by_group.png")
    result.plot(path=cohort_figure)
    say("   raw brain volumes hardly differ (AD's larger heads hide the atrophy); normalised by the skull they do")

    say("8. registration: a head seen by two scans (other spacing, tilted), aligned in patient space")
    pair = phantoms.write_pair(os.path.join(out, "pair"))
    truth = np.array(pair["matrix_lps_mm"])
    with progress_bar("pyramid levels", enabled=progress):
        registered = register(open_image(pair["moving"]), open_image(pair["fixed"]), transform="rigid", cost="mae")
    residual = np.linalg.inv(registered.transform) @ truth
    report["registration"] = {
        "rotation_deg": round(rotation_degrees(registered.transform), 3),
        "rotation_truth_deg": round(rotation_degrees(truth), 3),
        "error_deg": round(rotation_degrees(residual), 3),
        "error_mm": round(float(np.linalg.norm(residual[:3, 3])), 3),
        "mae_before": round(registered.initial_cost, 5),
        "mae_after": round(registered.cost, 5),
    }
    say("   " + ", ".join(f"{k}={v}" for k, v in report["registration"].items()))
    registration_figure = os.path.join(out, "pair", "registration.png")
    registered.plot(path=registration_figure)

    report["figures"] += [f for f in ef_files if f.endswith(".png")] + [cohort_figure, registration_figure]
    say("9. figures: " + ", ".join(report["figures"]))
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    say(f"report: {os.path.join(out, 'report.json')}")
    return report
