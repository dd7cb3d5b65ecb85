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
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ._checks import check_numeric, check_tensor

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


def _size2(name: str, size: object) -> tuple[int, int]:
    size = (size, size) if isinstance(size, int) else tuple(size)  # type: ignore[arg-type]
    if len(size) != 2 or not all(isinstance(s, int) and s >= 1 for s in size):
        raise ValueError(f"{name} must be a positive int or (H, W), got {size!r}")
    return size  # type: ignore[return-value]


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


def _conv_operator(weight: Tensor, padding: str, dilation: int = 1):
    """``(A, A^T)`` of a stride-1, size-preserving convolution with this padding."""
    kh, kw = weight.shape[-2:]
    ph, pw = dilation * (kh // 2), dilation * (kw // 2)
    if padding == "zeros":

        def forward(x: Tensor) -> Tensor:
            return nn.functional.conv2d(x, weight, padding=(ph, pw), dilation=dilation)

        def adjoint(y: Tensor) -> Tensor:
            return nn.functional.conv_transpose2d(y, weight, padding=(ph, pw), dilation=dilation)

        return forward, adjoint
    if padding == "circular":

        def forward(x: Tensor) -> Tensor:
            x = nn.functional.pad(x, (pw, pw, ph, ph), mode="circular")
            return nn.functional.conv2d(x, weight, dilation=dilation)

        def adjoint(y: Tensor) -> Tensor:
            # A^T y = grad_x <y, A x>, and A is linear, so any x gives it.
            with torch.enable_grad():
                x = torch.zeros_like(y[:, :1]).expand(-1, weight.shape[1], -1, -1)
                x = x.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(forward(x), x, y, create_graph=y.requires_grad)
            return grad

        return forward, adjoint
    raise ValueError(f"padding must be 'zeros' or 'circular', got {padding!r}")


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
    h, w = _size2("input_size", input_size)
    forward, adjoint = _conv_operator(weight, padding, dilation)
    generator = torch.Generator().manual_seed(seed)
    u = torch.randn(1, weight.shape[0], h, w, generator=generator, dtype=weight.dtype)
    u = u.to(weight.device)
    u = u / u.norm()
    with torch.no_grad():
        for _ in range(max(1, iterations)):
            v = adjoint(u)
            v = v / v.norm()
            u = forward(v)
            u = u / u.norm()
        return float((u * forward(v)).sum())


def stable_rank(singular_values: Tensor) -> float:
    r""":math:`\operatorname{srank}(W) = \sum_k\sigma_k^2 / \sigma_1^2`."""
    s = singular_values.detach().double()
    return float((s**2).sum() / s.max() ** 2)


class SRNC(nn.Module):
    r"""Stable rank normalisation of a convolutional layer (SRN-C) as a parametrization.

    On every forward pass, with :math:`u, v` the top singular pair of the *layer*
    :math:`W_K` (power iteration with convolutions, persistent buffers):

    .. math::
        \begin{aligned}
        \hat K &= K / \sigma(K),\qquad \sigma(K) = u^\top W_K v,\\
        D &= \nabla_K\, u^\top W_K v,\qquad
        S_1 = \frac{\langle \hat K, D\rangle}{\lVert D\rVert^2}\,D,\qquad S_2 = \hat K - S_1,\\
        K' &= S_1 + \gamma S_2,\qquad
        \gamma = \min\Bigl(1, \sqrt{\frac{r^\ast/n^2 - \lVert S_1\rVert^2}{\lVert S_2\rVert^2}}
                 \Bigr),\qquad r^\ast = \max\bigl(1, \beta\,n^2\min(C_{in}, C_{out})\bigr),\\
        K_{\text{used}} &= \alpha\,K' / \sigma(K').
        \end{aligned}

    :math:`D` is the kernel-space image of the rank-one operator :math:`uv^\top` (the
    seed's Algorithm 2, step 9). Because :math:`S_2 \perp D`, :math:`u^\top W_{K'}v = 1`,
    so :math:`\sigma(K') \ge 1` while :math:`\lVert W_{K'}\rVert_F^2 \le n^2(\lVert
    S_1\rVert^2 + \gamma^2\lVert S_2\rVert^2) = r^\ast` (:math:`n^2 = HW`; equality for
    circular padding). Hence :math:`\operatorname{srank}(W_{K_{\text{used}}}) \le r^\ast`
    whenever :math:`r^\ast \ge n^2\lVert S_1\rVert^2` (below that, :math:`\gamma = 0` and
    :math:`n^2\lVert S_1\rVert^2` is the bound reached), and the last step sets the spectral
    norm to :math:`\alpha` (a second power iteration, on :math:`K'`). Tanay et al. scales the
    residual after normalising, which moves the spectral norm off :math:`\alpha` again;
    normalising last keeps both constraints. :math:`\beta = 1` is spectral normalisation
    of the layer (not of the reshaped kernel).

    Use :func:`srn_c` to attach it.
    """

    def __init__(
        self,
        weight: Tensor,
        input_size: tuple[int, int],
        alpha: float,
        beta: float,
        padding: str,
        dilation: int,
        n_power_iterations: int,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.alpha, self.beta = float(alpha), float(beta)
        self.padding, self.dilation = padding, dilation
        self.n_power_iterations = n_power_iterations
        c_out, c_in = weight.shape[:2]
        h, w = input_size
        generator = torch.Generator().manual_seed(0)
        for name, channels in (("u", c_out), ("v", c_in), ("u2", c_out), ("v2", c_in)):
            vec = torch.randn(1, channels, h, w, generator=generator, dtype=weight.dtype)
            self.register_buffer(name, (vec / vec.norm()).to(weight.device))
        self.target_rank = max(1.0, self.beta * h * w * min(c_in, c_out))
        #: the stable-rank bound the last forward pass guaranteed (see the class docstring)
        self.rank_bound = float(h * w * min(c_in, c_out))

    def _power(self, kernel: Tensor, u_name: str, v_name: str, iterations: int) -> Tensor:
        forward, adjoint = _conv_operator(kernel.detach(), self.padding, self.dilation)
        # Clones: the graph must not hold the buffers that later calls update in place.
        u, v = getattr(self, u_name).clone(), getattr(self, v_name).clone()
        if iterations:
            with torch.no_grad():
                for _ in range(iterations):
                    v = adjoint(u)
                    v = v / v.norm()
                    u = forward(v)
                    u = u / u.norm()
                getattr(self, u_name).copy_(u)
                getattr(self, v_name).copy_(v)
        # sigma = u^T W_K v, differentiable in K with u, v held fixed (as torch's
        # spectral_norm does); W_K v is linear in K.
        return (u * _conv_operator(kernel, self.padding, self.dilation)[0](v)).sum()

    def forward(self, kernel: Tensor) -> Tensor:
        iterations = self.n_power_iterations if self.training else 0
        sigma = self._power(kernel, "u", "v", iterations)
        normalised = kernel / sigma
        if self.beta < 1:
            h, w = self.input_size
            ph, pw = (
                self.dilation * (kernel.shape[-2] // 2),
                self.dilation * (kernel.shape[-1] // 2),
            )
            v = self.v
            if self.padding == "circular":
                v = nn.functional.pad(v, (pw, pw, ph, ph), mode="circular")
                pad = 0
            else:
                pad = (ph, pw)
            direction = torch.nn.grad.conv2d_weight(
                v, kernel.shape, self.u, padding=pad, dilation=self.dilation
            )
            s1 = (normalised * direction).sum() / direction.pow(2).sum() * direction
            s2 = normalised - s1
            room = self.target_rank / (h * w) - s1.pow(2).sum()
            # clamp (not max(0, .)) inside the root: sqrt'(0) would turn the gradient NaN
            gamma = torch.sqrt(room.clamp_min(1e-30) / s2.pow(2).sum().clamp_min(1e-30))
            normalised = s1 + gamma.clamp(max=1.0) * s2
            floor = float(s1.detach().pow(2).sum()) * h * w
            self.rank_bound = max(self.target_rank, floor)
            sigma2 = self._power(normalised, "u2", "v2", iterations)
            normalised = normalised / sigma2
        return self.alpha * normalised


def srn_c(
    module: nn.Conv2d,
    alpha: float = 1.0,
    beta: float = 1.0,
    input_size: int | tuple[int, int] = 64,
    padding: str | None = None,
    n_power_iterations: int = 1,
    warmup_iterations: int = 50,
) -> nn.Conv2d:
    """Attach :class:`SRNC` to ``module.weight`` (``torch.nn.utils.parametrize``).

    Args:
        module: a stride-1, size-preserving :class:`torch.nn.Conv2d`.
        alpha: the spectral norm of the layer.
        beta: stable-rank fraction in ``(0, 1]``; the layer's stable rank is kept at or
            below ``beta * H * W * min(C_in, C_out)`` (1: plain spectral normalisation).
        input_size: the ``(H, W)`` the layer sees.
        padding: ``"zeros"`` or ``"circular"`` (default: the module's ``padding_mode``).
        n_power_iterations: power iterations per training forward pass.
        warmup_iterations: iterations run once now, so the first forward is accurate.

    Returns:
        The module, parametrized in place.
    """
    if not isinstance(module, nn.Conv2d):
        raise TypeError(f"module must be an nn.Conv2d, got {type(module).__name__}")
    if module.stride != (1, 1) or module.groups != 1:
        raise ValueError(
            f"srn_c supports stride 1 and groups 1, got stride={module.stride}, "
            f"groups={module.groups}"
        )
    if module.dilation[0] != module.dilation[1]:
        raise ValueError(f"srn_c needs equal dilations, got {module.dilation}")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    if not 0 < beta <= 1:
        raise ValueError(f"beta must lie in (0, 1], got {beta}")
    padding = padding or ("circular" if module.padding_mode == "circular" else "zeros")
    size = _size2("input_size", input_size)
    parametrization = SRNC(
        module.weight.detach(), size, alpha, beta, padding, module.dilation[0], n_power_iterations
    )
    with torch.no_grad():
        parametrization._power(module.weight, "u", "v", warmup_iterations)
        if beta < 1:
            parametrization.n_power_iterations = warmup_iterations
            parametrization(module.weight)
            parametrization.n_power_iterations = n_power_iterations
    parametrize.register_parametrization(module, "weight", parametrization)
    return module


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
