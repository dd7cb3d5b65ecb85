r"""Deep linear-recurrent sequence models: a unitary one and its two baselines.

One block, three temporal operators. Each block reads real features
:math:`x_t\in\mathbb R^d`, normalises them, mixes them over time with a *temporal
operator*, and adds a position-wise gated MLP on top, with a residual:

.. math::
    v = \operatorname{Temporal}\bigl(\operatorname{LayerNorm}(x)\bigr),\qquad
    y = x + W_o\bigl(\operatorname{GELU}(W_a v)\odot\sigma(W_b v)\bigr).

The operators differ only in where the poles of their linear recurrence lie:

* :class:`EigenAngleRecurrence` (``"unitary"``): a diagonal complex recurrence with
  eigenvalues :math:`e^{i\omega}` *on* the unit circle (learnable eigen-angles): an input
  is kept with modulus 1 for any number of steps.
* :class:`LRURecurrence` (``"lru"``): the Linear Recurrent Unit of Orvieto et al.,
  *Resurrecting Recurrent Neural Networks for Long Sequences* (2023), eigenvalues
  :math:`e^{-e^{\nu} + ie^{\theta}}` *inside* it, with their ring initialisation and
  :math:`\gamma` normalisation.
* :class:`ARMARecurrence` (``"arma"``): :class:`~cunitary.CausalARMA1d`, a causal
  moving average and a stable AR recursion per feature, poles inside the circle by
  construction.

:class:`DeepLinearRecurrence` stacks the blocks between a linear encoder and decoder and
is called like ``torch.nn.LSTM``: ``(output, state)``, with the state of every layer
returned so that a sequence can be continued step by step (generation).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._checks import check_int, check_tensor, complex_dtype_for, real_factory_dtype
from ._module import Module
from ._scan import decaying_scan, diagonal_scan
from .arma import CausalARMA1d

__all__ = [
    "EigenAngleRecurrence",
    "LRURecurrence",
    "ARMARecurrence",
    "RecurrentBlock",
    "DeepLinearRecurrence",
    "TEMPORAL_OPERATORS",
    "eigenvalue_parameters",
]


def _check_sequence(name: str, x: object, features: int, dtype: torch.dtype) -> Tensor:
    x = check_tensor(name, x)
    if x.is_complex() or not x.is_floating_point():
        raise TypeError(f"{name} must be real floating, got {x.dtype}")
    if x.dim() != 3 or x.shape[-1] != features:
        raise ValueError(f"{name} must have shape (B, T, {features}), got {tuple(x.shape)}")
    if x.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype} but the parameters are {dtype}: convert one of "
            "them (model.double(), or x.to(...))"
        )
    return x


def _check_state(state: object, batch: int, size: int, dtype: torch.dtype) -> Tensor | None:
    if state is None:
        return None
    state = check_tensor("state", state)
    if tuple(state.shape) != (batch, size) or state.dtype != dtype:
        raise ValueError(
            f"state must be a {dtype} tensor of shape ({batch}, {size}), got "
            f"{state.dtype} {tuple(state.shape)}"
        )
    return state


class _DiagonalRecurrence(Module):
    r"""Shared parts of the diagonal complex recurrences:
    :math:`h_t = \lambda\odot h_{t-1} + \gamma\odot B x_t`,
    :math:`y_t = \Re(C h_t) + D\odot x_t`."""

    def __init__(self, features: int, state_size: int, device, dtype) -> None:
        super().__init__()
        self.features = check_int("features", features)
        self.state_size = check_int("state_size", state_size)
        dtype = real_factory_dtype(dtype)
        cfactory = {"device": device, "dtype": complex_dtype_for(dtype)}
        self.input_weight = nn.Parameter(torch.empty(state_size, features, **cfactory))
        self.output_weight = nn.Parameter(torch.empty(features, state_size, **cfactory))
        self.skip = nn.Parameter(torch.empty(features, device=device, dtype=dtype))

    def _reset_maps(self) -> None:
        # Orvieto et al.'s scales: B ~ CN(0, 1/d), C ~ CN(0, 1/n), D ~ N(0, 1).
        with torch.no_grad():
            for weight, fan in ((self.input_weight, self.features),
                                (self.output_weight, self.state_size)):  # fmt: skip
                planes = torch.view_as_real(weight)
                planes.normal_(0.0, 1.0 / math.sqrt(2 * fan))
            self.skip.normal_()

    def _scan(self, u: Tensor, h0: Tensor | None) -> Tensor:
        raise NotImplementedError

    def _input_scale(self) -> Tensor | None:
        return None

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` ``(B, T, d)`` real, ``state`` ``(B, n)`` complex or None: ``(y, h_T)``."""
        x = _check_sequence("x", x, self.features, self.skip.dtype)
        state = _check_state(state, x.shape[0], self.state_size, self.input_weight.dtype)
        u = x.to(self.input_weight.dtype) @ self.input_weight.mT
        scale = self._input_scale()
        if scale is not None:
            u = u * scale
        if x.shape[1] == 0:
            h = u.new_zeros(x.shape[0], 0, self.state_size)
            last = u.new_zeros(x.shape[0], self.state_size) if state is None else state
        else:
            h = self._scan(u, state)
            last = h[:, -1]
        y = (h @ self.output_weight.mT).real + x * self.skip
        return y, last


class EigenAngleRecurrence(_DiagonalRecurrence):
    r"""A diagonal recurrence whose eigenvalues lie exactly on the unit circle.

    .. math::
        h_t = e^{i\omega}\odot h_{t-1} + B x_t,\qquad y_t = \Re(C h_t) + D\odot x_t,

    with :math:`x_t\in\mathbb R^d`, :math:`h_t\in\mathbb C^n`, learnable eigen-angles
    :math:`\omega\in\mathbb R^n` and complex :math:`B, C`. Every eigenvalue has modulus 1
    for every value of :math:`\omega`: the transition is unitary by construction, under
    any optimiser and in any precision, and an input :math:`s` steps back is kept with
    weight :math:`e^{is\omega}`, never decayed. All :math:`T` states are computed by
    :func:`~cunitary.functional.diagonal_unitary_scan` (adjoint backward, no drift with
    :math:`T`).

    The price of losing nothing: a constant input accumulates as
    :math:`|\sum_{k<t}e^{ik\omega}c| = |c\sin(t\omega/2)/\sin(\omega/2)|`, up to
    :math:`t|c|` for angles near 0. Angles start uniform in
    ``[min_phase, max_phase]`` (away from 0 by default), and the block's normalisation
    sees the output. An angle error :math:`\delta` moves the phase of an input :math:`T`
    steps back by :math:`T\delta`: give the angles a smaller learning rate at long
    :math:`T`.

    Args:
        features: :math:`d`.
        state_size: :math:`n`.
        min_phase: smallest initial angle (radians).
        max_phase: largest initial angle (radians).
        device: of the parameters.
        dtype: float32 or float64 (:math:`B, C` use the matching complex dtype).

    Shape:
        ``x`` ``(B, T, d)`` real and ``state`` ``(B, n)`` complex (zeros if omitted) ->
        ``(y, h_T)``, ``y`` ``(B, T, d)``.
    """

    def __init__(
        self,
        features: int,
        state_size: int,
        min_phase: float = 0.01,
        max_phase: float = math.pi,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(features, state_size, device, dtype)
        if not 0 <= min_phase < max_phase:
            raise ValueError(
                f"need 0 <= min_phase < max_phase, got min_phase={min_phase}, max_phase={max_phase}"
            )
        self.min_phase, self.max_phase = float(min_phase), float(max_phase)
        self.angles = nn.Parameter(torch.empty(state_size, device=device, dtype=self.skip.dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.angles.uniform_(self.min_phase, self.max_phase)
        self._reset_maps()

    def eigenvalues(self) -> Tensor:
        """:math:`e^{i\\omega}`, ``(n,)``."""
        return torch.polar(torch.ones_like(self.angles), self.angles)

    def _scan(self, u: Tensor, h0: Tensor | None) -> Tensor:
        return diagonal_scan(u, self.angles, h0)

    def extra_repr(self) -> str:
        return f"features={self.features}, state_size={self.state_size}"


class LRURecurrence(_DiagonalRecurrence):
    r"""The Linear Recurrent Unit (Orvieto et al. 2023) as its paper writes it.

    .. math::
        \lambda = \exp\bigl(-e^{\nu} + i e^{\theta}\bigr),\quad
        h_t = \lambda\odot h_{t-1} + \gamma\odot(B x_t),\quad
        y_t = \Re(C h_t) + D\odot x_t,

    :math:`|\lambda| = e^{-e^{\nu}} < 1` for every :math:`\nu`. Ring initialisation: with
    :math:`u_1, u_2\sim U[0, 1]`, :math:`\nu = \log(-\tfrac12\log(u_1(r_{max}^2 -
    r_{min}^2) + r_{min}^2))` (moduli uniform on the ring :math:`[r_{min}, r_{max}]`) and
    :math:`\theta = \log(\phi_{max}u_2)`; :math:`\gamma = \sqrt{1 - |\lambda|^2}`
    stored as :math:`\log\gamma` and trained. An input :math:`T` steps back is scaled by
    :math:`|\lambda|^T`: :math:`0.999^{1000} = 0.37`, :math:`0.999^{10^4} = 4.5\cdot10^{-5}`.

    Args:
        features: :math:`d`.
        state_size: :math:`n`.
        r_min: smallest initial modulus.
        r_max: largest initial modulus (< 1).
        max_phase: :math:`\phi_{max}`, largest initial angle.
        device: of the parameters.
        dtype: float32 or float64.

    Shape:
        As :class:`EigenAngleRecurrence`.
    """

    def __init__(
        self,
        features: int,
        state_size: int,
        r_min: float = 0.9,
        r_max: float = 0.999,
        max_phase: float = 2 * math.pi,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(features, state_size, device, dtype)
        if not 0 <= r_min < r_max < 1:
            raise ValueError(f"need 0 <= r_min < r_max < 1, got r_min={r_min}, r_max={r_max}")
        if not max_phase > 0:
            raise ValueError(f"max_phase must be > 0, got {max_phase}")
        self.r_min, self.r_max, self.max_phase = float(r_min), float(r_max), float(max_phase)
        real = {"device": device, "dtype": self.skip.dtype}
        self.nu_log = nn.Parameter(torch.empty(state_size, **real))
        self.theta_log = nn.Parameter(torch.empty(state_size, **real))
        self.gamma_log = nn.Parameter(torch.empty(state_size, **real))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            u1 = torch.rand_like(self.nu_log)
            u2 = torch.rand_like(self.theta_log)
            ring = u1 * (self.r_max**2 - self.r_min**2) + self.r_min**2
            self.nu_log.copy_(torch.log(-0.5 * torch.log(ring)))
            self.theta_log.copy_(torch.log(self.max_phase * u2))
            modulus = torch.exp(-torch.exp(self.nu_log))
            self.gamma_log.copy_(torch.log(torch.sqrt(1 - modulus**2)))
        self._reset_maps()

    def eigenvalues(self) -> Tensor:
        """:math:`\\lambda`, ``(n,)``."""
        return torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))

    def _input_scale(self) -> Tensor:
        return torch.exp(self.gamma_log)

    def _scan(self, u: Tensor, h0: Tensor | None) -> Tensor:
        return decaying_scan(u, self.eigenvalues().to(u.dtype), h0)

    def extra_repr(self) -> str:
        return (
            f"features={self.features}, state_size={self.state_size}, r_min={self.r_min}, "
            f"r_max={self.r_max}, max_phase={self.max_phase:.4g}"
        )


class ARMARecurrence(Module):
    r""":class:`~cunitary.CausalARMA1d` (``d -> d``) as a block's temporal operator.

    .. math::
        y_t + \sum_{k=1}^{p} a_k\odot y_{t-k} = \sum_{j=0}^{K-1} W_j x_{t-j} + b,

    every AR polynomial stable by construction (poles strictly inside the circle). It
    filters whole sequences: it keeps no state between calls, so a
    :class:`DeepLinearRecurrence` built on it cannot be continued step by step.

    Args:
        features: :math:`d`.
        kernel_size: moving-average taps :math:`K`.
        ar_order: :math:`p`.
        device: of the parameters.
        dtype: float32 or float64.
    """

    def __init__(
        self,
        features: int,
        kernel_size: int = 3,
        ar_order: int = 2,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.features = check_int("features", features)
        self.filter = CausalARMA1d(
            features, features, kernel_size, ar_order, device=device,
            dtype=real_factory_dtype(dtype),
        )  # fmt: skip

    def reset_parameters(self) -> None:
        """The moving average's default initialisation, AR at zero."""
        self.filter.reset_parameters()

    def extra_repr(self) -> str:
        return f"features={self.features}"

    def forward(self, x: Tensor, state: None = None) -> tuple[Tensor, None]:
        if state is not None:
            raise ValueError(
                "the ARMA temporal operator filters whole sequences and has no state to "
                "continue from; pass state=None"
            )
        x = _check_sequence("x", x, self.features, self.filter.ma.weight.dtype)
        return self.filter(x), None


#: The temporal operators a block can use, by name.
TEMPORAL_OPERATORS = {
    "unitary": EigenAngleRecurrence,
    "lru": LRURecurrence,
    "arma": ARMARecurrence,
}


class RecurrentBlock(Module):
    r"""Pre-norm residual block: a temporal operator, then a position-wise gated MLP.

    .. math::
        v = \operatorname{Temporal}\bigl(\operatorname{LayerNorm}(x)\bigr),\qquad
        y = x + \operatorname{Dropout}\Bigl(W_o\bigl(\operatorname{GELU}(W_a v)\odot
        \sigma(W_b v)\bigr)\Bigr)

    Args:
        temporal: ``"unitary"``, ``"lru"`` or ``"arma"`` (built here with ``features``,
            ``device``, ``dtype`` and ``temporal_options``), or a module
            ``(B, T, d), state -> ((B, T, d), state)``.
        features: :math:`d`.
        dropout: on the MLP's output, while training.
        device: of the parameters.
        dtype: float32 or float64.
        **temporal_options: for a named operator (e.g. ``state_size``, default
            ``features``; ``max_phase``).
    """

    def __init__(
        self,
        temporal: str | nn.Module,
        features: int,
        dropout: float = 0.0,
        device=None,
        dtype: torch.dtype | None = None,
        **temporal_options,
    ) -> None:
        super().__init__()
        if isinstance(temporal, str):
            if temporal not in TEMPORAL_OPERATORS:
                raise ValueError(
                    f"temporal must be one of {tuple(TEMPORAL_OPERATORS)} or a module, got "
                    f"{temporal!r}"
                )
            if temporal != "arma":
                temporal_options.setdefault("state_size", features)
            temporal = TEMPORAL_OPERATORS[temporal](
                features, **temporal_options, device=device, dtype=dtype
            )
        elif temporal_options:
            raise TypeError("temporal_options are for a named temporal operator, not a module")
        if not isinstance(temporal, nn.Module):
            raise TypeError(
                f"temporal must be a name or an nn.Module, got {type(temporal).__name__}"
            )
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, int | float)
            or not (0 <= dropout < 1)
        ):
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        factory = {"device": device, "dtype": real_factory_dtype(dtype)}
        self.norm = nn.LayerNorm(features, **factory)
        self.temporal = temporal
        self.gates = nn.Linear(features, 2 * features, **factory)
        self.out = nn.Linear(features, features, **factory)
        self.dropout = nn.Dropout(dropout)

    def reset_parameters(self) -> None:
        """Every parameter as the constructor made it."""
        self.norm.reset_parameters()
        self.temporal.reset_parameters()
        self.gates.reset_parameters()
        self.out.reset_parameters()

    def extra_repr(self) -> str:
        return f"features={self.norm.normalized_shape[0]}"

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        v, state = self.temporal(self.norm(x), state)
        value, gate = self.gates(v).chunk(2, dim=-1)
        return x + self.dropout(self.out(nn.functional.gelu(value) * torch.sigmoid(gate))), state


class DeepLinearRecurrence(Module):
    r"""A stack of :class:`RecurrentBlock` s between a linear encoder and decoder.

    .. math::
        x^{(0)} = W_{in}\,x,\qquad x^{(k)} = \operatorname{Block}_k(x^{(k-1)}),\qquad
        y = W_{out}\operatorname{LayerNorm}(x^{(L)}) + b_{out}

    with every block's temporal operator chosen by ``temporal`` (the unitary one, or the
    LRU and ARMA baselines; only that operator differs between them). Called like
    ``torch.nn.LSTM``: it returns ``(output, state)``, ``state`` the list of every
    layer's last recurrent state, and a call with that state continues the sequence
    exactly where it stopped (one step at a time for generation), for the ``"unitary"``
    and ``"lru"`` operators.

    Args:
        input_size: input features.
        d_model: features inside the blocks.
        output_size: output features.
        num_layers: blocks.
        temporal: ``"unitary"``, ``"lru"`` or ``"arma"``.
        state_size: complex state size :math:`n` of the diagonal recurrences (default
            ``d_model``); ignored by ``"arma"``.
        batch_first: ``(B, T, F)`` if True (default), else ``(T, B, F)``.
        dropout: in every block.
        device: of the parameters.
        dtype: float32 or float64.
        **temporal_options: passed to the temporal operator (e.g. ``max_phase``,
            ``r_min``, ``kernel_size``).

    Inputs: input, state
        - **input**: :math:`(B, T, F_{in})` (or :math:`(T, B, F_{in})`), real.
        - **state**: a list of ``num_layers`` ``(B, n)`` complex states, or None (zeros).

    Outputs: output, state
        - **output**: :math:`(B, T, F_{out})` (or :math:`(T, B, F_{out})`).
        - **state**: every layer's state after the last step (None entries for ARMA).

    Examples:
        >>> model = DeepLinearRecurrence(10, 32, 9, num_layers=2)
        >>> x = torch.randn(4, 100, 10)
        >>> y, state = model(x)
        >>> y.shape, len(state), state[0].shape
        (torch.Size([4, 100, 9]), 2, torch.Size([4, 32]))
        >>> y_next, state = model(torch.randn(4, 1, 10), state)  # one more step
    """

    def __init__(
        self,
        input_size: int,
        d_model: int,
        output_size: int,
        num_layers: int = 2,
        temporal: str = "unitary",
        state_size: int | None = None,
        batch_first: bool = True,
        dropout: float = 0.0,
        device=None,
        dtype: torch.dtype | None = None,
        **temporal_options,
    ) -> None:
        super().__init__()
        if temporal not in TEMPORAL_OPERATORS:
            raise ValueError(
                f"temporal must be one of {tuple(TEMPORAL_OPERATORS)}, got {temporal!r}"
            )
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first must be a bool, got {batch_first!r}")
        self.input_size = check_int("input_size", input_size)
        self.d_model = check_int("d_model", d_model)
        self.output_size = check_int("output_size", output_size)
        self.num_layers = check_int("num_layers", num_layers)
        self.temporal = temporal
        self.batch_first = batch_first
        factory = {"device": device, "dtype": real_factory_dtype(dtype)}
        if temporal != "arma":
            temporal_options = {"state_size": state_size or d_model, **temporal_options}
        self.encoder = nn.Linear(input_size, d_model, **factory)
        self.blocks = nn.ModuleList(
            RecurrentBlock(temporal, d_model, dropout, **factory, **temporal_options)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model, **factory)
        self.decoder = nn.Linear(d_model, output_size, **factory)

    def reset_parameters(self) -> None:
        """Every parameter as the constructor made it (the same random draws in order)."""
        self.encoder.reset_parameters()
        for block in self.blocks:
            block.reset_parameters()
        self.norm.reset_parameters()
        self.decoder.reset_parameters()

    def forward(
        self, x: Tensor, state: list[Tensor | None] | None = None
    ) -> tuple[Tensor, list[Tensor | None]]:
        x = check_tensor("input", x)
        if x.dim() != 3:
            raise ValueError(f"input must be (B, T, F) or (T, B, F), got {tuple(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)
        if state is None:
            state = [None] * self.num_layers
        if not isinstance(state, list | tuple) or len(state) != self.num_layers:
            raise ValueError(f"state must be a list of {self.num_layers} states (or None)")
        h = _check_sequence("input", x, self.input_size, self.encoder.weight.dtype)
        h = self.encoder(h)
        finals = []
        for block, layer_state in zip(self.blocks, state, strict=True):
            h, final = block(h, layer_state)
            finals.append(final)
        y = self.decoder(self.norm(h))
        return (y if self.batch_first else y.transpose(0, 1)), finals

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.d_model}, {self.output_size}, "
            f"num_layers={self.num_layers}, temporal={self.temporal!r}"
        )


def eigenvalue_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters that place ``model``'s recurrence eigenvalues: every
    :class:`EigenAngleRecurrence`'s angles, every :class:`LRURecurrence`'s
    :math:`\\nu, \\theta` and :math:`\\gamma`. At long :math:`T` give them a smaller
    learning rate than the rest (an angle error :math:`\\delta` moves the phase of an input
    :math:`T` steps back by :math:`T\\delta`)."""
    found = []
    for module in model.modules():
        if isinstance(module, EigenAngleRecurrence):
            found.append(module.angles)
        elif isinstance(module, LRURecurrence):
            found += [module.nu_log, module.theta_log, module.gamma_log]
    return found
