"""bd.morphology against scipy.ndimage: exact near chunk faces for any iterations."""

import numpy as np
import pytest
import scipy.ndimage as ndi

import bmia_dask as bd
from bmia_dask import morphology
from bmia_dask.testing import raise_if_dask_computes

from ops_helpers import CHUNKINGS, image_of, phantom_volume, random_volume

STRUCTURES = [None, ndi.generate_binary_structure(3, 2), ndi.generate_binary_structure(3, 3),
              np.ones((1, 3, 5), bool)]


@pytest.mark.parametrize("name", ["binary_dilation", "binary_erosion", "binary_opening", "binary_closing"])
@pytest.mark.parametrize("iterations", [1, 3])
@pytest.mark.parametrize("chunks", CHUNKINGS[:2])
def test_binary_equal_to_scipy(name, iterations, chunks):
    mask = random_volume(bool) | (phantom_volume() > 0)
    image = image_of(mask, chunks)
    for structure in STRUCTURES:
        out = getattr(morphology, name)(image, structure, iterations)
        assert out.dtype == bool
        np.testing.assert_array_equal(out.values, getattr(ndi, name)(mask, structure, iterations))
    out = getattr(morphology, name)(image, iterations=iterations, border_value=1)
    np.testing.assert_array_equal(out.values, getattr(ndi, name)(mask, iterations=iterations, border_value=1))


@pytest.mark.parametrize("name", ["grey_dilation", "grey_erosion"])
def test_grey_equal_to_scipy(name):
    data = random_volume(np.int16)
    image = image_of(data, CHUNKINGS[0])
    func = getattr(ndi, name)
    np.testing.assert_array_equal(getattr(morphology, name)(image, size=(3, 4, 2)).values, func(data, size=(3, 4, 2)))
    footprint = ndi.generate_binary_structure(3, 1)
    np.testing.assert_array_equal(getattr(morphology, name)(image, footprint=footprint, mode="constant").values,
                                  func(data, footprint=footprint, mode="constant"))
    image_mm = image_of(data, CHUNKINGS[1], spacing=(2.0, 1.0, 0.5))
    np.testing.assert_array_equal(getattr(morphology, name)(image_mm, size_mm=(2.0, 3.0, 1.5)).values,
                                  func(data, size=(1, 3, 3)))


def test_per_frame_in_4d():
    masks = np.stack([random_volume(bool, seed=s) for s in (1, 2)])
    image = bd.from_array(masks, chunks=(1, 7, 8, 9))
    out = morphology.binary_closing(image, iterations=2)
    np.testing.assert_array_equal(out.values, np.stack([ndi.binary_closing(m, iterations=2) for m in masks]))


def test_lazy():
    image = image_of(random_volume(bool), CHUNKINGS[0])
    with raise_if_dask_computes():
        morphology.binary_opening(morphology.binary_dilation(image, iterations=2))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda im: morphology.binary_erosion(im, np.ones((3, 3), bool)), RuntimeError, "dimensionality"),
        (lambda im: morphology.binary_closing(im, iterations=1.5), TypeError, "iterations"),
        (lambda im: morphology.binary_erosion(im, origin=5), IndexError, "index"),  # as scipy
        (lambda im: morphology.binary_erosion(im, mask=np.ones((2, 2, 2))), RuntimeError, "mask"),
        (lambda im: morphology.binary_erosion(im, output=np.zeros(im.shape, bool)), TypeError, "lazy"),
        (lambda im: morphology.grey_erosion(im, size=3, output=np.zeros(im.shape)), TypeError, "lazy"),
        (lambda im: morphology.grey_erosion(im), ValueError, "size"),
        (lambda im: morphology.grey_erosion(im, size=3, axes=(0, 0)), ValueError, "unique"),
        (lambda im: morphology.grey_erosion(im, size=3, axes=5), ValueError, "range"),
        (lambda im: morphology.binary_propagation(im, np.ones((3, 3, 3)), origin=1), ValueError, "symmetric"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call(image_of(random_volume(bool), CHUNKINGS[0]))


def test_frame_axis_refused():
    image = bd.from_array(np.zeros((2, 4, 5, 6), bool), chunks=(1, 2, 3, 3))
    with pytest.raises(ValueError, match="'t'"):
        morphology.binary_erosion(image, np.ones(2, bool), axes=["t"])


@pytest.mark.parametrize("chunks", [(5, 7, 9), (3, 3, 3)])
@pytest.mark.parametrize("rank", [1, 3])
def test_fill_holes_equal_to_scipy_across_chunks(chunks, rank):
    z, y, x = np.ogrid[:23, :31, :29]
    r = np.sqrt((z - 11) ** 2 + (y - 15) ** 2 + (x - 14) ** 2)
    mask = ((r > 4) & (r < 7)) | ((r > 9) & (r < 10.5))  # shells whose insides cross many chunks
    mask |= random_volume(bool, seed=3) & (r > 12)
    structure = ndi.generate_binary_structure(3, rank)
    out = morphology.binary_fill_holes(image_of(mask, chunks), structure)
    np.testing.assert_array_equal(out.values, ndi.binary_fill_holes(mask, structure))


def test_fill_holes_2d_and_lazy():
    mask = random_volume(bool)[4]
    image = bd.from_array(mask, chunks=(7, 8))
    with raise_if_dask_computes():
        filled = morphology.binary_fill_holes(image)
    np.testing.assert_array_equal(filled.values, ndi.binary_fill_holes(mask))


# ------------------------------------------------------------------ scipy's other arguments, 1-D to 3-D

from dask.array.utils import assert_eq  # noqa: E402

SHAPES = {1: (29,), 2: (17, 19), 3: (9, 11, 13)}
GRIDS = {1: [(4,), (29,)], 2: [(3, 4), (17, 19)], 3: [(3, 4, 5), (9, 11, 13)]}


def _random_mask(ndim, seed=0, density=0.6):
    return np.random.default_rng(seed).random(SHAPES[ndim]) < density


def _structures(ndim):
    rng = np.random.default_rng(ndim)
    return [
        (None, 0),
        (ndi.generate_binary_structure(ndim, ndim), 0),
        (ndi.generate_binary_structure(ndim, 1), -1),                   # origin shifted
        (rng.random((3,) * ndim) < 0.6, tuple(range(-1, ndim - 1))),   # asymmetric, origin per axis
        (np.ones((2,) * ndim, bool), 0),                                # even size
        (np.ones((4,) + (1,) * (ndim - 1), bool), (1,) + (0,) * (ndim - 1)),  # even, shifted
    ]


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("name", ["binary_dilation", "binary_erosion", "binary_opening", "binary_closing"])
@pytest.mark.parametrize("iterations", [1, 2])
def test_binary_arguments_equal_to_scipy(ndim, name, iterations):
    mask = _random_mask(ndim)
    restrict = _random_mask(ndim, seed=7, density=0.7)
    for c, chunks in enumerate(GRIDS[ndim]):
        image = bd.from_array(mask, chunks=chunks)
        for k, (structure, origin) in enumerate(_structures(ndim)[: 6 if c == 0 else 2]):
            for use_mask, border in ((False, 0), (True, 1)):
                kw = dict(structure=structure, iterations=iterations, origin=origin, border_value=border,
                          mask=restrict if use_mask else None, brute_force=bool(k % 2))
                expected = getattr(ndi, name)(mask, **kw)
                out = getattr(morphology, name)(image, **kw)
                assert_eq(out.data, expected)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_output_dtype_and_non_bool_input(ndim):
    data = (np.random.default_rng(1).random(SHAPES[ndim]) * 3).astype(np.int16)
    image = bd.from_array(data, chunks=GRIDS[ndim][0])
    out = morphology.binary_dilation(image, output=np.float32)
    expected = ndi.binary_dilation(data, output=np.float32)  # scipy: a dtype gives bool all the same
    assert_eq(out.data, expected)
    assert out.dtype == expected.dtype


def test_axes():
    mask = _random_mask(3)
    image = bd.from_array(mask, chunks=(3, 4, 5))
    structure = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
    for axes, names in (((0, 2), ("z", "x")), ((-1, -2), ("x", "y"))):
        for name in ("binary_erosion", "binary_opening", "binary_propagation", "binary_fill_holes"):
            expected = getattr(ndi, name)(mask, structure, axes=axes)
            assert_eq(getattr(morphology, name)(image, structure, axes=axes).data, expected)
            assert_eq(getattr(morphology, name)(image, structure, axes=names).data, expected)
    data = random_volume(np.int16, shape=(9, 11, 13))
    image = bd.from_array(data, chunks=(3, 4, 5))
    assert_eq(morphology.grey_closing(image, size=(3, 2), axes=(0, 2)).data,
              ndi.grey_closing(data, size=(3, 2), axes=(0, 2)))


def test_hit_or_miss():
    for ndim in (1, 2, 3):
        mask = _random_mask(ndim, density=0.5)
        for chunks in GRIDS[ndim]:
            image = bd.from_array(mask, chunks=chunks)
            s1 = ndi.generate_binary_structure(ndim, 1)
            s2 = np.zeros((3,) * ndim, bool)
            s2.flat[0] = True
            for kw in (dict(), dict(structure1=s1), dict(structure1=s1, structure2=s2, origin1=-1, origin2=1),
                       dict(structure1=np.ones((2,) * ndim), origin1=0)):
                assert_eq(morphology.binary_hit_or_miss(image, **kw).data, ndi.binary_hit_or_miss(mask, **kw))


GREY = ["grey_dilation", "grey_erosion", "grey_opening", "grey_closing", "white_tophat", "black_tophat",
        "morphological_gradient", "morphological_laplace"]


@pytest.mark.parametrize("name", GREY)
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_grey_equal_to_scipy_all_arguments(name, ndim):
    rng = np.random.default_rng(ndim)
    data = rng.integers(0, 200, SHAPES[ndim]).astype(np.uint8)
    func = getattr(ndi, name)
    calls = [
        dict(size=3),
        dict(size=(4,) * ndim, origin=1, mode="nearest"),
        dict(footprint=rng.random((3,) * ndim) < 0.6, origin=-1, mode="constant", cval=7),
        dict(structure=rng.integers(0, 3, (3,) * ndim), mode="mirror"),
        dict(size=2, mode="wrap"),
        dict(size=3, output=np.float32),
        dict(size=3, mode=["wrap"] + ["reflect"] * (ndim - 1), origin=[1] + [0] * (ndim - 1)),
    ]
    for chunks in GRIDS[ndim]:
        image = bd.from_array(data, chunks=chunks)
        for kw in calls:
            out = getattr(morphology, name)(image, **kw)
            expected = func(data, **kw)
            assert out.dtype == expected.dtype, kw
            assert_eq(out.data, expected)
    boolean = bd.from_array(data > 100, chunks=GRIDS[ndim][0])
    if name in ("morphological_gradient", "morphological_laplace"):  # scipy refuses to subtract bools
        with pytest.raises(TypeError):
            getattr(morphology, name)(boolean, size=3)
    else:
        assert_eq(getattr(morphology, name)(boolean, size=3).data, func(boolean.values, size=3))


def test_iterate_structure_is_scipys():
    assert morphology.iterate_structure is ndi.iterate_structure


# ------------------------------------------------------------------ global: until nothing changes


PROPAGATING = [  # (ndim, structure, origin): symmetric about the origin
    (1, None, 0), (2, None, 0), (2, np.ones((3, 3), bool), 0), (3, None, 0),
    (3, ndi.generate_binary_structure(3, 2), 0), (3, np.ones((1, 3, 3), bool), 0),
]


@pytest.mark.parametrize("ndim, structure, origin", PROPAGATING)
@pytest.mark.parametrize("border", [0, 1])
def test_until_nothing_changes_equal_to_scipy(ndim, structure, origin, border):
    shape = {1: (40,), 2: (23, 21), 3: (11, 13, 12)}[ndim]
    chunks = {1: [(3,), (40,)], 2: [(4, 5), (23, 21)], 3: [(4, 5, 6), (11, 13, 12)]}[ndim]
    for seed, c in enumerate(chunks):  # small chunks, then one chunk
        rng = np.random.default_rng(seed)
        data = rng.random(shape) < (0.75 if seed % 2 else 0.55)
        restrict = rng.random(shape) < 0.8
        image = bd.from_array(data, chunks=c)
        for k, name in enumerate(("binary_dilation", "binary_erosion", "binary_opening", "binary_closing")):
            kw = dict(structure=structure, iterations=-(k % 2), mask=restrict if (k + seed) % 2 else None,
                      border_value=border, origin=origin)
            assert_eq(getattr(morphology, name)(image, **kw).data, getattr(ndi, name)(data, **kw))
        seeds = bd.from_array(rng.random(shape) < 0.02, chunks=c)
        kw = dict(structure=structure, mask=data, border_value=border, origin=origin)
        assert_eq(morphology.binary_propagation(seeds, **kw).data, ndi.binary_propagation(seeds.values, **kw))
        kw = dict(structure=structure, origin=origin)
        assert_eq(morphology.binary_fill_holes(image, **kw).data, ndi.binary_fill_holes(data, **kw))


def test_global_ops_lazy():
    image = bd.from_array(_random_mask(3), chunks=(3, 4, 5))
    with raise_if_dask_computes():
        morphology.binary_erosion(image, iterations=0)
        morphology.binary_propagation(image, mask=image)
        morphology.binary_fill_holes(image)
