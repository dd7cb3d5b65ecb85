r"""Recurrent video denoisers trained on camera-motion clips, then run for thousands of frames.

    python -m experiments.stability camera --out runs/denoising               # Table 2, reduced
    python -m experiments.stability camera --models vresnet-feature-srnc1_0.1 \
        --out runs/denoising-cures
    python -m experiments.stability camera --preset smoke --out runs/denoising-smoke

Tanay et al.'s protocol, small. Each model is trained on 7-frame clips of natural images
under synthetic camera motion (:mod:`cunitary.camera_motion`, Gaussian noise
:math:`\sigma = 30/255`; every clip keyed by its index, so a resumed run sees the same
batches) with the mean squared error over all frames, then measured by

* **PSNR** of the 7th frame on held-out clips (and of the noisy input);
* **instability onsets** on long sequences (``--long-frames`` each): a camera moving
  (``moving``: pan and rotation), a **static** scene (one image, no motion: the study's
  App. H, the most unstable case) and a moving camera with a **scene cut** every 100
  frames. Whenever a frame's PSNR drops below 0 dB the recurrent state is reset and the
  frames since the last reset are one onset
  (:func:`cunitary.stability.instability_onset`); the 1st and 9th deciles over all onsets
  are the study's Table 2 numbers;
* the **temporal receptive field** (:func:`cunitary.stability.temporal_receptive_field`):
  bounded, reaching far, or diverging;
* the spectral norm of every conv layer as an operator on ``size x size`` frames.

A model is named ``<backbone>-<recurrence>[-<cure>...]`` (backbones and recurrences of
:mod:`experiments.stability.backbones`), cures: ``srn<alpha>_<beta>`` (Algorithm 1 on every conv),
``srnc<alpha>_<beta>`` (SRN-C, Algorithm 2), ``damp<lambda>`` (feature dampening, App. F).
``--init``: PyTorch's default conv initialisation (the default) or He's; a He-initialised
VResNet with feature recurrence starts with a loss of order 10^3-10^4 on 7-frame clips and
was still near 3,000 after 360 steps, so the default is PyTorch's.
Each model writes ``models/<name>.json``; ``table.json``/``table.md`` hold every model of
the run; ``--resume`` skips a model measured already after as many steps and with the same
measurement options. Models train one after another; run several ``--out`` folders side by
side.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from cunitary import camera_motion
from cunitary.parametrizations import srn, srn_c
from cunitary.stability import (
    conv_singular_values,
    conv_spectral_norm,
    instability_onset,
    temporal_receptive_field,
)

from .. import runner
from ..runner import count_parameters, option
from .backbones import BACKBONES, INITS, RECURRENCES, Denoiser
from .small import psnr

#: Long test sequences: name -> (motion, frames between scene cuts; 0: none). The uncut
#: moving camera pans and turns but does not zoom: a zoom rate compounds over thousands of
#: frames ((1 +- 0.005)^2000 is 2e4 or 5e-5) until the window sees a flat patch or a tiny
#: tiled image, which any denoiser handles.
SEQUENCES = {
    "moving": (camera_motion.Motion(pan=2.0, rotation=0.005), 0),
    "static": ("static", 0),
    "cuts": ("mixed", 100),
}
#: Camera motions of the training clips (``--train-motions``), one per clip in turn.
TRAIN_MOTIONS = ("mixed", "pan", "zoom", "rotate", "static")
_CURE = re.compile(r"^(srnc|srn)(\d+(?:\.\d+)?)_(\d+(?:\.\d+)?)$|^damp(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class ModelSpec:
    backbone: str
    recurrence: str
    constraint: str = ""  # "", "srn" or "srnc"
    alpha: float = 1.0
    beta: float = 1.0
    dampening: float = 1.0


def parse_model(name: str) -> ModelSpec:
    """``vresnet-feature-srnc1_0.1`` -> its :class:`ModelSpec` (``ValueError`` if unknown)."""
    parts = name.split("-")
    if len(parts) < 2 or parts[0] not in BACKBONES or parts[1] not in RECURRENCES:
        raise ValueError(
            f"model must be <backbone>-<recurrence>[-cure...] with backbone in {BACKBONES} "
            f"and recurrence in {RECURRENCES}, got {name!r}"
        )
    fields: dict = {"backbone": parts[0], "recurrence": parts[1]}
    for cure in parts[2:]:
        match = _CURE.match(cure)
        if match is None:
            raise ValueError(
                f"model {name!r}: unknown part {cure!r} (expected srn<a>_<b>, srnc<a>_<b> "
                "or damp<lambda>)"
            )
        if match.group(1):
            if "constraint" in fields:
                raise ValueError(f"model {name!r}: at most one of srn/srnc")
            fields.update(constraint=match.group(1), alpha=float(match.group(2)),
                          beta=float(match.group(3)))  # fmt: skip
            if not (fields["alpha"] > 0 and 0 < fields["beta"] <= 1):
                raise ValueError(f"model {name!r}: need alpha > 0 and beta in (0, 1]")
        else:
            fields["dampening"] = float(match.group(4))
    return ModelSpec(**fields)


@dataclass
class Config:
    models: list[str] = option(
        ["vresnet-single", "vresnet-feature", "vdncnn-feature", "vresnet-frame",
         "vresnet-rotation_gru", "vresnet-rlsp", "vdncnn-rlsp", "vresnet-unitary"],
        "models, <backbone>-<recurrence>[-cure...]",
    )  # fmt: skip
    channels: int = option(16, "channels of every conv layer", minimum=1)
    depth: int = option(10, "VDnCNN conv layers", minimum=2)
    blocks: int = option(5, "VResNet residual blocks", minimum=1)
    init: str = option("torch", "conv initialisation", choices=INITS)
    size: int = option(32, "frame size (training and test)", minimum=8)
    noise: float = option(30 / 255, "Gaussian noise sigma", minimum=0)
    train_motions: list[str] = option(
        list(TRAIN_MOTIONS), "camera motions of the training clips, one per clip in turn",
        choices=tuple(camera_motion.MOTIONS),
    )  # fmt: skip
    clip_frames: int = option(7, "frames per training clip", minimum=1)
    steps: int = option(2000, "training steps per model", minimum=1)
    batch: int = option(8, "clips per step", minimum=1)
    lr: float = option(5e-4, "Adam learning rate", minimum=0)
    test_clips: int = option(32, "held-out clips for the PSNR", minimum=1)
    long_frames: int = option(2000, "frames of each long sequence", minimum=1)
    long_size: int = option(
        0, "frame size of the long sequences (0: --size); fully convolutional models only",
        minimum=0,
    )  # fmt: skip
    trf_frames: int = option(41, "frames of the temporal receptive field (odd)", minimum=3)
    trf_steps: int = option(100, "optimisation steps of the TRF", minimum=1)
    distinct: list[int] = option(
        [],
        "App. H: numbers n of distinct frames in sequences of --long-frames (none: skip)",
        allow_empty=True,
    )
    distinct_repeats: int = option(5, "App. H: sequences per n", minimum=1)
    checkpoint_every: int = option(200, "steps between checkpoints", minimum=1)
    seed: int = option(0, "seed of the weights, the clips and the noise", minimum=0)


#: What --resume may change: more steps, other models, the evaluation's lengths.
RESUMABLE = ("steps", "models", "long_frames", "long_size", "trf_steps", "distinct",
             "distinct_repeats", "checkpoint_every")  # fmt: skip
#: The options a model's measurement depends on that a resumed run may change: a model
#: measured with the same values and as many steps is not measured again.
MEASUREMENT = ("long_frames", "long_size", "trf_steps", "distinct", "distinct_repeats")


def _measurement(cfg: Config) -> dict:
    return {key: getattr(cfg, key) for key in MEASUREMENT}


PRESETS = {
    "default": {},
    "smoke": {"models": ["vresnet-feature", "vdncnn-single-srnc1_0.5", "vresnet-rlsp-damp0.5"],
              "channels": 4, "depth": 3, "blocks": 1, "size": 16, "clip_frames": 3, "steps": 3,
              "batch": 2, "test_clips": 2, "long_frames": 30, "trf_frames": 5, "trf_steps": 2,
              "checkpoint_every": 2, "distinct": [1, 30], "distinct_repeats": 1},
}  # fmt: skip


def validate(cfg: Config) -> None:
    for name in cfg.models:
        try:
            parse_model(name)
        except ValueError as error:
            raise runner.RunError(f"--models: {error}") from None
    if cfg.trf_frames % 2 == 0:
        raise runner.RunError(f"--trf-frames must be odd, got {cfg.trf_frames}")
    sized = [m for m in cfg.models if parse_model(m).recurrence in ("unitary", "rotation_gru")]
    if cfg.long_size not in (0, cfg.size) and sized:
        raise runner.RunError(
            f"--long-size {cfg.long_size}: {sized} hold operators built for --size {cfg.size}"
        )
    for n in cfg.distinct:
        if not 1 <= n <= cfg.long_frames:
            raise runner.RunError(f"--distinct: each n must lie in [1, --long-frames], got {n}")


def build(name: str, cfg: Config) -> Denoiser:
    spec = parse_model(name)
    torch.manual_seed(cfg.seed)
    model = Denoiser(spec.backbone, spec.recurrence, cfg.channels, cfg.size, cfg.depth,
                     cfg.blocks, init=cfg.init, dampening=spec.dampening)  # fmt: skip
    for conv in model.backbone.modules():
        if not isinstance(conv, nn.Conv2d):
            continue
        if spec.constraint == "srnc":
            srn_c(conv, spec.alpha, spec.beta, input_size=cfg.size)
        elif spec.constraint == "srn":
            srn(conv, spec.alpha, spec.beta)
    return model


def clips(cfg: Config, images: list[np.ndarray], indices, stream: int):
    """``(clean, noisy)`` clips ``(N, clip_frames, 1, size, size)`` of one keyed stream."""
    seed = cfg.seed * 10 + stream
    motions = cfg.train_motions
    clean = np.stack([
        camera_motion.camera_clip(images, int(i), cfg.clip_frames, cfg.size,
                                  motions[int(i) % len(motions)], seed=seed)
        for i in indices
    ])  # fmt: skip
    dirty = np.stack([camera_motion.add_noise(c, cfg.noise, int(i), seed)
                      for c, i in zip(clean, indices, strict=True)])  # fmt: skip
    return torch.from_numpy(clean)[:, :, None], torch.from_numpy(dirty)[:, :, None]


def _long_size(cfg: Config) -> int:
    return cfg.long_size or cfg.size


def _frames(array: np.ndarray) -> torch.Tensor:
    """``(T, H, W)`` -> ``(T, 1, 1, H, W)``: one clip of batch 1, frame by frame."""
    return torch.from_numpy(array)[:, None, None]


def long_sequence(cfg: Config, images: list[np.ndarray], name: str):
    """``(clean, noisy)`` frames ``(long_frames, 1, 1, size, size)`` of a long sequence."""
    motion, cut = SEQUENCES[name]
    index = list(SEQUENCES).index(name)
    clean = camera_motion.camera_clip(images, index, cfg.long_frames, _long_size(cfg), motion,
                                      cut_every=cut, seed=cfg.seed * 10 + 2)  # fmt: skip
    dirty = camera_motion.add_noise(clean, cfg.noise, index, cfg.seed * 10 + 2)
    return _frames(clean), _frames(dirty)


def distinct_frames_sequence(cfg: Config, images, n: int, repeat: int):
    """App. H: ``long_frames`` frames made of ``n`` distinct still frames (each a window at a
    random place of a random image), each held for ``long_frames / n`` frames in turn:
    ``n = 1`` is one static scene, ``n = long_frames`` a new scene every frame."""
    seed = cfg.seed * 10 + 3
    size = _long_size(cfg)
    stills = [camera_motion.camera_clip(images, repeat * 100_000 + k, 1, size, "static",
                                        seed=seed)[0] for k in range(n)]  # fmt: skip
    hold = np.repeat(np.arange(n), -(-cfg.long_frames // n))[: cfg.long_frames]
    clean = np.stack([stills[k] for k in hold])
    dirty = camera_motion.add_noise(clean, cfg.noise, repeat * 100_000 + n, seed)
    return _frames(clean), _frames(dirty)


def onsets_on(model: Denoiser, clean: torch.Tensor, dirty: torch.Tensor, run: runner.Run):
    """:func:`instability_onset` of ``model`` on one long sequence."""
    with parametrize.cached():
        return instability_onset(
            model.step,
            ((x.to(run.device), y.to(run.device)) for x, y in zip(dirty, clean, strict=True)),
            psnr_floor=0.0,
        )


def singular_value_summary(model: Denoiser, size: int, points: int = 64):
    """The layers' singular values, each layer's sorted spectrum read at ``points`` evenly
    spaced relative ranks and averaged over layers (the circular-convolution spectrum,
    :func:`conv_singular_values`: zero padding changes it only at the borders), and every
    layer's stable rank as a fraction of its rank."""
    spectra, ranks = [], []
    with torch.no_grad(), parametrize.cached():
        for conv in (m for m in model.backbone.modules() if isinstance(m, nn.Conv2d)):
            values = conv_singular_values(conv.weight.detach().double().cpu(), size)
            where = np.linspace(0, len(values) - 1, points).round().astype(int)
            spectra.append(values.numpy()[where])
            ranks.append(round(float((values**2).sum() / values[0] ** 2) / len(values), 5))
    return [round(float(v), 5) for v in np.mean(spectra, 0)], ranks


def train(model: Denoiser, name: str, cfg: Config, images, run: runner.Run) -> runner.Progress:
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def batch_loss(net: nn.Module, step: int):
        clean, dirty = clips(cfg, images, range(step * cfg.batch, (step + 1) * cfg.batch), 0)
        return (nn.functional.mse_loss(net(dirty.to(run.device)), clean.to(run.device)),)

    model.train()
    return runner.train(
        model, optimiser, batch_loss, run, steps=cfg.steps,
        checkpoint=run.out / "checkpoints" / f"{name}.pt",
        checkpoint_every=cfg.checkpoint_every, desc=f"train {name}",
    )  # fmt: skip


def _deciles(onsets: list[int]) -> list[float]:
    """The study's summary of onsets: their 1st and 9th deciles (none without onsets)."""
    return [float(v) for v in np.quantile(onsets, [0.1, 0.9])] if onsets else []


def measure(model: Denoiser, name: str, cfg: Config, images, run: runner.Run, progress) -> dict:
    model.eval()
    clean, dirty = clips(cfg, images, range(cfg.test_clips), 1)
    with torch.no_grad():
        denoised = model(dirty.to(run.device)).cpu()
    result = {
        "model": name,
        "params": count_parameters(model),
        "steps": progress.step,
        "train_seconds": progress.seconds,
        "final_train_loss": float(np.mean([h[1] for h in progress.history[-50:]])),
        "psnr_frame7": psnr(denoised[:, -1], clean[:, -1]),
        "noisy_psnr_frame7": psnr(dirty[:, -1], clean[:, -1]),
        "loss_curve": [[h[0], round(h[1], 7)] for h in progress.history[9::10]],
        "measured_with": _measurement(cfg),
    }
    with torch.no_grad(), parametrize.cached():
        result["spectral_norms"] = [
            round(conv_spectral_norm(conv.weight, cfg.size, iterations=200), 4)
            for conv in model.backbone.modules() if isinstance(conv, nn.Conv2d)
        ]  # fmt: skip
    result["spectrum"], result["stable_ranks"] = singular_value_summary(model, cfg.size)
    sequences = {}
    for sequence in SEQUENCES:
        report = onsets_on(model, *long_sequence(cfg, images, sequence), run)
        finite = [m for m in report.metric if math.isfinite(m)]
        sequences[sequence] = {
            "onsets": report.onsets,
            "mean_psnr": float(np.mean(finite)) if finite else None,
            "psnr_every_10": [
                round(m, 2) if math.isfinite(m) else None for m in report.metric[::10]
            ],  # fmt: skip
        }
    result["sequences"] = sequences
    result["long_frames"], result["long_size"] = cfg.long_frames, _long_size(cfg)
    onsets = [o for s in sequences.values() for o in s["onsets"]]
    result["onsets"] = len(onsets)
    result["onset_deciles"] = _deciles(onsets)
    result["distinct"] = {}
    for n in cfg.distinct:
        onsets, finite = [], []
        for r in range(cfg.distinct_repeats):
            report = onsets_on(model, *distinct_frames_sequence(cfg, images, n, r), run)
            onsets += report.onsets
            finite += [m for m in report.metric if math.isfinite(m)]
        result["distinct"][str(n)] = {
            "onsets": onsets,
            "deciles": _deciles(onsets),
            "mean_psnr": float(np.mean(finite)) if finite else None,
        }
    # model.forward caches constrained weights per sequence, as the TRF's passes need
    trf = temporal_receptive_field(model, cfg.trf_frames, cfg.size, steps=cfg.trf_steps,
                                   lr=0.1, device=run.device)  # fmt: skip
    result.update(trf_bounded=trf.bounded, trf_reaches_far=trf.reaches_far,
                  trf_diverges=trf.diverges,
                  trf_influence=[float(f"{v:.4g}") for v in trf.influence.tolist()])  # fmt: skip
    return result


def table_rows(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """The markdown table of ``table.json`` rows (also rendered into the docs)."""
    header = ["model", "params", "steps", "PSNR frame 7 (noisy)", "max conv norm",
              "long sequences", "onsets: moving / static / cuts", "onset deciles 1st / 9th",
              "TRF"]  # fmt: skip
    body = []
    for r in rows:
        counts = " / ".join(str(len(r["sequences"][s]["onsets"])) for s in SEQUENCES)
        deciles = r["onset_deciles"]
        trf = "bounded" if r["trf_bounded"] else (
            "diverges" if r["trf_diverges"] else "reaches far")  # fmt: skip
        body.append([r["model"], f"{r['params']:,}", f"{r['steps']:,}",
                     f"{r['psnr_frame7']:.2f} ({r['noisy_psnr_frame7']:.2f})",
                     f"{max(r['spectral_norms']):.2f}",
                     f"{r['long_frames']:,} frames, {r['long_size']}x{r['long_size']}", counts,
                     f"{deciles[0]:.0f} / {deciles[1]:.0f}" if deciles else "-",
                     trf])  # fmt: skip
    return header, body


def write_outputs(out: Path, cfg: Config, rows: list[dict]) -> None:
    runner.write_json(out / "table.json", rows)
    table = runner.markdown_table(*table_rows(rows))
    runner.write_text(out / "table.md", table)
    print(table)
    plot(out, rows)


def plot(out: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SEQUENCES) + 1, figsize=(5 * (len(SEQUENCES) + 1), 3.6))
    for k, r in enumerate(rows):
        for ax, sequence in zip(axes, SEQUENCES, strict=False):
            values = [np.nan if v is None else v for v in r["sequences"][sequence]["psnr_every_10"]]
            ax.plot(np.arange(len(values)) * 10, np.clip(values, -10, 45), color=f"C{k}", lw=0.7,
                    label=r["model"])  # fmt: skip
            ax.set_title(f"{sequence}: PSNR per frame (state reset below 0 dB)")
            ax.set_xlabel("frame")
        curve = np.array(r["loss_curve"])
        if len(curve):
            axes[-1].semilogy(curve[:, 0], curve[:, 1], color=f"C{k}", lw=0.7)
    axes[0].set_ylabel("PSNR (dB, clipped to [-10, 45])")
    axes[0].legend(fontsize=6)
    axes[-1].set_title("training loss (MSE)")
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    runner.save_figure(fig, out / "long_sequences.png", dpi=80)


def _measured(path: Path, cfg: Config) -> dict | None:
    """The row in ``path`` if it was measured after ``cfg.steps`` steps with ``cfg``'s
    measurement options, else None (then the model is trained on and measured again)."""
    if not path.exists():
        return None
    row = json.loads(path.read_text())
    same = row["steps"] == cfg.steps and row.get("measured_with") == _measurement(cfg)
    return row if same else None


def main(argv: list[str] | None = None) -> list[dict]:
    cfg, args = runner.parse_config(
        Config, PRESETS, argv, __doc__.splitlines()[0], "default", validate
    )
    with runner.start(cfg, args, may_change=RESUMABLE) as run:
        if run.world > 1:
            raise runner.RunError("the denoising experiment runs in one process (no torchrun)")
        images = camera_motion.load_images()
        rows = []
        for name in cfg.models:
            done = _measured(run.out / "models" / f"{name}.json", cfg)
            if done is not None:  # a resumed run: this model's numbers stand as they are
                print(f"{name}: measured already ({done['steps']} steps)")
                rows.append(done)
                continue
            model = build(name, cfg).to(run.device)
            progress = train(model, name, cfg, images, run)
            rows.append(measure(model, name, cfg, images, run, progress))
            runner.write_json(run.out / "models" / f"{name}.json", rows[-1])
            brief = {k: v for k, v in rows[-1].items()
                     if k not in ("loss_curve", "sequences", "trf_influence")}  # fmt: skip
            print(json.dumps(brief))
        write_outputs(run.out, cfg, rows)
        return rows


if __name__ == "__main__":
    runner.cli(main)
