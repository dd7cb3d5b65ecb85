r"""Recurrent cells with unitary (orthogonal) state transitions, and their sequence modules.

Every cell maps ``(x_t, h) -> h``. Sequence modules are called like ``torch.nn.GRU``, with
one deliberate difference: ``batch_first=True`` is the default here (torch's is
``False``), because every sequence in this library is ``(B, T, F)``. They take
``(B, T, F)`` (or ``(T, B, F)`` with ``batch_first=False``), or an unbatched
``(T, F)``, an optional ``h0`` of shape ``(num_layers, B, H)``, and return
``(output, h_n)``. Input projections of the whole sequence are computed with one matmul
before the time loop; the transition is prepared once per sequence (a dense matrix for
small states, see :data:`DENSE_TRANSITION_MAX`), so the loop body is a few fused ops.
(Wolter & Yao, *Complex gated memory cells*, 2018.)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import orthogonal

from . import functional as F
from . import init as cinit
from ._checks import (
    check_int,
    check_numeric,
    check_precision,
    check_tensor,
    complex_dtype_for,
    complex_dtype_of,
    real_dtype_of,
    real_factory_dtype,
)
from ._fused import gated_scan
from ._module import Module
from ._unitarity import project_unitary_, tolerance, unitarity_error
from .activations import Hirose, ModReLU

__all__ = [
    "DENSE_TRANSITION_MAX",
    "UnitaryTransition",
    "ComplexReadout",
    "ComplexGatedCell",
    "ComplexGatedRNN",
    "UnitaryRNNCell",
    "UnitaryRNN",
    "RotationGRUCell",
    "RotationGRU",
    "LinearUnitaryRecurrence",
]

#: Largest circulant state size for which a sequence applies the transition as a dense
#: matrix built once per sequence rather than two FFTs per step. From
#: ``python -m experiments.bench unitary`` on a 2-core CPU: the dense matrix wins up to
#: n = 64-128 (16-step recurrence, batch 64).
DENSE_TRANSITION_MAX = 128

_TRANSITIONS = ("circulant", "full", "stiefel", "identity")
_UNITARY_INITS = ("haar", "arjovsky")


class UnitaryTransition(Module):
    r"""A learnable unitary (orthogonal when ``real``) ``H x H`` state transition :math:`U`.

    * ``"circulant"``: :math:`U = F^{-1}\operatorname{diag}(e^{i\omega})F`, eigen-angles
      :math:`\omega\in\mathbb R^H` (:class:`~cunitary.UnitaryConv1d`'s parameterisation);
      ``real=True`` uses odd-symmetric angles (an orthogonal circulant).
    * ``"full"``: a dense unitary matrix kept on the manifold by
      :func:`torch.nn.utils.parametrizations.orthogonal` (``orthogonal_map`` is
      ``"matrix_exp"`` or ``"cayley"``); any optimiser.
    * ``"stiefel"``: a dense unitary matrix stored as a plain parameter ``weight``
      (:math:`U` itself), meant to be moved by an optimiser that stays on the unitary
      group: :class:`~cunitary.optim.StiefelCayley` (Wolter & Yao's set-up; find such
      parameters with :func:`~cunitary.optim.stiefel_parameters`). Any other optimiser
      moves it off the group; the next forward then finds
      :math:`\|U^HU - I\|_F` above rounding (``10 n \epsilon``), replaces ``weight`` by
      the nearest unitary matrix (its polar factor) and warns, once per module: the
      layer computes with a unitary :math:`U` whatever moved it, and a user who meant
      Cayley steps learns that something else stepped.
    * ``"identity"``: :math:`U = I`.

    Dense transitions start Haar-random (``init="haar"``) or from Arjovsky et al.'s
    product :math:`D_3R_2D_2\Pi R_1D_1` (``init="arjovsky"``, see
    :func:`~cunitary.init.arjovsky_unitary_`).

    :meth:`operator` returns the map :math:`h\mapsto Uh` for one sequence: a dense matrix
    built once (all kinds, and circulants with ``H <= DENSE_TRANSITION_MAX``) or FFTs.
    """

    def __init__(
        self,
        hidden_size: int,
        kind: str = "circulant",
        real: bool = False,
        orthogonal_map: str = "matrix_exp",
        init: str = "haar",
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.hidden_size = check_int("hidden_size", hidden_size)
        if kind not in _TRANSITIONS:
            raise ValueError(f"transition must be one of {_TRANSITIONS}, got {kind!r}")
        if init not in _UNITARY_INITS:
            raise ValueError(f"init must be one of {_UNITARY_INITS}, got {init!r}")
        if init == "arjovsky" and real:
            raise ValueError("init='arjovsky' makes complex matrices; use init='haar' with real")
        self.init = init
        if orthogonal_map not in ("matrix_exp", "cayley"):
            raise ValueError(
                f"orthogonal_map must be 'matrix_exp' or 'cayley', got {orthogonal_map!r}"
            )
        dtype = real_factory_dtype(dtype)
        self.kind = kind
        self.real = bool(real)
        # An empty buffer follows .to(device) and .double(): the identity is built where the
        # module is, in its precision.
        self.register_buffer(
            "_anchor", torch.empty(0, device=device, dtype=dtype), persistent=False
        )
        self.orthogonal_map = orthogonal_map
        if kind == "circulant":
            self.angles = nn.Parameter(torch.empty(hidden_size, device=device, dtype=dtype))
        elif kind == "full":
            weight_dtype = dtype if self.real else complex_dtype_for(dtype)
            holder = nn.Module()  # no random draw here: reset_parameters() makes them
            holder.weight = nn.Parameter(torch.eye(hidden_size, device=device, dtype=weight_dtype))
            self.linear = orthogonal(holder, orthogonal_map=orthogonal_map)
        elif kind == "stiefel":
            weight_dtype = dtype if self.real else complex_dtype_for(dtype)
            self.weight = nn.Parameter(torch.eye(hidden_size, device=device, dtype=weight_dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random angles in :math:`[-\\pi, \\pi)`, or a random unitary (orthogonal)
        matrix as ``init`` says; nothing for the identity."""
        if self.kind == "circulant":
            cinit.uniform_angles_(self.angles)
        elif self.kind in ("full", "stiefel"):
            start = torch.empty_like(self.matrix())
            with torch.no_grad():
                if self.init == "arjovsky":
                    cinit.arjovsky_unitary_(start)
                elif start.is_complex():
                    cinit.haar_unitary_(start)
                else:
                    nn.init.orthogonal_(start)
                if self.kind == "full":
                    self.linear.weight = start
                else:
                    self.weight.copy_(start)

    def forward(self, h: Tensor) -> Tensor:
        """:math:`Uh` for ``h`` ``(*, H)``."""
        return self.operator(h.dtype)(h)

    def _stored_unitary_factors(self) -> list[Tensor]:
        return [self.weight] if self.kind == "stiefel" else []

    def _back_on_the_group(self) -> None:
        """Re-project a ``"stiefel"`` weight that left the unitary group (see the class
        text); nothing while it is unitary to rounding."""
        error = unitarity_error(self.weight)
        if error <= tolerance(self.weight):
            return
        if not getattr(self, "_warned_off_group", False):
            self._warned_off_group = True
            warnings.warn(
                f"UnitaryTransition(kind='stiefel'): the weight left the unitary group "
                f"(||U^H U - I||_F = {error:.3g}), moved by something other than "
                "cunitary.optim.StiefelCayley; it is replaced by the nearest unitary matrix "
                "before every forward that finds it off the group. Train it with "
                "StiefelCayley (cunitary.optim.stiefel_parameters(model)), or use "
                "transition='full' for any optimiser.",
                stacklevel=4,
            )
        project_unitary_(self.weight)

    def matrix(self, dtype: torch.dtype | None = None) -> Tensor:
        """Dense :math:`U`, ``(H, H)``; complex unless ``real``."""
        if self.kind == "circulant":
            mat = F.circulant_matrix(self.angles, real=self.real)
        elif self.kind == "full":
            mat = self.linear.weight
        elif self.kind == "stiefel":
            self._back_on_the_group()
            mat = self.weight
        else:
            mat = torch.eye(
                self.hidden_size,
                dtype=self._anchor.dtype if self.real else complex_dtype_for(self._anchor.dtype),
                device=self._anchor.device,
            )
        return mat if dtype is None else mat.to(dtype)

    def operator(self, dtype: torch.dtype) -> Callable[[Tensor], Tensor]:
        """The map :math:`h\\mapsto Uh` in ``dtype`` for one sequence."""
        if self.kind == "identity":
            return lambda h: h
        if self.kind == "circulant" and self.hidden_size > DENSE_TRANSITION_MAX:
            real_dtype = (
                torch.float64 if dtype in (torch.float64, torch.complex128) else torch.float32
            )
            phasor = F._phasors(self.angles.to(real_dtype), 1, self.real)
            return lambda h: F._spectral_apply(h, phasor, 1, self.real)
        mat_t = self.matrix(dtype).mT
        return lambda h: h @ mat_t

    def extra_repr(self) -> str:
        return (
            f"hidden_size={self.hidden_size}, kind={self.kind!r}, real={self.real}"
            + (f", orthogonal_map={self.orthogonal_map!r}" if self.kind == "full" else "")
            + (f", init={self.init!r}" if self.init != "haar" else "")
        )


class ComplexReadout(Module):
    r"""Map a complex state to real features: :math:`y = W[\Re h; \Im h] + b`.

    Args:
        in_features: complex features :math:`H`.
        out_features: real outputs.
        bias: learn :math:`b`.
        dim: the feature axis (``-1``; ``1`` for the channels of ``(B, C, H, W)``, a
            per-pixel readout).
        device: of the parameters.
        dtype: float32 or float64.

    Shape:
        Input :math:`(*, H)` complex (:math:`H` along ``dim``); output the same shape with
        ``out`` real features along ``dim``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device=None,
        dtype: torch.dtype | None = None,
        dim: int = -1,
    ) -> None:
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"dim must be an int, got {dim!r}")
        self.dim = dim
        self.in_features = check_int("in_features", in_features)
        self.out_features = check_int("out_features", out_features)
        # The map reads [Re h, Im h] and is real: a complex dtype is refused here, not at
        # the first forward.
        self.linear = nn.Linear(
            2 * in_features, out_features, bias=bias, device=device,
            dtype=real_factory_dtype(dtype),
        )  # fmt: skip

    def reset_parameters(self) -> None:
        self.linear.reset_parameters()

    def extra_repr(self) -> str:
        extra = f", dim={self.dim}" if self.dim != -1 else ""
        return f"in_features={self.in_features}, out_features={self.out_features}{extra}"

    def forward(self, h: Tensor) -> Tensor:
        h = check_tensor("h", h)
        if not h.is_complex():
            raise TypeError(f"h must be complex, got {h.dtype}")
        if h.dim() == 0 or h.shape[self.dim] != self.in_features:
            raise ValueError(
                f"h must have {self.in_features} features along dim={self.dim}, got shape "
                f"{tuple(h.shape)}"
            )
        h = h.movedim(self.dim, -1)
        return self.linear(torch.cat([h.real, h.imag], dim=-1)).movedim(-1, self.dim)


def _make_activation(
    activation: str | nn.Module, hidden_size: int | None, nonexpansive: bool = False, **factory
) -> nn.Module:
    if not isinstance(nonexpansive, bool):
        raise TypeError(f"nonexpansive must be a bool, got {nonexpansive!r}")
    if nonexpansive and activation != "modrelu":
        raise ValueError(
            f"nonexpansive=True bounds modReLU's derivative; activation must be 'modrelu', "
            f"got {activation!r}"
        )
    if isinstance(activation, nn.Module):
        return activation
    if activation == "modrelu":
        return ModReLU(hidden_size, bias=0.0, nonexpansive=nonexpansive, **factory)
    if activation == "hirose":
        return Hirose(hidden_size, m=1.0, **factory)
    raise ValueError(f"activation must be 'modrelu', 'hirose' or an nn.Module, got {activation!r}")


class _Cell(Module):
    """A recurrent cell split into the three parts a fast sequence loop needs."""

    state_is_complex = True

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = check_int("input_size", input_size)
        self.hidden_size = check_int("hidden_size", hidden_size)

    def project(self, x: Tensor) -> Tensor:
        """Input-dependent pre-activations for all time steps at once."""
        raise NotImplementedError

    def prepare(self, dtype: torch.dtype) -> object:
        """Per-sequence context (e.g. the transition as a dense matrix)."""
        raise NotImplementedError

    def step(self, projected: Tensor, h: Tensor, context: object) -> Tensor:
        raise NotImplementedError

    def fused_sequence(self, x: Tensor, h0: Tensor) -> Tensor | None:
        """All states for the layer input ``x`` ``(B, T, F)`` at once by a faster route
        (its own input projection included), or None to use the step loop."""
        return None

    def state_dtype(self, x: Tensor) -> torch.dtype:
        """The state's dtype for input ``x``, which must match the parameters' precision."""
        param = next(self.parameters(), None)
        if param is not None and real_dtype_of(param) != real_dtype_of(x):
            raise TypeError(
                f"input has dtype {x.dtype} but the parameters are {param.dtype}; convert "
                f"one of them (e.g. build with dtype=torch.float64)"
            )
        return complex_dtype_of(x) if self.state_is_complex else x.dtype

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """One step: ``x`` of shape ``(B, input_size)`` (or ``(input_size,)``), ``h`` of shape
        ``(B, hidden_size)``; returns the new state."""
        x = _check_features("x", x, self.input_size, self.state_is_complex)
        unbatched = x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
            h = None if h is None else h.unsqueeze(0)
        dtype = self.state_dtype(x)
        if h is None:
            h = torch.zeros(x.shape[0], self.hidden_size, dtype=dtype, device=x.device)
        else:
            h = _check_features("h", h, self.hidden_size, self.state_is_complex)
            if tuple(h.shape) != (x.shape[0], self.hidden_size):
                raise ValueError(
                    f"h must have shape {(x.shape[0], self.hidden_size)} to match x, got "
                    f"{tuple(h.shape)}"
                )
            h = _same_precision("h", h, dtype)
        out = self.step(self.project(x), h, self.prepare(dtype))
        return out.squeeze(0) if unbatched else out


def _same_precision(name: str, h: Tensor, dtype: torch.dtype) -> Tensor:
    """Cast a real state to complex, but refuse to change its precision silently."""
    if real_dtype_of(h) != (
        torch.float64 if dtype in (torch.float64, torch.complex128) else torch.float32
    ):
        raise TypeError(
            f"{name} has dtype {h.dtype} but the input makes the state {dtype}; pass both "
            "in the same precision"
        )
    return h.to(dtype)


def _check_features(name: str, x: object, size: int, allow_complex: bool) -> Tensor:
    x = check_tensor(name, x)
    check_numeric(name, x, allow_complex=allow_complex)
    if x.dim() == 0 or x.shape[-1] != size:
        raise ValueError(
            f"{name} must have {size} features in its last dimension, got shape {tuple(x.shape)}"
        )
    return x


#: Gate families of :class:`ComplexGatedCell`; the first three read a real linear
#: combination of :math:`\Re g` and :math:`\Im g` (the fused loop's case).
GATES = (
    "mod_sigmoid_per_unit",
    "mod_sigmoid",
    "mod_sigmoid_beta",
    "mod_sigmoid_sum",
    "mod_sigmoid_prod",
    "phase_hirose",
    "none",
)
_LINEAR_GATES = GATES[:3]
_CELL_INITS = ("glorot", "wolter_yao")
# Each gate family's learnable scalars (one per gate r, z) and their start: a constant
# or a uniform range (Wolter & Yao's code).
_GATE_PARAMETERS: dict[str, dict[str, float | tuple[float, float]]] = {
    "mod_sigmoid": {"gate_alpha": 0.0},
    "mod_sigmoid_beta": {"gate_alpha": 0.0, "gate_beta": 1.0},
    "mod_sigmoid_sum": {"gate_alpha": 0.0},
    "phase_hirose": {"gate_m": (0.9, 1.1), "gate_a": (1.9, 2.1), "gate_b": (3.9, 4.1)},
}


class ComplexGatedCell(_Cell):
    r"""Complex gated recurrent cell (cgRNN, Wolter & Yao 2018) with a unitary transition.

    .. math::
        \begin{aligned}
        r_t &= \sigma_{g}\bigl(W_r x_t + V_r h_{t-1} + b_r\bigr), \qquad
        z_t  = \sigma_{g}\bigl(W_z x_t + V_z h_{t-1} + b_z\bigr),\\
        c_t &= f\bigl(W_c x_t + U\,(r_t \odot h_{t-1}) + b_c\bigr),\\
        h_t &= (1 - z_t)\odot h_{t-1} + z_t\odot c_t,
        \end{aligned}

    where :math:`\sigma_g` maps a complex pre-activation to a real gate in
    :math:`(0, 1)`, :math:`f` is a complex activation (modReLU by default, or Hirose)
    and :math:`U` a unitary transition. The gate families (``gate``), with
    :math:`\sigma` the logistic function and every :math:`a, b, m` one learnable scalar
    per gate (:math:`r` and :math:`z` apart) unless said otherwise:

    * ``"mod_sigmoid_per_unit"`` (default): :math:`\sigma(\alpha\Re g + (1-\alpha)\Im g)`
      with one unbounded :math:`\alpha` per unit, starting at 1/2;
    * ``"mod_sigmoid"``: the same with :math:`\alpha = \sigma(a)`, :math:`a_0 = 0`
      (Wolter & Yao's default);
    * ``"mod_sigmoid_beta"``: :math:`\sigma(\sigma(a)\Re g + \sigma(b)\Im g)`,
      :math:`a_0 = 0, b_0 = 1`;
    * ``"mod_sigmoid_sum"``: :math:`\sigma(a)\,\sigma(\Re g) + (1-\sigma(a))\,\sigma(\Im g)`;
    * ``"mod_sigmoid_prod"``: :math:`\sigma(\Re g)\,\sigma(\Im g)`;
    * ``"phase_hirose"``: :math:`\tanh(|g|/m^2)\,\sigma(a\arg g + b)`,
      :math:`m_0\sim U(0.9, 1.1), a_0\sim U(1.9, 2.1), b_0\sim U(3.9, 4.1)`;
    * ``"none"``: :math:`r = z = 1`, i.e. :math:`h_t = f(W_c x_t + U h_{t-1} + b_c)`
      (a unitary evolution RNN; the cell then has no gate weights).

    Gate biases start at ``gate_bias`` :math:`\cdot(1 + i)` (open gates,
    :math:`\sigma(4)\approx0.98`): the state then flows through :math:`U`, whose
    unit-modulus eigenvalues neither amplify nor damp it. Real inputs enter as
    :math:`x + 0i`.

    ``init="glorot"`` draws complex weights with :func:`~cunitary.init.complex_glorot_`
    and a zero modReLU bias; ``init="wolter_yao"`` is Wolter & Yao's code: every
    ``in x out`` block (:math:`W_r, W_z, W_c, V_r, V_z`) from
    :func:`~cunitary.init.tf_glorot_uniform_` with fans :math:`(\text{in}\cdot H,
    2\,\text{in})`, the modReLU bias from :math:`U(-0.01, 0.01)` and a dense :math:`U`
    from :func:`~cunitary.init.arjovsky_unitary_`.

    Args:
        input_size: features of :math:`x_t`.
        hidden_size: complex state size :math:`H`.
        transition: ``"circulant"`` (eigen-angles), ``"full"`` (dense unitary,
            parametrized), ``"stiefel"`` (dense unitary, a plain parameter for
            :class:`~cunitary.optim.StiefelCayley`) or ``"identity"``.
        activation: ``"modrelu"``, ``"hirose"`` or a module applied to :math:`(B, H)`.
        gate_bias: initial real and imaginary part of the gate biases.
        orthogonal_map: ``"matrix_exp"`` or ``"cayley"`` for ``transition="full"``.
        gate: one of the gate families above.
        activation_bias: ``"per_unit"`` or ``"scalar"``: the modReLU bias's shape.
        init: ``"glorot"`` or ``"wolter_yao"``.
        nonexpansive: modReLU with :math:`\min(b, 0)`, a derivative bounded by 1 (Wolter &
            Yao's constraint (3); see :class:`~cunitary.ModReLU`). Off by default, as in
            their code.
        device: of the parameters.
        dtype: float32 or float64 (complex weights use the matching complex dtype).

    Inputs: x, h
        - **x**: :math:`(B, I)` or :math:`(I)`, real or complex.
        - **h**: :math:`(B, H)` complex, zeros when omitted.

    Outputs: h'
        - **h'**: :math:`(B, H)` complex.

    Examples:
        >>> cell = ComplexGatedCell(10, 32)
        >>> h = cell(torch.randn(4, 10))
        >>> h = cell(torch.randn(4, 10), h)
        >>> h.shape, h.dtype
        (torch.Size([4, 32]), torch.complex64)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        transition: str = "circulant",
        activation: str | nn.Module = "modrelu",
        gate_bias: float = 4.0,
        orthogonal_map: str = "matrix_exp",
        gate: str = "mod_sigmoid_per_unit",
        activation_bias: str = "per_unit",
        init: str = "glorot",
        nonexpansive: bool = False,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size)
        if gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, got {gate!r}")
        if activation_bias not in ("per_unit", "scalar"):
            raise ValueError(
                f"activation_bias must be 'per_unit' or 'scalar', got {activation_bias!r}"
            )
        if init not in _CELL_INITS:
            raise ValueError(f"init must be one of {_CELL_INITS}, got {init!r}")
        dtype = real_factory_dtype(dtype)
        cdtype = complex_dtype_for(dtype)
        h = hidden_size
        self.gate = gate
        self.init = init
        gate_rows = 0 if gate == "none" else 2 * h
        self.input_weight = nn.Parameter(
            torch.empty(gate_rows + h, input_size, dtype=cdtype, device=device)
        )
        if gate_rows:
            self.hidden_weight = nn.Parameter(torch.empty(2 * h, h, dtype=cdtype, device=device))
        else:
            self.register_parameter("hidden_weight", None)
        self.bias = nn.Parameter(torch.zeros(gate_rows + h, dtype=cdtype, device=device))
        gate_shape = (2 * h,) if gate == "mod_sigmoid_per_unit" else (2,)
        names = ["gate_alpha"] if gate == "mod_sigmoid_per_unit" else _GATE_PARAMETERS.get(gate, {})
        for name in names:
            setattr(self, name, nn.Parameter(torch.empty(gate_shape, dtype=dtype, device=device)))
        self.transition = UnitaryTransition(
            h, transition, orthogonal_map=orthogonal_map, device=device, dtype=dtype,
            init="arjovsky" if init == "wolter_yao" and transition != "circulant" else "haar",
        )  # fmt: skip
        features = h if activation_bias == "per_unit" else None
        self.activation = _make_activation(
            activation, features, nonexpansive, device=device, dtype=dtype
        )
        self.gate_bias = gate_bias
        # The fused sequence loop (hand-written backward); False forces the generic
        # autograd loop, which is the reference the fused one is tested against.
        self.use_fused = True
        self._reset_weights()  # the transition drew its own start above

    def reset_parameters(self) -> None:
        """Every parameter as the constructor made it (the same random draws in order)."""
        self.transition.reset_parameters()
        if hasattr(self.activation, "reset_parameters"):
            self.activation.reset_parameters()
        self._reset_weights()

    def _reset_weights(self) -> None:
        n, gated = self.hidden_size, self.hidden_weight is not None
        if self.init == "glorot":
            cinit.complex_glorot_(self.input_weight)
            if gated:
                cinit.complex_glorot_(self.hidden_weight)
        else:
            # Wolter & Yao's blocks are in x H each: W_r, W_z, W_c from the input, V_r, V_z
            # from the state.
            fans = {"fan_in": self.input_size * n, "fan_out": 2 * self.input_size}
            cinit.tf_glorot_uniform_(self.input_weight, **fans)
            if gated:
                cinit.tf_glorot_uniform_(self.hidden_weight, fan_in=n * n, fan_out=2 * n)
            if isinstance(self.activation, ModReLU):
                with torch.no_grad():
                    self.activation.bias.uniform_(-0.01, 0.01)
        with torch.no_grad():
            self.bias.zero_()
            if gated:
                self.bias[: 2 * n] = complex(self.gate_bias, self.gate_bias)
            if self.gate == "mod_sigmoid_per_unit":
                self.gate_alpha.fill_(0.5)
            for name, start in _GATE_PARAMETERS.get(self.gate, {}).items():
                param = getattr(self, name)
                if isinstance(start, tuple):
                    param.uniform_(*start)
                else:
                    param.fill_(start)

    def _per_unit(self, p: Tensor) -> Tensor:
        """A per-gate ``(2,)`` parameter as ``(2H,)``: r's value, then z's."""
        return p.repeat_interleave(self.hidden_size) if p.shape[0] == 2 else p

    def gate_coefficients(self) -> tuple[Tensor, Tensor]:
        r"""``(alpha, gamma)``, each ``(2H,)``, for the gates that read
        :math:`\sigma(\alpha\Re g + \gamma\Im g)` (the first three families)."""
        if self.gate == "mod_sigmoid_per_unit":
            return self.gate_alpha, 1 - self.gate_alpha
        alpha = torch.sigmoid(self._per_unit(self.gate_alpha))
        if self.gate == "mod_sigmoid":
            return alpha, 1 - alpha
        if self.gate == "mod_sigmoid_beta":
            return alpha, torch.sigmoid(self._per_unit(self.gate_beta))
        raise ValueError(f"gate {self.gate!r} is not a linear combination of Re g and Im g")

    def gates(self, g: Tensor) -> Tensor:
        """Real gate values ``(*, 2H)`` of the complex pre-activation ``g`` ``(*, 2H)``."""
        if self.gate in _LINEAR_GATES:
            alpha, gamma = self.gate_coefficients()
            return torch.sigmoid(alpha * g.real + gamma * g.imag)
        if self.gate == "mod_sigmoid_sum":
            alpha = torch.sigmoid(self._per_unit(self.gate_alpha))
            return torch.lerp(torch.sigmoid(g.imag), torch.sigmoid(g.real), alpha)
        if self.gate == "mod_sigmoid_prod":
            return torch.sigmoid(g.real) * torch.sigmoid(g.imag)
        if self.gate == "phase_hirose":
            m, a, b = (self._per_unit(p) for p in (self.gate_m, self.gate_a, self.gate_b))
            return torch.tanh(g.abs() / (m * m)) * torch.sigmoid(a * g.angle() + b)
        raise ValueError(f"gate {self.gate!r} has no gate values")

    def project(self, x: Tensor) -> Tensor:
        x = x.to(self.input_weight.dtype)
        return x @ self.input_weight.mT + self.bias

    def prepare(self, dtype: torch.dtype) -> object:
        return self.transition.operator(dtype)

    def step(self, projected: Tensor, h: Tensor, context: object) -> Tensor:
        if self.hidden_weight is None:
            return self.activation(projected + context(h))
        n = self.hidden_size
        gates = self.gates(projected[..., : 2 * n] + h @ self.hidden_weight.mT)
        reset, update = gates[..., :n], gates[..., n:]
        candidate = self.activation(projected[..., 2 * n :] + context(reset * h))
        return h + update * (candidate - h)

    def fused_sequence(self, x: Tensor, h0: Tensor) -> Tensor | None:
        transition = self.transition
        dense = transition.kind != "circulant" or transition.hidden_size <= DENSE_TRANSITION_MAX
        if not (
            self.use_fused and dense and type(self.activation) is ModReLU
            and self.gate in _LINEAR_GATES
        ):  # fmt: skip
            return None
        dtype = h0.dtype
        real = torch.float64 if dtype == torch.complex128 else torch.float32
        bias = self.activation.effective_bias().to(real).expand(self.hidden_size)
        alpha, gamma = self.gate_coefficients()
        return gated_scan(
            x,
            h0,
            self.input_weight.to(dtype),
            self.bias.to(dtype),
            self.hidden_weight.mT.to(dtype),
            transition.matrix(dtype).mT,
            alpha.to(real),
            gamma.to(real),
            bias,
        )

    def extra_repr(self) -> str:
        extra = "".join(
            f", {name}={value!r}"
            for name, value, default in (
                ("gate", self.gate, "mod_sigmoid_per_unit"),
                ("init", self.init, "glorot"),
            )  # fmt: skip
            if value != default
        )
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}" + extra


class UnitaryRNNCell(_Cell):
    r"""Unitary RNN cell (uRNN; Arjovsky et al. 2016):

    .. math::
        h_t = \operatorname{modReLU}\bigl(U h_{t-1} + W x_t + b\bigr)

    with :math:`U` unitary and :math:`b` the modReLU bias.

    Args:
        input_size: features of :math:`x_t`.
        hidden_size: complex state size :math:`H`.
        transition: ``"circulant"``, ``"full"`` or ``"identity"``.
        bias: initial modReLU bias.
        orthogonal_map: ``"matrix_exp"`` or ``"cayley"`` for ``transition="full"``.
        device: of the parameters.
        dtype: float32 or float64.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        transition: str = "circulant",
        bias: float = 0.0,
        orthogonal_map: str = "matrix_exp",
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size)
        dtype = real_factory_dtype(dtype)
        self.input_weight = nn.Parameter(
            torch.empty(hidden_size, input_size, dtype=complex_dtype_for(dtype), device=device)
        )
        cinit.complex_glorot_(self.input_weight)
        self.transition = UnitaryTransition(
            hidden_size, transition, orthogonal_map=orthogonal_map, device=device, dtype=dtype
        )
        if isinstance(bias, bool) or not isinstance(bias, int | float):
            # bias=True would silently start the modReLU bias at +1 (the unbounded case)
            raise TypeError(f"bias is the initial modReLU bias, a float; got {bias!r}")
        self.activation = ModReLU(hidden_size, bias=bias, device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        """Every parameter as the constructor made it (the same random draws in order)."""
        cinit.complex_glorot_(self.input_weight)
        self.transition.reset_parameters()
        self.activation.reset_parameters()

    def project(self, x: Tensor) -> Tensor:
        return x.to(self.input_weight.dtype) @ self.input_weight.mT

    def prepare(self, dtype: torch.dtype) -> object:
        return self.transition.operator(dtype)

    def step(self, projected: Tensor, h: Tensor, context: object) -> Tensor:
        return self.activation(context(h) + projected)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}"


class RotationGRUCell(_Cell):
    r"""Real GRU whose new state is rotated by an orthogonal circulant.

    .. math::
        \begin{aligned}
        r_t &= \sigma(W_r x_t + V_r h_{t-1} + b_r), \qquad
        z_t  = \sigma(W_z x_t + V_z h_{t-1} + b_z),\\
        h'_t &= \tanh\bigl(W_h x_t + V_h (r_t\odot h_{t-1}) + b_h\bigr),\\
        h_t &= W_{\text{rot}}\bigl((1 - z_t)\odot h'_t + z_t\odot h_{t-1}\bigr),
        \end{aligned}

    :math:`W_{\text{rot}}` orthogonal (odd-symmetric eigen-angles by default). The
    rotation moves memory between units without changing its norm. That candidate is the
    standard GRU's (``candidate="gru"``); ``candidate="linear_recurrent"`` is
    eq. (109) of Wolter & Yao's *Complex gated memory cells*, with the same weights:
    :math:`h'_t = \tanh(W_h x_t + b_h) + r_t\odot(V_h h_{t-1})`.

    Args:
        input_size: features of :math:`x_t`.
        hidden_size: state size.
        transition: ``"circulant"``, ``"full"`` (dense orthogonal) or ``"identity"``
            (a plain GRU).
        orthogonal_map: ``"matrix_exp"`` or ``"cayley"`` for ``transition="full"``.
        candidate: ``"gru"`` or ``"linear_recurrent"`` (see above).
        device: of the parameters.
        dtype: float32 or float64.
    """

    state_is_complex = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        transition: str = "circulant",
        orthogonal_map: str = "matrix_exp",
        candidate: str = "gru",
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size)
        if candidate not in ("gru", "linear_recurrent"):
            raise ValueError(f"candidate must be 'gru' or 'linear_recurrent', got {candidate!r}")
        self.candidate = candidate
        dtype = real_factory_dtype(dtype)
        factory = {"device": device, "dtype": dtype}
        self.input_map = nn.Linear(input_size, 3 * hidden_size, **factory)
        self.gate_map = nn.Linear(hidden_size, 2 * hidden_size, bias=False, **factory)
        self.candidate_map = nn.Linear(hidden_size, hidden_size, bias=False, **factory)
        self.transition = UnitaryTransition(
            hidden_size, transition, real=True, orthogonal_map=orthogonal_map, **factory
        )

    def reset_parameters(self) -> None:
        """Every parameter as the constructor made it (the same random draws in order)."""
        for layer in (self.input_map, self.gate_map, self.candidate_map, self.transition):
            layer.reset_parameters()

    def project(self, x: Tensor) -> Tensor:
        return self.input_map(x.to(self.input_map.weight.dtype))

    def prepare(self, dtype: torch.dtype) -> object:
        return self.transition.operator(dtype)

    def step(self, projected: Tensor, h: Tensor, context: object) -> Tensor:
        n = self.hidden_size
        gates = torch.sigmoid(projected[..., : 2 * n] + self.gate_map(h))
        reset, update = gates[..., :n], gates[..., n:]
        if self.candidate == "gru":
            candidate = torch.tanh(projected[..., 2 * n :] + self.candidate_map(reset * h))
        else:
            candidate = torch.tanh(projected[..., 2 * n :]) + reset * self.candidate_map(h)
        return context(candidate + update * (h - candidate))

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}"


class _RecurrentSequence(Module):
    """``nn.GRU``-style runner over a stack of ``cell_class`` layers.

    ``bidirectional``: each layer runs a second cell over the reversed sequence and the
    two directions' states are concatenated (``2H`` features; ``h_n`` ordered layer by
    layer, forward then backward, as in ``torch.nn.GRU``). ``dropout``: applied to every
    layer's output but the last while training; a complex unit is kept or dropped whole
    (real and imaginary part together). ``PackedSequence`` inputs are not supported.
    """

    cell_class: type[_Cell]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        **cell_kwargs,
    ) -> None:
        # Subclasses spell out their arguments (device and dtype included) and pass the
        # cell's on here.
        super().__init__()
        num_layers = check_int("num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, int | float):
            raise TypeError(f"dropout must be a number in [0, 1], got {dropout!r}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"dropout must be in [0, 1], got {dropout}")
        if not isinstance(bidirectional, bool):
            raise TypeError(f"bidirectional must be a bool, got {bidirectional!r}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first must be a bool, got {batch_first!r}")
        if dropout > 0 and num_layers == 1:
            # As torch.nn.GRU says it: dropout acts between layers only.
            warnings.warn(
                f"dropout={dropout} does nothing with num_layers=1: it is applied to every "
                "layer's output but the last",
                UserWarning,
                stacklevel=3,
            )
        directions = 2 if bidirectional else 1
        cells = [
            self.cell_class(
                input_size if k == 0 else directions * hidden_size, hidden_size, **cell_kwargs
            )
            for k in range(num_layers)
            for _ in range(directions)
        ]
        self.layers = nn.ModuleList(cells)
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.input_size = cells[0].input_size
        self.hidden_size = cells[0].hidden_size
        self.num_layers = num_layers

    def reset_parameters(self) -> None:
        """Every layer as the constructor made it."""
        for layer in self.layers:
            layer.reset_parameters()

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        cell0 = self.layers[0]
        x = _check_features("input", x, self.input_size, cell0.state_is_complex)
        if x.dim() not in (2, 3):
            raise ValueError(f"input must be (B, T, F), (T, B, F) or (T, F), got {tuple(x.shape)}")
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(0 if self.batch_first else 1)
        if not self.batch_first:
            x = x.transpose(0, 1)
        batch = x.shape[0]
        dtype = cell0.state_dtype(x)
        expected = (len(self.layers), batch, self.hidden_size)
        if h0 is None:
            h0 = torch.zeros(expected, dtype=dtype, device=x.device)
        else:
            h0 = check_tensor("h0", h0)
            if unbatched and h0.dim() == 2:
                h0 = h0.unsqueeze(1)
            if tuple(h0.shape) != expected:
                raise ValueError(f"h0 must have shape {expected}, got {tuple(h0.shape)}")
            check_numeric("h0", h0, allow_complex=cell0.state_is_complex)
            h0 = _same_precision("h0", h0, dtype)
        if x.shape[1] == 0:  # no time steps: no outputs, the state unchanged
            width = self.hidden_size * (2 if self.bidirectional else 1)
            empty = x.new_zeros(batch, 0, width, dtype=dtype)
            output = empty if self.batch_first else empty.transpose(0, 1)
            if unbatched:
                output, h0 = output.squeeze(0 if self.batch_first else 1), h0.squeeze(1)
            return output, h0
        finals = []
        layer_input = x
        directions = 2 if self.bidirectional else 1
        starts = h0.unbind(0)
        for k in range(self.num_layers):
            outputs = []
            for d in range(directions):
                layer, h = self.layers[k * directions + d], starts[k * directions + d]
                states = _run_layer(layer, layer_input if d == 0 else layer_input.flip(1), h,
                                    dtype)  # fmt: skip
                finals.append(states[:, -1])
                outputs.append(states if d == 0 else states.flip(1))
            layer_input = outputs[0] if directions == 1 else torch.cat(outputs, dim=-1)
            if self.dropout and self.training and k < self.num_layers - 1:
                keep = nn.functional.dropout(
                    torch.ones_like(layer_input.real if layer_input.is_complex() else layer_input),
                    self.dropout,
                )
                layer_input = layer_input * keep
        output, h_n = layer_input, torch.stack(finals, dim=0)
        if not self.batch_first:
            output = output.transpose(0, 1)
        if unbatched:
            output = output.squeeze(0 if self.batch_first else 1)
            h_n = h_n.squeeze(1)
        return output, h_n

    def extra_repr(self) -> str:
        extra = (f", dropout={self.dropout}" if self.dropout else "") + (
            ", bidirectional=True" if self.bidirectional else ""
        )
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"num_layers={self.num_layers}, batch_first={self.batch_first}{extra}"
        )


def _run_layer(layer: _Cell, x: Tensor, h: Tensor, dtype: torch.dtype) -> Tensor:
    """All states ``(B, T, H)`` of one layer over a batch-first sequence."""
    fused = layer.fused_sequence(x, h)
    if fused is not None:
        return fused
    projected = layer.project(x)
    context = layer.prepare(dtype)
    states = []
    # unbind, not projected[:, t]: slicing makes each backward step allocate a gradient
    # the size of the whole sequence (quadratic in T).
    for p_t in projected.unbind(1):
        h = layer.step(p_t, h, context)
        states.append(h)
    return torch.stack(states, dim=1)


class ComplexGatedRNN(_RecurrentSequence):
    r"""Multi-layer complex gated RNN (cgRNN), called like ``torch.nn.GRU``.

    .. note::
        Unlike ``torch.nn.GRU``, ``batch_first`` defaults to ``True``: every sequence
        in this library (tasks, models, outputs) is ``(B, T, F)``. Pass
        ``batch_first=False`` for ``(T, B, F)``.

    Each layer runs :class:`ComplexGatedCell`:

    .. math::
        \begin{aligned}
        r_t, z_t &= \sigma_\alpha\bigl(W_{r,z} x_t + V_{r,z} h_{t-1} + b_{r,z}\bigr),\\
        h_t &= (1 - z_t)\odot h_{t-1} + z_t\odot f\bigl(W_c x_t + U(r_t\odot h_{t-1}) + b_c\bigr).
        \end{aligned}

    Args:
        input_size: input features.
        hidden_size: complex state size.
        num_layers: stacked layers (layer :math:`k > 0` reads layer :math:`k-1`'s states).
        batch_first: ``(B, T, F)`` if True (default), else ``(T, B, F)``.
        transition: ``"circulant"``, ``"full"``, ``"stiefel"`` or ``"identity"`` (see
            :class:`ComplexGatedCell`).
        activation: ``"modrelu"``, ``"hirose"`` or a module.
        gate_bias: initial gate bias.
        orthogonal_map: for ``transition="full"``.
        gate: the gate family (see :class:`ComplexGatedCell`).
        activation_bias: ``"per_unit"`` or ``"scalar"`` modReLU bias.
        init: ``"glorot"`` or ``"wolter_yao"`` (see :class:`ComplexGatedCell`).
        nonexpansive: modReLU with a non-positive bias (see :class:`ComplexGatedCell`).
        dropout: dropout on every layer's output but the last, while training.
        bidirectional: also run each layer backwards in time (``2H`` output features).
        device: of the parameters.
        dtype: float32 or float64.

    Inputs: input, h0
        - **input**: :math:`(B, T, I)`, :math:`(T, B, I)` or unbatched :math:`(T, I)`;
          real or complex.
        - **h0**: :math:`(L, B, H)` complex (or :math:`(L, H)` unbatched); zeros if omitted.

    Outputs: output, h_n
        - **output**: complex states of the last layer, :math:`(B, T, H)`.
        - **h_n**: final states of every layer, :math:`(L, B, H)`.

    Examples:
        Drop it into a model with a :class:`ComplexReadout`:

        >>> class Model(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.rnn = ComplexGatedRNN(10, 64)
        ...         self.readout = ComplexReadout(64, 9)
        ...     def forward(self, x):
        ...         states, _ = self.rnn(x)
        ...         return self.readout(states)
        >>> Model()(torch.randn(8, 100, 10)).shape
        torch.Size([8, 100, 9])
    """

    cell_class = ComplexGatedCell

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = True,
        transition: str = "circulant",
        activation: str | nn.Module = "modrelu",
        gate_bias: float = 4.0,
        orthogonal_map: str = "matrix_exp",
        gate: str = "mod_sigmoid_per_unit",
        activation_bias: str = "per_unit",
        init: str = "glorot",
        nonexpansive: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
            transition=transition,
            activation=activation, gate_bias=gate_bias, orthogonal_map=orthogonal_map,
            gate=gate, activation_bias=activation_bias, init=init, nonexpansive=nonexpansive,
            device=device, dtype=dtype,
        )  # fmt: skip


class UnitaryRNN(_RecurrentSequence):
    r"""Multi-layer unitary RNN (uRNN), called like ``torch.nn.GRU``.

    .. note::
        Unlike ``torch.nn.GRU``, ``batch_first`` defaults to ``True``: every sequence
        in this library (tasks, models, outputs) is ``(B, T, F)``. Pass
        ``batch_first=False`` for ``(T, B, F)``.

    .. math::
        h_t = \operatorname{modReLU}\bigl(U h_{t-1} + W x_t + b\bigr)

    Args:
        input_size: input features.
        hidden_size: complex state size.
        num_layers: stacked layers.
        batch_first: ``(B, T, F)`` if True (default), else ``(T, B, F)``.
        transition: ``"circulant"``, ``"full"`` or ``"identity"``.
        bias: initial modReLU bias.
        orthogonal_map: for ``transition="full"``.
        dropout: dropout on every layer's output but the last, while training.
        bidirectional: also run each layer backwards in time (``2H`` output features).
        device: of the parameters.
        dtype: float32 or float64.

    Shapes as in :class:`ComplexGatedRNN`.
    """

    cell_class = UnitaryRNNCell

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = True,
        transition: str = "circulant",
        bias: float = 0.0,
        orthogonal_map: str = "matrix_exp",
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
            transition=transition,
            bias=bias, orthogonal_map=orthogonal_map, device=device, dtype=dtype,
        )  # fmt: skip


class RotationGRU(_RecurrentSequence):
    r"""Multi-layer rotation-GRU (real), called like ``torch.nn.GRU``.

    .. note::
        Unlike ``torch.nn.GRU``, ``batch_first`` defaults to ``True``: every sequence
        in this library (tasks, models, outputs) is ``(B, T, F)``. Pass
        ``batch_first=False`` for ``(T, B, F)``.

    .. math::
        h_t = W_{\text{rot}}\bigl((1 - z_t)\odot h'_t + z_t\odot h_{t-1}\bigr)

    with GRU gates and candidate (see :class:`RotationGRUCell`). Real input and states.

    Args:
        input_size: input features.
        hidden_size: state size.
        num_layers: stacked layers.
        batch_first: ``(B, T, F)`` if True (default), else ``(T, B, F)``.
        transition: ``"circulant"``, ``"full"`` (dense orthogonal) or ``"identity"``.
        orthogonal_map: for ``transition="full"``.
        candidate: ``"gru"`` or ``"linear_recurrent"`` (see :class:`RotationGRUCell`).
        dropout: dropout on every layer's output but the last, while training.
        bidirectional: also run each layer backwards in time (``2H`` output features).
        device: of the parameters.
        dtype: float32 or float64.
    """

    cell_class = RotationGRUCell

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = True,
        transition: str = "circulant",
        orthogonal_map: str = "matrix_exp",
        candidate: str = "gru",
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
            transition=transition,
            orthogonal_map=orthogonal_map, candidate=candidate, device=device, dtype=dtype,
        )  # fmt: skip


class LinearUnitaryRecurrence(Module):
    r"""The linear unitary recurrence, computed in parallel over time.

    .. math::
        h_t = C h_{t-1} + u_t, \qquad u_t = W x_t\ (\text{or } x_t),
        \qquad C = F^{-1}\operatorname{diag}(e^{i\omega})F

    solved for all :math:`t` at once by :func:`cunitary.functional.unitary_scan`:
    :math:`\hat h_t = \lambda^t(\hat h_0 + \sum_{k\le t}\lambda^{-k}\hat u_k)`. The Jacobian
    :math:`\partial h_T/\partial h_0 = C^T` is unitary: gradients pass through any
    number of steps unchanged in norm. With ``num_layers > 1`` layer :math:`k` reads
    layer :math:`k-1`'s states through its own complex map :math:`W^{(k)}` (``n x n``).

    Args:
        input_size: features of the input, mapped to the state by a complex linear map
            :math:`W` (no bias); ``None``: inputs have :math:`n` features and enter as
            they are.
        hidden_size: state size :math:`n`.
        num_layers: stacked recurrences (as ``torch.nn.GRU``'s third argument).
        method: ``"scan"`` (default: FFT, then the diagonal scan with its adjoint
            backward, see :func:`~cunitary.functional.unitary_scan`), ``"closed"`` (the
            closed form as cumulative sums) or ``"loop"`` (sequential reference).
        batch_first: ``(B, T, F)`` if True (the default here, unlike ``torch.nn.GRU``).
        device: of the parameters.
        dtype: float32 or float64.

    Inputs: input, h0
        - **input**: :math:`(B, T, F)`, :math:`(T, B, F)` or unbatched :math:`(T, F)`;
          real or complex.
        - **h0**: :math:`(L, B, n)` complex (:math:`(L, n)` unbatched), zeros if omitted.

    Outputs: output, h_n
        - **output**: the last layer's states, :math:`(B, T, n)` complex; **h_n**:
          :math:`(L, B, n)`.
    """

    def __init__(
        self,
        input_size: int | None,
        hidden_size: int,
        num_layers: int = 1,
        method: str = "scan",
        batch_first: bool = True,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.hidden_size = check_int("hidden_size", hidden_size)
        self.num_layers = check_int("num_layers", num_layers)
        if method not in ("scan", "closed", "loop"):
            raise ValueError(f"method must be 'scan', 'closed' or 'loop', got {method!r}")
        dtype = real_factory_dtype(dtype)
        self.method = method
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first must be a bool, got {batch_first!r}")
        self.batch_first = batch_first
        self.angles = nn.Parameter(torch.empty(hidden_size, device=device, dtype=dtype))
        cinit.uniform_angles_(self.angles)
        self.input_size = hidden_size if input_size is None else check_int("input_size", input_size)
        self.input_weight = None
        if input_size is not None:
            weight = torch.empty(
                hidden_size, input_size, dtype=complex_dtype_for(dtype), device=device
            )
            self.input_weight = nn.Parameter(cinit.complex_glorot_(weight))
        # Layers after the first, each a one-layer recurrence reading the states before it.
        self.deeper = nn.ModuleList(
            LinearUnitaryRecurrence(hidden_size, hidden_size, method=method, device=device,
                                    dtype=dtype)
            for _ in range(num_layers - 1)
        )  # fmt: skip

    def reset_parameters(self) -> None:
        """Random angles, then a complex Glorot input map, as the constructor draws them,
        layer after layer."""
        cinit.uniform_angles_(self.angles)
        if self.input_weight is not None:
            cinit.complex_glorot_(self.input_weight)
        for layer in self.deeper:
            layer.reset_parameters()

    def _scan(self, x: Tensor, h0: Tensor | None) -> Tensor:
        """This layer's states for a batch-first ``x`` and ``h0`` ``(B, n)`` or None."""
        if self.input_weight is not None:
            x = x.to(self.input_weight.dtype) @ self.input_weight.mT
        return F.unitary_scan(x, self.angles, h0, method=self.method)

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = _check_features("input", x, self.input_size, allow_complex=True)
        check_precision("input", x, self.angles)
        if x.dim() not in (2, 3):
            raise ValueError(
                f"input must be (B, T, F), (T, B, F) or unbatched (T, F), got {tuple(x.shape)}"
            )
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(0)
        elif not self.batch_first:
            x = x.transpose(0, 1)
        if h0 is not None:
            h0 = check_tensor("h0", h0)
            if unbatched and h0.dim() == 2:
                h0 = h0.unsqueeze(1)
            expected = (self.num_layers, x.shape[0], self.hidden_size)
            if tuple(h0.shape) != expected:
                raise ValueError(f"h0 must have shape {expected}, got {tuple(h0.shape)}")
        finals = []
        for k, layer in enumerate([self, *self.deeper]):
            start = None if h0 is None else h0[k]
            states = layer._scan(x, start)
            if states.shape[1] == 0:  # no time steps: the state is h0
                finals.append(states.new_zeros(states.shape[0], self.hidden_size)
                              if start is None else start.to(states.dtype))  # fmt: skip
            else:
                finals.append(states[:, -1])
            x = states
        h_n = torch.stack(finals, 0)
        if unbatched:
            return states[0], h_n[:, 0]
        return (states if self.batch_first else states.transpose(0, 1)), h_n

    def extra_repr(self) -> str:
        layers = f", num_layers={self.num_layers}" if self.num_layers > 1 else ""
        return (
            f"hidden_size={self.hidden_size}, input_size={self.input_size}{layers}, "
            f"method={self.method!r}"
        )
