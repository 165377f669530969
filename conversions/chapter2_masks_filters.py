"""Chapter 2 of the course: intensity, histograms, equalisation, masks, filters, edges.

Original recipe: imageio + scipy.ndimage on a hand radiograph in memory.
bmia_dask: the same image in a chunked store (64 x 64 chunks cut every bone);
each step lazy, each answer compared with scipy's.

    python conversions/chapter2_masks_filters.py [--out DIR] [--small]
"""

import imageio.v2 as imageio
import numpy as np
import scipy.ndimage as ndi

import bmia_dask as bd
from _recipe import Recipe


def main(argv=None) -> int:
    recipe = Recipe("chapter2", "Chapter 2: intensity, histograms, equalisation, masks, filters, edges", argv)
    png = recipe.path("hand.png")
    imageio.imwrite(png, bd.phantoms.radiograph((128, 128) if recipe.small else (512, 512)))
    im = imageio.imread(png)
    store = bd.to_zarr(bd.from_array(imageio.imread(png)), recipe.path("hand.ome.zarr"), chunks=(48, 48),
                       overwrite=True)
    image = bd.open_image(store)

    recipe.section("intensity: dtype, min, max")
    recipe.check("min, max", [im.min(), im.max()], bd.intensity.value_range(image))
    print(f"     dtype: {im.dtype} | {image.dtype}")

    recipe.section("histogram and CDF: ndi.histogram | bd.intensity.histogram")
    hist = ndi.histogram(im, min=0, max=255, bins=256)
    cdf = hist.cumsum() / hist.sum()
    recipe.check("histogram, 256 bins", hist, bd.intensity.histogram(image, 0, 255, 256))
    recipe.check("CDF", cdf, bd.intensity.cdf(image, 0, 255, 256), atol=1e-15)
    bd.plot.histogram(image, bins=256, min=0, max=255, path=recipe.figure("histogram_cdf.png"))

    recipe.section("equalisation: cdf[im] * 255 | bd.intensity.equalize_hist")
    im_equalized = cdf[im] * 255
    equalized = bd.intensity.equalize_hist(image, min=0, max=255)
    recipe.check("equalised image", im_equalized, equalized, atol=1e-9)

    recipe.section("masks: comparisons, np.where, dilation, closing")
    mask_skin = (im_equalized >= 45) & (im_equalized < 145)
    mask_bone = im_equalized >= 145
    recipe.check("skin mask", mask_skin, (equalized >= 45) & (equalized < 145))
    recipe.check("bone mask", mask_bone, bd.masks.threshold(equalized, low=145))
    im_bone = np.where(mask_bone, im, 0)
    bone = bd.masks.apply(image, equalized >= 145)
    recipe.check("masked image (np.where)", im_bone, bone)
    recipe.check("histogram of bone (min=1)", ndi.histogram(im_bone, min=1, max=255, bins=255),
                 bd.intensity.histogram(bone, 1, 255, 255))
    mask_dilate = ndi.binary_dilation(mask_bone, iterations=5)
    mask_closed = ndi.binary_closing(mask_bone, iterations=5)
    recipe.check("binary_dilation, 5 iterations", mask_dilate,
                 bd.morphology.binary_dilation(equalized >= 145, iterations=5))
    recipe.check("binary_closing, 5 iterations", mask_closed,
                 bd.morphology.binary_closing(equalized >= 145, iterations=5))
    bd.plot.overlay(image, mask=bd.morphology.binary_closing(equalized >= 145, iterations=5),
                    path=recipe.figure("bone_mask.png"), title="bone mask, closed")

    recipe.section("filters: convolve, gaussian_filter")
    weights = [[0.11, 0.11, 0.11], [0.11, 0.11, 0.11], [0.11, 0.11, 0.11]]
    recipe.check("mean filter (ndi.convolve)", ndi.convolve(im, weights), bd.filters.convolve(image, weights))
    for sigma in (1, 3):
        recipe.check(f"gaussian_filter, sigma={sigma}", ndi.gaussian_filter(im_equalized, sigma=sigma),
                     bd.filters.gaussian_filter(equalized, sigma=sigma), atol=1e-9)

    recipe.section("edges: convolve, sobel, magnitude")
    vertical = [[1, 0, -1], [1, 0, -1], [1, 0, -1]]
    recipe.check("vertical edges (ndi.convolve)", ndi.convolve(im_equalized, vertical),
                 bd.filters.convolve(equalized, vertical), atol=1e-9)
    hand = im.astype(np.float64)  # the course's float copy, so that the sobel can go negative
    sobel_ax0 = ndi.sobel(hand, axis=0)
    sobel_ax1 = ndi.sobel(hand, axis=1)
    edges = np.sqrt(np.square(sobel_ax0) + np.square(sobel_ax1))
    as_float = image.astype(np.float64)
    recipe.check("sobel, axis 0", sobel_ax0, bd.filters.sobel(as_float, axis=0), atol=1e-9)
    recipe.check("sobel, axis 1", sobel_ax1, bd.filters.sobel(as_float, axis=1), atol=1e-9)
    magnitude = bd.filters.edge_magnitude(as_float)
    recipe.check("edge magnitude", edges, magnitude, atol=1e-9)
    bd.plot.overlay(image, distance=magnitude, colorbar_label="edge magnitude", path=recipe.figure("edges.png"),
                    title="Sobel edge magnitude on the radiograph")
    return recipe.finish()


if __name__ == "__main__":
    raise SystemExit(main())
