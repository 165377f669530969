"""bd.intensity, bd.masks and bd.compare against numpy/scipy."""

import dask
import numpy as np
import pytest
import scipy.ndimage as ndi

import bmia_dask as bd
from bmia_dask import compare, intensity, masks
from bmia_dask.testing import raise_if_dask_computes

from ops_helpers import CHUNKINGS, image_of, phantom_volume, random_volume


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_histogram_equals_scipy(dtype, chunks):
    data = random_volume(dtype)
    image = image_of(data, chunks)
    for low, high, bins in [(0, 255, 256), (-500.5, 1500, 37), (float(data.min()), float(data.max()), 10)]:
        np.testing.assert_array_equal(intensity.histogram(image, low, high, bins), ndi.histogram(data, low, high, bins))


def _same_histogram(ours, theirs):
    """Equal values and scipy's layout: an int array, an object array of them, or None."""
    assert type(ours) is type(theirs)
    if theirs is None:
        return
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if theirs.dtype == object:
        for a, b in zip(ours.ravel(), theirs.ravel()):
            _same_histogram(a, b)
    else:
        np.testing.assert_array_equal(ours, theirs)


def test_histogram_per_label():
    data = random_volume(np.int16)
    labels = np.random.default_rng(5).integers(0, 5, data.shape)
    image = image_of(data, CHUNKINGS[0])
    for index in [[4, 0, 2, 9], 2, 0, 9, None, np.array([3, 3, 1]), [2.0]]:
        _same_histogram(intensity.histogram(image, -2000, 2000, 50, labels=labels, index=index),
                        ndi.histogram(data, -2000, 2000, 50, labels=labels, index=index))
    # labels broadcast against the image, as scipy broadcasts them
    _same_histogram(intensity.histogram(image, -2000, 2000, 7, labels=labels[:1], index=[1, 3]),
                    ndi.histogram(data, -2000, 2000, 7, labels=labels[:1], index=[1, 3]))


def test_histogram_edge_cases_as_scipy():
    data = np.arange(12.0).reshape(3, 4)
    image = image_of(data, (2, 3), spacing=(1.0, 1.0))
    for low, high, bins in [(3, 3, 4), (0, 11, 0), (0, 11, 1), (0.5, 10.5, 5)]:
        _same_histogram(intensity.histogram(image, low, high, bins), ndi.histogram(data, low, high, bins))
    float_labels = np.where(data > 5, 1.5, 0.5)
    _same_histogram(intensity.histogram(image, 0, 11, 3, labels=float_labels, index=[1.5, 0.5, 2.5]),
                    ndi.histogram(data, 0, 11, 3, labels=float_labels, index=[1.5, 0.5, 2.5]))
    _same_histogram(intensity.histogram(np.zeros((0, 4)), 0, 1, 3, labels=np.zeros((0, 4), int), index=[1]),
                    ndi.histogram(np.zeros((0, 4)), 0, 1, 3, labels=np.zeros((0, 4), int), index=[1]))
    with pytest.raises(ValueError, match="index without defined labels"):
        intensity.histogram(image, 0, 1, 3, index=1)
    with pytest.raises(ValueError, match="without loss of precision"):
        intensity.histogram(image, 0, 1, 3, labels=np.ones((3, 4), int), index=[1.5])
    with pytest.raises(ValueError, match="same shape"):
        intensity.histogram(image, 0, 1, 3, labels=np.ones((3, 5), int), index=[1])


def test_cdf_and_equalisation_like_the_course():
    data = random_volume(np.uint8)
    image = image_of(data, CHUNKINGS[1])
    hist = ndi.histogram(data, min=0, max=255, bins=256)
    cdf = hist.cumsum() / hist.sum()
    np.testing.assert_allclose(intensity.cdf(image, 0, 255, 256), cdf)
    with raise_if_dask_computes():
        equalized = intensity.equalize_hist(image, min=0, max=255)
    np.testing.assert_allclose(equalized.values, cdf[data] * 255)


def test_window_and_value_range():
    data = random_volume(np.int16)
    image = image_of(data, CHUNKINGS[2])
    assert intensity.value_range(image) == (data.min(), data.max())
    np.testing.assert_array_equal(intensity.window(image, level=40, width=400).values, np.clip(data, -160, 240))


def test_masks():
    data = phantom_volume()
    image = image_of(data, CHUNKINGS[0])
    np.testing.assert_array_equal(masks.threshold(image, low=200, high=600).values, (data >= 200) & (data <= 600))
    mask = masks.threshold(image, low=400)
    np.testing.assert_array_equal(masks.apply(image, mask).values, np.where(data >= 400, data, 0))
    np.testing.assert_array_equal(masks.apply(image, mask, other=-1).values, np.where(data >= 400, data, -1))
    other = image > 100
    np.testing.assert_array_equal(masks.combine(mask, other, how="xor").values, (data >= 400) ^ (data > 100))
    assert 0 < masks.threshold_otsu(image) < 900


def test_otsu_splits_two_classes():
    rng = np.random.default_rng(0)
    truth = phantom_volume() > 0
    data = np.where(truth, 800, 100) + rng.normal(0, 30, truth.shape)
    t = masks.threshold_otsu(bd.from_array(data, chunks=(8, 8, 8)))
    assert 100 < t < 800
    assert ((data > t) == truth).mean() > 0.999


def test_compare_is_lazy_and_right():
    a, b = random_volume(np.uint8, seed=1), random_volume(np.uint8, seed=2)
    ia, ib = image_of(a, CHUNKINGS[0]), image_of(b, CHUNKINGS[1])
    with raise_if_dask_computes():
        results = [compare.mae(ia, ib), compare.mse(ia, ib)]
    mae, mse = dask.compute(*results)
    diff = a.astype(float) - b.astype(float)
    assert float(mae) == pytest.approx(np.abs(diff).mean())
    assert float(mse) == pytest.approx((diff**2).mean())
    ma, mb = a > 100, b > 150
    assert float(compare.iou(image_of(ma, CHUNKINGS[0]), mb)) == pytest.approx((ma & mb).sum() / (ma | mb).sum())
    assert float(compare.dice(ma, mb)) == pytest.approx(2 * (ma & mb).sum() / (ma.sum() + mb.sum()))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: compare.mae(np.zeros((3, 4, 5)), np.zeros((3, 4, 6))), "image2"),
        (lambda: compare.iou(np.zeros((3, 4)), np.zeros((3, 4))), "boolean"),
        (lambda: intensity.histogram(np.zeros((3, 4)), 5, 1, 10), "max"),
        (lambda: intensity.histogram(np.zeros((3, 4)), 0, 1, -2), "must be non-negative"),
        (lambda: masks.threshold(np.zeros((3, 4))), "low"),
        (lambda: masks.apply(np.zeros((3, 4)), np.zeros((3, 4))), "boolean"),
        (lambda: masks.combine(np.zeros((3, 4), bool), np.zeros((3, 4), bool), how="nand"), "how"),
        (lambda: intensity.window(np.zeros((3, 4)), level=0, width=0), "width"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_compare_on_the_overlap_of_two_grids():
    """image2 starts 3 voxels further along x: only the shared columns count."""
    from bmia_dask.compare import mutual_information_of

    a, b = random_volume(np.float32, seed=3), random_volume(np.float32, seed=4)
    image1 = bd.from_array(a, spacing=(2.0, 1.0, 1.5), chunks=(5, 7, 9))
    image2 = bd.from_array(b, spacing=(2.0, 1.0, 1.5), origin=(4.5, 0.0, 0.0), chunks=(6, 6, 6))
    shared1, shared2 = a[:, :, 3:].astype(float), b[:, :, :-3].astype(float)
    assert float(compare.mae(image1, image2)) == pytest.approx(np.abs(shared1 - shared2).mean())
    assert float(compare.mse(image1, image2)) == pytest.approx(((shared1 - shared2) ** 2).mean())
    assert float(compare.ncc(image1, image2)) == pytest.approx(np.corrcoef(shared1.ravel(), shared2.ravel())[0, 1])
    mi = compare.mutual_information(image1, image2, bins=16)
    ranges = [[a.min(), a.max()], [0.0, b.max()]]  # outside the overlap counts as 0 but weighs nothing
    assert float(mi) == pytest.approx(mutual_information_of(shared1, shared2, bins=16, ranges=ranges))
    m1, m2 = a > a.mean(), b > b.mean()
    mask1 = bd.from_array(m1, spacing=(2.0, 1.0, 1.5))
    mask2 = bd.from_array(m2, spacing=(2.0, 1.0, 1.5), origin=(4.5, 0.0, 0.0))
    s1, s2 = m1[:, :, 3:], m2[:, :, :-3]
    assert float(compare.iou(mask1, mask2)) == pytest.approx((s1 & s2).sum() / (s1 | s2).sum())
    assert float(compare.dice(mask1, mask2)) == pytest.approx(2 * (s1 & s2).sum() / (s1.sum() + s2.sum()))
    far = bd.from_array(b, spacing=(2.0, 1.0, 1.5), origin=(500.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="do not overlap"):
        compare.mae(image1, far)
