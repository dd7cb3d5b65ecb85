"""Copy and adding at T = 250: the cgRNN against LSTM, GRU and ARMA, its variants and
Wolter & Yao's recipe to the letter (the page ``docs/results_memory.rst``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ._common import (
    RESULTS,
    STATIC,
    column_groups,
    curve_figure,
    list_table,
    load_json,
    optional,
    relative,
    static_figure,
)


def memory_table(folder: Path) -> str:
    rows = load_json(folder / "table.json")
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
    return column_groups(
        header, body, relative(folder / "table.json"), [[0, 1, 2, 5, 6, 7, 8], [0, 1, 2, 3, 4, 9]]
    )


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
        config = load_json(MEMORY_T250 / name / "config.json")["config"]
        steps, decay = config["steps"], config.get("rmsprop_alpha", 0.99)
        for r in load_json(MEMORY_T250 / name / "table.json"):
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
    return column_groups(
        header,
        body,
        "docs/results/memory-T250/*/table.json",
        [[0, 1, 4, 6, 7, 8, 9], [0, 1, 2, 3, 4, 5, 10]],
    )


def memory_variants() -> str:
    body = []
    for name, change in MEMORY_VARIANTS.items():
        history = _history(MEMORY_T250 / name)
        losses, recalls = [h[1] for h in history], [h[2] for h in history]
        cells = [f"{_window_mean(losses, s):.4f} / {_window_mean(recalls, s):.3f}"
                 for s in VARIANT_STEPS]  # fmt: skip
        (row,) = load_json(MEMORY_T250 / name / "table.json")
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
    curve_figure(STATIC / "memory_T250_copy.png", title, "cross-entropy (100-step mean)",
                  seeds, legend_size=7)  # fmt: skip
    curve_figure(STATIC / "memory_T250_copy_optimiser.png",
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
        config = load_json(MEMORY_WY / name / "config.json")["config"]
        (r,) = load_json(MEMORY_WY / name / "table.json")
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
    table = column_groups(
        header,
        body,
        "docs/results/memory-wolter-yao/*/table.json",
        [[0, 1, 3, 5, 6, 7, 8], [0, 2, 4, 9, 10]],
    )
    return table + static_figure(
        "memory_wy_copy.png",
        "Copy at T = 250 with Wolter & Yao's recipe: 50-step mean training loss of the dense "
        "(solid) and circulant (dashed) transitions "
        "(``docs/results/memory-wolter-yao/copy-*/metrics.csv``).",
    )


def memory_wy_ablation() -> str:
    body = []
    for name in _present(WY_ABLATION):
        losses = [h[1] for h in _history(MEMORY_WY / name)]
        (r,) = load_json(MEMORY_WY / name / "table.json")
        means = [f"{_window_mean(losses, s, 50):.2g}" if s <= len(losses) else "(stopped)"
                 for s in WY_STEPS]  # fmt: skip
        body.append([f"``{name}``", WY_ABLATION[name], f"{len(losses):,}", *means,
                     *_solved_cells(r)])  # fmt: skip
    header = ["run", "changed from ours", "steps run",
              *(f"loss, steps {s - 49:,}-{s:,}" for s in WY_STEPS),
              "first block < 1e-3", "first block < 5e-7"]  # fmt: skip
    table = list_table(header, body, "docs/results/memory-wolter-yao/ablation-*/metrics.csv")
    return table + static_figure(
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
    curve_figure(STATIC / "memory_wy_copy.png", f"Wolter & Yao's recipe: {title}",
                  "cross-entropy (50-step mean)", preset, legend_size=7)  # fmt: skip
    if _present(WY_ABLATION):
        curve_figure(STATIC / "memory_wy_ablation.png", f"One difference at a time: {title}",
                      "cross-entropy (50-step mean)", ablation, legend_size=7)  # fmt: skip


TABLES: dict[str, Callable[[], str]] = {
    "memory_demo.rst": optional(
        RESULTS / "memory-demo" / "table.json", lambda: memory_table(RESULTS / "memory-demo")
    ),
    "memory_T250.rst": optional(MEMORY_T250 / "adding-lstm" / "table.json", memory_t250),
    "memory_variants.rst": optional(
        MEMORY_T250 / "copy-cgrnn-full" / "metrics.csv", memory_variants
    ),
    "memory_wolter_yao.rst": optional(MEMORY_WY, memory_wolter_yao),
    "memory_wy_ablation.rst": optional(
        MEMORY_WY / "ablation-ours" / "table.json", memory_wy_ablation
    ),
    "memory_wy_gates.rst": optional(MEMORY_WY / "adding-gate-beta" / "table.json", memory_wy_gates),
}
FIGURES: tuple[Callable[[], None], ...] = (memory_t250_figure, memory_wolter_yao_figure)
