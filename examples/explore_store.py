"""Open a store lazily, look at its geometry, select in millimetres, draw it.

    python examples/explore_store.py STORE [OUT]
    python examples/explore_store.py                 # a CT phantom
"""

import os
import sys

import bmia_dask as bd

if len(sys.argv) > 1:
    url = sys.argv[1]
else:
    bd.phantoms.write_ct("example-dicom", shape=(40, 128, 128))
    [url] = bd.convert("example-dicom", "example-stores", overwrite=True)
out = sys.argv[2] if len(sys.argv) > 2 else "example-figures"
os.makedirs(out, exist_ok=True)

image = bd.open_image(url)  # nothing is read yet
geo = bd.geometry(image)
print(image.dims, image.shape, image.dtype, "chunks", image.data.chunksize)
print("spacing (mm)", geo.spacing, "origin (LPS mm)", geo.origin)
print("field of view (mm)", [n * s for n, s in zip(image.shape, image.attrs["spacing"])])

middle = image.sel(z=float(image.z.mean()), method="nearest")  # one slice, chosen in mm
print("middle slice at z =", float(middle.z), "mm; its range", float(middle.min()), "to", float(middle.max()))

bd.plot.orthogonal_views(image, path=os.path.join(out, "views.png"))  # to scale, from the spacing
bd.plot.slice_grid(image, n=12, path=os.path.join(out, "slices.png"))
bd.plot.histogram(image, bins=200, log=True, path=os.path.join(out, "histogram.png"))
lungs = bd.morphology.binary_opening(image < -500, iterations=1) & (image > -990)
bd.plot.overlay(image, mask=lungs, path=os.path.join(out, "lungs.png"))
print("figures in", out)
