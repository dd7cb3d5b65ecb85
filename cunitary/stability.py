"""Diagnostics of how far and how strongly a model's outputs depend on its inputs."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import check_tensor

__all__ = ["ReceptiveField", "effective_receptive_field", "arma_erf_radius"]


@dataclass
class ReceptiveField:
    """Result of :func:`effective_receptive_field`.

    Attributes:
        map: the ERF, a distribution over input positions (spatial shape of the input,
            sums to 1).
        radius: its radius, the standard deviation of the distance to ``position``.
        mean_distance: the mean of that distance.
        position: the output position the gradients were taken at.
    """

    map: Tensor
    radius: float
    mean_distance: float
    position: tuple[int, ...]


def effective_receptive_field(
    model: Callable[[Tensor], Tensor],
    input_shape: Sequence[int],
    spatial_dims: Sequence[int] | None = None,
    position: Sequence[int] | None = None,
    samples: int = 8,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device=None,
) -> ReceptiveField:
    r"""Gradient-map effective receptive field (Luo et al. 2016; ARMA paper, Definition 2).

    .. math::
        g_{s,t}(p) = \Bigl|\frac{\partial Y_{t}(i)}{\partial X_{s}(i - p)}\Bigr|,\qquad
        \mathrm{ERF}(p) = \operatorname*{mean}_{s,t,\text{samples}}
            \frac{g_{s,t}(p)}{\sum_{q} g_{s,t}(q)},\qquad
        r^2 = \sum_p \lVert p\rVert^2\,\mathrm{ERF}(p) - \Bigl(\sum_p \lVert p\rVert\,
            \mathrm{ERF}(p)\Bigr)^2

    The derivative of each output channel :math:`t` at one position :math:`i` with respect
    to every input (standard normal samples; for a linear model they do not matter) is
    normalised per input channel :math:`s` into a distribution and averaged.

    Args:
        model: maps ``(N, *input_shape)`` to an output whose spatial axes match the input's.
        input_shape: one sample's shape, e.g. ``(C, H, W)`` or ``(T, F)``.
        spatial_dims: axes of ``input_shape`` that are spatial (default: all but the first,
            i.e. channels first); the others are channels, for input and output alike.
        position: output position (default: the centre).
        samples: random inputs averaged over.
        seed: seed of those inputs.

    Returns:
        A :class:`ReceptiveField`.

    Examples:
        >>> conv = torch.nn.Conv1d(1, 1, 5, padding=2, bias=False)
        >>> torch.nn.init.constant_(conv.weight, 0.2)  # doctest: +ELLIPSIS
        Parameter...
        >>> erf = effective_receptive_field(conv, (1, 33))
        >>> round(erf.radius, 4), round(erf.mean_distance, 4)  # |p| uniform on {0, 1, 1, 2, 2}
        (0.7483, 1.2)
    """
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must be positive sizes, got {tuple(input_shape)}")
    dims = tuple(range(1, len(shape))) if spatial_dims is None else tuple(spatial_dims)
    if not dims or any(not 0 <= d < len(shape) for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"spatial_dims must be distinct axes of input_shape, got {dims}")
    sizes = tuple(shape[d] for d in dims)
    position = tuple(s // 2 for s in sizes) if position is None else tuple(position)
    if len(position) != len(dims) or any(
        not 0 <= p < s for p, s in zip(position, sizes, strict=True)
    ):
        raise ValueError(f"position must index the spatial sizes {sizes}, got {position}")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, *shape, generator=generator, dtype=dtype).to(device)
    x.requires_grad_(True)
    y = check_tensor("model output", model(x))
    if y.is_complex():
        y = y.abs()
    # Move spatial axes last (input and output alike), channels to one axis.
    channel_dims = [d for d in range(len(shape)) if d not in dims]
    order = [0] + [d + 1 for d in channel_dims] + [d + 1 for d in dims]
    y = y.permute(order)
    if tuple(y.shape[-len(dims) :]) != sizes:
        raise ValueError(f"the output's spatial shape {tuple(y.shape)} does not match {sizes}")
    y = y.reshape(samples, -1, *sizes)[(slice(None), slice(None), *position)]  # (N, T)
    total = torch.zeros(sizes, dtype=torch.float64)
    outputs = y.shape[1]
    for t in range(outputs):
        (grad,) = torch.autograd.grad(y[:, t].sum(), x, retain_graph=t + 1 < outputs)
        g = grad.detach().abs().permute(order).reshape(samples, -1, *sizes).double().cpu()
        norm = g.flatten(2).sum(-1).clamp_min(torch.finfo(torch.float64).tiny)
        total += (g / norm.reshape(*norm.shape, *[1] * len(dims))).mean(dim=(0, 1))
    erf = total / outputs
    grids = torch.meshgrid(
        *[torch.arange(s, dtype=torch.float64) - p for s, p in zip(sizes, position, strict=True)],
        indexing="ij",
    )
    distance = torch.sqrt(sum(g**2 for g in grids))
    mean = float((distance * erf).sum())
    second = float((distance**2 * erf).sum())
    return ReceptiveField(erf, math.sqrt(max(second - mean**2, 0.0)), mean, position)


def arma_erf_radius(
    kernel_sizes: Sequence[int], ar: Sequence[float], dilations: Sequence[int] | None = None
) -> float:
    r"""ERF radius of a linear 1-D ARMA network (ARMA paper, Theorem 3).

    .. math::
        r^2 = \sum_{l=1}^{L}\Bigl[\frac{d_l^2 (K_l^2 - 1)}{12}
              + \frac{a_l}{(1 - a_l)^2}\Bigr]

    for layers :math:`y_i - a_l y_{i-1} = \frac{1 - a_l}{K_l}\sum_{p<K_l} x_{i - d_l p}`
    with :math:`0 \le a_l < 1`: each layer's impulse response is a distribution (uniform
    on :math:`K_l` taps, convolved with a geometric one), and variances add under
    convolution.
    """
    dilations = [1] * len(kernel_sizes) if dilations is None else list(dilations)
    if not (len(kernel_sizes) == len(ar) == len(dilations)):
        raise ValueError("kernel_sizes, ar and dilations must have the same length")
    total = 0.0
    for k, a, d in zip(kernel_sizes, ar, dilations, strict=True):
        if not 0 <= a < 1:
            raise ValueError(f"ar coefficients must lie in [0, 1), got {a}")
        total += d**2 * (k**2 - 1) / 12 + a / (1 - a) ** 2
    return math.sqrt(total)
