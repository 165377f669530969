"""Put two scans of one subject into one physical space and compare them there.

    python examples/register_scans.py MOVING FIXED
    python examples/register_scans.py          # a phantom pair with a known transform
"""

import json
import sys

import numpy as np

import bmia_dask as bd

if len(sys.argv) == 3:
    moving, fixed = (bd.open_image(url) for url in sys.argv[1:])
    truth = None
else:
    pair = bd.phantoms.write_pair("example-pair")  # other spacing and orientation on each side
    moving, fixed = bd.open_image(pair["moving"]), bd.open_image(pair["fixed"])
    truth = np.array(pair["matrix_lps_mm"])

print("MAE before:", float(bd.compare.mae(fixed, moving)), "(on the overlap of the two grids)")
result = bd.register(moving, fixed, transform="rigid", cost="mae")
aligned = result.apply()  # lazy: moving resampled onto fixed's grid
print("MAE after: ", float(bd.compare.mae(fixed, aligned)))
print(json.dumps({k: v for k, v in result.to_dict().items() if k != "matrix_lps_mm"}, indent=1))
if truth is not None:
    residual = np.linalg.inv(result.transform) @ truth
    print(f"left over: {bd.registration.rotation_degrees(residual):.3f} degrees, "
          f"{np.linalg.norm(residual[:3, 3]):.3f} mm")
result.save("example-transform.json")
result.plot(path="example-registration.png")
bd.to_zarr(aligned, "example-aligned.ome.zarr", overwrite=True)
