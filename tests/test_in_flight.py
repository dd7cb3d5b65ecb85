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
    assert carried == ["run/checkpoints/speed1-convlstm3.pt", "run/config.json"]
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
    assert again.returncode == 0 and "left as it is" in again.stderr


def test_park_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "empty").mkdir()
    done = _park("park", str(tmp_path / "empty"), parked=tmp_path, runs=tmp_path)
    assert done.returncode == 2 and "config.json not found" in done.stderr
