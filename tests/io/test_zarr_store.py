"""OME-Zarr stores: round trip, what other readers see, atomicity, laziness."""

import json
import os

import dask.array as da
import numpy as np
import pytest
import zarr

import bmia_dask as bd
from bmia_dask.phantoms import rotation
from bmia_dask.testing import raise_if_dask_computes


@pytest.fixture
def oblique_image(rng):
    data = rng.integers(-1000, 2000, size=(9, 20, 24)).astype(np.int16)
    return bd.from_array(data, spacing=(2.5, 0.7, 0.9), origin=(10.0, -20.0, 35.5), direction=rotation(10, 20, 30),
                         modality="CT", units="HU", source={"note": "test"}, chunks=(4, 7, 11))


def test_round_trip_keeps_values_coords_and_geometry(oblique_image, tmp_path):
    url = bd.to_zarr(oblique_image, str(tmp_path / "img.ome.zarr"))
    back = bd.open_image(url)
    assert back.dims == oblique_image.dims and back.dtype == np.int16
    np.testing.assert_array_equal(back.values, oblique_image.values)
    for dim in "zyx":
        np.testing.assert_allclose(back[dim].values, oblique_image[dim].values, atol=1e-9)
    for key in ("spacing", "origin", "direction", "affine"):
        np.testing.assert_allclose(back.attrs[key], oblique_image.attrs[key], atol=1e-9)
    assert back.attrs["modality"] == "CT" and back.attrs["units"] == "HU"
    assert back.attrs["source"] == {"note": "test"}


def test_4d_round_trip_keeps_irregular_times(tmp_path, rng):
    data = rng.random((4, 3, 5, 6)).astype(np.float32)
    image = bd.from_array(data, spacing=(8.0, 1.5, 1.5), times_ms=[0.0, 40.5, 81.0, 130.25])
    back = bd.open_image(bd.to_zarr(image, str(tmp_path / "cine.ome.zarr")))
    assert back.dims == ("t", "z", "y", "x")
    np.testing.assert_array_equal(back["t"].values, [0.0, 40.5, 81.0, 130.25])
    np.testing.assert_array_equal(back.values, data)


def test_metadata_is_ome_zarr_0_5(oblique_image, tmp_path):
    url = bd.to_zarr(oblique_image, str(tmp_path / "img.ome.zarr"))
    group = json.load(open(os.path.join(url, "zarr.json")))
    assert group["zarr_format"] == 3 and group["node_type"] == "group"
    ome = group["attributes"]["ome"]
    assert ome["version"] == "0.5"
    axes = ome["multiscales"][0]["axes"]
    assert [(a["name"], a["type"], a["unit"]) for a in axes] == [
        ("z", "space", "millimeter"), ("y", "space", "millimeter"), ("x", "space", "millimeter")]
    array = json.load(open(os.path.join(url, "0", "zarr.json")))
    assert array["dimension_names"] == ["z", "y", "x"]
    assert "direction" in group["attributes"]["bmia_dask"]


def test_other_ome_zarr_readers_see_the_same_grid(oblique_image, tmp_path):
    ngff_zarr = pytest.importorskip("ngff_zarr")
    url = bd.to_zarr(oblique_image, str(tmp_path / "img.ome.zarr"))
    multiscales = ngff_zarr.from_ngff_zarr(url)
    first = multiscales.images[0]
    geo = bd.geometry(oblique_image)
    assert first.scale == pytest.approx(dict(zip("zyx", geo.spacing)))
    assert first.translation == pytest.approx(dict(zip("zyx", geo.offset)))
    np.testing.assert_array_equal(np.asarray(first.data), oblique_image.values)


def test_ome_zarr_py_reads_our_stores(oblique_image, tmp_path):
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    url = bd.to_zarr(oblique_image, str(tmp_path / "img.ome.zarr"))
    [node] = list(Reader(parse_url(url))())
    geo = bd.geometry(oblique_image)
    [[scale, translation]] = node.metadata["coordinateTransformations"]
    assert scale["scale"] == pytest.approx(list(geo.spacing))
    assert translation["translation"] == pytest.approx(list(geo.offset))
    np.testing.assert_array_equal(np.asarray(node.data[0]), oblique_image.values)


def test_opening_and_slicing_computes_nothing(oblique_image, tmp_path):
    url = bd.to_zarr(oblique_image, str(tmp_path / "img.ome.zarr"))
    with raise_if_dask_computes():
        image = bd.open_image(url)
        part = image.isel(z=slice(2, 5)).sel(y=slice(None, None, 2)) * 2
    assert part.shape == (3, 10, 24)
    np.testing.assert_array_equal(part.values, oblique_image.values[2:5, ::2] * 2)


def test_a_failed_write_leaves_nothing(oblique_image, tmp_path):
    def explode(block, block_info=None):
        if block_info[0]["chunk-location"] == (1, 1, 1):
            raise RuntimeError("disk on fire")
        return block

    broken = oblique_image.copy(data=oblique_image.data.map_blocks(explode, dtype=np.int16))
    with pytest.raises(RuntimeError, match="disk on fire"):
        bd.to_zarr(broken, str(tmp_path / "img.ome.zarr"))
    assert os.listdir(tmp_path) == []


def test_existing_store_is_refused_unless_overwrite(oblique_image, tmp_path):
    url = bd.to_zarr(oblique_image, str(tmp_path / "img.ome.zarr"))
    with pytest.raises(bd.BadInputError, match="already exists"):
        bd.to_zarr(oblique_image, url)
    bd.to_zarr(oblique_image * 0 + 1, url, overwrite=True)
    assert int(bd.open_image(url).max()) == 1
    assert os.listdir(tmp_path) == ["img.ome.zarr"]


def test_to_zarr_writes_chunk_by_chunk(tmp_path):
    lazy = bd.from_array(da.ones((64, 64, 64), dtype=np.uint8, chunks=16))
    url = bd.to_zarr(lazy, str(tmp_path / "ones.ome.zarr"), chunks=(16, 32, 64))
    assert zarr.open_array(os.path.join(url, "0")).chunks == (16, 32, 64)


def test_open_bad_inputs(tmp_path):
    with pytest.raises(bd.BadInputError, match="not found"):
        bd.open_image(str(tmp_path / "nothing.ome.zarr"))
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    with pytest.raises(bd.BadInputError, match="not an OME-Zarr image store"):
        bd.open_image(str(tmp_path / "plain.zarr"))


def test_memory_urls_work(oblique_image):
    url = bd.to_zarr(oblique_image, "memory://stores/img.ome.zarr", overwrite=True)
    np.testing.assert_array_equal(bd.open_image(url).values, oblique_image.values)


def _block_mean(data, factor):
    """Reference downsampling in numpy: mean of each block of ``factor`` voxels."""
    trimmed = data[tuple(slice(0, (n // f) * f) for n, f in zip(data.shape, factor))]
    shape = [v for n, f in zip(trimmed.shape, factor) for v in (n // f, f)]
    return trimmed.reshape(shape).mean(axis=tuple(range(1, 2 * len(factor), 2)))


def _centres(image):
    """LPS position (mm) of every voxel of a 3D image."""
    index = np.stack(np.meshgrid(*[np.arange(n) for n in image.shape], indexing="ij"), -1).reshape(-1, 3)
    return (np.c_[index, np.ones(len(index))] @ np.asarray(image.attrs["affine"]).T)[:, :3].reshape(*image.shape, 3)


def test_pyramid_levels_are_block_means_in_the_same_physical_space(oblique_image, tmp_path):
    # 1 mm slices: z halves from level 2 on, once the pixels are coarser; chunks cut the blocks
    image = bd.from_array(oblique_image.data.astype(np.float32), spacing=(1.0, 0.7, 0.9),
                          origin=oblique_image.attrs["origin"], direction=oblique_image.attrs["direction"])
    url = bd.to_zarr(image, str(tmp_path / "pyr.ome.zarr"), levels=3, chunks=(3, 5, 7))
    level0, level1, level2 = (bd.open_image(url, level=k) for k in range(3))
    assert level0.attrs["levels"] == 3
    np.testing.assert_array_equal(level0.values, image.values)
    np.testing.assert_allclose(level1.values, _block_mean(image.values, (1, 2, 2)), rtol=1e-6)
    np.testing.assert_allclose(level2.values, _block_mean(level1.values, (2, 2, 2)), rtol=1e-6)
    assert level2.attrs["spacing"] == pytest.approx((2.0, 2.8, 3.6))
    # each coarse voxel sits at the centre of the voxels it averages, direction and all
    np.testing.assert_allclose(_centres(level1), _block_mean(_centres(level0), (1, 2, 2, 1)), atol=1e-9)
    np.testing.assert_allclose(_centres(level2), _block_mean(_centres(level1), (2, 2, 2, 1)), atol=1e-9)
    assert bd.open_image(url, level=-1).shape == level2.shape


def test_integer_and_label_pyramids(tmp_path):
    labels = np.zeros((4, 16, 16), np.int16)
    labels[:, 2:9, 3:12] = 7
    labels[:, 10:15, 1:5] = 3
    image = bd.from_array(labels, spacing=(3.0, 1.0, 1.0))
    url = bd.to_zarr(image, str(tmp_path / "labels.ome.zarr"), levels=2, downsample="nearest")
    coarse = bd.open_image(url, level=1)
    np.testing.assert_array_equal(coarse.values, labels[:, ::2, ::2])  # no averaged label values
    np.testing.assert_allclose(coarse["y"].values, np.arange(8) * 2.0)
    url = bd.to_zarr(image, str(tmp_path / "mean.ome.zarr"), levels=2)
    assert bd.open_image(url, level=1).dtype == np.int16


def test_pyramid_seen_by_ngff_zarr_and_ome_zarr(oblique_image, tmp_path):
    ngff_zarr = pytest.importorskip("ngff_zarr")
    url = bd.to_zarr(oblique_image, str(tmp_path / "img.ome.zarr"), levels=3)
    images = ngff_zarr.from_ngff_zarr(url).images
    assert len(images) == 3
    for k, seen in enumerate(images):
        ours = bd.open_image(url, level=k)
        geo = bd.geometry(ours)
        assert seen.scale == pytest.approx(dict(zip("zyx", geo.spacing)))
        assert seen.translation == pytest.approx(dict(zip("zyx", geo.offset)))
        np.testing.assert_array_equal(np.asarray(seen.data), ours.values)


def test_pyramid_bad_arguments(oblique_image, tmp_path):
    with pytest.raises(ValueError, match="levels"):
        bd.to_zarr(oblique_image, str(tmp_path / "a.ome.zarr"), levels=0)
    with pytest.raises(ValueError, match="cannot be halved"):
        bd.to_zarr(bd.from_array(np.zeros((1, 2, 2))), str(tmp_path / "b.ome.zarr"), levels=3)
    with pytest.raises(ValueError, match="downsample"):
        bd.to_zarr(oblique_image, str(tmp_path / "c.ome.zarr"), downsample="max")
    url = bd.to_zarr(oblique_image, str(tmp_path / "d.ome.zarr"), levels=2)
    with pytest.raises(bd.BadInputError, match="has 2 level"):
        bd.open_image(url, level=2)
    assert not os.path.exists(tmp_path / "a.ome.zarr")


def test_progress_bar_is_opt_in(oblique_image, tmp_path, capsys):
    bd.to_zarr(oblique_image, str(tmp_path / "quiet.ome.zarr"))
    assert capsys.readouterr().err == ""
    bd.to_zarr(oblique_image, str(tmp_path / "loud.ome.zarr"), progress=True)
    assert "writing" in capsys.readouterr().err
