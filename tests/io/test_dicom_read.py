"""read_dicom against SimpleITK's series reader, pydicom's decoders and phantom truth."""

import os
import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file

import bmia_dask as bd
from bmia_dask.io import dicom_read
from bmia_dask.phantoms import rotation, write_series
from bmia_dask.testing import raise_if_dask_computes


def sitk_series(folder, files=None):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files or reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    return (
        sitk.GetArrayFromImage(image),
        image.GetSpacing()[::-1],  # (z, y, x)
        image.GetOrigin(),
        np.array(image.GetDirection()).reshape(3, 3),
    )


def assert_same_as_sitk(image, folder, files=None):
    values, spacing, origin, direction = sitk_series(folder, files)
    assert image.shape == values.shape
    np.testing.assert_allclose(image.attrs["spacing"], spacing, rtol=1e-5)
    np.testing.assert_allclose(image.attrs["origin"], origin, atol=1e-4)
    np.testing.assert_allclose(image.attrs["direction"], direction, atol=1e-5)
    np.testing.assert_allclose(image.values, values, rtol=1e-6)
    # the coords say the same as the affine
    geo = bd.geometry(image)
    k, j, i = (n - 1 for n in image.shape)
    corner = geo.affine @ [k, j, i, 1]
    sitk_corner = np.asarray(origin) + direction @ (np.array([i, j, k]) * np.asarray(spacing)[::-1])
    np.testing.assert_allclose(corner[:3], sitk_corner, atol=1e-3)


def signed_volume(shape, rng):
    return rng.integers(-2000, 2000, size=shape).astype(np.int16)


def test_axial_ct_shuffled_reversed_instances(ct_folder):
    folder, truth = ct_folder
    image = bd.read_dicom(folder)
    assert image.dims == ("z", "y", "x")
    assert image.dtype == np.int16  # 12-bit stored, intercept -1024
    assert image.attrs["units"] == "HU" and image.attrs["modality"] == "CT"
    np.testing.assert_array_equal(image.values, truth["values"])
    assert_same_as_sitk(image, folder)


def test_double_oblique_signed_mr(tmp_path, rng):
    values = signed_volume((9, 20, 24), rng)
    direction = rotation(20, -15, 30)
    write_series(values, tmp_path, spacing=(3.0, 1.1, 0.9), origin=(12.5, -40.0, 7.25), direction=direction,
                 modality="MR", bits_stored=16, signed=True)
    image = bd.read_dicom(tmp_path)
    assert image.dtype == np.int16
    np.testing.assert_array_equal(image.values, values)
    np.testing.assert_allclose(image.attrs["direction"], direction, atol=1e-6)
    assert_same_as_sitk(image, tmp_path)


def test_sagittal_stack(tmp_path, rng):
    values = rng.integers(0, 4000, size=(7, 30, 16)).astype(np.int16)
    # rows along P, columns down (towards I), slices along -L
    direction = np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], dtype=float)
    write_series(values, tmp_path, spacing=(4.0, 1.0, 1.2), origin=(30.0, -60.0, 80.0), direction=direction,
                 modality="MR")
    image = bd.read_dicom(tmp_path)
    np.testing.assert_array_equal(image.values, values)
    assert_same_as_sitk(image, tmp_path)


def test_slices_written_against_the_normal_are_flipped(tmp_path, rng):
    values = rng.integers(0, 4000, size=(6, 10, 12)).astype(np.int16)
    direction = np.diag([1.0, 1.0, -1.0])  # slice k goes down while the normal points up
    write_series(values, tmp_path, spacing=(2.0, 1.0, 1.0), origin=(0.0, 0.0, 50.0), direction=direction)
    image = bd.read_dicom(tmp_path)
    np.testing.assert_array_equal(image.values, values[::-1])
    np.testing.assert_allclose(image.attrs["origin"], (0.0, 0.0, 40.0), atol=1e-5)
    assert_same_as_sitk(image, tmp_path)


def test_rle_with_non_integer_rescale_is_float32(tmp_path, rng):
    raw = rng.integers(0, 4096, size=(5, 16, 16))
    values = raw * 0.5 - 10.25
    write_series(values, tmp_path, spacing=(1.5, 0.5, 0.5), slope=0.5, intercept=-10.25, modality="MR",
                 transfer_syntax=pydicom.uid.RLELossless)
    image = bd.read_dicom(tmp_path)
    assert image.dtype == np.float32
    np.testing.assert_array_equal(image.values, values.astype(np.float32))
    assert_same_as_sitk(image, tmp_path)


def test_cine_is_4d_with_trigger_times(cine_folder, tmp_path):
    folder, truth = cine_folder
    image = bd.read_dicom(folder)
    assert image.dims == ("t", "z", "y", "x")
    np.testing.assert_allclose(image["t"].values, truth["times_ms"])
    assert image["t"].attrs["units"] == "ms"
    np.testing.assert_array_equal(image.values, truth["values"])
    # every frame has the geometry SimpleITK gives the files of that frame
    for t in (0, 3):
        frame_files = [f for f in truth["files"] if int(pydicom.dcmread(f).TemporalPositionIdentifier) == t + 1]
        frame_dir = tmp_path / f"frame{t}"
        frame_dir.mkdir()
        for f in frame_files:
            shutil.copy(f, frame_dir)
        assert_same_as_sitk(image.isel(t=t), frame_dir)


def test_gantry_tilt_keeps_true_positions(tmp_path, rng):
    values = rng.integers(0, 4000, size=(6, 12, 12)).astype(np.int16)
    tilt = np.radians(10)
    direction = np.array([[1, 0, 0], [0, 1, np.sin(tilt)], [0, 0, np.cos(tilt)]])
    write_series(values, tmp_path, spacing=(3.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=direction)
    table = bd.scan_dicom(tmp_path)
    assert any("gantry tilt 10.00 deg" in p for p in table.problems[0])
    image = bd.read_dicom(tmp_path)
    affine = bd.geometry(image).affine
    for k in range(6):  # index k maps to the true position of slice k
        np.testing.assert_allclose(affine[:3] @ [k, 0, 0, 1], k * 3.0 * direction[:, 2], atol=1e-4)


@pytest.mark.parametrize(
    "name",
    ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "MR_small_bigendian.dcm",
     "JPEG-LL.dcm", "CT_small.dcm", "emri_small_jpeg_ls_lossless.dcm"],
)
def test_compressed_and_odd_files_decode_like_pydicom(name, tmp_path):
    path = get_testdata_file(name)
    shutil.copy(path, tmp_path / name)
    ds = pydicom.dcmread(path)
    expected = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    image = bd.read_dicom(tmp_path)
    values = image.values.reshape(expected.shape) if expected.ndim == 3 else image.values[..., 0, :, :].reshape(expected.shape)
    np.testing.assert_array_equal(values, expected)


def test_unsigned_16_bit_keeps_uint16(tmp_path, rng):
    values = rng.integers(0, 65536, size=(3, 8, 8)).astype(np.uint16)
    write_series(values, tmp_path, bits_stored=16, modality="MR")
    image = bd.read_dicom(tmp_path)
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image.values, values)


def test_reading_is_lazy_and_decodes_only_the_chunks_asked_for(ct_folder, monkeypatch):
    folder, truth = ct_folder
    decoded = []
    original = dicom_read._decode
    monkeypatch.setattr(dicom_read, "_decode", lambda frame: decoded.append(frame.url) or original(frame))
    with raise_if_dask_computes():
        image = bd.read_dicom(folder, chunks=3)
        part = (image[4:6, 10:20] + 1) * 2
    assert decoded == []
    np.testing.assert_array_equal(part.values, (truth["values"][4:6, 10:20] + 1) * 2)
    assert len(decoded) == 3  # one chunk of 3 slices (3..5)


def test_missing_slice_is_refused(ct_folder, tmp_path):
    folder, truth = ct_folder
    work = shutil.copytree(folder, tmp_path / "ct")
    middle = _file_at_slice(work, 5)
    os.remove(middle)
    with pytest.raises(bd.BadInputError, match="missing slice") as error:
        bd.read_dicom(work)
    assert error.value.path == _file_at_slice(work, 4)  # the slice before the gap is named


def test_truncated_file_is_named(ct_folder, tmp_path):
    folder, _ = ct_folder
    work = shutil.copytree(folder, tmp_path / "ct")
    victim = _file_at_slice(work, 3)
    with open(victim, "r+b") as f:
        f.truncate(os.path.getsize(victim) - 100)
    with pytest.raises(bd.BadInputError, match="truncated") as error:
        bd.read_dicom(work)
    assert error.value.path == victim


def test_duplicate_position_is_refused(ct_folder, tmp_path):
    folder, _ = ct_folder
    work = shutil.copytree(folder, tmp_path / "ct")
    ds = pydicom.dcmread(_file_at_slice(work, 2))
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(os.path.join(work, "copy.dcm"))
    with pytest.raises(bd.BadInputError, match="duplicate slice position"):
        bd.read_dicom(work)


def test_several_series_need_a_uid(ct_folder, cine_folder, tmp_path):
    shutil.copytree(ct_folder[0], tmp_path / "a")
    shutil.copytree(cine_folder[0], tmp_path / "b")
    with pytest.raises(bd.BadInputError, match="2 series found"):
        bd.read_dicom(tmp_path)
    uid = bd.scan_dicom(tmp_path).series_uid[0]
    assert bd.read_dicom(tmp_path, series_uid=uid).ndim in (3, 4)
    with pytest.raises(bd.BadInputError, match="no series"):
        bd.read_dicom(tmp_path, series_uid="1.2.3")


def test_colour_images_are_refused(tmp_path):
    shutil.copy(get_testdata_file("SC_rgb.dcm"), tmp_path)
    with pytest.raises(bd.BadInputError, match="colour images"):
        bd.read_dicom(tmp_path)


def _file_at_slice(folder, k):
    """The file of slice k along the normal (axial phantom: by z position)."""
    files = [os.path.join(folder, f) for f in os.listdir(folder)]
    return str(sorted(files, key=lambda f: float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]))[k])


def _plain_files():
    from test_convert import REAL_FILES

    from bmia_dask.io.dicom_scan import read_header

    plain = []
    for path in REAL_FILES:
        try:
            frames, _, _ = read_header(path)
        except bd.BadInputError:
            continue
        if frames and frames[0].pixel_data_at is not None:
            plain.append((path, frames[0]))
    return plain


def test_plain_files_read_straight_from_their_bytes_equal_pydicom():
    """The fast path (values read at the Pixel Data offset) gives pydicom's pixels, or steps aside."""
    from bmia_dask.io.dicom_read import _read_plain

    plain = _plain_files()
    assert len(plain) > 20
    fast = 0
    for path, frame in plain:
        with open(path, "rb") as fp:
            ours = _read_plain(fp, frame)
        if ours is None:
            continue
        fast += 1
        reference = pydicom.pixels.pixel_array(path, raw=True)
        np.testing.assert_array_equal(ours, reference, err_msg=path)
        assert ours.dtype == reference.dtype, path
    assert fast > 10
