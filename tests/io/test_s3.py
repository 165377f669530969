"""Object storage for real: a moto S3 server on loopback, started by the tests (conftest.s3_server)."""

import os

import numpy as np
import pandas as pd
import pytest

import bmia_dask as bd
from bmia_dask.cli import main
from bmia_dask.io import storage


def s3(bucket):
    fs, _ = storage.url_to_fs(bucket)
    fs.invalidate_cache()
    return fs


def upload(folder, url):
    fs = s3(url)
    for name in os.listdir(folder):
        fs.put_file(os.path.join(folder, name), f"{url}/{name}")


def test_convert_from_and_to_s3(ct_folder, bucket):
    folder, truth = ct_folder
    upload(folder, f"{bucket}/export")
    table = bd.scan_dicom(f"{bucket}/export")
    assert table.ok.all() and table.n_files[0] == len(truth["files"])
    [url] = bd.convert(f"{bucket}/export", f"{bucket}/stores")
    assert url.startswith("s3://")
    image = bd.open_image(url)
    np.testing.assert_array_equal(image.values, truth["values"])
    np.testing.assert_allclose(image.attrs["origin"], truth["origin"], atol=1e-4)
    # published under its final name only: no temporary prefix left behind
    assert [p.rsplit("/", 1)[-1] for p in s3(bucket).ls(f"{bucket}/stores")] == [url.rsplit("/", 1)[-1]]


def test_a_failed_write_leaves_nothing(bucket):
    def last_chunk_fails(block, block_id=None):
        if block_id == (1, 1, 1):  # the others are written first
            raise RuntimeError("disk on fire")
        return block

    image = bd.from_array(np.zeros((8, 8, 8), np.int16), chunks=4)
    broken = image.copy(data=image.data.map_blocks(last_chunk_fails, dtype=np.int16))
    with pytest.raises(RuntimeError, match="disk on fire"):
        bd.to_zarr(broken, f"{bucket}/out.ome.zarr")
    assert s3(bucket).ls(bucket) == []


def test_ef_and_cohort_read_from_s3(cine_folder, bucket, tmp_path):
    from distributed import Client, LocalCluster

    folder, _ = cine_folder
    [cine] = bd.convert(folder, f"{bucket}/cine")
    local_ef = bd.ejection_fraction(bd.convert(folder, str(tmp_path / "cine"))[0])
    written = bd.phantoms.write_cohort(tmp_path / "cohort", n=4, shape=(16, 20, 16))
    manifest = pd.read_csv(written["manifest"])
    fs = s3(bucket)
    for column in ("image", "labels"):
        for path in manifest[column]:
            fs.put(path, f"{bucket}/cohort/{os.path.basename(path)}", recursive=True)
        manifest[column] = [f"{bucket}/cohort/{os.path.basename(p)}" for p in manifest[column]]
    storage.write_bytes(f"{bucket}/cohort/manifest.csv", manifest.to_csv(index=False).encode())
    local_table = bd.cohort.measure(written["manifest"])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster):
            remote_ef = bd.ejection_fraction(cine)
            table = bd.cohort.measure(f"{bucket}/cohort/manifest.csv", out=f"{bucket}/cohort/table.csv")
    np.testing.assert_allclose(remote_ef.volumes_ml, local_ef.volumes_ml)
    pd.testing.assert_frame_equal(table.drop(columns=["image", "labels"], errors="ignore"),
                                  local_table.drop(columns=["image", "labels"], errors="ignore"))
    assert (table.error == "").all()
    assert len(pd.read_csv(f"{bucket}/cohort/table.csv", storage_options=storage.storage_options(bucket))) == 8


def test_wrong_urls_are_one_line_errors(bucket, tmp_path, capsys):
    assert main(["scan", "s3://no-such-bucket-bmia/export", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bmia: error: s3://no-such-bucket-bmia/export:")
    assert main(["convert", f"{bucket}/empty", str(tmp_path / "out"), "-q"]) == 2
    assert "not found" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out") or not os.listdir(tmp_path / "out")
