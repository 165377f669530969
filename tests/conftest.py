import os

import numpy as np
import pytest

import bmia_dask as bd


@pytest.fixture(scope="session")
def ct_folder(tmp_path_factory):
    """An axial CT phantom series (shuffled names, reversed instance numbers)."""
    folder = tmp_path_factory.mktemp("ct")
    truth = bd.phantoms.write_ct(folder, shape=(12, 40, 48), spacing=(2.5, 0.75, 0.8))
    return str(folder), truth


@pytest.fixture(scope="session")
def cine_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cine")
    truth = bd.phantoms.write_cine(folder, n_frames=6, shape=(8, 32, 32), spacing=(8.0, 3.5, 3.5), edv_ml=40)
    return str(folder), truth


def copy_folder(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return str(dst)


@pytest.fixture
def rng():
    return np.random.default_rng(42)


def files_of(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder))


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 server (moto in server mode) on loopback; AWS_* variables point at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # worker processes started later inherit them
    yield env["AWS_ENDPOINT_URL"]
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


@pytest.fixture
def bucket(s3_server):
    """A fresh bucket: ``s3://name``."""
    import uuid

    import s3fs

    name = f"bmia-{uuid.uuid4().hex[:10]}"
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_server}, skip_instance_cache=True)
    fs.mkdir(name)
    return f"s3://{name}"
