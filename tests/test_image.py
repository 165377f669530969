"""The image model: coords in mm, geometry attrs, affine, slicing."""

import numpy as np
import pytest
import SimpleITK as sitk

import bmia_dask as bd
from bmia_dask.phantoms import rotation


def make(shape=(4, 5, 6), **kw):
    return bd.from_array(np.zeros(shape, np.int16), **kw)


def test_affine_matches_simpleitk_index_to_physical():
    spacing, origin, direction = (2.5, 0.7, 0.9), (10.0, -20.0, 35.5), rotation(10, 20, 30)
    image = make(spacing=spacing, origin=origin, direction=direction)
    reference = sitk.Image(6, 5, 4, sitk.sitkInt16)
    reference.SetSpacing(spacing[::-1])
    reference.SetOrigin(origin)
    reference.SetDirection(direction.ravel().tolist())
    affine = np.asarray(image.attrs["affine"])
    for k, j, i in [(0, 0, 0), (3, 4, 5), (1, 2, 3)]:
        np.testing.assert_allclose(affine @ [k, j, i, 1], [*reference.TransformIndexToPhysicalPoint((i, j, k)), 1])


def test_coords_are_offsets_along_each_axis():
    image = make(spacing=(2.0, 1.0, 0.5), origin=(3.0, 4.0, 5.0))
    np.testing.assert_allclose(image.x, 3.0 + 0.5 * np.arange(6))
    np.testing.assert_allclose(image.z, 5.0 + 2.0 * np.arange(4))
    assert image.x.attrs["units"] == "mm"


def test_geometry_follows_slicing():
    direction = rotation(0, 30, 0)
    image = make(spacing=(2.0, 1.0, 0.5), origin=(3.0, 4.0, 5.0), direction=direction)
    part = image[1:, 2:, 3:]
    expected = np.asarray(image.attrs["affine"]) @ [1, 2, 3, 1]
    np.testing.assert_allclose(bd.geometry(part).origin, expected[:3])
    np.testing.assert_allclose(bd.geometry(part).direction, direction, atol=1e-12)
    plane = image.isel(z=2)  # a 2D slice keeps where it lies
    np.testing.assert_allclose(bd.geometry(plane).origin, (np.asarray(image.attrs["affine"]) @ [2, 0, 0, 1])[:3])


def test_4d_time_coords():
    image = bd.from_array(np.zeros((3, 2, 4, 4)), times_ms=[0, 30, 60])
    assert image.dims == ("t", "z", "y", "x")
    assert image.t.attrs["units"] == "ms"
    np.testing.assert_array_equal(image.t, [0, 30, 60])


def test_plain_arrays_get_unit_spacing():
    image = bd.as_image(np.ones((3, 4)))
    assert image.dims == ("y", "x") and bd.spacing(image) == (1.0, 1.0)
    assert bd.spacing(np.ones((2, 3, 4))) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dims=("x", "y")), "order"),
        (dict(dims=("a", "y", "x")), "subset"),
        (dict(spacing=(1.0, -1.0, 1.0)), "spacing"),
        (dict(spacing=(1.0, 1.0)), "spacing"),
        (dict(direction=np.zeros((3, 3))), "direction"),
        (dict(origin=(1.0, 2.0)), "origin"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, match):
    shape = (4, 5) if kwargs.get("dims") == ("x", "y") else (4, 5, 6)
    with pytest.raises(ValueError, match=match):
        make(shape, **kwargs)


def test_like_keeps_grid_and_attrs():
    image = make(spacing=(2.0, 1.0, 1.0), modality="CT", units="HU")
    out = bd.like(image, image.data > 0, units="")
    assert out.attrs["spacing"] == image.attrs["spacing"] and out.attrs["units"] == ""
    with pytest.raises(ValueError, match="does not fit"):
        bd.like(image, np.zeros((2, 2, 2)))
