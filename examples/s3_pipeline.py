"""A pipeline on object storage: DICOM -> store on S3 -> smooth, label, measure -> labels on S3.

    python examples/s3_pipeline.py s3://bucket/prefix

Credentials and endpoint come from the standard AWS environment variables, as for
boto3 and s3fs: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``,
and ``AWS_ENDPOINT_URL`` for S3-compatible servers (MinIO, Ceph, moto). Nothing is
downloaded whole: every step reads and writes chunk by chunk, and every store
appears only once complete.
"""

import sys

import bmia_dask as bd

prefix = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else sys.exit(__doc__)

bd.phantoms.write_ct("example-dicom", shape=(40, 128, 128))
[url] = bd.convert("example-dicom", f"{prefix}/stores", overwrite=True)  # written to S3 directly
image = bd.open_image(url)
smooth = bd.filters.gaussian_filter(image, sigma_mm=1.5)
labels, n = bd.label(smooth > 300)  # bone: the spine
bd.to_zarr(labels, f"{prefix}/labels.ome.zarr", overwrite=True)
table = bd.regionprops_table(bd.open_image(f"{prefix}/labels.ome.zarr"), image)
print(f"objects: {int(n)} in {url}")
print(table[["label", "volume_mm3", "mean", "centroid_z_mm", "centroid_y_mm", "centroid_x_mm"]].round(1)
      .to_string(index=False))
