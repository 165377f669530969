"""convert: one atomic store per series, PHI kept out, real files from PyPI packages."""

import glob
import os
import shutil

import numpy as np
import pydicom
import pytest

import bmia_dask as bd
from bmia_dask.phantoms import FAKE_PHI


def test_converts_every_series_and_skips_strays(ct_folder, cine_folder, tmp_path):
    shutil.copytree(ct_folder[0], tmp_path / "src" / "ct")
    shutil.copytree(cine_folder[0], tmp_path / "src" / "cine")
    (tmp_path / "src" / "Thumbs.db").write_bytes(b"\x00garbage")
    with pytest.warns(bd.SkippedFileWarning, match="Thumbs.db"):
        urls = bd.convert(str(tmp_path / "src"), str(tmp_path / "out"))
    assert sorted(os.path.basename(u) for u in urls) == ["001_phantom_CT.ome.zarr", "001_phantom_cine.ome.zarr"]
    ct = bd.open_image(str(tmp_path / "out" / "001_phantom_CT.ome.zarr"))
    np.testing.assert_array_equal(ct.values, ct_folder[1]["values"])
    source = ct.attrs["source"]
    assert source["n_files"] == 12 and source["series_uid"] and source["converter"].startswith("bmia_dask")
    cine = bd.open_image(str(tmp_path / "out" / "001_phantom_cine.ome.zarr"))
    np.testing.assert_array_equal(cine.values, cine_folder[1]["values"])


def test_convert_on_a_distributed_cluster(cine_folder, tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster):
        [url] = bd.convert(cine_folder[0], str(tmp_path / "out"))
        np.testing.assert_array_equal(bd.open_image(url).values, cine_folder[1]["values"])


def _store_bytes(url):
    return b"".join(open(f, "rb").read() for f in glob.glob(os.path.join(url, "**"), recursive=True) if os.path.isfile(f))


def test_phi_is_not_stored_unless_asked(ct_folder, tmp_path):
    [url] = bd.convert(ct_folder[0], str(tmp_path / "plain"))
    content = _store_bytes(url)
    for keyword, value in FAKE_PHI.items():
        assert keyword.encode() not in content
        assert len(value) < 3 or value.encode() not in content
    assert b"Manufacturer" in content  # technical attributes are kept
    [url] = bd.convert(ct_folder[0], str(tmp_path / "phi"), keep_phi=True)
    assert b"Doe^Jane" in _store_bytes(url)


def test_existing_destination_is_refused_before_writing(ct_folder, tmp_path):
    [url] = bd.convert(ct_folder[0], str(tmp_path))
    stamp = os.path.getmtime(os.path.join(url, "zarr.json"))
    with pytest.raises(bd.BadInputError, match="already exists"):
        bd.convert(ct_folder[0], str(tmp_path))
    assert os.path.getmtime(os.path.join(url, "zarr.json")) == stamp
    assert bd.convert(ct_folder[0], str(tmp_path), overwrite=True) == [url]


def test_a_bad_series_fails_alone(ct_folder, cine_folder, tmp_path):
    shutil.copytree(ct_folder[0], tmp_path / "src" / "ct")
    shutil.copytree(cine_folder[0], tmp_path / "src" / "cine")
    victim = sorted(glob.glob(str(tmp_path / "src" / "ct" / "*")))[0]
    with open(victim, "r+b") as f:
        f.truncate(2000)
    with pytest.raises(bd.BadInputError, match="truncated") as error:
        bd.convert(str(tmp_path / "src"), str(tmp_path / "out"))
    assert error.value.path == victim
    assert [os.path.basename(u) for u in error.value.written] == ["001_phantom_cine.ome.zarr"]
    assert sorted(os.listdir(tmp_path / "out")) == ["001_phantom_cine.ome.zarr"]  # nothing partial


def _real_files():
    import data_store
    import deid_data

    roots = [
        os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files"),
        os.path.join(os.path.dirname(data_store.__file__), "data"),
        os.path.join(os.path.dirname(deid_data.__file__), "data"),
    ]
    files = []
    for root in roots:
        files += [f for f in glob.glob(os.path.join(root, "**", "*"), recursive=True)
                  if os.path.isfile(f) and not f.endswith((".py", ".pyc")) and "dicomdirtests" not in f]
    return sorted(files)


REAL_FILES = _real_files()
# greyscale images that must convert (the others may be refused, with one clear line)
MUST_CONVERT = {"CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm",
                "MR_small_jp2klossless.dcm", "JPEG-LL.dcm", "693_J2KR.dcm", "MR2_J2KR.dcm", "emri_small.dcm",
                "rtdose.dcm", "cat.dcm", "GREYSCALE_IMAGE.dcm"}


@pytest.mark.parametrize("path", REAL_FILES, ids=[os.path.relpath(f, os.path.dirname(os.path.dirname(f))) for f in REAL_FILES])
def test_real_files_convert_or_fail_clearly(path, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(path, src)
    try:
        urls = bd.convert(str(src), str(tmp_path / "out"))
    except bd.BadInputError as error:
        assert os.path.basename(path) not in MUST_CONVERT, str(error)
        assert "\n" not in str(error) and str(error.path)
        assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []
        return
    [url] = urls
    image = bd.open_image(url)
    assert image.ndim in (3, 4) and image.size > 0
    image[..., :2, :2].values  # noqa: B018 - the stored data decodes


def test_dicomdir_tree_converts_its_series(tmp_path):
    tree = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files", "dicomdirtests")
    try:
        urls = bd.convert(tree, str(tmp_path / "out"))
    except bd.BadInputError as error:
        urls = error.written
    assert len(urls) >= 5
    for url in urls:
        assert bd.open_image(url).size > 0


def test_reads_dicom_from_an_fsspec_url(ct_folder, tmp_path):
    import fsspec

    fs = fsspec.filesystem("memory")
    for path in ct_folder[1]["files"]:
        fs.pipe(f"/pacs-export/study/{os.path.basename(path)}", open(path, "rb").read())
    table = bd.scan_dicom("memory://pacs-export")
    assert table.shape[0] == 1 and table.ok[0]
    [url] = bd.convert("memory://pacs-export", str(tmp_path / "out"))
    np.testing.assert_array_equal(bd.open_image(url).values, ct_folder[1]["values"])
    fs.rm("/pacs-export", recursive=True)


def test_converting_does_not_import_dask_distributed(ct_folder, tmp_path):
    """Without a client, dask's search for one (an import of dask.distributed, ~0.15 s) is skipped."""
    import subprocess
    import sys

    code = ("import sys, bmia_dask as bd; bd.convert(sys.argv[1], sys.argv[2]); "
            "print('distributed' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, ct_folder[0], str(tmp_path / "out")], capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "False"
