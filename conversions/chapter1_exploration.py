"""Chapter 1 of the course: load DICOM, read its metadata, the field of view, plot it.

Original recipe: imageio.imread / volread + NumPy + matplotlib, one array in memory.
bmia_dask: the series converted into an OME-Zarr store and opened lazily; every
number printed side by side.

    python conversions/chapter1_exploration.py [--out DIR] [--small]
"""

import os

import imageio.v2 as imageio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import bmia_dask as bd  # noqa: E402
from _recipe import Recipe  # noqa: E402


def main(argv=None) -> int:
    recipe = Recipe("chapter1", "Chapter 1: exploration, metadata, field of view, plotting", argv)
    shape = (12, 64, 64) if recipe.small else (60, 256, 256)
    folder = recipe.path("dicom")
    if not os.path.isdir(folder):
        bd.phantoms.write_ct(folder, shape=shape, spacing=(2.5, 0.8, 0.8))
    # the store's chunks cut through every object, as a large volume's would
    [store] = bd.convert(folder, recipe.path("stores"), chunks=(5, 40, 40), overwrite=True)
    image = bd.open_image(store)

    recipe.section("one slice: imageio.imread(file) | bd.open_image(store).sel(z=...)")
    file = os.path.join(folder, sorted(os.listdir(folder))[0])
    im = imageio.imread(file)
    z_mm = float(im.meta["ImagePositionPatient"][2])
    plane = image.sel(z=z_mm, method="nearest")  # select in millimetres
    recipe.check("pixel values of the slice", im, plane)
    recipe.check("pixel spacing (mm)", im.meta["PixelSpacing"], image.attrs["spacing"][1:])
    recipe.check("rescale applied (HU): min", im.min(), plane.min())
    print("     imageio metadata keys:", ", ".join(sorted(im.meta.keys())[:8]), "...")
    print("     bmia_dask attrs:", ", ".join(sorted(image.attrs)))
    print("     patient name in imageio's metadata:", im.meta.get("PatientName"),
          "| stored by bmia_dask:", image.attrs["source"].get("PatientName"))

    recipe.section("a volume: imageio.volread(folder) | bd.open_image(store)")
    vol = imageio.volread(folder, "DICOM", progress=False)
    recipe.check("shape", vol.shape, image.shape)
    recipe.check("sampling (mm)", vol.meta["sampling"], image.attrs["spacing"])
    recipe.check("values (imageio's slices reversed)", vol[::-1], image,
                 note="imageio stacks by InstanceNumber, numbered against the position here; "
                      "bmia_dask orders by position along the slice normal")
    recipe.check("imageio's first slice is the last by position", vol[0], image.isel(z=-1))
    recipe.check("stack of three slices (np.stack)", np.stack([vol[-1], vol[-2], vol[-3]]), image[:3])

    recipe.section("field of view: shape * sampling")
    fov = np.multiply(vol.shape, vol.meta["sampling"])
    ours = [image.sizes[d] * s for d, s in zip(image.dims, image.attrs["spacing"])]
    recipe.check("field of view (mm)", fov, ours)
    extent = [float(image[d][-1] - image[d][0]) + s for d, s in zip(image.dims, image.attrs["spacing"])]
    recipe.check("field of view from the mm coords", fov, extent, atol=1e-9)

    recipe.section("plotting: plt.imshow | bd.plot")
    d0, d1, d2 = vol.meta["sampling"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    axes[0].imshow(vol[len(vol) // 2], cmap="gray", vmin=-200, vmax=200)
    axes[1].imshow(vol[:, vol.shape[1] // 2, :], cmap="gray", aspect=d0 / d2)
    axes[2].imshow(vol[:, :, vol.shape[2] // 2], cmap="gray", aspect=d0 / d1)
    for ax in axes:
        ax.axis("off")
    fig.savefig(recipe.figure("original_imshow.png"))
    views = bd.plot.orthogonal_views(image, path=recipe.figure("orthogonal_views.png"))
    bd.plot.slice_grid(image, n=12, columns=6, path=recipe.figure("slice_grid.png"))
    left, right, bottom, top = views.axes[1].images[0].get_extent()
    recipe.check("coronal view: height / width", vol.shape[0] * d0 / (vol.shape[2] * d2),
                 (top - bottom) / (right - left), atol=1e-12)
    recipe.check("display window -200..200 HU", np.clip(vol[::-1], -200, 200),
                 bd.intensity.window(image, level=0, width=400))
    return recipe.finish()


if __name__ == "__main__":
    raise SystemExit(main())
