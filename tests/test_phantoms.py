"""Phantoms: their files carry the geometry and values they claim."""

import numpy as np
import pydicom
import pytest

import bmia_dask as bd


def test_ct_phantom_truth(ct_folder):
    folder, truth = ct_folder
    values = truth["values"]
    assert set(np.unique(values)) <= {-1000, -850, 40, 60, 700}
    assert (values == 60).sum() == truth["lesion_voxels"] > 0
    ds = pydicom.dcmread(truth["files"][0])
    assert ds.RescaleIntercept == -1024 and ds.BitsStored == 12


def test_cine_phantom_volumes_follow_the_ejection_fraction(cine_folder):
    _, truth = cine_folder
    volumes = np.asarray(truth["volumes_ml"])
    assert volumes.argmax() == 0
    assert (volumes.max() - volumes.min()) / volumes.max() == pytest.approx(truth["ef"], abs=0.03)


def test_values_that_do_not_fit_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not representable"):
        bd.phantoms.write_series(np.full((2, 4, 4), 0.3), tmp_path)
