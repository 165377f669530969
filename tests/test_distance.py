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


# ------------------------------------------------------------------ cdt, bf and scipy's arguments

from dask.array.utils import assert_eq  # noqa: E402

METRIC_SHAPES = {1: (31,), 2: (19, 23), 3: (9, 11, 13)}
METRIC_GRIDS = {1: [(4,), (31,)], 2: [(3, 4), (19, 23)], 3: [(2, 3, 4), (9, 11, 13)]}


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("density", [0.9, 0.995])
def test_cdt_and_bf_equal_to_scipy(ndim, density):
    rng = np.random.default_rng(ndim)
    mask = rng.random(METRIC_SHAPES[ndim]) < density
    mask.flat[rng.integers(mask.size)] = False
    for chunks in METRIC_GRIDS[ndim]:
        image = bd.from_array(mask, chunks=chunks)
        for metric in ("chessboard", "taxicab", "cityblock", ndi.generate_binary_structure(ndim, 1),
                       ndi.generate_binary_structure(ndim, ndim)):
            assert_eq(distance.distance_transform_cdt(image, metric).data, ndi.distance_transform_cdt(mask, metric))
        for metric in ("chessboard", "taxicab", "Euclidean"):
            assert_eq(distance.distance_transform_bf(image, metric).data, ndi.distance_transform_bf(mask, metric))
        sampling = (1.5, 0.5, 2.0)[:ndim]
        np.testing.assert_allclose(distance.distance_transform_bf(image, sampling=sampling).values,
                                   ndi.distance_transform_bf(mask, sampling=sampling), rtol=1e-12)


def test_cdt_without_background_is_minus_one_as_scipy():
    mask = np.ones((5, 6), bool)
    assert_eq(distance.distance_transform_cdt(bd.from_array(mask, chunks=2)).data,
              ndi.distance_transform_cdt(mask))


def test_edt_sampling_positional_and_graph_valid():
    mask = np.random.default_rng(5).random((9, 11, 13)) < 0.9
    out = bd.distance_transform_edt(bd.from_array(mask, chunks=(2, 3, 4)), (1.0, 2.0, 0.5))
    assert_eq(out.data, ndi.distance_transform_edt(mask, (1.0, 2.0, 0.5)))


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda m: bd.distance_transform_edt(m, return_distances=False), RuntimeError),
        (lambda m: distance.distance_transform_cdt(m, return_distances=False, return_indices=False), RuntimeError),
        (lambda m: bd.distance_transform_edt(m, distances=np.zeros(m.shape)), TypeError),
        (lambda m: distance.distance_transform_cdt(m, return_indices=True, indices=np.zeros((3,) + m.shape)),
         TypeError),
        (lambda m: distance.distance_transform_cdt(m, "euclidean"), ValueError),
        (lambda m: distance.distance_transform_cdt(m, np.ones((3, 3))), ValueError),
        (lambda m: distance.distance_transform_bf(m, "foo"), RuntimeError),
        (lambda m: bd.distance_transform_edt(m, return_indices=True, indices=np.zeros((3,) + m.shape, np.int32)),
         TypeError),
        (lambda m: distance.distance_transform_bf(m, sampling=(1.0, 0.5, 1.0), return_indices=True), ValueError),
        (lambda m: distance.distance_transform_bf(m, "chessboard", return_indices=True), ValueError),
    ],
)
def test_bad_arguments_as_scipy(call, error):
    with pytest.raises(error):
        call(np.ones((4, 5, 6), bool))


def test_cdt_lazy():
    with raise_if_dask_computes():
        distance.distance_transform_cdt(bd.from_array(np.ones((6, 7, 8), bool), chunks=3), "taxicab")


# ------------------------------------------------------------------ the feature transform (return_indices)

import dask  # noqa: E402

FEATURE_SHAPES = {1: (29,), 2: (13, 17), 3: (9, 11, 13)}
FEATURE_GRIDS = {1: [(4,), (29,)], 2: [(3, 4), (13, 17)], 3: [(2, 3, 4), (9, 11, 13)]}


def check_features(mask, chunks, sampling, layouts=LAYOUTS):
    """bd's (distances, indices) equal to scipy's, exactly, for every slab layout; graphs valid."""
    distances, indices = ndi.distance_transform_edt(mask, sampling=sampling, return_indices=True)
    plane = int(np.prod(mask.shape[1:]))
    for layout in layouts:
        with pytest.MonkeyPatch.context() as patch:
            if layout:
                patch.setattr(distance, "_SLAB_BYTES", 8 * plane * layout[0])
                patch.setattr(distance, "_GROUP_BYTES", plane * layout[1])
            ours_d, ours_i = bd.distance_transform_edt(bd.from_array(mask, chunks=chunks),
                                                       1.0 if sampling is None else sampling, return_indices=True)
        assert ours_i.dtype == np.int32 and ours_i.dims == ("axis",) + ours_d.dims
        if layout is None:  # graphs valid (assert_eq compares within a tolerance: exactness below)
            assert_eq(ours_i.data, indices)
            assert_eq(ours_d.data, distances)
        ours_d, ours_i = dask.compute(ours_d.data, ours_i.data)
        np.testing.assert_array_equal(ours_i, indices, err_msg=f"{layout}")
        np.testing.assert_array_equal(ours_d, distances, err_msg=f"{layout}")


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("density", [0.05, 0.5, 0.95])
@pytest.mark.parametrize("anisotropic", [False, True])
def test_edt_indices_equal_to_scipy(ndim, density, anisotropic):
    rng = np.random.default_rng(ndim * 10 + int(density * 100))
    mask = rng.random(FEATURE_SHAPES[ndim]) < density
    sampling = (2.5, 0.7, 0.9)[:ndim] if anisotropic else None
    for chunks in FEATURE_GRIDS[ndim]:
        check_features(mask, chunks, sampling)


def test_edt_indices_ties_as_scipy():
    # equally near background voxels everywhere: scipy's choice, pass by pass
    mask = np.ones((12, 14, 10), bool)
    mask[::5, ::4, ::3] = False
    mask[7, 9, 1] = False
    check_features(mask, (3, 4, 5), None)
    check_features(mask, (5, 3, 2), (2.0, 1.0, 1.0))


def test_edt_indices_without_background_as_scipy():
    check_features(np.ones((5, 6, 4), bool), (2, 3, 2), None)
    mask = np.ones((6, 7), bool)
    mask[0, 3] = False  # lines without background along the first axis
    check_features(mask, (2, 3), (1.5, 0.5))


@settings(max_examples=15, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 10), st.integers(1, 10), st.integers(1, 10)),
    chunk=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)),
    density=st.floats(0.05, 0.95),
    seed=st.integers(0, 1000),
)
def test_edt_indices_any_shape_and_chunking(shape, chunk, density, seed):
    mask = np.random.default_rng(seed).random(shape) < density
    check_features(mask, chunk, (1.0, 1.5, 0.5) if seed % 2 else None, layouts=[(1, 2)])


def test_edt_indices_return_types_and_lazy():
    mask = np.random.default_rng(6).random((7, 8, 9)) < 0.7
    image = bd.from_array(mask, chunks=(2, 3, 4))
    with raise_if_dask_computes():
        only = bd.distance_transform_edt(image, return_distances=False, return_indices=True)
        both = bd.distance_transform_edt(image, return_indices=True)
    assert not isinstance(only, tuple) and only.shape == (3,) + mask.shape
    assert isinstance(both, tuple) and len(both) == 2
    assert only.data.chunks[2:] == image.data.chunks[1:] == both[0].data.chunks[1:]
    assert list(only.axis.values) == ["z", "y", "x"]
    expected = ndi.distance_transform_edt(mask, return_distances=False, return_indices=True)
    assert_eq(only.data, expected)


def test_edt_indices_4d_frame_by_frame():
    rng = np.random.default_rng(7)
    mask = rng.random((3, 6, 7, 8)) < 0.8
    mask[2] = True  # no background: scipy's indices (-1, 0, 0) and its distances from them
    image = bd.from_array(mask, dims=("t", "z", "y", "x"), chunks=(1, 2, 3, 4))
    ours_d, ours_i = bd.distance_transform_edt(image, (2.0, 1.0, 1.5), return_indices=True)
    ours_d, ours_i = ours_d.values, ours_i.values
    for frame in range(3):
        distances, indices = ndi.distance_transform_edt(mask[frame], sampling=(2.0, 1.0, 1.5), return_indices=True)
        np.testing.assert_array_equal(ours_i[1:, frame], indices)
        np.testing.assert_array_equal(ours_d[frame], distances)
    np.testing.assert_array_equal(ours_i[0], np.arange(3)[:, None, None, None] + np.zeros(mask.shape, int))


def check_cdt_features(mask, chunks, metric, layouts=(None, 1, 2)):
    """bd's cdt (distances, indices) equal to scipy's, exactly, for slabs of any thickness; graphs valid."""
    distances, indices = ndi.distance_transform_cdt(mask, metric, return_indices=True)
    plane = int(np.prod(mask.shape[1:]))
    for layout in layouts:
        with pytest.MonkeyPatch.context() as patch:
            if layout:
                patch.setattr(distance, "_SLAB_BYTES", 8 * plane * layout)
            ours_d, ours_i = distance.distance_transform_cdt(bd.from_array(mask, chunks=chunks), metric,
                                                             return_indices=True)
        assert ours_i.dtype == np.int32 and ours_d.dtype == np.int32
        if layout is None:
            assert_eq(ours_i.data, indices)
            assert_eq(ours_d.data, distances)
        ours_d, ours_i = dask.compute(ours_d.data, ours_i.data)
        np.testing.assert_array_equal(ours_i, indices, err_msg=f"{layout}")
        np.testing.assert_array_equal(ours_d, distances, err_msg=f"{layout}")


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("density", [0.05, 0.5, 0.95])
@pytest.mark.parametrize("metric", ["chessboard", "taxicab"])
def test_cdt_indices_equal_to_scipy(ndim, density, metric):
    rng = np.random.default_rng(ndim * 10 + int(density * 100))
    mask = rng.random(FEATURE_SHAPES[ndim]) < density
    for chunks in FEATURE_GRIDS[ndim]:
        check_cdt_features(mask, chunks, metric)


def test_cdt_indices_ties_and_no_background_as_scipy():
    mask = np.ones((12, 14, 10), bool)
    mask[::5, ::4, ::3] = False
    for metric in ("chessboard", "taxicab", ndi.generate_binary_structure(3, 1)):
        check_cdt_features(mask, (3, 4, 5), metric)
    check_cdt_features(np.ones((5, 6), bool), (2, 3), "chessboard")


@settings(max_examples=15, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 10), st.integers(1, 10), st.integers(1, 10)),
    chunk=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)),
    density=st.floats(0.05, 0.95),
    seed=st.integers(0, 1000),
)
def test_cdt_indices_any_shape_and_chunking(shape, chunk, density, seed):
    mask = np.random.default_rng(seed).random(shape) < density
    check_cdt_features(mask, chunk, "taxicab" if seed % 2 else "chessboard", layouts=[1])


def test_cdt_indices_return_types_lazy_and_4d():
    rng = np.random.default_rng(8)
    mask = rng.random((3, 6, 7, 8)) < 0.85
    mask[2] = True  # no background: scipy's -1 and the voxel's own index
    image = bd.from_array(mask, dims=("t", "z", "y", "x"), chunks=(1, 2, 3, 4))
    with raise_if_dask_computes():
        only = distance.distance_transform_cdt(image, "taxicab", return_distances=False, return_indices=True)
        both = distance.distance_transform_cdt(image, "taxicab", return_indices=True)
    assert not isinstance(only, tuple) and only.shape == (4,) + mask.shape
    assert isinstance(both, tuple) and both[0].data.chunks[2:] == image.data.chunks[2:]
    ours_d, ours_i = both[0].values, only.values
    for frame in range(3):
        distances, indices = ndi.distance_transform_cdt(mask[frame], "taxicab", return_indices=True)
        np.testing.assert_array_equal(ours_i[1:, frame], indices)
        np.testing.assert_array_equal(ours_d[frame], distances)
    np.testing.assert_array_equal(ours_i[0], np.arange(3)[:, None, None, None] + np.zeros(mask.shape, int))


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("density", [0.05, 0.5, 0.95])
@pytest.mark.parametrize("metric", ["euclidean", "taxicab"])
def test_bf_indices_equal_to_scipy(ndim, density, metric):
    # scipy's bf: the last (C order) of the equally near background voxels
    rng = np.random.default_rng(ndim * 10 + int(density * 100))
    mask = rng.random(FEATURE_SHAPES[ndim]) < density
    plane = int(np.prod(mask.shape[1:]))
    for chunks, sampling in zip(FEATURE_GRIDS[ndim], [None, (2.0, 1.0, 3.0)[:ndim]]):
        sampling = sampling if metric == "euclidean" else None
        distances, indices = ndi.distance_transform_bf(mask, metric, sampling=sampling, return_indices=True)
        for layout in LAYOUTS:
            with pytest.MonkeyPatch.context() as patch:
                if layout:
                    patch.setattr(distance, "_SLAB_BYTES", 8 * plane * layout[0])
                    patch.setattr(distance, "_GROUP_BYTES", plane * layout[1])
                ours_d, ours_i = distance.distance_transform_bf(bd.from_array(mask, chunks=chunks), metric,
                                                                sampling=sampling, return_indices=True)
            assert ours_d.dtype == distances.dtype
            if layout is None:
                assert_eq(ours_i.data, indices)
                assert_eq(ours_d.data, distances)
            ours_d, ours_i = dask.compute(ours_d.data, ours_i.data)
            np.testing.assert_array_equal(ours_i, indices, err_msg=f"{layout}")
            np.testing.assert_array_equal(ours_d, distances, err_msg=f"{layout}")


def test_bf_euclidean_indices_ties_and_no_background_as_scipy():
    mask = np.ones((12, 14, 10), bool)
    mask[::5, ::4, ::3] = False
    mask[7, 9, 1] = False
    for mask, chunks in [(mask, (3, 4, 5)), (np.ones((4, 5), bool), (2, 2))]:
        for metric in ("euclidean", "cityblock"):
            distances, indices = ndi.distance_transform_bf(mask, metric, return_indices=True)
            ours_d, ours_i = distance.distance_transform_bf(bd.from_array(mask, chunks=chunks), metric,
                                                            return_indices=True)
            np.testing.assert_array_equal(ours_i.values, indices)
            np.testing.assert_array_equal(ours_d.values, distances)
    only = distance.distance_transform_bf(bd.from_array(mask, chunks=2), return_distances=False, return_indices=True)
    np.testing.assert_array_equal(only.values, indices)
