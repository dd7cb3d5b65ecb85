r"""Fused sequence loop of the complex gated cell (private).

The generic loop builds an autograd graph of about 25 small operations per time step;
at T = 1000 autograd's per-node overhead, not arithmetic, dominates. This function runs
the forward loop without autograd and a hand-derived backward loop, and forms the weight
gradients with one large matmul over all time steps. It covers the default cell (modReLU
activation, transition applied as a dense matrix); other configurations use the generic
loop, which is also the reference this path is tested against.

Gradients follow PyTorch's convention for complex tensors: for a real loss :math:`L`
the gradient of :math:`z` is :math:`g_z = \partial L/\partial\Re z + i\,\partial L/\partial\Im z`.
With it, :math:`y = xA \Rightarrow g_x = g_y A^{H}`, :math:`g_A = x^{H} g_y`, and a real
factor :math:`s` in :math:`y = s\,x` gets :math:`g_s = \Re(\bar x\,g_y)`.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _modrelu_parts(a: Tensor, beta: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Modulus, unit phasor (0 below the smallest normal), k = relu(|a| + beta), k'."""
    tiny = torch.finfo(a.real.dtype).tiny
    rho = a.abs()
    alive = ~(rho <= tiny)  # NaN counts as alive, so that it propagates
    safe_rho = torch.where(alive, rho, torch.ones_like(rho))
    unit = torch.where(alive, a / safe_rho, torch.zeros_like(a))
    shifted = rho + beta
    k_prime = (shifted > 0).to(rho.dtype)
    return torch.where(alive, rho, torch.zeros_like(rho)), unit, shifted.clamp_min(0), k_prime


class ComplexGatedScan(torch.autograd.Function):
    r"""All states of a :class:`~cunitary.ComplexGatedCell` layer.

    Inputs: ``projected`` :math:`(B, T, 3H)` (= :math:`W x_t + b`), ``h0`` :math:`(B, H)`,
    ``v_t`` = :math:`V^{\top}` :math:`(H, 2H)`, ``u_t`` = :math:`U^{\top}` :math:`(H, H)`,
    ``alpha`` :math:`(2H)`, ``beta`` :math:`(H)` (modReLU bias). Output: :math:`(B, T, H)`.
    """

    @staticmethod
    def forward(ctx, projected, h0, v_t, u_t, alpha, beta):
        n = h0.shape[-1]
        h = h0
        states, pre_gates, gates, pre_acts = [], [], [], []
        for p in projected.unbind(1):
            g_pre = p[:, : 2 * n] + h @ v_t
            gate = torch.sigmoid(alpha * g_pre.real + (1 - alpha) * g_pre.imag)
            reset, update = gate[:, :n], gate[:, n:]
            a = p[:, 2 * n :] + (reset * h) @ u_t
            _, unit, k, _ = _modrelu_parts(a, beta)
            h = h + update * (k * unit - h)
            states.append(h)
            pre_gates.append(g_pre)
            gates.append(gate)
            pre_acts.append(a)
        out = torch.stack(states, 1)
        ctx.save_for_backward(
            h0,
            v_t,
            u_t,
            alpha,
            beta,
            out,
            torch.stack(pre_gates, 1),
            torch.stack(gates, 1),
            torch.stack(pre_acts, 1),
        )
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        h0, v_t, u_t, alpha, beta, out, pre_gates, gates, pre_acts = ctx.saved_tensors
        n = h0.shape[-1]
        batch, steps = out.shape[:2]
        prev = torch.cat([h0.unsqueeze(1), out[:, :-1]], 1)  # h_{t-1}
        rho, unit, k, k_prime = _modrelu_parts(pre_acts, beta)
        cand = k * unit
        phi = torch.where(rho > 0, k / torch.where(rho > 0, rho, torch.ones_like(rho)), 0)
        u_conj_t = u_t.conj().mT  # g_q = g_a @ U_t^H
        v_conj_t = v_t.conj().mT
        one_minus_alpha = 1 - alpha
        mix = torch.complex(alpha, one_minus_alpha)  # d s / d(Re, Im) as a complex factor
        grad_pre_gates = torch.empty_like(pre_gates)
        grad_pre_acts = torch.empty_like(pre_acts)
        grad_s_all = torch.empty_like(gates)
        radial_all = torch.empty_like(rho)
        carry = torch.zeros_like(h0)
        for t in range(steps - 1, -1, -1):
            g = grad_out[:, t] + carry
            h_prev = prev[:, t]
            gate = gates[:, t]
            reset, update = gate[:, :n], gate[:, n:]
            g_update = (torch.conj(cand[:, t] - h_prev) * g).real
            g_cand = update * g
            u = unit[:, t]
            radial = (torch.conj(g_cand) * u).real
            g_a = phi[:, t] * g_cand + (k_prime[:, t] - phi[:, t]) * radial * u
            g_q = g_a @ u_conj_t
            g_reset = (torch.conj(h_prev) * g_q).real
            g_s = torch.cat([g_reset, g_update], -1) * gate * (1 - gate)
            g_pre = mix * g_s
            carry = (1 - update) * g + reset * g_q + g_pre @ v_conj_t
            grad_pre_gates[:, t] = g_pre
            grad_pre_acts[:, t] = g_a
            grad_s_all[:, t] = g_s
            radial_all[:, t] = radial
        grad_projected = torch.cat([grad_pre_gates, grad_pre_acts], -1)
        flat = batch * steps
        grad_v_t = prev.reshape(flat, n).mH @ grad_pre_gates.reshape(flat, 2 * n)
        q = gates[..., :n] * prev
        grad_u_t = q.reshape(flat, n).mH @ grad_pre_acts.reshape(flat, n)
        grad_alpha = (grad_s_all * (pre_gates.real - pre_gates.imag)).sum((0, 1))
        grad_beta = (k_prime * radial_all).sum((0, 1))
        return grad_projected, carry, grad_v_t, grad_u_t, grad_alpha, grad_beta
