"""bd.register on phantoms with a known transform; other spacing and orientation on each side."""

import json

import numpy as np
import pytest

import bmia_dask as bd
from bmia_dask.phantoms import head, rigid, rotation
from bmia_dask.registration import rotation_degrees

TRUTH = rigid(3.0, -2.0, 5.0, translation_mm=(4.0, -3.0, 2.5))


@pytest.fixture(scope="module")
def pair():
    fixed = head((60, 68, 60), spacing=2.5, edge_mm=3.0, chunks=(32, 32, 32))
    moving = head((52, 66, 64), spacing=(3.0, 2.6, 2.4), direction=rotation(10, 0, -15), transform=TRUTH,
                  edge_mm=3.0, chunks=(20, 30, 30))
    return moving, fixed


def errors(found, truth):
    """Rotation (degrees) and translation (mm, at the head's centre) left after undoing ``found``."""
    residual = np.linalg.inv(found) @ truth
    return rotation_degrees(residual), float(np.linalg.norm(residual[:3, 3]))


@pytest.mark.parametrize("cost", ["mae", "ncc", "mi"])
def test_rigid_recovers_the_transform(pair, cost):
    moving, fixed = pair
    result = bd.register(moving, fixed, transform="rigid", cost=cost)
    degrees, mm = errors(result.transform, TRUTH)
    assert degrees < 0.5 and mm < 0.5, (degrees, mm)
    better = result.cost < result.initial_cost if cost == "mae" else result.cost > result.initial_cost
    assert better
    assert list(result.history.columns) == ["level", "spacing_mm", "iteration", "cost"]
    assert result.history["level"].iloc[-1] == 0 and result.history["level"].nunique() == 3


def test_translation_and_affine(pair):
    moving, fixed = pair
    shift = rigid(translation_mm=(6.0, -4.0, 3.0))
    shifted = head((52, 66, 64), spacing=(3.0, 2.6, 2.4), direction=rotation(10, 0, -15), transform=shift,
                   edge_mm=3.0)
    result = bd.register(shifted, fixed, transform="translation", cost="ncc")
    assert np.allclose(result.transform[:3, :3], np.eye(3))
    assert errors(result.transform, shift)[1] < 0.5
    result = bd.register(moving, fixed, transform="affine", cost="ncc")
    # an affine answer: points of the head land within half a millimetre of where the truth puts them
    points = np.array(np.meshgrid(*[(-40.0, 0.0, 40.0)] * 3)).reshape(3, -1).T
    moved = points @ result.transform[:3, :3].T + result.transform[:3, 3]
    expected = points @ TRUTH[:3, :3].T + TRUTH[:3, 3]
    assert np.abs(moved - expected).max() < 0.75


def test_applied_result_matches_the_fixed_image(pair):
    moving, fixed = pair
    result = bd.register(moving, fixed, cost="ncc")
    aligned = result.apply()
    assert aligned.shape == fixed.shape and aligned.attrs["spacing"] == fixed.attrs["spacing"]
    before = float(bd.compare.mae(bd.transform.apply(moving, result.initial, like=fixed), fixed))
    after = float(bd.compare.mae(aligned, fixed))
    assert after < 0.7 * before


def test_2d_slices_and_masks():
    """The course's recipe: a head slice turned 15 degrees and shifted, found again; masks by IoU."""
    truth = rigid(0, 0, 15, translation_mm=(6.0, -4.0, 0.0))
    fixed = head((1, 90, 80), spacing=2.0)[0]
    moving = head((1, 80, 80), spacing=(2.0, 2.2, 2.1), transform=truth)[0]
    result = bd.register(moving, fixed, cost="mae")
    degrees, mm = errors(result.transform, truth)
    assert degrees < 0.5 and mm < 0.5
    masks = bd.register(moving > 0.3, fixed > 0.3, cost="iou")
    degrees, mm = errors(masks.transform, truth)
    assert degrees < 1.0 and mm < 0.5
    assert float(bd.compare.iou(masks.apply(), fixed > 0.3)) > 0.95


def test_the_figure(pair, tmp_path):
    moving, fixed = pair
    result = bd.register(moving, fixed, cost="ncc", levels=2)
    fig = result.plot(str(tmp_path / "registration.png"))
    assert len(fig.axes) == 8
    assert (tmp_path / "registration.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_pairs():
    volume = head((20, 24, 20), spacing=8.0)
    with pytest.raises(ValueError, match="both must be 2D or both 3D"):
        bd.register(volume, volume[10])
    far = head((20, 24, 20), spacing=8.0, origin=(900.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="do not overlap"):
        bd.register(far, volume)
    with pytest.raises(ValueError, match="boolean"):
        bd.register(volume, volume, cost="iou")
    with pytest.raises(ValueError, match="transform must be"):
        bd.register(volume, volume, transform="elastic")
    with pytest.raises(ValueError, match="cost must be"):
        bd.register(volume, volume, cost="mse2")
    with pytest.raises(ValueError, match="time axis"):
        bd.register(bd.from_array(np.zeros((2, 4, 8, 8))), volume)
    with pytest.raises(ValueError, match="mask"):
        bd.register(volume, volume, mask=np.ones((3, 3, 3), bool))


def test_cli_register(tmp_path, capsys):
    from bmia_dask.cli import main

    assert main(["phantom", "pair", str(tmp_path), "-q"]) == 0
    capsys.readouterr()
    out = tmp_path / "t.json"
    assert main(["register", str(tmp_path / "moving.ome.zarr"), str(tmp_path / "fixed.ome.zarr"), "--out", str(out),
                 "--cost", "ncc", "--apply", str(tmp_path / "moved.ome.zarr"), "--json", "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    truth = np.array(json.loads((tmp_path / "truth.json").read_text())["matrix_lps_mm"])
    found = bd.transform.read_transform(str(out))
    degrees, mm = errors(found, truth)
    assert degrees < 0.5 and mm < 0.5
    assert report["kind"] == "rigid" and report["cost"] == "ncc"
    moved = bd.open_image(report["applied"])
    assert moved.shape == bd.open_image(str(tmp_path / "fixed.ome.zarr")).shape
    # the transform file drives bd.transform.apply
    again = bd.transform.apply(bd.open_image(str(tmp_path / "moving.ome.zarr")), str(out),
                               like=bd.open_image(str(tmp_path / "fixed.ome.zarr")))
    np.testing.assert_allclose(again.values, moved.values, atol=1e-6)


def test_cli_register_bad_inputs(tmp_path):
    from test_cli import assert_one_line_error, run

    bd.to_zarr(head((10, 12, 10), spacing=8.0), str(tmp_path / "a.ome.zarr"))
    bd.to_zarr(head((10, 12, 10), spacing=8.0, origin=(900.0, 0, 0)), str(tmp_path / "far.ome.zarr"))
    bd.to_zarr(head((1, 12, 10), spacing=8.0)[0], str(tmp_path / "flat.ome.zarr"))
    rc, _, err = run("register", str(tmp_path / "far.ome.zarr"), str(tmp_path / "a.ome.zarr"), "--out",
                     str(tmp_path / "t.json"))
    assert_one_line_error(rc, err, "far.ome.zarr", "do not overlap")
    rc, _, err = run("register", str(tmp_path / "flat.ome.zarr"), str(tmp_path / "a.ome.zarr"), "--out",
                     str(tmp_path / "t.json"))
    assert_one_line_error(rc, err, "flat.ome.zarr", "2D")
    assert not (tmp_path / "t.json").exists()
    (tmp_path / "bad.json").write_text("[[1, 0, 0], [0, 1, 0], [0, 0, 1]]")
    with pytest.raises(bd.BadInputError, match="4x4"):
        bd.transform.apply(bd.open_image(str(tmp_path / "a.ome.zarr")), str(tmp_path / "bad.json"))
