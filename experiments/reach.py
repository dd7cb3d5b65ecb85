r"""How far a video model can move a pixel in one frame, against how far the digits move.

    python -m experiments.reach --out runs/reach       # seconds; no training

To predict frame :math:`t+1` the model's output at step :math:`t` must put each digit
where it will be, one displacement :math:`v` away from where :math:`x_t` shows it. An
input pixel can only affect output pixels within the model's *per-step reach* :math:`r`:
for a stack of :math:`L` convolutions of radius :math:`\rho` (dilation included) on the
way from :math:`x_t` to :math:`y_t`, :math:`r = L\rho`; older frames reach at most
:math:`r` further per step, so information about a digit can never keep up with it when
:math:`\|v\|_\infty > r`. This probe measures :math:`r` for every model of
:mod:`experiments.video` (untrained, at the ``cpu`` preset's size): the support of
:math:`\partial y_t[c] / \partial x_{t-k}` around the centre pixel :math:`c` for lags
:math:`k = 0 \dots` ``--lags``, as the largest Chebyshev distance where the gradient
exceeds ``1e-6`` of its peak and as the radius holding 99 % of its mass; and the digits'
per-frame displacement at each speed (Chebyshev, the metric of a square kernel's reach)
from :func:`cunitary.moving_mnist.trajectories`, in pixels of the model's frames.
Writes ``reach.json`` and ``table.md``.

    python -m experiments.reach --models --ar-alpha \
        --checkpoints runs/speed-3x-seed0-armalstm_dilated/checkpoints/*.pt --out runs/reach-trained

measures trained models instead (``trained`` in ``reach.json``): for each checkpoint of
:mod:`experiments.video` (``<run>/checkpoints/speed<S>-<model>.pt``), the same radii of
the trained model's gradient, averaged over the first ``--clips`` test clips of its run
(the model reads each clip's input frames; the gradient is of the output at the last one),
and for every ARMA layer the spread of its learned AR filter: the sum of its taps'
magnitudes and the 99 %-mass radius of the inverse filter :math:`A^{-1}`, whose support
is the whole frame. It also asks where a trained model puts the digits and how sharply
(``motion``): for predicted frames 1, 2, 5 and 10 of the first ``--motion-clips`` test
clips, the Gaussian blur :math:`\sigma` (0 to 8 px in steps of 0.5) at which the *true*
frame, blurred, correlates best with the prediction (Pearson, per clip, averaged), and the
same against the *last input frame*. A model that moves the digits matches the true frame
better than the last input, however blurred; :math:`\sigma` says how blurred.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cunitary.arma import ARMA2d
from cunitary.moving_mnist import DIGIT_SIZE, trajectories

from . import runner
from .runner import option
from .video import INPUT_FRAMES, MODELS, PRESETS, VideoPredictor, as_frames, hidden_for, load_split
from .video import Config as VideoConfig


@dataclass
class Config:
    models: list[str] = option(
        list(MODELS), "models of experiments.video, untrained", choices=MODELS, allow_empty=True
    )
    speeds: list[int] = option([1, 2, 3], "digit speeds", minimum=1)
    lags: int = option(3, "frames back from t", minimum=0)
    ar_alpha: list[float] = option(
        [0.5, 1.0, 2.0], "ARMA models again with every AR alpha at these values (beta 0)",
        allow_empty=True,
    )  # fmt: skip
    digits: int = option(20_000, "digit trajectories drawn per speed", minimum=1)
    seed: int = option(0, "seed of the weights, the inputs and the trajectories", minimum=0)
    checkpoints: list[str] = option(
        [], "trained experiments.video checkpoints to measure", allow_empty=True
    )
    clips: int = option(8, "test clips the trained models' gradients are averaged over", minimum=1)
    motion_clips: int = option(
        100, "test clips the trained models' predictions are compared on", minimum=1
    )


#: Predicted frames the motion probe reads, and the blurs it tries (px).
MOTION_FRAMES = (1, 2, 5, 10)
MOTION_SIGMAS = tuple(k / 2 for k in range(17))


def gaussian_blur(frames: torch.Tensor, sigma: float) -> torch.Tensor:
    """``frames (N, H, W)`` convolved with a normalised Gaussian of standard deviation
    ``sigma`` pixels, truncated at 4 sigma, zeros outside the frame; ``sigma = 0`` returns
    them unchanged."""
    if sigma == 0:
        return frames
    radius = int(4 * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=frames.dtype)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    out = frames[:, None]
    out = torch.nn.functional.conv2d(out, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    out = torch.nn.functional.conv2d(out, kernel.view(1, 1, 1, -1), padding=(0, radius))
    return out[:, 0]


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of each pair of ``(N, H, W)`` frames, averaged over ``N``; a
    constant frame correlates 0 with anything."""
    a, b = a.flatten(1), b.flatten(1)
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    norms = a.norm(dim=1) * b.norm(dim=1)
    r = (a * b).sum(1) / norms.clamp_min(torch.finfo(a.dtype).tiny)
    return float(torch.where(norms > 0, r, 0.0).mean())


def best_blur(prediction: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """The blur of ``target`` (from :data:`MOTION_SIGMAS`) whose correlation with
    ``prediction`` is highest, and that correlation; both ``(N, H, W)``."""
    scores = [(_correlation(prediction, gaussian_blur(target, s)), s) for s in MOTION_SIGMAS]
    corr, sigma = max(scores)
    return sigma, corr


def motion_rows(predicted: torch.Tensor, clips: torch.Tensor) -> list[dict]:
    """Per frame of :data:`MOTION_FRAMES`, :func:`best_blur` of ``predicted (N, F, H, W)``
    against the true frame and against the last input frame of ``clips (N, T, H, W)``."""
    last = clips[:, INPUT_FRAMES - 1]
    rows = []
    for f in MOTION_FRAMES:
        truth_sigma, truth_corr = best_blur(predicted[:, f - 1], clips[:, INPUT_FRAMES + f - 1])
        last_sigma, last_corr = best_blur(predicted[:, f - 1], last)
        rows.append({"frame": f, "truth_sigma": truth_sigma, "truth_corr": truth_corr,
                     "last_sigma": last_sigma, "last_corr": last_corr})  # fmt: skip
    return rows


def _radii(grad: torch.Tensor, peak: float, tolerance: float = 1e-6) -> tuple[int, float]:
    """Largest Chebyshev distance from the centre with ``|grad| > tolerance * peak``, and
    the smallest radius holding 99 % of ``|grad|``'s mass."""
    h, w = grad.shape
    rows, cols = torch.meshgrid(torch.arange(h) - h // 2, torch.arange(w) - w // 2,
                                indexing="ij")  # fmt: skip
    distance = torch.maximum(rows.abs(), cols.abs())
    magnitude = grad.abs()
    support = distance[magnitude > tolerance * peak]
    reach = int(support.max()) if len(support) else -1
    mass = torch.stack([magnitude[distance <= d].sum() for d in range(int(distance.max()) + 1)])
    total = float(magnitude.sum())
    holding = int(torch.nonzero(mass >= 0.99 * total)[0]) if total > 0 else -1
    return reach, holding


def model_reach(
    name: str, video: VideoConfig, lags: int, seed: int, ar_alpha: float | None = None
) -> list[dict]:
    """Per lag ``k``: the support and 99 %-mass radii of ``d y_t[c] / d x_{t-k}``.
    ``ar_alpha``: every ARMA layer's AR ``alpha`` set to it (``beta`` 0) first; at the
    initialisation (``alpha = beta = 0``) the AR filter is the identity."""
    torch.manual_seed(seed)
    # float64 keeps FFT rounding far below the support threshold; the dynamic-filter head
    # computes in float32, but its support is exact (zero outside, not rounding noise)
    dtype = torch.float32 if name == "dfn" else torch.float64
    model = VideoPredictor(name, hidden_for(name, video), video).to(dtype)
    if ar_alpha is not None:
        with torch.no_grad():
            for module in model.modules():
                if hasattr(module, "ar_alpha"):
                    module.ar_alpha.fill_(ar_alpha)
    frames = torch.rand(1, lags + 1, 1, video.size, video.size, dtype=dtype,
                        generator=runner.keyed_generator(seed, "reach", name))  # fmt: skip
    frames.requires_grad_(True)
    states, output = None, None
    for frame in frames.unbind(1):
        output, states = model.step(frame, states)
    centre = video.size // 2
    (grad,) = torch.autograd.grad(output[0, 0, centre, centre], frames)
    return _lag_rows(grad[0, :, 0], lags)


def _lag_rows(grad: torch.Tensor, lags: int) -> list[dict]:
    """Per lag ``k``, the radii of ``grad`` ``(lags + 1, H, W)`` (oldest frame first)
    against the peak over all lags."""
    peak = float(grad.abs().max())
    rows = []
    for k in range(lags + 1):
        reach, holding = _radii(grad[lags - k], peak)
        rows.append({"lag": k, "support_radius": reach, "mass99_radius": holding})
    return rows


@torch.no_grad()
def ar_spread(layer: ARMA2d, size: int) -> dict:
    """Per output channel of an ARMA layer: the summed magnitude of its AR taps (both axes,
    every factor; 0 is the identity) and the 99 %-mass radius of its inverse filter on a
    ``size x size`` frame; the median and the largest over channels."""
    a_minus, a_plus = layer.ar_taps()
    taps = (a_minus.abs() + a_plus.abs()).sum(dim=(0, 1))
    inverse = torch.fft.irfft2(layer.ar_spectrum((size, size)).reciprocal(), s=(size, size))
    inverse = inverse.roll((size // 2, size // 2), dims=(-2, -1))  # tap 0 at the centre
    radii = torch.tensor([float(_radii(c, float(c.abs().max()))[1]) for c in inverse])
    return {"tap_sum_median": float(taps.quantile(0.5)), "tap_sum_max": float(taps.max()),
            "mass99_radius_median": float(radii.quantile(0.5)),
            "mass99_radius_max": float(radii.max())}  # fmt: skip


def trained_reach(path: Path, lags: int, clips: int, motion_clips: int = 100) -> dict:
    """The radii of a trained model's gradient, averaged over ``clips`` test clips of its
    run, the spread of every ARMA layer's AR filter, and :func:`motion_rows` on the first
    ``motion_clips`` test clips, for the model and for its last input frame repeated.
    ``path``: ``<run>/checkpoints/speed<S>-<model>.pt``."""
    prefix, _, name = path.stem.partition("-")
    if not prefix.removeprefix("speed").isdigit() or name not in MODELS:
        raise ValueError(f"checkpoint must be named speed<S>-<model>.pt, got {path.name}")
    speed = int(prefix.removeprefix("speed"))
    state = runner.load_checkpoint(path)
    video = VideoConfig(**state["config"])
    model = VideoPredictor(name, hidden_for(name, video), video)
    model.load_state_dict(state["model"])
    model = model.double()
    clip_data = load_split(video, path.parent.parent, "test", video.test_sequences, speed)
    frames = as_frames(clip_data[:clips]).double()[:, INPUT_FRAMES - lags - 1 : INPUT_FRAMES]
    frames.requires_grad_(True)
    states, output = None, None
    for frame in frames.unbind(1):
        output, states = model.step(frame, states)
    centre = video.size // 2
    (grad,) = torch.autograd.grad(output[:, 0, centre, centre].sum(), frames)
    rows = _lag_rows(grad.abs().mean(0)[:, 0], lags)  # |grad| averaged over clips
    layers = [m for m in model.modules() if isinstance(m, ARMA2d)]
    future = clip_data.shape[1] - INPUT_FRAMES
    sequences = as_frames(clip_data[:motion_clips]).double()
    with torch.no_grad():
        predicted = model(sequences[:, :INPUT_FRAMES], future)
    still = sequences[:, INPUT_FRAMES - 1, 0, None].expand(-1, future, -1, -1)  # the reference
    return {"checkpoint": str(path), "model": name, "speed": speed, "seed": video.seed,
            "step": state["progress"]["step"], "reach": rows,
            "ar": [ar_spread(m, video.size) for m in layers],
            "motion": motion_rows(predicted[:, :, 0], sequences[:, :, 0]),
            "motion_still": motion_rows(still, sequences[:, :, 0]),
            "test_clips": video.test_sequences, "size": video.size}  # fmt: skip


def digit_steps(size: int, speed: int, n: int, seed: int) -> dict:
    """Per-frame Chebyshev displacement of the digits, in pixels of ``size`` frames."""
    free = 64 - DIGIT_SIZE  # generated at 64 x 64, then downsampled
    paths = trajectories(n, 2, free, speed, np.random.default_rng(seed)).astype(float)
    step = np.abs(paths[:, 1] - paths[:, 0]).max(-1) * size / 64
    moving = step[step > 0]  # a bounce can fold a step to zero length
    return {"speed": speed, "min": float(moving.min()), "median": float(np.median(moving)),
            "max": float(moving.max())}  # fmt: skip


def validate(cfg: Config) -> None:
    """Every checkpoint exists and is named as a video run names it, before a folder is made."""
    for checkpoint in cfg.checkpoints:
        path = Path(checkpoint)
        prefix, _, name = path.stem.partition("-")
        if not prefix.removeprefix("speed").isdigit() or name not in MODELS:
            raise runner.RunError(f"--checkpoints: {checkpoint} is not named "
                                  "speed<S>-<model>.pt as a video run names it")  # fmt: skip
        if not path.is_file():
            raise runner.RunError(f"--checkpoints: {checkpoint} does not exist")
        if not (path.parent.parent / "config.json").is_file():
            raise runner.RunError(f"--checkpoints: {checkpoint} is not in a run's checkpoints/ "
                                  f"folder (no {path.parent.parent / 'config.json'})")  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    cfg, args = runner.parse_config(Config, {"default": {}}, argv, __doc__.splitlines()[0],
                                    "default", validate)  # fmt: skip
    with runner.start(cfg, args, may_change=()) as run:
        video = VideoConfig(**{**PRESETS["cpu"]})
        result = {
            "size": video.size, "layers": video.layers, "hidden": video.hidden,
            "models": {m: model_reach(m, video, cfg.lags, cfg.seed) for m in cfg.models},
            "ar_alpha": {
                f"{m}, AR taps summing to {math.tanh(a) * (1 - 1e-2):.2f}":
                    model_reach(m, video, cfg.lags, cfg.seed, a)
                for m in cfg.models if m.startswith("arma") for a in cfg.ar_alpha
            },
            "digits": [digit_steps(video.size, s, cfg.digits, cfg.seed) for s in cfg.speeds],
            "trained": [trained_reach(Path(c), cfg.lags, cfg.clips, cfg.motion_clips)
                        for c in cfg.checkpoints],
        }  # fmt: skip
        if run.main:
            runner.write_json(run.out / "reach.json", result)
            table = runner.markdown_table(*table_rows(result))
            if any(r["ar"] for r in result["trained"]):
                table += "\n" + runner.markdown_table(*ar_rows(result))
            if result["trained"]:
                table += "\n" + runner.markdown_table(*motion_table(result))
            runner.write_text(run.out / "table.md", table)
            print(table)
        return result


def _trained_label(r: dict) -> str:
    return f"{r['model']}, {r['speed']}x seed {r['seed']}, trained {r['step']:,} steps"


def table_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """Per model, the reach at each lag; per speed, the digits' step (docs and table.md)."""
    models = {**result["models"], **result["ar_alpha"]}
    models.update({_trained_label(r): r["reach"] for r in result.get("trained", [])})
    lags = len(next(iter(models.values()))) if models else 1
    header = ["model", *(f"lag {k}: support / 99 % mass (px)" for k in range(lags))]
    body = [[name, *(f"{r['support_radius']} / {r['mass99_radius']}" for r in rows)]
            for name, rows in models.items()]  # fmt: skip
    for d in result["digits"]:
        body.append([f"digits at {d['speed']}x: step per frame min / median / max",
                     f"{d['min']:.1f} / {d['median']:.1f} / {d['max']:.1f}",
                     *([""] * (lags - 1))])  # fmt: skip
    return header, body


def ar_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """Per trained ARMA model and layer: its AR filters' tap sums and inverse radii."""
    header = ["model", "layer", "AR tap sum: median / max",
              "A^-1 99 % mass radius (px): median / max"]  # fmt: skip
    body = [[_trained_label(r), str(k + 1), f"{a['tap_sum_median']:.2f} / {a['tap_sum_max']:.2f}",
             f"{a['mass99_radius_median']:.0f} / {a['mass99_radius_max']:.0f}"]
            for r in result.get("trained", []) for k, a in enumerate(r["ar"])]  # fmt: skip
    return header, body


def motion_table(result: dict) -> tuple[list[str], list[list[str]]]:
    """Per trained model, the first predicted frame's best blur and correlation against the
    last input frame, then against the true frame at each of :data:`MOTION_FRAMES`; one
    reference row per test set, the last input frame repeated."""

    def cells(rows: list[dict]) -> list[str]:
        first = rows[0]
        return [f"{first['last_sigma']:.1f} ({first['last_corr']:.2f})",
                *(f"{m['truth_sigma']:.1f} ({m['truth_corr']:.2f})" for m in rows)]  # fmt: skip

    against_truth = [f"frame {f} against the true frame: sigma px (corr)" for f in MOTION_FRAMES]
    header = ["model", "frame 1 against the last input: sigma px (corr)", *against_truth]
    body, references = [], {}
    for r in result.get("trained", []):
        body.append([_trained_label(r), *cells(r["motion"])])
        # the clips are those of the run's test set: its speed, seed, size and length
        key = (r["speed"], r["seed"], r["size"], r["test_clips"])
        references.setdefault(key, r["motion_still"])
    for (speed, seed, size, n), rows in sorted(references.items()):
        label = f"last input frame repeated, {speed}x seed {seed} (test set {n:,} x {size}²)"
        body.append([label, *cells(rows)])
    return header, body


if __name__ == "__main__":
    runner.cli(main)
