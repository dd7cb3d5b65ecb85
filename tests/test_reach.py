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
