"""Moving-MNIST video prediction: every cell family in the same backbone, same protocol.

    python -m experiments.video --preset cpu --out runs/video-cpu           # Moving-MNIST-S
    python -m experiments.video --preset cpu --speeds 1 2 3 --out runs/video-cpu
    python -m experiments.video --preset paper --out runs/video-paper        # 64x64, a GPU
    torchrun --nproc_per_node 2 -m experiments.video --preset smoke --out runs/video-ddp

10 input frames, 10 predicted. Adam, L1 + L2 loss (BCE for the dynamic-filter model, as
in its paper), gradient-norm clipping, scheduled sampling (the probability of feeding the
true frame instead of the model's own prediction falls linearly to 0), learning-rate decay
on validation plateaus. Writes ``config.json``, ``metrics.csv`` (training loss),
``table.md``/``table.json``, ``frame_metrics.json`` and ``frame_metrics.png`` (per
predicted frame), ``strip_speed<k>.png`` (input / truth / each model), and checkpoints that
``--resume`` continues from exactly.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
import zlib
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import matplotlib
import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from cunitary import (
    ARMALSTMCell,
    ComplexConvGatedCell,
    ConvLSTMCell,
    ConvRNNStack,
    RotationConvGRUCell,
)
from cunitary.dynamic import local_filter2d
from cunitary.metrics import frame_metrics
from cunitary.moving_mnist import build_dataset
from experiments.memory import save_atomically

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODELS = (
    "convlstm3",
    "convlstm5",
    "convlstm3_dilated",
    "armalstm",
    "armalstm_dilated",
    "rotation_convgru",
    "complex_gated",
    "dfn",
)
INPUT_FRAMES = 10
PREDICTED_FRAMES = 10


@dataclass
class Config:
    models: list[str] = field(default_factory=lambda: list(MODELS))
    speeds: list[int] = field(default_factory=lambda: [1])
    size: int = 32
    hidden: int = 12
    layers: int = 3
    skips: list[list[int]] = field(default_factory=lambda: [[1, 3]])
    train_sequences: int = 1000
    val_sequences: int = 50
    test_sequences: int = 100
    steps: int = 150
    batch: int = 4
    lr: float = 1e-3
    clip: float = 3.0
    sampling_steps: int = 75  # teacher forcing falls linearly from 1 to 0 over these steps
    eval_every: int = 50
    plateau_patience: int = 2
    checkpoint_every: int = 50
    budget_model: str = "armalstm"  # complex models are sized to this one's parameters
    dfn_kernel: int = 9
    seed: int = 0


PRESETS: dict[str, dict] = {
    "smoke": {
        "models": ["convlstm3", "armalstm", "rotation_convgru", "complex_gated", "dfn"],
        "size": 32,
        "hidden": 4,
        "layers": 2,
        "skips": [[1, 2]],
        "train_sequences": 16,
        "val_sequences": 4,
        "test_sequences": 4,
        "steps": 4,
        "batch": 2,
        "sampling_steps": 2,
        "eval_every": 2,
        "checkpoint_every": 2,
        "dfn_kernel": 5,
    },
    "cpu": {},
    "paper": {
        "size": 64,
        "hidden": 32,
        "layers": 12,
        "skips": [[3, 9], [6, 12]],
        "train_sequences": 10_000,
        "val_sequences": 3_000,
        "test_sequences": 5_000,
        "steps": 100_000,
        "batch": 16,
        "sampling_steps": 50_000,
        "eval_every": 2_000,
        "plateau_patience": 5,
        "checkpoint_every": 1_000,
    },
}


# -- models --------------------------------------------------------------------------------


def cell_factory(name: str, hidden: int, size: int):
    frame = (size, size)
    cells = {
        "convlstm3": partial(ConvLSTMCell, kernel_size=3),
        "convlstm5": partial(ConvLSTMCell, kernel_size=5),
        "convlstm3_dilated": partial(ConvLSTMCell, kernel_size=3, dilation=2),
        "armalstm": partial(ARMALSTMCell, kernel_size=3),
        "armalstm_dilated": partial(ARMALSTMCell, kernel_size=3, dilation=2, ar_dilation=2),
        "rotation_convgru": partial(RotationConvGRUCell, size=frame),
        "complex_gated": partial(ComplexConvGatedCell, size=frame),
        "dfn": partial(ConvLSTMCell, kernel_size=3),
    }
    if name not in cells:
        raise ValueError(f"model must be one of {MODELS}, got {name!r}")
    return cells[name]


class VideoPredictor(nn.Module):
    """The backbone, and how its output becomes the next frame.

    Most models emit the frame itself (a sigmoid). The dynamic-filter model (``dfn``)
    emits a softmax ``k x k`` filter per pixel and applies it to its input frame: the
    prediction moves and blends the current pixels (De Brabandere et al. 2016).
    """

    def __init__(self, name: str, hidden: int, cfg: Config) -> None:
        super().__init__()
        self.name = name
        self.kernel = cfg.dfn_kernel
        out_channels = self.kernel**2 if name == "dfn" else 1
        self.backbone = ConvRNNStack(
            cell_factory(name, hidden, cfg.size), 1, out_channels, hidden, cfg.layers,
            [tuple(s) for s in cfg.skips],
        )  # fmt: skip

    def step(self, frame: torch.Tensor, states):
        out, states = self.backbone.step(frame, states)
        if self.name == "dfn":
            return local_filter2d(frame, torch.softmax(out, dim=1)), states
        return torch.sigmoid(out), states

    def forward(self, frames: torch.Tensor, future: int, teacher: torch.Tensor | None = None):
        """Read ``frames`` ``(B, T_in, 1, H, W)``, then predict ``future`` frames.

        ``teacher``: ``(B, future - 1, 1, H, W)`` true frames and a boolean mask per
        sample and step deciding whether the true or the predicted frame is fed back
        (scheduled sampling); ``None`` feeds predictions only.
        """
        states, prediction = None, None
        for frame in frames.unbind(1):
            prediction, states = self.step(frame, states)
        outputs = [prediction]
        for k in range(future - 1):
            fed = prediction
            if teacher is not None:
                truth, use_truth = teacher
                fed = torch.where(use_truth[:, k, None, None, None], truth[:, k], prediction)
            prediction, states = self.step(fed, states)
            outputs.append(prediction)
        return torch.stack(outputs, 1)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


def hidden_for(name: str, cfg: Config) -> int:
    """``cfg.hidden``, except complex/unitary cells: the widest within the budget model."""
    if name not in ("rotation_convgru", "complex_gated"):
        return cfg.hidden
    budget = count_params(VideoPredictor(cfg.budget_model, cfg.hidden, cfg))
    best = 1
    for hidden in range(1, 4 * cfg.hidden + 1):
        if count_params(VideoPredictor(name, hidden, cfg)) <= budget:
            best = hidden
    return best


# -- training ------------------------------------------------------------------------------


def generator_for(cfg: Config, *parts: object) -> torch.Generator:
    key = zlib.crc32("/".join(str(p) for p in (cfg.seed, *parts)).encode())
    return torch.Generator().manual_seed(key)


def load_split(cfg: Config, out: Path, split: str, n: int, speed: int) -> torch.Tensor:
    path = out / "data" / f"{split}_speed{speed}_size{cfg.size}.npz"
    data = build_dataset(path, n, split, speed=speed, size=cfg.size, seed=cfg.seed)
    return torch.from_numpy(data)  # uint8 (N, 20, H, W)


def as_frames(sequences: torch.Tensor) -> torch.Tensor:
    return sequences.float().div(255).unsqueeze(2)


def loss_fn(name: str, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if name == "dfn":
        return nn.functional.binary_cross_entropy(prediction.clamp(1e-6, 1 - 1e-6), target)
    return nn.functional.l1_loss(prediction, target) + nn.functional.mse_loss(prediction, target)


def teacher_mask(cfg: Config, step: int, batch: int, rank: int) -> torch.Tensor:
    keep = max(0.0, 1.0 - step / max(1, cfg.sampling_steps))
    g = generator_for(cfg, "sampling", step, rank)
    return torch.rand(batch, PREDICTED_FRAMES - 1, generator=g) < keep


@torch.no_grad()
def evaluate(model: VideoPredictor, data: torch.Tensor, batch: int = 16) -> dict[str, list]:
    """Per-frame metrics (mean over sequences) and the predictions of the first sequence."""
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    first = None
    for lo in range(0, len(data), batch):
        frames = as_frames(data[lo : lo + batch])
        inputs, target = frames[:, :INPUT_FRAMES], frames[:, INPUT_FRAMES:]
        prediction = model(inputs, PREDICTED_FRAMES).clamp(0, 1)
        if first is None:
            first = prediction[0, :, 0]
        for key, value in frame_metrics(prediction, target).items():
            sums[key] = sums.get(key, 0) + value[..., 0].sum(0).double()
    model.train()
    result = {k: (v / len(data)).tolist() for k, v in sums.items()}
    result["first_prediction"] = first
    return result


def train(name: str, speed: int, cfg: Config, out: Path, resume: bool, rank: int, world: int):
    train_data = load_split(cfg, out, "train", cfg.train_sequences, speed)
    val_data = load_split(cfg, out, "val", cfg.val_sequences, speed)
    hidden = hidden_for(name, cfg)
    torch.manual_seed(cfg.seed)
    model = VideoPredictor(name, hidden, cfg)
    ddp = DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.5, patience=cfg.plateau_patience
    )
    checkpoint = out / "checkpoints" / f"speed{speed}-{name}.pt"
    start, history, seconds = 0, [], 0.0
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start, history, seconds = state["step"], state["history"], state["seconds"]
    per_rank = max(1, cfg.batch // world)
    progress = tqdm(range(start, cfg.steps), desc=f"speed {speed} {name}", initial=start,
                    total=cfg.steps, disable=rank != 0, leave=False)  # fmt: skip
    for step in progress:
        tick = time.perf_counter()
        g = generator_for(cfg, "batch", speed, step, rank)
        rows = torch.randint(0, len(train_data), (per_rank,), generator=g)
        frames = as_frames(train_data[rows])
        inputs, target = frames[:, :INPUT_FRAMES], frames[:, INPUT_FRAMES:]
        mask = teacher_mask(cfg, step, per_rank, rank)
        prediction = ddp(inputs, PREDICTED_FRAMES, (target[:, :-1], mask))
        loss = loss_fn(name, prediction, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # Norm clipping: complex parameters have no clip_grad_value_ (torch 2.13).
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
        seconds += time.perf_counter() - tick
        history.append([step, loss.item()])
        progress.set_postfix(loss=f"{loss.item():.4g}", refresh=False)
        done = step + 1
        if done % cfg.eval_every == 0:
            val = evaluate(model, val_data)
            scheduler.step(float(np.mean(val["mse"])))
        if rank == 0 and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            save_atomically(
                {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "step": done, "history": history,
                 "seconds": seconds},
                checkpoint,
            )  # fmt: skip
    return model, hidden, history, seconds


def run(cfg: Config, out: Path, resume: bool, rank: int, world: int) -> list[dict]:
    results, curves, strips = [], {}, {}
    for speed in cfg.speeds:
        test_data = load_split(cfg, out, "test", cfg.test_sequences, speed)
        strips[speed] = {"input": as_frames(test_data[:1])[0, :, 0].numpy()}
        for name in cfg.models:
            model, hidden, history, seconds = train(name, speed, cfg, out, resume, rank, world)
            if rank != 0:
                continue
            metrics = evaluate(model, test_data)
            strips[speed][name] = metrics.pop("first_prediction").numpy()
            curves[f"{name} (speed {speed})"] = metrics
            results.append(
                {
                    "model": name,
                    "speed": speed,
                    "hidden": hidden,
                    "params": count_params(model),
                    **{f"test_{k}": float(np.mean(v)) for k, v in metrics.items()},
                    "final_train_loss": float(np.mean([h[1] for h in history[-20:]])),
                    "steps": len(history),
                    "seconds_per_step": seconds / max(1, len(history)),
                    "history": history,
                }
            )
    if rank == 0:
        write_outputs(out, cfg, results, curves, strips)
    return results


# -- outputs -------------------------------------------------------------------------------


def write_outputs(out: Path, cfg: Config, results: list[dict], curves: dict, strips: dict):
    rows = [{k: v for k, v in r.items() if k != "history"} for r in results]
    (out / "table.json").write_text(json.dumps(rows, indent=2))
    (out / "frame_metrics.json").write_text(json.dumps(curves, indent=2))
    with open(out / "metrics.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "speed", "step", "loss"])
        for r in results:
            writer.writerows([r["model"], r["speed"], s, f"{v:.6g}"] for s, v in r["history"])
    lines = [
        "| model | speed | params | MSE/frame (x4096: sum) | MAE | PSNR | SSIM | BCE | s/step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    pixels = cfg.size**2
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['speed']}x | {r['params']:,} | {r['test_mse']:.4f} "
            f"({r['test_mse'] * pixels:.1f}) | {r['test_mae']:.4f} | {r['test_psnr']:.2f} "
            f"| {r['test_ssim']:.3f} | {r['test_bce']:.4f} | {r['seconds_per_step']:.2f} |"
        )
    table = "\n".join(lines) + "\n"
    (out / "table.md").write_text(table)
    print(table)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for label, metrics in curves.items():
        for ax, key in zip(axes, ("mse", "psnr", "ssim"), strict=True):
            ax.plot(range(1, PREDICTED_FRAMES + 1), metrics[key], marker=".", label=label)
    for ax, key in zip(axes, ("MSE per pixel", "PSNR (dB)", "SSIM"), strict=True):
        ax.set_xlabel("predicted frame")
        ax.set_title(key)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "frame_metrics.png", dpi=90)
    plt.close(fig)
    for speed, strip in strips.items():
        names = ["input"] + [n for n in strip if n != "input"]
        height = (len(names) + 1) * 0.95
        fig, axes = plt.subplots(len(names) + 1, PREDICTED_FRAMES, figsize=(9, height))
        truth_test = strip["input"]
        for col in range(PREDICTED_FRAMES):
            axes[0, col].imshow(truth_test[col], cmap="gray", vmin=0, vmax=1)
            axes[1, col].imshow(truth_test[INPUT_FRAMES + col], cmap="gray", vmin=0, vmax=1)
            for row, name in enumerate(names[1:], start=2):
                axes[row, col].imshow(strip[name][col], cmap="gray", vmin=0, vmax=1)
        for row, label in enumerate(["input", "truth", *names[1:]]):
            axes[row, 0].set_ylabel(label, rotation=0, ha="right", fontsize=7)
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout(pad=0.1)
        fig.savefig(out / f"strip_speed{speed}.png", dpi=80)
        plt.close(fig)


def parse(argv: list[str] | None) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--models", nargs="+", choices=MODELS)
    parser.add_argument("--speeds", nargs="+", type=int)
    for name in ("steps", "batch", "hidden", "layers", "seed", "train_sequences", "size",
                 "sampling_steps", "eval_every", "checkpoint_every"):  # fmt: skip
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int)
    parser.add_argument("--lr", type=float)
    args = parser.parse_args(argv)
    values = {**asdict(Config()), **PRESETS[args.preset]}
    values.update({k: v for k, v in vars(args).items() if k in values and v is not None})
    cfg = Config(**values)
    if cfg.size not in (32, 64):
        parser.error(f"--size must be 32 or 64, got {cfg.size}")
    if min(cfg.speeds) < 1:
        parser.error(f"--speeds must be >= 1, got {cfg.speeds}")
    return cfg, args


def main(argv: list[str] | None = None) -> list[dict]:
    cfg, args = parse(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if world > 1 else 0
    out: Path = args.out
    if rank == 0:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(
            json.dumps({**asdict(cfg), "preset": args.preset, "world_size": world}, indent=2)
        )
        for speed in cfg.speeds:  # build the cached datasets once, before any rank reads them
            for split, n in (("train", cfg.train_sequences), ("val", cfg.val_sequences),
                             ("test", cfg.test_sequences)):  # fmt: skip
                load_split(cfg, out, split, n, speed)
    if world > 1:
        dist.barrier()
    try:
        return run(cfg, out, args.resume, rank, world)
    finally:
        if world > 1:
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
