"""The shared experiment runner: argument checks, folder guards, resume guards, atomic files."""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from experiments import memory, runner, video

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["--preset", "smoke", "--models", "lstm", "--steps", "6"]


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        (memory, ["--batch", "0"], "--batch must be"),
        (memory, ["--clip", "-1"], "--clip must be"),
        (memory, ["--steps", "0"], "--steps must be"),
        (memory, ["--lr", "nan"], "--lr must be"),
        (memory, ["--T", "1"], "--T must be"),
        (video, ["--steps", "0"], "--steps must be"),
        (video, ["--batch", "0"], "--batch must be"),
        (video, ["--eval-every", "0"], "--eval-every must be"),
        (video, ["--checkpoint-every", "0"], "--checkpoint-every must be"),
        (video, ["--dfn-kernel", "4"], "--dfn-kernel must be odd"),
        (video, ["--device", "tpu"], "--device must be"),
    ],
)
def test_nonsense_arguments_are_refused_before_anything_is_written(
    tmp_path, capsys, module, args, message
):
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--preset", "smoke", *args, "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_machine_without_it_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        memory.main([*SMOKE, "--device", "cuda", "--out", str(tmp_path)])
    assert "CUDA is not available" in capsys.readouterr().err


def test_a_finished_run_is_not_overwritten_without_being_told(tmp_path):
    first = memory.main([*SMOKE, "--out", str(tmp_path)])
    table = (tmp_path / "table.json").read_text()
    with pytest.raises(runner.RunError, match="already holds a run"):
        memory.main([*SMOKE, "--lr", "0.01", "--out", str(tmp_path)])
    assert (tmp_path / "table.json").read_text() == table
    again = memory.main([*SMOKE, "--lr", "0.01", "--out", str(tmp_path), "--overwrite"])
    assert again[0]["history"] != first[0]["history"]
    assert json.loads((tmp_path / "config.json").read_text())["config"]["lr"] == 0.01


def test_resume_refuses_a_change_of_what_was_measured_and_records_allowed_ones(tmp_path):
    memory.main([*SMOKE, "--out", str(tmp_path)])
    for change in (["--lr", "0.01"], ["--params", "3000"], ["--optimizer", "adam"]):
        with pytest.raises(runner.RunError, match="would change what"):
            memory.main([*SMOKE, *change, "--out", str(tmp_path), "--resume"])
    longer = memory.main([*SMOKE[:-1], "9", "--out", str(tmp_path), "--resume"])
    assert len(longer[0]["history"]) == 9
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["config"]["steps"] == 9
    assert config["resumes"][-1]["changed"] == {"steps": [6, 9]}
    with pytest.raises(runner.RunError, match="past --steps"):
        memory.main([*SMOKE[:-1], "7", "--out", str(tmp_path), "--resume"])


def _forget_option(out, name: str) -> None:
    """Make ``out`` look like a run recorded before option ``name`` existed."""
    record = json.loads((out / "config.json").read_text())
    del record["config"][name]
    (out / "config.json").write_text(json.dumps(record))
    for path in (out / "checkpoints").glob("*.pt"):
        state = runner.load_checkpoint(path)
        del state["config"][name]
        torch.save(state, path)


def test_a_run_recorded_before_an_option_existed_resumes_at_its_default_only(tmp_path):
    memory.main([*SMOKE, "--out", str(tmp_path)])
    _forget_option(tmp_path, "rmsprop_alpha")
    with pytest.raises(runner.RunError, match="rmsprop_alpha: 0.99 -> 0.9"):
        memory.main([*SMOKE, "--rmsprop-alpha", "0.9", "--out", str(tmp_path), "--resume"])
    longer = memory.main([*SMOKE[:-1], "8", "--out", str(tmp_path), "--resume"])
    assert len(longer[0]["history"]) == 8
    _forget_option(tmp_path, "gate_bias")  # the checkpoint alone is checked as well
    record = json.loads((tmp_path / "config.json").read_text())
    record["config"]["gate_bias"] = 4.0
    (tmp_path / "config.json").write_text(json.dumps(record))
    memory.main([*SMOKE[:-1], "9", "--out", str(tmp_path), "--resume"])
    state = runner.load_checkpoint(tmp_path / "checkpoints" / "copy-T8-lstm.pt")
    assert state["progress"]["step"] == 9 and state["config"]["gate_bias"] == 4.0


def test_a_checkpoint_of_another_configuration_is_refused(tmp_path):
    memory.main([*SMOKE, "--out", str(tmp_path / "a")])
    memory.main([*SMOKE, "--lr", "0.01", "--out", str(tmp_path / "b")])
    stale = tmp_path / "a" / "checkpoints" / "copy-T8-lstm.pt"
    (tmp_path / "b" / "checkpoints" / "copy-T8-lstm.pt").write_bytes(stale.read_bytes())
    with pytest.raises(runner.RunError, match="another configuration"):
        memory.main([*SMOKE, "--lr", "0.01", "--out", str(tmp_path / "b"), "--resume"])


def test_an_unreadable_checkpoint_is_named(tmp_path):
    memory.main([*SMOKE, "--out", str(tmp_path)])
    checkpoint = tmp_path / "checkpoints" / "copy-T8-lstm.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    with pytest.raises(runner.RunError, match="copy-T8-lstm.pt"):
        memory.main([*SMOKE, "--out", str(tmp_path), "--resume"])


def test_a_non_finite_loss_stops_training_and_names_the_step(tmp_path):
    model = nn.Linear(2, 1)
    run = runner.Run(tmp_path, torch.device("cpu"), 0, 1, False, False, {})
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def batch_loss(net, step):
        x = torch.ones(4, 2) * (float("nan") if step == 3 else 1.0)
        return (net(x).pow(2).mean(),)

    with pytest.raises(FloatingPointError, match="at step 3"):
        runner.train(model, optimizer, batch_loss, run, steps=10,
                     checkpoint=tmp_path / "c.pt", checkpoint_every=2)  # fmt: skip
    assert torch.load(tmp_path / "c.pt", weights_only=True)["progress"]["step"] == 2
    assert torch.isfinite(model.weight).all()


def test_files_are_written_by_rename_and_leave_no_temporaries(tmp_path):
    runner.write_json(tmp_path / "a" / "x.json", {"k": 1})
    runner.write_csv(tmp_path / "a" / "x.csv", ["a", "b"], [[1, 2]])
    runner.save_atomically({"w": torch.ones(2)}, tmp_path / "a" / "x.pt")
    assert json.loads((tmp_path / "a" / "x.json").read_text()) == {"k": 1}
    assert (tmp_path / "a" / "x.csv").read_text() == "a,b\n1,2\n"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["x.csv", "x.json", "x.pt"]

    def fail(path):
        path.write_text("half")
        raise OSError("disk full")

    with pytest.raises(runner.RunError, match="disk full"):
        runner._replace(tmp_path / "a" / "x.json", fail)
    assert json.loads((tmp_path / "a" / "x.json").read_text()) == {"k": 1}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["x.csv", "x.json", "x.pt"]


def test_keyed_generators_depend_on_every_part():
    draw = [torch.rand(3, generator=runner.keyed_generator(*k)) for k in
            [(0, "copy", 1), (0, "copy", 1), (1, "copy", 1), (0, "adding", 1)]]  # fmt: skip
    assert torch.equal(draw[0], draw[1])
    assert not torch.equal(draw[0], draw[2]) and not torch.equal(draw[0], draw[3])


def test_complex_parameters_count_twice():
    model = nn.Linear(3, 2, dtype=torch.complex64)
    assert runner.count_parameters(model) == 2 * (3 * 2 + 2)


def test_value_clipping_clamps_real_and_imaginary_parts_apart():
    p = nn.Parameter(torch.zeros(3, dtype=torch.complex128))
    p.grad = torch.tensor([3 - 0.5j, -0.2 + 4j, -7 - 9j], dtype=torch.complex128)
    q = nn.Parameter(torch.zeros(2))
    q.grad = torch.tensor([-2.0, 0.3])
    runner.clip_grad_value_([p, q], 1.0)
    assert p.grad.tolist() == [1 - 0.5j, -0.2 + 1j, -1 - 1j]
    assert q.grad.tolist() == pytest.approx([-1.0, 0.3])


def test_several_optimisers_checkpoint_and_resume_as_one(tmp_path):
    def make():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
        first = torch.optim.Adam(model[0].parameters(), lr=0.1)
        second = torch.optim.SGD(model[1].parameters(), lr=0.1, momentum=0.9)
        return model, runner.Optimizers(first, second)

    def batch_loss(net, step):
        x = torch.randn(8, 2, generator=runner.keyed_generator(0, "t", step))
        return (net(x).pow(2).mean(),)

    run = runner.Run(tmp_path, torch.device("cpu"), 0, 1, False, False, {})
    model, opts = make()
    whole = runner.train(model, opts, batch_loss, run, steps=12,
                         checkpoint=tmp_path / "a.pt", checkpoint_every=4)  # fmt: skip
    model, opts = make()
    runner.train(model, opts, batch_loss, run, steps=8, checkpoint=tmp_path / "b.pt",
                 checkpoint_every=4)  # fmt: skip
    model, opts = make()
    resumed_run = runner.Run(tmp_path, torch.device("cpu"), 0, 1, True, False, {})
    resumed = runner.train(model, opts, batch_loss, resumed_run, steps=12,
                           checkpoint=tmp_path / "b.pt", checkpoint_every=4)  # fmt: skip
    assert [h[1] for h in resumed.history] == [h[1] for h in whole.history]
    with pytest.raises(runner.RunError, match="2 optimiser states"):
        runner.Optimizers(opts.optimizers[0]).load_state_dict(opts.state_dict())


def test_until_ends_training_early_and_a_resume_stays_ended(tmp_path):
    model = nn.Linear(2, 1)
    run = runner.Run(tmp_path, torch.device("cpu"), 0, 1, False, False, {})
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def batch_loss(net, step):
        return (net(torch.ones(4, 2)).pow(2).mean(),)

    def until(progress):
        return progress.step >= 5

    done = runner.train(model, optimizer, batch_loss, run, steps=50, until=until,
                        checkpoint=tmp_path / "c.pt", checkpoint_every=100)  # fmt: skip
    assert done.step == 5
    assert torch.load(tmp_path / "c.pt", weights_only=True)["progress"]["step"] == 5
    resumed_run = runner.Run(tmp_path, torch.device("cpu"), 0, 1, True, False, {})
    again = runner.train(model, optimizer, batch_loss, resumed_run, steps=50, until=until,
                         checkpoint=tmp_path / "c.pt", checkpoint_every=100)  # fmt: skip
    assert again.step == 5 and len(again.history) == 5


def test_an_empty_out_is_refused(capsys):
    with pytest.raises(SystemExit):
        memory.parse([*SMOKE, "--out", ""])
    assert "--out must name a folder" in capsys.readouterr().err


def test_resume_needs_a_run_and_the_same_precision(tmp_path):
    with pytest.raises(runner.RunError, match="holds no run"):
        memory.main([*SMOKE, "--out", str(tmp_path / "empty"), "--resume"])
    memory.main([*SMOKE, "--out", str(tmp_path)])
    record = (tmp_path / "config.json").read_text()
    with pytest.raises(runner.RunError, match="without --amp"):
        memory.main([*SMOKE, "--out", str(tmp_path), "--resume", "--amp"])
    assert (tmp_path / "config.json").read_text() == record


def test_a_resume_refused_by_its_checkpoint_leaves_the_record_alone(tmp_path):
    memory.main([*SMOKE, "--steps", "6", "--out", str(tmp_path)])
    record = (tmp_path / "config.json").read_text()
    with pytest.raises(runner.RunError, match="past --steps"):
        memory.main([*SMOKE, "--steps", "4", "--out", str(tmp_path), "--resume"])
    assert (tmp_path / "config.json").read_text() == record


def test_a_corrupted_checkpoint_is_refused(tmp_path):
    memory.main([*SMOKE, "--out", str(tmp_path)])
    path = tmp_path / "checkpoints" / "copy-T8-lstm.pt"
    state = torch.load(path, weights_only=True)
    assert "sha256" in state
    weight = next(iter(state["model"].values()))
    weight.view(-1)[0] += 1e-3  # one value changed, the stored checksum kept
    torch.save(state, path)
    with pytest.raises(runner.RunError, match="corrupted"):
        runner.load_checkpoint(path)


def test_two_writers_of_one_file_never_share_a_temporary(tmp_path, monkeypatch):
    seen = []
    real_replace = runner.os.replace
    monkeypatch.setattr(runner.os, "replace", lambda a, b: seen.append(a) or real_replace(a, b))
    runner.write_text(tmp_path / "x.txt", "a")
    runner.write_text(tmp_path / "x.txt", "b")
    assert len(set(seen)) == 2 and (tmp_path / "x.txt").read_text() == "b"


def test_a_budget_below_the_smallest_model_is_refused(tmp_path):
    with pytest.raises(runner.RunError, match="below the smallest lstm model"):
        memory.main([*SMOKE, "--params", "1", "--out", str(tmp_path)])


def test_a_full_disk_is_named_and_the_previous_file_kept(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "table.json"
    runner.write_json(path, {"old": 1})

    def full(self, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner.Path, "write_text", full)
    with pytest.raises(runner.RunError, match=r"could not write .*table.json \(No space left"):
        runner.write_json(path, {"new": 2})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["table.json"]  # no temporary left


def test_a_short_write_inside_torch_save_names_the_file_and_keeps_the_old(tmp_path, monkeypatch):
    from experiments import runner

    path = tmp_path / "model.pt"
    runner.save_atomically({"progress": {"step": 1}}, path)

    def full_disk(obj, f):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0")

    monkeypatch.setattr(runner.torch, "save", full_disk)
    with pytest.raises(runner.RunError, match=r"could not write .*model\.pt \(\[enforce fail"):
        runner.save_atomically({"progress": {"step": 2}}, path)
    monkeypatch.undo()
    assert runner.load_checkpoint(path)["progress"]["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary left


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_every_corrupted_byte_is_refused_with_the_files_name_or_loads_intact(tmp_path):
    """Each byte of a small checkpoint flipped in turn: either the load fails as the
    runner's error naming the file, or what loads passes the checksum (bytes the zip
    container does not read)."""
    from experiments import runner

    path = tmp_path / "ckpt.pt"
    state = {"model": {"w": torch.arange(4.0)}, "progress": {"step": 7, "history": [1.5]}}
    runner.save_atomically({**state, "sha256": runner.state_digest(state)}, path)
    data = path.read_bytes()
    broken = tmp_path / "broken.pt"
    escaped = []
    for k in range(len(data)):
        broken.write_bytes(data[:k] + bytes([data[k] ^ 0xFF]) + data[k + 1 :])
        try:
            loaded = runner.load_checkpoint(broken)
        except runner.RunError as error:
            assert "broken.pt" in str(error)
            continue
        except Exception as error:  # noqa: BLE001 - what this test is looking for
            escaped.append((k, type(error).__name__))
            continue
        assert loaded["progress"]["step"] == 7 and torch.equal(
            loaded["model"]["w"], state["model"]["w"]
        )
    assert not escaped, escaped[:5]


def test_a_cpu_run_flushes_subnormal_floats_while_it_runs_and_only_then(tmp_path):
    """Subnormal products (here 1e-30 * 1e-10 = 1e-40 in float32, below the smallest normal
    float32 1.2e-38) are zero inside a CPU run, as recorded in its config, and come back
    after it (without the flush a trained LSTM's step took four times an untrained one's)."""

    @dataclasses.dataclass
    class Tiny:
        steps: int = 1

    def product() -> float:
        return (torch.tensor([1e-30]) * torch.tensor([1e-10])).item()

    assert product() != 0.0
    args = argparse.Namespace(device="cpu", out=tmp_path / "run", resume=False,
                              overwrite=False, amp=False, preset="")  # fmt: skip
    with runner.start(Tiny(), args, may_change=()):
        assert product() == 0.0
    assert product() != 0.0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["flush_denormal"] is True


RANK_STOPS_ALONE = """
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from experiments import runner

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
folder = Path(sys.argv[1])
run = runner.Run(folder, torch.device("cpu"), rank, world, False, False, {})
torch.manual_seed(0)
model = nn.Linear(2, 1)


def batch_loss(net, step):
    return ((net(torch.full((4, 2), float(rank + 1))) ** 2).mean(),)


progress = runner.train(model, torch.optim.SGD(model.parameters(), 0.01), batch_loss, run,
                        steps=8, checkpoint=folder / "model.pt", checkpoint_every=100,
                        until=lambda p: rank == 0 and p.step >= 3)
(folder / f"rank{rank}.txt").write_text(str(progress.step))
dist.destroy_process_group()
"""


def test_under_ddp_every_rank_stops_where_rank_0_decides(tmp_path):
    """``until`` sees each rank's own losses; here only rank 0's says stop (at step 3).
    Rank 1 must stop there too: had it gone on, its next step would wait in DDP's
    all-reduce for a rank that has left."""
    script = tmp_path / "stop.py"
    script.write_text(RANK_STOPS_ALONE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script), str(tmp_path)]  # fmt: skip
    try:
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=120)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("the ranks did not stop together: one waited for the other")
    assert result.returncode == 0, result.stderr[-2000:]
    assert [(tmp_path / f"rank{r}.txt").read_text() for r in (0, 1)] == ["3", "3"]
