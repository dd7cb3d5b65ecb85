r"""Unitary convolutions parameterised by unit-circle eigen-angles.

A circular convolution is diagonalised by the DFT, :math:`C = F^{-1}\operatorname{diag}
(\varphi)F`. Writing :math:`\varphi = e^{i\omega}` with real, unconstrained angles
:math:`\omega` makes every such operator unitary, with condition number exactly 1, and
plain unconstrained optimisers keep it unitary. (Seed: complex-gated-memory-cells, §5.4-5.8.)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import orthogonal

from . import functional as F
from ._checks import check_numeric, check_tensor, check_trailing, real_dtype_of

__all__ = ["UnitaryConv1d", "UnitaryConv2d", "FourierRotation"]

_INITS = ("uniform", "zero", "small")
_METHODS = ("auto", "fft", "matmul")

# Largest operator size (n, or H*W) for which method="auto" applies a dense matrix
# instead of FFTs. `python -m experiments.bench unitary` (2-core CPU, batch 64,
# forward+backward; docs/results.rst) found no size where a matrix built inside forward
# beats the FFT path: building it costs an FFT of the identity. Built once and reused for
# 16 steps of a recurrence it wins up to n = 64; recurrent cells should call matrix()
# once per sequence instead. Raise this on hardware where the table says otherwise.
MATMUL_MAX_SIZE = 0


def _complex_of(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64


class _ChannelMix(nn.Module):
    """A learnable ``C x C`` unitary (orthogonal when ``real``) matrix, kept on the
    manifold by ``torch.nn.utils.parametrizations.orthogonal``."""

    def __init__(self, channels: int, real: bool, dtype: torch.dtype, device=None) -> None:
        super().__init__()
        weight_dtype = dtype if real else _complex_of(dtype)
        self.linear = orthogonal(
            nn.Linear(channels, channels, bias=False, dtype=weight_dtype, device=device)
        )

    @property
    def matrix(self) -> Tensor:
        return self.linear.weight

    def reset_identity(self) -> None:
        w = self.linear.weight
        self.linear.weight = torch.eye(w.shape[0], dtype=w.dtype, device=w.device)


class _EigenAngleConv(nn.Module):
    """Shared machinery of :class:`UnitaryConv1d` and :class:`UnitaryConv2d`."""

    ndim: int

    def __init__(
        self,
        size: tuple[int, ...],
        channels: int,
        real: bool,
        mix: bool,
        init: str,
        method: str,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.size = size
        self.channels = channels
        self.real = bool(real)
        self.method = method
        self.angles = nn.Parameter(torch.empty(channels, *size, device=device, dtype=dtype))
        self.mixer = _ChannelMix(channels, self.real, dtype, device) if mix else None
        self.reset_parameters(init)

    def reset_parameters(self, init: str = "uniform", scale: float = 0.1) -> None:
        r"""Re-initialise the angles (and the channel mix).

        Args:
            init: ``"uniform"``: :math:`\omega \sim U(-\pi, \pi)`, a random unitary
                circulant with a global kernel, and a random channel mix;
                ``"zero"``: the identity operator; ``"small"``:
                :math:`\omega \sim U(-\text{scale}, \text{scale})`, near the identity,
                with an identity channel mix.
            scale: half-width of the ``"small"`` initialisation, in radians.
        """
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        with torch.no_grad():
            if init == "uniform":
                self.angles.uniform_(-math.pi, math.pi)
            elif init == "zero":
                self.angles.zero_()
            else:
                self.angles.uniform_(-scale, scale)
        if self.mixer is not None and init != "uniform":
            self.mixer.reset_identity()

    # -- helpers -----------------------------------------------------------------------

    @property
    def mix(self) -> bool:
        return self.mixer is not None

    def _check_input(self, x: object, name: str = "x") -> Tensor:
        x = check_tensor(name, x)
        check_numeric(name, x)
        if self.real and x.is_complex():
            raise TypeError(
                f"{type(self).__name__}(real=True) is orthogonal on real signals; {name} must "
                f"be real floating, got {x.dtype}"
            )
        what = "(channels, size)" if self.ndim == 1 else "(channels, H, W)"
        check_trailing(name, x, (self.channels, *self.size), what)
        return x

    def _use_matmul(self) -> bool:
        if self.method == "auto":
            return math.prod(self.size) <= MATMUL_MAX_SIZE
        return self.method == "matmul"

    def effective_angles(self) -> Tensor:
        """The eigen-angles the operator uses: odd-symmetric when ``real=True``."""
        return F.odd_symmetric(self.angles, self.ndim) if self.real else self.angles

    def eigenvalues(self) -> Tensor:
        r"""Eigenvalues :math:`e^{i\Omega}` of the depthwise operator, ``(channels, *size)``."""
        angles = self.effective_angles()
        return torch.polar(torch.ones_like(angles), angles)

    def _depthwise_matrices(self, angles: Tensor) -> Tensor:
        if self.ndim == 1:
            return F.circulant_matrix(angles, real=self.real)
        return F.circulant2d_matrix(angles, real=self.real)

    def _depthwise_matmul(self, x: Tensor, mats: Tensor) -> Tensor:
        """``x_c @ mats[c].T`` for every channel, as one batched ``(C, B, N) @ (C, N, N)``."""
        n = mats.shape[-1]
        lead = x.shape[: -self.ndim - 1]
        per_channel = x.reshape(-1, self.channels, n).transpose(0, 1)
        y = per_channel @ mats.mT
        return y.transpose(0, 1).reshape(*lead, self.channels, *self.size)

    def _operate(self, x: Tensor, angles: Tensor) -> Tensor:
        """Depthwise operator with ``angles`` then channel mix (angles already cast)."""
        if not self._use_matmul():
            mix = None if self.mixer is None else self.mixer.matrix
            return F._spectral_apply(x, angles, self.ndim, self.real, mix)
        if not self.real:
            x = x.to(_complex_of(real_dtype_of(x)))
        mats = self._depthwise_matrices(angles).to(x.dtype)  # (C, N, N)
        y = self._depthwise_matmul(x, mats)
        if self.mixer is not None:
            y = F._mix_channels(y, self.mixer.matrix.to(y.dtype), self.ndim)
        return y

    # -- public API --------------------------------------------------------------------

    def forward(self, x: Tensor) -> Tensor:
        x = self._check_input(x)
        return self._operate(x, self.angles.to(real_dtype_of(x)))

    def inverse(self, y: Tensor) -> Tensor:
        """Apply the inverse operator, which is the adjoint (conjugate transpose)."""
        y = self._check_input(y, "y")
        if self.mixer is not None:
            y = F._mix_channels(y, self.mixer.matrix.mH.to(y.dtype), self.ndim)
        angles = -self.angles.to(real_dtype_of(y))
        if self._use_matmul():
            if not self.real:
                y = y.to(_complex_of(real_dtype_of(y)))
            return self._depthwise_matmul(y, self._depthwise_matrices(angles).to(y.dtype))
        return F._spectral_apply(y, angles, self.ndim, self.real)

    adjoint = inverse

    def matrix(self) -> Tensor:
        r"""The dense operator acting on ``x.flatten(-(ndim + 1))``.

        Returns:
            ``(channels * N, channels * N)`` with ``N = prod(size)``: complex, or real
            when ``real=True``. Row-major: ``y.flatten(-k) == x.flatten(-k) @ M.T``.
        """
        mats = self._depthwise_matrices(self.angles)  # (C, N, N)
        c, n = self.channels, mats.shape[-1]
        if self.mixer is None:
            return torch.block_diag(*mats.unbind(0))
        mix = self.mixer.matrix.to(mats.dtype)  # (C, C)
        blocks = mix[:, :, None, None] * mats[None]  # (C_out, C_in, N, N)
        return blocks.permute(0, 2, 1, 3).reshape(c * n, c * n)

    def extra_repr(self) -> str:
        size = self.size[0] if self.ndim == 1 else self.size
        return (
            f"size={size}, channels={self.channels}, real={self.real}, mix={self.mix}, "
            f"method={self.method!r}"
        )


class UnitaryConv1d(_EigenAngleConv):
    r"""Unitary 1-D circular convolution with learnable eigen-angles.

    .. math::
        y_c = \sum_{c'} M_{cc'}\;\operatorname{ifft}\bigl(e^{i\omega_{c'}}\odot
              \operatorname{fft}(x_{c'})\bigr)

    Each channel is multiplied by a circulant matrix
    :math:`C_c = F^{-1}\operatorname{diag}(e^{i\omega_c})F` whose eigenvalues lie on the
    unit circle; :math:`M` (optional, ``mix=True``) is a learnable ``C x C`` unitary
    channel mix, identity otherwise. The whole operator is unitary:
    :math:`\lVert y\rVert = \lVert x\rVert`, its inverse is its adjoint, and stacking
    layers without a mix adds their angles. With ``real=True`` the angles are made
    odd-symmetric, :math:`\Omega(-k) = -\Omega(k)`, and the operator is real orthogonal.
    (Seed: complex-gated-memory-cells, §5.5-5.7.)

    Args:
        size: signal length ``n``.
        channels: number of channels ``C``; each has its own angles.
        real: orthogonal variant for real signals (real in, real out).
        mix: follow the depthwise operator by a learnable unitary (orthogonal when
            ``real``) channel mix, parameterised by
            ``torch.nn.utils.parametrizations.orthogonal``.
        init: ``"uniform"`` (random angles in :math:`[-\pi, \pi)`), ``"zero"`` (identity)
            or ``"small"`` (near identity); see :meth:`reset_parameters`.
        method: ``"fft"``, ``"matmul"`` (dense :math:`n\times n` matrices built in every
            forward) or ``"auto"`` (matmul up to ``cunitary.unitary.MATMUL_MAX_SIZE``,
            0 by default: measured on CPU, a matrix built per call never beats the FFT).
            For a recurrence, build :meth:`matrix` once per sequence and apply it with
            ``@``: that wins for ``n <= 64`` on a 2-core CPU (see the benchmark page).
        device, dtype: of the angles (float32 or float64); a complex mix uses the
            matching complex dtype. Note that ``module.double()`` does not convert
            complex parameters, so build with ``dtype=torch.float64`` for double
            precision with ``mix=True``.

    Shape:
        - Input: :math:`(*, C, n)`, real or complex (complex64/128); real input to a
          complex layer is read as :math:`x + 0i`.
        - Output: :math:`(*, C, n)`, complex (real when ``real=True``), in the input's
          precision.

    Attributes:
        angles: real eigen-angles of shape ``(C, n)``.

    Examples:
        >>> layer = UnitaryConv1d(64, channels=4)
        >>> x = torch.randn(8, 4, 64, dtype=torch.complex64)
        >>> y = layer(x)
        >>> torch.allclose(y.norm(), x.norm(), rtol=1e-5)
        True
        >>> torch.allclose(layer.inverse(y), x, atol=1e-5)
        True
    """

    ndim = 1

    def __init__(
        self,
        size: int,
        channels: int = 1,
        real: bool = False,
        mix: bool = False,
        init: str = "uniform",
        method: str = "auto",
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        super().__init__((size,), channels, real, mix, init, method, device, dtype)


class UnitaryConv2d(_EigenAngleConv):
    r"""Unitary 2-D circular convolution (doubly block circulant) with learnable eigen-angles.

    .. math::
        Y_c = \sum_{c'} M_{cc'}\;\operatorname{ifft2}\bigl(e^{i\Omega_{c'}}\odot
              \operatorname{fft2}(X_{c'})\bigr)

    A doubly block circulant matrix is diagonalised by :math:`F_H\otimes F_W`; with
    eigenvalues :math:`e^{i\Omega}` it is unitary and its kernel
    :math:`\operatorname{ifft2}(e^{i\Omega})` covers the whole image (a global receptive
    field). ``real=True`` makes :math:`\Omega(-k,-l) = -\Omega(k,l)`: an orthogonal
    operator on real images. ``mix=True`` adds a learnable unitary channel mix.
    (Seed: complex-gated-memory-cells, §5.8.)

    Args:
        size: ``(H, W)`` or an int for square images.
        channels, real, mix, init, method, device, dtype: as in :class:`UnitaryConv1d`;
            ``"auto"`` uses dense matrices when ``H * W <= MATMUL_MAX_SIZE``.

    Shape:
        - Input: :math:`(*, C, H, W)`.
        - Output: :math:`(*, C, H, W)`, complex (real when ``real=True``).

    Attributes:
        angles: real eigen-angles of shape ``(C, H, W)``.

    Examples:
        >>> layer = UnitaryConv2d((32, 32), channels=3, real=True, mix=True)
        >>> x = torch.rand(2, 3, 32, 32)
        >>> y = layer(x)
        >>> y.dtype, torch.allclose(y.norm(), x.norm(), rtol=1e-5)
        (torch.float32, True)
    """

    ndim = 2

    def __init__(
        self,
        size: int | tuple[int, int],
        channels: int = 1,
        real: bool = False,
        mix: bool = False,
        init: str = "uniform",
        method: str = "auto",
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size, size)
        size = tuple(size) if isinstance(size, (tuple, list)) else size
        if (
            not isinstance(size, tuple)
            or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size)
        ):
            raise ValueError(f"size must be an int or a pair of positive ints (H, W), got {size!r}")
        super().__init__(size, channels, real, mix, init, method, device, dtype)


class FourierRotation(nn.Module):
    r"""Rotate images by a (learnable) angle with three Fourier-space shears.

    .. math::
        R_\theta = S_x\!\left(-\tan\tfrac\theta2\right) S_y(\sin\theta)
                   S_x\!\left(-\tan\tfrac\theta2\right)

    where each shear :math:`S` is a phase ramp in the DFT of one axis (shift theorem),
    hence unitary. See :func:`cunitary.functional.fourier_rotate`.
    (Seed: complex-gated-memory-cells, §4.1.)

    Args:
        angle: initial angle in radians.
        learnable: register the angle as a parameter.

    Shape:
        - Input: :math:`(*, H, W)`, real or complex.
        - Output: :math:`(*, H, W)`, complex.
    """

    def __init__(self, angle: float = 0.0, learnable: bool = True) -> None:
        super().__init__()
        value = torch.tensor(float(angle), dtype=torch.float64)
        if learnable:
            self.angle = nn.Parameter(value)
        else:
            self.register_buffer("angle", value)

    def forward(self, x: Tensor) -> Tensor:
        return F.fourier_rotate(x, self.angle)

    def inverse(self, y: Tensor) -> Tensor:
        """The exact inverse (the adjoint) of :meth:`forward`."""
        return F.fourier_rotate(y, self.angle, inverse=True)

    def extra_repr(self) -> str:
        return f"angle={float(self.angle):.4f}"
