"""Convert every DICOM series under a folder (or s3:// URL) into OME-Zarr stores.

    python examples/convert_folder.py SRC DST        # your data
    python examples/convert_folder.py                # a CT phantom, into ./example-stores
"""

import sys

import bmia_dask as bd

if len(sys.argv) == 3:
    src, dst = sys.argv[1:]
else:
    src, dst = "example-dicom", "example-stores"
    bd.phantoms.write_ct(src, shape=(40, 128, 128))

table = bd.scan_dicom(src)  # headers only: one row per series, with any problems found
print(table[["series_uid", "modality", "description", "n_files", "shape", "spacing"]].to_string(index=False))

# one store per series, written atomically, with a 3-level pyramid for viewers
urls = bd.convert(src, dst, overwrite=True, levels=3, progress=True)
for url in urls:
    image = bd.open_image(url)
    print(url, image.dims, image.shape, "spacing (mm):", image.attrs["spacing"], "levels:", image.attrs["levels"])
