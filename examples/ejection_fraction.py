"""Ejection fraction of a short-axis cine: a DICOM folder or store in, numbers and figures out.

    python examples/ejection_fraction.py CINE [OUT]
    python examples/ejection_fraction.py              # a cine phantom with EF 0.55
"""

import sys

import bmia_dask as bd

if len(sys.argv) > 1:
    source = sys.argv[1]
else:
    source = "example-cine"
    truth = bd.phantoms.write_cine(source, ef=0.55, n_frames=16)
    print(f"phantom: EF {truth['ef']:.3f}, EDV {truth['edv_ml']:.1f} mL")
out = sys.argv[2] if len(sys.argv) > 2 else "example-ef"

result = bd.ejection_fraction(source)  # finds the LV, follows it through the frames
print(f"EF {result.ef:.3f} ({result.category}), EDV {result.edv_ml:.1f} mL at frame {result.ed_index}, "
      f"ESV {result.esv_ml:.1f} mL at frame {result.es_index}")
print(result.volumes_ml.round(1).to_string())
for path in result.save(out):  # ef.json, volumes.csv, volume_curve.png, ed_es_slices.png
    print("wrote", path)
