"""Moving-MNIST: the protocol study, the CPU comparison at each speed, the dilated
models, the speed question trained long, reach probes and the rotation conv-GRU's
variants (the page ``docs/results_moving_mnist.rst``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

from ._common import (
    RESULTS,
    STATIC,
    column_groups,
    curve_figure,
    figures,
    folders_caption,
    list_table,
    load_json,
    optional,
    relative,
    static_figure,
)

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
    blank = load_json(folder / "A_mse_lin_all" / "curves.json")[0]["val_blank_mse"]
    runs = []
    for name, label in PROTOCOL_RUNS:
        cfg = load_json(folder / name / "config.json")["config"]
        curve = load_json(folder / name / "curves.json")[0]["curve"]
        rows = load_json(folder / name / "table.json")
        model = next(r for r in rows if r["model"] == "convlstm3")
        runs.append({"label": label, "cfg": cfg, "curve": curve, "blank": blank, "test": model})
    return runs


def _blank_mse(rows: list[dict]) -> float:
    """The test MSE of a run's blank-frame reference row (one speed)."""
    return next(r["test_mse"] for r in rows if r["model"] == "blank_frame")


def video_protocol() -> str:
    test_blank = _blank_mse(load_json(RESULTS / "video-protocol" / "C_l1l2_lin_all" / "table.json"))
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
    return column_groups(
        header,
        rows,
        "docs/results/video-protocol/*/",
        [range(8), [0, 8, 9, 10, 11]],
        ["The six protocol variants", "Their validation and test MSE"],
    )


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

    curve_figure(STATIC / "video_protocol_curves.png",
                  "ConvLSTM 3x3, 3 x 12 channels, Moving-MNIST-S, one CPU thread",
                  "validation MSE / blank-frame MSE", draw, legend_size=6)  # fmt: skip


def _video_table(folder: Path) -> str:
    rows = load_json(folder / "table.json")
    config = load_json(folder / "config.json")
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
    return column_groups(
        header, body, relative(folder / "table.json"), [[0, 1, 2, 3, 5, 7, 8, 10], [0, 1, 4, 6, 9]]
    )


def video_angles() -> str:
    """Full against compact eigen-angles: validation MSE over the first 1,000 steps."""
    rows = []
    for folder in (RESULTS / "video-cpu", RESULTS / "video-cpu-full-angles"):
        angles = load_json(folder / "config.json")["config"]["angles"]
        table = {r["model"]: r for r in load_json(folder / "table.json")}
        for run in load_json(folder / "curves.json"):
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
        if load_json(RESULTS / name / "config.json")["config"]["seed"] != seed:
            raise ValueError(f"{name} was not run with seed {seed}")
        rows = [r for r in load_json(RESULTS / name / "table.json") if r["speed"] == speed]
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


def video_seeds() -> str:
    """Test MSE / blank and PSNR at 1x of the models run with every seed."""
    runs = {seed: _merged_runs(names, seed, 1) for seed, names in VIDEO_SEED_RUNS.items()}
    every_seed = set.intersection(*(set(r) for r in runs.values()))
    runs = {seed: {m: v for m, v in r.items() if m in every_seed} for seed, r in runs.items()}
    header, body, sources = _ratio_psnr_table(runs, "seed {}")
    return list_table(header, body, folders_caption(sources))


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
    return list_table(header, body, folders_caption(sources))


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
        run = next(r for r in load_json(RESULTS / name / "curves.json") if r["model"] == model)
        row = next(r for r in load_json(RESULTS / name / "table.json") if r["model"] == model)
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
            row = next((r for r in load_json(RESULTS / name / "table.json") if "steps" in r), None)
            processes = load_json(RESULTS / name / "config.json").get("world_size", 1)
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
    return next(
        c["curve"] for c in load_json(RESULTS / name / "curves.json") if c["model"] == model
    )


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
            metrics = load_json(RESULTS / models[model][2] / "frame_metrics.json")
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
    text = list_table(header, body, folders_caption(sources))
    if summary:
        header = ["speed", "gap per seed (dB)", "mean gap (dB)", "seed spread: max - min (dB)"]
        text += "\n" + list_table(header, summary, folders_caption(sources))
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
    return text + static_figure("video_speed_long_curves.png", caption + ".")


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
    text = list_table(header, body, folders_caption(sources))
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
    text = list_table(header, rows, source, "The PSNR gap, dilated ARMA-LSTM minus ConvLSTM")
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
    return text + "\n" + list_table(header, summary, source, "The gap per speed over seeds")


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

    curve_figure(STATIC / "video_speed_long_curves.png",
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
    recorded = load_json(RESULTS / name / "config.json")
    config = recorded["config"]
    found = (config.get("rotation_candidate", "gru"), config.get("rotation_padding", 0),
             recorded.get("world_size", 1), config["seed"])  # fmt: skip
    if found != (*variant, seed) or speed not in config["speeds"]:
        raise ValueError(f"{name} holds {found} at {config['speeds']}x, "
                         f"filed as {(*variant, seed)} at {speed}x")  # fmt: skip
    rows = [r for r in load_json(RESULTS / name / "table.json") if r["speed"] == speed]
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
    return list_table(header, body, folders_caption(sources))


def video_reach() -> str:
    from ..reach import table_rows

    result = load_json(RESULTS / "video-reach" / "reach.json")
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
        result, name = load_json(path), f"docs/results/{path.relative_to(RESULTS).as_posix()}"
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
    from ..reach import ar_rows, motion_table, table_rows

    result, source = _reach_trained_results()
    steps = {r["step"] for r in result["trained"]}
    if not steps <= {SPEED_LONG_STEPS, SPEED_LONGER_STEPS}:  # a final model, not a midway one
        raise ValueError(f"{source} measured models at steps {steps}, not at the protocol's "
                         f"{SPEED_LONG_STEPS:,} or {SPEED_LONGER_STEPS:,}")  # fmt: skip
    text = list_table(*table_rows(result), source) + "\n" + list_table(*ar_rows(result), source)
    if all("motion" in r for r in result["trained"]):
        text += "\n" + list_table(*motion_table(result), source)
    return text


VIDEO_FIGURES = {
    "frame_metrics.png": "Test MSE, PSNR and SSIM per predicted frame (``frame_metrics.json``).",
    **{
        f"strip_speed{speed}.png": f"One test clip at {speed}x: input frames, true future "
        "frames, each model's prediction."
        for speed in (1, 2, 3)
    },
}


def _video_run(name: str) -> Callable[[], str]:
    """A Moving-MNIST run's table and figures, once its folder is committed."""
    folder = RESULTS / name
    return optional(
        folder / "table.json", lambda: _video_table(folder) + figures(folder, VIDEO_FIGURES)
    )


TABLES: dict[str, Callable[[], str]] = {
    "video_protocol.rst": video_protocol,
    "video_cpu.rst": _video_run("video-cpu"),
    "video_seeds.rst": optional(RESULTS / "video-cpu-seed1" / "table.json", video_seeds),
    "video_cpu_2x.rst": _video_run("video-cpu-2x"),
    "video_cpu_3x.rst": _video_run("video-cpu-3x"),
    "video_speeds.rst": optional(RESULTS / "video-cpu-3x" / "table.json", video_speeds),
    "video_cpu_more.rst": _video_run("video-cpu-more"),
    "video_cpu_more_2x.rst": _video_run("video-cpu-more-2x"),
    "video_cpu_more_3x.rst": _video_run("video-cpu-more-3x"),
    "video_cpu_2x_long.rst": optional(
        RESULTS / "video-cpu-2x-long" / "table.json",
        lambda: _video_table(RESULTS / "video-cpu-2x-long"),
    ),
    "video_cpu_3x_6layers.rst": _video_run("video-cpu-3x-6layers"),
    "video_reach.rst": optional(RESULTS / "video-reach" / "reach.json", video_reach),
    "video_3x_probes.rst": optional(
        RESULTS / "video-3x-probes" / "lr5e-4" / "curves.json", video_3x_probes
    ),
    "video_speed_long.rst": optional(RESULTS / SPEED_LONG, video_speed_long),
    "video_speed_longer.rst": optional(RESULTS / SPEED_LONGER, video_speed_longer),
    "video_speed_verdict.rst": optional(RESULTS / SPEED_LONG, video_speed_verdict),
    "video_reach_trained.rst": optional(RESULTS / REACH_TRAINED, video_reach_trained),
    "video_rotation_variants.rst": optional(
        RESULTS / "video-eq109-1x-seed0" / "table.json", video_rotation_variants
    ),
    "video_angles.rst": optional(RESULTS / "video-cpu-full-angles" / "curves.json", video_angles),
}
FIGURES: tuple[Callable[[], None], ...] = (video_protocol_figure, video_speed_long_figure)
