"""Stability diagnostics: receptive fields, convolution spectra, SRN-C, long rollouts.

Seeds: ARMA networks (effective receptive field); instabilities in recurrent video
processing (singular values of convolutional layers, SRN-C, temporal receptive field,
instability onsets).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ._checks import check_int, check_numeric, check_tensor
from .parametrizations import SRNC, _conv_operator, _size2, srn_c

__all__ = [
    "ReceptiveField",
    "effective_receptive_field",
    "arma_erf_radius",
    "conv_singular_values",
    "conv_spectral_norm",
    "stable_rank",
    "SRNC",
    "srn_c",
    "TemporalReceptiveField",
    "temporal_receptive_field",
    "InstabilityReport",
    "instability_onset",
]


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
    samples = check_int("samples", samples)
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


# -- singular values of convolutional layers -----------------------------------------------


def _check_weight(weight: object) -> Tensor:
    weight = check_tensor("weight", weight)
    check_numeric("weight", weight, allow_complex=False)
    if weight.dim() != 4:
        raise ValueError(f"weight must have shape (C_out, C_in, kh, kw), got {tuple(weight.shape)}")
    return weight


def conv_singular_values(weight: Tensor, input_size: int | tuple[int, int]) -> Tensor:
    r"""Exact singular values of a multi-channel *circular* convolution (Sedghi et al. 2019).

    .. math::
        W = (F^{-1}\otimes I)\,\operatorname{blockdiag}_\omega\bigl(\hat K(\omega)\bigr)
            \,(F\otimes I),\qquad
        \hat K(\omega) = \sum_{a,b} K_{:,:,a,b}\,e^{-i(\omega_1 a + \omega_2 b)}

    The 2-D DFT block-diagonalises the layer: its singular values are those of the
    :math:`C_{out}\times C_{in}` matrices :math:`\hat K(\omega)`, one per frequency, i.e.
    an FFT of the kernel zero-padded to the input size and a batched SVD. (Shifting or
    flipping the kernel, correlation versus convolution, leaves them unchanged.)

    Args:
        weight: ``(C_out, C_in, kh, kw)`` with ``kh <= H``, ``kw <= W``.
        input_size: ``(H, W)``.

    Returns:
        ``(H * W * min(C_out, C_in),)`` singular values, sorted in descending order.
    """
    weight = _check_weight(weight)
    h, w = _size2("input_size", input_size)
    if weight.shape[-2] > h or weight.shape[-1] > w:
        raise ValueError(
            f"the kernel {tuple(weight.shape[-2:])} is larger than input_size {(h, w)}"
        )
    spectrum = torch.fft.fft2(weight, s=(h, w))  # (C_out, C_in, H, W)
    blocks = spectrum.permute(2, 3, 0, 1)  # (H, W, C_out, C_in)
    return torch.linalg.svdvals(blocks).flatten().sort(descending=True).values


def conv_spectral_norm(
    weight: Tensor,
    input_size: int | tuple[int, int],
    padding: str = "zeros",
    iterations: int = 100,
    dilation: int = 1,
    seed: int = 0,
) -> float:
    r"""Spectral norm of a convolutional *layer* by power iteration.

    .. math::
        v \leftarrow \frac{W^\top u}{\lVert W^\top u\rVert},\quad
        u \leftarrow \frac{W v}{\lVert W v\rVert},\qquad
        \sigma_1 \approx u^\top W v

    with :math:`W` applied by ``conv2d`` and :math:`W^\top` by ``conv_transpose2d`` (zero
    padding) or the gradient of the circular convolution; nothing of size
    :math:`(HWC)^2` is formed. Stride 1, size-preserving padding of an odd kernel.

    Args:
        weight: ``(C_out, C_in, kh, kw)``.
        input_size: ``(H, W)`` of the layer's input.
        padding: ``"zeros"`` or ``"circular"``.
        iterations: power iterations.
        dilation: the layer's dilation.
    """
    weight = _check_weight(weight).detach()
    iterations = check_int("iterations", iterations)
    h, w = _size2("input_size", input_size)
    forward, adjoint = _conv_operator(weight, padding, dilation)
    generator = torch.Generator().manual_seed(seed)
    u = torch.randn(1, weight.shape[0], h, w, generator=generator, dtype=weight.dtype)
    u = u.to(weight.device)
    u = u / u.norm()
    with torch.no_grad():
        for _ in range(iterations):
            v = adjoint(u)
            v = v / v.norm()
            u = forward(v)
            u = u / u.norm()
        return float((u * forward(v)).sum())


def stable_rank(singular_values: Tensor) -> float:
    r""":math:`\operatorname{srank}(W) = \sum_k\sigma_k^2 / \sigma_1^2`."""
    s = singular_values.detach().double()
    return float((s**2).sum() / s.max() ** 2)


# -- temporal receptive field -----------------------------------------------------------


@dataclass
class TemporalReceptiveField:
    """Result of :func:`temporal_receptive_field`.

    Attributes:
        inputs: the optimised input sequence ``(T, C, H, W)`` in ``[0, 1]``.
        outputs: the model's outputs on it ``(T, C', H, W)``.
        influence: ``|d p / d X_t|`` summed over each frame, ``(T,)``, ``p`` the centre
            pixel of the output at ``t = centre``.
        output_norms: ``||Y_t||`` per frame.
        centre: index of frame ``t = 0``.
        reaches_far: the oldest tenth of the past frames still influences ``p`` (long
            memory, as in a norm-preserving recurrence, or growth).
        diverges: the outputs after ``t = 0`` blow up (or are not finite).
        bounded: the verdict, a temporally bounded TRF: neither of the two.
        history: ``|p|`` during the optimisation.
    """

    inputs: Tensor
    outputs: Tensor
    influence: Tensor
    output_norms: Tensor
    centre: int
    reaches_far: bool
    diverges: bool
    bounded: bool
    history: list[float] = field(default_factory=list)


def temporal_receptive_field(
    model: Callable[[Tensor], Tensor],
    frames: int = 81,
    size: int | tuple[int, int] = 64,
    channels: int = 1,
    steps: int = 500,
    lr: float = 0.05,
    seed: int = 0,
    influence_tolerance: float = 1e-2,
    growth_tolerance: float = 10.0,
    device: torch.device | str | None = None,
) -> TemporalReceptiveField:
    r"""Search for an input sequence that makes the output diverge (Tanay et al.).

    .. math::
        \max_{0 \le X \le 1}\ \bigl|\,Y_0[\text{centre}]\,\bigr|,\qquad
        X = (X_{-\tau}, \dots, X_{\tau}),\ 2\tau + 1 = \text{frames}

    :math:`X = \operatorname{sigmoid}(Z)` is optimised with Adam. The influence of frame
    :math:`t` is :math:`\sum|\partial p/\partial X_t|` at the optimum. The temporal
    receptive field is *unbounded* when the oldest tenth of the past frames still carries
    at least ``influence_tolerance`` of the peak influence, or when the last output's norm
    exceeds ``growth_tolerance`` times that at :math:`t = 0` (or is not finite). The verdict
    is relative to the window: a contraction by :math:`\rho` per frame reads as bounded once
    :math:`\rho^{\tau} <` ``influence_tolerance`` (:math:`\rho \lesssim 0.89` at the
    default 81 frames).

    Args:
        model: maps ``(1, T, C, H, W)`` to ``(1, T, C', H, W)`` (a causal recurrent model).
        frames: sequence length ``2 tau + 1``.
        size, channels: frame shape.
        steps, lr, seed: the optimisation.
        device: where the sequence lives (the model's device); the seeded draw is made on
            the CPU, so every device starts from the same sequence.
    """
    if frames < 3 or frames % 2 == 0:
        raise ValueError(f"frames must be an odd int >= 3, got {frames}")
    h, w = _size2("size", size)
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(1, frames, channels, h, w, generator=generator).to(device)
    logits.requires_grad_(True)
    optimiser = torch.optim.Adam([logits], lr=lr)
    centre = frames // 2
    history: list[float] = []
    for _ in range(steps):
        optimiser.zero_grad()
        y = model(torch.sigmoid(logits))
        p = y[0, centre, ..., h // 2, w // 2].abs().sum()
        if not torch.isfinite(p):
            break
        (-p).backward()
        optimiser.step()
        history.append(float(p.detach()))
    x = torch.sigmoid(logits.detach()).requires_grad_(True)
    y = model(x)
    p = y[0, centre, ..., h // 2, w // 2].abs().sum()
    (grad,) = torch.autograd.grad(p, x)
    influence = grad[0].abs().flatten(1).sum(1)
    norms = y.detach()[0].flatten(1).norm(dim=1)
    oldest = influence[: max(1, centre // 10)]
    peak = influence.max()
    reaches_far = bool(peak > 0 and oldest.max() >= influence_tolerance * peak)
    grows = bool(
        not torch.isfinite(norms).all()
        or norms[-1] > growth_tolerance * norms[centre].clamp_min(1e-12)
    )
    return TemporalReceptiveField(
        x.detach()[0], y.detach()[0], influence, norms, centre, reaches_far, grows,
        not (reaches_far or grows), history,
    )  # fmt: skip


# -- long rollouts -----------------------------------------------------------------------


@dataclass
class InstabilityReport:
    """Result of :func:`instability_onset`.

    Attributes:
        onsets: frames since the last reset at each divergence.
        frames: frames processed.
        deciles: the 10th, 20th, ..., 90th percentiles of ``onsets`` (empty if none).
        metric: the per-frame metric (PSNR when targets are given, else the output norm).
    """

    onsets: list[int]
    frames: int
    deciles: list[float]
    metric: list[float]


def instability_onset(
    step: Callable[[Tensor, object], tuple[Tensor, object]],
    stream: Iterable[Tensor | tuple[Tensor, Tensor]],
    max_frames: int | None = None,
    psnr_floor: float = 0.0,
    norm_limit: float = 1e3,
) -> InstabilityReport:
    r"""Run a recurrent model over a long stream; record divergences and reset its state.

    A frame diverges when its output is not finite, when the PSNR against the target
    (data range 1) drops below ``psnr_floor``, or, without targets, when
    :math:`\lVert y_t\rVert_\infty` exceeds ``norm_limit``. The state is then reset to
    ``None`` and the count restarts, so one long stream yields many onsets.

    Args:
        step: ``step(x_t, state) -> (y_t, state)``; ``state=None`` means a fresh state.
        stream: frames ``x_t``, or pairs ``(x_t, target_t)``.
        max_frames: stop after this many frames.
    """
    onsets: list[int] = []
    metric: list[float] = []
    state = None
    since_reset = 0
    frames = 0
    with torch.no_grad():
        for item in stream:
            if max_frames is not None and frames >= max_frames:
                break
            x, target = item if isinstance(item, tuple) else (item, None)
            y, state = step(x, state)
            frames += 1
            since_reset += 1
            finite = bool(torch.isfinite(y).all())
            if target is not None:
                mse = float((y.clamp(-1e6, 1e6) - target).pow(2).mean()) if finite else math.inf
                value = 10 * math.log10(1 / mse) if mse > 0 else math.inf
                diverged = not finite or value < psnr_floor
            else:
                value = float(y.abs().max()) if finite else math.inf
                diverged = not finite or value > norm_limit
            metric.append(value)
            if diverged:
                onsets.append(since_reset)
                state, since_reset = None, 0
    deciles: list[float] = []
    if onsets:
        q = torch.tensor(onsets, dtype=torch.float64).quantile(torch.linspace(0.1, 0.9, 9).double())
        deciles = [float(v) for v in q]
    return InstabilityReport(onsets, frames, deciles, metric)
