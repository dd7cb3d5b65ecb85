"""Parking an unfinished run in git and taking it up on a new machine resumes it exactly."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import video

ROOT = Path(__file__).resolve().parents[1]
PARK = ROOT / "in-flight" / "park.sh"


def _park(*args: str, parked: Path, runs: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "IN_FLIGHT_DIR": str(parked), "RUNS_DIR": str(runs),
           "PYTHON": sys.executable}  # fmt: skip
    return subprocess.run(["bash", str(PARK), *args], env=env, capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("bash") is None, reason="park.sh is a bash script")
def test_a_parked_run_resumes_on_a_new_machine_as_if_never_stopped(tmp_path):
    args = ["--preset", "smoke", "--models", "convlstm3"]
    full = video.main([*args, "--out", str(tmp_path / "full")])

    old_runs, new_runs, parked = tmp_path / "old", tmp_path / "new", tmp_path / "parked"
    parked.mkdir()
    video.main([*args, "--steps", "2", "--out", str(old_runs / "run")])
    done = _park("park", str(old_runs / "run"), parked=parked, runs=new_runs)
    assert done.returncode == 0, done.stderr
    # Only what a commit should carry: the config and the checkpoints, not the data.
    carried = sorted(p.relative_to(parked).as_posix() for p in parked.rglob("*") if p.is_file())
    assert carried == ["run/checkpoints/speed1-convlstm3.pt", "run/config.json", "run/origin.txt"]
    listed = _park("list", parked=parked, runs=new_runs)
    assert listed.returncode == 0 and listed.stdout == "run: step 2\n", listed.stderr

    done = _park("unpark", parked=parked, runs=new_runs)
    assert done.returncode == 0, done.stderr
    resumed = video.main([*args, "--steps", "4", "--out", str(new_runs / "run"), "--resume"])
    for a, b in zip(full, resumed, strict=True):
        assert a.get("curve") == b.get("curve")
        assert a["test_mse"] == pytest.approx(b["test_mse"], rel=1e-6)

    # A run already on this machine is never overwritten by its parked copy.
    again = _park("unpark", parked=parked, runs=new_runs)
    assert again.returncode == 0 and "already holds a run; left as it is" in again.stderr


def test_park_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "empty").mkdir()
    done = _park("park", str(tmp_path / "empty"), parked=tmp_path, runs=tmp_path)
    assert done.returncode == 2 and "config.json not found" in done.stderr


def _fake_run(folder: Path, step_file: str = "model.pt") -> Path:
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "checkpoints" / step_file).write_bytes(b"not a real checkpoint")
    return folder


@pytest.mark.skipif(shutil.which("bash") is None, reason="park.sh is a bash script")
def test_two_runs_of_one_name_never_overwrite_each_other(tmp_path):
    parked, runs = tmp_path / "parked", tmp_path / "runs"
    seed0 = _fake_run(tmp_path / "seed0" / "mem")
    seed1 = _fake_run(tmp_path / "seed1" / "mem")
    done = _park("park", str(seed0), str(seed1), parked=parked, runs=runs)
    assert done.returncode == 2 and "two runs named mem" in done.stderr
    assert not parked.exists() or not any(parked.iterdir())  # nothing copied
    assert _park("park", str(seed0), parked=parked, runs=runs).returncode == 0
    assert _park("park", str(seed0), parked=parked, runs=runs).returncode == 0  # an update
    done = _park("park", str(seed1), parked=parked, runs=runs)
    assert done.returncode == 2 and "holds another run" in done.stderr
    assert (parked / "mem" / "origin.txt").read_text().strip() == str(seed0)


@pytest.mark.skipif(shutil.which("bash") is None, reason="park.sh is a bash script")
def test_unpark_keeps_a_present_run_and_fails_on_a_missing_checkpoint(tmp_path):
    parked, runs = tmp_path / "parked", tmp_path / "runs"
    run = _fake_run(tmp_path / "old" / "run")
    assert _park("park", str(run), parked=parked, runs=runs).returncode == 0
    (runs / "run").mkdir(parents=True)
    (runs / "run" / "config.json").write_text('{"mine": 1}')  # a run here, no checkpoints yet
    done = _park("unpark", parked=parked, runs=runs)
    assert done.returncode == 0 and "already holds a run" in done.stderr
    assert (runs / "run" / "config.json").read_text() == '{"mine": 1}'
    shutil.rmtree(runs / "run")
    (parked / "run" / "checkpoints" / "model.pt").unlink()
    done = _park("unpark", parked=parked, runs=runs)
    assert done.returncode == 1 and "no checkpoints/*.pt" in done.stderr
    assert not (runs / "run").exists()
