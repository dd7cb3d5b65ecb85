r"""Complex activations as modules.

Learnable parameters are real and have shape ``()`` or ``(num_features,)``; in the latter
case they apply along the input's feature axis ``dim``: the last axis by default (a
recurrent state ``(B, F)``, a sequence ``(B, T, F)``), ``dim=1`` for the channels of
images ``(B, C, H, W)``, as in ``nn.BatchNorm2d``. Every activation is finite, in
value and gradient, at :math:`z = 0` and at :math:`|z| = 10^{-20}`. Wolter & Yao's analysis
of each one (holomorphy, derivative bounds) is checked numerically in
:mod:`cunitary.analysis` and tabulated in the docs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from . import functional as F
from ._module import Module

__all__ = [
    "PhaseReLU",
    "ZReLU",
    "ModReLU",
    "CReLU",
    "Cardioid",
    "PhaseAmplitude",
    "Hirose",
    "ModSigmoid",
    "CayleyActivation",
]


def _feature_parameter(
    num_features: int | None, value: float, learnable: bool = True, device=None, dtype=None
):
    if num_features is not None and (
        not isinstance(num_features, int) or isinstance(num_features, bool) or num_features < 1
    ):
        raise ValueError(f"num_features must be a positive int or None, got {num_features!r}")
    if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
        raise TypeError(
            f"dtype must be a real floating dtype (float32 or float64): the activation's "
            f"parameters are real and act on complex inputs of the matching precision; got "
            f"{dtype}"
        )
    shape = () if num_features is None else (num_features,)
    tensor = torch.full(shape, float(value), device=device, dtype=dtype)
    return nn.Parameter(tensor) if learnable else tensor


def _features_repr(p: Tensor, dim: int = -1) -> str:
    if p.dim() == 0:
        return ""
    return f"num_features={p.shape[0]}, " + ("" if dim == -1 else f"dim={dim}, ")


class _PerFeature(Module):
    """An activation whose parameters are scalars or one value per feature along ``dim``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"dim must be an int, got {type(dim).__name__}")
        self.dim = dim
        self._initial: dict[str, float] = {}

    def _feature(self, name: str, num_features, value: float, learnable: bool, factory) -> None:
        """Register a per-feature parameter (or buffer) and remember its initial value."""
        self._initial[name] = float(value)
        tensor = _feature_parameter(num_features, value, learnable, **factory)
        if learnable:
            setattr(self, name, tensor)
        else:
            self.register_buffer(name, tensor)

    def reset_parameters(self) -> None:
        """Refill every parameter with its constructor value."""
        with torch.no_grad():
            for name, value in self._initial.items():
                getattr(self, name).fill_(value)

    def _along(self, z: Tensor, *params: Tensor) -> list[Tensor]:
        """``params`` shaped to broadcast along ``z``'s feature axis, after checking it."""
        if not isinstance(z, Tensor):
            raise TypeError(f"z must be a torch.Tensor, got {type(z).__name__}")
        out = []
        for p in params:
            if p.dim() == 0:
                out.append(p)
                continue
            if not -z.dim() <= self.dim < z.dim() or z.shape[self.dim] != p.shape[0]:
                raise ValueError(
                    f"{type(self).__name__}(num_features={p.shape[0]}) applies along dim="
                    f"{self.dim}, so z.shape[{self.dim}] must be {p.shape[0]}; got z of "
                    f"shape {tuple(z.shape)}"
                )
            trailing = z.dim() - (self.dim % z.dim()) - 1
            out.append(p.view(-1, *([1] * trailing)))
        return out


class PhaseReLU(_PerFeature):
    r"""Phase-ReLU with learnable sectors.

    .. math::
        f(z) = |z|\;H\bigl(\sin(a\theta + b)\bigr)\;
               \bigl[H\bigl(\cos(c\theta + d)\bigr)\bigr]\;e^{i\theta},
        \qquad \theta = \arg z\in[0, 2\pi)

    Away from the sector boundaries the function is the identity or zero, hence
    holomorphic with derivative 0 or 1. The Heaviside step :math:`H` blocks the gradient
    to ``a, b, c, d``; with ``temperature`` :math:`\tau > 0` it is replaced by
    :math:`\sigma(s/\tau)`, a smooth surrogate through which they train. ``cosine=True``
    with ``a = c = 1, b = d = 0`` is zReLU. (Wolter & Yao, *Complex gated memory cells*, 2018.)

    Args:
        num_features: size of the feature axis for per-feature ``a, b (, c, d)``;
            ``None`` for scalars.
        a: initial sine-sector frequency (``a = 1, b = 0`` keeps the upper half plane).
        b: initial sine-sector offset.
        cosine: add the cosine factor with parameters ``c, d``.
        c: initial cosine-sector frequency.
        d: initial cosine-sector offset.
        temperature: 0 for the exact step (``H(0) = 1``), > 0 for the sigmoid surrogate.
            A plain attribute: anneal it during training.
        dim: the feature axis (``-1``; ``1`` for image channels).
        device: of the parameters.
        dtype: of the parameters.

    Shape:
        Input and output: :math:`(*)`, complex.

    Examples:
        >>> act = PhaseReLU(num_features=16, temperature=0.1)
        >>> act(torch.randn(4, 16, dtype=torch.complex64)).shape
        torch.Size([4, 16])
    """

    def __init__(
        self,
        num_features: int | None = None,
        a: float = 1.0,
        b: float = 0.0,
        cosine: bool = False,
        c: float = 1.0,
        d: float = 0.0,
        temperature: float = 0.0,
        dim: int = -1,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(dim)
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        factory = {"device": device, "dtype": dtype}
        self._feature("a", num_features, a, True, factory)
        self._feature("b", num_features, b, True, factory)
        self.cosine = cosine
        if cosine:
            self._feature("c", num_features, c, True, factory)
            self._feature("d", num_features, d, True, factory)
        self.temperature = float(temperature)

    def forward(self, z: Tensor) -> Tensor:
        if self.cosine:
            a, b, c, d = self._along(z, self.a, self.b, self.c, self.d)
        else:
            (a, b), c, d = self._along(z, self.a, self.b), None, None
        return F.phase_relu(z, a, b, c, d, temperature=self.temperature)

    def extra_repr(self) -> str:
        features = _features_repr(self.a, self.dim)
        return f"{features}cosine={self.cosine}, temperature={self.temperature}"


class ZReLU(Module):
    r"""zReLU: pass :math:`z` in the closed first quadrant, zero elsewhere.

    .. math::
        f(z) = \begin{cases} z, & \arg z\in[0, \pi/2]\\ 0, & \text{otherwise}\end{cases}

    (Guberman 2016; analysed by Wolter & Yao 2018.)
    """

    def __init__(self) -> None:  # no arguments (the docs showed nn.Module's *args, **kwargs)
        super().__init__()

    def forward(self, z: Tensor) -> Tensor:
        return F.zrelu(z)


class ModReLU(_PerFeature):
    r"""modReLU with a learnable (per-feature) bias.

    .. math::
        f(z) = \operatorname{ReLU}(|z| + b)\,\frac{z}{|z|}, \qquad f(0) = 0

    Keeps the phase and thresholds the modulus. Where it is active,
    :math:`\partial f/\partial z = 1 + \tfrac{b}{2|z|}` and
    :math:`|\partial f/\partial\bar z| = \tfrac{|b|}{2|z|}`: for :math:`b \le 0` the
    bound :math:`|f_z| + |f_{\bar z}| = 1` holds exactly (non-expansive), for
    :math:`b > 0` it is :math:`1 + b/|z|`, unbounded near the origin, which is the
    objection Wolter & Yao raise against it. (Arjovsky et al. 2016.)

    ``nonexpansive=True`` enforces Wolter & Yao's constraint (3), a derivative bounded by
    1, whatever the optimiser does: the map uses :math:`\min(b, 0)`, with the gradient
    passed straight through the clamp (a bias pushed above 0 acts as 0 and still gets
    the gradient that can bring it back, instead of freezing there). Off by default, as
    in Wolter & Yao's code and the results this library reproduces, where the bias is
    free.

    Args:
        num_features: size of the feature axis for a per-feature bias; ``None`` for a
            scalar.
        bias: initial bias (``<= 0`` when ``nonexpansive``).
        dim: the feature axis (``-1``; ``1`` for image channels).
        device: of the bias.
        dtype: of the bias (real: float32 or float64).
        nonexpansive: use :math:`\min(b, 0)`, so that :math:`|f_z| + |f_{\bar z}| \le 1`.

    Examples:
        >>> act = ModReLU(num_features=8, bias=-0.1, dim=1)  # one bias per channel
        >>> act(torch.randn(4, 8, 32, 32, dtype=torch.complex64)).shape
        torch.Size([4, 8, 32, 32])
    """

    def __init__(
        self,
        num_features: int | None = None,
        bias: float = 0.0,
        dim: int = -1,
        device=None,
        dtype: torch.dtype | None = None,
        nonexpansive: bool = False,
    ) -> None:
        super().__init__(dim)
        if not isinstance(nonexpansive, bool):
            raise TypeError(f"nonexpansive must be a bool, got {nonexpansive!r}")
        if nonexpansive and bias > 0:
            raise ValueError(f"bias must be <= 0 when nonexpansive=True, got {bias}")
        self.nonexpansive = nonexpansive
        self._feature("bias", num_features, bias, True, {"device": device, "dtype": dtype})

    def effective_bias(self) -> Tensor:
        """The bias the map applies: ``bias``, or :math:`\\min(b, 0)` with a
        straight-through gradient when ``nonexpansive``."""
        return _nonpositive(self.bias) if self.nonexpansive else self.bias

    def forward(self, z: Tensor) -> Tensor:
        (bias,) = self._along(z, self.effective_bias())
        return F.modrelu(z, bias)

    def extra_repr(self) -> str:
        extra = ", nonexpansive=True" if self.nonexpansive else ""
        return _features_repr(self.bias, self.dim).rstrip(", ") + extra


def _nonpositive(bias: Tensor) -> Tensor:
    """:math:`\\min(b, 0)` in value, the identity in gradient (a straight-through clamp)."""
    return bias - torch.relu(bias).detach()


class CReLU(Module):
    r"""cReLU: ReLU on the real and imaginary parts.

    .. math::
        f(z) = \operatorname{ReLU}(\Re z) + i\,\operatorname{ReLU}(\Im z)

    Holomorphic in the open first and third quadrants. (Trabelsi et al. 2018; analysed by
    Wolter & Yao 2018.)
    """

    def __init__(self) -> None:  # no arguments (the docs showed nn.Module's *args, **kwargs)
        super().__init__()

    def forward(self, z: Tensor) -> Tensor:
        return F.crelu(z)


class Cardioid(Module):
    r"""Complex cardioid: phase-dependent scaling.

    .. math::
        f(z) = \tfrac12\,(1 + \cos\arg z)\,z

    Reduces to the ReLU on the real line. (Virtue et al. 2017; analysed by Wolter & Yao 2018.)
    """

    def __init__(self) -> None:  # no arguments (the docs showed nn.Module's *args, **kwargs)
        super().__init__()

    def forward(self, z: Tensor) -> Tensor:
        return F.cardioid(z)


class PhaseAmplitude(Module):
    r"""Phase-amplitude squashing with a fixed scale.

    .. math::
        f(z) = \tanh(|z|/m)\,e^{i\arg z}

    Args:
        m: modulus scale (> 0).

    (Wolter & Yao 2018.)
    """

    def __init__(self, m: float = 1.0) -> None:
        super().__init__()
        if not (m > 0 and math.isfinite(m)):
            raise ValueError(f"m must be a finite number > 0, got {m}")
        self.m = float(m)

    def forward(self, z: Tensor) -> Tensor:
        return F.phase_amplitude(z, self.m)

    def extra_repr(self) -> str:
        return f"m={self.m}"


class Hirose(_PerFeature):
    r"""Hirose's amplitude-phase activation with a learnable scale.

    .. math::
        f(z) = \tanh\!\left(\frac{|z|}{m^2}\right) e^{i\arg z}

    Parameterising the scale by :math:`m^2` keeps it positive under unconstrained
    training. (Hirose 1994; used by Wolter & Yao 2018.)

    Args:
        num_features: size of the feature axis for a per-feature ``m``; ``None`` for a
            scalar.
        m: initial value (non-zero).
        learnable: make ``m`` a parameter.
        dim: the feature axis (``-1``; ``1`` for image channels).
        device: of ``m``.
        dtype: of ``m``.
    """

    def __init__(
        self,
        num_features: int | None = None,
        m: float = 1.0,
        learnable: bool = True,
        dim: int = -1,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(dim)
        if not (m != 0 and math.isfinite(m)):
            raise ValueError(f"m must be finite and non-zero, got {m}")
        self._feature("m", num_features, m, learnable, {"device": device, "dtype": dtype})

    def forward(self, z: Tensor) -> Tensor:
        (m,) = self._along(z, self.m)
        return F.hirose(z, m)

    def extra_repr(self) -> str:
        return _features_repr(self.m, self.dim).rstrip(", ")


class ModSigmoid(_PerFeature):
    r"""Real-valued gate of a complex pre-activation, with learnable mixing.

    .. math::
        g(z) = \sigma\bigl(\alpha\,\Re z + (1 - \alpha)\,\Im z\bigr)\in(0, 1)

    The output is real, so it multiplies a complex state without rotating it: the gate
    of complex gated RNNs. (Wolter & Yao 2018.)

    Args:
        num_features: size of the feature axis for a per-feature ``alpha``; ``None`` for a
            scalar.
        alpha: initial mixing weight.
        learnable: make ``alpha`` a parameter.
        dim: the feature axis (``-1``; ``1`` for image channels).
        device: of ``alpha``.
        dtype: of ``alpha``.
    """

    def __init__(
        self,
        num_features: int | None = None,
        alpha: float = 0.5,
        learnable: bool = True,
        dim: int = -1,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(dim)
        self._feature("alpha", num_features, alpha, learnable, {"device": device, "dtype": dtype})

    def forward(self, z: Tensor) -> Tensor:
        (alpha,) = self._along(z, self.alpha)
        return F.mod_sigmoid(z, alpha)

    def extra_repr(self) -> str:
        return _features_repr(self.alpha, self.dim).rstrip(", ")


class CayleyActivation(Module):
    r"""Cayley non-linearity: antiderivative of the Cayley transform on each half plane.

    .. math::
        f(z) = \begin{cases}
            z - 2i\,\operatorname{Log}(1 - iz), & \Im z\ge 0,\\
            z + 2i\,\operatorname{Log}(1 + iz), & \Im z < 0,
        \end{cases}
        \qquad |f'(z)| = \left|\frac{z - i}{z + i}\right|^{\pm 1}\le 1

    Holomorphic and non-expansive inside each half plane, discontinuous across the
    real axis. See :func:`cunitary.functional.cayley`. (Wolter & Yao 2018.)
    """

    def __init__(self) -> None:  # no arguments (the docs showed nn.Module's *args, **kwargs)
        super().__init__()

    def forward(self, z: Tensor) -> Tensor:
        return F.cayley(z)
