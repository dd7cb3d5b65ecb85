"""The memory-task experiment: budgets, kill-and-resume, and DDP under torchrun."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from experiments import memory
from experiments.runner import count_parameters

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["--preset", "smoke", "--models", "cgrnn", "--checkpoint-every", "5"]


def test_budget_sizes_models_to_the_same_parameter_count():
    for name in memory.MODELS:
        hidden = memory.hidden_for_budget(name, "copy", 20_000)
        params = count_parameters(memory.SequenceModel(name, "copy", hidden))
        bigger = count_parameters(memory.SequenceModel(name, "copy", hidden + 1))
        assert params <= 20_000 < bigger, name


def test_complex_parameters_count_twice():
    model = memory.SequenceModel("cgrnn", "copy", 8)
    real = sum(p.numel() for p in model.parameters() if not p.is_complex())
    cplx = sum(p.numel() for p in model.parameters() if p.is_complex())
    assert count_parameters(model) == real + 2 * cplx


def test_outputs_are_written(tmp_path):
    results = memory.main([*SMOKE, "--steps", "12", "--out", str(tmp_path)])
    for name in ("config.json", "metrics.csv", "table.md", "table.json", "loss_copy_T8.png"):
        assert (tmp_path / name).exists(), name
    rows = json.loads((tmp_path / "table.json").read_text())
    assert rows[0]["model"] == "cgrnn" and rows[0]["params"] == results[0]["params"]
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 1 + 12


def test_kill_and_resume_reproduces_an_uninterrupted_run(tmp_path):
    args = [*SMOKE, "--steps", "120"]
    reference = memory.main([*args, "--out", str(tmp_path / "reference")])[0]

    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.memory", *args, "--out", str(killed)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = killed / "checkpoints" / "copy-T8-cgrnn.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists()
    interrupted_at = torch.load(checkpoint, weights_only=True)["progress"]["step"]
    assert 0 < interrupted_at < 120  # it really was killed mid-run

    resumed = memory.main([*args, "--out", str(killed), "--resume"])[0]
    assert [h[0] for h in resumed["history"]] == list(range(120))
    got = torch.tensor([h[1:] for h in resumed["history"]], dtype=torch.float64)
    want = torch.tensor([h[1:] for h in reference["history"]], dtype=torch.float64)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-9)
    assert resumed["eval_loss"] == pytest.approx(reference["eval_loss"], rel=1e-6)


def test_ddp_two_processes_on_cpu(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "experiments.memory",
        *SMOKE,
        "--models",
        "cgrnn",
        "lstm",
        "--steps",
        "6",
        "--device",
        "cpu",
        "--out",
        str(tmp_path),
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["world_size"] == 2 and config["device"] == "cpu"
    rows = json.loads((tmp_path / "table.json").read_text())
    assert [r["model"] for r in rows] == ["cgrnn", "lstm"]


def test_memory_bench_times_every_row_side_by_side():
    from experiments import bench

    result = bench.run_memory(1, sizes=bench.TINY)
    assert [r["model"] for r in result["rows"]] == [row[0] for row in bench.memory_rows()]
    assert result["rows"][1]["vs_circulant"] == 1.0 and result["rows"][0]["real_params"] == 44_643
    assert 0 < result["cayley_share"] < 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--u-optimizer", "sgd", "--transition", "stiefel"], "u-optimizer sgd"),
        (["--u-optimizer", "sgd", "--models", "cgrnn"], "u-optimizer sgd"),
        (["--cayley-normalize", "1"], "cayley-normalize"),
        (["--optimizer", "adam", "--rmsprop-alpha", "0.9"], "rmsprop-alpha"),
        (["--hidden", "8", "--params", "5000"], "--hidden 8 sizes every model"),
        (["--eigen-lr", "1e-5", "--models", "cgrnn"], "eigen-lr"),
        (["--stop-at-recall", "0.99", "--tasks", "adding"], "stop-at-recall"),
        (["--stop-at-recall", "1.5"], "stop-at-recall is a recall"),
    ],
)
def test_options_no_model_would_use_are_refused(options, message, tmp_path, capsys):
    with pytest.raises(SystemExit):
        memory.parse(["--preset", "smoke", *options, "--out", str(tmp_path / "run")])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_long_memory_preset_trains_the_deep_models_with_small_eigenvalue_steps(tmp_path):
    args = ["--preset", "long-memory", "--T", "12", "--tasks", "copy", "--steps", "3",
            "--batch", "4", "--eval-batch", "8", "--params", "6000"]  # fmt: skip
    cfg, _ = memory.parse([*args, "--out", str(tmp_path / "x")])
    model = memory.SequenceModel("deep_lru", "copy", 8, cfg)
    groups = memory.make_optimizer(cfg, model).optimizers[0].param_groups
    eigen = memory.eigenvalue_parameters(model)  # cunitary.sequence's, as the run uses it
    assert len(eigen) == 3 * cfg.depth
    assert [g["lr"] for g in groups] == [cfg.lr, 1e-5]
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in eigen}
    rows = memory.main([*args, "--out", str(tmp_path / "run")])
    assert [r["model"] for r in rows] == ["deep_unitary", "deep_lru", "deep_arma"]
    assert all(r["params"] <= 6000 for r in rows)


def test_a_copy_run_ends_once_its_windowed_training_recall_reaches_stop_at_recall(tmp_path):
    args = [*SMOKE, "--steps", "20", "--window", "5"]
    # An untrained model recalls about 1/8 of the symbols: a 0.01 target is met at once,
    # at the first window's end; 1.0 is not, so that run trains all 20 steps.
    early = memory.main([*args, "--stop-at-recall", "0.01", "--out", str(tmp_path / "a")])[0]
    full = memory.main([*args, "--stop-at-recall", "1.0", "--out", str(tmp_path / "b")])[0]
    assert len(early["history"]) == 5 and early["steps"] == 5
    assert sum(h[2] for h in early["history"]) / 5 >= 0.01
    assert len(full["history"]) == 20
    assert max(h[2] for h in full["history"]) < 1.0


@pytest.mark.parametrize("task", ["copy", "adding"])
def test_the_final_evaluation_in_chunks_is_the_whole_batch_in_one_pass(task):
    torch.manual_seed(0)
    model = memory.SequenceModel("deep_unitary", task, 6)
    x, y = memory.batch_for(task, 12, 2 * memory.EVAL_CHUNK + 7, 3, 0, 0)
    loss, score = memory.evaluate(model, task, x, y, "cpu")
    with torch.no_grad():
        whole_loss, whole_score = memory.loss_and_score(task, model(x), y)
    torch.testing.assert_close(loss.float(), whole_loss, rtol=1e-6, atol=0)
    torch.testing.assert_close(score.float(), whole_score, rtol=1e-6, atol=0)
