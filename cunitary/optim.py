r"""Optimisers for unitary matrices and the RMSprop of TensorFlow 1.

Wolter & Yao train their complex gated cell with two update rules side by side: a
Cayley step on the unitary group for the dense transition :math:`W` (Wisdom et al.,
*Full-capacity unitary recurrent neural networks*, 2016) and RMSprop for everything
else. Both are here as ordinary :class:`torch.optim.Optimizer` subclasses, so that a
model can train its unitary matrices as plain parameters (initialised unitary) instead of
through a parametrization.

The Cayley step. With :math:`G = \partial L/\partial\Re W + i\,\partial L/\partial\Im W`
(PyTorch's gradient of a complex parameter; the ordinary gradient for a real one),

.. math::
    A = G W^{H} - W G^{H}, \qquad
    W \leftarrow \Bigl(I + \tfrac{\lambda}{2}A\Bigr)^{-1}\Bigl(I - \tfrac{\lambda}{2}A\Bigr) W.

:math:`A` is skew-Hermitian, so in exact arithmetic the Cayley factor is unitary for
every step size. In floating point the step solves a linear system whose condition number
is :math:`\kappa = \|I + \tfrac{\lambda}{2}A\|\,\|(I + \tfrac{\lambda}{2}A)^{-1}\|
\le 1 + \lambda\|G\|_2` (the inverse has norm at most 1, and
:math:`\|A\|_2 \le 2\|G\|_2` for a unitary :math:`W`), and its rounding leaves the
group by about :math:`\epsilon\kappa`: nothing for :math:`\lambda\|G\| \lesssim 1`,
but a float32 step with :math:`\lambda\|G\| = 10^4` is off by about :math:`10^{-3}`,
and small departures add up over long runs. :class:`StiefelCayley` therefore measures
:math:`\|W^HW - I\|_F` after every step and, past ``tolerance`` (default
:math:`10\,n\,\epsilon`), replaces :math:`W` by the nearest unitary matrix (the
unitary factor of its polar decomposition, computed in float64). ``side="right"``
multiplies from the right instead, with :math:`B = W^{H}G - G^{H}W` and
:math:`W \leftarrow W (I - \tfrac{\lambda}{2}B)(I + \tfrac{\lambda}{2}B)^{-1}`: the left
step applied to :math:`W^\top`. A layer that computes :math:`Uh` (this library's
convention) moved by ``side="right"`` follows exactly the trajectory that a layer
computing :math:`h\,W` with :math:`W = U^\top` (TensorFlow's convention, and Wolter &
Yao's code) follows under the left step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from ._unitarity import project_unitary_, tolerance, unitarity_error

__all__ = [
    "StiefelCayley",
    "RMSpropTF",
    "OptimizerGroup",
    "stiefel_parameters",
    "wolter_yao_optimizer",
    "clip_grad_value_",
]


def _real_view(t: Tensor) -> Tensor:
    return torch.view_as_real(t) if t.is_complex() else t


def _evaluate(closure) -> Tensor | None:
    """The loss of an optimiser's closure, with gradients recorded (``step`` runs without)."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def _check_positive(name: str, value: float, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return float(value)


class StiefelCayley(torch.optim.Optimizer):
    r"""Cayley steps on the unitary (complex) or orthogonal (real) group.

    .. math::
        A = G W^{H} - W G^{H}, \qquad
        W \leftarrow \Bigl(I + \tfrac{\lambda}{2}A\Bigr)^{-1}
                     \Bigl(I - \tfrac{\lambda}{2}A\Bigr) W

    (Wisdom et al. 2016; see the module text for ``side`` and for what rounding does to a
    large step). Every parameter must be a square matrix that is already unitary
    (orthogonal; a departure above 0.1 is refused); after every step it is unitary to
    ``tolerance``.

    Args:
        params: square complex (unitary) or real (orthogonal) matrix parameters.
        lr: step size :math:`\lambda`.
        normalize: divide :math:`G` element-wise (real and imaginary parts apart) by the
            root of its running mean square first, as RMSprop does; the accumulator starts
            at 1 (TensorFlow 1's RMSprop). Wolter & Yao's code runs with this off.
        decay: the accumulator's smoothing when ``normalize``.
        eps: added to the root when ``normalize``.
        side: ``"left"`` (the formula above) or ``"right"``.
        reproject_every: every this many steps, replace :math:`W` by the unitary factor of
            its polar decomposition (nearest unitary matrix, via SVD), whatever its
            departure; 0 never.
        tolerance: re-project after any step that leaves :math:`\|W^HW - I\|_F` above
            this; ``None`` (default): :math:`10\,n\,\epsilon` of the parameter's dtype.

    Examples:
        >>> w = torch.nn.Parameter(torch.linalg.qr(torch.randn(4, 4, dtype=torch.cdouble))[0])
        >>> opt = StiefelCayley([w], lr=0.1)
        >>> (w.sum().abs() ** 2).backward()
        >>> opt.step()
        >>> torch.dist(w.mH @ w, torch.eye(4, dtype=w.dtype)).item() < 1e-12
        True
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        normalize: bool = False,
        decay: float = 0.9,
        eps: float = 1e-10,
        side: str = "left",
        reproject_every: int = 0,
        tolerance: float | None = None,
    ) -> None:
        defaults = {"lr": lr, "normalize": normalize, "decay": decay, "eps": eps,
                    "side": side, "reproject_every": reproject_every,
                    "tolerance": tolerance}  # fmt: skip
        _check_cayley_group(defaults, "")
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group after checking its options and that its matrices are unitary."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        _check_cayley_group(group, f"param group {len(self.param_groups) - 1}: ")
        for p in group["params"]:
            if p.dim() != 2 or p.shape[0] != p.shape[1]:
                raise ValueError(
                    f"StiefelCayley takes square matrices, got a parameter of shape "
                    f"{tuple(p.shape)}"
                )
            error = unitarity_error(p)
            if error > _REFUSED_DEPARTURE:
                raise ValueError(
                    f"StiefelCayley moves unitary (orthogonal) matrices along the group; got "
                    f"a {p.shape[0]}x{p.shape[1]} parameter with ||W^H W - I||_F = "
                    f"{error:.3g} (> {_REFUSED_DEPARTURE:g}): initialise it unitary (e.g. "
                    "cunitary.init.haar_unitary_) or give it to another optimiser"
                )

    @torch.no_grad()
    def step(self, closure=None):
        loss = _evaluate(closure)
        for group in self.param_groups:
            half = group["lr"] / 2
            for w in group["params"]:
                if w.grad is None:
                    continue
                state = self.state[w]
                if not state:
                    state["step"] = 0
                    if group["normalize"]:
                        state["square_avg"] = torch.ones_like(_real_view(w))
                state["step"] += 1
                g = w.grad
                if group["normalize"]:
                    avg = state["square_avg"]
                    real_g = _real_view(g)
                    avg.mul_(group["decay"]).addcmul_(real_g, real_g, value=1 - group["decay"])
                    real_g = real_g / (avg.sqrt() + group["eps"])
                    g = torch.view_as_complex(real_g) if w.is_complex() else real_g
                eye = torch.eye(w.shape[0], dtype=w.dtype, device=w.device)
                if group["side"] == "left":
                    a = g @ w.mH - w @ g.mH
                    w.copy_(torch.linalg.solve(eye + half * a, (eye - half * a) @ w))
                else:
                    b = w.mH @ g - g.mH @ w
                    # W (I - hB)(I + hB)^{-1} = ((I + hB)^{-H} ((I - hB)^H W^H))^H, and
                    # (I + hB)^H = I - hB for a skew-Hermitian B: one solve.
                    rhs = (eye + half * b) @ w.mH
                    w.copy_(torch.linalg.solve(eye - half * b, rhs).mH)
                every = group["reproject_every"]
                limit = tolerance(w) if group["tolerance"] is None else group["tolerance"]
                if (every and state["step"] % every == 0) or unitarity_error(w) > limit:
                    project_unitary_(w)
        return loss


#: A parameter further than this from the unitary group is refused: rounding never
#: comes near it, so such a matrix was not meant to be unitary.
_REFUSED_DEPARTURE = 0.1


def _check_cayley_group(group: dict, where: str) -> None:
    """Refuse option values a Cayley step cannot use, naming the option and the group."""
    for name in ("lr", "eps"):
        value = group[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{where}{name} must be a number, got {type(value).__name__}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{where}{name} must be finite and >= 0, got {value}")
    decay = group["decay"]
    if isinstance(decay, bool) or not isinstance(decay, int | float):
        raise TypeError(f"{where}decay must be a number, got {type(decay).__name__}")
    if not 0 <= decay <= 1:
        raise ValueError(f"{where}decay must be in [0, 1], got {decay}")
    if not isinstance(group["normalize"], bool):
        raise TypeError(f"{where}normalize must be a bool, got {group['normalize']!r}")
    if group["side"] not in ("left", "right"):
        raise ValueError(f"{where}side must be 'left' or 'right', got {group['side']!r}")
    every = group["reproject_every"]
    if isinstance(every, bool) or not isinstance(every, int):
        raise TypeError(f"{where}reproject_every must be an int, got {every!r}")
    if every < 0:
        raise ValueError(f"{where}reproject_every must be >= 0, got {every}")
    limit = group["tolerance"]
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int | float)
        or not math.isfinite(limit) or limit <= 0
    ):  # fmt: skip
        raise ValueError(f"{where}tolerance must be None or a finite number > 0, got {limit!r}")


class RMSpropTF(torch.optim.Optimizer):
    r"""RMSprop as TensorFlow 1 wrote it (``tf.train.RMSPropOptimizer``).

    .. math::
        \begin{aligned}
        s &\leftarrow \rho\,s + (1-\rho)\,g^2, \qquad s_0 = 1,\\
        m &\leftarrow \mu\,m + \eta\,g/\sqrt{s + \epsilon},\qquad
        \theta \leftarrow \theta - m.
        \end{aligned}

    Two differences from :class:`torch.optim.RMSprop` matter early in training: the
    mean-square accumulator starts at 1, not 0, so the first steps are about
    :math:`\eta g` (a warm-up) rather than :math:`\eta\,\operatorname{sign} g/\sqrt{1-\rho}`;
    and :math:`\epsilon` sits inside the root. Complex parameters are updated as pairs of
    real numbers (real and imaginary parts apart).

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta`.
        decay: :math:`\rho` (TensorFlow's default 0.9).
        momentum: :math:`\mu`.
        eps: :math:`\epsilon` (TensorFlow's default 1e-10).
        initial_accumulator: :math:`s_0`.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        decay: float = 0.9,
        momentum: float = 0.0,
        eps: float = 1e-10,
        initial_accumulator: float = 1.0,
    ) -> None:
        checked = {"lr": lr, "decay": decay, "momentum": momentum, "eps": eps,
                   "initial_accumulator": initial_accumulator}  # fmt: skip
        for name, value in checked.items():
            _check_positive(name, value, allow_zero=True)
        if decay > 1:
            raise ValueError(f"decay must be in [0, 1], got {decay}")
        defaults = {"lr": lr, "decay": decay, "momentum": momentum, "eps": eps,
                    "initial_accumulator": initial_accumulator}  # fmt: skip
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = _evaluate(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = torch.full_like(
                        _real_view(p), group["initial_accumulator"]
                    )
                    if group["momentum"]:
                        state["momentum_buffer"] = torch.zeros_like(_real_view(p))
                state["step"] += 1
                g = _real_view(p.grad)
                avg = state["square_avg"]
                avg.mul_(group["decay"]).addcmul_(g, g, value=1 - group["decay"])
                update = g / (avg + group["eps"]).sqrt()
                if group["momentum"]:
                    buf = state["momentum_buffer"]
                    update = buf.mul_(group["momentum"]).add_(update, alpha=group["lr"])
                    _real_view(p).sub_(update)
                else:
                    _real_view(p).sub_(update, alpha=group["lr"])
        return loss


def stiefel_parameters(module: torch.nn.Module) -> list[Tensor]:
    """The plain unitary matrices of ``module`` (``transition="stiefel"``), which only
    :class:`StiefelCayley` may move; give every other parameter to another optimiser."""
    from .cells import UnitaryTransition

    return [m.weight for m in module.modules()
            if isinstance(m, UnitaryTransition) and m.kind == "stiefel"]  # fmt: skip


class OptimizerGroup:
    """Several optimisers stepped as one, with one state dict (e.g. Cayley steps for the
    unitary matrices and RMSprop for the rest): ``zero_grad``, ``step``, ``state_dict``
    and ``load_state_dict`` as a single optimiser has them."""

    def __init__(self, *optimizers: torch.optim.Optimizer | None) -> None:
        self.optimizers = [o for o in optimizers if o is not None]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for o in self.optimizers:
            o.step()

    def state_dict(self) -> dict:
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        states = state["optimizers"]
        if len(states) != len(self.optimizers):
            raise ValueError(
                f"the state holds {len(states)} optimiser states, this group has "
                f"{len(self.optimizers)}"
            )  # the runner's test matches "2 optimiser states"
        for o, s in zip(self.optimizers, states, strict=True):
            o.load_state_dict(s)


def clip_grad_value_(parameters: Iterable[Tensor], clip: float) -> None:
    """Clip every gradient element to ``[-clip, clip]``; a complex gradient's real and
    imaginary parts apart (as TensorFlow clips a ``[..., 2]`` variable).
    ``torch.nn.utils.clip_grad_value_`` refuses complex gradients."""
    clip = _check_positive("clip", clip)
    for p in parameters:
        if p.grad is not None:
            grad = torch.view_as_real(p.grad) if p.grad.is_complex() else p.grad
            grad.clamp_(-clip, clip)


def wolter_yao_optimizer(
    model: torch.nn.Module, lr: float = 1e-3, decay: float = 0.9
) -> OptimizerGroup:
    r"""Wolter & Yao's training recipe for a model with dense unitary transitions.

    Cayley steps (:class:`StiefelCayley`, raw gradient) for the plain unitary matrices
    (``transition="stiefel"``, found by :func:`stiefel_parameters`), TensorFlow 1's
    RMSprop (:class:`RMSpropTF`, decay ``0.9``) for every other parameter, both at
    ``lr``. ``side="right"``: this library applies :math:`U` as :math:`Uh`, their code
    as :math:`hW` with :math:`W = U^\top`, and the right step on :math:`U` is the left
    step on :math:`W`. Their code also clips every gradient element to ``[-1, 1]``: call
    :func:`clip_grad_value_` before ``step()``.

    Examples:
        >>> from cunitary import ComplexGatedRNN
        >>> rnn = ComplexGatedRNN(10, 16, transition="stiefel", init="wolter_yao")
        >>> optimizer = wolter_yao_optimizer(rnn)
        >>> out, _ = rnn(torch.randn(2, 5, 10))
        >>> out.abs().sum().backward()
        >>> clip_grad_value_(rnn.parameters(), 1.0)
        >>> optimizer.step()
    """
    unitary = stiefel_parameters(model)
    rest = [p for p in model.parameters() if all(p is not u for u in unitary)]
    cayley = StiefelCayley(unitary, lr=lr, side="right") if unitary else None
    return OptimizerGroup(cayley, RMSpropTF(rest, lr=lr, decay=decay) if rest else None)
