"""The video experiment: every model's forward, a training step, resume, and DDP."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from experiments import video
from experiments.runner import count_parameters

ROOT = Path(__file__).resolve().parents[1]


def smoke_config(**overrides) -> video.Config:
    return video.Config(**{**video.Config().__dict__, **video.PRESETS["smoke"], **overrides})


@pytest.mark.parametrize("name", video.MODELS)
def test_every_model_predicts_frames_and_one_step_lowers_its_loss(name):
    cfg = smoke_config()
    torch.manual_seed(0)
    model = video.VideoPredictor(name, video.hidden_for(name, cfg), cfg)
    frames = torch.rand(2, 20, 1, 32, 32) * (torch.rand(2, 20, 1, 32, 32) > 0.8)
    inputs, target = frames[:, :10], frames[:, 10:]
    with torch.no_grad():
        prediction = model(inputs, 10)
        reading = model(inputs, 10, reading=True)
    assert prediction.shape == (2, 10, 1, 32, 32)
    assert reading.shape == (2, 19, 1, 32, 32)
    torch.testing.assert_close(reading[:, 9:], prediction)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = video.loss_fn(name, model(inputs, 10), target)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = video.loss_fn(name, model(inputs, 10), target)
    assert float(after) < float(before.detach())


def test_heads_and_losses():
    cfg = smoke_config(head="sigmoid")
    torch.manual_seed(0)
    sigmoid = video.VideoPredictor("convlstm3", 4, cfg)
    torch.manual_seed(0)
    linear = video.VideoPredictor("convlstm3", 4, smoke_config(head="linear"))
    x = torch.rand(2, 10, 1, 32, 32)
    with torch.no_grad():
        first_sigmoid, first_linear = sigmoid(x, 1), linear(x, 1)
    torch.testing.assert_close(first_sigmoid, torch.sigmoid(first_linear))
    p, t = torch.rand(3, 4), torch.rand(3, 4)
    mse = float(((p - t) ** 2).mean())
    assert float(video.loss_fn("convlstm3", p, t, "mse")) == pytest.approx(mse)
    l1l2 = mse + float((p - t).abs().mean())
    assert float(video.loss_fn("convlstm3", p, t, "l1l2")) == pytest.approx(l1l2)
    bce = torch.nn.functional.binary_cross_entropy(p.clamp(1e-6, 1 - 1e-6), t)
    assert float(video.loss_fn("dfn", p, t, "mse")) == pytest.approx(float(bce))


def test_unitary_models_are_sized_to_the_arma_lstm_budget():
    cfg = video.Config()  # the cpu preset
    budget = count_parameters(video.VideoPredictor("armalstm", cfg.hidden, cfg))
    for name in video.UNITARY_MODELS:
        hidden = video.hidden_for(name, cfg)
        assert count_parameters(video.VideoPredictor(name, hidden, cfg)) <= budget
        assert count_parameters(video.VideoPredictor(name, hidden + 1, cfg)) > budget


def test_dilated_arma_lstm_dilates_the_convolution_only():
    cell = video.cell_factory("armalstm_dilated", 32)(1, 4)
    assert cell.gates.conv.dilation == (2, 2)
    assert cell.gates.ar_dilation == 1


def test_scheduled_sampling_feeds_truth_then_predictions():
    cfg = smoke_config(sampling_steps=10)
    assert bool(video.teacher_mask(cfg, 0, 4, 0).all())
    assert not bool(video.teacher_mask(cfg, 10, 4, 0).any())
    half = video.teacher_mask(smoke_config(sampling_steps=1000), 500, 200, 0).float().mean()
    assert 0.4 < float(half) < 0.6


def test_reference_rows_are_the_blank_and_the_last_frame():
    x = torch.rand(2, 10, 1, 8, 8)
    assert not video.reference_predictor("blank_frame")(x).any()
    copied = video.reference_predictor("copy_last_frame")(x)
    assert copied.shape == (2, 10, 1, 8, 8)
    assert bool((copied == x[:, -1:]).all())


def test_smoke_run_resumes_exactly(tmp_path):
    args = ["--preset", "smoke", "--models", "convlstm3", "dfn"]
    full = video.main([*args, "--out", str(tmp_path / "full")])
    video.main([*args, "--steps", "2", "--out", str(tmp_path / "part")])
    resumed = video.main([*args, "--steps", "4", "--out", str(tmp_path / "part"), "--resume"])
    assert [r["model"] for r in full] == [*video.REFERENCES, "convlstm3", "dfn"]
    for a, b in zip(full, resumed, strict=True):
        assert a.get("history") == b.get("history")
        assert a.get("curve") == b.get("curve")
        assert a["test_psnr"] == pytest.approx(b["test_psnr"], rel=1e-6)
    for name in ("config.json", "table.md", "table.json", "metrics.csv", "frame_metrics.json",
                 "curves.json", "frame_metrics.png", "strip_speed1.png"):  # fmt: skip
        assert (tmp_path / "full" / name).exists(), name
    rows = json.loads((tmp_path / "full" / "table.json").read_text())
    blank = next(r for r in rows if r["model"] == "blank_frame")
    data = video.load_split(smoke_config(), tmp_path / "full", "test", 4, 1)
    target = video.as_frames(data)[:, 10:]
    assert blank["test_mse"] == pytest.approx(float(target.pow(2).mean()), rel=1e-6)


def test_ddp_two_processes_on_cpu(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "experiments.video", "--preset", "smoke", "--models", "convlstm3",
           "--device", "cpu", "--out", str(tmp_path)]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "config.json").read_text())["world_size"] == 2
    models = [r["model"] for r in json.loads((tmp_path / "table.json").read_text())]
    assert models == [*video.REFERENCES, "convlstm3"]


def test_amp_runs_every_core_model(tmp_path):
    """bf16 autocast for the real-valued convolutions (on the CPU here); states keep
    their precision and the complex parts stay float32."""
    results = video.main(["--preset", "smoke", "--steps", "2", "--amp", "--device", "cpu",
                          "--models", *video.CORE_MODELS, "--out", str(tmp_path)])  # fmt: skip
    assert [r["model"] for r in results] == [*video.REFERENCES, *video.CORE_MODELS]
    assert all(math.isfinite(r["test_mse"]) for r in results)
    assert json.loads((tmp_path / "config.json").read_text())["amp"] is True
