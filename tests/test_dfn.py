"""The dynamic filter network experiment: the paper's model, its rollout, the steerable task."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d

from cunitary.dynamic import local_filter2d
from experiments import dfn


def test_video_model_has_the_papers_parameter_count():
    # De Brabandere et al. 2016, Table 1: 637,361 parameters with 9x9 filters.
    assert sum(p.numel() for p in dfn.DynamicFilterVideoNet(9).parameters()) == 637_361


def test_he_uniform_bounds_and_scale():
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(64, 128, 3)
    dfn.he_uniform_(layer)
    fan_in = 64 * 9
    assert layer.weight.abs().max() <= math.sqrt(3 / fan_in)
    assert abs(layer.weight.std().item() - math.sqrt(1 / fan_in)) < 0.02 * math.sqrt(1 / fan_in)
    assert (layer.bias == 0).all()


def test_rollout_filters_the_previous_prediction():
    torch.manual_seed(0)
    model = dfn.DynamicFilterVideoNet(5).double()
    frames = torch.rand(2, 4, 1, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        predictions, filters = model(frames, 3, return_filters=True)
    assert predictions.shape == (2, 3, 1, 16, 16) and filters.shape == (2, 3, 25, 16, 16)
    # the first prediction moves the last true frame, each later one the previous prediction
    previous = [frames[:, -1], predictions[:, 0], predictions[:, 1]]
    for k in range(3):
        torch.testing.assert_close(predictions[:, k], local_filter2d(previous[k], filters[:, k]))
        assert (filters[:, k] >= 0).all()
        torch.testing.assert_close(filters[:, k].sum(1), torch.ones(2, 16, 16, dtype=torch.float64))
    # the prediction depends on the frames read before the last one (the recurrence)
    changed = frames.clone()
    changed[:, 0] = torch.rand_like(changed[:, 0])
    with torch.no_grad():
        assert not torch.allclose(model(changed, 3), predictions)


def test_steered_matches_the_separable_derivative_of_gaussian():
    # The target built as separable 1-D passes with scipy: the x-derivative of a Gaussian
    # along the rows, smoothing along the columns, and the reverse for y.
    rng = np.random.default_rng(0)
    image = rng.random((20, 23))
    x = np.arange(-4, 5)
    sigma = 1.3
    g = np.exp(-(x**2) / (2 * sigma**2))
    dg = (x / sigma) * g
    ix = convolve2d(convolve2d(image, dg[None, :], mode="same"), g[:, None], mode="same")
    iy = convolve2d(convolve2d(image, g[None, :], mode="same"), dg[:, None], mode="same")
    thetas = torch.tensor([0.3, 2.0, 4.5], dtype=torch.float64)
    images = torch.tensor(image)[None, None].expand(3, 1, 20, 23)
    out = dfn.steered(images, thetas, sigma).numpy()
    for k, theta in enumerate(thetas.tolist()):
        ref = math.cos(theta) * ix + math.sin(theta) * iy
        np.testing.assert_allclose(out[k, 0], ref, atol=1e-12)


@pytest.mark.parametrize("preset_args", [["--preset", "smoke"],
                                         ["--preset", "smoke", "--task", "steerable"]])  # fmt: skip
def test_smoke_runs_write_their_tables(tmp_path, preset_args):
    rows = dfn.main([*preset_args, "--out", str(tmp_path / "run")])
    stored = json.loads((tmp_path / "run" / "table.json").read_text())
    assert [r["model"] for r in stored] == [r["model"] for r in rows]
    if "steerable" in preset_args:
        assert 0 < stored[0]["relative_mse"] and len(stored[0]["filter_relative_error"]) == 16
        assert (tmp_path / "run" / "steerable_filters.png").exists()
    else:
        assert [r["model"] for r in rows] == [
            "mean_intensity",
            "copy_last_frame",
            "dfn",
            "convlstm",
        ]
        for r in rows:  # the paper's unit: nats summed over a frame's pixels
            assert r["test_bce_per_frame_sum"] == pytest.approx(r["test_bce"] * 32 * 32)
        assert (tmp_path / "run" / "filter_flow.png").exists()


def test_ddp_two_processes_share_the_batch(tmp_path):
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "experiments.dfn", "--preset", "smoke", "--models", "dfn", "--steps", "2",
           "--device", "cpu", "--out", str(tmp_path)]  # fmt: skip
    result = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "config.json").read_text())["world_size"] == 2
    rows = json.loads((tmp_path / "table.json").read_text())
    assert [r["model"] for r in rows] == [*dfn.REFERENCES, "dfn"] and rows[-1]["steps"] == 2


@pytest.mark.parametrize("sigma", ["1e-9", "0", "0.1"])
def test_a_steerable_width_that_vanishes_on_the_grid_is_refused_before_training(
    sigma, tmp_path, capsys
):
    with pytest.raises(SystemExit):
        dfn.parse(["--task", "steerable", "--sigma", sigma, "--out", str(tmp_path / "run")])
    assert "vanishes on the 9x9 grid" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    cfg, _ = dfn.parse(["--task", "steerable", "--sigma", "0.5", "--out", str(tmp_path / "ok")])
    assert cfg.sigma == 0.5
