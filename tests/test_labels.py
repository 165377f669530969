"""bd.label against scipy.ndimage.label: the same partition, across any chunking."""

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

import bmia_dask as bd
from bmia_dask.testing import raise_if_dask_computes
from dask.array.utils import assert_eq


def assert_same_partition(ours, reference):
    """Same foreground, and a one-to-one map between the two label sets."""
    mask = reference > 0
    np.testing.assert_array_equal(ours > 0, mask)
    pairs = np.unique(np.stack([ours[mask], reference[mask]]), axis=1)
    assert len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))
    assert set(np.unique(ours[mask])) == set(range(1, reference.max() + 1))  # sequential 1..n


def check(mask, chunks, structure=None, dims=None, reference_structure=None):
    labels, n = bd.label(bd.from_array(mask, chunks=chunks), structure, dims=dims)
    reference, expected_n = ndi.label(mask, structure if reference_structure is None else reference_structure)
    assert int(n) == expected_n
    assert labels.dtype == np.int32
    assert_same_partition(labels.values, reference)
    # and scipy's numbering: objects in the order of their first voxel
    np.testing.assert_array_equal(labels.values, reference)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("chunks", [(5, 7, 9), (3, 3, 3), (23, 4, 31)])
def test_random_masks_3d(rank, chunks):
    mask = np.random.default_rng(rank).random((23, 31, 29)) > 0.65
    check(mask, chunks, ndi.generate_binary_structure(3, rank))


def test_helix_crosses_every_chunk_face():
    t = np.linspace(0, 6 * np.pi, 4000)
    mask = np.zeros((40, 40, 40), bool)
    mask[(20 + 15 * np.cos(t)).astype(int), (20 + 15 * np.sin(t)).astype(int), (t / t.max() * 39).astype(int)] = True
    mask = ndi.binary_dilation(mask)
    for chunks in [(7, 6, 5), (4, 4, 4)]:
        check(mask, chunks)


def test_nested_shells():
    z, y, x = np.ogrid[:33, :33, :33]
    r = np.sqrt((z - 16) ** 2 + (y - 16) ** 2 + (x - 16) ** 2)
    mask = ((r > 4) & (r < 6)) | ((r > 9) & (r < 11)) | (r < 2)
    check(mask, (8, 9, 10))


def test_objects_touching_only_at_a_corner():
    mask = np.zeros((8, 8, 8), bool)
    mask[:4, :4, :4] = True
    mask[4:, 4:, 4:] = True  # meets the first cube at one corner, on the chunk corner
    chunks = (4, 4, 4)
    check(mask, chunks)  # faces: two objects
    check(mask, chunks, ndi.generate_binary_structure(3, 3))  # full: one object
    mask2 = np.zeros((8, 8), bool)
    mask2[3, 3] = mask2[4, 4] = True
    check(mask2, (4, 4), ndi.generate_binary_structure(2, 2))


def test_4d_per_frame_with_dims():
    mask = np.random.default_rng(4).random((3, 9, 10, 11)) > 0.6
    cube = ndi.generate_binary_structure(3, 3)
    full = np.zeros((3, 3, 3, 3), bool)
    full[1] = cube
    check(mask, (2, 4, 5, 3), cube, dims=("z", "y", "x"), reference_structure=full)
    check(mask, (1, 5, 5, 5), None)  # all four dims connected, as scipy on the array


def test_custom_structure_falls_back_to_scipy():
    structure = np.zeros((3, 3, 3), bool)
    structure[1, 1, :] = structure[:, 1, 1] = True  # connected along x and z only
    mask = np.random.default_rng(5).random((12, 13, 14)) > 0.5
    check(mask, (5, 6, 4), structure)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 12)),
    chunk=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)),
    density=st.floats(0.1, 0.9),
    rank=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_property_any_shape_and_chunking(shape, chunk, density, rank, seed):
    mask = np.random.default_rng(seed).random(shape) < density
    check(mask, chunk, ndi.generate_binary_structure(3, rank))


@pytest.mark.parametrize("rank", [1, 2])
def test_random_masks_2d_and_1d(rank):
    # cc3d mislabels background voxels of some bool blocks with 8-connectivity: 29 of 150 went wrong
    rng = np.random.default_rng(7)
    for _ in range(150):
        mask = rng.random(tuple(rng.integers(1, 12, size=2))) > 0.5
        check(mask, (3, 4), ndi.generate_binary_structure(2, rank))
    mask = rng.random(40) > 0.5
    check(mask, 3, ndi.generate_binary_structure(1, 1))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_thin_edge_blocks(rank):
    # a (3, 1, 1) edge block is a strided view, which cc3d misread: foreground labelled 0
    mask = np.random.default_rng(0).random((13, 13, 13)) > 0.55
    check(mask, 3, ndi.generate_binary_structure(3, rank))


def test_lazy_and_keeps_the_grid():
    image = bd.from_array(np.random.default_rng(0).random((10, 12, 14)) > 0.5, chunks=5, spacing=(2.0, 1.0, 1.0))
    with raise_if_dask_computes():
        labels, n = bd.label(image)
    assert labels.attrs["spacing"] == (2.0, 1.0, 1.0)
    assert labels.z.values.tolist() == image.z.values.tolist()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(structure=np.ones((3, 3), bool)), "structure"),
        (dict(structure=np.ones((3, 3, 5), bool)), "structure"),
        (dict(structure=np.tril(np.ones((3, 3, 3), bool))), "symmetric"),
        (dict(dims=("t",)), "dims"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bd.label(np.ones((4, 5, 6), bool), **kwargs)


def test_degenerate_blocks_that_cc3d_refuses():
    mask = np.ones((1, 1, 3), bool)
    mask[0, 0, 1] = False
    check(mask, (1, 1, 3), ndi.generate_binary_structure(3, 3))


def test_graphs_grow_with_the_chunks_not_the_voxels():
    """1000 chunks: the same graph for 8x the voxels, and a bounded number of tasks per chunk."""
    import dask.array as da

    sizes = []
    for shape, chunks in (((60, 60, 60), (6, 6, 6)), ((120, 120, 120), (12, 12, 12))):
        image = bd.from_array(da.random.default_rng(0).random(shape, chunks=chunks))
        labels, _ = bd.label(bd.filters.gaussian_filter(image, 1.0) > 0.5)
        graph = labels.data.__dask_optimize__(labels.data.__dask_graph__(), labels.data.__dask_keys__())
        sizes.append(len(dict(graph)))
    assert image.data.npartitions == 1000
    assert sizes[0] == sizes[1] and sizes[0] < 100 * 1000


@pytest.mark.parametrize("output", [np.uint8, "i2", np.dtype(np.int64), np.uint64, np.float32, np.float64, np.int32])
def test_output_dtype_as_scipy(output):
    mask = np.random.default_rng(11).random((9, 11, 13)) > 0.85  # fewer than 256 objects
    labels, n = bd.label(bd.from_array(mask, chunks=(3, 4, 5)), output=output)
    expected, expected_n = ndi.label(mask, output=output)
    assert labels.dtype == expected.dtype == np.dtype(output)
    assert int(n) == expected_n
    assert_eq(labels.data, expected)


def test_output_with_too_few_bits_raises_scipys_error_when_computed():
    line = np.zeros(600, bool)
    line[::2] = True  # 300 objects
    with pytest.raises(RuntimeError, match="insufficient bit-depth"):
        ndi.label(line, output=np.uint8)
    with raise_if_dask_computes():
        labels, n = bd.label(bd.from_array(line, chunks=7), output=np.uint8)
    assert labels.dtype == np.uint8
    with pytest.raises(RuntimeError, match="insufficient bit-depth"):
        labels.values
    with pytest.raises(RuntimeError, match="insufficient bit-depth"):
        labels[:7].values  # any block knows the count
    assert int(n) == 300
    fits, _ = bd.label(bd.from_array(line, chunks=7), output=np.uint16)
    assert_eq(fits.data, ndi.label(line, output=np.uint16)[0])
    one = np.zeros(9, bool)
    one[2:5] = True
    assert_eq(bd.label(bd.from_array(one, chunks=2), output=bool)[0].data, ndi.label(one, output=bool)[0])


def test_output_arrays_and_bad_dtypes_are_refused_at_call_time():
    image = bd.from_array(np.ones((4, 5)), chunks=2)
    with pytest.raises(TypeError, match="lazy library"):
        bd.label(image, output=np.zeros((4, 5), np.int32))
    with pytest.raises(TypeError):  # scipy cannot label in float16 or complex either
        ndi.label(np.ones((4, 5)), output=np.float16)
    with pytest.raises(TypeError):
        bd.label(image, output=np.float16)
    with pytest.raises(TypeError):
        bd.label(image, output=np.complex64)
