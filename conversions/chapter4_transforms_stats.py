"""Chapter 4 of the course: shift, rotate, affine transforms, resampling, interpolation;
compare images (MAE, IoU); t-tests over a cohort, normalised for head size.

Original recipe: scipy.ndimage, NumPy and scipy.stats / pandas in memory.
bmia_dask: the same head slice in a chunked store, transforms that read only what
each output chunk needs, lazy costs, ``bd.register`` doing the search that the
course does by hand, and ``bd.cohort`` measuring a cohort of stores.

    python conversions/chapter4_transforms_stats.py [--out DIR] [--small]
"""

import os

import numpy as np
import pandas as pd
import scipy.ndimage as ndi
import zarr
from scipy.stats import ttest_ind

import bmia_dask as bd
from _recipe import Recipe


def intersection_of_union(im1, im2):
    i = np.logical_and(im1, im2)
    u = np.logical_or(im1, im2)
    return i.sum() / u.sum()


def main(argv=None) -> int:
    recipe = Recipe("chapter4", "Chapter 4: transforms, resampling, MAE, IoU, t-tests, normalisation", argv)
    size = 128 if recipe.small else 256
    spacing = 256 / size  # the same head, in mm, whatever the matrix
    # a head slice off-centre and tilted, as the course's
    placed = bd.phantoms.rigid(0, 0, 12, translation_mm=(14.0, 10.0, 0.0))
    head1 = bd.phantoms.head((1, size, size), spacing=spacing, transform=placed)[0]  # an image in mm
    im = head1.values.astype(np.float64)
    store = bd.to_zarr(bd.from_array(im), recipe.path("head.ome.zarr"), chunks=(40, 40), overwrite=True)
    image = bd.open_image(store)  # voxel units here, as the course's array
    tolerance = 1e-5 * float(np.ptp(im))  # splines of order > 1: computed chunk by chunk, to rounding

    recipe.section("centre of mass, shift to the centre (ndi | bd.transform)")
    com = ndi.center_of_mass(im)
    recipe.check("centre of mass (index)", com, bd.measure.center_of_mass(image), atol=1e-9)
    d0, d1 = size / 2 - com[0], size / 2 - com[1]
    xfm = ndi.shift(im, shift=[d0, d1])
    centred = bd.transform.shift(image, (d0, d1))
    recipe.check("shift to the centre", xfm, centred, atol=tolerance)

    recipe.section("shift and rotate")
    xfm = ndi.rotate(ndi.shift(im, shift=[-20, -20]), angle=-30, reshape=False)
    ours = bd.transform.rotate(bd.transform.shift(image, (-20, -20)), -30, reshape=False)
    recipe.check("shift (-20, -20), rotate -30 degrees", xfm, ours, atol=tolerance)
    bd.plot.overlay(ours, mask=ours > 0.3, path=recipe.figure("shifted_rotated.png"),
                    title="shifted (-20, -20), rotated -30 degrees")

    recipe.section("affine transforms (homogeneous matrices)")
    scale = size / 256  # the course's offsets are for a 256 x 256 image
    matrices = {
        "identity": np.identity(3),
        "mat_2": np.array([[1.5, -0.8, 60 * scale], [0.8, 1.5, -140 * scale], [0, 0, 1]]),
        "mat_3": np.array([[1, -0.3, 60 * scale], [-0.3, 1, 60 * scale], [0, 0, 1]]),
        "mat_4": np.array([[0.8, -0.4, 90 * scale], [0.4, 0.8, -6 * scale], [0, 0, 1]]),
    }
    for name, matrix in matrices.items():
        recipe.check(f"affine_transform, {name}", ndi.affine_transform(im, matrix),
                     bd.transform.affine_transform(image, matrix), atol=tolerance)

    recipe.section("resampling and interpolation: zoom")
    level = ndi.rotate(ndi.shift(im, shift=[-20, -20]), angle=-35, reshape=False)
    levelled = bd.transform.rotate(bd.transform.shift(image, (-20, -20)), -35, reshape=False)
    recipe.check("zoom 0.25 (downsample)", ndi.zoom(level, zoom=0.25), bd.transform.zoom(levelled, 0.25),
                 atol=tolerance)
    recipe.check("zoom 4 (upsample)", ndi.zoom(level, zoom=4), bd.transform.zoom(levelled, 4), atol=tolerance)
    up = ndi.zoom(im, zoom=0.5)
    small = bd.transform.zoom(image, 0.5)
    recipe.check("zoom 0.5 then 4, order 0", ndi.zoom(up, zoom=4, order=0), bd.transform.zoom(small, 4, order=0),
                 atol=tolerance)
    recipe.check("zoom 0.5 then 4, order 5", ndi.zoom(up, zoom=4, order=5), bd.transform.zoom(small, 4, order=5),
                 atol=tolerance)
    in_mm = bd.from_array(im, spacing=spacing)
    resampled = bd.transform.resample(in_mm, spacing_mm=2 * spacing)
    print(f"     in millimetres: bd.transform.resample(image, spacing_mm={2 * spacing:g}) -> shape "
          f"{resampled.shape}, spacing {resampled.attrs['spacing']}")

    recipe.section("comparing images: MAE and IoU")
    moved = bd.phantoms.rigid(0, 0, 15, translation_mm=(10.0, -10.0, 0.0)) @ placed
    im1 = im
    head2 = bd.phantoms.head((1, size, size), spacing=spacing, transform=moved)[0]
    im2 = head2.values.astype(np.float64)
    image1, image2 = image, bd.from_array(im2, chunks=(50, 50))
    recipe.check("MAE = np.mean(np.abs(im1 - im2))", np.mean(np.abs(im1 - im2)), bd.compare.mae(image1, image2),
                 atol=1e-12)
    mask1, mask2 = im1 > 0.3, im2 > 0.3
    recipe.check("IoU of the head masks", intersection_of_union(mask1, mask2),
                 bd.compare.iou(image1 > 0.3, image2 > 0.3), atol=1e-12)
    candidates = {"shift (-10, -10), rotate -15": ((-10, -10), -15), "shift (10, 10), rotate -15": ((10, 10), -15),
                  "shift (10, 10), rotate 15": ((10, 10), 15), "shift (-10, -10), rotate 15": ((-10, -10), 15)}
    scores, ours = [], []
    for name, (offset, angle) in candidates.items():
        transformed = ndi.rotate(ndi.shift(im1, offset), angle, reshape=False)
        scores.append(intersection_of_union(transformed > 0.3, mask2))
        mine = bd.transform.rotate(bd.transform.shift(image1, offset), angle, reshape=False)
        ours.append(float(bd.compare.iou(mine > 0.3, image2 > 0.3)))
    recipe.check("IoU of the four candidate transforms", scores, ours, atol=1e-12)
    recipe.check("the best candidate", int(np.argmax(scores)), int(np.argmax(ours)))
    result = bd.register(head2, head1, cost="mae")  # in patient space (mm), the images' own geometry
    truth = np.linalg.inv(placed) @ moved  # what takes im2's content onto im1's
    residual = np.linalg.inv(result.transform) @ truth
    recipe.check("bd.register finds the rotation (degrees)", 15.0,
                 bd.registration.rotation_degrees(result.transform), atol=0.5,
                 note=f"left over: {bd.registration.rotation_degrees(residual):.2f} deg, "
                      f"{np.linalg.norm(residual[:3, 3]):.2f} mm")
    result.plot(path=recipe.figure("registration.png"))

    recipe.section("t-tests over a cohort, and normalisation")
    folder = recipe.path("cohort")
    cohort = bd.phantoms.write_cohort(folder, n=16 if recipe.small else 40)
    manifest = pd.read_csv(cohort["manifest"])
    # the original recipe: every subject in memory, voxels counted with ndi.sum
    rows = []
    for subject in manifest.itertuples():
        labels = zarr.open_array(os.path.join(subject.labels, "0"), mode="r")[:]
        voxel = float(np.prod(bd.open_image(subject.labels).attrs["spacing"]))
        brain, skull = ndi.sum(1, labels, index=[1, 2])
        rows.append({"id": subject.id, "sex": subject.sex, "alzheimers": subject.group == "AD",
                     "brain_vol": brain * voxel, "skull_vol": skull * voxel})
    df = pd.DataFrame(rows)
    brain_alz = df.loc[df.alzheimers == True, "brain_vol"]  # noqa: E712 (the course's spelling)
    brain_typ = df.loc[df.alzheimers == False, "brain_vol"]  # noqa: E712
    results = ttest_ind(brain_alz, brain_typ)
    # bmia_dask: measured store by store (on a cluster when one is running)
    table = bd.cohort.measure(cohort["manifest"], out=recipe.path("cohort_table.csv"))
    raw = bd.cohort.compare(table, "volume_mm3_label1", "group")
    recipe.check("brain volumes (mm3) per subject", df["brain_vol"],
                 bd.cohort.wide(table).set_index("id").loc[df["id"], "volume_mm3_label1"], atol=1e-6)
    recipe.check("t, p of raw brain volume (AD vs CN)", [results.statistic, results.pvalue], [raw.t, raw.p],
                 atol=1e-9)
    df["brain_norm"] = df.brain_vol / df.skull_vol
    normalised = ttest_ind(df.loc[df.alzheimers, "brain_norm"], df.loc[~df.alzheimers, "brain_norm"])
    ours = bd.cohort.compare(table, "volume_mm3_label1", "group", normalize_by="volume_mm3_label2")
    recipe.check("t, p of brain / skull volume", [normalised.statistic, normalised.pvalue], [ours.t, ours.p],
                 atol=1e-9)
    recipe.check("correlation of brain and skull volume", df[["brain_vol", "skull_vol"]].corr().iloc[0, 1],
                 ours.correlations.loc["volume_mm3_label1", "volume_mm3_label2"], atol=1e-12)
    print(f"     raw: p = {raw.p:.3g}; normalised by the skull: p = {ours.p:.3g} (the AD group has more men, "
          "with larger heads)")
    ours.plot(path=recipe.figure("brain_by_group.png"))
    return recipe.finish()


if __name__ == "__main__":
    raise SystemExit(main())
