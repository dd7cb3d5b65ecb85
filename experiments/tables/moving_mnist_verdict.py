"""Docs table and figure of the Moving-MNIST verdict: every model at its longest training.

The library's own question on video: do the unitary cells (the rotation conv-GRU, the
complex gated conv cell) beat the ARMA-LSTM and ConvLSTM when each is trained as long
as it keeps improving? Every committed run of the CPU protocol is read (``--preset cpu``:
32 x 32, 3 layers of 12 channels or the ARMA-LSTM's parameter budget, compact angles,
the GRU candidate, no padding, 500 test clips), and per speed, seed and model the row of
the longest training is kept; the test set of a (speed, seed) is the same in every run,
so its blank-frame and copy-last-frame rows are checked to agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from ._common import RESULTS, STATIC, curve_figure, list_table, load_json

#: The models of the verdict, in the table's order, and the reference rows.
MODELS = ("rotation_convgru", "complex_gated", "armalstm_dilated", "convlstm3_dilated",
          "convlstm3")  # fmt: skip
REFERENCES = ("blank_frame", "copy_last_frame")
#: What a run's config must say to belong to the protocol (None: written before the
#: option existed, when its default was the value here).
PROTOCOL = {
    "size": (32,), "hidden": (12,), "layers": (3,), "angles": ("kernel",),
    "rotation_candidate": (None, "gru"), "rotation_padding": (None, 0),
    "test_sequences": (500,), "lr": (0.002,), "plateau_patience": (2,),
    "sampling_steps": (1500,), "batch": (8,), "head": (None, "linear"),
    "loss": (None, "mse"), "loss_frames": (None, "all"), "budget_model": ("armalstm",),
}  # fmt: skip


def _protocol_run(config: dict) -> bool:
    if config.get("preset") != "cpu":
        return False
    cfg = config["config"]
    return all(cfg.get(key) in allowed for key, allowed in PROTOCOL.items())


def collect(results: Path = RESULTS) -> dict[tuple[int, int], dict[str, dict]]:
    """``(speed, seed) -> {model: row}``, each model's row from its longest training
    (``row["folder"]`` names the run); references from any run of that test set."""
    found: dict[tuple[int, int], dict[str, dict]] = {}
    for table in sorted(results.glob("video-*/**/table.json")):
        config_path = table.parent / "config.json"
        if not config_path.exists():
            continue
        config = load_json(config_path)
        if not _protocol_run(config):
            continue
        seed = config["config"]["seed"]
        folder = table.parent.relative_to(results).as_posix()
        for row in load_json(table):
            key = (row["speed"], seed)
            models = found.setdefault(key, {})
            name = row["model"]
            if name in REFERENCES:
                if name in models and abs(models[name]["test_mse"] - row["test_mse"]) > 1e-9:
                    raise ValueError(
                        f"{folder}: its {name} row differs from {models[name]['folder']}'s "
                        f"on speed {key[0]}, seed {seed}: not the same test set"
                    )
                models.setdefault(name, {**row, "folder": folder})
            elif name in MODELS:
                if name not in models or row["steps"] > models[name]["steps"]:
                    models[name] = {**row, "folder": folder}
    return found


#: Flatness as the speed question measured it: learning-rate halvings by the last step,
#: and the change of validation MSE (means over the last ``WINDOW`` steps) over ``SPAN``.
SPAN, WINDOW = 3000, 1000


def flatness(row: dict, results: Path = RESULTS) -> str:
    """``"halvings / change"`` of a model row's run, or a dash where the run is shorter
    than the span."""
    curves = load_json(results / row["folder"] / "curves.json")
    curve = next(c["curve"] for c in curves
                 if c["model"] == row["model"] and c["speed"] == row["speed"])  # fmt: skip
    last = curve[-1][0]
    if last < SPAN + WINDOW:
        return "\u2013"

    def mean(step: int) -> float:
        window = [c[1] for c in curve if step - WINDOW < c[0] <= step]
        return sum(window) / len(window)

    halvings = round(math.log2(curve[0][2] / curve[-1][2]))
    return f"{halvings} / {100 * (mean(last) / mean(last - SPAN) - 1):+.1f} %"


def verdict_table(results: Path = RESULTS) -> str:
    """Per speed and seed, every model at its longest training (test MSE as a fraction
    of the blank frame's, PSNR, SSIM, steps, seconds per step, parameters); then per
    speed the mean over seeds and its spread (max - min)."""
    runs = collect(results)
    body = []
    for (speed, seed), models in sorted(runs.items()):
        blank = models["blank_frame"]["test_mse"]
        for name in (*MODELS, *REFERENCES):
            if name not in models:
                continue
            r = models[name]
            steps = f"{r['steps']:,}" if "steps" in r else "\u2013"
            per_step = f"{r['seconds_per_step']:.2f}" if "seconds_per_step" in r else "\u2013"
            params = f"{r['params']:,}" if r.get("params") else "\u2013"
            ratio = f"{r['test_mse'] / blank:.3f}"
            flat = flatness(r, results) if "steps" in r else "\u2013"
            body.append([f"{speed}x", str(seed), name, steps, flat, ratio,
                         f"{r['test_psnr']:.2f}", f"{r['test_ssim']:.3f}", per_step,
                         params])  # fmt: skip
    header = ["speed", "seed", "model", "steps", "LR halvings / val. change, last 3,000",
              "test MSE / blank", "PSNR", "SSIM", "s/step", "params"]  # fmt: skip
    text = list_table(
        header,
        body,
        "docs/results/video-*/**/table.json (the CPU protocol)",
        "Every model at its longest training, per speed and seed",
    )
    summary = []
    for speed in sorted({s for s, _ in runs}):
        for name in MODELS:
            rows = [(m[name], m["blank_frame"]["test_mse"]) for (s, _), m in runs.items()
                    if s == speed and name in m]  # fmt: skip
            if not rows:
                continue
            ratios = [r["test_mse"] / blank for r, blank in rows]
            psnr = [r["test_psnr"] for r, _ in rows]
            spread = (f"{max(ratios) - min(ratios):.3f} / {max(psnr) - min(psnr):.2f}"
                      if len(rows) > 1 else "one seed")  # fmt: skip
            steps = sorted({r["steps"] for r, _ in rows})
            summary.append([f"{speed}x", name, str(len(rows)),
                            " / ".join(f"{s:,}" for s in steps),
                            f"{sum(ratios) / len(ratios):.3f}",
                            f"{sum(psnr) / len(psnr):.2f}", spread])  # fmt: skip
    header = ["speed", "model", "seeds", "steps", "mean MSE / blank", "mean PSNR",
              "spread (MSE / blank, PSNR)"]  # fmt: skip
    return (
        text
        + "\n"
        + list_table(header, summary, "the rows above", "The same, mean over seeds and spread")
    )


#: The curves drawn per speed: the unitary cells and the ARMA-LSTM they are judged by.
CURVE_MODELS = ("rotation_convgru", "complex_gated", "armalstm_dilated")


def curves_figure(results: Path = RESULTS, static: Path = STATIC) -> None:
    """One figure per speed: validation MSE against step, each model's longest run."""
    runs = collect(results)
    for speed in sorted({s for s, _ in runs}):

        def draw(ax, speed=speed) -> None:
            for (s, seed), models in sorted(runs.items()):
                if s != speed:
                    continue
                for k, name in enumerate(CURVE_MODELS):
                    if name not in models:
                        continue
                    folder = results / models[name]["folder"]
                    curves = load_json(folder / "curves.json")
                    curve = next(c["curve"] for c in curves
                                 if c["model"] == name and c["speed"] == speed)  # fmt: skip
                    ax.plot([c[0] for c in curve], [c[1] for c in curve], lw=1.1,
                            color=f"C{k}", ls="-" if seed == 0 else "--",
                            label=f"{name}, seed {seed}")  # fmt: skip

        curve_figure(static / f"video_verdict_curves_{speed}x.png",
                     f"{speed}x: each model's longest run, 32 x 32, the CPU protocol",
                     "validation MSE (100 clips)", draw, 7)  # fmt: skip


TABLES: dict[str, Callable[[], str]] = {"video_verdict.rst": verdict_table}
FIGURES: tuple[Callable[[], None], ...] = (curves_figure,)
