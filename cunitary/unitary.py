r"""Unitary convolutions parameterised by unit-circle eigen-angles.

A circular convolution is diagonalised by the DFT, :math:`C = F^{-1}\operatorname{diag}
(\varphi)F`. Writing :math:`\varphi = e^{i\omega}` with real, unconstrained angles
:math:`\omega` makes every such operator unitary, with condition number exactly 1, and
plain unconstrained optimisers keep it unitary. The angles are free per frequency, the
phases of a small kernel's DFT, or a coarse grid interpolated to every frequency.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import orthogonal

from . import functional as F
from . import init as cinit
from ._checks import (
    check_numeric,
    check_precision,
    check_tensor,
    check_trailing,
    complex_dtype_for,
    real_dtype_of,
    real_factory_dtype,
)
from ._module import Module

__all__ = ["UnitaryConv1d", "UnitaryConv2d", "FourierRotation", "cached"]

_INITS = ("uniform", "zero", "small")
_METHODS = ("fft", "matmul")
_ANGLES = ("full", "kernel", "grid")
_DEFAULT_ANGLE_SIZE = {"kernel": 3, "grid": 8}

# Values computed once per `with cached():` block (phasors, composed weights), keyed
# by layer and by what else they depend on (grid, dtype, ...).
_phasor_cache: dict | None = None


@contextlib.contextmanager
def cached() -> Iterator[None]:
    r"""Compute each unitary layer's phasors :math:`e^{i\Omega}` once inside the block.

    A recurrence applies the same transition at every step; inside ``with cached():``
    the angles-to-phasors map (and, for ``angles="kernel"``, the kernel's FFT) runs once
    per layer, and autograd accumulates the gradient of all steps into that one result.
    The analogue of :func:`torch.nn.utils.parametrize.cached`; the parameters must not
    change inside the block. A backward pass through a cached value drops it, so a
    forward after it computes the value again (forward, backward, forward, backward works
    inside one block); two forwards that share a value and are back-propagated
    separately need ``retain_graph=True`` on the first, as for any shared subgraph.
    :class:`~cunitary.ConvRNNStack` and the video models enter it for every sequence.

    Examples:
        >>> layer = UnitaryConv2d(8, channels=2)
        >>> x = torch.randn(3, 2, 8, 8)
        >>> with cached():
        ...     y = layer(layer(x))
        >>> torch.allclose(y.norm(), x.norm(), rtol=1e-5)
        True
    """
    global _phasor_cache
    outer = _phasor_cache
    _phasor_cache = {} if outer is None else outer
    try:
        yield
    finally:
        _phasor_cache = outer


def cached_value(key: tuple, compute: Callable[[], Tensor]) -> Tensor:
    """``compute()``, computed once per ``key`` inside :func:`cached` (every call outside).

    For values that depend on the parameters only: the unitary layers' phasors, and
    the real weights the complex convolutional cells compose from complex ones. ``key``
    starts with the module itself (not its ``id``: the cache keeps it alive, so a new
    module can never be handed a deleted one's values), and whether autograd records is
    part of it (a value computed under ``no_grad`` has no graph to give later calls).
    """
    if _phasor_cache is None:
        return compute()
    key = (*key, torch.is_grad_enabled(), torch.is_inference_mode_enabled())
    if key not in _phasor_cache:
        value = compute()
        _phasor_cache[key] = value
        _forget_after_backward(_phasor_cache, key, value)
    return _phasor_cache[key]


def _forget_after_backward(cache: dict, key: tuple, value: Tensor | tuple) -> None:
    """Drop ``key`` once a backward pass has gone through ``value``: that pass frees the
    graph behind it, so the next forward in the same block must compute it again (a
    second forward and backward, gradient accumulation, two stack calls)."""

    def forget(grad: Tensor) -> None:
        cache.pop(key, None)

    for tensor in value if isinstance(value, tuple) else (value,):
        if isinstance(tensor, Tensor) and tensor.requires_grad:
            tensor.register_hook(forget)


class _ChannelMix(Module):
    """A learnable ``C x C`` unitary (orthogonal when ``real``) matrix, kept on the
    manifold by ``torch.nn.utils.parametrizations.orthogonal``."""

    def __init__(self, channels: int, real: bool, dtype: torch.dtype, device=None) -> None:
        super().__init__()
        weight_dtype = dtype if real else complex_dtype_for(dtype)
        # No random init here: reset() draws it, so that reset_parameters() under the same
        # seed reproduces the constructor exactly.
        holder = nn.Module()
        holder.weight = nn.Parameter(torch.eye(channels, dtype=weight_dtype, device=device))
        self.linear = orthogonal(holder)

    @property
    def matrix(self) -> Tensor:
        return self.linear.weight

    def reset(self, random: bool) -> None:
        """A Haar-random unitary (orthogonal) matrix, or the identity."""
        w = self.linear.weight
        start = torch.empty_like(w)
        with torch.no_grad():
            if not random:
                start.copy_(torch.eye(w.shape[0], dtype=w.dtype, device=w.device))
            elif w.is_complex():
                cinit.haar_unitary_(start)
            else:
                torch.nn.init.orthogonal_(start)
            self.linear.weight = start


class _EigenAngleConv(Module):
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
        angles: str,
        angle_size: int | None,
        device=None,
        dtype: torch.dtype | None = None,
        padding: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        if not isinstance(padding, int) or isinstance(padding, bool) or padding < 0:
            raise ValueError(f"padding must be an int >= 0, got {padding!r}")
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
        if angles not in _ANGLES:
            raise ValueError(f"angles must be one of {_ANGLES}, got {angles!r}")
        dtype = real_factory_dtype(dtype)
        # The operator lives on the zero-padded grid (the frame plus `padding` on each side),
        # where it is unitary. It is still a circular convolution there, and a unit-modulus
        # spectrum other than a pure shift has a kernel spread over the whole grid: padding
        # makes less of an edge signal wrap to the opposite edge; it does not make none.
        self.padding = padding
        self.frame_size = size
        size = tuple(s + 2 * padding for s in size)
        self.size = size
        self.channels = channels
        self.real = bool(real)
        self.method = method
        self.angle_kind = angles
        self.init = init
        factory = {"device": device, "dtype": dtype}
        if angles == "full":
            if angle_size is not None:
                raise ValueError("angle_size is for angles='kernel' or 'grid', not 'full'")
            self.angle_size = None
            self.angles = nn.Parameter(torch.empty(channels, *size, **factory))
        else:
            k = _DEFAULT_ANGLE_SIZE[angles] if angle_size is None else angle_size
            if not isinstance(k, int) or isinstance(k, bool) or k < 1 or k > min(size):
                raise ValueError(
                    f"angle_size must be an int in [1, {min(size)}] for size {size}, got {k!r}"
                )
            if angles == "kernel" and k % 2 == 0:
                raise ValueError(f"angle_size (the kernel size) must be odd, got {k}")
            self.angle_size = k
            if angles == "kernel":
                kernel_dtype = dtype if self.real else complex_dtype_for(dtype)
                self.kernel = nn.Parameter(
                    torch.empty(channels, *(k,) * self.ndim, device=device, dtype=kernel_dtype)
                )
            else:
                self.grid = nn.Parameter(torch.empty(channels, *(k,) * self.ndim, **factory))
        self.mixer = _ChannelMix(channels, self.real, dtype, device) if mix else None
        self.reset_parameters()

    def reset_parameters(self, init: str | None = None, scale: float = 0.1) -> None:
        r"""Re-initialise the angle parameters (and the channel mix).

        Args:
            init: ``None`` repeats the constructor's ``init``. ``"uniform"``: a random
                operator (angles :math:`\sim U(-\pi, \pi)`, per frequency or on the grid;
                a standard normal kernel) and a random channel mix; ``"zero"``: the
                identity operator (zero angles; a unit impulse kernel) and the identity
                mix; ``"small"``: near the identity (angles, or kernel taps around the
                impulse, :math:`\sim U(-\text{scale}, \text{scale})`) with the identity mix.
            scale: half-width of the ``"small"`` initialisation.
        """
        init = self.init if init is None else init
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        with torch.no_grad():
            if self.angle_kind == "kernel":
                kernel = self.kernel
                if init == "uniform":
                    kernel.normal_()
                else:
                    kernel.uniform_(-scale, scale) if init == "small" else kernel.zero_()
                    centre = (slice(None), *(k // 2 for k in kernel.shape[1:]))
                    kernel[centre] += 1
            else:
                values = self.angles if self.angle_kind == "full" else self.grid
                if init == "uniform":
                    values.uniform_(-math.pi, math.pi)
                elif init == "zero":
                    values.zero_()
                else:
                    values.uniform_(-scale, scale)
        if self.mixer is not None:
            self.mixer.reset(random=init == "uniform")

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
        if (
            self.padding
            and x.dim() >= self.ndim
            and tuple(x.shape[-self.ndim :]) == tuple(self.frame_size)
        ):  # a frame: embed it in the padded grid
            x = nn.functional.pad(x, (self.padding,) * (2 * self.ndim))
        what = "(channels, size)" if self.ndim == 1 else "(channels, H, W)"
        check_trailing(name, x, (self.channels, *self.size), what)
        check_precision(name, x, self._precision_parameter())
        return x

    def _precision_parameter(self) -> Tensor:
        return self.kernel if self.angle_kind == "kernel" else self._angle_parameter()

    def _full_angles(self) -> Tensor:
        """Per-frequency angles before the odd-symmetric projection (full and grid)."""
        if self.angle_kind == "full":
            return self.angles
        return F.fourier_interpolate(self.grid, self.size)

    def phasors(self, half: bool = False, dtype: torch.dtype | None = None) -> Tensor:
        r"""The eigenvalues :math:`e^{i\Omega}` the operator applies, ``(channels, *size)``.

        Args:
            half: the half grid ``rfftn`` keeps (``real=True`` layers only).
            dtype: real dtype of the computation (float32 or float64); the parameters'
                by default.

        Inside :func:`cached` the result is computed once per layer, grid and dtype.
        """
        if half and not self.real:
            raise ValueError("half=True is for real=True layers (their spectrum is Hermitian)")
        real_dtype = self._parameter_dtype() if dtype is None else dtype

        def phasors() -> Tensor:
            if self.angle_kind == "kernel":
                kernel = self.kernel.to(real_dtype if self.real else complex_dtype_for(real_dtype))
                return F.kernel_phasors(kernel, self.size, half=half)
            angles = self._full_angles().to(real_dtype)
            if self.real and not half:
                angles = F.odd_symmetric(angles, self.ndim)
            return F._phasors(angles, self.ndim, half)

        return cached_value((self, half, real_dtype), phasors)

    def _parameter_dtype(self) -> torch.dtype:
        param = self.kernel if self.angle_kind == "kernel" else self._angle_parameter()
        return param.real.dtype if param.is_complex() else param.dtype

    def _angle_parameter(self) -> Tensor:
        return self.angles if self.angle_kind == "full" else self.grid

    def effective_angles(self) -> Tensor:
        """The eigen-angles the operator uses, ``(channels, *size)``: odd-symmetric when
        ``real=True``; for ``angles="kernel"`` the phases of the kernel's DFT."""
        if self.angle_kind == "kernel":
            return torch.angle(self.phasors())
        angles = self._full_angles()
        return F.odd_symmetric(angles, self.ndim) if self.real else angles

    def eigenvalues(self) -> Tensor:
        r"""Eigenvalues :math:`e^{i\Omega}` of the depthwise operator, ``(channels, *size)``."""
        return self.phasors()

    def num_angle_parameters(self) -> int:
        """Real parameters of the eigen-angles (a complex kernel tap counts twice)."""
        param = self.kernel if self.angle_kind == "kernel" else self._angle_parameter()
        return param.numel() * (2 if param.is_complex() else 1)

    def _depthwise_matrices(self, phasor: Tensor) -> Tensor:
        return F._phasor_matrix(phasor, self.ndim, self.real, self.size)

    def _depthwise_matmul(self, x: Tensor, mats: Tensor) -> Tensor:
        """``x_c @ mats[c].T`` for every channel, as one batched ``(C, B, N) @ (C, N, N)``."""
        n = mats.shape[-1]
        lead = x.shape[: -self.ndim - 1]
        per_channel = x.reshape(-1, self.channels, n).transpose(0, 1)
        y = per_channel @ mats.mT
        return y.transpose(0, 1).reshape(*lead, self.channels, *self.size)

    def _operate(self, x: Tensor, phasor: Tensor, mix: Tensor | None) -> Tensor:
        """Depthwise operator with ``phasor`` then the channel mix ``mix``."""
        if self.method == "fft":
            return F._spectral_apply(x, phasor, self.ndim, self.real, mix)
        if not self.real:
            x = x.to(complex_dtype_for(real_dtype_of(x)))
        y = self._depthwise_matmul(x, self._depthwise_matrices(phasor).to(x.dtype))
        return y if mix is None else F._mix_channels(y, mix.to(y.dtype), self.ndim)

    # -- public API --------------------------------------------------------------------

    def forward(self, x: Tensor) -> Tensor:
        x = self._check_input(x)
        phasor = self.phasors(half=self.real, dtype=real_dtype_of(x))
        return self._operate(x, phasor, None if self.mixer is None else self.mixer.matrix)

    def inverse(self, y: Tensor) -> Tensor:
        """Apply the inverse operator, which is the adjoint (conjugate transpose)."""
        y = self._check_input(y, "y")
        if self.mixer is not None:
            y = F._mix_channels(y, self.mixer.matrix.mH.to(y.dtype), self.ndim)
        phasor = self.phasors(half=self.real, dtype=real_dtype_of(y)).conj()
        return self._operate(y, phasor, None)

    adjoint = inverse

    def matrix(self) -> Tensor:
        r"""The dense operator acting on ``x.flatten(-(ndim + 1))``.

        Returns:
            ``(channels * N, channels * N)`` with ``N = prod(size)``: complex, or real
            when ``real=True``. Row-major: ``y.flatten(-k) == x.flatten(-k) @ M.T``.
        """
        mats = self._depthwise_matrices(self.phasors(half=self.real))  # (C, N, N)
        c, n = self.channels, mats.shape[-1]
        if self.mixer is None:
            return torch.block_diag(*mats.unbind(0))
        mix = self.mixer.matrix.to(mats.dtype)  # (C, C)
        blocks = mix[:, :, None, None] * mats[None]  # (C_out, C_in, N, N)
        return blocks.permute(0, 2, 1, 3).reshape(c * n, c * n)

    def extra_repr(self) -> str:
        size = self.frame_size[0] if self.ndim == 1 else self.frame_size
        angles = self.angle_kind if self.angle_size is None else (
            f"{self.angle_kind}, angle_size={self.angle_size}"
        )  # fmt: skip
        padding = f", padding={self.padding}" if self.padding else ""
        return (
            f"size={size}, channels={self.channels}, real={self.real}, mix={self.mix}, "
            f"angles={angles}, init={self.init!r}, method={self.method!r}{padding}"
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
    (Wolter & Yao, *Complex gated recurrent neural networks*; the eigen-angle
    parameterisation of circulant transitions.)

    The angles :math:`\omega_c` come from one of three parameterisations:

    * ``angles="full"``: one free angle per frequency, ``n`` parameters per channel;
      reaches every unitary circulant.
    * ``angles="kernel"``: the phases of the DFT of a centred ``k``-tap kernel,
      :math:`e^{i\omega} = K(\omega)/|K(\omega)|` (:func:`~cunitary.functional.kernel_phasors`):
      ``k`` real taps (``real=True``) or ``k`` complex taps per channel. Reaches the
      all-pass phase parts of ``k``-tap filters, circular shifts by up to
      :math:`\pm(k-1)/2` samples among them.
    * ``angles="grid"``: ``g`` angles on a coarse grid of frequencies, trigonometrically
      interpolated to ``n`` (:func:`~cunitary.functional.fourier_interpolate`): smooth
      angle functions of degree below :math:`g/2`; ``g = n`` is ``"full"``.

    Args:
        size: signal length ``n``.
        channels: number of channels ``C``; each has its own angles.
        real: orthogonal variant for real signals (real in, real out).
        mix: follow the depthwise operator by a learnable unitary (orthogonal when
            ``real``) channel mix, parameterised by
            ``torch.nn.utils.parametrizations.orthogonal``.
        init: ``"uniform"`` (a random operator), ``"zero"`` (the identity) or ``"small"``
            (near the identity); see :meth:`reset_parameters`.
        method: ``"fft"``, or ``"matmul"`` (dense :math:`n\times n` matrices built in every
            forward; for a recurrence, build :meth:`matrix` once per sequence instead).
        angles: ``"full"``, ``"kernel"`` or ``"grid"``, as above.
        angle_size: the kernel size ``k`` (odd, default 3) or the grid size ``g``
            (default 8); ``None`` for ``"full"``.
        device: of the parameters.
        dtype: float32 or float64 (a complex mix or kernel uses the matching complex
            dtype; ``module.double()`` converts it too).
        padding: zeros on each side: the operator is the circulant of the padded length
            ``size + 2 padding`` (unitary there; the state of a recurrence lives on it),
            and an input of length ``size`` is zero-padded first (the embedding of a
            linear convolution in Wolter & Yao's *Complex gated memory cells*, §5.8.1).
            The operator is still circular on the padded length: padding reduces the
            part of an edge signal that wraps to the opposite edge, it does not remove
            it (see :class:`UnitaryConv2d`).

    Shape:
        - Input: :math:`(*, C, n)`, real or complex, in the parameters' precision
          (float32/complex64 or float64/complex128; another precision is a
          ``TypeError``, as in every module of the library); real input to a complex
          layer is read as :math:`x + 0i`.
        - Output: :math:`(*, C, n)`, complex (real when ``real=True``).

    Attributes:
        angles: (``"full"``) real eigen-angles of shape ``(C, n)``.
        kernel: (``"kernel"``) taps of shape ``(C, k)``, complex unless ``real``.
        grid: (``"grid"``) real angles of shape ``(C, g)``.

    Examples:
        >>> layer = UnitaryConv1d(64, channels=4)
        >>> x = torch.randn(8, 4, 64, dtype=torch.complex64)
        >>> y = layer(x)
        >>> torch.allclose(y.norm(), x.norm(), rtol=1e-5)
        True
        >>> torch.allclose(layer.inverse(y), x, atol=1e-5)
        True
        >>> UnitaryConv1d(64, channels=4, angles="kernel").num_angle_parameters()
        24
    """

    ndim = 1

    def __init__(
        self,
        size: int,
        channels: int = 1,
        real: bool = False,
        mix: bool = False,
        init: str = "uniform",
        method: str = "fft",
        angles: str = "full",
        angle_size: int | None = None,
        device=None,
        dtype: torch.dtype | None = None,
        padding: int = 0,
    ) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        super().__init__(
            (size,),
            channels,
            real,
            mix,
            init,
            method,
            angles,
            angle_size,
            device,
            dtype,
            padding,
        )


class UnitaryConv2d(_EigenAngleConv):
    r"""Unitary 2-D circular convolution (doubly block circulant) with learnable eigen-angles.

    .. math::
        Y_c = \sum_{c'} M_{cc'}\;\operatorname{ifft2}\bigl(e^{i\Omega_{c'}}\odot
              \operatorname{fft2}(X_{c'})\bigr)

    A doubly block circulant matrix is diagonalised by :math:`F_H\otimes F_W`; with
    eigenvalues :math:`e^{i\Omega}` it is unitary and its kernel
    :math:`\operatorname{ifft2}(e^{i\Omega})` covers the whole image (a global receptive
    field). ``real=True`` makes :math:`\Omega(-k,-l) = -\Omega(k,l)`: an orthogonal
    operator on real images. ``mix=True`` adds a learnable unitary channel mix. The
    angles are ``"full"`` (:math:`HW` per channel), the phases of a ``k x k`` kernel's
    DFT (``"kernel"``: :math:`k^2` real or complex taps per channel, shifts by up to
    :math:`\pm(k-1)/2` pixels included) or a ``g x g`` grid interpolated to ``H x W``
    (``"grid"``: :math:`g^2` per channel); see :class:`UnitaryConv1d`.

    Args:
        size: ``(H, W)`` or an int for square images.
        channels: number of channels ``C``; each has its own angles.
        real: orthogonal variant for real images.
        mix: add a learnable unitary (orthogonal when ``real``) channel mix.
        init: ``"uniform"``, ``"zero"`` (identity) or ``"small"``.
        method: ``"fft"`` or ``"matmul"`` (dense ``HW x HW`` matrices per forward).
        angles: ``"full"``, ``"kernel"`` or ``"grid"``.
        angle_size: ``k`` (odd, default 3) or ``g`` (default 8).
        device: of the parameters.
        dtype: float32 or float64.
        padding: zeros on each side of both axes: the operator is the doubly block
            circulant of the padded grid ``(H + 2p, W + 2p)``, unitary there (a
            recurrence's state lives on that grid), and an ``(H, W)`` input is zero-padded
            first (Wolter & Yao's embedding of a linear convolution in a larger doubly
            block circulant, *Complex gated memory cells* §5.8.1). The operator is still
            a *circular* convolution of the padded grid, and its kernel, the inverse DFT
            of :math:`e^{i\Omega}`, spans the whole grid unless the operator is a pure
            shift: padding reduces the part of an edge signal that one application moves
            to the opposite edge, it does not remove it. With compact angles
            (``angles="kernel"``) the kernel's energy sits near its centre and the wrapped
            part falls quickly with ``p``; with free angles (``"full"``) a large part
            still wraps (``tests/test_unitary.py`` measures both against the dense padded
            operator).

    Shape:
        - Input: :math:`(*, C, H, W)`, or the padded :math:`(*, C, H + 2p, W + 2p)`, in
          the parameters' precision (another is a ``TypeError``).
        - Output: :math:`(*, C, H + 2p, W + 2p)`, complex (real when ``real=True``).

    Attributes:
        angles: (``"full"``) real eigen-angles of shape ``(C, H, W)``.
        kernel: (``"kernel"``) taps ``(C, k, k)``, complex unless ``real``.
        grid: (``"grid"``) real angles ``(C, g, g)``.

    Examples:
        >>> layer = UnitaryConv2d((32, 32), channels=3, real=True, mix=True)
        >>> x = torch.rand(2, 3, 32, 32)
        >>> y = layer(x)
        >>> y.dtype, torch.allclose(y.norm(), x.norm(), rtol=1e-5)
        (torch.float32, True)
        >>> shift = UnitaryConv2d(8, real=True, angles="kernel", init="zero")
        >>> with torch.no_grad():
        ...     _ = shift.kernel.zero_()
        ...     shift.kernel[0, 1, 2] = 1.0  # the tap at offset (0, +1)
        >>> image = torch.rand(1, 1, 8, 8)
        >>> torch.allclose(shift(image), image.roll(1, dims=-1), atol=1e-6)
        True
    """

    ndim = 2

    def __init__(
        self,
        size: int | tuple[int, int],
        channels: int = 1,
        real: bool = False,
        mix: bool = False,
        init: str = "uniform",
        method: str = "fft",
        angles: str = "full",
        angle_size: int | None = None,
        device=None,
        dtype: torch.dtype | None = None,
        padding: int = 0,
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
        super().__init__(
            size, channels, real, mix, init, method, angles, angle_size, device, dtype, padding
        )


class FourierRotation(Module):
    r"""Rotate images by a (learnable) angle with three Fourier-space shears.

    .. math::
        R_\theta = S_x\!\left(-\tan\tfrac\theta2\right) S_y(\sin\theta)
                   S_x\!\left(-\tan\tfrac\theta2\right)

    where each shear :math:`S` is a phase ramp in the DFT of one axis (shift theorem),
    hence unitary. See :func:`cunitary.functional.fourier_rotate`.
    (Wolter & Yao, *Complex gated memory cells*, 2018.)

    Args:
        angle: initial angle in radians.
        learnable: register the angle as a parameter.
        device: of the angle.
        dtype: of the angle (float64 by default: a float32 angle loses sub-pixel accuracy
            in the shears of large images).

    Shape:
        - Input: :math:`(*, H, W)`, real or complex.
        - Output: :math:`(*, H, W)`, complex.
    """

    def __init__(
        self,
        angle: float = 0.0,
        learnable: bool = True,
        device=None,
        dtype: torch.dtype | None = torch.float64,
    ) -> None:
        super().__init__()
        self.initial_angle = float(angle)
        value = torch.tensor(self.initial_angle, dtype=dtype, device=device)
        if learnable:
            self.angle = nn.Parameter(value)
        else:
            self.register_buffer("angle", value)

    def reset_parameters(self) -> None:
        """Back to the constructor's angle."""
        with torch.no_grad():
            self.angle.fill_(self.initial_angle)

    def forward(self, x: Tensor) -> Tensor:
        return F.fourier_rotate(x, self.angle)

    def inverse(self, y: Tensor) -> Tensor:
        """The exact inverse (the adjoint) of :meth:`forward`."""
        return F.fourier_rotate(y, self.angle, inverse=True)

    def extra_repr(self) -> str:
        return f"angle={self.angle.item():.4f}, learnable={isinstance(self.angle, nn.Parameter)}"
