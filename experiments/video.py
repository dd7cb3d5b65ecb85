"""Moving-MNIST video prediction: every cell family in the same backbone, same protocol.

    python -m experiments.video --preset cpu --out runs/video-cpu           # Moving-MNIST-S
    python -m experiments.video --preset cpu --speeds 1 2 3 --out runs/video-cpu
    python -m experiments.video --preset gpu --device cuda --out runs/video-gpu
    python -m experiments.video --preset paper --device cuda --out runs/video-paper
    torchrun --nproc_per_node 2 -m experiments.video --preset smoke --out runs/video-ddp

10 input frames, 10 predicted. Adam, MSE loss on a linear output head by default (BCE
for the dynamic-filter model, as in its paper), gradient-norm clipping, scheduled
sampling (the probability of feeding the true frame instead of the model's own
prediction falls linearly to 0), learning-rate decay on validation plateaus. Writes
``config.json``, ``metrics.csv`` (training loss), ``curves.json`` (validation MSE over
training), ``table.md``/``table.json`` (with the blank-frame and copy-last-frame
references), ``frame_metrics.json`` and ``frame_metrics.png`` (per predicted frame),
``strip_speed<k>.png`` (input / truth / each model), and checkpoints that ``--resume``
continues from exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import matplotlib
import numpy as np
import torch
from torch import nn

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
from cunitary.unitary import cached

from . import runner
from .runner import count_parameters, option

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
CORE_MODELS = ("convlstm3", "armalstm", "rotation_convgru", "complex_gated")
UNITARY_MODELS = ("rotation_convgru", "complex_gated")
#: Rows every table carries: predict an empty frame; repeat the last input frame.
REFERENCES = ("blank_frame", "copy_last_frame")
INPUT_FRAMES = 10
PREDICTED_FRAMES = 10


@dataclass
class Config:
    models: list[str] = option(list(MODELS), "models to train", choices=MODELS)
    speeds: list[int] = option([1], "digit speeds (1x, 2x, 3x)", minimum=1)
    size: int = option(32, "frame size: 32 (Moving-MNIST-S) or 64", choices=(32, 64))
    hidden: int = option(12, "channels per layer (unitary models: sized to the budget)", minimum=1)
    layers: int = option(3, "recurrent layers", minimum=1)
    skips: list[list[int]] = option([[1, 3]], "skip connections (i, j)", cli=False)
    train_sequences: int = option(10_000, "training clips per speed", minimum=1)
    val_sequences: int = option(100, "validation clips (curves, LR plateaus)", minimum=1)
    test_sequences: int = option(500, "test clips", minimum=1)
    steps: int = option(3000, "training steps per model", minimum=1)
    batch: int = option(8, "batch size (split over DDP ranks)", minimum=1)
    lr: float = option(1e-3, "Adam learning rate", minimum=0)
    clip: float = option(3.0, "gradient-norm clip (0: off)", minimum=0)
    sampling_steps: int = option(
        1500, "teacher forcing falls linearly from 1 to 0 over these steps", minimum=0
    )
    eval_every: int = option(250, "steps between validation evaluations", minimum=1)
    plateau_patience: int = option(4, "evaluations without progress before LR / 2", minimum=0)
    checkpoint_every: int = option(250, "steps between checkpoints", minimum=1)
    budget_model: str = option("armalstm", "unitary models get its parameter count", choices=MODELS)
    angles: str = option(
        "full",
        "eigen-angles of the unitary models' transitions",
        choices=("full", "kernel", "grid"),
    )
    angle_size: int = option(0, "their kernel (odd) or grid size; 0: the default", minimum=0)
    dfn_kernel: int = option(9, "dynamic-filter size (odd)", minimum=1)
    rotation_candidate: str = option(
        "gru",
        "rotation conv-GRU candidate: the GRU's, or the document's eq. 109 (linear_recurrent)",
        choices=("gru", "linear_recurrent"),
    )
    rotation_padding: int = option(
        0, "zeros around the frame for the rotation conv-GRU's state (no wrap-around)", minimum=0
    )
    head: str = option(
        "linear", "output head: the frame itself, or a sigmoid", choices=("linear", "sigmoid")
    )
    loss: str = option("mse", "training loss (dfn: BCE)", choices=("mse", "l1l2"))
    loss_frames: str = option(
        "all", "'all': the 9 next-frame predictions while reading count too",
        choices=("all", "predicted"),
    )  # fmt: skip
    seed: int = option(0, "seed of the weights, the data and the batches", minimum=0)


#: What --resume may change: more steps, other models/speeds (own checkpoints), and when
#: checkpoints are written.
RESUMABLE = ("steps", "models", "speeds", "checkpoint_every")

PRESETS: dict[str, dict] = {
    "smoke": {
        "models": ["convlstm3", "armalstm", "rotation_convgru", "complex_gated", "dfn"],
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
    # Measured (docs/results.rst, "choosing the protocol"): MSE on a linear head, the
    # reading frames in the loss, lr 2e-3 with plateau halving; 3,000 steps of batch 8
    # bring ConvLSTM 3x3 below 0.7 x the blank-frame MSE at 32x32.
    "cpu": {"lr": 2e-3, "plateau_patience": 2, "angles": "kernel"},
    "gpu": {
        "size": 64,
        "hidden": 32,
        "layers": 3,
        "skips": [[1, 3]],
        "steps": 5000,
        "batch": 16,
        "sampling_steps": 2500,
        "eval_every": 500,
        "checkpoint_every": 500,
    },
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


def validate(cfg: Config) -> None:
    for skip in cfg.skips:
        if len(skip) != 2 or not 1 <= skip[0] < skip[1] <= cfg.layers:
            raise runner.RunError(f"skips must be pairs 1 <= i < j <= layers, got {cfg.skips}")
    if cfg.dfn_kernel % 2 == 0:
        raise runner.RunError(f"--dfn-kernel must be odd, got {cfg.dfn_kernel}")
    if cfg.angles == "full" and cfg.angle_size:
        raise runner.RunError("--angle-size is for --angles kernel or grid")
    if cfg.angles == "kernel" and cfg.angle_size and cfg.angle_size % 2 == 0:
        raise runner.RunError(f"--angle-size (a kernel size) must be odd, got {cfg.angle_size}")


# -- models --------------------------------------------------------------------------------


def cell_factory(
    name: str,
    size: int,
    angles: str = "full",
    angle_size: int | None = None,
    rotation_candidate: str = "gru",
    rotation_padding: int = 0,
):
    frame = (size, size)
    unitary = {"size": frame, "angles": angles, "angle_size": angle_size}
    cells = {
        "convlstm3": partial(ConvLSTMCell, kernel_size=3),
        "convlstm5": partial(ConvLSTMCell, kernel_size=5),
        "convlstm3_dilated": partial(ConvLSTMCell, kernel_size=3, dilation=2),
        "armalstm": partial(ARMALSTMCell, kernel_size=3),
        # The ARMA paper's dilated ARMA-LSTM dilates the moving-average convolution only.
        "armalstm_dilated": partial(ARMALSTMCell, kernel_size=3, dilation=2),
        "rotation_convgru": partial(
            RotationConvGRUCell, candidate=rotation_candidate, padding=rotation_padding, **unitary
        ),
        "complex_gated": partial(ComplexConvGatedCell, **unitary),
        "dfn": partial(ConvLSTMCell, kernel_size=3),
    }
    if name not in cells:
        raise ValueError(f"model must be one of {MODELS}, got {name!r}")
    return cells[name]


class VideoPredictor(nn.Module):
    """The backbone, and how its output becomes the next frame.

    Most models emit the frame itself: the last layer's output (``head="linear"``, as in
    the ARMA authors' training script) or its sigmoid. The dynamic-filter model (``dfn``)
    emits a softmax ``k x k`` filter per pixel and applies it to its input frame: the
    prediction moves and blends the current pixels (De Brabandere et al. 2016).
    """

    def __init__(self, name: str, hidden: int, cfg: Config) -> None:
        super().__init__()
        self.name = name
        self.head = cfg.head
        self.kernel = cfg.dfn_kernel
        out_channels = self.kernel**2 if name == "dfn" else 1
        self.backbone = ConvRNNStack(
            cell_factory(name, cfg.size, cfg.angles, cfg.angle_size or None,
                         cfg.rotation_candidate, cfg.rotation_padding), 1, out_channels,
            hidden, cfg.layers,
            [tuple(s) for s in cfg.skips],
        )  # fmt: skip

    def step(self, frame: torch.Tensor, states):
        out, states = self.backbone.step(frame, states)
        if self.name == "dfn":
            return local_filter2d(frame, torch.softmax(out.float(), dim=1)), states
        return (torch.sigmoid(out) if self.head == "sigmoid" else out), states

    def forward(
        self,
        frames: torch.Tensor,
        future: int,
        teacher: tuple[torch.Tensor, torch.Tensor] | None = None,
        reading: bool = False,
    ) -> torch.Tensor:
        """Read ``frames`` ``(B, T_in, 1, H, W)``, then predict ``future`` frames.

        ``teacher``: ``(B, future - 1, 1, H, W)`` true frames and a boolean mask per
        sample and step deciding whether the true or the predicted frame is fed back
        (scheduled sampling); ``None`` feeds predictions only. ``reading=True`` also
        returns, first, the ``T_in - 1`` next-frame predictions made while reading.
        """
        states, prediction, outputs = None, None, []
        with cached():  # the unitary transitions' phasors: once per sequence
            for frame in frames.unbind(1):
                if reading and prediction is not None:
                    outputs.append(prediction)
                prediction, states = self.step(frame, states)
            outputs.append(prediction)
            for k in range(future - 1):
                fed = prediction
                if teacher is not None:
                    truth, use_truth = teacher
                    fed = torch.where(use_truth[:, k, None, None, None], truth[:, k], prediction)
                prediction, states = self.step(fed, states)
                outputs.append(prediction)
        return torch.stack(outputs, 1)


def hidden_for(name: str, cfg: Config) -> int:
    """``cfg.hidden``, except the unitary cells: the widest within the budget model."""
    if name not in UNITARY_MODELS:
        return cfg.hidden
    budget = count_parameters(VideoPredictor(cfg.budget_model, cfg.hidden, cfg))
    best = 1
    for hidden in range(1, 4 * cfg.hidden + 1):
        if count_parameters(VideoPredictor(name, hidden, cfg)) <= budget:
            best = hidden
    return best


# -- data and losses -----------------------------------------------------------------------


def load_split(cfg: Config, out: Path, split: str, n: int, speed: int) -> torch.Tensor:
    name = f"{split}_n{n}_speed{speed}_size{cfg.size}_seed{cfg.seed}.npz"
    data = build_dataset(out / "data" / name, n, split, speed=speed, size=cfg.size, seed=cfg.seed)
    return torch.from_numpy(data)  # uint8 (N, 20, H, W)


def as_frames(sequences: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    return sequences.to(device, non_blocking=True).float().div(255).unsqueeze(2)


def loss_fn(
    name: str, prediction: torch.Tensor, target: torch.Tensor, loss: str = "mse"
) -> torch.Tensor:
    prediction = prediction.float()
    if name == "dfn":
        return nn.functional.binary_cross_entropy(prediction.clamp(1e-6, 1 - 1e-6), target)
    mse = nn.functional.mse_loss(prediction, target)
    return mse + nn.functional.l1_loss(prediction, target) if loss == "l1l2" else mse


def teacher_mask(cfg: Config, step: int, batch: int, rank: int) -> torch.Tensor:
    keep = max(0.0, 1.0 - step / max(1, cfg.sampling_steps))
    g = runner.keyed_generator(cfg.seed, "sampling", step, rank)
    return torch.rand(batch, PREDICTED_FRAMES - 1, generator=g) < keep


@torch.no_grad()
def evaluate(predict, data: torch.Tensor, device, batch: int = 16) -> dict[str, list]:
    """Per-frame metrics (mean over sequences) and the predictions of the first sequence.

    ``predict(inputs)`` maps ``(B, 10, 1, H, W)`` to the 10 predicted frames.
    """
    sums: dict[str, torch.Tensor] = {}
    first = None
    for lo in range(0, len(data), batch):
        frames = as_frames(data[lo : lo + batch], device)
        inputs, target = frames[:, :INPUT_FRAMES], frames[:, INPUT_FRAMES:]
        prediction = predict(inputs).float().clamp(0, 1)
        if first is None:
            first = prediction[0, :, 0].cpu()
        for key, value in frame_metrics(prediction, target).items():
            sums[key] = sums.get(key, 0) + value[..., 0].sum(0).double().cpu()
    result = {k: (v / len(data)).tolist() for k, v in sums.items()}
    result["first_prediction"] = first
    return result


def reference_predictor(name: str):
    """The table's reference rows: an empty frame, or the last input frame repeated."""
    if name == "blank_frame":
        return lambda inputs: torch.zeros_like(inputs)
    return lambda inputs: inputs[:, -1:].expand(-1, PREDICTED_FRAMES, -1, -1, -1)


def model_predictor(model: VideoPredictor):
    def predict(inputs: torch.Tensor) -> torch.Tensor:
        model.eval()
        try:
            return model(inputs, PREDICTED_FRAMES)
        finally:
            model.train()

    return predict


# -- training ------------------------------------------------------------------------------


def train(name: str, speed: int, cfg: Config, run: runner.Run):
    train_data = load_split(cfg, run.out, "train", cfg.train_sequences, speed)
    val_data = load_split(cfg, run.out, "val", cfg.val_sequences, speed)
    hidden = hidden_for(name, cfg)
    torch.manual_seed(cfg.seed)
    model = VideoPredictor(name, hidden, cfg).to(run.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.5, patience=cfg.plateau_patience
    )
    per_rank = max(1, cfg.batch // run.world)
    reading = cfg.loss_frames == "all"

    def batch_loss(net: nn.Module, step: int):
        g = runner.keyed_generator(cfg.seed, "batch", speed, step, run.rank)
        rows = torch.randint(0, len(train_data), (per_rank,), generator=g)
        frames = as_frames(train_data[rows], run.device)
        target = frames[:, INPUT_FRAMES:]
        mask = teacher_mask(cfg, step, per_rank, run.rank).to(run.device)
        teacher = (target[:, :-1], mask)
        prediction = net(frames[:, :INPUT_FRAMES], PREDICTED_FRAMES, teacher, reading)
        return (loss_fn(name, prediction, frames[:, 1:] if reading else target, cfg.loss),)

    def validate_model(step: int) -> list[float]:
        with run.autocast():
            metrics = evaluate(model_predictor(model), val_data, run.device)
        mse = float(np.mean(metrics["mse"]))
        scheduler.step(mse)
        return [mse, optimizer.param_groups[0]["lr"]]

    progress = runner.train(
        model, optimizer, batch_loss, run, steps=cfg.steps, clip=cfg.clip,
        checkpoint=run.out / "checkpoints" / f"speed{speed}-{name}.pt",
        checkpoint_every=cfg.checkpoint_every, scheduler=scheduler, evaluate=validate_model,
        eval_every=cfg.eval_every, desc=f"speed {speed} {name}",
    )  # fmt: skip
    return model, hidden, progress


def summary(name: str, speed: int, metrics: dict, **extra) -> dict:
    return {
        "model": name,
        "speed": speed,
        **extra,
        **{f"test_{k}": float(np.mean(v)) for k, v in metrics.items()},
    }


def run_experiment(cfg: Config, run: runner.Run) -> list[dict]:
    results, curves, strips = [], {}, {}
    for speed in cfg.speeds:
        test_data = load_split(cfg, run.out, "test", cfg.test_sequences, speed)
        strips[speed] = {"input": as_frames(test_data[:1])[0, :, 0].numpy()}
        if run.main:
            for name in REFERENCES:
                metrics = evaluate(reference_predictor(name), test_data, run.device)
                metrics.pop("first_prediction")
                curves[f"{name} (speed {speed})"] = metrics
                results.append(summary(name, speed, metrics, hidden=0, params=0))
        for name in cfg.models:
            model, hidden, progress = train(name, speed, cfg, run)
            if not run.main:
                continue
            with run.autocast():
                metrics = evaluate(model_predictor(model), test_data, run.device)
            strips[speed][name] = metrics.pop("first_prediction").numpy()
            curves[f"{name} (speed {speed})"] = metrics
            history = progress.history
            results.append(
                summary(
                    name, speed, metrics, hidden=hidden, params=count_parameters(model),
                    final_train_loss=float(np.mean([h[1] for h in history[-20:]])),
                    steps=len(history), seconds_per_step=progress.seconds / max(1, len(history)),
                    history=history, curve=progress.curve,
                )
            )  # fmt: skip
    if run.main:
        write_outputs(run.out, cfg, results, curves, strips)
    return results


# -- outputs -------------------------------------------------------------------------------


def table_rows(rows: list[dict], size: int) -> tuple[list[str], list[list[str]]]:
    """The markdown table of ``table.json`` rows (also rendered into the docs)."""
    header = ["model", "speed", "hidden", "params", f"MSE/frame (x{size * size}: sum)",
              "/ blank", "MAE", "PSNR", "SSIM", "BCE", "s/step"]  # fmt: skip
    blank = {r["speed"]: r["test_mse"] for r in rows if r["model"] == "blank_frame"}
    body = []
    for r in rows:
        ratio = r["test_mse"] / blank[r["speed"]] if r["speed"] in blank else float("nan")
        step = f"{r['seconds_per_step']:.2f}" if "seconds_per_step" in r else "-"
        body.append([r["model"], f"{r['speed']}x", str(r["hidden"] or "-"),
                     f"{r['params']:,}" if r["params"] else "-",
                     f"{r['test_mse']:.4f} ({r['test_mse'] * size * size:.1f})", f"{ratio:.3f}",
                     f"{r['test_mae']:.4f}", f"{r['test_psnr']:.2f}", f"{r['test_ssim']:.3f}",
                     f"{r['test_bce']:.4f}", step])  # fmt: skip
    return header, body


def write_outputs(out: Path, cfg: Config, results: list[dict], curves: dict, strips: dict):
    rows = [{k: v for k, v in r.items() if k not in ("history", "curve")} for r in results]
    runner.write_json(out / "table.json", rows)
    runner.write_json(out / "frame_metrics.json", curves)
    trained = [r for r in results if "history" in r]
    runner.write_json(
        out / "curves.json",
        [{"model": r["model"], "speed": r["speed"], "curve": r["curve"]} for r in trained],
    )
    runner.write_csv(
        out / "metrics.csv",
        ["model", "speed", "step", "loss"],
        [[r["model"], r["speed"], s, f"{v:.6g}"] for r in trained for s, v in r["history"]],
    )
    table = runner.markdown_table(*table_rows(rows, cfg.size))
    runner.write_text(out / "table.md", table)
    print(table)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for label, metrics in curves.items():
        for ax, key in zip(axes, ("mse", "psnr", "ssim"), strict=True):
            style = "--" if label.split()[0] in REFERENCES else "-"
            ax.plot(range(1, PREDICTED_FRAMES + 1), metrics[key], style, marker=".", label=label)
    for ax, key in zip(axes, ("MSE per pixel", "PSNR (dB)", "SSIM"), strict=True):
        ax.set_xlabel("predicted frame")
        ax.set_title(key)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    runner.save_figure(fig, out / "frame_metrics.png", dpi=90)
    for speed, strip in strips.items():
        plot_strip(out / f"strip_speed{speed}.png", strip)


def plot_strip(path: Path, strip: dict[str, np.ndarray]) -> None:
    """Input frames, true future, and each model's prediction of the first test clip."""
    names = [n for n in strip if n != "input"]
    clip = strip["input"]
    rows = [("input", clip[:INPUT_FRAMES]), ("truth", clip[INPUT_FRAMES:])]
    rows += [(n, strip[n]) for n in names]
    fig, axes = plt.subplots(len(rows), PREDICTED_FRAMES, figsize=(9, len(rows) * 0.95),
                             squeeze=False)  # fmt: skip
    for row, (label, frames) in enumerate(rows):
        for col in range(PREDICTED_FRAMES):
            axes[row, col].imshow(frames[col], cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", fontsize=7)
    runner.hide_ticks(axes)
    fig.tight_layout(pad=0.1)
    runner.save_figure(fig, path, dpi=80)


# -- command line --------------------------------------------------------------------------


def parse(argv: list[str] | None):
    return runner.parse_config(Config, PRESETS, argv, __doc__.splitlines()[0], "cpu", validate)


def main(argv: list[str] | None = None) -> list[dict]:
    cfg, args = parse(argv)
    with runner.start(cfg, args, may_change=RESUMABLE) as run:
        if run.main:  # build the cached datasets once, before any rank reads them
            for speed in cfg.speeds:
                for split, n in (("train", cfg.train_sequences), ("val", cfg.val_sequences),
                                 ("test", cfg.test_sequences)):  # fmt: skip
                    load_split(cfg, run.out, split, n, speed)
        run.barrier()
        return run_experiment(cfg, run)


if __name__ == "__main__":
    runner.cli(main)
