"""The video experiment: every model's forward, a training step, resume, and DDP."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from experiments import video

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
    assert prediction.shape == (2, 10, 1, 32, 32)
    assert float(prediction.min()) >= 0 and float(prediction.max()) <= 1
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = video.loss_fn(name, model(inputs, 10), target)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = video.loss_fn(name, model(inputs, 10), target)
    assert float(after) < float(before.detach())


def test_complex_models_are_sized_to_the_arma_lstm_budget():
    cfg = video.Config()  # the cpu preset
    budget = video.count_params(video.VideoPredictor("armalstm", cfg.hidden, cfg))
    for name in ("rotation_convgru", "complex_gated"):
        hidden = video.hidden_for(name, cfg)
        assert video.count_params(video.VideoPredictor(name, hidden, cfg)) <= budget
        assert video.count_params(video.VideoPredictor(name, hidden + 1, cfg)) > budget


def test_scheduled_sampling_feeds_truth_then_predictions():
    cfg = smoke_config(sampling_steps=10)
    assert bool(video.teacher_mask(cfg, 0, 4, 0).all())
    assert not bool(video.teacher_mask(cfg, 10, 4, 0).any())
    half = video.teacher_mask(smoke_config(sampling_steps=1000), 500, 200, 0).float().mean()
    assert 0.4 < float(half) < 0.6


def test_smoke_run_resumes_exactly(tmp_path):
    args = ["--preset", "smoke", "--models", "convlstm3", "dfn"]
    full = video.main([*args, "--out", str(tmp_path / "full")])
    video.main([*args, "--steps", "2", "--out", str(tmp_path / "part")])
    resumed = video.main([*args, "--out", str(tmp_path / "part"), "--resume"])
    for a, b in zip(full, resumed, strict=True):
        assert a["history"] == b["history"]
        assert a["test_psnr"] == pytest.approx(b["test_psnr"], rel=1e-6)
    for name in ("config.json", "table.md", "table.json", "metrics.csv", "frame_metrics.json",
                 "frame_metrics.png", "strip_speed1.png"):  # fmt: skip
        assert (tmp_path / "full" / name).exists(), name


def test_ddp_two_processes_on_cpu(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "experiments.video", "--preset", "smoke", "--models", "convlstm3",
           "--out", str(tmp_path)]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "config.json").read_text())["world_size"] == 2
    assert [r["model"] for r in json.loads((tmp_path / "table.json").read_text())] == ["convlstm3"]
