"""Data whose chunks cut through objects: shared by the operation tests."""

import numpy as np

import bmia_dask as bd

# odd chunk grids that cut every axis (and one that leaves an axis whole)
CHUNKINGS = [(5, 7, 9), (8, 13, 6), (23, 4, 31)]
SHAPE = (23, 31, 29)


def random_volume(dtype, seed=0, shape=SHAPE):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return (rng.random(shape) * 1000).astype(dtype)
    if dtype == bool:
        return rng.random(shape) > 0.7
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -2000), min(info.max, 2000), shape).astype(dtype)


def phantom_volume(shape=SHAPE):
    """Spheres and slabs big enough to cross chunk faces (float32)."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    volume = np.zeros(shape, np.float32)
    volume[(z - 11) ** 2 + (y - 15) ** 2 + (x - 14) ** 2 <= 81] = 500
    volume[(z - 4) ** 2 / 4 + (y - 5) ** 2 + (x - 22) ** 2 <= 9] = 900
    volume[:, 25:28, :] = 200
    return volume


def image_of(data, chunks, spacing=(2.5, 0.7, 0.9)):
    return bd.from_array(data, chunks=chunks, spacing=spacing)
