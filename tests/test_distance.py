"""bd.distance_transform_edt against scipy.ndimage.distance_transform_edt with sampling."""

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_helpers import CHUNKINGS, image_of, phantom_volume

import bmia_dask as bd
from bmia_dask import distance
from bmia_dask.testing import raise_if_dask_computes

SPACING = (2.5, 0.7, 0.9)
# (slab, group) thickness in planes: one group of one slab, several slabs per group, one plane each
LAYOUTS = [None, (2, 6), (1, 1)]


def check(mask, chunks, spacing=SPACING, **kwargs):
    reference = ndi.distance_transform_edt(mask, sampling=kwargs.get("sampling", spacing))
    plane = int(np.prod(mask.shape[1:]))
    for layout in LAYOUTS:
        with pytest.MonkeyPatch.context() as patch:
            if layout:
                patch.setattr(distance, "_SLAB_BYTES", 8 * plane * layout[0])
                patch.setattr(distance, "_GROUP_BYTES", plane * layout[1])
            ours = bd.distance_transform_edt(bd.from_array(mask, chunks=chunks, spacing=spacing), **kwargs)
            np.testing.assert_allclose(ours.values, reference, rtol=1e-12, atol=1e-12, err_msg=f"{layout}")
    return ours


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_objects_crossing_chunk_faces(chunks):
    mask = phantom_volume() > 0
    ours = check(mask, chunks)
    assert ours.attrs["units"] == "mm"
    assert ours.dtype == np.float64
    assert ours.data.chunks[1:] == bd.from_array(mask, chunks=chunks).data.chunks[1:]


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_sparse_background_far_from_most_voxels(chunks):
    # distances reach across many chunks: one background voxel in a full volume
    mask = np.ones((23, 31, 29), bool)
    mask[20, 3, 25] = False
    check(mask, chunks)


def test_background_only_in_one_chunk_plane():
    # whole z-lines without background get their distance in-plane from other lines
    mask = np.ones((12, 10, 11), bool)
    mask[:, 0, 0] = False
    check(mask, (4, 3, 3))


def test_sampling_in_voxels_and_float32():
    mask = np.random.default_rng(2).random((15, 16, 17)) > 0.1
    ours = check(mask, (4, 5, 6), sampling=1)
    assert ours.attrs["units"] == ""
    as_float32 = bd.distance_transform_edt(bd.from_array(mask, chunks=4), dtype=np.float32)
    assert as_float32.dtype == np.float32
    np.testing.assert_allclose(as_float32.values, ndi.distance_transform_edt(mask), rtol=1e-6)


def test_2d():
    mask = np.random.default_rng(3).random((40, 37)) > 0.05
    check(mask, (7, 9), spacing=(0.5, 1.25))


def test_4d_frame_by_frame():
    rng = np.random.default_rng(4)
    mask = rng.random((3, 9, 10, 11)) > 0.08
    mask[2] = True  # a frame without background: inf, where scipy's answer is undefined
    image = bd.from_array(mask, dims=("t", "z", "y", "x"), spacing=(2.0, 1.0, 1.5), chunks=(1, 4, 5, 6))
    ours = bd.distance_transform_edt(image).values
    for frame in range(2):
        np.testing.assert_allclose(ours[frame], ndi.distance_transform_edt(mask[frame], sampling=(2.0, 1.0, 1.5)))
    assert np.isinf(ours[2]).all()


def test_lazy_and_coords_kept():
    mask = image_of(phantom_volume() > 0, (5, 7, 9))
    with raise_if_dask_computes():
        distance = bd.distance_transform_edt(mask)
    assert distance.dims == mask.dims
    np.testing.assert_array_equal(distance.z.values, mask.z.values)


@pytest.mark.parametrize("bad", [0, -1.0, (1.0, 2.0)])
def test_bad_sampling(bad):
    with pytest.raises(ValueError, match="sampling"):
        bd.distance_transform_edt(np.ones((4, 4, 4), bool), sampling=bad)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 12)),
    chunk=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)),
    density=st.floats(0.5, 0.99),
    seed=st.integers(0, 1000),
)
def test_any_shape_and_chunking(shape, chunk, density, seed):
    mask = np.random.default_rng(seed).random(shape) < density
    mask.flat[seed % mask.size] = False  # at least one background voxel
    check(mask, chunk, spacing=(1.5, 0.5, 0.75))
