"""ARMA layers: a convolution (moving average) followed by an autoregressive solve.

Spatial :class:`ARMA2d` solves a circular 2-D AR system in the Fourier domain; the causal
:class:`CausalARMA1d` filters sequences exactly (no wrap-around) with poles kept inside the
unit circle. The recurrent video cells built on them live in :mod:`cunitary.convrnn`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ._checks import check_int, check_numeric, check_odd_int, check_precision, check_tensor
from ._module import Module

__all__ = [
    "ar_coefficients",
    "ar_parameters",
    "ar_solve2d",
    "sos_filter1d",
    "ARMA2d",
    "CausalARMA1d",
    "ARMASequenceModel",
]


def _margin(value: object) -> float:
    if not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"margin must be a float in (0, 1), got {value!r}")
    return float(value)


# -- the stable length-3 AR factor --------------------------------------------------------


def ar_coefficients(alpha: Tensor, beta: Tensor, margin: float = 1e-2) -> tuple[Tensor, Tensor]:
    r"""Map unconstrained ``(alpha, beta)`` to a stable length-3 AR factor ``[a_-1, 1, a_1]``.

    .. math::
        a_{-1} + a_1 = (1 - \epsilon)\tanh\alpha, \qquad a_1 - a_{-1} = \beta

    The factor's spectrum :math:`1 + a_{-1}e^{i\omega} + a_1 e^{-i\omega}
    = 1 + (a_{-1} + a_1)\cos\omega + i(a_{-1} - a_1)\sin\omega` has modulus at least
    :math:`1 - |a_{-1} + a_1|`, reached at :math:`\omega = 0` or :math:`\pi` (ARMA paper,
    Theorem 6), so it never vanishes exactly when :math:`|a_{-1} + a_1| < 1`: a strip,
    unbounded along the difference of the taps. The map reaches all of it (up to the
    margin :math:`\epsilon`, which keeps the minimum at :math:`\epsilon` even when
    ``tanh`` saturates to 1.0 in floating point). The ARMA texts write the map with a
    :math:`\pi/4` rotation of scale :math:`\sqrt2/2`, which taken literally gives
    :math:`a_{-1} + a_1 = \sqrt2\tanh\alpha` and leaves the strip (the theory page
    says more); here the sum is squashed and the scale is :math:`1/2`.

    Returns:
        ``(a_minus, a_plus)``, each shaped like the broadcast of ``alpha`` and ``beta``.
    """
    margin = _margin(margin)
    total = (1.0 - margin) * torch.tanh(alpha)
    return 0.5 * (total - beta), 0.5 * (total + beta)


def ar_parameters(a_minus: Tensor, a_plus: Tensor, margin: float = 1e-2) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`ar_coefficients`: the ``(alpha, beta)`` that give these taps.

    Raises:
        ValueError: if ``|a_minus + a_plus| >= 1 - margin`` somewhere (outside the set
            the parameterisation reaches).
    """
    margin = _margin(margin)
    a_minus, a_plus = torch.as_tensor(a_minus), torch.as_tensor(a_plus)
    reach = 1.0 - margin
    if bool(((a_minus + a_plus).abs() >= reach).any()):
        raise ValueError(f"need |a_minus + a_plus| < 1 - margin = {reach}, got larger taps")
    return torch.atanh((a_plus + a_minus) / reach), a_plus - a_minus


def _factor_spectrum(a_minus: Tensor, a_plus: Tensor, n: int, dilation: int, half: bool) -> Tensor:
    """DFT (length n, or its rfft half) of the cascade of factors ``[a_-1, 1, a_1]``.

    ``a_minus``, ``a_plus``: ``(Q, C)``; the taps sit at offsets ``-d, 0, +d``. Returns
    ``(C, n)`` (or ``(C, n // 2 + 1)``).
    """
    count = n // 2 + 1 if half else n
    k = torch.arange(count, device=a_minus.device, dtype=a_minus.dtype)
    omega = (2 * math.pi * dilation / n) * k
    phasor = torch.polar(torch.ones_like(omega), omega)  # e^{+i w d}: the tap at -d
    spectrum = 1 + a_minus[..., None] * phasor + a_plus[..., None] * phasor.conj()
    return spectrum.prod(dim=0)


def _cascade_taps(a_minus: Tensor, a_plus: Tensor, dilation: int) -> Tensor:
    """Explicit 1-D filter of a cascade: ``(Q, C)`` factors -> ``(C, 2 Q d + 1)`` taps."""
    c = a_minus.shape[1]
    taps = torch.ones(c, 1, dtype=a_minus.dtype, device=a_minus.device)
    for lo, hi in zip(a_minus, a_plus, strict=True):
        gap = [torch.zeros_like(lo)] * (dilation - 1)
        factor = torch.stack([lo, *gap, torch.ones_like(lo), *gap, hi], dim=-1)
        # Full linear convolution, channel by channel (conv1d correlates: flip the factor).
        taps = nn.functional.conv1d(
            nn.functional.pad(taps, (2 * dilation, 2 * dilation))[None],
            factor.flip(-1)[:, None],
            groups=c,
        )[0]
    return taps


def ar_solve2d(x: Tensor, ar_filter: Tensor, padding: int = 0) -> Tensor:
    r"""Solve the circular 2-D autoregression :math:`A * Y = X` for :math:`Y`.

    .. math::
        Y = \operatorname{ifft2}\bigl(\operatorname{fft2}(X) / \operatorname{fft2}(A)\bigr)

    where :math:`(A * Y)_{p,q} = \sum_{k,l} A_{k,l}\, Y_{(p-k) \bmod H,\,(q-l) \bmod W}` and
    the filter's taps are indexed from its centre. The system matrix is doubly block
    circulant, so the Fourier basis diagonalises it and the solve costs two FFTs.

    Args:
        x: real ``(..., C, H, W)``.
        ar_filter: real ``(C, kh, kw)`` with odd ``kh, kw``; the centre tap is
            :math:`A_{0,0}`. Its 2-D DFT must not vanish (the layers guarantee this).
        padding: zeros added on every side before the solve and cropped after, so that
            the circular wrap-around passes through ``padding`` rows and columns of zeros
            instead of the opposite border. Costs FFTs of size ``(H + 2p) x (W + 2p)``.

    Returns:
        ``Y`` with the shape of ``x``.
    """
    x = check_tensor("x", x)
    ar_filter = check_tensor("ar_filter", ar_filter)
    check_numeric("x", x, allow_complex=False)
    check_numeric("ar_filter", ar_filter, allow_complex=False)
    if ar_filter.dim() != 3 or ar_filter.shape[1] % 2 == 0 or ar_filter.shape[2] % 2 == 0:
        raise ValueError(
            f"ar_filter must have shape (C, kh, kw) with odd kh, kw, got {tuple(ar_filter.shape)}"
        )
    channels, kh, kw = ar_filter.shape
    if x.dim() < 3 or x.shape[-3] != channels:
        raise ValueError(
            f"x must have shape (..., C={channels}, H, W) to match ar_filter, got {tuple(x.shape)}"
        )
    padding = check_int("padding", padding, minimum=0)
    h, w = x.shape[-2:]
    if h < kh or w < kw:
        raise ValueError(f"x's (H, W) = {(h, w)} is smaller than the AR filter {(kh, kw)}")

    def spectrum(size: tuple[int, int]) -> Tensor:
        placed = nn.functional.pad(ar_filter, (0, size[1] - kw, 0, size[0] - kh))
        return torch.fft.rfft2(placed.roll((-(kh // 2), -(kw // 2)), dims=(-2, -1)))

    return _padded_solve(x, spectrum, padding)


def _padded_solve(x: Tensor, spectrum: Callable[[tuple[int, int]], Tensor], padding: int) -> Tensor:
    """``irfft2(rfft2(x) / spectrum)`` on ``x`` zero-padded by ``padding``, then cropped."""
    h, w = x.shape[-2:]
    if x.numel() == 0:  # the FFT libraries refuse empty batches; the answer is empty
        return x * 0
    if padding:
        x = nn.functional.pad(x, (padding,) * 4)
    size = (h + 2 * padding, w + 2 * padding)
    # One reciprocal of the small (C, H, W/2+1) spectrum, then a product over the batch:
    # a complex division over the whole batch, and its backward, cost more than the FFTs.
    y = torch.fft.irfft2(torch.fft.rfft2(x) * spectrum(size).reciprocal(), s=size)
    return y[..., padding : padding + h, padding : padding + w] if padding else y


# -- the spatial ARMA layer ----------------------------------------------------------------


class ARMA2d(Module):
    r"""Spatial ARMA layer: a convolution followed by a stable separable AR solve.

    .. math::
        A * Y = W * X + b,\qquad A_c = F_c \otimes G_c,\qquad
        F_c = f_c^{(1)} * \cdots * f_c^{(Q)},\quad f_c^{(q)} = [a_{-1}, 1, a_1]

    The moving average :math:`W * X` is an ordinary :class:`torch.nn.Conv2d`. Each output
    channel :math:`c` has an autoregressive filter :math:`A_c`: an outer product of a
    vertical filter :math:`F_c` and a horizontal :math:`G_c`, each a cascade of
    :math:`Q = (\text{ar_kernel_size} - 1) / 2` length-3 factors whose taps come from
    :func:`ar_coefficients`, so the layer is stable for any parameter values. The AR
    system is solved by frequency-domain division (circular boundary; see ``ar_padding``).
    AR parameters start at zero: a new layer computes exactly its convolution.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: moving-average (convolution) size.
        ar_kernel_size: odd size of the AR filter (1 turns the AR part off).
        padding: convolution padding; default keeps the size (``dilation * (k - 1) // 2``).
        dilation: dilation of the convolution.
        ar_dilation: spacing of the AR taps.
        bias: add a learnable bias to the convolution.
        ar_padding: zeros added around the AR solve's input (see :func:`ar_solve2d`).
        margin: the stability margin :math:`\epsilon` of :func:`ar_coefficients`; every
            factor's spectrum stays :math:`\ge \epsilon`.

    Shape:
        ``(B, C_in, H, W) -> (B, C_out, H', W')``; ``H', W'`` at least the AR filter.

    Examples:
        >>> layer = ARMA2d(3, 8, kernel_size=3)
        >>> layer(torch.randn(2, 3, 16, 16)).shape
        torch.Size([2, 8, 16, 16])
        >>> layer.num_ar_parameters()  # 4 per output channel: (alpha, beta) for F and G
        32
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        ar_kernel_size: int = 3,
        padding: int | None = None,
        dilation: int = 1,
        ar_dilation: int = 1,
        bias: bool = True,
        ar_padding: int = 0,
        margin: float = 1e-2,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels)
        self.out_channels = check_int("out_channels", out_channels)
        kernel_size = check_int("kernel_size", kernel_size)
        self.ar_kernel_size = check_odd_int("ar_kernel_size", ar_kernel_size)
        dilation = check_int("dilation", dilation)
        self.ar_dilation = check_int("ar_dilation", ar_dilation)
        self.ar_padding = check_int("ar_padding", ar_padding, minimum=0)
        self.margin = _margin(margin)
        if padding is None:
            padding = dilation * (kernel_size - 1) // 2
        padding = check_int("padding", padding, minimum=0)
        factory = {"device": device, "dtype": dtype}
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=padding, dilation=dilation,
            bias=bias, **factory,
        )  # fmt: skip
        factors = (self.ar_kernel_size - 1) // 2
        # (axis, factor, channel): axis 0 is the vertical filter F, axis 1 the horizontal G.
        self.ar_alpha = nn.Parameter(torch.zeros(2, factors, out_channels, **factory))
        self.ar_beta = nn.Parameter(torch.zeros(2, factors, out_channels, **factory))

    @property
    def ar_extent(self) -> int:
        """Height (= width) of the dilated AR filter."""
        return self.ar_dilation * (self.ar_kernel_size - 1) + 1

    def num_ar_parameters(self) -> int:
        return self.ar_alpha.numel() + self.ar_beta.numel()

    def ar_taps(self) -> tuple[Tensor, Tensor]:
        """``(a_minus, a_plus)``, each ``(2, Q, C_out)``."""
        return ar_coefficients(self.ar_alpha, self.ar_beta, self.margin)

    def ar_filter(self) -> Tensor:
        """The explicit 2-D AR filter ``(C_out, k, k)`` (dilated; centre tap 1)."""
        a_minus, a_plus = self.ar_taps()
        vertical = _cascade_taps(a_minus[0], a_plus[0], self.ar_dilation)
        horizontal = _cascade_taps(a_minus[1], a_plus[1], self.ar_dilation)
        return vertical[:, :, None] * horizontal[:, None, :]

    def ar_spectrum(self, size: tuple[int, int]) -> Tensor:
        """``rfft2`` of the AR filter on an ``(H, W)`` grid: ``(C_out, H, W // 2 + 1)``."""
        a_minus, a_plus = self.ar_taps()
        h, w = size
        vertical = _factor_spectrum(a_minus[0], a_plus[0], h, self.ar_dilation, half=False)
        horizontal = _factor_spectrum(a_minus[1], a_plus[1], w, self.ar_dilation, half=True)
        return vertical[:, :, None] * horizontal[:, None, :]

    def reset_parameters(self) -> None:
        """The constructor's initialisation: the convolution's default, AR filters at 0
        (the identity)."""
        self.conv.reset_parameters()
        with torch.no_grad():
            self.ar_alpha.zero_()
            self.ar_beta.zero_()

    def forward(self, x: Tensor) -> Tensor:
        x = check_tensor("x", x)
        check_numeric("x", x, allow_complex=False)
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have shape (B, C_in={self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        if x.shape[-2] == 0 or x.shape[-1] == 0:
            raise ValueError(f"x must have non-empty H and W, got shape {tuple(x.shape)}")
        check_precision("x", x, self.conv.weight)
        y = self.conv(x)
        if self.ar_kernel_size == 1:
            return y
        h, w = y.shape[-2:]
        extent = self.ar_extent
        if h < extent or w < extent:
            raise ValueError(
                f"the convolution's output (H, W) = {(h, w)} is smaller than the AR filter "
                f"({extent}, {extent}); use a larger input or a smaller ar_kernel_size"
            )
        return _padded_solve(y, self.ar_spectrum, self.ar_padding)

    def extra_repr(self) -> str:
        return (
            f"ar_kernel_size={self.ar_kernel_size}, ar_dilation={self.ar_dilation}, "
            f"ar_padding={self.ar_padding}, margin={self.margin}"
        )


# -- causal 1-D ARMA for sequences ---------------------------------------------------------


def _next_fast_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (sizes pocketfft handles fastest)."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


#: Rows formed by doubling before the impulse response continues block by block, for a
#: companion matrix with near-repeated eigenvalues near the unit circle (ill-conditioned:
#: every squaring then loses accuracy). Measured against ``scipy.signal.lfilter`` on a
#: double complex pole pair at radius 0.9999: repeated squaring to T = 30,000 is off by
#: 0.6% of the peak, blocks of 4 rows by 8e-7 (and take ~100x longer).
_ILL_CONDITIONED_BLOCK = 4


def _ill_conditioned(companion: Tensor) -> bool:
    """Whether two eigenvalues nearly coincide close to the unit circle."""
    eig = torch.linalg.eigvals(companion.detach().double().cpu())  # (..., p)
    close = (eig[..., :, None] - eig[..., None, :]).abs() < 0.05
    close &= ~torch.eye(eig.shape[-1], dtype=torch.bool)
    near_circle = eig.abs() > 0.99
    return bool((close & near_circle[..., :, None]).any())


def _impulse_response(a: Tensor, length: int) -> Tensor:
    """First ``length`` samples of the impulse response of ``1 / A(z)``.

    ``a``: ``(..., p + 1)`` with ``a[..., 0] = 1``. With the companion matrix ``M`` of ``A``
    the response is ``h_n = (M^n)_{00}``; rows ``e_0^T M^n`` are built by doubling
    (``[r_0..r_{m-1}] -> [r_0..r_{m-1}, r_0 M^m..r_{m-1} M^m]``), ``log2(length)`` batched
    small matmuls, exact in exact arithmetic rather than truncated or aliased. When the
    companion matrix is ill-conditioned (near-repeated eigenvalues near the unit circle)
    the doubling stops at a few rows and the response continues block by block,
    ``h_{bm + j} = r_j M^{bm} e_0``, with ``M^{bm} e_0`` propagated one block at a time:
    many fewer squarings, so far less rounding error.
    """
    p = a.shape[-1] - 1
    batch = a.shape[:-1]
    if p == 0:
        h = torch.zeros(*batch, length, dtype=a.dtype, device=a.device)
        h[..., 0] = 1
        return h
    companion = torch.zeros(*batch, p, p, dtype=a.dtype, device=a.device)
    companion[..., 0, :] = -a[..., 1:]
    if p > 1:
        companion[..., 1:, :-1] += torch.eye(p - 1, dtype=a.dtype, device=a.device)
    span = _ILL_CONDITIONED_BLOCK if p > 1 and _ill_conditioned(companion) else length
    rows = torch.zeros(*batch, 1, p, dtype=a.dtype, device=a.device)
    rows[..., 0, 0] = 1
    power = companion
    while rows.shape[-2] < min(span, length):
        rows = torch.cat([rows, rows @ power], dim=-2)
        power = power @ power  # M^(rows): the step from one block to the next
    if rows.shape[-2] >= length:
        return rows[..., :length, 0]
    column = torch.zeros(*batch, p, 1, dtype=a.dtype, device=a.device)
    column[..., 0, 0] = 1
    blocks = []
    for _ in range(-(-length // rows.shape[-2])):
        blocks.append((rows @ column)[..., 0])
        column = power @ column
    return torch.cat(blocks, dim=-1)[..., :length]


def _ar_filter1d(x: Tensor, a: Tensor, method: str = "fft") -> Tensor:
    r"""Causal all-pole filter: solve :math:`\sum_{k=0}^{p} a_k\, y_{t-k} = x_t` along time.

    Private: the expanded polynomial does not determine a filter whose poles cluster near
    the unit circle to working precision (rounding its coefficients moves a cluster of
    :math:`m` poles by about :math:`\epsilon^{1/m}`), so no method that reads it can be
    correct for every stable filter. The public route is :func:`sos_filter1d` on the
    second-order sections, which :class:`CausalARMA1d` uses.

    Zero initial conditions, ``a_0 = 1`` (as ``scipy.signal.lfilter([1], a, x)``). The fast
    path forms the exact impulse response :math:`h_0..h_{T-1}` of :math:`1/A(z)` and
    convolves it with :math:`x` by zero-padded FFTs (length :math:`\ge 2T - 1`): a
    *linear* convolution, so nothing wraps around however close the poles are to the unit
    circle (padding the AR solve itself to :math:`2T` would leave an error of order
    :math:`\rho^T`, 0.13 at :math:`\rho = 0.999,\ T = 2000`).

    Poles that nearly repeat close to the unit circle make the companion matrix
    ill-conditioned; the response is then formed in short blocks rather than by repeated
    squaring (slower, far more accurate). The expanded polynomial itself is
    ill-conditioned for such filters, so :func:`sos_filter1d` on the second-order
    sections remains the more accurate choice.

    Args:
        x: real ``(..., T)``.
        a: real ``(..., p + 1)``, broadcast against ``x``'s leading dims; ``a[..., 0]`` is
            taken to be 1.
        method: ``"fft"`` or ``"loop"`` (the plain recurrence, a reference).

    Returns:
        ``y`` shaped like ``x``.
    """
    x = check_tensor("x", x)
    a = check_tensor("a", a)
    check_numeric("x", x, allow_complex=False)
    check_numeric("a", a, allow_complex=False)
    if a.dim() < 1 or a.shape[-1] < 1:
        raise ValueError(f"a must have shape (..., p + 1) with p >= 0, got {tuple(a.shape)}")
    if x.dim() < 1:
        raise ValueError("x must have a time axis (..., T)")
    dtype = torch.promote_types(x.dtype, a.dtype)
    x, a = x.to(dtype), a.to(dtype)
    length = x.shape[-1]
    if method == "loop":
        p = a.shape[-1] - 1
        ys: list[Tensor] = []
        for t, xt in enumerate(x.unbind(-1)):
            yt = xt
            for k in range(1, min(p, t) + 1):
                yt = yt - a[..., k] * ys[t - k]
            ys.append(yt)
        return torch.stack(ys, dim=-1)
    if method != "fft":
        raise ValueError(f"method must be 'fft' or 'loop', got {method!r}")
    # The doubling multiplies powers of the companion matrix whose entries grow like n for
    # near-repeated poles close to the circle; float64 keeps h exact to float32 rounding.
    h = _impulse_response(a.double(), length).to(dtype)
    n = _next_fast_size(2 * length - 1)
    y = torch.fft.irfft(torch.fft.rfft(x, n) * torch.fft.rfft(h, n), n)
    return y[..., :length]


def sos_filter1d(x: Tensor, sections: Tensor) -> Tensor:
    r"""Causal all-pole filter given as a cascade of second-order sections.

    .. math::
        \frac{1}{A(z)} = \prod_{s} \frac{1}{1 + a^{(s)}_1 z^{-1} + a^{(s)}_2 z^{-2}}

    applied section after section, each by a zero-padded FFT convolution with that
    section's exact impulse response (as ``scipy.signal.sosfilt`` with unit numerators).
    A polynomial with clustered roots near the unit circle is ill-conditioned as a
    polynomial: at :math:`T = 10^4` with two double poles at radius 0.999,
    ``scipy.signal.lfilter`` on the expanded polynomial is off by 2e-4 and the companion
    doubling of the companion matrix by far more, while each section alone stays well
    conditioned; this path matches ``sosfilt`` to 3e-8 there. The work is done in
    float64 and the result cast back to ``x``'s dtype.

    Args:
        x: real ``(..., T)``.
        sections: real ``(..., S, 3)`` rows ``[1, a_1, a_2]`` (the first entry is taken to
            be 1; ``a_2 = 0`` gives a first-order section); the leading dims broadcast
            against ``x``'s (``x`` ``(B, F, T)`` with ``sections`` ``(F, S, 3)``).

    Returns:
        ``y`` shaped like ``x``.
    """
    x = check_tensor("x", x)
    sections = check_tensor("sections", sections)
    check_numeric("x", x, allow_complex=False)
    check_numeric("sections", sections, allow_complex=False)
    if sections.dim() < 2 or sections.shape[-1] != 3:
        raise ValueError(f"sections must have shape (..., S, 3), got {tuple(sections.shape)}")
    if x.dim() < 1 or x.shape[-1] == 0:
        raise ValueError(f"x must have a non-empty time axis (..., T), got {tuple(x.shape)}")
    length = x.shape[-1]
    dtype = torch.promote_types(x.dtype, sections.dtype)
    if x.numel() == 0:  # an empty batch: nothing to filter (the FFT would refuse it)
        lead = torch.broadcast_shapes(x.shape[:-1], sections.shape[:-2])
        return x.new_zeros(*lead, length, dtype=dtype)
    n = _next_fast_size(2 * length - 1)
    y = x.double()
    for section in sections.double().unbind(-2):
        h = _impulse_response(section, length)
        y = torch.fft.irfft(torch.fft.rfft(y, n) * torch.fft.rfft(h, n), n)[..., :length]
    return y.to(dtype)


class CausalARMA1d(Module):
    r"""Causal ARMA filter for sequences: a causal convolution, then a stable AR recursion.

    .. math::
        y_t + \sum_{k=1}^{p} a_k\, y_{t-k} = \sum_{j=0}^{K-1} W_j\, x_{t - d j} + b,
        \qquad A(z) = \prod_{s} \bigl(1 + k^{(s)}_1 (1 + k^{(s)}_2) z^{-1}
                                       + k^{(s)}_2 z^{-2}\bigr)

    The moving average mixes features over the last :math:`K` steps (dilation :math:`d`).
    Each output feature has its own AR polynomial :math:`A(z)`: a cascade of second-order
    sections written with reflection coefficients
    :math:`k_i = (1 - \epsilon)\tanh(\rho_i)`; :math:`|k_1|, |k_2| < 1` is exactly the
    condition for both roots to lie inside the unit circle (Schur-Cohn), so every
    parameter value gives a stable filter, and every stable second-order section is
    reachable. An odd ``ar_order`` adds a first-order section :math:`1 + k z^{-1}`.
    Filtering is exact and causal, section by section (:func:`sos_filter1d`: the expanded
    polynomial would lose digits when poles cluster near the circle). AR parameters start
    at zero (pure moving average).

    Args:
        in_features: input features.
        out_features: output features.
        kernel_size: number of past steps (including the current one) in the MA.
        ar_order: order :math:`p` of each feature's AR polynomial (0 turns it off).
        dilation: spacing of the MA taps.
        bias: add a bias to the MA.
        margin: :math:`\epsilon`, keeps every pole radius :math:`\le 1 - \epsilon`
            strictly inside the circle even when ``tanh`` saturates.

    Shape:
        ``(B, T, F_in) -> (B, T, F_out)``.

    Examples:
        >>> layer = CausalARMA1d(4, 8, kernel_size=3, ar_order=2)
        >>> layer(torch.randn(2, 50, 4)).shape
        torch.Size([2, 50, 8])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int = 3,
        ar_order: int = 2,
        dilation: int = 1,
        bias: bool = True,
        margin: float = 1e-3,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features)
        self.out_features = check_int("out_features", out_features)
        self.kernel_size = check_int("kernel_size", kernel_size)
        self.ar_order = check_int("ar_order", ar_order, minimum=0)
        self.dilation = check_int("dilation", dilation)
        self.margin = _margin(margin)
        factory = {"device": device, "dtype": dtype}
        self.ma = nn.Conv1d(in_features, out_features, kernel_size, dilation=dilation,
                            bias=bias, **factory)  # fmt: skip
        # (section, reflection index, feature); an odd order leaves one k_2 unused.
        sections = (self.ar_order + 1) // 2
        self.ar_reflection = nn.Parameter(torch.zeros(sections, 2, out_features, **factory))

    def reflection_coefficients(self) -> Tensor:
        """``(sections, 2, F_out)`` in ``(-1 + margin, 1 - margin)``."""
        k = (1.0 - self.margin) * torch.tanh(self.ar_reflection)
        if self.ar_order % 2:  # the last section is first order
            keep = torch.ones_like(k)
            keep[-1, 1] = 0
            k = k * keep
        return k

    def ar_sections(self) -> Tensor:
        """``(F_out, sections, 3)``: rows ``[1, k_1 (1 + k_2), k_2]`` of each feature."""
        k = self.reflection_coefficients()  # (sections, 2, F)
        k1, k2 = k[:, 0].T, k[:, 1].T  # (F, sections)
        return torch.stack([torch.ones_like(k1), k1 * (1 + k2), k2], dim=-1)

    def ar_polynomial(self) -> Tensor:
        """``(F_out, p + 1)``: ``[1, a_1, ..., a_p]`` of each feature."""
        k = self.reflection_coefficients()
        poly = torch.ones(self.out_features, 1, dtype=k.dtype, device=k.device)
        for k1, k2 in zip(k[:, 0], k[:, 1], strict=True):
            section = torch.stack([torch.ones_like(k1), k1 * (1 + k2), k2], dim=-1)
            poly = nn.functional.conv1d(
                nn.functional.pad(poly, (2, 2))[None], section.flip(-1)[:, None],
                groups=self.out_features,
            )[0]  # fmt: skip
        return poly[:, : self.ar_order + 1]

    def forward(self, x: Tensor) -> Tensor:
        x = check_tensor("x", x)
        check_numeric("x", x, allow_complex=False)
        check_precision("x", x, self.ma.weight)
        if x.dim() != 3 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"x must have shape (B, T, F_in={self.in_features}), got {tuple(x.shape)}"
            )
        if x.shape[1] == 0:
            raise ValueError(
                f"x must have a non-empty time axis (B, T > 0, F), got {tuple(x.shape)}"
            )
        pad = self.dilation * (self.kernel_size - 1)
        y = self.ma(nn.functional.pad(x.transpose(1, 2), (pad, 0)))  # (B, F_out, T)
        if self.ar_order:
            y = sos_filter1d(y, self.ar_sections())
        return y.transpose(1, 2)

    def reset_parameters(self) -> None:
        """The moving average's default initialisation, AR at zero."""
        self.ma.reset_parameters()
        with torch.no_grad():
            self.ar_reflection.zero_()

    def extra_repr(self) -> str:
        return f"ar_order={self.ar_order}, margin={self.margin}"


class ARMASequenceModel(Module):
    r"""A stack of :class:`CausalARMA1d` layers with non-linearities and a linear readout.

    .. math::
        h^{(1)} = \phi\bigl(\mathrm{ARMA}_1(x)\bigr),\ \dots,\
        h^{(L)} = \mathrm{ARMA}_L(h^{(L-1)}),\qquad y = W_o h^{(L)} + b_o

    The ARMA counterpart of a recurrent network on the memory tasks: a causal, stable IIR
    filter bank per layer instead of a state update.

    Args:
        input_size: input features.
        hidden_size: features of every layer.
        output_size: readout size (``None``: return the last layer's features).
        num_layers: ARMA layers.
        kernel_size: moving-average taps (:class:`CausalARMA1d`).
        ar_order: AR order of each feature.
        dilation: spacing of the moving-average taps.
        activation: module placed between layers (default :class:`torch.nn.GELU`).
        device: of the parameters.
        dtype: of the parameters.

    Shape:
        ``(B, T, input_size) -> (B, T, output_size or hidden_size)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int | None = None,
        num_layers: int = 2,
        kernel_size: int = 3,
        ar_order: int = 2,
        dilation: int = 1,
        activation: nn.Module | None = None,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.num_layers = check_int("num_layers", num_layers)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        factory = {"device": device, "dtype": dtype}
        sizes = [input_size] + [hidden_size] * num_layers
        self.layers = nn.ModuleList(
            CausalARMA1d(i, o, kernel_size, ar_order, dilation, **factory)
            for i, o in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.activation = activation if activation is not None else nn.GELU()
        self.readout = (
            None if output_size is None else nn.Linear(hidden_size, output_size, **factory)
        )

    def reset_parameters(self) -> None:
        """Every layer (and the readout) as the constructor made it."""
        for layer in self.layers:
            layer.reset_parameters()
        if self.readout is not None:
            self.readout.reset_parameters()

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, output_size={self.output_size}, "
            f"num_layers={self.num_layers}"
        )

    def forward(self, x: Tensor) -> Tensor:
        for j, layer in enumerate(self.layers):
            x = layer(x)
            if j + 1 < len(self.layers):
                x = self.activation(x)
        return x if self.readout is None else self.readout(x)


def __getattr__(name: str):
    if name == "ar_filter1d":
        raise AttributeError(
            "cunitary.arma.ar_filter1d was removed: a filter given as an expanded polynomial "
            "is ill-conditioned when poles cluster near the unit circle (it returned 6.9e92 "
            "for three pole pairs at r = 0.99999). Filter with the second-order sections: "
            "cunitary.arma.sos_filter1d(x, sections)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
