"""Per-frame video prediction metrics on ``[0, 1]`` frames (MSE, MAE, PSNR, SSIM, BCE)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._checks import check_int, check_tensor

__all__ = ["ssim", "frame_metrics"]


def _frames(name: str, x: object) -> Tensor:
    x = check_tensor(name, x)
    if x.dim() < 2 or x.is_complex():
        raise ValueError(f"{name} must be real frames (..., H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be floating-point frames in [0, 1], got {x.dtype} (for uint8 "
            "frames divide by 255 first)"
        )
    return x


def ssim(
    prediction: Tensor,
    target: Tensor,
    data_range: float = 1.0,
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
) -> Tensor:
    r"""Structural similarity per image, as scikit-image's ``structural_similarity`` computes
    it by default (uniform ``7 x 7`` window, sample covariances, mean over the windows that
    fit inside the image).

    .. math::
        \operatorname{SSIM} = \operatorname{mean}_{\text{windows}}
        \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
             {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},\quad
        C_i = (k_i L)^2

    Args:
        prediction, target: ``(..., H, W)``.

    Returns:
        ``(...)``: one value per image.
    """
    prediction, target = _frames("prediction", prediction), _frames("target", target)
    if prediction.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(prediction.shape)} vs {tuple(target.shape)}")
    lead, (h, w) = prediction.shape[:-2], prediction.shape[-2:]
    check_int("win_size", win_size, minimum=2)  # one pixel has no sample variance
    if h < win_size or w < win_size:
        raise ValueError(f"frames {(h, w)} are smaller than the {win_size}x{win_size} window")
    x = prediction.reshape(-1, 1, h, w).double()
    y = target.reshape(-1, 1, h, w).double()

    def mean(z: Tensor) -> Tensor:
        return nn.functional.avg_pool2d(z, win_size, stride=1)

    n = win_size**2
    correction = n / (n - 1)
    mx, my = mean(x), mean(y)
    vx = correction * (mean(x * x) - mx * mx)
    vy = correction * (mean(y * y) - my * my)
    cov = correction * (mean(x * y) - mx * my)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3)).reshape(lead).to(prediction.dtype)


def frame_metrics(prediction: Tensor, target: Tensor) -> dict[str, Tensor]:
    """Per-frame metrics of predictions in ``[0, 1]``: every entry has shape ``(...)``.

    ``mse`` is per pixel and ``mse_sum`` the per-frame sum (what OpenSTL reports; 4096 x
    ``mse`` on 64x64); ``psnr`` uses data range 1; ``bce`` is the mean binary cross-entropy
    with the prediction clamped to ``[1e-7, 1 - 1e-7]``.

    Args:
        prediction, target: ``(..., H, W)`` (e.g. ``(B, T, 1, H, W)``).
    """
    prediction, target = _frames("prediction", prediction), _frames("target", target)
    if prediction.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(prediction.shape)} vs {tuple(target.shape)}")
    diff = (prediction - target).flatten(-2)
    mse = diff.pow(2).mean(-1)
    p = prediction.clamp(1e-7, 1 - 1e-7).flatten(-2)
    t = target.flatten(-2)
    bce = -(t * p.log() + (1 - t) * (1 - p).log()).mean(-1)
    return {
        "mse": mse,
        "mse_sum": diff.pow(2).sum(-1),
        "mae": diff.abs().mean(-1),
        "psnr": 10 * torch.log10(1.0 / mse.clamp_min(1e-12)),
        "ssim": ssim(prediction, target),
        "bce": bce,
    }
