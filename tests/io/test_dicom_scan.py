"""scan_dicom: series from headers only, with the problems found."""

import os
import shutil

import pydicom
import pytest

import bmia_dask as bd
from bmia_dask.io import dicom_read


def test_mixed_folder_gives_one_row_per_series(ct_folder, cine_folder, tmp_path, monkeypatch):
    shutil.copytree(ct_folder[0], tmp_path / "export" / "a")
    shutil.copytree(cine_folder[0], tmp_path / "export" / "b" / "deeper")
    (tmp_path / "export" / "notes.txt").write_text("not an image")
    monkeypatch.setattr(dicom_read, "_decode", lambda frame: pytest.fail("scan must not decode pixels"))
    with pytest.warns(bd.SkippedFileWarning, match="notes.txt: not a DICOM file"):
        table = bd.scan_dicom(tmp_path / "export")
    assert len(table) == 2
    by_modality = table.set_index("modality")
    assert by_modality.loc["CT", "shape"] == (12, 40, 48)
    assert by_modality.loc["CT", "n_files"] == 12
    assert by_modality.loc["CT", "spacing"] == pytest.approx((2.5, 0.75, 0.8), rel=1e-5)
    assert by_modality.loc["CT", "orientation"] == "axial"
    assert by_modality.loc["MR", "shape"] == (6, 8, 32, 32)
    assert table.ok.all() and not any(table.problems.map(len))
    # the phantom's truth.json is a sidecar, skipped without a word
    assert list(table.attrs["skipped"]) == [str(tmp_path / "export" / "notes.txt")]
    # PHI stays out of the table
    assert "Doe^Jane" not in table.to_string()


def test_problems_are_reported_not_raised(ct_folder, tmp_path):
    work = shutil.copytree(ct_folder[0], tmp_path / "ct")
    files = sorted(os.listdir(work), key=lambda f: float(pydicom.dcmread(work / f).ImagePositionPatient[2]))
    os.remove(work / files[6])
    table = bd.scan_dicom(work)
    assert not table.ok[0]
    assert "missing slice" in table.problems[0][0]


def test_one_uid_with_two_orientations_is_split(tmp_path, rng):
    from bmia_dask.phantoms import rotation, write_series

    values = rng.integers(0, 100, size=(3, 8, 8))
    write_series(values, tmp_path / "a", seed=1)
    write_series(values, tmp_path / "b", seed=1, direction=rotation(30, 0, 0))  # same UID, other orientation
    table = bd.scan_dicom(tmp_path)
    assert len(table) == 2
    assert table.series_uid[1] == table.series_uid[0] + "#2"
    assert set(table.orientation) == {"axial", "oblique"}


def test_folder_without_dicom(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.warns(bd.SkippedFileWarning), pytest.raises(bd.BadInputError, match="no DICOM images found"):
        bd.scan_dicom(tmp_path)


def test_missing_path():
    with pytest.raises(bd.BadInputError, match="not found"):
        bd.scan_dicom("/nonexistent/folder")
