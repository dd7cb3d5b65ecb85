"""Initialisers (cunitary.init) against their defining distributions."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from cunitary import init as cinit


@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3, 3), (2, 6, 5)])
def test_fans_match_torch_for_real_weights(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert cinit.complex_fans(torch.empty(shape, dtype=torch.complex64)) == expected


def test_complex_glorot_and_kaiming_variances():
    gen = torch.Generator().manual_seed(14)
    w = torch.empty(400, 300, dtype=torch.complex128)
    cinit.complex_glorot_(w, generator=gen)
    assert abs(w.abs().pow(2).mean().item() / (2 / 700) - 1) < 0.02
    assert abs(w.real.var().item() - w.imag.var().item()) < 0.1 * w.real.var().item()
    cinit.complex_kaiming_(w, gain=2.0, generator=gen)
    assert abs(w.abs().pow(2).mean().item() / (4 / 300) - 1) < 0.02
    # Rayleigh modulus and uniform phase: Kolmogorov-Smirnov against the laws themselves.
    sigma = math.sqrt(4 / 300 / 2)
    assert stats.kstest(w.abs().flatten().numpy(), stats.rayleigh(scale=sigma).cdf).pvalue > 1e-3
    phase = w.angle().flatten().numpy()
    assert stats.kstest(phase, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_haar_unitary_is_unitary_with_uniform_eigenphases():
    gen = torch.Generator().manual_seed(15)
    phases = []
    for _ in range(200):
        u = cinit.haar_unitary_(torch.empty(16, 16, dtype=torch.complex128), generator=gen)
        torch.testing.assert_close(u @ u.mH, torch.eye(16, dtype=torch.complex128))
        phases.append(torch.linalg.eigvals(u).angle())
    # Haar eigenphases are uniform on the circle; a plain QR without the phase fix of
    # diag(R) is not Haar and fails this (p ~ 1e-6 on these sizes and seeds).
    phases = torch.cat(phases).numpy()
    assert stats.kstest(phases, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_uniform_angles_range_and_bad_input():
    gen = torch.Generator().manual_seed(16)
    a = cinit.uniform_angles_(torch.empty(10_000), scale=0.5, generator=gen)
    assert -0.5 <= float(a.min()) and float(a.max()) <= 0.5
    assert stats.kstest(a.numpy(), stats.uniform(-0.5, 1.0).cdf).pvalue > 1e-3
    with pytest.raises(TypeError, match="real"):
        cinit.uniform_angles_(torch.empty(3, dtype=torch.complex64))
    with pytest.raises(TypeError, match="complex"):
        cinit.complex_glorot_(torch.empty(3, 3))
    with pytest.raises(ValueError, match="square complex"):
        cinit.haar_unitary_(torch.empty(3, 4, dtype=torch.complex64))
    with pytest.raises(ValueError, match="2 dimensions"):
        cinit.complex_fans(torch.empty(3, dtype=torch.complex64))
