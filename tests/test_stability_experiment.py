"""The stability experiment runs end to end on its smoke preset and resumes from checkpoints."""

import json

import torch

from experiments.stability import small as stability


def test_smoke_run_writes_outputs_and_resumes(tmp_path):
    out = tmp_path / "run"
    models = ["unconstrained", "srnc_1.0_1.0", "unitary_gru"]
    rows = stability.main(["--out", str(out), "--preset", "smoke", "--models", *models])
    assert [r["model"] for r in rows] == models
    for name in ("config.json", "table.md", "table.json", "onsets.csv", "trf.png",
                 "rollout_psnr.png"):  # fmt: skip
        assert (out / name).exists(), name
    srnc = rows[1]
    assert all(abs(s - 1.0) < 0.02 for s in srnc["spectral_norms"])
    # resume at the same length: the trained weights are reloaded, not retrained
    saved = torch.load(out / "checkpoints" / "unconstrained.pt", weights_only=True)
    again = stability.main(
        ["--out", str(out), "--preset", "smoke", "--models", "unconstrained", "--resume"]
    )
    assert again[0]["final_train_loss"] == rows[0]["final_train_loss"]
    assert again[0]["test_psnr"] == rows[0]["test_psnr"]
    assert saved["progress"]["step"] == 3
    assert json.loads((out / "config.json").read_text())["config"]["steps"] == 3


def test_resume_with_more_steps_continues_exactly(tmp_path):
    args = ["--preset", "smoke", "--models", "unconstrained"]
    full = stability.main([*args, "--steps", "6", "--out", str(tmp_path / "full")])
    stability.main([*args, "--steps", "3", "--out", str(tmp_path / "part")])
    (tmp_path / "part" / "checkpoints" / "mine.pt").write_bytes(b"a user's file")
    resumed = stability.main([*args, "--steps", "6", "--out", str(tmp_path / "part"), "--resume"])
    assert resumed[0]["final_train_loss"] == full[0]["final_train_loss"]
    assert resumed[0]["test_psnr"] == full[0]["test_psnr"]
    assert (tmp_path / "part" / "checkpoints" / "mine.pt").read_bytes() == b"a user's file"


def test_the_stability_study_is_one_command_and_the_old_ones_name_it(capsys):
    import subprocess
    import sys

    import pytest

    from experiments.stability.__main__ import COMMANDS, main

    assert main([]) == 2
    usage = capsys.readouterr().out
    assert all(name in usage for name in COMMANDS)
    with pytest.raises(SystemExit, match="unknown command 'bogus'"):
        main(["bogus"])
    for old, new in (("denoisers", "backbones"), ("denoising", "camera")):
        with pytest.raises(ImportError, match=f"experiments.stability.{new}"):
            __import__(f"experiments.{old}")
    done = subprocess.run([sys.executable, "-m", "experiments.denoising", "--help"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "python -m experiments.stability camera" in done.stderr
    assert "--long-frames" in done.stdout
