"""Copy and adding memory tasks: unitary complex cells against LSTM and GRU.

    python -m experiments.memory --preset demo --out runs/memory-demo
    python -m experiments.memory --preset paper --tasks copy --out runs/copy-T250
    python -m experiments.memory --preset long --models cgrnn lstm --out runs/long
    torchrun --nproc_per_node 2 -m experiments.memory --preset smoke --out runs/ddp

Every option of a preset can be overridden on the command line. Each run writes into
``--out``: ``config.json``, ``metrics.csv`` (one row per model and step), ``table.md`` and
``table.json`` (final numbers), ``loss_<task>_T<T>.png`` and one checkpoint per model
under ``checkpoints/`` (written atomically). ``--resume`` continues from the checkpoints
and reproduces the numbers of an uninterrupted run: every batch is drawn from a
generator seeded by (seed, task, T, step, rank), so no random state has to be restored.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from cunitary import (
    ARMASequenceModel,
    ComplexGatedRNN,
    ComplexReadout,
    LinearUnitaryRecurrence,
    RotationGRU,
    UnitaryRNN,
)
from cunitary.tasks import ADDING_BASELINE, COPY_LENGTH, adding_task, copy_baseline, copy_task

MODELS = (
    "cgrnn",
    "cgrnn_full",
    "urnn",
    "rotation_gru",
    "linear_unitary",
    "arma",
    "lstm",
    "gru",
)
COPY_CLASSES = 10  # input tokens 0..9 (one-hot); targets 0..8
COPY_OUTPUTS = 9


@dataclass
class Config:
    tasks: list[str] = field(default_factory=lambda: ["copy"])
    T: list[int] = field(default_factory=lambda: [50])
    models: list[str] = field(default_factory=lambda: list(MODELS))
    params: int = 10_000
    steps: int = 400
    batch: int = 64
    optimizer: str = "rmsprop"
    lr: float = 1e-3
    clip: float = 1.0
    seed: int = 0
    window: int = 50
    eval_batch: int = 500
    checkpoint_every: int = 100


PRESETS: dict[str, dict] = {
    "smoke": {
        "T": [8],
        "models": ["cgrnn", "lstm"],
        "params": 2_000,
        "steps": 30,
        "batch": 16,
        "window": 10,
        "eval_batch": 64,
        "checkpoint_every": 5,
    },
    "demo": {},
    "paper": {
        "tasks": ["copy", "adding"],
        "T": [250],
        "params": 44_600,
        "steps": 18_000,
        "batch": 50,
        "window": 100,
        "checkpoint_every": 500,
    },
    "long": {
        "tasks": ["copy", "adding"],
        "T": [1000, 2000],
        "params": 44_600,
        "steps": 18_000,
        "batch": 50,
        "window": 100,
        "checkpoint_every": 250,
    },
}

# Windowed-loss thresholds recorded as "steps to solve" (Wolter & Yao 2018; the 1e-3
# level is the goal used in this project's docs).
THRESHOLDS = {"copy": (1e-3, 5e-7), "adding": (1e-2,)}


# -- models --------------------------------------------------------------------------------


class SequenceModel(nn.Module):
    """Encoder (one-hot for copy), a recurrent core, and a per-step readout."""

    def __init__(self, name: str, task: str, hidden: int) -> None:
        super().__init__()
        self.task = task
        features = COPY_CLASSES if task == "copy" else 2
        outputs = COPY_OUTPUTS if task == "copy" else 1
        if name in ("cgrnn", "cgrnn_full"):
            transition = "full" if name == "cgrnn_full" else "circulant"
            self.core = ComplexGatedRNN(features, hidden, transition=transition)
        elif name == "urnn":
            self.core = UnitaryRNN(features, hidden)
        elif name == "linear_unitary":
            self.core = LinearUnitaryRecurrence(hidden, input_size=features)
        elif name == "rotation_gru":
            self.core = RotationGRU(features, hidden)
        elif name == "arma":
            self.core = ARMASequenceModel(features, hidden, num_layers=2, ar_order=2)
        elif name == "lstm":
            self.core = nn.LSTM(features, hidden, batch_first=True)
        elif name == "gru":
            self.core = nn.GRU(features, hidden, batch_first=True)
        else:
            raise ValueError(f"model must be one of {MODELS}, got {name!r}")
        complex_state = name in ("cgrnn", "cgrnn_full", "urnn", "linear_unitary")
        self.readout = (
            ComplexReadout(hidden, outputs) if complex_state else nn.Linear(hidden, outputs)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.task == "copy":
            x = nn.functional.one_hot(x, COPY_CLASSES).float()
        states = self.core(x)
        if isinstance(states, tuple):  # recurrent cores also return their final state
            states = states[0]
        return self.readout(states)


def count_params(model: nn.Module) -> int:
    """Real parameters: a complex entry counts twice."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


def hidden_for_budget(name: str, task: str, budget: int) -> int:
    """Largest hidden size whose model has at most ``budget`` real parameters."""
    low, high = 1, 4096
    while low < high:
        mid = (low + high + 1) // 2
        if count_params(SequenceModel(name, task, mid)) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


# -- one training run ----------------------------------------------------------------------


def batch_for(task: str, T: int, size: int, seed: int, step: int, rank: int):
    # crc32, not hash(): str hashes are salted per process, which would break --resume.
    key = zlib.crc32(f"{seed}/{task}/{T}/{step}/{rank}".encode())
    generator = torch.Generator().manual_seed(key)
    return (copy_task if task == "copy" else adding_task)(size, T, generator=generator)


def loss_and_score(task: str, out: torch.Tensor, target: torch.Tensor):
    """Loss as in the protocols, and recall accuracy (copy) or the same MSE (adding)."""
    if task == "copy":
        loss = nn.functional.cross_entropy(out.reshape(-1, COPY_OUTPUTS), target.reshape(-1))
        recalled = out[:, -COPY_LENGTH:].argmax(-1) == target[:, -COPY_LENGTH:]
        return loss, recalled.float().mean()
    loss = nn.functional.mse_loss(out[:, -1, 0], target)
    return loss, loss.detach()


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise ValueError(f"optimizer must be 'rmsprop' or 'adam', got {name!r}")


def save_atomically(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # a kill leaves either the old or the new file, never half of one


def train(
    name: str, task: str, T: int, cfg: Config, out: Path, resume: bool, rank: int, world: int
) -> dict:
    hidden = hidden_for_budget(name, task, cfg.params)
    torch.manual_seed(cfg.seed)
    model = SequenceModel(name, task, hidden)
    params = count_params(model)
    ddp_model = DistributedDataParallel(model) if world > 1 else model
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
    checkpoint = out / "checkpoints" / f"{task}-T{T}-{name}.pt"
    start, history, seconds = 0, [], 0.0
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, history, seconds = state["step"], state["history"], state["seconds"]
    per_rank = max(1, cfg.batch // world)
    progress = tqdm(
        range(start, cfg.steps),
        desc=f"{task} T={T} {name}",
        initial=start,
        total=cfg.steps,
        disable=rank != 0,
        leave=False,
    )
    for step in progress:
        tick = time.perf_counter()
        x, y = batch_for(task, T, per_rank, cfg.seed, step, rank)
        loss, score = loss_and_score(task, ddp_model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip > 0:  # clip_grad_norm_ handles complex gradients (clip_grad_value_ does not)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
        seconds += time.perf_counter() - tick
        history.append([step, loss.item(), score.item()])
        progress.set_postfix(loss=f"{loss.item():.3g}", refresh=False)
        done = step + 1
        if rank == 0 and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            save_atomically(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": done,
                    "history": history,
                    "seconds": seconds,
                },
                checkpoint,
            )
    return summarise(name, task, T, cfg, model, params, hidden, history, seconds)


def summarise(name, task, T, cfg, model, params, hidden, history, seconds) -> dict:
    losses = [h[1] for h in history]
    window = max(1, min(cfg.window, len(losses)))
    smoothed = [
        sum(losses[max(0, i - window + 1) : i + 1]) / min(window, i + 1) for i in range(len(losses))
    ]
    solved = {}
    for threshold in THRESHOLDS[task]:
        hit = next(
            (
                history[i][0] + 1
                for i, v in enumerate(smoothed)
                if i + 1 >= window and v < threshold
            ),
            None,
        )
        solved[f"steps_to_{threshold:g}"] = hit
    model.eval()
    with torch.no_grad():
        x, y = batch_for(task, T, cfg.eval_batch, cfg.seed + 1, 0, 0)
        eval_loss, eval_score = loss_and_score(task, model(x), y)
    baseline = copy_baseline(T) if task == "copy" else ADDING_BASELINE
    return {
        "task": task,
        "T": T,
        "model": name,
        "hidden": hidden,
        "params": params,
        "final_loss": smoothed[-1] if smoothed else math.nan,
        "eval_loss": eval_loss.item(),
        ("eval_recall" if task == "copy" else "eval_mse"): eval_score.item(),
        "baseline": baseline,
        **solved,
        "seconds": seconds,
        "seconds_per_step": seconds / max(1, len(history)),
        "history": history,
    }


# -- outputs -------------------------------------------------------------------------------


def write_outputs(out: Path, cfg: Config, results: list[dict]) -> str:
    rows = [{k: v for k, v in r.items() if k != "history"} for r in results]
    tmp = out / "metrics.csv.tmp"
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["task", "T", "model", "step", "loss", "score"])
        for r in results:
            for step, loss, score in r["history"]:
                writer.writerow(
                    [r["task"], r["T"], r["model"], step, f"{loss:.6g}", f"{score:.6g}"]
                )
    os.replace(tmp, out / "metrics.csv")
    (out / "table.json").write_text(json.dumps(rows, indent=2))
    header = [
        "task",
        "T",
        "model",
        "params",
        "hidden",
        "final loss",
        "baseline",
        "eval",
        "steps to solve",
        "s/step",
        "wall s",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        score = (
            f"recall {r['eval_recall']:.3f}" if r["task"] == "copy" else f"MSE {r['eval_mse']:.4f}"
        )
        solved = ", ".join(
            f"<{k.removeprefix('steps_to_')}: {v if v else '-'}"
            for k, v in r.items()
            if k.startswith("steps_to_")
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    r["task"],
                    str(r["T"]),
                    r["model"],
                    str(r["params"]),
                    str(r["hidden"]),
                    f"{r['final_loss']:.3g}",
                    f"{r['baseline']:.3g}",
                    score,
                    solved,
                    f"{r['seconds_per_step']:.3f}",
                    f"{r['seconds']:.0f}",
                ]
            )
            + " |"
        )
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n")
    plot(out, results, cfg)
    return table


def plot(out: Path, results: list[dict], cfg: Config) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for task, T in sorted({(r["task"], r["T"]) for r in results}):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for r in (r for r in results if r["task"] == task and r["T"] == T):
            losses = torch.tensor([h[1] for h in r["history"]])
            w = max(1, min(cfg.window // 5, len(losses)))
            smooth = torch.nn.functional.avg_pool1d(losses[None, None], w, 1)[0, 0]
            ax.semilogy(
                range(w, len(losses) + 1),
                smooth.clamp_min(1e-12),
                label=f"{r['model']} ({r['params']} params)",
                lw=1.4,
            )
        baseline = copy_baseline(T) if task == "copy" else ADDING_BASELINE
        ax.axhline(baseline, color="k", ls="--", lw=1, label="memoryless baseline")
        ax.set_xlabel("training step")
        ax.set_ylabel("cross-entropy" if task == "copy" else "MSE")
        ax.set_title(f"{task} task, T = {T}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"loss_{task}_T{T}.png", dpi=110)
        plt.close(fig)


# -- command line --------------------------------------------------------------------------


def parse(argv: list[str] | None) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--resume", action="store_true", help="continue from checkpoints")
    parser.add_argument("--tasks", nargs="+", choices=["copy", "adding"])
    parser.add_argument("--T", nargs="+", type=int, help="delays / lengths")
    parser.add_argument("--models", nargs="+", choices=MODELS)
    for name in ("params", "steps", "batch", "seed", "window", "eval_batch", "checkpoint_every"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int)
    parser.add_argument("--optimizer", choices=["rmsprop", "adam"])
    parser.add_argument("--lr", type=float)
    parser.add_argument("--clip", type=float)
    args = parser.parse_args(argv)
    values = {**asdict(Config()), **PRESETS[args.preset]}
    values.update({k: v for k, v in vars(args).items() if k in values and v is not None})
    cfg = Config(**values)
    for name in ("steps", "batch", "params", "window", "eval_batch", "checkpoint_every"):
        if getattr(cfg, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
    if min(cfg.T) < 2:
        parser.error(f"--T values must be >= 2, got {cfg.T}")
    return cfg, args


def main(argv: list[str] | None = None) -> list[dict]:
    cfg, args = parse(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:  # launched by torchrun
        dist.init_process_group("gloo")
    rank = dist.get_rank() if world > 1 else 0
    out: Path = args.out
    if rank == 0:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(
            json.dumps({**asdict(cfg), "preset": args.preset, "world_size": world}, indent=2)
        )
    if world > 1:
        dist.barrier()
    results = [
        train(name, task, T, cfg, out, args.resume, rank, world)
        for task in cfg.tasks
        for T in cfg.T
        for name in cfg.models
    ]
    if rank == 0:
        table = write_outputs(out, cfg, results)
        print(table)
        print(f"wrote {out}/config.json, metrics.csv, table.md, table.json and plots")
    if world > 1:
        dist.destroy_process_group()
    return results


if __name__ == "__main__":
    main()
