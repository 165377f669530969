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
    "call, match",
    [
        (lambda im: morphology.binary_dilation(im, np.ones((3, 3), bool)), "structure must be 3D"),
        (lambda im: morphology.binary_erosion(im, iterations=0), "iterations"),
        (lambda im: morphology.binary_closing(im, iterations=1.5), "iterations"),
        (lambda im: morphology.grey_dilation(im, size=3, footprint=np.ones((3, 3, 3))), "size"),
        (lambda im: morphology.grey_erosion(im, size=-1), "size"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(image_of(random_volume(bool), CHUNKINGS[0]))


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
