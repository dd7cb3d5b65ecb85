"""Complex activations against numpy references written from the definitions."""

import numpy as np
import pytest
import torch

import cunitary.functional as F
from cunitary import (
    Cardioid,
    CayleyActivation,
    CReLU,
    Hirose,
    ModReLU,
    ModSigmoid,
    PhaseAmplitude,
    PhaseReLU,
    ZReLU,
)

RNG = np.random.default_rng(0)
POINTS = RNG.normal(size=400) * 2 + 1j * RNG.normal(size=400) * 2


def theta_np(z):
    return np.mod(np.angle(z), 2 * np.pi)


REFERENCES = {
    "zrelu": (F.zrelu, lambda z: np.where((z.real >= 0) & (z.imag >= 0), z, 0)),
    "crelu": (F.crelu, lambda z: np.maximum(z.real, 0) + 1j * np.maximum(z.imag, 0)),
    "cardioid": (F.cardioid, lambda z: 0.5 * (1 + np.cos(np.angle(z))) * z),
    "modrelu": (
        lambda z: F.modrelu(z, -0.7),
        lambda z: np.maximum(np.abs(z) - 0.7, 0) * np.exp(1j * np.angle(z)),
    ),
    "phase_amplitude": (
        lambda z: F.phase_amplitude(z, 2.0),
        lambda z: np.tanh(np.abs(z) / 2.0) * np.exp(1j * np.angle(z)),
    ),
    "hirose": (
        lambda z: F.hirose(z, 1.5),
        lambda z: np.tanh(np.abs(z) / 2.25) * np.exp(1j * np.angle(z)),
    ),
    "phase_relu": (
        lambda z: F.phase_relu(z, 1.3, 0.4),
        lambda z: np.where(np.sin(1.3 * theta_np(z) + 0.4) >= 0, z, 0),
    ),
    "phase_relu_cos": (
        lambda z: F.phase_relu(z, 1.0, 0.2, 2.0, -0.3),
        lambda z: z * (np.sin(theta_np(z) + 0.2) >= 0) * (np.cos(2.0 * theta_np(z) - 0.3) >= 0),
    ),
    "cayley": (
        F.cayley,
        lambda z: np.where(z.imag >= 0, z - 2j * np.log(1 - 1j * z), z + 2j * np.log(1 + 1j * z)),
    ),
}

MODULES = [
    PhaseReLU(),
    PhaseReLU(num_features=3, cosine=True, temperature=0.2),
    ZReLU(),
    ModReLU(num_features=3, bias=-0.1),
    ModReLU(bias=0.3),
    CReLU(),
    Cardioid(),
    PhaseAmplitude(1.5),
    Hirose(num_features=3),
    ModSigmoid(num_features=3),
    CayleyActivation(),
]


@pytest.mark.parametrize("name", list(REFERENCES))
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_matches_numpy_reference(name, dtype):
    fn, ref = REFERENCES[name]
    out = fn(torch.from_numpy(POINTS).to(dtype))
    tol = 1e-5 if dtype == torch.complex64 else 1e-12
    np.testing.assert_allclose(out.to(torch.complex128).numpy(), ref(POINTS), atol=tol * 10)


def test_mod_sigmoid_reference():
    z = torch.from_numpy(POINTS)
    out = F.mod_sigmoid(z, 0.3)
    ref = 1 / (1 + np.exp(-(0.3 * POINTS.real + 0.7 * POINTS.imag)))
    assert not out.is_complex()
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-12)
    assert (out > 0).all() and (out < 1).all()


@pytest.mark.parametrize("module", MODULES, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("modulus", [0.0, 1e-20])
def test_finite_values_and_gradients_near_zero(module, dtype, modulus):
    phases = torch.tensor([0.0, 0.7, 2.0, 3.5, 5.0], dtype=torch.float64)
    z = torch.polar(torch.full_like(phases, modulus), phases).to(dtype)
    z = z.reshape(5, 1).expand(5, 3).contiguous().requires_grad_()
    out = module(z)
    assert torch.isfinite(out).all()
    loss = (out.abs() ** 2).sum() + (out.real.sum() if out.is_complex() else out.sum())
    loss.backward()
    assert torch.isfinite(z.grad).all()
    for p in module.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


@pytest.mark.parametrize("name", list(REFERENCES))
def test_gradcheck_away_from_kinks(name):
    fn, _ = REFERENCES[name]
    # Points well inside open regions: no sector boundary, axis or zero of |z| + b nearby.
    z = torch.tensor([1.1 + 0.9j, -0.6 + 1.7j, -1.3 - 0.8j, 0.9 - 1.6j], dtype=torch.complex128)
    assert torch.autograd.gradcheck(fn, (z.requires_grad_(),))


@pytest.mark.parametrize(
    "fn",
    [
        lambda z, p: F.modrelu(z, p),
        lambda z, p: F.hirose(z, p),
        lambda z, p: F.mod_sigmoid(z, p),
        lambda z, p: F.phase_relu(z, p, 0.3, temperature=0.5),
        lambda z, p: F.phase_relu(z, 1.0, p, 1.0, p, temperature=0.5),
    ],
)
def test_gradcheck_parameters(fn):
    z = torch.tensor([1.1 + 0.9j, -0.6 + 1.7j, -1.3 - 0.8j], dtype=torch.complex128)
    p = torch.tensor([0.8, 1.2, 0.4], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (z.requires_grad_(), p))


def test_phase_relu_special_cases():
    z = torch.from_numpy(POINTS)
    torch.testing.assert_close(F.phase_relu(z, 1.0, 0.0, 1.0, 0.0), F.zrelu(z))
    upper = F.phase_relu(z, 1.0, 0.0)
    torch.testing.assert_close(upper, torch.where(z.imag >= 0, z, 0))
    # |a| <= 1/2 with b = 0 filters nothing (sin(a*theta) >= 0 on [0, 2*pi)).
    torch.testing.assert_close(F.phase_relu(z, 0.5, 0.0), z)


def test_phase_relu_surrogate_trains_and_converges_to_step():
    z = torch.from_numpy(POINTS).to(torch.complex64).requires_grad_()
    exact = PhaseReLU(a=1.2, b=0.3)
    out = exact(z)
    out.abs().sum().backward()
    assert exact.a.grad is None or exact.a.grad == 0  # the step blocks the gradient
    smooth = PhaseReLU(a=1.2, b=0.3, temperature=0.1)
    smooth(z).abs().sum().backward()
    assert smooth.a.grad.abs() > 0 and smooth.b.grad.abs() > 0
    sharp = F.phase_relu(z.detach(), 1.2, 0.3, temperature=1e-4)
    agree = torch.isclose(sharp, out.detach(), atol=1e-3).float().mean()
    assert agree > 0.99


def test_cayley_derivative_and_symmetry():
    from cunitary.analysis import wirtinger_derivatives

    z = torch.from_numpy(POINTS[np.abs(POINTS.imag) > 1e-3])
    dz, dzbar = wirtinger_derivatives(F.cayley, z)
    zn = z.numpy()
    expected = np.where(zn.imag >= 0, (zn - 1j) / (zn + 1j), (zn + 1j) / (zn - 1j))
    np.testing.assert_allclose(dz.numpy(), expected, atol=1e-10)
    assert dzbar.abs().max() < 1e-10
    assert dz.abs().max() <= 1
    torch.testing.assert_close(F.cayley(z.conj()), F.cayley(z).conj())
    assert F.cayley(torch.zeros(1, dtype=torch.complex64)).abs().item() == 0


def test_parameter_shapes_broadcast_on_last_axis():
    act = ModReLU(num_features=4, bias=-0.5)
    assert act.bias.shape == (4,)
    z = torch.randn(2, 3, 4, dtype=torch.complex64)
    with torch.no_grad():
        act.bias.copy_(torch.tensor([-10.0, 0.0, 0.0, -10.0]))
    out = act(z)
    assert (out[..., 0] == 0).all() and (out[..., 3] == 0).all()
    torch.testing.assert_close(out[..., 1:3], z[..., 1:3])


def test_errors():
    with pytest.raises(TypeError, match="complex"):
        F.modrelu(torch.ones(3, dtype=torch.int64), 0.1)  # real floats are the real line
    with pytest.raises(TypeError, match="RealToComplex"):
        CReLU()(torch.randn(3))
    with pytest.raises(ValueError, match="c and d"):
        F.phase_relu(torch.randn(3, dtype=torch.complex64), 1.0, 0.0, c=1.0)
    with pytest.raises(ValueError, match="temperature"):
        PhaseReLU(temperature=-1)
    with pytest.raises(ValueError, match="num_features"):
        ModReLU(num_features=0)
    with pytest.raises(ValueError, match="m must"):
        PhaseAmplitude(m=0)


def test_real_input_to_modrelu_is_the_real_line_of_the_complex_map():
    from cunitary import ModReLU

    x = torch.tensor([-2.0, -0.05, 0.0, 0.05, 3.0], dtype=torch.float64)
    act = ModReLU(bias=-0.1, dtype=torch.float64)
    expected = act(x.to(torch.complex128))
    got = act(x)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected.real)
    assert expected.imag.abs().max() == 0


def test_nonexpansive_modrelu_is_1_lipschitz_where_a_positive_bias_is_not():
    """|f(z1) - f(z2)| <= |z1 - z2| on pairs near the origin, checked numerically: it fails
    for modReLU with b = 0.5 and holds with nonexpansive=True (which uses min(b, 0))."""
    torch.manual_seed(0)
    z1 = 0.05 * torch.randn(2000, dtype=torch.complex128)
    z2 = z1 + 0.01 * torch.randn(2000, dtype=torch.complex128)
    ratio = {}
    for nonexpansive in (False, True):
        act = ModReLU(dtype=torch.float64, nonexpansive=nonexpansive)
        with torch.no_grad():
            act.bias.fill_(0.5)  # as an optimiser could leave it
        ratio[nonexpansive] = ((act(z1) - act(z2)).abs() / (z1 - z2).abs()).max().item()
        b = 0.5 if not nonexpansive else 0.0
        reference = np.maximum(np.abs(z1.numpy()) + b, 0) * np.exp(1j * np.angle(z1.numpy()))
        np.testing.assert_allclose(act(z1).detach().numpy(), reference, atol=1e-12)
    assert ratio[False] > 2
    assert ratio[True] <= 1 + 1e-9


def test_nonexpansive_bias_gets_the_gradient_straight_through():
    """A bias pushed above 0 acts as 0 but is not frozen there: its gradient is the one at
    the clamped value, so descent can bring it back below 0."""
    act = ModReLU(3, dtype=torch.float64, nonexpansive=True)
    with torch.no_grad():
        act.bias.copy_(torch.tensor([0.2, -0.1, 0.0], dtype=torch.float64))
    z = torch.tensor([[1.0 + 1.0j, 0.5j, -2.0]], dtype=torch.complex128)
    act(z).abs().sum().backward()
    # d|f|/db = 1 where active, for the clamped biases (0, -0.1, 0)
    np.testing.assert_allclose(act.bias.grad.numpy(), [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="bias must be <= 0"):
        ModReLU(bias=0.1, nonexpansive=True)
    with pytest.raises(TypeError, match="real floating dtype"):
        ModReLU(3, dtype=torch.complex64)
