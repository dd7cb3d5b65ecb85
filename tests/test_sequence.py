"""The deep linear-recurrent models against numpy loops written from their equations
(the eigen-angle recurrence; the LRU as Orvieto et al. write it), ``scipy.signal.lfilter``
for the ARMA operator, and themselves run in pieces (continuing from a returned state)."""

import math

import numpy as np
import pytest
import scipy.signal
import torch

from cunitary import (
    ARMARecurrence,
    DeepLinearRecurrence,
    EigenAngleRecurrence,
    LRURecurrence,
)
from cunitary._scan import decaying_scan


def _numpy_recurrence(x, lam, gamma, b, c, d, h0=None):
    """h_t = lam h_{t-1} + gamma (B x_t), y_t = Re(C h_t) + D x_t, step by step."""
    batch, length, _ = x.shape
    h = np.zeros((batch, lam.shape[0]), complex) if h0 is None else h0.copy()
    ys = np.empty_like(x)
    for t in range(length):
        h = lam * h + gamma * (x[:, t] @ b.T)
        ys[:, t] = (h @ c.T).real + d * x[:, t]
    return ys, h


def _np(t):
    return t.detach().numpy()


def test_eigen_angle_recurrence_matches_numpy_and_is_on_the_circle():
    torch.manual_seed(0)
    layer = EigenAngleRecurrence(3, 5, dtype=torch.float64)
    x = torch.randn(2, 400, 3, dtype=torch.float64)
    h0 = torch.randn(2, 5, dtype=torch.complex128)
    y, h = layer(x, h0)
    lam = np.exp(1j * _np(layer.angles))
    ref_y, ref_h = _numpy_recurrence(
        _np(x), lam, 1.0, _np(layer.input_weight), _np(layer.output_weight),
        _np(layer.skip), _np(h0),
    )  # fmt: skip
    np.testing.assert_allclose(_np(y), ref_y, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(_np(h), ref_h, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(np.abs(_np(layer.eigenvalues())), 1.0, atol=1e-15)
    assert torch.all((layer.angles >= 0.01) & (layer.angles <= math.pi))


def test_lru_follows_its_papers_equations_and_ring_initialisation():
    torch.manual_seed(1)
    layer = LRURecurrence(3, 400, r_min=0.4, r_max=0.9, max_phase=math.pi / 10,
                          dtype=torch.float64)  # fmt: skip
    nu, theta = np.exp(_np(layer.nu_log)), np.exp(_np(layer.theta_log))
    lam = np.exp(-nu + 1j * theta)
    modulus = np.abs(lam)
    assert modulus.min() >= 0.4 - 1e-12 and modulus.max() <= 0.9 + 1e-12
    assert theta.min() >= 0 and theta.max() <= math.pi / 10 + 1e-12
    # moduli uniform on the ring: |lambda|^2 uniform on [r_min^2, r_max^2]
    assert abs(np.mean(modulus**2) - (0.4**2 + 0.9**2) / 2) < 0.03
    np.testing.assert_allclose(np.exp(_np(layer.gamma_log)), np.sqrt(1 - modulus**2))
    small = LRURecurrence(3, 6, dtype=torch.float64)
    x = torch.randn(2, 150, 3, dtype=torch.float64)
    y, h = small(x)
    lam = np.exp(-np.exp(_np(small.nu_log)) + 1j * np.exp(_np(small.theta_log)))
    ref_y, ref_h = _numpy_recurrence(
        _np(x), lam, np.exp(_np(small.gamma_log)), _np(small.input_weight),
        _np(small.output_weight), _np(small.skip),
    )  # fmt: skip
    np.testing.assert_allclose(_np(y), ref_y, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(_np(h), ref_h, rtol=1e-11, atol=1e-11)


def test_gradients_of_both_recurrences_pass_gradcheck():
    torch.manual_seed(2)
    x = torch.randn(2, 70, 3, dtype=torch.float64, requires_grad=True)
    for layer in (EigenAngleRecurrence(3, 4, dtype=torch.float64),
                  LRURecurrence(3, 4, dtype=torch.float64)):  # fmt: skip
        names = [name for name, _ in layer.named_parameters()]
        values = [p.detach().clone().requires_grad_() for p in layer.parameters()]

        def run(x, *v, layer=layer, names=names):
            params = dict(zip(names, v, strict=True))
            return torch.func.functional_call(layer, params, (x,))[0]

        assert torch.autograd.gradcheck(run, (x, *values))


def test_decaying_scan_gradient_matches_autograd_through_a_loop():
    torch.manual_seed(3)
    u = torch.randn(2, 200, 4, dtype=torch.complex128, requires_grad=True)
    lam = (0.97 * torch.exp(1j * torch.rand(4, dtype=torch.float64))).requires_grad_()
    h0 = torch.randn(2, 4, dtype=torch.complex128, requires_grad=True)
    grad = torch.randn(2, 200, 4, dtype=torch.complex128)
    fast = decaying_scan(u, lam, h0)
    h, states = h0, []
    for u_t in u.unbind(1):
        h = lam * h + u_t
        states.append(h)
    slow = torch.stack(states, 1)
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    for a, b in zip(torch.autograd.grad(fast, (u, lam, h0), grad),
                    torch.autograd.grad(slow, (u, lam, h0), grad), strict=True):  # fmt: skip
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)


def test_arma_operator_is_a_causal_ma_then_lfilter():
    torch.manual_seed(4)
    layer = ARMARecurrence(3, kernel_size=3, ar_order=2, dtype=torch.float64)
    with torch.no_grad():
        layer.filter.ar_reflection.uniform_(-2, 2)
    x = torch.randn(2, 120, 3, dtype=torch.float64)
    y, state = layer(x)
    assert state is None
    w = _np(layer.filter.ma.weight)  # (out, in, K): y_t = sum_j w[:, :, j] x_{t - K + 1 + j}
    bias = _np(layer.filter.ma.bias)
    xs = _np(x)
    padded = np.concatenate([np.zeros((2, 2, 3)), xs], axis=1)
    ma = sum(padded[:, j : j + 120] @ w[:, :, j].T for j in range(3)) + bias
    poly = _np(layer.filter.ar_polynomial())
    ref = np.stack([scipy.signal.lfilter([1.0], poly[f], ma[..., f], axis=-1)
                    for f in range(3)], axis=-1)  # fmt: skip
    np.testing.assert_allclose(_np(y), ref, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="no state"):
        layer(x, torch.zeros(2, 3))


@pytest.mark.parametrize("temporal", ["unitary", "lru"])
def test_a_sequence_continued_from_its_state_equals_the_whole(temporal):
    torch.manual_seed(5)
    model = DeepLinearRecurrence(4, 8, 3, num_layers=2, temporal=temporal, state_size=6,
                                 dtype=torch.float64)  # fmt: skip
    x = torch.randn(2, 300, 4, dtype=torch.float64)
    whole, final = model(x)
    first, state = model(x[:, :129])
    pieces = [first]
    for t in range(129, 300):  # one step at a time, as generation would
        y, state = model(x[:, t : t + 1], state)
        pieces.append(y)
    torch.testing.assert_close(torch.cat(pieces, 1), whole, rtol=1e-10, atol=1e-10)
    for a, b in zip(state, final, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_layout_dtype_and_bad_input():
    torch.manual_seed(6)
    model = DeepLinearRecurrence(4, 8, 3, temporal="arma")
    x = torch.randn(2, 30, 4)
    y, state = model(x)
    assert y.shape == (2, 30, 3) and state == [None, None]
    time_major = DeepLinearRecurrence(4, 8, 3, batch_first=False)
    time_major.load_state_dict(DeepLinearRecurrence(4, 8, 3).state_dict())
    assert time_major(x.transpose(0, 1))[0].shape == (30, 2, 3)
    with pytest.raises(ValueError, match="temporal must be one of"):
        DeepLinearRecurrence(4, 8, 3, temporal="lstm")
    with pytest.raises(TypeError, match="dtype torch.float64 but the parameters are"):
        DeepLinearRecurrence(4, 8, 3)(x.double())
    with pytest.raises(ValueError, match=r"shape \(B, T, 4\)"):
        DeepLinearRecurrence(4, 8, 3)(torch.randn(2, 30, 5))
    with pytest.raises(ValueError, match="state must be a list of 2"):
        DeepLinearRecurrence(4, 8, 3)(x, [None])
    with pytest.raises(ValueError, match="r_min < r_max < 1"):
        LRURecurrence(4, 4, r_max=1.0)
    with pytest.raises(TypeError, match="batch_first must be a bool"):
        DeepLinearRecurrence(4, 8, 3, batch_first="no")


def test_empty_axes_give_empty_outputs_or_named_errors():
    y, state = DeepLinearRecurrence(3, 8, 2)(torch.randn(2, 0, 3))
    assert y.shape == (2, 0, 2) and state[0].shape == (2, 8) and not state[0].abs().any()
    with pytest.raises(ValueError, match="non-empty time axis"):
        DeepLinearRecurrence(3, 8, 2, temporal="arma")(torch.randn(2, 0, 3))
    from cunitary import ARMA2d

    with pytest.raises(ValueError, match="non-empty H and W"):
        ARMA2d(1, 1)(torch.randn(2, 1, 0, 8))
