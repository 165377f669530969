"""bd.plot: real PNG/GIF files, drawn to scale, computing only the slices shown."""

import dask
import dask.array as da
import numpy as np
import pytest

import bmia_dask as bd
from bmia_dask.testing import CountingScheduler

PNG = b"\x89PNG\r\n\x1a\n"


def only_first_z_chunk(shape=(12, 24, 20), chunk=4):
    """An image whose chunks beyond the first along z raise when computed."""
    def block(block_info=None):
        location = block_info[None]["array-location"]
        if location[0][0] >= chunk:
            raise AssertionError(f"chunk at z={location[0][0]} was computed")
        return np.random.default_rng(0).random(block_info[None]["chunk-shape"])

    data = da.map_blocks(block, chunks=((chunk,) * (shape[0] // chunk), (shape[1],), (shape[2],)), dtype=float)
    return bd.from_array(data, spacing=(3.0, 1.0, 1.0))


def test_overlay_computes_only_its_slice(tmp_path):
    image = only_first_z_chunk()
    labels = bd.from_array(np.random.default_rng(1).integers(0, 4, image.shape), spacing=(3.0, 1.0, 1.0))
    fig = bd.plot.overlay(image, mask=image > 0.8, labels=labels, at_mm=3.0, path=str(tmp_path / "overlay.png"))
    assert fig.axes[0].get_title() == "z = 3.0 mm"
    assert (tmp_path / "overlay.png").read_bytes()[:8] == PNG
    with pytest.raises(AssertionError, match="computed"):
        bd.plot.overlay(image, at_mm=20.0)


def test_slice_grid_in_one_pass_and_to_scale(tmp_path):
    image = bd.from_array(np.random.default_rng(1).random((20, 16, 24)), spacing=(2.0, 1.5, 1.0), chunks=(5, 8, 8))
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        fig = bd.plot.slice_grid(image, axis="y", n=4, columns=2, path=str(tmp_path / "grid.png"))
    assert counter.count == 1
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["y = 0.0 mm", "y = 7.5 mm", "y = 15.0 mm", "y = 22.5 mm"]
    left, right, bottom, top = shown[0].images[0].get_extent()
    assert (right - left, top - bottom) == pytest.approx((24 * 1.0, 20 * 2.0))  # mm, z up
    assert (tmp_path / "grid.png").read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="axis"):
        bd.plot.slice_grid(image, axis="t")


def test_fly_through_is_an_animated_gif(tmp_path):
    from PIL import Image

    image = bd.from_array(np.random.default_rng(2).random((9, 16, 16)), chunks=(4, 16, 16))
    bd.plot.fly_through(image, str(tmp_path / "fly.gif"), every=2)
    with Image.open(tmp_path / "fly.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == 5


def test_histogram_of_some_labels_adds_their_counts():
    data = np.arange(100.0).reshape(4, 5, 5)
    labels = (np.arange(100) % 3).reshape(4, 5, 5)
    fig = bd.plot.histogram(bd.from_array(data, chunks=2), bins=10, min=0, max=100,
                            labels=bd.from_array(labels, chunks=2), index=[1, 2, 7])  # 7: absent
    expected, _ = np.histogram(data[labels > 0], bins=10, range=(0, 100))
    assert len(fig.axes[0].patches) == 1
    np.testing.assert_allclose(fig.axes[0].patches[0].get_path().vertices[1:-1:2, 1][:10], expected)


def test_histogram_and_cdf_match_numpy(tmp_path):
    data = np.random.default_rng(3).integers(0, 100, (6, 10, 10))
    fig = bd.plot.histogram(bd.from_array(data, chunks=(2, 5, 5)), bins=10, path=str(tmp_path / "h.png"))
    counts, _ = np.histogram(data, bins=10, range=(data.min(), data.max()))
    [stairs] = [p for p in fig.axes[0].patches]
    np.testing.assert_array_equal(stairs.get_data().values, counts)
    cdf = fig.axes[1].lines[0].get_ydata()
    np.testing.assert_allclose(cdf, np.cumsum(counts) / counts.sum())
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG


def test_overlay_refuses_other_grids():
    image = bd.from_array(np.zeros((4, 8, 8)))
    with pytest.raises(ValueError, match="mask of shape"):
        bd.plot.overlay(image, mask=np.zeros((4, 8, 9), bool))
