"""The diagonal unitary scan and its adjoint backward against recurrences written in numpy
with extended precision (``np.clongdouble``), step by step from the equations, and against
autograd through the float64 step loop."""

import numpy as np
import pytest
import torch

import cunitary._scan as scan_module
from cunitary import LinearUnitaryRecurrence
from cunitary.functional import diagonal_unitary_scan, unitary_scan


def _extended_states(u, angles, h0=None):
    """h_t = e^{i w} h_{t-1} + u_t in numpy long double, (B, T, n)."""
    lam = np.exp(1j * angles.astype(np.longdouble))
    ul = u.astype(np.clongdouble)
    h = np.zeros(ul[:, 0].shape, np.clongdouble) if h0 is None else h0.astype(np.clongdouble)
    out = np.empty_like(ul)
    for t in range(ul.shape[1]):
        h = lam * h + ul[:, t]
        out[:, t] = h
    return out


def _extended_gradients(states, grad, angles, h0):
    """The adjoint a_t = g_t + conj(lam) a_{t+1}; dL/du = a, dL/dh0 = conj(lam) a_1,
    dL/dw = Re(conj(G) i lam) with G = sum_{b,t} conj(h_{t-1}) a_t, in long double."""
    lam = np.exp(1j * angles.astype(np.longdouble))
    g = grad.astype(np.clongdouble)
    a = np.empty_like(g)
    running = np.zeros(g[:, 0].shape, np.clongdouble)
    for t in range(g.shape[1] - 1, -1, -1):
        running = g[:, t] + np.conj(lam) * running
        a[:, t] = running
    before = np.concatenate([h0.astype(np.clongdouble)[:, None], states[:, :-1]], axis=1)
    big_g = (np.conj(before) * a).sum((0, 1))
    return a, np.real(np.conj(big_g) * 1j * lam), np.conj(lam) * a[:, 0]


def _relative(x, ref):
    return float(np.abs(np.asarray(x, np.clongdouble) - ref).max() / np.abs(ref).max())


@pytest.mark.parametrize("length", [1, 63, 64, 65, 1000, 65_536])
def test_values_and_gradients_match_extended_precision_to_1e12(length):
    rng = np.random.default_rng(length)
    batch, n = (2, 3) if length > 1000 else (3, 5)
    angles = rng.uniform(-np.pi, np.pi, n)
    u = rng.standard_normal((batch, length, n)) + 1j * rng.standard_normal((batch, length, n))
    h0 = rng.standard_normal((batch, n)) + 1j * rng.standard_normal((batch, n))
    grad = rng.standard_normal((batch, length, n)) + 1j * rng.standard_normal((batch, length, n))
    tu = torch.tensor(u, requires_grad=True)
    tw = torch.tensor(angles, requires_grad=True)
    th0 = torch.tensor(h0, requires_grad=True)
    states = diagonal_unitary_scan(tu, tw, th0)
    states.backward(torch.tensor(grad))
    ref = _extended_states(u, angles, h0)
    assert _relative(states.detach().numpy(), ref) < 1e-12
    ref_u, ref_w, ref_h0 = _extended_gradients(ref, grad, angles, h0)
    assert _relative(tu.grad.numpy(), ref_u) < 1e-12
    assert _relative(th0.grad.numpy(), ref_h0) < 1e-12
    # The angle gradient sums T * B products of states and adjoints, each carrying the
    # float64 rounding above: at T = 65,536 autograd through the float64 loop is off by
    # 4.5e-12 (this scan 3.9e-12), so 1e-12 holds only up to moderate lengths.
    assert _relative(tw.grad.numpy(), ref_w) < (1e-12 if length <= 4096 else 5e-12)


def test_gradients_match_autograd_through_the_float64_loop():
    torch.manual_seed(0)
    u = torch.randn(2, 300, 4, dtype=torch.complex128, requires_grad=True)
    w = torch.rand(4, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 4, dtype=torch.complex128, requires_grad=True)
    grad = torch.randn(2, 300, 4, dtype=torch.complex128)
    results = []
    for method in ("scan", "loop"):
        out = diagonal_unitary_scan(u, w, h0, method=method)
        results.append((out, *torch.autograd.grad(out, (u, w, h0), grad)))
    for fast, slow in zip(*results, strict=True):
        torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(
        lambda u, w, h0: diagonal_unitary_scan(u, w, h0), (u[:, :70].detach(), w, h0)
    )


def test_float32_does_not_drift_with_length():
    """At T = 100,000 a float32 step loop is off by ~1e-3 of the largest state (its
    rounded lambda has modulus 1 only to rounding, and the error compounds); the scan's
    blocks restart from a double-precision state with exact phases: within 1e-4, and at
    least ten times closer than the loop."""
    rng = np.random.default_rng(1)
    angles = rng.uniform(-np.pi, np.pi, 8).astype(np.float32)
    u = rng.standard_normal((2, 100_000, 8)) + 1j * rng.standard_normal((2, 100_000, 8))
    u = u.astype(np.complex64)
    ref = _extended_states(u, angles.astype(np.float64))
    tu, tw = torch.tensor(u), torch.tensor(angles)
    scan = _relative(diagonal_unitary_scan(tu, tw).numpy(), ref)
    loop = _relative(diagonal_unitary_scan(tu, tw, method="loop").numpy(), ref)
    assert scan < 1e-4
    assert loop > 10 * scan  # the drift the blocks avoid


def test_the_block_size_changes_nothing_but_rounding(monkeypatch):
    torch.manual_seed(3)
    u = torch.randn(2, 500, 3, dtype=torch.complex128)
    w = torch.rand(3, dtype=torch.float64)
    reference = diagonal_unitary_scan(u, w)
    for block in (1, 7, 500, 1000):
        monkeypatch.setattr(scan_module, "BLOCK", block)
        torch.testing.assert_close(diagonal_unitary_scan(u, w), reference, rtol=1e-12, atol=0)


def test_the_circulant_scan_and_the_recurrence_layer_use_it():
    torch.manual_seed(4)
    u = torch.randn(3, 200, 6, dtype=torch.complex128)
    w = torch.rand(6, dtype=torch.float64) * 6
    h0 = torch.randn(3, 6, dtype=torch.complex128)
    for method in ("scan", "closed"):
        torch.testing.assert_close(
            unitary_scan(u, w, h0, method=method), unitary_scan(u, w, h0, method="loop")
        )
    layer = LinearUnitaryRecurrence(None, 6, dtype=torch.float64)
    assert layer.method == "scan"
    out, _ = layer(u)
    torch.testing.assert_close(out, unitary_scan(u, layer.angles.detach(), method="loop"))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="method must be one of"):
        diagonal_unitary_scan(torch.randn(2, 5, 3), torch.zeros(3), method="closed")
    with pytest.raises(ValueError, match=r"trailing shape \(n,\)"):
        diagonal_unitary_scan(torch.randn(2, 5, 3), torch.zeros(4))
    with pytest.raises(TypeError, match="use one precision"):
        diagonal_unitary_scan(torch.randn(2, 5, 3), torch.zeros(3), torch.zeros(2, 3).double())
