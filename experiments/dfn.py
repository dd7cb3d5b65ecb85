"""The dynamic filter network as its paper describes it: steerable filters and Moving-MNIST.

    python -m experiments.dfn --preset steerable --out runs/dfn-steerable     # section 4.1
    python -m experiments.dfn --preset paper --out runs/dfn-mnist             # section 4.2
    python -m experiments.dfn --preset smoke --out /tmp/dfn-smoke

De Brabandere et al., "Dynamic Filter Networks" (2016). **Steerable filters**: a small
fully connected network maps an angle to a 9x9 filter, applied to the image by a dynamic
convolution; the target is the image filtered by the first derivative of a Gaussian
steered to that angle. **Moving-MNIST**: a convolutional encoder-decoder with a recurrent
connection generates one softmax 9x9 filter per pixel, applied to the previous frame;
10 frames read, 10 predicted with the model's own predictions fed back; average binary
cross-entropy, batch 16, Adam 1e-3, He initialisation, 20,000 iterations (the layer
sizes and the learning rate halved every 4,000 iterations are the authors' published
code). A ConvLSTM runs under the same protocol. The BCE is also reported in the paper's
units: nats summed over a frame's 4,096 pixels, averaged over the predicted frames.

Writes ``config.json``, ``table.json``/``table.md``, ``curves.json`` (validation loss over
training), figures, and checkpoints that ``--resume`` continues from exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import torch
from torch import nn

from cunitary.camera_motion import load_images
from cunitary.dynamic import dynamic_conv2d, filter_flow, local_filter2d
from cunitary.moving_mnist import (
    build_dataset,
    downsample,
    generate_moving_mnist,
    load_digits,
    split_digits,
)

from . import runner, video
from .runner import count_parameters, option

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TASKS = ("moving-mnist", "steerable")
MODELS = ("dfn", "convlstm")
REFERENCES = ("mean_intensity", "copy_last_frame")
INPUT_FRAMES = PREDICTED_FRAMES = 10
#: The authors clip predictions to float32's epsilon before the BCE.
EPS = float(np.finfo(np.float32).eps)
#: Images of the steerable-filter task: training crops from all but the last, tests from it.
STEERABLE_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "coins")


@dataclass
class Config:
    task: str = option("moving-mnist", "which of the paper's experiments", choices=TASKS)
    models: list[str] = option(list(MODELS), "Moving-MNIST models", choices=MODELS)
    size: int = option(64, "frame / image size", minimum=16)
    kernel: int = option(9, "dynamic filter size (odd)", minimum=1)
    steps: int = option(20_000, "training iterations", minimum=1)
    batch: int = option(16, "batch size", minimum=1)
    lr: float = option(1e-3, "Adam learning rate", minimum=0)
    halve_every: int = option(4000, "iterations between learning-rate halvings (0: never)",
                              minimum=0)  # fmt: skip
    convlstm_hidden: int = option(32, "ConvLSTM channels per layer (3 layers)", minimum=1)
    sigma: float = option(1.0, "steerable task: the Gaussian's standard deviation", minimum=0)
    val_sequences: int = option(64, "validation clips / images (the curve)", minimum=1)
    test_sequences: int = option(500, "test clips / images", minimum=1)
    eval_every: int = option(250, "iterations between validation evaluations", minimum=1)
    checkpoint_every: int = option(100, "iterations between checkpoints", minimum=1)
    seed: int = option(0, "seed of the weights and the data", minimum=0)


RESUMABLE = ("steps", "models", "checkpoint_every")

PRESETS: dict[str, dict] = {
    "paper": {},
    # The authors' steerable-filter script: batch 64, 50 epochs of 100 batches, the rate
    # halved every 10 epochs, squared error.
    "steerable": {
        "task": "steerable",
        "steps": 5000,
        "batch": 64,
        "halve_every": 1000,
        "val_sequences": 256,
        "test_sequences": 1024,
    },  # fmt: skip
    "smoke": {
        "size": 32,
        "kernel": 5,
        "steps": 3,
        "batch": 2,
        "halve_every": 2,
        "convlstm_hidden": 4,
        "val_sequences": 2,
        "test_sequences": 2,
        "eval_every": 2,
        "checkpoint_every": 2,
    },  # fmt: skip
}


def validate(cfg: Config) -> None:
    if cfg.kernel % 2 == 0:
        raise runner.RunError(f"--kernel must be odd, got {cfg.kernel}")
    if cfg.task == "steerable":
        # The target filter is sampled on the kernel's integer grid: a Gaussian much
        # narrower than a pixel leaves nothing there, and every relative error divides
        # by it (the run would train, then fail before writing its results).
        angles = torch.linspace(0, 2 * math.pi, 17, dtype=torch.float64)[:-1]
        peaks = steerable_kernel(angles, cfg.kernel, cfg.sigma).abs().amax((1, 2))
        if not cfg.sigma > 0 or not torch.isfinite(peaks).all() or peaks.min() < 1e-6:
            raise runner.RunError(
                f"--sigma {cfg.sigma} gives a steerable filter that vanishes on the "
                f"{cfg.kernel}x{cfg.kernel} grid; use a width of at least a quarter pixel "
                "(the paper's is 1)"
            )
    if cfg.task == "moving-mnist" and cfg.size not in (32, 64):
        raise runner.RunError(f"Moving-MNIST frames are 32 or 64 pixels, got --size {cfg.size}")


def he_uniform_(module: nn.Module) -> None:
    """Weights uniform in ``±sqrt(3 / fan_in)`` (He et al. with gain 1, the Lasagne default the
    authors used), biases zero."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, nonlinearity="linear")
            nn.init.zeros_(layer.bias)


# -- Moving-MNIST --------------------------------------------------------------------------


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


class DynamicFilterVideoNet(nn.Module):
    r"""The dynamic filter network for video prediction (De Brabandere et al. 2016, Table 1).

    .. math::
        e_t = E(x_t),\qquad h_t = e_t + \phi(R_2 \star \phi(R_1 \star h_{t-1})),\qquad
        F_t = \operatorname{softmax}_{\text{taps}} D(h_t),\qquad
        \hat x_{t+1} = F_t \circledast x_t

    :math:`E`: 3x3 convolutions of 32, 32 (stride 2), 64, 64 and 128 channels;
    :math:`R_{1,2}`: 3x3, 128 channels; :math:`D`: 3x3 convolutions of 64, 64, a 2x nearest
    upsampling, 64, 64, then 1x1 convolutions to 128 and to :math:`k^2` taps; :math:`\phi`
    leaky ReLU (slope 0.01) after every convolution but the last; :math:`\circledast` the
    per-pixel filtering of :func:`cunitary.dynamic.local_filter2d`. The state lives at half
    resolution. 637,361 parameters for 9x9 filters, the paper's count.
    """

    def __init__(self, kernel: int = 9) -> None:
        super().__init__()
        act = nn.LeakyReLU(0.01)
        self.kernel = kernel
        self.encoder = nn.Sequential(_conv(1, 32), act, _conv(32, 32, stride=2), act,
                                     _conv(32, 64), act, _conv(64, 64), act, _conv(64, 128),
                                     act)  # fmt: skip
        self.recurrent = nn.Sequential(_conv(128, 128), act, _conv(128, 128), act)
        self.decoder = nn.Sequential(_conv(128, 64), act, _conv(64, 64), act,
                                     nn.Upsample(scale_factor=2, mode="nearest"),
                                     _conv(64, 64), act, _conv(64, 64), act, _conv(64, 128, 1),
                                     act, _conv(128, kernel**2, 1))  # fmt: skip
        he_uniform_(self)

    def step(self, frame: torch.Tensor, hidden: torch.Tensor | None):
        """``frame (B, 1, H, W)`` -> next frame, new state, the filters ``(B, k*k, H, W)``."""
        encoded = self.encoder(frame)
        hidden = encoded if hidden is None else encoded + self.recurrent(hidden)
        filters = torch.softmax(self.decoder(hidden), dim=1)
        return local_filter2d(frame, filters), hidden, filters

    def forward(self, frames: torch.Tensor, future: int, return_filters: bool = False):
        """Read ``frames (B, T, 1, H, W)``, predict ``future`` frames from its own output."""
        hidden, outputs, filters = None, [], []
        frame = None
        for t in range(frames.shape[1] + future - 1):
            frame = frames[:, t] if t < frames.shape[1] else frame
            frame, hidden, generated = self.step(frame, hidden)
            if t >= frames.shape[1] - 1:
                outputs.append(frame)
                filters.append(generated)
        predictions = torch.stack(outputs, 1)
        return (predictions, torch.stack(filters, 1)) if return_filters else predictions


class ConvLSTMPredictor(nn.Module):
    """The ConvLSTM baseline under the same protocol: the video experiment's 3-layer stack
    with a sigmoid head, predictions fed back (no teacher forcing)."""

    def __init__(self, hidden: int, size: int) -> None:
        super().__init__()
        cfg = video.Config(size=size, hidden=hidden, head="sigmoid")
        self.net = video.VideoPredictor("convlstm3", hidden, cfg)

    def forward(self, frames: torch.Tensor, future: int) -> torch.Tensor:
        return self.net(frames, future)


def build_model(name: str, cfg: Config) -> nn.Module:
    if name == "dfn":
        return DynamicFilterVideoNet(cfg.kernel)
    return ConvLSTMPredictor(cfg.convlstm_hidden, cfg.size)


def bce(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy per pixel (nats), predictions clipped like the authors'."""
    p = prediction.float().clamp(EPS, 1 - EPS)
    return nn.functional.binary_cross_entropy(p, target)


def training_batch(digits: np.ndarray, cfg: Config, step: int) -> torch.Tensor:
    """Fresh clips for iteration ``step`` (on the fly, as the paper; keyed, so resumable)."""
    seed = runner.keyed_generator(cfg.seed, "clips", step).initial_seed()
    clips = generate_moving_mnist(digits, cfg.batch, 20, 64, seed=seed)
    if cfg.size == 32:
        clips = downsample(clips)
    return torch.from_numpy(clips).float().div(255).unsqueeze(2)


@torch.no_grad()
def evaluate_video(predict, data: torch.Tensor, batch: int = 16) -> dict[str, list[float]]:
    """Per predicted frame: BCE (nats per pixel) and MSE, means over the clips."""
    totals = torch.zeros(2, PREDICTED_FRAMES, dtype=torch.float64)
    for lo in range(0, len(data), batch):
        frames = data[lo : lo + batch].float().div(255).unsqueeze(2)
        target = frames[:, INPUT_FRAMES:]
        p = predict(frames[:, :INPUT_FRAMES]).float().cpu()
        pc = p.clamp(EPS, 1 - EPS)
        per_bce = -(target * pc.log() + (1 - target) * (1 - pc).log())
        totals[0] += per_bce.mean((2, 3, 4)).sum(0).double()
        totals[1] += (p.clamp(0, 1) - target).pow(2).mean((2, 3, 4)).sum(0).double()
    totals /= len(data)
    return {"bce": totals[0].tolist(), "mse": totals[1].tolist()}


def reference_predictor(name: str, mean: float):
    if name == "mean_intensity":
        return lambda inputs: torch.full_like(inputs, mean)
    return lambda inputs: inputs[:, -1:].expand(-1, PREDICTED_FRAMES, -1, -1, -1)


def train_video(name: str, cfg: Config, run: runner.Run, digits: np.ndarray, val: torch.Tensor):
    torch.manual_seed(cfg.seed)
    model = build_model(name, cfg).to(run.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def batch_loss(net: nn.Module, step: int):
        set_learning_rate(optimizer, cfg, step)
        frames = ranks_share(training_batch(digits, cfg, step), run).to(run.device)
        prediction = net(frames[:, :INPUT_FRAMES], PREDICTED_FRAMES)
        return (bce(prediction, frames[:, INPUT_FRAMES:]),)

    def validate_model(step: int) -> list[float]:
        model.eval()
        try:
            metrics = evaluate_video(lambda x: model(x.to(run.device), PREDICTED_FRAMES), val)
        finally:
            model.train()
        return [float(np.mean(metrics["bce"])), optimizer.param_groups[0]["lr"]]

    progress = runner.train(
        model, optimizer, batch_loss, run, steps=cfg.steps,
        checkpoint=run.out / "checkpoints" / f"{name}.pt", checkpoint_every=cfg.checkpoint_every,
        evaluate=validate_model, eval_every=cfg.eval_every, desc=f"moving-mnist {name}",
    )  # fmt: skip
    return model, progress


def ranks_share(batch: torch.Tensor, run: runner.Run) -> torch.Tensor:
    """This rank's rows of the global batch: under DDP the ranks split the same clips a single
    process would train on."""
    per_rank = max(1, len(batch) // run.world)
    return batch[run.rank * per_rank : (run.rank + 1) * per_rank]


def set_learning_rate(optimizer: torch.optim.Optimizer, cfg: Config, step: int) -> None:
    """The rate halved every ``halve_every`` iterations (a function of the step: resumes)."""
    halvings = step // cfg.halve_every if cfg.halve_every else 0
    for group in optimizer.param_groups:
        group["lr"] = cfg.lr * 0.5**halvings


def video_split(cfg: Config, out: Path, split: str) -> torch.Tensor:
    n = cfg.val_sequences if split == "val" else cfg.test_sequences
    path = out / "data" / f"{split}_n{n}_size{cfg.size}.npz"
    return torch.from_numpy(build_dataset(path, n, split, size=cfg.size, seed=cfg.seed))


def run_moving_mnist(cfg: Config, run: runner.Run) -> list[dict]:
    digits, _ = split_digits(load_digits()[0])
    if run.main:  # build the cached clips once, before any rank reads them
        for split in ("val", "test"):
            video_split(cfg, run.out, split)
    run.barrier()
    val, test = video_split(cfg, run.out, "val"), video_split(cfg, run.out, "test")
    pixels = cfg.size * cfg.size
    mean = float(training_batch(digits, cfg, -1).mean())
    rows, curves, strips = [], {}, {"input": test[0].float().div(255).numpy()}
    for name in REFERENCES if run.main else ():
        metrics = evaluate_video(reference_predictor(name, mean), test)
        rows.append({"model": name, "params": 0, **summary(metrics, pixels)})
    flows = None
    for name in cfg.models:
        model, progress = train_video(name, cfg, run, digits, val)
        if not run.main:
            continue
        model.eval()
        with torch.no_grad():
            metrics = evaluate_video(lambda x, m=model: m(x.to(run.device), PREDICTED_FRAMES),
                                     test)  # fmt: skip
            first = test[:1].float().div(255).unsqueeze(2).to(run.device)
            if name == "dfn":
                strip, filters = model(first[:, :INPUT_FRAMES], PREDICTED_FRAMES, True)
                # each filter acts on the last true frame, then on the previous prediction
                previous = torch.cat([first[0, INPUT_FRAMES - 1 : INPUT_FRAMES], strip[0, :-1]])
                flows = (previous[:, 0].cpu(), strip[0, :, 0].cpu(),
                         filter_flow(filters[0].float()).cpu())  # fmt: skip
            else:
                strip = model(first[:, :INPUT_FRAMES], PREDICTED_FRAMES)
        strips[name] = strip[0, :, 0].cpu().numpy()
        curves[name] = progress.curve
        history = progress.history
        rows.append({
            "model": name, "params": count_parameters(model), **summary(metrics, pixels),
            "steps": len(history), "seconds_per_step": progress.seconds / max(1, len(history)),
            "final_train_loss": float(np.mean([h[1] for h in history[-20:]])),
        })  # fmt: skip
    if run.main:
        write_moving_mnist(run.out, cfg, rows, curves, strips, flows)
    return rows


def summary(metrics: dict[str, list[float]], pixels: int) -> dict:
    return {"test_bce": float(np.mean(metrics["bce"])),
            "test_bce_per_frame_sum": float(np.mean(metrics["bce"])) * pixels,
            "test_mse": float(np.mean(metrics["mse"])), "bce_by_frame": metrics["bce"]}  # fmt: skip


def video_table(rows: list[dict], size: int) -> tuple[list[str], list[list[str]]]:
    frame_sum = f"BCE / frame (sum over {size * size} px)"
    header = ["model", "params", "iterations", "BCE / pixel", frame_sum, "MSE / pixel",
              "s / iteration"]  # fmt: skip
    body = [[r["model"], f"{r['params']:,}" if r["params"] else "-",
             f"{r['steps']:,}" if "steps" in r else "-", f"{r['test_bce']:.4f}",
             f"{r['test_bce_per_frame_sum']:.1f}", f"{r['test_mse']:.4f}",
             f"{r['seconds_per_step']:.1f}" if "seconds_per_step" in r else "-"]
            for r in rows]  # fmt: skip
    return header, body


def flow_to_rgb(flow: np.ndarray, scale: float | None = None) -> np.ndarray:
    """``(2, H, W)`` offsets as colours: hue the direction, brightness the length."""
    u, v = flow
    length = np.hypot(u, v)
    scale = scale or max(float(length.max()), 1e-6)
    hsv = np.stack([(np.arctan2(v, u) / (2 * math.pi)) % 1.0, np.ones_like(u),
                    np.clip(length / scale, 0, 1)], -1)  # fmt: skip
    return matplotlib.colors.hsv_to_rgb(hsv)


def write_moving_mnist(out: Path, cfg, rows, curves, strips, flows) -> None:
    runner.write_json(out / "table.json", rows)
    runner.write_json(out / "curves.json", curves)
    table = runner.markdown_table(*video_table(rows, cfg.size))
    runner.write_text(out / "table.md", table)
    print(table)
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, curve in curves.items():
        steps = [c[0] for c in curve]
        ax.plot(steps, [c[1] * cfg.size**2 for c in curve], marker=".", label=name)
    top = max((c[1] * cfg.size**2 for curve in curves.values() for c in curve), default=0.0)
    for r in rows:  # a reference far above the curves would flatten them: named, not drawn
        value = r["test_bce_per_frame_sum"]
        if "steps" not in r and (not top or value < 1.5 * top):
            ax.axhline(value, ls="--", lw=0.8, color="grey")
            ax.text(1.0, value, r["model"], transform=ax.get_yaxis_transform(), fontsize=7,
                    ha="right", va="bottom")  # fmt: skip
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"validation BCE / frame (nats, {cfg.size**2} px)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    runner.save_figure(fig, out / "curves.png", dpi=90)
    video.plot_strip(out / "strip.png", strips)
    if flows is not None:
        previous, predicted, flow = (t.numpy() for t in flows)
        truth = strips["input"][INPUT_FRAMES:]
        n = 5
        fig, axes = plt.subplots(4, n, figsize=(n * 1.3, 4 * 1.35))
        scale = float(np.hypot(*flow[:n].transpose(1, 0, 2, 3)).max()) or 1.0
        for j in range(n):
            images = (previous[j], flow_to_rgb(flow[j], scale), predicted[j], truth[j])
            for i, image in enumerate(images):
                axes[i, j].imshow(image, cmap="gray", vmin=0, vmax=1)
        runner.hide_ticks(axes)
        for i, label in enumerate(("input t", "filters", "prediction", "truth t+1")):
            axes[i, 0].set_ylabel(label, fontsize=7)
        fig.tight_layout(pad=0.1)
        runner.save_figure(fig, out / "filter_flow.png", dpi=90)


# -- steerable filters ---------------------------------------------------------------------


def steerable_kernel(theta: torch.Tensor, size: int = 9, sigma: float = 1.0) -> torch.Tensor:
    r"""First derivative of a Gaussian steered to ``theta``: ``(B, size, size)``.

    .. math::
        K_\theta(y, x) = \frac{x\cos\theta + y\sin\theta}{\sigma}
                         \exp\Bigl(-\frac{x^2 + y^2}{2\sigma^2}\Bigr)
    """
    r = torch.arange(size, dtype=torch.float64) - size // 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    gauss = torch.exp(-(x**2 + y**2) / (2 * sigma**2)) / sigma
    theta = theta.double()[:, None, None]
    return (x * torch.cos(theta) + y * torch.sin(theta)) * gauss


def steered(images: torch.Tensor, theta: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """``images (B, 1, H, W)`` convolved (zero padding) with :func:`steerable_kernel`."""
    kernel = steerable_kernel(theta, 9, sigma).flip(-1, -2)  # convolution, not correlation
    return dynamic_conv2d(images.double(), kernel[:, None, None]).to(images.dtype)


def steerable_batch(images: list[np.ndarray], n: int, size: int, key: tuple, sigma: float):
    """``n`` random crops, angles in ``[0, 2 pi)`` and targets, from a keyed generator."""
    g = runner.keyed_generator(*key)
    crops = []
    for which in torch.randint(0, len(images), (n,), generator=g).tolist():
        image = images[which]
        top = int(torch.randint(0, image.shape[0] - size + 1, (1,), generator=g))
        left = int(torch.randint(0, image.shape[1] - size + 1, (1,), generator=g))
        crops.append(torch.from_numpy(image[top : top + size, left : left + size]))
    x = torch.stack(crops)[:, None].float()
    theta = torch.rand(n, generator=g, dtype=torch.float64) * 2 * math.pi
    return x, theta, steered(x, theta, sigma)


class SteerableFilterNet(nn.Module):
    """Angle -> 9x9 filter (fully connected 64, 128, leaky ReLU, 81 taps) -> dynamic conv."""

    def __init__(self, kernel: int = 9) -> None:
        super().__init__()
        self.kernel = kernel
        act = nn.LeakyReLU(0.01)
        self.generator = nn.Sequential(nn.Linear(1, 64), act, nn.Linear(64, 128), act,
                                       nn.Linear(128, kernel**2))  # fmt: skip

    def filters(self, theta: torch.Tensor) -> torch.Tensor:
        weight = self.generator(theta.float()[:, None])
        return weight.view(-1, 1, 1, self.kernel, self.kernel)

    def forward(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        return dynamic_conv2d(x, self.filters(theta))


def run_steerable(cfg: Config, run: runner.Run) -> list[dict]:
    images = load_images(STEERABLE_IMAGES)
    train_images, test_images = images[:-1], images[-1:]
    val = steerable_batch(test_images, cfg.val_sequences, cfg.size, (cfg.seed, "val"), cfg.sigma)
    test = steerable_batch(test_images, cfg.test_sequences, cfg.size, (cfg.seed, "test"),
                           cfg.sigma)  # fmt: skip
    torch.manual_seed(cfg.seed)
    model = SteerableFilterNet(cfg.kernel).to(run.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def mse(data) -> float:
        x, theta, target = (t.to(run.device) for t in data)
        with torch.no_grad():
            return float(nn.functional.mse_loss(model(x, theta), target))

    def batch_loss(net: nn.Module, step: int):
        set_learning_rate(optimizer, cfg, step)
        batch = steerable_batch(train_images, cfg.batch, cfg.size, (cfg.seed, "train", step),
                                cfg.sigma)  # fmt: skip
        x, theta, target = (ranks_share(t, run) for t in batch)
        return (nn.functional.mse_loss(net(x.to(run.device), theta.to(run.device)),
                                       target.to(run.device)),)  # fmt: skip

    progress = runner.train(
        model, optimizer, batch_loss, run, steps=cfg.steps,
        checkpoint=run.out / "checkpoints" / "steerable.pt", checkpoint_every=cfg.checkpoint_every,
        evaluate=lambda step: [mse(val)], eval_every=cfg.eval_every, desc="steerable",
    )  # fmt: skip
    if not run.main:
        return []
    angles = torch.linspace(0, 2 * math.pi, 17, dtype=torch.float64)[:-1]
    with torch.no_grad():
        learned = model.filters(angles.to(run.device))[:, 0, 0].double().cpu()
    # The dynamic convolution correlates, so the learned filter should be the flipped kernel.
    truth = steerable_kernel(angles, cfg.kernel, cfg.sigma).flip(-1, -2)
    error = ((learned - truth).norm(dim=(1, 2)) / truth.norm(dim=(1, 2))).tolist()
    zero = float(test[2].pow(2).mean())
    row = {"model": "steerable", "params": count_parameters(model), "steps": len(progress.history),
           "test_mse": mse(test), "zero_output_mse": zero, "relative_mse": mse(test) / zero,
           "filter_relative_error_mean": float(np.mean(error)),
           "filter_relative_error_max": float(np.max(error)), "angles": angles.tolist(),
           "filter_relative_error": error,
           "seconds_per_step": progress.seconds / max(1, len(progress.history))}  # fmt: skip
    runner.write_json(run.out / "table.json", [row])
    runner.write_json(run.out / "curves.json", {"steerable": progress.curve})
    table = runner.markdown_table(*steerable_table([row]))
    runner.write_text(run.out / "table.md", table)
    print(table)
    plot_steerable(run.out / "steerable_filters.png", angles, learned, truth, test, model, run)
    return [row]


def steerable_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    header = ["iterations", "params", "test MSE", "zero output MSE", "/ zero",
              "filter error (mean / max over 16 angles)"]  # fmt: skip
    body = [[f"{r['steps']:,}", f"{r['params']:,}", f"{r['test_mse']:.2e}",
             f"{r['zero_output_mse']:.2e}", f"{r['relative_mse']:.4f}",
             f"{r['filter_relative_error_mean']:.3f} / {r['filter_relative_error_max']:.3f}"]
            for r in rows]  # fmt: skip
    return header, body


def plot_steerable(path: Path, angles, learned, truth, test, model, run) -> None:
    picks = range(0, len(angles), 2)
    fig, axes = plt.subplots(2, len(picks) + 2, figsize=((len(picks) + 2) * 1.1, 2.6))
    limit = float(truth.abs().max())
    for col, i in enumerate(picks):
        for row, f in enumerate((truth[i], learned[i])):
            axes[row, col].imshow(f.numpy(), cmap="RdBu", vmin=-limit, vmax=limit)
        axes[0, col].set_title(f"{math.degrees(float(angles[i])):.0f}°", fontsize=7)
    x, theta, target = test
    with torch.no_grad():
        output = model(x[:1].to(run.device), theta[:1].to(run.device)).cpu()
    axes[0, -2].imshow(x[0, 0].numpy(), cmap="gray")
    axes[0, -2].set_title("input", fontsize=7)
    axes[0, -1].imshow(target[0, 0].numpy(), cmap="gray")
    axes[0, -1].set_title("target", fontsize=7)
    axes[1, -1].imshow(output[0, 0].numpy(), cmap="gray")
    axes[1, -1].set_title("output", fontsize=7)
    axes[1, -2].axis("off")
    axes[0, 0].set_ylabel("true", fontsize=7)
    axes[1, 0].set_ylabel("learned", fontsize=7)
    runner.hide_ticks(axes)
    fig.tight_layout(pad=0.1)
    runner.save_figure(fig, path, dpi=90)


# -- command line --------------------------------------------------------------------------


def parse(argv: list[str] | None):
    return runner.parse_config(Config, PRESETS, argv, __doc__.splitlines()[0], "paper", validate)


def main(argv: list[str] | None = None) -> list[dict]:
    cfg, args = parse(argv)
    with runner.start(cfg, args, may_change=RESUMABLE) as run:
        return run_steerable(cfg, run) if cfg.task == "steerable" else run_moving_mnist(cfg, run)


if __name__ == "__main__":
    runner.cli(main)
