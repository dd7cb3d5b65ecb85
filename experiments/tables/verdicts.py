"""The results landing page: one verdict per question the library asks.

Every answer below is *computed* from the committed JSON its study page renders, with the
words chosen by what the numbers say (who is ahead, whether a run is shorter than the one
it is compared with, how many seeds solved a task), so that a new run cannot leave the
landing page claiming what its study page no longer shows.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from . import long_memory, moving_mnist, moving_mnist_verdict
from ._common import RESULTS, list_table, load_json

#: Readable names of the models the verdicts mention.
NAMES = {
    "rotation_convgru": "rotation conv-GRU",
    "complex_gated": "complex gated cell",
    "armalstm_dilated": "ARMA-LSTM (dilated)",
    "convlstm3_dilated": "ConvLSTM (dilated)",
    "convlstm3": "ConvLSTM",
    "deep_unitary": "unit-circle",
    "deep_lru": "LRU",
    "deep_arma": "ARMA",
    "lstm": "LSTM",
    "cgrnn": "cgRNN",
}
#: The Moving-MNIST models a verdict compares (the reference rows are on the study page).
VIDEO_MODELS = ("rotation_convgru", "complex_gated", "armalstm_dilated", "convlstm3_dilated")
UNITARY_CELLS = ("rotation_convgru", "complex_gated")
#: The first comparison's training length, before any model was trained until flat.
FIRST_PROTOCOL_STEPS = 3000


def _spread(values: Sequence[float]) -> str:
    """``mean`` or ``mean ± half-range`` over seeds."""
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {(max(values) - min(values)) / 2:.2f}"


def _steps(values: Sequence[int]) -> str:
    return "/".join(f"{s // 1000}k" for s in values)


def moving_mnist_cells() -> tuple[str, str, str]:
    """Per speed: the unitary cells against the dilated ARMA-LSTM, among the models
    trained as long as it on every seed; a unitary cell trained less on some seed leaves
    the speed not decided (with the equal-steps gaps that exist), one trained less on
    every seed is named as not trained long."""
    runs = moving_mnist_verdict.collect(RESULTS)
    answers, numbers, unsure = [], [], []
    for speed in sorted({s for s, _ in runs}):
        seeds = sorted(seed for s, seed in runs if s == speed)
        psnr: dict[str, list[float]] = {}
        steps: dict[str, list[int]] = {}
        for seed in seeds:
            for name, row in runs[(speed, seed)].items():
                if name in VIDEO_MODELS:
                    psnr.setdefault(name, []).append(row["test_psnr"])
                    steps.setdefault(name, []).append(row["steps"])
        arma_steps = max(steps.get("armalstm_dilated", [0]))
        cells = [m for m in UNITARY_CELLS if m in steps]
        long = [m for m in cells if min(steps[m]) >= arma_steps and len(steps[m]) == len(seeds)]
        partly = [m for m in cells if m not in long and max(steps[m]) >= arma_steps]
        never = [m for m in cells if max(steps[m]) < arma_steps]
        ranked = sorted(psnr, key=lambda m: -statistics.fmean(psnr[m]))
        unitary = next(m for m in ranked if m in (long or cells))
        shown = [ranked[0]] if ranked[0] == unitary else [ranked[0], unitary]
        numbers.append(
            f"{speed}x: "
            + ", ".join(
                f"{NAMES[m]} {_spread(psnr[m])} dB ({_steps(steps[m])} steps)" for m in shown
            )
        )
        if not long or partly:
            short = min(min(steps[m]) for m in cells)
            words = (f"{speed}x not decided (unitary cells at {short:,} steps, "
                     f"ARMA-LSTM at {arma_steps:,}")  # fmt: skip
            equal = [seed for seed in seeds
                     if {"rotation_convgru", "armalstm_dilated"} <= runs[(speed, seed)].keys()
                     and runs[(speed, seed)]["rotation_convgru"]["steps"]
                     >= runs[(speed, seed)]["armalstm_dilated"]["steps"]]  # fmt: skip
            for seed in equal:
                rows = runs[(speed, seed)]
                gap = rows["rotation_convgru"]["test_psnr"] - rows["armalstm_dilated"]["test_psnr"]
                words += (
                    f"; at equal steps on seed {seed} the rotation conv-GRU is "
                    f"{abs(gap):.2f} dB {'ahead of' if gap > 0 else 'behind'} it"
                )
            answers.append(words + ")")
        else:
            trained = [m for m in ranked if m not in never]
            lead, second = trained[0], trained[1]
            gap = statistics.fmean(psnr[lead]) - statistics.fmean(psnr[second])
            spread = max(max(psnr[m]) - min(psnr[m]) for m in (lead, second))
            against = f"seed spread {spread:.2f}" if len(seeds) > 1 else "one seed"
            if gap > spread:
                words = f"{NAMES[lead]} ahead of {NAMES[second]} by {gap:.2f} dB ({against})"
            else:
                words = f"{NAMES[lead]} level with {NAMES[second]} ({gap:.2f} dB, {against})"
            if max(max(s) for s in steps.values()) <= FIRST_PROTOCOL_STEPS:
                words += f" (every model at {FIRST_PROTOCOL_STEPS:,} steps only)"
            for m in never:
                words += f"; the {NAMES[m]} at {max(steps[m]):,} steps only"
            answers.append(f"{speed}x: {words}")
        unsure.append(f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} at {speed}x")
    answer = "; ".join(answers)
    sure = ", ".join(unsure) + "; 32 x 32 on CPU, the papers' 64 x 64 not run"
    return answer, "PSNR, mean ± half-range over seeds: " + "; ".join(numbers), sure


def speed_question() -> tuple[str, str, str]:
    equal = moving_mnist._speed_long_runs()
    longer = moving_mnist._speed_longer_runs()
    longest = {key: {**models, **longer.get(key, {})} for key, models in equal.items()}
    gaps = moving_mnist._psnr_gaps(longest)
    speeds = sorted({s for s, _ in gaps})
    by_speed = {s: moving_mnist._gaps_at(gaps, s) for s in speeds}
    ahead = all(v > 0 for values in by_speed.values() for v in values)
    slow, fast = by_speed[speeds[0]], by_speed[speeds[-1]]
    grows = (
        "grows"
        if min(fast) > max(slow)
        else ("shrinks" if max(fast) < min(slow) else "neither grows nor shrinks beyond the seeds")
    )
    answer = (f"No: the dilated ARMA-LSTM is {'ahead of' if ahead else 'not always ahead of'} "
              f"the dilated ConvLSTM on every seed, and its lead {grows} from "
              f"{speeds[0]}x to {speeds[-1]}x")  # fmt: skip
    if grows == "grows":
        answer = answer.replace("No:", "Yes:")
    numbers = "PSNR gap, mean ± half-range: " + "; ".join(
        f"{s}x: {_spread(v)} dB" for s, v in by_speed.items()
    )
    return answer, numbers, (f"{len(gaps)} pairs, two seeds per speed, each model trained "
                             "until flat (12,000 steps at 3x, 18,000 at 1x)")  # fmt: skip


def _memory_row(folder: Path) -> dict:
    return load_json(folder / "table.json")[0]


def _steps_run(rows: Sequence[dict]) -> str:
    steps = sorted({r["steps_run"] for r in rows})
    return f"{steps[0]:,}" if len(steps) == 1 else f"{steps[0]:,} to {steps[-1]:,}"


def long_memory_verdict() -> tuple[str, str, str]:
    # A model with eigenvalue parameters at another rate than the preset's is a probe.
    found = long_memory.preset_runs()
    by: dict[tuple[str, int, str], list[dict]] = {}
    for r in found:
        by.setdefault((r["task"], r["T"], r["model"]), []).append(r)
    answers, numbers = [], []
    for task in ("copy", "adding"):
        lengths = sorted({T for (k, T, _) in by if k == task})
        for T in lengths:
            solved: dict[str, tuple[int, int]] = {}
            for (k, length, model), rows in sorted(by.items()):
                if (k, length) == (task, T):
                    hits = sum(long_memory.solved(r) for r in rows)
                    solved[NAMES.get(model, model)] = (hits, len(rows))
            every = [m for m, (h, n) in solved.items() if h == n]
            none = [m for m, (h, n) in solved.items() if h == 0]
            steps = _steps_run([r for (k, length, _), rows in by.items()
                                if (k, length) == (task, T) for r in rows])  # fmt: skip
            if every:
                runs_of = {n for h, n in solved.values()}
                on = ("every seed" if max(runs_of) > 1
                      else "its one seed" if len(every) == 1 else "one seed each")  # fmt: skip
                words = f"{', '.join(every)} solve{'s' if len(every) == 1 else ''} it on {on}"
                if none:
                    words += f", {', '.join(none)} on none"
            else:
                words = f"no model solves it in {steps} steps"
            answers.append(f"{task} at T = {T:,}: {words}")
    copy_lengths = sorted({T for (task, T, _) in by if task == "copy"})
    for (task, T, model), rows in sorted(by.items()):
        recall = [r["eval_recall"] for r in rows if r.get("eval_recall") is not None]
        if task == "copy" and recall:
            at = f" at {T:,}" if len(copy_lengths) > 1 else ""
            numbers.append(f"{NAMES.get(model, model)}{at} " + "/".join(f"{x:.2f}" for x in recall))
    numbers = ["copy recall on 500 fresh sequences (chance 1/8), per seed: " + ", ".join(numbers)]
    lengths = sorted({T for (_, T, _) in by})

    def seeds(task: str) -> str:
        counts = sorted({len(rows) for (k, _, _), rows in by.items() if k == task})
        span = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        return f"{span} seed{'s' if counts[-1] > 1 else ''} on {task}"

    tasks = [task for task in ("copy", "adding") if any(k == task for k, _, _ in by)]
    sure = (", ".join(seeds(task) for task in tasks)
            + f", {_steps_run(found)} steps; T run: {', '.join(f'{T:,}' for T in lengths)}; "
            "adding's plateau lasts longer the longer T (curves on the study page)")  # fmt: skip
    return "; ".join(answers), "; ".join(numbers), sure


def gated_cells_t250() -> tuple[str, str, str]:
    folder = RESULTS / "memory-T250"
    seeds = [folder / ("copy-cgrnn" + (f"-seed{k}" if k else "")) for k in range(6)]
    rows = [_memory_row(f) for f in seeds if (f / "table.json").exists()]
    reached = sum(r["steps_to_0.001"] is not None for r in rows)
    kept = sum(r["final_loss"] < 1e-3 for r in rows)
    others = {m: _memory_row(folder / f"copy-{m}") for m in ("lstm", "gru", "arma")}
    adding = {m: _memory_row(folder / f"adding-{m}") for m in ("cgrnn", "lstm")}
    ratios = {m: r["final_loss"] / r["baseline"] for m, r in others.items()}
    if any(r["steps_to_0.001"] is not None for r in others.values()) or min(ratios.values()) < 0.5:
        raise ValueError(f"a gated real cell or the ARMA model learnt copy at T = 250 ({ratios}): "
                         "rewrite the verdict")  # fmt: skip
    answer = (f"The cgRNN solves copy and adding at T = 250; LSTM, GRU and the ARMA model stay "
              f"near the memoryless loss on copy. The circulant cgRNN is fragile: below 1e-3 on "
              f"{reached}/{len(rows)} seeds, still there at the end on {kept}")  # fmt: skip
    numbers = ("copy, final loss / memoryless: " + ", ".join(
        f"{m.upper()} {ratios[m]:.2f}" for m in others)
        + f"; adding, steps to 0.01: cgRNN {adding['cgrnn']['steps_to_0.01']:,}, LSTM "
        + ("never" if adding["lstm"]["steps_to_0.01"] is None else "solved"))  # fmt: skip
    return answer, numbers, f"{len(rows)} cgRNN seeds on copy, one run per other model"


def wolter_yao_recipe() -> tuple[str, str, str]:
    folder = RESULTS / "memory-wolter-yao"
    copy = [_memory_row(f) for f in sorted(folder.glob("copy-stiefel-seed*"))]
    adding = [_memory_row(f) for f in sorted(folder.glob("adding-stiefel-seed*"))]
    solved = [r["steps_to_0.001"] for r in copy if r["steps_to_0.001"] is not None]
    added = [r["steps_to_0.01"] for r in adding if r["steps_to_0.01"] is not None]
    verdict = "Reproduced" if len(solved) == len(copy) and len(added) == len(adding) else "Partly"
    answer = (f"{verdict}: their dense unitary U with Cayley steps learns copy at T = 250 on "
              f"{len(solved)}/{len(copy)} seeds and adding on {len(added)}/{len(adding)}; "
              "cunitary.optim.wolter_yao_optimizer is the recipe as one call")  # fmt: skip
    numbers = ("steps to 1e-3 on copy: " + ", ".join(f"{s:,}" for s in solved)
               + "; steps to 0.01 on adding: " + ", ".join(f"{s:,}" for s in added))  # fmt: skip
    return answer, numbers, "an ablation of each difference from our recipe is one seed each"


#: The models the stability verdict's words call unstable (checked against the runs).
STABILITY_UNSTABLE = ("vresnet-feature", "vresnet-feature-damp0.5", "vresnet-unitary")


def stability_verdict() -> tuple[str, str, str]:
    folder = RESULTS / "denoising"
    models = {}
    for run in ("he-init", "cures-he", "cures-he-unitary"):
        for path in sorted((folder / run / "models").glob("*.json")):
            row = load_json(path)
            models[row["model"]] = row
    unstable = sorted(m for m, r in models.items() if r["onsets"] > 0)
    stable = sorted(m for m, r in models.items() if r["onsets"] == 0)
    if unstable != list(STABILITY_UNSTABLE):
        raise ValueError(f"the stability verdict names {STABILITY_UNSTABLE} as the unstable "
                         f"models; the committed runs say {unstable}: rewrite it")  # fmt: skip
    answer = (
        "Only the He-initialised feature-recurrent VResNet went unstable; every "
        "normalisation (SRN, SRN-C) and the rotation conv-GRU state trained it into a "
        "stable denoiser, feature dampening and an orthogonal feature map did not"
    )
    numbers = (f"onsets on the long sequences: 0 for {len(stable)} models; "
               + ", ".join(f"{m} {models[m]['onsets']:,}" for m in unstable))  # fmt: skip
    return answer, numbers, ("one seed per model, small backbones (26k parameters) and "
                             "synthetic camera motion, not Vimeo-90k")  # fmt: skip


def dynamic_filters() -> tuple[str, str, str]:
    rows = {r["model"]: r for r in load_json(RESULTS / "dfn-mnist" / "table.json")}
    dfn, constant = rows["dfn"], rows["mean_intensity"]
    answer = (
        f"Built as the paper writes it ({dfn['params']:,} parameters, its count); trained "
        f"{dfn['steps']:,} of its 20,000 iterations it "
        f"{'beats' if dfn['test_bce'] < constant['test_bce'] else 'does not beat'} the best "
        "constant frame, far from the paper's number"
    )
    numbers = (f"test BCE per frame: {dfn['test_bce_per_frame_sum']:.0f} nats against the "
               f"constant's {constant['test_bce_per_frame_sum']:.0f} (the paper: 285.2 after "
               "20,000 iterations)")  # fmt: skip
    return answer, numbers, "the start of one curve: 20,000 iterations would take about 200 h"


def speed_against_lstm() -> tuple[str, str, str]:
    bench = load_json(RESULTS / "bench" / "bench_scan.json")["scan"]
    ratios = {r["model"]: r["vs_lstm"] for r in bench["models"] if r["model"] != "lstm"}
    scan = [f"T = {r['T']:,}: {r['scan_vs_loop']:.2f}" for r in bench["scan"]]
    loop = [r["scan_vs_loop"] for r in bench["scan"]]
    pace = (
        "slower"
        if min(ratios.values()) > 1
        else "faster"
        if max(ratios.values()) < 1
        else "neither faster nor slower"
    )
    answer = (f"On CPU the parallel deep models are {pace} per training step than oneDNN's "
              f"fused nn.LSTM at T = {bench['T']:,}; the diagonal scan takes "
              f"{min(loop):.2f} to {max(loop):.2f} of its own loop's time")  # fmt: skip
    numbers = (", ".join(f"{NAMES[m]} {v:.1f}x" for m, v in ratios.items())
               + " nn.LSTM's time; scan / loop " + ", ".join(scan))  # fmt: skip
    gpu = RESULTS / "gpu"
    measured = gpu.exists() and any(gpu.glob("*/*.json"))
    sure = "one thread, interleaved, beside a training run; " + (
        "GPU rows on the GPU page" if measured else "no GPU measured yet (cuDNN untested)"
    )
    return answer, numbers, sure


#: (question, study page, verdict) in the order of the landing page.
VERDICTS: tuple[tuple[str, str, Callable[[], tuple[str, str, str]]], ...] = (
    ("Moving-MNIST: unitary cells against ARMA-LSTM and ConvLSTM", "results_moving_mnist",
     moving_mnist_cells),
    ("Long memory: copy at T = 1,000 and beyond, unit-circle vs decaying poles",
     "results_memory", long_memory_verdict),
    ("Copy and adding at T = 250: cgRNN against LSTM, GRU and ARMA", "results_memory",
     gated_cells_t250),
    ("Wolter & Yao's recipe (dense U, Cayley steps)", "results_memory", wolter_yao_recipe),
    ("The speed question: does ARMA's AR filter help more as digits move faster?",
     "results_moving_mnist", speed_question),
    ("Recurrent denoisers: what keeps them stable", "results_stability", stability_verdict),
    ("The dynamic filter network as its paper writes it", "results_dynamic_filters",
     dynamic_filters),
    ("Speed against nn.LSTM", "results_benchmarks", speed_against_lstm),
)  # fmt: skip


def verdict_table() -> str:
    body = []
    for question, page, verdict in VERDICTS:
        answer, numbers, sure = verdict()
        body.append([f":doc:`{question} <{page}>`", f"**{answer}.** {numbers}", sure])
    return list_table(["question", "answer and key numbers", "how sure"], body,
                      "computed from the study pages' JSON", "What the library found",
                      [":widths: 22 53 25", ":class: verdicts"])  # fmt: skip


TABLES: dict[str, Callable[[], str]] = {"verdicts.rst": verdict_table}
FIGURES: tuple[Callable[[], None], ...] = ()
