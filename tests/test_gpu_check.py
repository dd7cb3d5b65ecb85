"""The GPU check's CPU rehearsal: every stage, its files, the budget, and the docs table."""

import json
import sys

from experiments import gpu_check
from experiments.tables import _common, benchmarks


def test_tiny_rehearsal_runs_every_stage_and_writes_its_files(tmp_path):
    summary = gpu_check.main(["--device", "cpu", "--tiny", "--out", str(tmp_path)])
    folder = tmp_path / "cpu-tiny"
    assert [s["status"] for s in summary["stages"]] == ["ok"] * 8, summary["stages"]
    assert [s["name"] for s in summary["stages"]] == [
        "pytest",
        *(f"bench {suite}" for suite in gpu_check.BENCH_SUITES),
        "video gpu preset",
    ]
    counts = summary["stages"][0]["counts"]
    assert counts["tests"] > 0 and counts["skipped"] == counts["tests"]  # no GPU here
    for suite in gpu_check.BENCH_SUITES:
        assert json.loads((folder / f"bench_{suite}.json").read_text())["env"]["tiny"] is True
    head = summary["headlines"]
    assert set(head["video_run"]) == set(gpu_check.VIDEO_MODELS)
    assert head["memory_step_seconds"] and head["cells_vs_lstm"]["nn.LSTM"] == 1.0
    assert head["deep_step_vs_lstm"]["lstm"] == 1.0 and set(head["scan_vs_loop"]) == {16}
    assert json.loads((folder / "summary.json").read_text())["stages"] == summary["stages"]


def test_budget_skips_what_cannot_fit_and_ends_what_overruns(tmp_path, monkeypatch):
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    monkeypatch.setattr(
        gpu_check, "stages",
        lambda device, folder, tiny: [gpu_check.Stage("slow", sleeper, 0.1),
                                      gpu_check.Stage("big", sleeper, 100.0)],
    )  # fmt: skip
    summary = gpu_check.main(["--device", "cpu", "--budget", "1.5", "--out", str(tmp_path)])
    slow, big = summary["stages"]
    assert slow["status"] == "timeout" and slow["seconds"] < 10
    assert big["status"] == "skipped: budget"
    assert (tmp_path / "cpu" / "summary.json").exists()


def test_docs_table_renders_committed_checks_and_ignores_rehearsals(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmarks, "GPU", tmp_path)
    assert "Not measured yet" in benchmarks.gpu_summary()
    for name in ("nvidia-h200", "cpu-tiny"):
        (tmp_path / name).mkdir()
        summary = {
            "device_name": name, "torch": "2.13.0",
            "stages": [{"name": "pytest", "status": "ok", "seconds": 30.0,
                        "counts": {"passed": 40, "failures": 1, "errors": 0, "skipped": 2}}],
            "headlines": {"cells_vs_lstm": {"ComplexGatedRNN circulant": 3.25},
                          "video_run": {"armalstm": {"seconds_per_step": 0.0812, "steps": 300}}},
        }  # fmt: skip
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
    monkeypatch.setattr(_common, "ROOT", tmp_path.parent)
    table = benchmarks.gpu_summary()
    assert "nvidia-h200" in table and "cpu-tiny" not in table
    assert "ok: 40 passed, 1 failed, 2 skipped" in table
    assert "3.25x nn.LSTM" in table and "0.081 s/step over 300 steps" in table
