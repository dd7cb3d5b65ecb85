"""Wirtinger derivatives against closed forms and finite differences."""

import numpy as np
import pytest
import torch

import cunitary.functional as F
from cunitary.analysis import (
    activation_profile,
    cauchy_riemann_residual,
    complex_grid,
    expansion_bound,
    wirtinger_derivatives,
)

Z = torch.tensor([0.3 + 1.2j, -1.5 + 0.4j, -0.7 - 0.9j, 1.1 - 0.2j], dtype=torch.complex128)


@pytest.mark.parametrize(
    "f,dz,dzbar",
    [
        (lambda z: z * z, lambda z: 2 * z, lambda z: 0 * z),
        (torch.exp, torch.exp, lambda z: 0 * z),
        (torch.conj_physical, lambda z: 0 * z, lambda z: 1 + 0 * z),
        (lambda z: z * z.conj(), lambda z: z.conj(), lambda z: z),
        (lambda z: z.real, lambda z: 0.5 + 0 * z, lambda z: 0.5 + 0 * z),
    ],
    ids=["z^2", "exp", "conj", "|z|^2", "Re"],
)
def test_closed_forms(f, dz, dzbar):
    got_dz, got_dzbar = wirtinger_derivatives(f, Z)
    torch.testing.assert_close(got_dz, dz(Z).to(torch.complex128))
    torch.testing.assert_close(got_dzbar, dzbar(Z).to(torch.complex128))


def finite_difference_jacobian(f, z: complex, h: float = 1e-6) -> np.ndarray:
    def g(x, y):
        w = f(torch.tensor([complex(x, y)], dtype=torch.complex128))
        w = complex(w.item())
        return np.array([w.real, w.imag])

    x, y = z.real, z.imag
    jx = (g(x + h, y) - g(x - h, y)) / (2 * h)
    jy = (g(x, y + h) - g(x, y - h)) / (2 * h)
    return np.stack([jx, jy], axis=1)  # [[u_x, u_y], [v_x, v_y]]


@pytest.mark.parametrize(
    "f",
    [F.cardioid, lambda z: F.modrelu(z, 0.4), F.phase_amplitude, F.cayley, F.crelu],
    ids=["cardioid", "modrelu", "phase_amplitude", "cayley", "crelu"],
)
def test_bound_is_largest_singular_value_of_fd_jacobian(f):
    bound = expansion_bound(f, Z)
    residual = cauchy_riemann_residual(f, Z)
    for k, z in enumerate(Z.tolist()):
        jac = finite_difference_jacobian(f, z)
        sv = np.linalg.svd(jac, compute_uv=False)
        assert abs(bound[k].item() - sv[0]) < 1e-6
        (ux, uy), (vx, vy) = jac
        cr = 0.5 * abs(complex(ux - vy, vx + uy))
        assert abs(residual[k].item() - cr) < 1e-6


def test_seed_claims_on_grid():
    grid = complex_grid(3.0, 81)
    # modReLU: non-expansive for b <= 0, expansive near the origin for b > 0.
    assert activation_profile(lambda z: F.modrelu(z, -0.5), grid)["non_expansive"] == 1.0
    assert activation_profile(lambda z: F.modrelu(z, 0.5), grid)["max_bound"] > 10
    # zReLU and Cayley: holomorphic almost everywhere (off their kinks) with |f'| <= 1.
    for f in (F.zrelu, F.cayley):
        profile = activation_profile(f, grid)
        assert profile["holomorphic"] > 0.97 and profile["max_bound"] <= 1 + 1e-9
    # cardioid exceeds the bound somewhere (seed §5.2.4), phase-amplitude never does.
    assert activation_profile(F.cardioid, grid)["max_bound"] > 1.01
    assert activation_profile(F.phase_amplitude, grid)["max_bound"] <= 1 + 1e-9


def test_errors():
    with pytest.raises(TypeError, match="complex"):
        wirtinger_derivatives(torch.exp, torch.ones(3))
    with pytest.raises(ValueError, match="elementwise"):
        wirtinger_derivatives(lambda z: z.sum(), Z)
    with pytest.raises(ValueError, match="points"):
        complex_grid(1.0, 1)
