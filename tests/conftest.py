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
