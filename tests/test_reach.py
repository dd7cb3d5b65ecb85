"""The reach probe: a conv stack's per-step reach is the sum of its kernels' radii, the AR
part of ARMA spreads it, and the digits' steps are what the generator's speed says."""

import json

import pytest

from experiments import reach
from experiments.video import PRESETS
from experiments.video import Config as VideoConfig

VIDEO = VideoConfig(**PRESETS["cpu"])  # 3 layers, 32 x 32, 1x1 readout


KERNEL_RADII = [("convlstm3", 1), ("convlstm5", 2), ("convlstm3_dilated", 2)]


@pytest.mark.parametrize(("name", "radius"), KERNEL_RADII)
def test_same_frame_reach_is_layers_times_kernel_radius(name, radius):
    rows = reach.model_reach(name, VIDEO, lags=1, seed=0)
    assert rows[0]["support_radius"] == VIDEO.layers * radius
    # one frame older: one more hidden-to-hidden convolution on the way
    assert rows[1]["support_radius"] == VIDEO.layers * radius + radius


def test_arma_reach_is_convlstm_at_init_and_spreads_with_its_ar_taps():
    at_init = reach.model_reach("armalstm", VIDEO, lags=0, seed=0)[0]
    assert at_init["support_radius"] == VIDEO.layers  # AR filter = identity at alpha = 0
    spread = reach.model_reach("armalstm", VIDEO, lags=0, seed=0, ar_alpha=1.0)[0]
    assert spread["mass99_radius"] > at_init["mass99_radius"]


@pytest.mark.parametrize("speed", [1, 3])
def test_digit_steps_follow_the_generators_speed(speed):
    steps = reach.digit_steps(32, speed, n=4000, seed=0)
    nominal = 0.1 * (64 - 28) * speed / 2  # pixels per frame at 32 x 32
    # Chebyshev length of a step of Euclidean length `nominal`: between nominal / sqrt(2)
    # and nominal, up to the half-pixel rounding of positions at 64 x 64 (0.5 px at 32)
    assert nominal - 0.5 <= steps["max"] <= nominal + 0.5
    assert nominal / 2**0.5 - 0.5 <= steps["median"] <= nominal + 0.5


def test_probe_writes_its_table(tmp_path):
    result = reach.main(["--models", "convlstm3", "armalstm", "--lags", "0", "--ar-alpha",
                         "1.0", "--digits", "100", "--out", str(tmp_path)])  # fmt: skip
    stored = json.loads((tmp_path / "reach.json").read_text())
    assert stored == json.loads(json.dumps(result))
    assert len((tmp_path / "table.md").read_text().splitlines()) == 2 + 3 + 3


def _inverse_radius_by_dense_solve(ar_filter, size):
    """99 %-mass Chebyshev radius of the AR system's response to a centred impulse, by a
    dense solve of the circular system (numpy, independent of the FFT)."""
    import numpy as np

    from tests.test_arma import dense_ar_matrix

    impulse = np.zeros(size * size)
    impulse[(size // 2) * size + size // 2] = 1
    response = np.abs(np.linalg.solve(dense_ar_matrix(ar_filter, size, size), impulse))
    rows, cols = np.divmod(np.arange(size * size), size)
    distance = np.maximum(np.abs(rows - size // 2), np.abs(cols - size // 2))
    mass = np.array([response[distance <= d].sum() for d in range(size // 2 + 1)])
    return int(np.nonzero(mass >= 0.99 * response.sum())[0][0])


def test_ar_spread_is_the_inverse_filters_reach():
    import numpy as np
    import torch

    from cunitary import ARMA2d

    torch.manual_seed(0)
    layer = ARMA2d(1, 4, dtype=torch.float64)
    with torch.no_grad():
        layer.ar_alpha.copy_(torch.tensor([[[0.0, 0.5, 1.5, 3.0]], [[0.0, -0.5, 1.0, 2.5]]]))
        layer.ar_beta.normal_()
        layer.ar_beta[:, :, 0] = 0  # channel 0: the identity filter
    size = 12
    spread = reach.ar_spread(layer, size)
    filters = layer.ar_filter().detach().numpy()
    radii = [_inverse_radius_by_dense_solve(f, size) for f in filters]
    # a separable 3x3 filter: its taps off the centre row and column are products
    taps = [np.abs(f[1, [0, 2]]).sum() + np.abs(f[[0, 2], 1]).sum() for f in filters]
    assert spread["mass99_radius_max"] == max(radii) and radii[0] == 0  # channel 0: identity
    assert spread["mass99_radius_median"] == float(np.median(radii))
    assert spread["tap_sum_max"] == pytest.approx(max(taps))
    assert max(radii) > 1  # the test exercises a spread, not only identities


def test_trained_reach_reads_a_video_checkpoint(tmp_path):
    from experiments import video

    run = tmp_path / "run"
    video.main(["--preset", "smoke", "--models", "armalstm", "--device", "cpu",
                "--out", str(run)])  # fmt: skip
    (checkpoint,) = (run / "checkpoints").glob("*.pt")
    result = reach.main(["--models", "--ar-alpha", "--lags", "1", "--clips", "2", "--checkpoints",
                         str(checkpoint), "--out", str(tmp_path / "reach")])  # fmt: skip
    (trained,) = result["trained"]
    smoke = video.PRESETS["smoke"]
    assert (trained["model"], trained["speed"], trained["step"]) == ("armalstm", 1, smoke["steps"])
    assert len(trained["ar"]) == smoke["layers"] and len(trained["reach"]) == 2
    assert "trained 4 steps" in (tmp_path / "reach" / "table.md").read_text()
    assert [m["frame"] for m in trained["motion"]] == list(reach.MOTION_FRAMES)
    assert all(-1 <= m["truth_corr"] <= 1 for m in trained["motion"])
    table = (tmp_path / "reach" / "table.md").read_text()
    cfg = VideoConfig(**smoke)
    reference = f"last input frame repeated, 1x seed 0 (test set {cfg.test_sequences:,} x "
    assert "frame 10 against the true frame" in table
    assert reference + f"{cfg.size}²)" in table
    # the reference repeats the last input frame: it is that frame, unblurred
    assert all(m["last_sigma"] == 0 and m["last_corr"] == pytest.approx(1)
               for m in trained["motion_still"])  # fmt: skip
    bad = checkpoint.with_name("armalstm.pt")
    checkpoint.rename(bad)
    with pytest.raises(ValueError, match="speed<S>-<model>"):
        reach.trained_reach(bad, lags=0, clips=1)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5, 4.0])
def test_gaussian_blur_is_scipys_with_zeros_outside(sigma):
    import numpy as np
    import torch
    from scipy.ndimage import gaussian_filter

    frames = torch.rand(3, 17, 20, dtype=torch.float64)
    expected = np.stack([gaussian_filter(f, sigma, mode="constant", truncate=4.0)
                         for f in frames.numpy()])  # fmt: skip
    np.testing.assert_allclose(reach.gaussian_blur(frames, sigma).numpy(), expected, atol=1e-12)
    assert reach.gaussian_blur(frames, 0.0) is frames


def test_motion_probe_finds_the_blur_and_tells_moved_digits_from_still_ones():
    import numpy as np
    import torch
    from scipy.ndimage import gaussian_filter

    from experiments.video import INPUT_FRAMES

    # a 3 x 3 square moving 3 px right per frame over a noisy background, 20 frames
    rng = np.random.default_rng(0)
    clips = rng.uniform(0, 0.05, (5, 20, 24, 72))
    for n in range(5):
        for t in range(20):
            clips[n, t, 8 + n : 11 + n, 3 * t + 2 * n : 3 * t + 2 * n + 3] = 1.0
    future = clips[:, INPUT_FRAMES:]
    moved = np.stack([[gaussian_filter(f, 1.5, mode="constant") for f in c] for c in future])
    rows = reach.motion_rows(torch.from_numpy(moved), torch.from_numpy(clips))
    assert [r["frame"] for r in rows] == list(reach.MOTION_FRAMES)
    for r in rows:
        assert r["truth_sigma"] == 1.5 and r["truth_corr"] == pytest.approx(1.0)
        assert r["last_corr"] < 0.6  # the square left the last input frame's place
    assert [r["last_corr"] for r in rows] == sorted((r["last_corr"] for r in rows), reverse=True)
    still = np.repeat(clips[:, INPUT_FRAMES - 1 : INPUT_FRAMES], 10, axis=1)  # stays in place
    rows = reach.motion_rows(torch.from_numpy(still), torch.from_numpy(clips))
    assert all(r["last_sigma"] == 0.0 and r["last_corr"] == pytest.approx(1.0) for r in rows)
    assert all(r["truth_corr"] < 0.35 for r in rows)
    blank = torch.zeros(5, 10, 24, 72, dtype=torch.float64)
    rows = reach.motion_rows(blank, torch.from_numpy(clips))
    assert all(r["truth_corr"] == 0.0 and r["last_corr"] == 0.0 for r in rows)


def test_bad_checkpoints_are_refused_before_a_run_folder_is_made(tmp_path, capsys):
    from experiments import reach

    run = tmp_path / "video-run"
    (run / "checkpoints").mkdir(parents=True)
    named = run / "checkpoints" / "speed1-convlstm3.pt"
    cases = {
        str(tmp_path / "x.pt"): "is not named speed<S>-<model>.pt",
        str(named): "does not exist",
    }
    named_elsewhere = tmp_path / "speed1-convlstm3.pt"
    named_elsewhere.write_bytes(b"")
    cases[str(named_elsewhere)] = "is not in a run's checkpoints/ folder"
    for checkpoint, message in cases.items():
        with pytest.raises(SystemExit):
            reach.main(["--checkpoints", checkpoint, "--out", str(tmp_path / "reach")])
        assert message in capsys.readouterr().err
        assert not (tmp_path / "reach").exists()
