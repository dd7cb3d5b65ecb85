"""Docs tables of the long-memory study: the deep linear-recurrent models (unit-circle,
LRU and ARMA eigenvalues) and the gated cells on copy and adding at T = 1,000 and beyond.

Each run of ``python -m experiments.memory --preset long-memory`` is one folder under
``docs/results/long-memory/`` (``config.json``, ``table.json``, ``metrics.csv``); every run
found there is a row, so adding a run means committing its folder and re-rendering.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from ._common import RESULTS, ROOT, STATIC, curve_figure, list_table, load_json, optional

LONG_MEMORY = RESULTS / "long-memory"
BENCH_SCAN = RESULTS / "bench" / "bench_scan.json"
#: What each model's temporal operator is, in the table's words.
LABELS = {
    "deep_unitary": "deep, unit-circle eigenvalues",
    "deep_lru": "deep, LRU (decaying)",
    "deep_arma": "deep, ARMA",
    "lstm": "nn.LSTM",
    "cgrnn": "cgRNN",
}
#: The deep models, in the figures' colour order.
DEEP = ("deep_unitary", "deep_lru", "deep_arma")
#: The eigenvalue learning rate of the long-memory preset; another is named in the row.
PRESET_EIGEN_LR = 1e-5
#: The loss level counted as solved, per task (the memory experiment's thresholds).
SOLVED = {"copy": "steps_to_0.001", "adding": "steps_to_0.01"}
#: Copy also needs this recall on fresh sequences: at T = 10,000 the memoryless loss
#: (10 ln 8 / (T + 20) = 0.0021) is only twice the loss threshold.
SOLVED_RECALL = 0.99


def solved(row: dict) -> bool:
    """Whether a run solved its task: the loss threshold met and, on copy, the symbols
    recalled on fresh sequences."""
    if row.get(SOLVED[row["task"]]) is None:
        return False
    return row["task"] != "copy" or row.get("eval_recall", 1.0) >= SOLVED_RECALL


def runs(folder: Path = LONG_MEMORY) -> list[dict]:
    """Every row of every run under ``folder``, with the run's seed, steps and folder."""
    found = []
    for table in sorted(folder.glob("*/table.json")):
        config = load_json(table.parent / "config.json")["config"]
        for row in load_json(table):
            found.append({**row, "seed": config["seed"], "steps_run": row["steps"],
                          "eigen_lr": config.get("eigen_lr", 0.0),
                          "folder": table.parent.name})  # fmt: skip
    return found


def _label(row: dict) -> str:
    label = LABELS.get(row["model"], row["model"])
    if row["model"] in ("deep_unitary", "deep_lru") and row["eigen_lr"] != PRESET_EIGEN_LR:
        label += f", eigenvalue lr {row['eigen_lr']:g}"
    return label


def _eval(row: dict) -> str:
    if row["task"] == "copy":
        return f"recall {row['eval_recall']:.3f}"
    return f"MSE {row['eval_mse']:.4f}"


def results_table(folder: Path = LONG_MEMORY) -> str:
    """One row per (task, T, model, seed): loss as a fraction of the memoryless one, the
    score on 500 fresh sequences, the step the loss first stayed below the task's level
    (for a run that :func:`solved` the task), and seconds per step."""
    rows = sorted(
        runs(folder), key=lambda r: (r["task"], r["T"], r["model"], r["eigen_lr"], r["seed"])
    )
    body = []
    for r in rows:
        step = r.get(SOLVED[r["task"]])
        body.append([
            r["task"], f"{r['T']:,}", _label(r), str(r["seed"]),
            f"{r['params']:,}", f"{r['final_loss'] / r['baseline']:.3f}", _eval(r),
            f"{step:,}" if solved(r) else f"not in {r['steps_run']:,}",
            f"{r['seconds_per_step']:.2f}",
        ])  # fmt: skip
    header = ["task", "T", "model", "seed", "params", "loss / memoryless",
              "on 500 fresh sequences", "steps to solve", "s/step"]  # fmt: skip
    where = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    return list_table(
        header,
        body,
        f"{where}/*/table.json",
        "The deep linear recurrences on copy and adding, one row per run",
    )


def longest_runs(rows: list[dict]) -> list[dict]:
    """One row per (task, T, model, seed, eigenvalue rate): the longest-trained, so that a
    run trained on in a folder of its own replaces its shorter self, not adds a seed."""
    kept: dict[tuple, dict] = {}
    for r in rows:
        key = (r["task"], r["T"], r["model"], r["seed"], r["eigen_lr"])
        if key not in kept or r["steps_run"] > kept[key]["steps_run"]:
            kept[key] = r
    return list(kept.values())


def preset_runs(folder: Path = LONG_MEMORY) -> list[dict]:
    """The longest run of each (task, T, model, seed), probes at another eigenvalue rate
    than the preset's left out."""
    return [r for r in longest_runs(runs(folder))
            if r["model"] not in ("deep_unitary", "deep_lru")
            or r["eigen_lr"] == PRESET_EIGEN_LR]  # fmt: skip


def longest_solved(folder: Path = LONG_MEMORY) -> dict[tuple[str, str], int | None]:
    """(task, model) -> the longest T at which every seed run solved the task."""
    by_key: dict[tuple[str, str], dict[int, list[bool]]] = {}
    for r in preset_runs(folder):
        by_key.setdefault((r["task"], r["model"]), {}).setdefault(r["T"], []).append(solved(r))
    return {key: max((T for T, seeds in lengths.items() if all(seeds)), default=None)
            for key, lengths in by_key.items()}  # fmt: skip


def longest_table(folder: Path = LONG_MEMORY) -> str:
    """Per model and task: the longest T solved on every seed run, and the lengths run."""
    rows = preset_runs(folder)
    longest = longest_solved(folder)
    models = [m for m in LABELS if any(r["model"] == m for r in rows)]
    body = []
    for model in models:
        cells = []
        for task in ("copy", "adding"):
            lengths = sorted({r["T"] for r in rows if (r["task"], r["model"]) == (task, model)})
            if not lengths:
                cells.append("not run")
                continue
            best = longest[(task, model)]
            ran = ", ".join(f"{T:,}" for T in lengths)
            cells.append(f"{best:,} (of {ran})" if best else f"none (of {ran})")
        body.append([LABELS[model], *cells])
    where = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    return list_table(
        ["model", "copy: longest T solved", "adding: longest T solved"],
        body,
        f"{where}/*/table.json",
        "Long-memory runs: the longest T each model solved on every seed it was run with",
    )


def scan_bench_tables(path: Path = BENCH_SCAN) -> str:
    """``experiments.bench scan``: the scan against autograd through its loop (time and
    peak memory as ratios), then one training step of each deep model against nn.LSTM."""
    result = load_json(path)
    env, bench = result["env"], result["scan"]
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    scan = [[f"{r['T']:,}", str(r["batch"]), str(r["n"]), f"{r['scan_seconds']:.3f}",
             f"{r['loop_seconds']:.3f}", f"{r['scan_vs_loop']:.2f}",
             f"{r['memory_vs_loop']:.2f}"] for r in bench["scan"]]  # fmt: skip
    header = ["T", "batch", "n", "scan s", "loop s", "scan / loop (time)",
              "scan / loop (peak memory)"]  # fmt: skip
    source = f"{where}, {env['threads']} thread(s), {env['device']}"
    text = list_table(header, scan, source, "The diagonal scan against its loop")
    models = [[LABELS.get(r["model"], r["model"]), f"{r['params']:,}", f"{r['seconds']:.3f}",
               f"{r['vs_lstm']:.2f}"] for r in bench["models"]]  # fmt: skip
    header = ["model", "params", f"s per training step at T = {bench['T']:,}", "/ nn.LSTM"]
    return (
        text
        + "\n"
        + list_table(header, models, source, "One training step of each deep model against nn.LSTM")
    )


TABLES: dict[str, Callable[[], str]] = {
    "long_memory.rst": optional(LONG_MEMORY, lambda: results_table(LONG_MEMORY)),
    "long_memory_longest.rst": optional(LONG_MEMORY, lambda: longest_table(LONG_MEMORY)),
    "bench_long_scan.rst": optional(BENCH_SCAN, scan_bench_tables),
}


def adding_curves_figure(folder: Path = LONG_MEMORY, static: Path = STATIC) -> None:
    """Adding: each deep model's training loss (100-step means) at each T, from its longest
    run per seed, against the memoryless loss; seed 0 drawn full, other seeds faint. The
    plateau's length is what grows with T, and what varies from seed to seed."""
    rows = [r for r in preset_runs(folder) if r["task"] == "adding" and r["model"] in DEEP]
    if not rows:
        return
    lengths = sorted({r["T"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})

    def draw(ax) -> None:
        for r in sorted(rows, key=lambda r: (r["seed"], DEEP.index(r["model"]), r["T"])):
            with open(folder / r["folder"] / "metrics.csv", newline="") as handle:
                losses = [float(m["loss"]) for m in csv.DictReader(handle)
                          if m["task"] == "adding" and int(m["T"]) == r["T"]
                          and m["model"] == r["model"]]  # fmt: skip
            means = [sum(losses[i : i + 100]) / len(losses[i : i + 100])
                     for i in range(0, len(losses), 100)]  # fmt: skip
            first = r["seed"] == seeds[0]
            ax.plot([100 * i + 50 for i in range(len(means))], means,
                    lw=1.2 if first else 0.9, alpha=1.0 if first else 0.4,
                    color=f"C{DEEP.index(r['model'])}",
                    ls=("-", "--", ":", "-.")[lengths.index(r["T"]) % 4],
                    label=f"{LABELS[r['model']]}, T = {r['T']:,}" if first else None)  # fmt: skip
        ax.axhline(rows[0]["baseline"], color="0.4", lw=0.8, label="memoryless (1/6)")
        ax.set_yscale("log")

    others = ", ".join(str(s) for s in seeds[1:])
    faint = f"; faint: seed {others}" if others else ""
    curve_figure(static / "long_memory_adding_curves.png",
                 f"Adding: each deep model's longest run at each T (seed {seeds[0]}{faint})",
                 "training loss (MSE, 100-step mean)", draw, 7)  # fmt: skip


FIGURES: tuple[Callable[[], None], ...] = (adding_curves_figure,)
