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

:math:`A` is skew-Hermitian, so the Cayley factor is unitary and :math:`W` stays on the
unitary (orthogonal) group up to rounding, whatever the step size. ``side="right"``
multiplies from the right instead, with :math:`B = W^{H}G - G^{H}W` and
:math:`W \leftarrow W (I - \tfrac{\lambda}{2}B)(I + \tfrac{\lambda}{2}B)^{-1}`: the left
step applied to :math:`W^\top`. A layer that computes :math:`Uh` (this library's
convention) moved by ``side="right"`` follows exactly the trajectory that a layer
computing :math:`h\,W` with :math:`W = U^\top` (TensorFlow's convention, and Wolter &
Yao's code) follows under the left step.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

__all__ = ["StiefelCayley", "RMSpropTF", "stiefel_parameters"]


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
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return float(value)


class StiefelCayley(torch.optim.Optimizer):
    r"""Cayley steps on the unitary (complex) or orthogonal (real) group.

    .. math::
        A = G W^{H} - W G^{H}, \qquad
        W \leftarrow \Bigl(I + \tfrac{\lambda}{2}A\Bigr)^{-1}
                     \Bigl(I - \tfrac{\lambda}{2}A\Bigr) W

    (Wisdom et al. 2016; see the module text for ``side``). Every parameter must be a
    square matrix that is already unitary (orthogonal); it stays so to rounding error.

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
            its polar decomposition (nearest unitary matrix, via SVD); 0 never.

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
    ) -> None:
        _check_positive("lr", lr, allow_zero=True)
        _check_positive("decay", decay, allow_zero=True)
        _check_positive("eps", eps, allow_zero=True)
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        if isinstance(reproject_every, bool) or not isinstance(reproject_every, int):
            raise TypeError(f"reproject_every must be an int, got {reproject_every!r}")
        if reproject_every < 0:
            raise ValueError(f"reproject_every must be >= 0, got {reproject_every}")
        defaults = {"lr": lr, "normalize": bool(normalize), "decay": decay, "eps": eps,
                    "side": side, "reproject_every": reproject_every}  # fmt: skip
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() != 2 or p.shape[0] != p.shape[1]:
                    raise ValueError(
                        f"StiefelCayley takes square matrices, got a parameter of shape "
                        f"{tuple(p.shape)}"
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
                if every and state["step"] % every == 0:
                    u, _, vh = torch.linalg.svd(w)
                    w.copy_(u @ vh)
        return loss


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
