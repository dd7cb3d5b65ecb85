"""Render the documentation's results tables (and curve figures) from committed JSON.

    python -m experiments.docs_tables            # writes docs/_generated/*.rst and figures
    python -m experiments.docs_tables --check    # exit 1 if a table differs from its JSON

Every number on the results pages comes from a file under ``docs/results/`` written by
the command that measured it (each folder's README or ``config.json`` names it). The
pages ``.. include::`` the tables rendered here, so a table cannot drift from its file;
``tests/test_docs_tables.py`` runs the check.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import tables_long_memory, tables_video_verdict

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
GENERATED = ROOT / "docs" / "_generated"
STATIC = ROOT / "docs" / "_static"


def _load(path: Path):
    return json.loads(path.read_text())


def list_table(header: Sequence[str], rows: Sequence[Sequence[str]], source: str) -> str:
    """An rst ``list-table`` with a caption line naming its JSON."""
    lines = [f".. list-table:: (``{source}``)", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        # a lone "-" would open a bullet list inside the cell: write an en dash
        row = ["\u2013" if cell == "-" else cell for cell in row]
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return "\n".join(lines) + "\n"


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


# -- Moving-MNIST ----------------------------------------------------------------------------

PROTOCOL_RUNS = (
    ("A_mse_lin_all", "A"),
    ("B_mse_lin_pred", "B"),
    ("C_l1l2_lin_all", "C"),
    ("D_mse_sig_all", "D"),
    ("E_lr2e-3_pat2", "E"),
    ("F_samp750_pat2", "F"),
)


def _protocol_runs() -> list[dict]:
    folder = RESULTS / "video-protocol"
    blank = _load(folder / "A_mse_lin_all" / "curves.json")[0]["val_blank_mse"]
    runs = []
    for name, label in PROTOCOL_RUNS:
        cfg = _load(folder / name / "config.json")["config"]
        curve = _load(folder / name / "curves.json")[0]["curve"]
        rows = _load(folder / name / "table.json")
        model = next(r for r in rows if r["model"] == "convlstm3")
        runs.append({"label": label, "cfg": cfg, "curve": curve, "blank": blank, "test": model})
    return runs


def _blank_mse(rows: list[dict]) -> float:
    """The test MSE of a run's blank-frame reference row (one speed)."""
    return next(r["test_mse"] for r in rows if r["model"] == "blank_frame")


def video_protocol() -> str:
    test_blank = _blank_mse(_load(RESULTS / "video-protocol" / "C_l1l2_lin_all" / "table.json"))
    rows = []
    for run in _protocol_runs():
        cfg, curve = run["cfg"], run["curve"]
        at = {step: mse / run["blank"] for step, mse, _ in curve}
        rows.append([
            run["label"], {"mse": "MSE", "l1l2": "L1 + L2"}[cfg["loss"]], cfg["head"],
            cfg["loss_frames"], f"{cfg['lr']:g}",
            str(cfg["sampling_steps"]), "halve" if cfg["plateau_patience"] < 100 else "off",
            str(cfg["steps"]), *(f"{at[s]:.3f}" if s in at else "-" for s in (500, 1500)),
            f"{at[cfg['steps']]:.3f}", f"{run['test']['test_mse'] / test_blank:.3f}",
        ])  # fmt: skip
    header = ["run", "loss", "head", "loss frames", "lr", "sampling steps", "LR plateau",
              "steps", "val MSE / blank at 500", "at 1,500", "at end",
              "test MSE / blank (100 clips)"]  # fmt: skip
    return list_table(header, rows, "docs/results/video-protocol/*/")


def _curve_figure(path: Path, title: str, ylabel: str, draw: Callable, legend_size: int) -> None:
    """One axes of training curves: ``draw(ax)`` plots them; labels, legend, grid, saving."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import runner

    fig, ax = plt.subplots(figsize=(7, 4))
    draw(ax)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=legend_size)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    runner.save_figure(fig, path, dpi=100)


def video_protocol_figure() -> None:
    def draw(ax) -> None:
        for run in _protocol_runs():
            cfg = run["cfg"]
            label = (f"{run['label']}: {cfg['loss']}, {cfg['head']}, "
                     f"frames={cfg['loss_frames']}, lr {cfg['lr']:g}, "
                     f"sampling {cfg['sampling_steps']}")  # fmt: skip
            steps = [c[0] for c in run["curve"]]
            ax.plot(steps, [c[1] / run["blank"] for c in run["curve"]], marker=".", label=label)
        ax.axhline(1.0, color="k", lw=0.8, ls="--", label="blank frame")
        ax.axhline(0.7, color="grey", lw=0.8, ls=":")

    _curve_figure(STATIC / "video_protocol_curves.png",
                  "ConvLSTM 3x3, 3 x 12 channels, Moving-MNIST-S, one CPU thread",
                  "validation MSE / blank-frame MSE", draw, legend_size=6)  # fmt: skip


def _video_table(folder: Path) -> str:
    rows = _load(folder / "table.json")
    config = _load(folder / "config.json")
    size = config["config"]["size"]
    blank = {r["speed"]: r["test_mse"] for r in rows if r["model"] == "blank_frame"}
    body = []
    for r in rows:
        step = f"{r['seconds_per_step']:.2f}" if "seconds_per_step" in r else "-"
        body.append([
            f"``{r['model']}``", f"{r['speed']}x", str(r["hidden"] or "-"),
            f"{r['params']:,}" if r["params"] else "-",
            f"{r['test_mse']:.4f} ({r['test_mse'] * size * size:.1f})",
            f"{r['test_mse'] / blank[r['speed']]:.3f}", f"{r['test_mae']:.4f}",
            f"{r['test_psnr']:.2f}", f"{r['test_ssim']:.3f}", f"{r['test_bce']:.3f}", step,
        ])  # fmt: skip
    header = ["model", "speed", "channels", "params", f"MSE / pixel (x{size * size}: / frame)",
              "/ blank", "MAE", "PSNR (dB)", "SSIM", "BCE", "s/step"]  # fmt: skip
    return list_table(header, body, _relative(folder / "table.json"))


def video_angles() -> str:
    """Full against compact eigen-angles: validation MSE over the first 1,000 steps."""
    rows = []
    for folder in (RESULTS / "video-cpu", RESULTS / "video-cpu-full-angles"):
        angles = _load(folder / "config.json")["config"]["angles"]
        table = {r["model"]: r for r in _load(folder / "table.json")}
        for run in _load(folder / "curves.json"):
            if run["model"] not in ("rotation_convgru", "complex_gated"):
                continue
            at = {step: mse for step, mse, _ in run["curve"]}
            row = table[run["model"]]
            rows.append([f"``{run['model']}``", angles, str(row["hidden"]), f"{row['params']:,}",
                         *(f"{at[s]:.4f}" for s in (250, 500, 750, 1000)),
                         f"{row['seconds_per_step']:.2f}"])  # fmt: skip
    header = ["model", "angles", "channels", "params", "val MSE at 250", "500", "750", "1,000",
              "s/step"]  # fmt: skip
    return list_table(header, rows, "docs/results/video-cpu*/curves.json")


#: The 1x ``cpu``-preset runs by seed; a seed's runs share its data, so one blank frame.
VIDEO_SEED_RUNS = {
    0: ("video-cpu", "video-cpu-more"),
    1: ("video-cpu-seed1", "video-cpu-more-seed1"),
}
#: The seed-0 ``cpu``-preset runs by digit speed (1x is the main comparison's run).
VIDEO_SPEED_RUNS = {
    1: ("video-cpu", "video-cpu-more"),
    2: ("video-cpu-2x", "video-cpu-more-2x"),
    3: ("video-cpu-3x", "video-cpu-more-3x"),
}
_REFERENCES = ("blank_frame", "copy_last_frame")


def _merged_runs(names: Sequence[str], seed: int, speed: int) -> dict[str, tuple]:
    """``model -> (MSE / blank, PSNR, folder)`` over the committed folders among ``names``.

    The folders must hold one seed and speed, hence the same test clips: a blank-frame MSE
    that differs between them means they were not comparable, and raises.
    """
    merged: dict[str, tuple] = {}
    blanks: dict[str, float] = {}
    for name in names:
        if not (RESULTS / name / "table.json").exists():
            continue
        if _load(RESULTS / name / "config.json")["config"]["seed"] != seed:
            raise ValueError(f"{name} was not run with seed {seed}")
        rows = [r for r in _load(RESULTS / name / "table.json") if r["speed"] == speed]
        if not rows:
            raise ValueError(f"{name} has no rows at speed {speed}")
        blanks[name] = _blank_mse(rows)
        merged.update({r["model"]: (r["test_mse"] / blanks[name], r["test_psnr"], name)
                       for r in rows if r["model"] not in merged})  # fmt: skip
    if len(set(blanks.values())) > 1:
        raise ValueError(f"runs {sorted(blanks)} differ in their test clips: blank MSE {blanks}")
    return merged


def _ratio_psnr_table(runs: dict[int, dict[str, tuple]], label: str) -> tuple[list, list, list]:
    """Header, body and source folders of a models x runs table of MSE / blank and PSNR.

    The reference rows come first; a model missing from a run shows a dash.
    """
    keys = sorted(runs)
    models = list(dict.fromkeys([*_REFERENCES, *(m for k in keys for m in runs[k])]))
    body = [[f"``{m}``", *(f"{runs[k][m][0]:.3f} / {runs[k][m][1]:.2f}" if m in runs[k] else "-"
                            for k in keys)] for m in models]  # fmt: skip
    header = ["model", *(label.format(k) + ": MSE / blank, PSNR (dB)" for k in keys)]
    sources = sorted({runs[k][m][2] for k in keys for m in models if m in runs[k]})
    return header, body, sources


def _folders(sources: Sequence[str]) -> str:
    return f"docs/results/{{{','.join(sources)}}}/table.json"


def video_seeds() -> str:
    """Test MSE / blank and PSNR at 1x of the models run with every seed."""
    runs = {seed: _merged_runs(names, seed, 1) for seed, names in VIDEO_SEED_RUNS.items()}
    every_seed = set.intersection(*(set(r) for r in runs.values()))
    runs = {seed: {m: v for m, v in r.items() if m in every_seed} for seed, r in runs.items()}
    header, body, sources = _ratio_psnr_table(runs, "seed {}")
    return list_table(header, body, _folders(sources))


#: Model pairs whose PSNR difference the speeds table reports (the ARMA paper's Table 3
#: compares the same pairs across speeds).
VIDEO_SPEED_GAINS = (
    ("armalstm", "convlstm3", "ARMA-LSTM - ConvLSTM (PSNR)"),
    ("armalstm_dilated", "convlstm3_dilated", "ARMA-LSTM dilated - ConvLSTM dilated (PSNR)"),
)


def video_speeds() -> str:
    """MSE / blank and PSNR of each model at every measured speed (seed 0), and the PSNR
    gains of ARMA-LSTM over ConvLSTM, plain and dilated."""
    runs = {speed: _merged_runs(names, 0, speed) for speed, names in VIDEO_SPEED_RUNS.items()}
    runs = {speed: r for speed, r in runs.items() if r}
    header, body, sources = _ratio_psnr_table(runs, "{}x")
    for better, base, label in VIDEO_SPEED_GAINS:
        gains = [f"{r[better][1] - r[base][1]:+.2f} dB" if {better, base} <= r.keys() else "-"
                 for _, r in sorted(runs.items())]  # fmt: skip
        body.append([label, *gains])
    return list_table(header, body, _folders(sources))


#: Short 3x probes of why the models plateau: ``(folder, model, what differs)``; the first
#: rows are the ``cpu`` preset's runs they are measured against (and one at 1x, for scale).
VIDEO_3X_PROBES = (
    ("video-cpu-more", "convlstm3_dilated", "dilation 2, at 1x: what learning looks like"),
    ("video-cpu-3x", "convlstm3", "the ``cpu`` preset (reach 3)"),
    ("video-cpu-3x-6layers", "convlstm3", "six layers (reach 6)"),
    ("video-cpu-more-3x", "convlstm3_dilated", "dilation 2 (reach 6)"),
    ("video-3x-probes/hidden24", "convlstm3_dilated", "dilation 2, 24 channels"),
    ("video-3x-probes/lr5e-4", "convlstm3_dilated", "dilation 2, Adam 5e-4"),
    ("video-3x-probes/sampling6000", "convlstm3_dilated",
     "dilation 2, scheduled sampling over 6,000 steps"),
)  # fmt: skip
VIDEO_3X_PROBE_STEPS = (250, 500, 750, 1000, 1250, 1500)


def video_3x_probes() -> str:
    """Validation MSE over the first 1,500 steps at 3x, per probe."""
    body = []
    for name, model, change in VIDEO_3X_PROBES:
        if not (RESULTS / name / "curves.json").exists():
            continue
        run = next(r for r in _load(RESULTS / name / "curves.json") if r["model"] == model)
        row = next(r for r in _load(RESULTS / name / "table.json") if r["model"] == model)
        at = {step: mse for step, mse, _ in run["curve"]}
        curve = [f"{at[s]:.4f}" if s in at else "-" for s in VIDEO_3X_PROBE_STEPS]
        body.append([f"``{model}``", change, f"{row['params']:,}", *curve])
    header = ["model", "what differs", "params",
              *(f"val MSE at {s:,}" for s in VIDEO_3X_PROBE_STEPS)]  # fmt: skip
    return list_table(header, body, "docs/results/video-{cpu-more,cpu-3x,cpu-3x-6layers,"
                      "cpu-more-3x,3x-probes/*}/curves.json")  # fmt: skip


#: The speed question at equal reach and long training: the dilated pair (reach 6 at every
#: speed), one model per folder under ``video-speed-long/``, each trained this many steps.
SPEED_LONG = "video-speed-long"
SPEED_LONG_PAIR = ("armalstm_dilated", "convlstm3_dilated")
SPEED_LONG_STEPS = 12000
#: Pairs trained on past ``SPEED_LONG_STEPS``: copies of those folders resumed with
#: ``--steps SPEED_LONGER_STEPS``, under ``video-speed-longer/`` with the same names.
SPEED_LONGER = "video-speed-longer"
SPEED_LONGER_STEPS = 18000


def _speed_long_names(folder: str) -> dict[tuple[int, int], tuple[str, ...]]:
    return {(speed, seed): tuple(f"{folder}/speed-{speed}x-seed{seed}-{m}" for m in SPEED_LONG_PAIR)
            for speed in (1, 3) for seed in (0, 1)}  # fmt: skip


def _speed_long_runs(
    folder: str = SPEED_LONG, steps: int = SPEED_LONG_STEPS
) -> dict[tuple[int, int], dict[str, tuple]]:
    """``(speed, seed) -> model -> (MSE / blank, PSNR, folder)`` of the committed long runs
    in ``folder``; one that trained another model, did not stop at ``steps`` or ran in
    several processes raises."""
    runs = {}
    for (speed, seed), names in _speed_long_names(folder).items():
        for name in names:
            if not (RESULTS / name / "table.json").exists():
                continue
            model = name.rsplit("-", 1)[1]
            row = next((r for r in _load(RESULTS / name / "table.json") if "steps" in r), None)
            processes = _load(RESULTS / name / "config.json").get("world_size", 1)
            found = None if row is None else (row["model"], row["steps"], processes)
            if found != (model, steps, 1):
                raise ValueError(f"{name} holds (model, steps, processes) {found}, not "
                                 f"{(model, steps, 1)}")  # fmt: skip
        merged = _merged_runs(names, seed, speed)
        if merged:
            runs[(speed, seed)] = merged
    return runs


def _speed_long_curve(name: str, model: str) -> list:
    """``[step, validation MSE, learning rate]`` of ``model`` in the run folder ``name``."""
    return next(c["curve"] for c in _load(RESULTS / name / "curves.json") if c["model"] == model)


def _speed_longer_runs() -> dict[tuple[int, int], dict[str, tuple]]:
    """The runs trained on to ``SPEED_LONGER_STEPS``; each must continue the committed
    ``SPEED_LONG_STEPS`` run of its name (the same validation curve up to there)."""
    runs = _speed_long_runs(SPEED_LONGER, SPEED_LONGER_STEPS)
    for models in runs.values():
        for model, (*_, name) in models.items():
            if model not in SPEED_LONG_PAIR:
                continue
            base = f"{SPEED_LONG}/{name.split('/', 1)[1]}"
            if not (RESULTS / base / "curves.json").exists():
                raise ValueError(f"{name} continues {base}, which is not committed")
            before = _speed_long_curve(base, model)
            if _speed_long_curve(name, model)[: len(before)] != before:
                raise ValueError(f"{name} does not continue {base}: their curves differ "
                                 f"before step {SPEED_LONG_STEPS:,}")  # fmt: skip
    return runs


#: Where along training the long pairs' validation gap is read, and over how many steps
#: back each reading averages (one evaluation on 100 clips is noisy).
SPEED_LONG_GAP_STEPS = (1500, 3000, 6000, 9000, 12000)
SPEED_LONGER_GAP_STEPS = (12000, 13500, 15000, 16500, 18000)
SPEED_LONG_GAP_WINDOW = 1000


def _validation_mean(curve: list, step: int, name: str) -> float:
    """Mean validation MSE of the evaluations in the ``SPEED_LONG_GAP_WINDOW`` up to ``step``."""
    window = [v for s, v, *_ in curve if step - SPEED_LONG_GAP_WINDOW < s <= step]
    if not window:
        raise ValueError(f"{name}: no evaluation in the {SPEED_LONG_GAP_WINDOW} steps up to "
                         f"{step}")  # fmt: skip
    return sum(window) / len(window)


def _speed_long_gap_along_training(
    runs: dict[tuple[int, int], dict[str, tuple]], at: Sequence[int] = SPEED_LONG_GAP_STEPS
) -> list:
    """Per complete pair, ``10 log10(ConvLSTM's validation MSE / ARMA-LSTM's)`` with each
    MSE the mean of the evaluations in the window up to each step of ``at``."""
    better, base = SPEED_LONG_PAIR
    body = []
    for (speed, seed), models in sorted(runs.items()):
        if not {better, base} <= models.keys():
            continue
        means = {}
        for model in (better, base):
            curve = _speed_long_curve(models[model][2], model)
            for step in at:
                means[model, step] = _validation_mean(curve, step, models[model][2])
        gaps = [10 * math.log10(means[base, s] / means[better, s]) for s in at]
        body.append([f"{speed}x seed {seed}", *(f"{g:+.2f}" for g in gaps)])
    return body


#: How far back the flatness table compares a run's validation MSE.
SPEED_LONG_FLAT_SPAN = 3000


def _speed_long_flatness(runs: dict[tuple[int, int], dict[str, tuple]], at: Sequence[int]) -> list:
    """Per run and step of ``at``: how many times the plateau schedule has halved the
    learning rate by then, and the change of validation MSE over the ``SPEED_LONG_FLAT_SPAN``
    steps before (window means, as in the gap along training)."""
    body = []
    for (speed, seed), models in sorted(runs.items()):
        for model in SPEED_LONG_PAIR:
            if model not in models:
                continue
            name = models[model][2]
            curve = _speed_long_curve(name, model)
            first_lr = curve[0][2]
            cells = []
            for step in at:
                lr = next(c[2] for c in curve if c[0] == step)
                halvings = round(math.log2(first_lr / lr))
                now = _validation_mean(curve, step, name)
                then = _validation_mean(curve, step - SPEED_LONG_FLAT_SPAN, name)
                cells.append(f"{halvings} / {100 * (now / then - 1):+.1f} %")
            body.append([f"``{model}``, {speed}x seed {seed}", *cells])
    return body


#: Predicted frames whose test MSE / blank the long runs' per-frame table shows.
SPEED_LONG_FRAMES = (1, 2, 5, 10)


def _speed_long_by_frame(runs: dict[tuple[int, int], dict[str, tuple]]) -> list:
    """Per committed run, the test MSE over the blank frame's on chosen predicted frames."""
    body = []
    for (speed, seed), models in sorted(runs.items()):
        for model in SPEED_LONG_PAIR:
            if model not in models:
                continue
            metrics = _load(RESULTS / models[model][2] / "frame_metrics.json")
            mse = metrics[f"{model} (speed {speed})"]["mse"]
            blank = metrics[f"blank_frame (speed {speed})"]["mse"]
            ratios = [f"{mse[f - 1] / blank[f - 1]:.3f}" for f in SPEED_LONG_FRAMES]
            body.append([f"``{model}``, {speed}x seed {seed}", *ratios])
    return body


def _psnr_gaps(runs: dict[tuple[int, int], dict[str, tuple]]) -> dict[tuple[int, int], float]:
    better, base = SPEED_LONG_PAIR
    return {key: r[better][1] - r[base][1] for key, r in runs.items() if {better, base} <= r.keys()}


def _gaps_at(gaps: dict[tuple[int, int], float], speed: int) -> list[float]:
    """The gaps of ``speed``, in seed order."""
    return [gap for (s, _), gap in sorted(gaps.items()) if s == speed]


def _flatness_table(runs: dict[tuple[int, int], dict[str, tuple]], at: Sequence[int],
                    folder: str) -> str:  # fmt: skip
    header = ["run", *(f"at {s:,} steps: LR halvings / validation MSE change over the "
                       f"{SPEED_LONG_FLAT_SPAN:,} steps before" for s in at)]  # fmt: skip
    return list_table(header, _speed_long_flatness(runs, at),
                      f"docs/results/{folder}/*/curves.json")  # fmt: skip


def video_speed_long() -> str:
    """MSE / blank and PSNR of the dilated pair after 12,000 steps by speed and seed, the
    PSNR gap per run, and per speed the gap's mean and seed spread."""
    runs = _speed_long_runs()
    header, body, sources = _ratio_psnr_table(runs, "{0[0]}x seed {0[1]}")
    gaps = _psnr_gaps(runs)
    gap_cells = [f"{gaps[key]:+.2f} dB" if key in gaps else "-" for key in sorted(runs)]
    body.append(["ARMA-LSTM dilated - ConvLSTM dilated (PSNR)", *gap_cells])
    summary = []
    for speed in sorted({speed for speed, _ in gaps}):
        values = _gaps_at(gaps, speed)
        mean, spread = sum(values) / len(values), max(values) - min(values)
        summary.append([f"{speed}x", ", ".join(f"{g:+.2f}" for g in values), f"{mean:+.2f}",
                        f"{spread:.2f}"])  # fmt: skip
    text = list_table(header, body, _folders(sources))
    if summary:
        header = ["speed", "gap per seed (dB)", "mean gap (dB)", "seed spread: max - min (dB)"]
        text += "\n" + list_table(header, summary, _folders(sources))
    along = _speed_long_gap_along_training(runs)
    if along:
        header = ["pair", *(f"gap at {s:,} steps (dB)" for s in SPEED_LONG_GAP_STEPS)]
        text += "\n" + list_table(header, along, f"docs/results/{SPEED_LONG}/*/curves.json")
    by_frame = _speed_long_by_frame(runs)
    if by_frame:
        header = ["run", *(f"frame {f}" for f in SPEED_LONG_FRAMES)]
        source = f"docs/results/{SPEED_LONG}/*/frame_metrics.json"
        text += "\n" + list_table(header, by_frame, source)
    if runs:
        text += "\n" + _flatness_table(runs, (SPEED_LONG_STEPS,), SPEED_LONG)
    caption = (f"Validation MSE of the dilated pair over {SPEED_LONG_STEPS:,} steps "
               f"(``docs/results/{SPEED_LONG}/*/curves.json``)")  # fmt: skip
    if (RESULTS / SPEED_LONGER).exists():
        caption += (f"; the pairs trained on, to {SPEED_LONGER_STEPS:,} steps "
                    f"(``docs/results/{SPEED_LONGER}/*/curves.json``)")  # fmt: skip
    return text + _static_figure("video_speed_long_curves.png", caption + ".")


def video_speed_longer() -> str:
    """The pairs trained on to ``SPEED_LONGER_STEPS``: MSE / blank and PSNR, the PSNR gap
    there and at ``SPEED_LONG_STEPS``, the validation gap along the way, and flatness."""
    runs = _speed_longer_runs()
    if not runs:
        raise ValueError(f"docs/results/{SPEED_LONGER} holds no run")
    header, body, sources = _ratio_psnr_table(runs, "{0[0]}x seed {0[1]}")
    gaps, before = _psnr_gaps(runs), _psnr_gaps(_speed_long_runs())
    keys = sorted(runs)
    label = f"ARMA-LSTM dilated - ConvLSTM dilated (PSNR), {SPEED_LONGER_STEPS:,} steps"
    body.append([label, *(f"{gaps[k]:+.2f} dB" if k in gaps else "-" for k in keys)])
    label = f"the same at {SPEED_LONG_STEPS:,} steps"
    body.append([label, *(f"{before[k]:+.2f} dB" if k in before else "-" for k in keys)])
    text = list_table(header, body, _folders(sources))
    along = _speed_long_gap_along_training(runs, SPEED_LONGER_GAP_STEPS)
    if along:
        header = ["pair", *(f"gap at {s:,} steps (dB)" for s in SPEED_LONGER_GAP_STEPS)]
        text += "\n" + list_table(header, along, f"docs/results/{SPEED_LONGER}/*/curves.json")
    at = (SPEED_LONG_STEPS, SPEED_LONGER_STEPS)
    return text + "\n" + _flatness_table(runs, at, SPEED_LONGER)


def _steps_of(name: str) -> int:
    return SPEED_LONGER_STEPS if name.startswith(SPEED_LONGER) else SPEED_LONG_STEPS


def video_speed_verdict() -> str:
    """The speed question in one place: per speed and seed, the PSNR gap at equal steps
    and with each model at its longest committed training (a run trained on replaces its
    12,000-step row); per speed, the mean and the seed spread of both."""
    equal = _speed_long_runs()
    longer = _speed_longer_runs() if (RESULTS / SPEED_LONGER).exists() else {}
    longest = {key: {**models, **longer.get(key, {})} for key, models in equal.items()}
    equal_gaps, longest_gaps = _psnr_gaps(equal), _psnr_gaps(longest)
    rows = []
    for key in sorted(equal_gaps):
        steps = " / ".join(f"{_steps_of(longest[key][m][2]):,}" for m in SPEED_LONG_PAIR)
        rows.append([f"{key[0]}x", str(key[1]), f"{equal_gaps[key]:+.2f}", steps,
                     f"{longest_gaps[key]:+.2f}"])  # fmt: skip
    source = f"docs/results/{{{SPEED_LONG},{SPEED_LONGER}}}/*/table.json"
    header = ["speed", "seed", f"gap at {SPEED_LONG_STEPS:,} steps (dB)",
              "longest training: steps ARMA-LSTM / ConvLSTM", "gap there (dB)"]  # fmt: skip
    text = list_table(header, rows, source)
    summary = []
    for speed in sorted({speed for speed, _ in equal_gaps}):
        cells = []
        for gaps in (equal_gaps, longest_gaps):
            values = _gaps_at(gaps, speed)
            cells.append(f"{sum(values) / len(values):+.2f} ({max(values) - min(values):.2f})")
        seeds = sum(s == speed for s, _ in equal_gaps)
        summary.append([f"{speed}x", str(seeds), *cells])
    header = ["speed", "seeds", f"at {SPEED_LONG_STEPS:,} steps: mean gap (spread) dB",
              "at the longest training: mean gap (spread) dB"]  # fmt: skip
    return text + "\n" + list_table(header, summary, source)


def video_speed_long_figure() -> None:
    runs = _speed_long_runs()
    if not runs:
        return
    longer = _speed_longer_runs() if (RESULTS / SPEED_LONGER).exists() else {}

    def draw(ax) -> None:
        for (speed, seed), models in sorted(runs.items()):
            for k, model in enumerate(SPEED_LONG_PAIR):
                if model not in models:
                    continue
                # A run trained on draws its whole curve, which starts with this one.
                name = longer.get((speed, seed), models).get(model, models[model])[2]
                curve = _speed_long_curve(name, model)
                ax.plot([c[0] for c in curve], [c[1] for c in curve], lw=1.1,
                        color=f"C{k + 2 * (speed == 3)}", ls="-" if seed == 0 else "--",
                        label=f"{model}, {speed}x, seed {seed}")  # fmt: skip
        if longer:
            ax.axvline(SPEED_LONG_STEPS, color="grey", lw=0.8, ls=":")

    _curve_figure(STATIC / "video_speed_long_curves.png",
                  "Dilated pair, 3 x 12 channels, 32 x 32, batch 8, one CPU thread per run",
                  "validation MSE (100 clips)", draw, legend_size=7)  # fmt: skip


#: The rotation conv-GRU's variants: ``(candidate, padding, processes) -> {(speed, seed):
#: folder}``. The standard cell in two processes is the main comparison's model; the
#: variants ran in one process, whose batches are other draws (each rank draws its own),
#: so the standard cell was rerun in one process to measure what that alone moves.
ROTATION_VARIANT_RUNS = {
    ("gru", 0, 2): {(1, 0): "video-cpu", (1, 1): "video-cpu-seed1", (3, 0): "video-cpu-3x"},
    ("gru", 0, 1): {(1, 0): "video-gru-1x-seed0-1proc", (3, 1): "video-gru-3x-seed1"},
    ("linear_recurrent", 0, 1): {(1, 0): "video-eq109-1x-seed0", (1, 1): "video-eq109-1x-seed1",
                                 (3, 0): "video-eq109-3x-seed0", (3, 1): "video-eq109-3x-seed1"},
    ("gru", 4, 1): {(1, 0): "video-pad4-1x-seed0", (1, 1): "video-pad4-1x-seed1"},
}  # fmt: skip


def _rotation_row(name: str, variant: tuple[str, int, int], speed: int, seed: int) -> dict:
    """The rotation conv-GRU's row of a committed run, with its blank frame's test MSE;
    a run whose configuration is not the variant it is filed under raises."""
    recorded = _load(RESULTS / name / "config.json")
    config = recorded["config"]
    found = (config.get("rotation_candidate", "gru"), config.get("rotation_padding", 0),
             recorded.get("world_size", 1), config["seed"])  # fmt: skip
    if found != (*variant, seed) or speed not in config["speeds"]:
        raise ValueError(f"{name} holds {found} at {config['speeds']}x, "
                         f"filed as {(*variant, seed)} at {speed}x")  # fmt: skip
    rows = [r for r in _load(RESULTS / name / "table.json") if r["speed"] == speed]
    row = next(r for r in rows if r["model"] == "rotation_convgru")
    return {**row, "blank": _blank_mse(rows)}


def video_rotation_variants() -> str:
    """Test MSE / blank and PSNR of the rotation conv-GRU's candidate and padding variants
    by speed and seed. In brackets, the PSNR difference to the standard cell run in as many
    processes, else in two (for the standard cell in one process: to the one in two)."""
    columns = sorted({key for runs in ROTATION_VARIANT_RUNS.values() for key in runs})
    found = {
        variant: {key: _rotation_row(name, variant, *key) for key, name in runs.items()
                  if (RESULTS / name / "table.json").exists()}
        for variant, runs in ROTATION_VARIANT_RUNS.items()
    }  # fmt: skip
    for key in columns:  # one speed and seed: the same test clips in every folder
        blanks = {round(rows[key]["blank"], 10) for rows in found.values() if key in rows}
        if len(blanks) > 1:
            raise ValueError(f"the runs at {key} differ in their test clips: {blanks}")
    body = []
    for (candidate, padding, processes), rows in found.items():
        standard = (candidate, padding) == ("gru", 0)
        same = {} if standard else found.get(("gru", 0, processes), {})
        two = {} if (standard and processes == 2) else found.get(("gru", 0, 2), {})
        some = next(iter(rows.values()), None)
        cells = [f"``{candidate}``", str(padding), str(processes),
                 f"{some['hidden']} / {some['params']:,}" if some else "-"]  # fmt: skip
        for key in columns:
            row = rows.get(key)
            if row is None:
                cells.append("-")
                continue
            cell = f"{row['test_mse'] / row['blank']:.3f} / {row['test_psnr']:.2f}"
            reference = same.get(key, two.get(key))
            if reference is not None:
                cell += f" ({row['test_psnr'] - reference['test_psnr']:+.2f} dB)"
            cells.append(cell)
        body.append(cells)
    header = ["candidate", "padding", "processes", "channels / params"]
    header += [f"{speed}x seed {seed}: MSE / blank, PSNR (dB)" for speed, seed in columns]
    sources = sorted(name for variant, runs in ROTATION_VARIANT_RUNS.items()
                     for key, name in runs.items() if key in found[variant])  # fmt: skip
    return list_table(header, body, _folders(sources))


# -- memory tasks and stability -------------------------------------------------------------


def memory_table(folder: Path) -> str:
    rows = _load(folder / "table.json")
    body = []
    for r in rows:
        score = (f"recall {r['eval_recall']:.3f}" if r["task"] == "copy"
                 else f"MSE {r['eval_mse']:.4f}")  # fmt: skip
        solved = ", ".join(f"< {k.removeprefix('steps_to_')}: {v if v else '-'}"
                           for k, v in r.items() if k.startswith("steps_to_"))  # fmt: skip
        body.append([r["task"], str(r["T"]), f"``{r['model']}``", f"{r['params']:,}",
                     str(r["hidden"]), f"{r['final_loss']:.3g}", f"{r['baseline']:.3g}", score,
                     solved, f"{r['seconds_per_step']:.3f}"])  # fmt: skip
    header = ["task", "T", "model", "params", "hidden", "final loss (window)", "memoryless",
              "eval", "steps to", "s/step"]  # fmt: skip
    return list_table(header, body, _relative(folder / "table.json"))


MEMORY_T250 = RESULTS / "memory-T250"
# Runs of the paper preset (T = 250, 44.6k parameters), each in its own folder.
MEMORY_RUNS = (
    "copy-cgrnn",
    "copy-cgrnn-alpha09-seed0",
    "copy-lstm",
    "copy-lstm-alpha09",
    "copy-gru",
    "copy-rotation_gru",
    "copy-arma",
    "adding-cgrnn",
    "adding-cgrnn-alpha09",
    "adding-lstm",
)
# The cgRNN on copy: other seeds, and the dense unitary transition of Wolter & Yao's cell.
MEMORY_VARIANTS = {
    "copy-cgrnn": "none (circulant U, seed 0)",
    "copy-cgrnn-seed1": "seed 1 (other weights and batches)",
    "copy-cgrnn-seed2": "seed 2",
    "copy-cgrnn-seed3": "seed 3",
    "copy-cgrnn-seed4": "seed 4",
    "copy-cgrnn-seed5": "seed 5",
    "copy-cgrnn-alpha09-seed0": "RMSprop decay 0.9 (TensorFlow's), seed 0",
    "copy-cgrnn-alpha09-seed1": "RMSprop decay 0.9, seed 1",
    "copy-cgrnn-alpha09-seed2": "RMSprop decay 0.9, seed 2",
    "copy-cgrnn-alpha09-seed3": "RMSprop decay 0.9, seed 3",
    "copy-cgrnn-alpha09-seed4": "RMSprop decay 0.9, seed 4",
    "copy-cgrnn-alpha09-seed5": "RMSprop decay 0.9, seed 5",
    "copy-cgrnn-full": "dense unitary U (hidden 79; Wolter & Yao use 80)",
    "copy-cgrnn-full-alpha09": "dense unitary U, RMSprop decay 0.9",
    "copy-cgrnn-full-seed1": "dense unitary U, seed 1",
}
COPY_SEEDS = range(6)


def _copy_run(seed: int, decay_09: bool = False) -> str:
    """The folder of the cgRNN copy run on ``seed`` (RMSprop decay 0.99, or 0.9)."""
    if decay_09:
        return f"copy-cgrnn-alpha09-seed{seed}"
    return "copy-cgrnn" if seed == 0 else f"copy-cgrnn-seed{seed}"


VARIANT_STEPS = (1000, 2000, 3000)
#: A single batch above this loss after the run first solved copy counts as a relapse.
RELAPSE_LOSS = 0.1
#: The span (from step 0) that the variant runs share: relapses and the optimiser figure.
COMPARED_STEPS = 5000


def _history(folder: Path) -> list[tuple[int, float, float]]:
    """(step, loss, score) per training step of a one-model run, from its metrics.csv."""
    lines = (folder / "metrics.csv").read_text().splitlines()[1:]
    rows = [line.split(",") for line in lines]
    return [(int(r[3]), float(r[4]), float(r[5])) for r in rows]


def _window_mean(values: Sequence[float], end: int, window: int = 100) -> float:
    part = values[max(0, end - window) : end]
    return sum(part) / len(part)


def memory_t250() -> str:
    body = []
    for name in MEMORY_RUNS:
        config = _load(MEMORY_T250 / name / "config.json")["config"]
        steps, decay = config["steps"], config.get("rmsprop_alpha", 0.99)
        for r in _load(MEMORY_T250 / name / "table.json"):
            score = (f"recall {r['eval_recall']:.3f}" if r["task"] == "copy"
                     else f"MSE {r['eval_mse']:.4f}")  # fmt: skip
            solved = ", ".join(f"< {k.removeprefix('steps_to_')}: {v if v else '-'}"
                               for k, v in r.items() if k.startswith("steps_to_"))  # fmt: skip
            body.append([r["task"], f"``{r['model']}``", f"{r['params']:,}", str(r["hidden"]),
                         f"{decay:g}", f"{steps:,}", f"{r['final_loss']:.3g}",
                         f"{r['baseline']:.3g}", score,
                         solved, f"{r['seconds_per_step']:.3f}"])  # fmt: skip
    header = ["task", "model", "params", "hidden", "RMSprop decay", "steps run",
              "final loss (100-step window)",
              "memoryless", "eval (500 fresh sequences)", "steps to", "s/step"]  # fmt: skip
    return list_table(header, body, "docs/results/memory-T250/*/table.json")


def memory_variants() -> str:
    body = []
    for name, change in MEMORY_VARIANTS.items():
        history = _history(MEMORY_T250 / name)
        losses, recalls = [h[1] for h in history], [h[2] for h in history]
        cells = [f"{_window_mean(losses, s):.4f} / {_window_mean(recalls, s):.3f}"
                 for s in VARIANT_STEPS]  # fmt: skip
        (row,) = _load(MEMORY_T250 / name / "table.json")
        first = row["steps_to_0.001"]
        end = len(losses)
        cells.append(f"{_window_mean(losses, end):.2g} / {_window_mean(recalls, end):.3f}")
        if first:
            last = min(end, COMPARED_STEPS)
            relapses = sum(loss > RELAPSE_LOSS for loss in losses[first:last])
            cells += [f"{first:,}", f"{relapses} in {last - first:,}"]
        else:
            cells += ["-", "-"]
        body.append([f"``{name}``", change, f"{end:,}", *cells])
    header = ["run", "change from the paper preset", "steps run",
              *(f"loss / recall, steps {s - 99:,}-{s:,}" for s in VARIANT_STEPS),
              "last 100 steps",
              "first step with 100-step mean loss < 1e-3",
              f"then: batches with loss > {RELAPSE_LOSS:g} to step {COMPARED_STEPS:,}"]  # fmt: skip
    return list_table(header, body, "docs/results/memory-T250/copy-cgrnn*/metrics.csv")


def memory_t250_figure() -> None:
    if not all((MEMORY_T250 / name / "metrics.csv").exists() for name in MEMORY_VARIANTS):
        return
    from cunitary.tasks import copy_baseline

    def curve(ax, name: str, last: int | None = None, **style) -> None:
        losses = [h[1] for h in _history(MEMORY_T250 / name)][:last]
        ends = range(100, len(losses) + 1, 20)
        ax.semilogy(ends, [_window_mean(losses, e) for e in ends], lw=1.1, **style)

    def seeds(ax) -> None:
        for seed in COPY_SEEDS:
            curve(ax, _copy_run(seed), color=f"C{seed}", label=_copy_run(seed))
        curve(ax, "copy-lstm", color="grey", ls="--", label="copy-lstm")
        ax.axhline(copy_baseline(250), color="k", ls="--", lw=0.8, label="memoryless")

    def optimiser(ax) -> None:
        for seed in COPY_SEEDS:
            curve(ax, _copy_run(seed), COMPARED_STEPS, color=f"C{seed}", ls=":",
                  label=f"seed {seed}, decay 0.99")  # fmt: skip
            curve(ax, _copy_run(seed, decay_09=True), COMPARED_STEPS, color=f"C{seed}",
                  label=f"seed {seed}, decay 0.9")  # fmt: skip
        for name, ls in (("copy-cgrnn-full", ":"), ("copy-cgrnn-full-alpha09", "-"),
                         ("copy-cgrnn-full-seed1", "-.")):  # fmt: skip
            curve(ax, name, COMPARED_STEPS, color="C7", ls=ls, label=name)
        ax.axhline(copy_baseline(250), color="k", ls="--", lw=0.8, label="memoryless")

    title = "copy, T = 250, 44.6k parameters, one CPU thread per run"
    _curve_figure(STATIC / "memory_T250_copy.png", title, "cross-entropy (100-step mean)",
                  seeds, legend_size=7)  # fmt: skip
    _curve_figure(STATIC / "memory_T250_copy_optimiser.png",
                  f"{title}, first {COMPARED_STEPS:,} steps", "cross-entropy (100-step mean)",
                  optimiser, legend_size=6)  # fmt: skip


# Wolter & Yao's recipe to the letter (``--preset wolter-yao``): one folder per run.
MEMORY_WY = RESULTS / "memory-wolter-yao"
WY_RUNS = {
    "copy-stiefel-seed0": "dense U, Cayley steps (their model)",
    "copy-stiefel-seed1": "dense U, Cayley steps",
    "copy-stiefel-seed2": "dense U, Cayley steps",
    "copy-circulant-seed0": "circulant U (eigen-angles), their recipe otherwise",
    "copy-circulant-seed1": "circulant U, their recipe otherwise",
    "adding-stiefel-seed0": "dense U, Cayley steps",
    "adding-stiefel-seed1": "dense U, Cayley steps",
}
#: From our recipe at their size, one difference switched to theirs per run (seed 0).
WY_ABLATION = {
    "ablation-ours": "none: our recipe (U = exp of a skew-Hermitian generator trained by "
    "torch RMSprop, decay 0.99; global-norm clip 1; our initialisation; per-unit gate)",
    "ablation-cayley": "U a plain unitary parameter moved by Cayley steps (raw gradient, "
    "step 1e-3)",
    "ablation-tf-rmsprop": "TensorFlow 1's RMSprop (decay 0.9, accumulator from 1) for "
    "every parameter",
    "ablation-value-clip": "gradients clipped element-wise to [-1, 1]",
    "ablation-init": "their initialisation (TensorFlow Glorot-uniform, Arjovsky U, "
    "modReLU bias from U(-0.01, 0.01))",
    "ablation-gate": "their gate: one mixing weight sigmoid(a) per gate",
    "ablation-u-sgd": "(a probe, not theirs) U parametrized as ours, its generator moved by "
    "plain SGD at 1e-3: the raw gradient, as the Cayley step takes it",
}
WY_STEPS = (1000, 2000, 3000, 5000)
#: Gates on adding T = 250 (their gate table's direction), seed 0, their recipe otherwise.
WY_GATES = {
    "adding-stiefel-seed0": "mod_sigmoid: sigmoid(sigmoid(a) Re g + (1 - sigmoid(a)) Im g) "
    "(their default; the preset's run, its first 6,000 steps)",
    "adding-gate-beta": "mod_sigmoid_beta: sigmoid(sigmoid(a) Re g + sigmoid(b) Im g)",
    "adding-gate-prod": "mod_sigmoid_prod: sigmoid(Re g) sigmoid(Im g)",
    "adding-gate-none": "none: r = z = 1, no gate weights (unitary evolution with modReLU)",
}
WY_GATE_STEPS = (1000, 2000, 4000, 6000)


def _present(names) -> list[str]:
    return [n for n in names if (MEMORY_WY / n / "table.json").exists()]


def _solved_cells(row: dict) -> list[str]:
    return [f"{v:,}" if v else "-" for k, v in row.items() if k.startswith("steps_to_")]


def memory_wolter_yao() -> str:
    body = []
    for name in _present(WY_RUNS):
        config = _load(MEMORY_WY / name / "config.json")["config"]
        (r,) = _load(MEMORY_WY / name / "table.json")
        score = (f"recall {r['eval_recall']:.3f}" if r["task"] == "copy"
                 else f"MSE {r['eval_mse']:.4f}")  # fmt: skip
        thresholds = ", ".join(k.removeprefix("steps_to_") for k in r if k.startswith("steps_to_"))
        body.append([f"``{name}``", WY_RUNS[name], f"{r['params']:,}", str(config["seed"]),
                     f"{r['steps']:,}", f"{thresholds}: " + " / ".join(_solved_cells(r)),
                     f"{r['final_loss']:.2g}", f"{r['baseline']:.3g}", score,
                     f"{r['unitarity_error']:.1e}" if "unitarity_error" in r else "-",
                     f"{r['seconds_per_step']:.3f}"])  # fmt: skip
    header = ["run", "transition", "params", "seed", "steps run",
              "first block (50 steps) with mean loss below", "last 50 steps",
              "memoryless", "eval (500 fresh sequences)", "unitarity error of U",
              "s/step"]  # fmt: skip
    table = list_table(header, body, "docs/results/memory-wolter-yao/*/table.json")
    return table + _static_figure(
        "memory_wy_copy.png",
        "Copy at T = 250 with Wolter & Yao's recipe: 50-step mean training loss of the dense "
        "(solid) and circulant (dashed) transitions "
        "(``docs/results/memory-wolter-yao/copy-*/metrics.csv``).",
    )


def memory_wy_ablation() -> str:
    body = []
    for name in _present(WY_ABLATION):
        losses = [h[1] for h in _history(MEMORY_WY / name)]
        (r,) = _load(MEMORY_WY / name / "table.json")
        means = [f"{_window_mean(losses, s, 50):.2g}" if s <= len(losses) else "(stopped)"
                 for s in WY_STEPS]  # fmt: skip
        body.append([f"``{name}``", WY_ABLATION[name], f"{len(losses):,}", *means,
                     *_solved_cells(r)])  # fmt: skip
    header = ["run", "changed from ours", "steps run",
              *(f"loss, steps {s - 49:,}-{s:,}" for s in WY_STEPS),
              "first block < 1e-3", "first block < 5e-7"]  # fmt: skip
    table = list_table(header, body, "docs/results/memory-wolter-yao/ablation-*/metrics.csv")
    return table + _static_figure(
        "memory_wy_ablation.png",
        "The same runs' 50-step mean training loss "
        "(``docs/results/memory-wolter-yao/ablation-*/metrics.csv``).",
    )


def memory_wy_gates() -> str:
    body = []
    for name in _present(WY_GATES):
        losses = [h[1] for h in _history(MEMORY_WY / name)][: WY_GATE_STEPS[-1]]
        means = [f"{_window_mean(losses, s, 50):.2g}" if s <= len(losses) else "(stopped)"
                 for s in WY_GATE_STEPS]  # fmt: skip
        below = next((e for e in range(50, len(losses) + 1, 50)
                      if _window_mean(losses, e, 50) < 0.01), None)  # fmt: skip
        body.append([f"``{name}``", WY_GATES[name], f"{len(losses):,}", *means,
                     f"{below - 25:,}" if below else "-"])  # fmt: skip
    header = ["run", "gate", "steps (of the first 6,000)",
              *(f"loss, steps {s - 49:,}-{s:,}" for s in WY_GATE_STEPS),
              "first 50-step block < 0.01 (its centre)"]  # fmt: skip
    return list_table(header, body, "docs/results/memory-wolter-yao/adding-*/metrics.csv")


def _static_figure(name: str, caption: str) -> str:
    """A ``figure`` directive for ``docs/_static/name``, once the figure is drawn."""
    if not (STATIC / name).exists():
        return ""
    return f"\n.. figure:: /_static/{name}\n   :width: 90%\n\n   {caption}\n"


def memory_wolter_yao_figure() -> None:
    if not _present(WY_RUNS):
        return
    from cunitary.tasks import copy_baseline

    def curve(ax, name: str, **style) -> None:
        losses = [h[1] for h in _history(MEMORY_WY / name)]
        ends = range(50, len(losses) + 1, 50)
        ax.semilogy(ends, [_window_mean(losses, e, 50) for e in ends], lw=1.1, label=name,
                    **style)  # fmt: skip

    def preset(ax) -> None:
        for k, name in enumerate(n for n in _present(WY_RUNS) if n.startswith("copy")):
            curve(ax, name, color=f"C{k}", ls="-" if "stiefel" in name else "--")
        ax.axhline(copy_baseline(250), color="k", ls=":", lw=0.8, label="memoryless")

    def ablation(ax) -> None:
        for k, name in enumerate(_present(WY_ABLATION)):
            curve(ax, name, color=f"C{k}")
        ax.axhline(copy_baseline(250), color="k", ls=":", lw=0.8, label="memoryless")

    title = "copy, T = 250, n_h = 80, one CPU thread per run"
    _curve_figure(STATIC / "memory_wy_copy.png", f"Wolter & Yao's recipe: {title}",
                  "cross-entropy (50-step mean)", preset, legend_size=7)  # fmt: skip
    if _present(WY_ABLATION):
        _curve_figure(STATIC / "memory_wy_ablation.png", f"One difference at a time: {title}",
                      "cross-entropy (50-step mean)", ablation, legend_size=7)  # fmt: skip


def stability_table(folder: Path) -> str:
    rows = _load(folder / "table.json")
    body = []
    for r in rows:
        norms = ", ".join(f"{x:.2f}" for x in r["spectral_norms"]) or "(orthogonal)"
        body.append([f"``{r['model']}``", f"{r['params']:,}",
                     f"{r['test_psnr']:.2f} ({r['noisy_psnr']:.2f})", norms,
                     f"{'far' if r['trf_reaches_far'] else 'short'}, "
                     f"{'diverges' if r['trf_diverges'] else 'bounded'}",
                     f"{r['onsets']} / {r['rollout_frames']:,}"])  # fmt: skip
    header = ["model", "params", "test PSNR (noisy input)", "layer spectral norms",
              "TRF: memory, outputs", "onsets / frames"]  # fmt: skip
    return list_table(header, body, _relative(folder / "table.json"))


def showcase_table() -> str:
    summary = _load(RESULTS / "showcase" / "summary.json")
    rows = [[name, f"{v['final_norm_ratio']:.4g}", f"{v['max_relative_drift']:.2g}"]
            for name, v in summary.items() if not name.startswith("_")]  # fmt: skip
    header = ["operator (32 x 32 image, 10,000 applications)", "final norm ratio",
              "max drift from 1"]  # fmt: skip
    return list_table(header, rows, "docs/results/showcase/summary.json")


# -- benchmarks ------------------------------------------------------------------------------


def bench_video() -> str:
    data = _load(RESULTS / "bench" / "bench_video_cpu.json")
    rows = []
    for size, table in data["video"].items():
        for r in table:
            rows.append([size, r["model"], str(r["hidden"]), f"{r['params']:,}",
                         f"{r['seconds']:.3f}", f"{r['vs_convlstm']:.2f}",
                         f"{r['peak_mib']:.0f}", f"{r['peak_vs_convlstm']:.2f}"])  # fmt: skip
    header = ["size", "model", "channels", "params", "s/step", "/ ConvLSTM", "peak MiB",
              "/ ConvLSTM"]  # fmt: skip
    return list_table(header, rows, "docs/results/bench/bench_video_cpu.json")


def bench_unitary() -> str:
    data = _load(RESULTS / "bench" / "bench_unitary.json")["unitary"]
    rows = [[r["case"], f"{1e3 * r['seconds']:.2f}", f"{r['vs_fft_round_trip']:.2f}",
             f"{r['vs_conv2d_dense']:.2f}"] for r in data["conv2d"]]  # fmt: skip
    header = ["(16, 32, 64, 64), forward + backward", "ms", "/ FFT round trip",
              "/ nn.Conv2d 3x3"]  # fmt: skip
    return list_table(header, rows, "docs/results/bench/bench_unitary.json")


def bench_cells(name: str = "bench_cells.json") -> str:
    run = _load(RESULTS / "bench" / name)
    data, threads = run["cells"], run["env"]["threads"]
    rows = [[r["model"], f"{r['real_params']:,}", f"{r['seconds']:.3f}", f"{r['vs_lstm']:.2f}",
             f"{r['peak_mib']:.0f}"] for r in data["models"]]  # fmt: skip
    size = f"batch 64, T = {data['steps']}, H = {data['hidden']}"
    threads_label = f"{threads} thread" + ("s" if threads > 1 else "")
    header = [f"{size}, {threads_label}", "real params", "s", "/ nn.LSTM", "peak MiB"]
    return list_table(header, rows, f"docs/results/bench/{name}")


# -- the GPU check ---------------------------------------------------------------------------

GPU = RESULTS / "gpu"


def _gpu_runs() -> list[Path]:
    """Every committed GPU check (its tiny CPU rehearsals are never committed)."""
    if not GPU.is_dir():
        return []
    return sorted(
        p.parent for p in GPU.glob("*/summary.json") if not p.parent.name.endswith("-tiny")
    )


def gpu_summary() -> str:
    """One table per GPU: each stage's outcome, and the ratios it measured."""
    parts = []
    for folder in _gpu_runs():
        summary = _load(folder / "summary.json")
        rows = []
        for stage in summary["stages"]:
            detail = stage["status"]
            counts = stage.get("counts") or {}
            if counts:
                detail += (f": {counts['passed']} passed, {counts['failures'] + counts['errors']}"
                           f" failed, {counts['skipped']} skipped")  # fmt: skip
            seconds = f"{stage['seconds']:.0f}" if "seconds" in stage else "-"
            rows.append([stage["name"], detail, seconds])
        head = summary.get("headlines", {})
        for model, ratio in head.get("cells_vs_lstm", {}).items():
            rows.append([f"cells: {model}", f"{ratio:.2f}x nn.LSTM", "-"])
        for case, ratio in head.get("unitary_conv2d_vs_fft_round_trip", {}).items():
            rows.append([f"unitary: {case}", f"{ratio:.2f}x its FFT round trip", "-"])
        for size, models in head.get("video_vs_convlstm", {}).items():
            for model, ratio in models.items():
                rows.append([f"video step, {size} size: {model}", f"{ratio:.2f}x ConvLSTM", "-"])
        for model, seconds in head.get("memory_step_seconds", {}).items():
            rows.append([f"memory step (T = 250): {model}", f"{1e3 * seconds:.1f} ms", "-"])
        for model, run in head.get("video_run", {}).items():
            per_step = f"{run['seconds_per_step']:.3f} s/step over {run['steps']} steps"
            rows.append([f"gpu-preset run: {model}", per_step, "-"])
        header = [f"{summary['device_name']} (torch {summary['torch']})", "outcome", "s"]
        parts.append(list_table(header, rows, _relative(folder / "summary.json")))
    if not parts:
        return (".. note::\n   Not measured yet: no ``docs/results/gpu/*/summary.json`` is "
                "committed. ``make gpu-check`` on a GPU machine writes one.\n")  # fmt: skip
    return "\n".join(parts)


def bench_memory() -> str:
    run = _load(RESULTS / "bench" / "bench_memory.json")
    data, threads = run["memory"], run["env"]["threads"]
    rows = [[r["model"], f"{r['real_params']:,}", str(r["hidden"]), f"{r['seconds']:.3f}",
             f"{r['vs_circulant']:.2f}"] for r in data["rows"]]  # fmt: skip
    share = f"{data['cayley_share']:.1%} of its step"
    rows.append(["Cayley step alone (in the dense row)", "-", "-",
                 f"{data['cayley_seconds']:.4f}", share])  # fmt: skip
    header = [f"{data['task']}, T = {data['T']}, batch 50, {threads} thread"
              + ("s" if threads > 1 else ""), "real params", "hidden", "s/step",
              "/ wolter-yao circulant"]  # fmt: skip
    return list_table(header, rows, "docs/results/bench/bench_memory.json")


def bench_compile() -> str:
    run = _load(RESULTS / "bench" / "bench_compile.json")
    r, threads = run["compile"], run["env"]["threads"]
    rows = [
        ["eager step", f"{r['eager_seconds'] * 1e3:.1f} ms"],
        ["first torch.compile call (compilation included)",
         f"{r['first_compiled_call_seconds']:.0f} s"],
        ["compiled step after it", f"{r['compiled_seconds'] * 1e3:.1f} ms "
         f"({r['compiled_vs_eager']:.2f}x eager)"],
        ["graph breaks", str(r["graph_breaks"])],
    ]  # fmt: skip
    case = (f"ComplexGatedRNN fwd+bwd, batch {r['batch']}, T = {r['T']}, hidden "
            f"{r['hidden']}, {threads} thread" + ("s" if threads > 1 else ""))  # fmt: skip
    header = [case, "measured"]
    return list_table(header, rows, "docs/results/bench/bench_compile.json")


DENOISERS_UNTRAINED = RESULTS / "denoisers-untrained"
#: Trained denoisers (``experiments.denoising``): one folder per run, each model a JSON.
DENOISING = RESULTS / "denoising"


def video_reach() -> str:
    from .reach import table_rows

    result = _load(RESULTS / "video-reach" / "reach.json")
    header, body = table_rows(result)
    return list_table(header, body, "docs/results/video-reach/reach.json")


REACH_TRAINED = Path(SPEED_LONG) / "reach-trained" / "reach.json"


def _reach_trained_results() -> tuple[dict, str]:
    """Every probe of the long runs' final models, one ``reach-trained*/reach.json`` per
    batch of checkpoints probed together (runs finish in different sessions, and a new
    machine has only the committed ones), merged into one result."""
    paths = sorted((RESULTS / SPEED_LONG).glob("reach-trained*/reach.json"))
    source = f"docs/results/{SPEED_LONG}/reach-trained*/reach.json"
    merged: dict = {"models": {}, "ar_alpha": {}, "trained": [], "digits": []}
    measured = set()
    for path in paths:
        result, name = _load(path), f"docs/results/{path.relative_to(RESULTS).as_posix()}"
        if result["models"] or result["ar_alpha"]:
            raise ValueError(f"{name} holds untrained models too")
        keys = {(run["model"], run["speed"], run["seed"]) for run in result["trained"]}
        if keys & measured:
            raise ValueError(f"{name}: {sorted(keys & measured)} measured in another file too")
        measured |= keys
        merged["trained"].extend(result["trained"])
        for digits in result["digits"]:
            if digits not in merged["digits"]:
                merged["digits"].append(digits)
    merged["trained"].sort(key=lambda r: (r["speed"], r["seed"]))  # stable: models keep order
    merged["digits"].sort(key=lambda d: d["speed"])
    return merged, source


def video_reach_trained() -> str:
    """The long runs' final models: their gradient radii per lag, per ARMA layer the
    spread of the learned AR filter, then where and how sharply each puts the digits."""
    from .reach import ar_rows, motion_table, table_rows

    result, source = _reach_trained_results()
    steps = {r["step"] for r in result["trained"]}
    if steps != {SPEED_LONG_STEPS}:
        raise ValueError(f"{source} measured models at steps {steps}")
    text = list_table(*table_rows(result), source) + "\n" + list_table(*ar_rows(result), source)
    if all("motion" in r for r in result["trained"]):
        text += "\n" + list_table(*motion_table(result), source)
    return text


#: The runs, in the order the page tells them.
DENOISING_RUNS = ("table2", "static", "static-longer", "longer", "he-init", "appg-7",
                  "static-lr2e-3", "cures-he", "cures-he-unitary")  # fmt: skip


def _denoising_models(folder: str) -> list[dict]:
    """A run's measured models, in its ``--models`` order."""
    models = sorted((DENOISING / folder / "models").glob("*.json"))
    order = _load(DENOISING / folder / "config.json")["config"]["models"]
    rank = {name: k for k, name in enumerate(order)}
    return sorted((_load(m) for m in models), key=lambda r: rank.get(r["model"], len(rank)))


def denoising_table(folder: str) -> Callable[[], str]:
    def render() -> str:
        from .denoising import table_rows

        rows = _denoising_models(folder)
        header, body = table_rows(rows)
        body = [[f"``{row[0]}``", *row[1:]] for row in body]
        table = list_table(header, body, _relative(DENOISING / folder / "models") + "/*.json")
        return table + _figures(DENOISING / folder, {
            "long_sequences.png": "PSNR per frame on the three long sequences (every 10th "
            "frame; a drop below 0 dB resets the state) and the training loss.",
        })  # fmt: skip

    return _optional(DENOISING / folder / "config.json", render)


def denoising_distinct() -> str:
    """App. H: onsets against the number of distinct frames, for every model measured so."""
    body = []
    for folder in _present_denoising():
        for r in _denoising_models(folder):
            for n, d in r.get("distinct", {}).items():
                deciles = " / ".join(f"{v:.0f}" for v in d["deciles"]) or "-"
                mean = "-" if d.get("mean_psnr") is None else f"{d['mean_psnr']:.2f}"
                body.append([f"``{folder}``", f"``{r['model']}``", n, str(len(d["onsets"])),
                             deciles, mean])  # fmt: skip
    if not body:
        return (".. note::\n   Not measured yet: no committed model under "
                "``docs/results/denoising/`` holds App. H onsets (``--distinct``).\n")  # fmt: skip
    header = ["run", "model", "distinct frames n", "onsets (all sequences)",
              "onset deciles 1st / 9th", "mean PSNR (dB)"]  # fmt: skip
    return list_table(header, body, "docs/results/denoising/*/models/*.json")


def _present_denoising() -> list[str]:
    return [f for f in DENOISING_RUNS if (DENOISING / f / "config.json").exists()]


#: The figures of the trained denoisers: the search for an unstable one, and the cures
#: on the He-initialised model next to it uncured.
DENOISING_FIGURES = {
    "denoising_spectra.png": ("table2", "static", "static-longer", "longer", "he-init",
                              "appg-7", "static-lr2e-3"),
    "denoising_cures_spectra.png": ("he-init", "cures-he", "cures-he-unitary"),
}  # fmt: skip


def denoising_figure() -> None:
    """Per figure of :data:`DENOISING_FIGURES`: the averaged singular-value spectra and the
    TRF influence of every model of its runs."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import runner

    for name, runs in DENOISING_FIGURES.items():
        folders = [f for f in _present_denoising() if f in runs]
        if not folders:
            continue
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        k = 0
        for folder in folders:
            for r in _denoising_models(folder):
                style = {"color": f"C{k % 10}", "ls": "-" if k < 10 else "--",
                         "label": f"{folder}: {r['model']}"}  # fmt: skip
                spectrum = r.get("spectrum", [])
                left.semilogy(np.linspace(0, 1, len(spectrum)), spectrum, **style)
                influence = np.array(r["trf_influence"])
                centre = len(influence) // 2
                past = influence[: centre + 1][::-1] / max(influence.max(), 1e-30)
                right.semilogy(np.arange(len(past)), np.maximum(past, 1e-12), **style)
                k += 1
        left.set_xlabel("relative rank")
        left.set_ylabel("singular value, averaged over the layers")
        left.set_title("singular-value spectra (circular convolution)")
        right.set_xlabel("frames back from t = 0")
        right.set_ylabel("influence on the centre pixel (normalised)")
        right.set_title("temporal receptive field")
        for ax in (left, right):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
        fig.tight_layout()
        runner.save_figure(fig, STATIC / name, dpi=90)


def denoisers_untrained() -> str:
    """Per initialisation, backbone and way of recurring: what became of the output."""
    config = _load(DENOISERS_UNTRAINED / "config.json")["config"]
    frames = config["frames"]
    runs = _load(DENOISERS_UNTRAINED / "norms.json")
    body = []
    for key, draws in runs.items():
        scheme, backbone, recurrence = key.split("-")
        cells = []
        for norms in draws:
            if len(norms) < frames:
                cells.append(f"overflow after frame {len(norms)}")
            else:
                cells.append(f"{norms[-1]:.3g} (max {max(norms):.3g})")
        body.append([scheme, backbone, recurrence, "; ".join(cells)])
    header = ["init", "backbone", "recurrence",
              f"output RMS at frame {frames:,} (largest on the way), per draw"]  # fmt: skip
    table = list_table(header, body, _relative(DENOISERS_UNTRAINED / "norms.json"))
    return table + _figures(DENOISERS_UNTRAINED, {
        "untrained_norms.png": "Output RMS per frame of the untrained models (one line per "
        "initialisation draw); a line ends where the output overflowed.",
    })  # fmt: skip


def bench_srn() -> str:
    run = _load(RESULTS / "bench" / "bench_srn.json")
    data, threads = run["srn"], run["env"]["threads"]
    rows = [[r["model"], f"{r['seconds'] * 1e3:.1f}", f"{r['vs_unconstrained']:.2f}"]
            for r in data["rows"]]  # fmt: skip
    plural = "s" if threads > 1 else ""
    case = (f"5-conv denoiser, {data['channels']} channels, batch {data['batch']}, "
            f"{data['size']}x{data['size']}, {threads} thread{plural}")  # fmt: skip
    return list_table([case, "ms per step", "/ unconstrained"], rows,
                      "docs/results/bench/bench_srn.json")  # fmt: skip


# -- the registry ----------------------------------------------------------------------------


DFN_STEERABLE = RESULTS / "dfn-steerable"
DFN_MNIST = RESULTS / "dfn-mnist"


def dfn_steerable() -> str:
    from .dfn import steerable_table

    table = list_table(*steerable_table(_load(DFN_STEERABLE / "table.json")),
                       _relative(DFN_STEERABLE / "table.json"))  # fmt: skip
    return table + _figures(DFN_STEERABLE, {
        "steerable_filters.png": "Top: the target filter (the flipped steerable kernel, since "
        "the dynamic convolution correlates) at every second test angle; bottom: the filter "
        "the network generates for that angle. Right: a test image, its target and the output.",
    })  # fmt: skip


#: The dynamic filter network and the ConvLSTM under the paper's protocol, one run each.
DFN_MNIST_RUNS = (DFN_MNIST, RESULTS / "dfn-mnist-convlstm")
#: What must agree between them: the same frames, clips and training protocol.
DFN_MNIST_PROTOCOL = ("size", "batch", "lr", "halve_every", "seed", "val_sequences",
                      "test_sequences")  # fmt: skip


def _dfn_mnist_runs() -> tuple[list[dict], list[Path], int]:
    """Reference rows once, then each committed run's trained rows; the folders and the
    frame size. Runs under another protocol or on other test clips raise."""
    references: dict[str, dict] = {}
    trained, folders, protocols = [], [], {}
    for folder in DFN_MNIST_RUNS:
        if not (folder / "table.json").exists():
            continue
        cfg = _load(folder / "config.json")["config"]
        protocols[folder.name] = {key: cfg[key] for key in DFN_MNIST_PROTOCOL}
        folders.append(folder)
        for row in _load(folder / "table.json"):
            if "steps" in row:
                trained.append(row)
                continue
            known = references.setdefault(row["model"], row)
            if not math.isclose(known["test_bce"], row["test_bce"], rel_tol=1e-9):
                raise ValueError(f"{folder.name}: {row['model']} BCE {row['test_bce']} against "
                                 f"{known['test_bce']} elsewhere: other test clips")  # fmt: skip
    if len({json.dumps(p, sort_keys=True) for p in protocols.values()}) > 1:
        raise ValueError(f"the dynamic filter runs differ in their protocol: {protocols}")
    size = next(iter(protocols.values()))["size"] if protocols else 0
    return [*references.values(), *trained], folders, size


def dfn_mnist_figure() -> None:
    """The validation curves of every committed run on one axes, in the paper's units."""
    rows, folders, size = _dfn_mnist_runs()
    if not folders:
        return

    def draw(ax) -> None:
        for folder in folders:
            for name, curve in _load(folder / "curves.json").items():
                ax.plot([c[0] for c in curve], [c[1] * size**2 for c in curve], marker=".",
                        label=name)  # fmt: skip
        constant = next(r for r in rows if r["model"] == "mean_intensity")
        ax.axhline(constant["test_bce_per_frame_sum"], color="grey", lw=0.8, ls="--",
                   label="mean_intensity (test)")  # fmt: skip

    title = f"Moving-MNIST {size} x {size}, the dynamic filter paper's protocol"
    ylabel = f"validation BCE / frame (nats, {size * size} px)"
    _curve_figure(STATIC / "dfn_mnist_curves.png", title, ylabel, draw, legend_size=8)


def dfn_mnist() -> str:
    from .dfn import video_table

    rows, folders, size = _dfn_mnist_runs()
    names = [f.name for f in folders]
    source = _folders(names) if len(names) > 1 else f"docs/results/{names[0]}/table.json"
    table = list_table(*video_table(rows, size), source)
    text = table + _static_figure(
        "dfn_mnist_curves.png",
        "Validation BCE over training (``curves.json`` of each run); dashed: the best constant "
        "frame's test BCE (the repeated last frame is far above).",
    )
    text += _figures(DFN_MNIST, {
        "strip.png": "One test clip: input frames, true future frames, the dynamic filter "
        "network's prediction.",
        "filter_flow.png": "The dynamic filter network's first five predicted frames as in the "
        "paper's Figures 7 and 9: the frame the filters are applied to, the filters drawn as "
        "flow (hue: the direction the pixel takes its value from, brightness: how far, "
        "scaled to the largest), the prediction and the true next frame.",
    })  # fmt: skip
    return text + _figures(DFN_MNIST_RUNS[1], {
        "strip.png": "The same test clip, the ConvLSTM's prediction.",
    })  # fmt: skip


def _optional(path: Path, render: Callable[[], str]) -> Callable[[], str]:
    """Render once the run's JSON is committed; until then say so on the page."""

    def make() -> str:
        if path.exists():
            return render()
        return (f".. note::\n   Not measured yet: ``{_relative(path)}`` is not committed. The "
                "command above writes it.\n")  # fmt: skip

    return make


def _figures(folder: Path, captions: dict[str, str]) -> str:
    """``figure`` directives for the run's committed images (paths as seen from docs/)."""
    lines = []
    for name, caption in captions.items():
        if (folder / name).exists():
            target = (folder / name).relative_to(ROOT / "docs")
            lines += ["", f".. figure:: {target}", "   :width: 90%", "", f"   {caption}"]
    return "\n".join(lines) + "\n" if lines else ""


def bench_arma() -> str:
    data = _load(RESULTS / "bench" / "bench_arma.json")["arma"]
    rows = [[r["case"], f"{1e3 * r['seconds']:.1f}", f"{r['vs_conv2d']:.2f}"]
            for r in data["arma2d"]]  # fmt: skip
    rows += [[r["case"], f"{1e3 * r['seconds']:.1f}", f"{r['vs_convlstm']:.2f}"]
             for r in data["cells"]]  # fmt: skip
    return list_table(["case", "ms", "/ first row of its group"], rows,
                      "docs/results/bench/bench_arma.json")  # fmt: skip


def bench_conv1d() -> str:
    data = _load(RESULTS / "bench" / "bench_unitary.json")["unitary"]
    rows = [[str(r["n"]), f"{1e3 * r['fft_seconds']:.3f}", f"{1e3 * r['matmul_seconds']:.3f}",
             f"{r['matmul_vs_fft']:.2f}", f"{r['seq16_matmul_vs_fft']:.2f}"]
            for r in data["conv1d"]]  # fmt: skip
    header = ["n", "FFT ms", "matmul ms (matrix per call)", "matmul / FFT",
              "16 steps, matrix once: matmul / FFT"]  # fmt: skip
    return list_table(header, rows, "docs/results/bench/bench_unitary.json")


def bench_scan() -> str:
    data = _load(RESULTS / "bench" / "bench_cells.json")["cells"]
    rows = [[str(r["T"]), f"{r['closed_seconds']:.3f}", f"{r['loop_seconds']:.3f}",
             f"{r['loop_vs_closed']:.1f}"] for r in data["scan"]]  # fmt: skip
    return list_table(["T", "closed form s", "loop s", "loop / closed"], rows,
                      "docs/results/bench/bench_cells.json")  # fmt: skip


VIDEO_FIGURES = {
    "frame_metrics.png": "Test MSE, PSNR and SSIM per predicted frame (``frame_metrics.json``).",
    **{
        f"strip_speed{speed}.png": f"One test clip at {speed}x: input frames, true future "
        "frames, each model's prediction."
        for speed in (1, 2, 3)
    },
}
STABILITY_FIGURES = {
    "trf.png": "Temporal receptive fields: the influence of each input frame on the centre "
    "pixel of the output at t = 0 (normalised).",
    "rollout_psnr.png": "PSNR over the long rollout.",
}


def _video_run(name: str) -> Callable[[], str]:
    """A Moving-MNIST run's table and figures, once its folder is committed."""
    folder = RESULTS / name
    return _optional(
        folder / "table.json", lambda: _video_table(folder) + _figures(folder, VIDEO_FIGURES)
    )


TABLES: dict[str, Callable[[], str]] = {
    "video_protocol.rst": video_protocol,
    "video_cpu.rst": _video_run("video-cpu"),
    "video_seeds.rst": _optional(RESULTS / "video-cpu-seed1" / "table.json", video_seeds),
    "video_cpu_2x.rst": _video_run("video-cpu-2x"),
    "video_cpu_3x.rst": _video_run("video-cpu-3x"),
    "video_speeds.rst": _optional(RESULTS / "video-cpu-3x" / "table.json", video_speeds),
    "video_cpu_more.rst": _video_run("video-cpu-more"),
    "video_cpu_more_2x.rst": _video_run("video-cpu-more-2x"),
    "video_cpu_more_3x.rst": _video_run("video-cpu-more-3x"),
    "video_cpu_2x_long.rst": _optional(
        RESULTS / "video-cpu-2x-long" / "table.json",
        lambda: _video_table(RESULTS / "video-cpu-2x-long"),
    ),
    "video_cpu_3x_6layers.rst": _video_run("video-cpu-3x-6layers"),
    "video_reach.rst": _optional(RESULTS / "video-reach" / "reach.json", video_reach),
    "video_3x_probes.rst": _optional(
        RESULTS / "video-3x-probes" / "lr5e-4" / "curves.json", video_3x_probes
    ),
    "video_speed_long.rst": _optional(RESULTS / SPEED_LONG, video_speed_long),
    "video_speed_longer.rst": _optional(RESULTS / SPEED_LONGER, video_speed_longer),
    "video_speed_verdict.rst": _optional(RESULTS / SPEED_LONG, video_speed_verdict),
    "video_reach_trained.rst": _optional(RESULTS / REACH_TRAINED, video_reach_trained),
    "video_rotation_variants.rst": _optional(
        RESULTS / "video-eq109-1x-seed0" / "table.json", video_rotation_variants
    ),
    "dfn_steerable.rst": _optional(DFN_STEERABLE / "table.json", dfn_steerable),
    "dfn_mnist.rst": _optional(DFN_MNIST / "table.json", dfn_mnist),
    "video_angles.rst": _optional(RESULTS / "video-cpu-full-angles" / "curves.json", video_angles),
    "bench_video.rst": _optional(RESULTS / "bench" / "bench_video_cpu.json", bench_video),
    "bench_unitary.rst": _optional(RESULTS / "bench" / "bench_unitary.json", bench_unitary),
    "bench_cells.rst": _optional(RESULTS / "bench" / "bench_cells.json", bench_cells),
    "bench_cells_2threads.rst": _optional(
        RESULTS / "bench" / "bench_cells_2threads.json",
        lambda: bench_cells("bench_cells_2threads.json"),
    ),
    "bench_scan.rst": _optional(RESULTS / "bench" / "bench_cells.json", bench_scan),
    "bench_conv1d.rst": _optional(RESULTS / "bench" / "bench_unitary.json", bench_conv1d),
    "bench_arma.rst": _optional(RESULTS / "bench" / "bench_arma.json", bench_arma),
    "bench_memory.rst": _optional(RESULTS / "bench" / "bench_memory.json", bench_memory),
    "bench_compile.rst": _optional(RESULTS / "bench" / "bench_compile.json", bench_compile),
    "bench_srn.rst": _optional(RESULTS / "bench" / "bench_srn.json", bench_srn),
    "showcase.rst": _optional(RESULTS / "showcase" / "summary.json", showcase_table),
    "memory_demo.rst": _optional(
        RESULTS / "memory-demo" / "table.json", lambda: memory_table(RESULTS / "memory-demo")
    ),
    "memory_T250.rst": _optional(MEMORY_T250 / "adding-lstm" / "table.json", memory_t250),
    "memory_variants.rst": _optional(
        MEMORY_T250 / "copy-cgrnn-full" / "metrics.csv", memory_variants
    ),
    "memory_wolter_yao.rst": _optional(MEMORY_WY, memory_wolter_yao),
    "memory_wy_ablation.rst": _optional(
        MEMORY_WY / "ablation-ours" / "table.json", memory_wy_ablation
    ),
    "memory_wy_gates.rst": _optional(
        MEMORY_WY / "adding-gate-beta" / "table.json", memory_wy_gates
    ),
    **{f"denoising_{run}.rst": denoising_table(run) for run in DENOISING_RUNS},
    "denoising_distinct.rst": denoising_distinct,
    "gpu_summary.rst": gpu_summary,
    "denoisers_untrained.rst": _optional(DENOISERS_UNTRAINED / "norms.json", denoisers_untrained),
    "stability.rst": _optional(
        RESULTS / "stability" / "table.json",
        lambda: (
            stability_table(RESULTS / "stability")
            + _figures(RESULTS / "stability", STABILITY_FIGURES)
        ),
    ),
}


# Studies that keep their renderers in a module of their own.
TABLES.update(tables_long_memory.tables(list_table, _optional))
TABLES.update(tables_video_verdict.tables(list_table))


def render_all() -> dict[str, str]:
    return {name: make() for name, make in TABLES.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    if not args.check:  # first: a table that shows a figure renders once the figure exists
        video_protocol_figure()
        video_speed_long_figure()
        memory_t250_figure()
        memory_wolter_yao_figure()
        denoising_figure()
        dfn_mnist_figure()
        tables_video_verdict.curves_figure(_curve_figure)
    tables = render_all()
    if args.check:
        stale = [n for n, t in tables.items() if not (GENERATED / n).exists()
                 or (GENERATED / n).read_text() != t]  # fmt: skip
        for name in stale:
            print(f"docs/_generated/{name} differs from its JSON", file=sys.stderr)
        return 1 if stale else 0
    from . import runner

    for name, text in tables.items():
        runner.write_text(GENERATED / name, text)
    print(f"wrote {len(tables)} tables to {_relative(GENERATED)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
