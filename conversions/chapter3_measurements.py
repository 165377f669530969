"""Chapter 3 of the course: label objects, select the left ventricle, measure it, and
follow its volume through the heartbeat to the ejection fraction.

Original recipe: scipy.ndimage on a cine held in memory (one slice, one volume,
a loop over the frames). bmia_dask: the same cine as a chunked OME-Zarr store,
lazy operations, and finally ``bd.ejection_fraction``, which does all of it on
its own.

    python conversions/chapter3_measurements.py [--out DIR] [--small]
"""

import os

import numpy as np
import scipy.ndimage as ndi

import bmia_dask as bd
from _recipe import Recipe, boxes, canonical

THRESHOLD = 400  # blood (600) against myocardium (120) and tissue (250); the course's 60 on its scale


def main(argv=None) -> int:
    recipe = Recipe("chapter3", "Chapter 3: labels, objects, measurements, distance, volume over time, EF", argv)
    folder = recipe.path("dicom")
    if recipe.small:
        truth = bd.phantoms.write_cine(folder, n_frames=8, shape=(8, 40, 40), spacing=(8.0, 3.0, 3.0), edv_ml=40)
    else:
        truth = bd.phantoms.write_cine(folder, n_frames=20)
    chunks = (1, 3, 16, 16) if recipe.small else (1, 5, 32, 32)
    [store] = bd.convert(folder, recipe.path("stores"), chunks=chunks, overwrite=True)
    cine = bd.open_image(store)  # (t, z, y, x), t in ms, chunks cutting the heart
    vol_ts = truth["values"]     # the original recipe's array in memory
    recipe.check("the cine in memory and in the store", vol_ts, cine)
    ed = truth["ed_index"]
    cz, cy, cx = (int(round(c)) for c in truth["lv_centre_index"])
    centre_mm = {d: float(cine[d][i]) for d, i in zip("zyx", (cz, cy, cx))}

    recipe.section("one slice: filter, mask, label (ndi | bd)")
    heartbeat = vol_ts[ed, cz]
    slice_ = cine.isel(t=ed, z=cz)
    im_filt = ndi.median_filter(heartbeat, size=3)
    filtered = bd.filters.median_filter(slice_, size=3)
    recipe.check("median_filter, size 3", im_filt, filtered)
    mask_start = np.where(im_filt > THRESHOLD, 1, 0)
    mask = ndi.binary_closing(mask_start)
    closed = bd.morphology.binary_closing(filtered > THRESHOLD)
    recipe.check("mask > threshold, binary_closing", mask, closed)
    labels, nlabels = ndi.label(mask)
    ours, n = bd.label(closed)
    recipe.check("number of labels", nlabels, int(n))
    recipe.check("labels (up to numbering)", canonical(labels), canonical(ours))
    lv_val = labels[cy, cx]
    lv_ours = bd.measure.label_at(ours, y=centre_mm["y"], x=centre_mm["x"])  # in mm, not indices
    lv_mask = np.where(labels == lv_val, 1, 0)
    recipe.check("LV mask (label under the centre)", lv_mask, ours == lv_ours)
    bboxes = ndi.find_objects(lv_mask)
    ours_boxes = bd.measure.find_objects(ours)
    recipe.check("LV bounding box (find_objects)", boxes(bboxes), boxes([ours_boxes[lv_ours - 1]]))
    recipe.check("image cropped to the box", heartbeat[bboxes[0]], bd.measure.extract(slice_, ours, lv_ours))
    bd.plot.overlay(slice_, labels=ours, path=recipe.figure("labels_overlay.png"), title="labels on one slice")

    recipe.section("one volume: variance, histograms, volume, distance, centre of mass")
    vol = vol_ts[ed]
    frame = cine.isel(t=ed)
    # LV = 1, the other bright tissue = 2, as the course's labels
    bright = ndi.binary_closing(ndi.median_filter(vol, size=3) > THRESHOLD)
    parts, _ = ndi.label(bright)
    vol_labels = np.where(parts == parts[cz, cy, cx], 1, np.where(bright, 2, 0))
    bright_ours = bd.morphology.binary_closing(bd.filters.median_filter(frame, size=3) > THRESHOLD)
    parts_ours, _ = bd.label(bright_ours)
    lv_label = bd.measure.label_at(parts_ours, **centre_mm)
    labels_ours = bd.like(frame, np.where(parts_ours.data == lv_label, 1, np.where(bright_ours.data, 2, 0)))
    recipe.check("labels LV = 1, other = 2", vol_labels, labels_ours)
    recipe.check("variance, all voxels", ndi.variance(vol), bd.measure.variance(frame), atol=1e-6)
    recipe.check("variance, labelled voxels", ndi.variance(vol, vol_labels > 0),
                 bd.measure.variance(frame, labels_ours > 0), atol=1e-6)
    recipe.check("variance per object [1, 2]", ndi.variance(vol, vol_labels, index=[1, 2]),
                 bd.measure.variance(frame, labels_ours, index=[1, 2]), atol=1e-6)
    recipe.check("histogram, label 1", ndi.histogram(vol, 0, 1000, 100, labels=vol_labels, index=1),
                 bd.intensity.histogram(frame, 0, 1000, 100, labels=labels_ours, index=1))
    d0, d1, d2 = cine.attrs["spacing"]
    nvoxels = ndi.sum(1, vol_labels, index=1)
    table = bd.regionprops_table(labels_ours, frame)
    recipe.check("LV volume (mm3): voxels x voxel volume", nvoxels * d0 * d1 * d2,
                 table.set_index("label").loc[1, "volume_mm3"], atol=1e-6)
    lv = np.where(vol_labels == 1, 1, 0)
    dists = ndi.distance_transform_edt(lv, sampling=(d0, d1, d2))
    distance = bd.distance_transform_edt(labels_ours == 1)
    recipe.check("distance transform (mm)", dists, distance, atol=1e-9)
    recipe.check("max distance (mm)", ndi.maximum(dists), bd.measure.maximum(distance), atol=1e-9)
    recipe.check("where it is (index)", ndi.maximum_position(dists), bd.measure.maximum_position(distance))
    recipe.check("centres of mass [1, 2] (index)", ndi.center_of_mass(vol, vol_labels, index=[1, 2]),
                 bd.measure.center_of_mass(frame, labels_ours, index=[1, 2]), atol=1e-9)
    bd.plot.overlay(frame, distance=distance, at_mm=centre_mm["z"], path=recipe.figure("distance.png"),
                    title="distance to the LV wall (mm)")

    recipe.section("volume over time: a loop over frames | one labelling of the 4D mask")
    n_frames = vol_ts.shape[0]
    ts = np.zeros(n_frames)
    for t in range(n_frames):
        mask_t = ndi.binary_closing(ndi.median_filter(vol_ts[t], size=3) > THRESHOLD)
        labels_t, _ = ndi.label(mask_t)
        ts[t] = ndi.sum(1, labels_t, index=labels_t[cz, cy, cx]) * d0 * d1 * d2
    mask_4d = bd.morphology.binary_closing(bd.filters.median_filter(cine, size=3) > THRESHOLD)
    labels_4d, _ = bd.label(mask_4d, dims=("z", "y", "x"))  # each frame labelled on its own
    at_centre = labels_4d.isel(z=cz, y=cy, x=cx).values
    sizes = bd.regionprops_table(labels_4d).set_index("label")["volume_mm3"]
    volumes = np.array([sizes.get(k, 0.0) for k in at_centre])
    recipe.check("LV volume per frame (mm3)", ts, volumes, atol=1e-6)
    recipe.check("frames of max and min volume", [np.argmax(ts), np.argmin(ts)], [volumes.argmax(), volumes.argmin()])
    ej_frac = (ts.max() - ts.min()) / ts.max()
    recipe.check("ejection fraction (voxel counts)", ej_frac, (volumes.max() - volumes.min()) / volumes.max(),
                 atol=1e-12)

    recipe.section("the automatic method: bd.ejection_fraction(store)")
    result = bd.ejection_fraction(store)
    result.save(recipe.path("ef"))
    recipe.figures += [os.path.join(recipe.path("ef"), name) for name in ("volume_curve.png", "ed_es_slices.png")]
    recipe.check("EF against the phantom's analytic truth", truth["ef"], result.ef, atol=0.03,
                 note=f"voxel-count recipe gave {ej_frac:.3f}; partial volumes counted gives {result.ef:.3f}")
    recipe.check("EDV (mL) against the truth, within 10%", truth["edv_ml"], result.edv_ml, atol=0.1 * truth["edv_ml"])
    return recipe.finish()


if __name__ == "__main__":
    raise SystemExit(main())
