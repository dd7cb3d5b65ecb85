"""ARMA layers against dense solves, scipy.signal.lfilter and numpy convolutions."""

import math

import numpy as np
import pytest
import scipy.signal
import torch
from torch import nn

from cunitary import (
    ARMA2d,
    ARMASequenceModel,
    CausalARMA1d,
)
from cunitary.arma import (
    _ar_filter1d,
    ar_coefficients,
    ar_parameters,
    ar_solve2d,
    sos_filter1d,
)


def dense_ar_matrix(ar_filter: np.ndarray, h: int, w: int) -> np.ndarray:
    """M[(p,q),(a,b)] = A[(p-a) mod H, (q-b) mod W] with A indexed from its centre."""
    kh, kw = ar_filter.shape
    m = np.zeros((h * w, h * w))
    for p in range(h):
        for q in range(w):
            for i in range(kh):
                for j in range(kw):
                    a, b = (p - (i - kh // 2)) % h, (q - (j - kw // 2)) % w
                    m[p * w + q, a * w + b] += ar_filter[i, j]
    return m


def random_filter(rng, channels, kh, kw, strength=0.8):
    """Diagonally dominant centred filters: centre 1, other taps summing to < strength."""
    taps = rng.uniform(-1, 1, (channels, kh, kw))
    taps[:, kh // 2, kw // 2] = 0
    taps *= strength / np.abs(taps).sum(axis=(1, 2), keepdims=True)
    taps[:, kh // 2, kw // 2] = 1
    return taps


@pytest.mark.parametrize("size", [(7, 7), (8, 6), (5, 9)])
@pytest.mark.parametrize("kernel", [(3, 3), (3, 5), (5, 5)])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_ar_solve2d_equals_dense_solve(size, kernel, dtype, tol):
    rng = np.random.default_rng(0)
    h, w = size
    filters = random_filter(rng, 2, *kernel)
    x = rng.standard_normal((3, 2, h, w))
    y = ar_solve2d(torch.tensor(x, dtype=dtype), torch.tensor(filters, dtype=dtype))
    for c in range(2):
        m = dense_ar_matrix(filters[c], h, w)
        ref = np.linalg.solve(m, x[:, c].reshape(3, -1).T).T.reshape(3, h, w)
        np.testing.assert_allclose(y[:, c].numpy(), ref, atol=tol * 10, rtol=tol)
        # and the solution satisfies the AR equation
        np.testing.assert_allclose(
            (m @ y[:, c].double().numpy().reshape(3, -1).T).T, x[:, c].reshape(3, -1), atol=tol * 10
        )


def test_ar_solve2d_padding_moves_the_boundary_to_zeros():
    rng = np.random.default_rng(1)
    filters = random_filter(rng, 1, 3, 3)
    x = rng.standard_normal((1, 1, 6, 7))
    pad = 4
    y = ar_solve2d(torch.tensor(x), torch.tensor(filters), padding=pad)
    big = np.pad(x[0, 0], pad)
    m = dense_ar_matrix(filters[0], *big.shape)
    ref = np.linalg.solve(m, big.ravel()).reshape(big.shape)[pad:-pad, pad:-pad]
    np.testing.assert_allclose(y[0, 0].numpy(), ref, atol=1e-12)


def test_ar_coefficients_fill_the_stable_strip():
    alpha = torch.tensor([-1e6, -30.0, -1.0, 0.0, 0.3, 2.0, 1e6, float("inf")])
    beta = torch.tensor([-1e3, -3.0, -0.4, 0.0, 0.7, 5.0, 1e3])
    a, b = torch.meshgrid(alpha, beta, indexing="ij")
    lo, hi = ar_coefficients(a, b, margin=1e-2)
    assert torch.isfinite(lo).all() and torch.isfinite(hi).all()
    assert (lo + hi).abs().max() <= 1 - 1e-2 + 1e-7
    # the spectrum's minimum, on a fine grid, is 1 - |a_-1 + a_1| >= margin
    omega = torch.linspace(0, 2 * math.pi, 4001, dtype=torch.float64)
    spectrum = (
        1
        + lo[..., None].double() * torch.exp(1j * omega)
        + hi[..., None].double() * (torch.exp(-1j * omega))
    )
    minimum = spectrum.abs().amin(-1)
    torch.testing.assert_close(minimum, 1 - (lo + hi).abs().double(), atol=1e-6, rtol=0)
    assert minimum.min() >= 1e-2 - 1e-7
    # inverse map round trip, including taps outside the ARMA paper's diamond
    target_lo = torch.tensor([0.3, -0.2, 0.0, 0.9, -3.0], dtype=torch.float64)
    target_hi = torch.tensor([-0.5, 0.1, 0.9, -0.5, 3.5], dtype=torch.float64)
    p, q = ar_parameters(target_lo, target_hi)
    lo, hi = ar_coefficients(p, q)
    torch.testing.assert_close(lo, target_lo)
    torch.testing.assert_close(hi, target_hi)
    with pytest.raises(ValueError, match="a_minus"):
        ar_parameters(torch.tensor([0.6]), torch.tensor([0.4]))
    with pytest.raises(ValueError, match="margin"):
        ar_coefficients(torch.zeros(1), torch.zeros(1), margin=0.0)


@pytest.mark.parametrize("ar_kernel_size,ar_dilation", [(3, 1), (5, 1), (3, 2)])
def test_arma2d_filter_is_outer_product_of_cascaded_factors(ar_kernel_size, ar_dilation):
    torch.manual_seed(0)
    layer = ARMA2d(2, 3, ar_kernel_size=ar_kernel_size, ar_dilation=ar_dilation).double()
    with torch.no_grad():
        layer.ar_alpha.normal_()
        layer.ar_beta.normal_()
    lo, hi = (t.detach().numpy() for t in layer.ar_taps())
    filt = layer.ar_filter().detach().numpy()
    q = (ar_kernel_size - 1) // 2
    for c in range(3):
        axes = []
        for axis in range(2):
            taps = np.ones(1)
            for j in range(q):
                factor = np.zeros(2 * ar_dilation + 1)
                factor[[0, ar_dilation, 2 * ar_dilation]] = lo[axis, j, c], 1, hi[axis, j, c]
                taps = np.convolve(taps, factor)
            axes.append(taps)
        np.testing.assert_allclose(filt[c], np.outer(*axes), atol=1e-14)
    assert filt.shape[-1] == layer.ar_extent == ar_dilation * (ar_kernel_size - 1) + 1


@pytest.mark.parametrize("ar_kernel_size,ar_dilation,ar_padding", [(3, 1, 0), (5, 1, 0), (3, 2, 3)])
def test_arma2d_forward_equals_conv_then_dense_ar_solve(ar_kernel_size, ar_dilation, ar_padding):
    torch.manual_seed(1)
    layer = ARMA2d(
        2, 3, kernel_size=3, ar_kernel_size=ar_kernel_size, ar_dilation=ar_dilation,
        ar_padding=ar_padding, dtype=torch.float64,
    )  # fmt: skip
    with torch.no_grad():
        layer.ar_alpha.normal_()
        layer.ar_beta.normal_()
    x = torch.randn(2, 2, 9, 10, dtype=torch.float64)
    y = layer(x).detach().numpy()
    t = layer.conv(x).detach().numpy()
    filt = layer.ar_filter().detach().numpy()
    for c in range(3):
        big = np.pad(t[:, c], ((0, 0), (ar_padding,) * 2, (ar_padding,) * 2))
        m = dense_ar_matrix(filt[c], *big.shape[1:])
        sol = np.linalg.solve(m, big.reshape(2, -1).T).T.reshape(big.shape)
        if ar_padding:
            sol = sol[:, ar_padding:-ar_padding, ar_padding:-ar_padding]
        np.testing.assert_allclose(y[:, c], sol, atol=1e-10)


def test_arma2d_with_zero_ar_is_its_convolution():
    torch.manual_seed(2)
    for dtype, tol in [(torch.float64, 1e-13), (torch.float32, 2e-6)]:
        layer = ARMA2d(3, 4, kernel_size=3, dilation=2, dtype=dtype)
        conv = nn.Conv2d(3, 4, 3, padding=2, dilation=2, dtype=dtype)
        conv.load_state_dict(layer.conv.state_dict())
        x = torch.randn(2, 3, 12, 12, dtype=dtype)
        torch.testing.assert_close(layer(x), conv(x), atol=tol, rtol=tol)
    # ar_kernel_size=1 skips the solve: bit-identical
    layer = ARMA2d(3, 4, ar_kernel_size=1)
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(layer(x), layer.conv(x))
    assert layer.num_ar_parameters() == 0


def test_arma2d_spectrum_bounded_away_from_zero_for_extreme_parameters():
    layer = ARMA2d(1, 6, ar_kernel_size=5, margin=1e-2).double()
    extremes = torch.tensor([1e6, -1e6, 40.0, -40.0, 1e6, -1e6], dtype=torch.float64)
    with torch.no_grad():
        layer.ar_alpha.copy_(extremes.expand(2, 2, 6))
        layer.ar_beta.copy_(extremes.flip(0).expand(2, 2, 6))
    for size in [(8, 8), (31, 17), (64, 64)]:
        spectrum = layer.ar_spectrum(size).abs()
        assert spectrum.min() >= (1e-2) ** 4 * (1 - 1e-9)  # two factors per axis, two axes
    x = torch.randn(1, 1, 16, 16, dtype=torch.float64)
    assert torch.isfinite(layer(x)).all()


def test_arma2d_gradcheck():
    torch.manual_seed(3)
    layer = ARMA2d(2, 2, ar_kernel_size=3, ar_padding=1, dtype=torch.float64)
    with torch.no_grad():
        layer.ar_alpha.normal_()
        layer.ar_beta.normal_()
    names = [n for n, _ in layer.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in layer.parameters())
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)

    def fn(x, *ps):
        return torch.func.functional_call(layer, dict(zip(names, ps, strict=True)), (x,))

    assert torch.autograd.gradcheck(fn, (x, *params))
    f = torch.tensor(random_filter(np.random.default_rng(0), 2, 3, 5), requires_grad=True)
    assert torch.autograd.gradcheck(ar_solve2d, (x, f))


def test_arma_errors():
    with pytest.raises(ValueError, match="smaller than the AR filter"):
        ARMA2d(1, 1, ar_kernel_size=5)(torch.randn(1, 1, 4, 8))
    with pytest.raises(ValueError, match="C_in=3"):
        ARMA2d(3, 1)(torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match="dilation"):
        ARMA2d(1, 1, dilation=0)
    with pytest.raises(ValueError, match="ar_dilation"):
        ARMA2d(1, 1, ar_dilation=-1)
    with pytest.raises(TypeError, match="dilation"):
        ARMA2d(1, 1, dilation=1.5)
    with pytest.raises(ValueError, match="ar_kernel_size must be odd"):
        ARMA2d(1, 1, ar_kernel_size=4)
    with pytest.raises(ValueError, match="smaller than the AR filter"):
        ar_solve2d(torch.randn(1, 2, 2), torch.ones(1, 3, 3))
    with pytest.raises(ValueError, match="C=1"):
        ar_solve2d(torch.randn(2, 4, 4), torch.ones(1, 3, 3))
    with pytest.raises(TypeError, match="x"):
        ar_solve2d(torch.randn(1, 4, 4, dtype=torch.complex64), torch.ones(1, 3, 3))
    with pytest.raises(ValueError, match="F_in=2"):
        CausalARMA1d(2, 3)(torch.randn(1, 10, 3))
    with pytest.raises(ValueError, match="dilation"):
        CausalARMA1d(2, 3, dilation=0)


# -- causal 1-D --------------------------------------------------------------------------


def section(radius, angle):
    """Denominator [1, a1, a2] with poles radius * exp(+-i angle)."""
    return [1.0, -2 * radius * math.cos(angle), radius**2]


@pytest.mark.parametrize(
    "a",
    [[1.0, -0.999], section(0.999, 0.3), section(0.9995, 2.5), [1.0, 0.999], [1.0, 0.4, -0.3, 0.1]],
)
def test_ar_filter1d_equals_lfilter(a):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2000))
    ref = scipy.signal.lfilter([1.0], a, x)
    y = _ar_filter1d(torch.tensor(x), torch.tensor(a, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(y, ref, atol=1e-9 * np.abs(ref).max())
    # float32: compare with the filter that float32 coefficients define
    a32 = torch.tensor(a, dtype=torch.float32)
    ref = scipy.signal.lfilter([1.0], a32.double().numpy(), x)
    y32 = _ar_filter1d(torch.tensor(x, dtype=torch.float32), a32)
    np.testing.assert_allclose(y32.numpy(), ref, atol=2e-6 * np.abs(ref).max())


def test_ar_filter1d_loop_reference_and_gradcheck():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 40, dtype=torch.float64)
    a = torch.tensor([[1.0, -0.9, 0.2], [1.0, 0.5, 0.0], [1.0, -1.2, 0.6]], dtype=torch.float64)
    torch.testing.assert_close(_ar_filter1d(x, a), _ar_filter1d(x, a, method="loop"))
    x = x[..., :12].clone().requires_grad_()
    a = a.clone().requires_grad_()
    assert torch.autograd.gradcheck(_ar_filter1d, (x, a))


def _set_first_order(layer, pole):
    """Make every feature's AR polynomial 1 - pole z^-1 (ar_order=1)."""
    with torch.no_grad():
        layer.ar_reflection.fill_(math.atanh(-pole / (1 - layer.margin)))


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-9), (torch.float32, 2e-6)])
def test_causal_arma1d_equals_lfilter_at_T2000(dtype, rtol):
    torch.manual_seed(0)
    layer = CausalARMA1d(1, 2, kernel_size=4, ar_order=2, dtype=dtype)
    with torch.no_grad():  # poles at radius 0.999: reflection k2 = r^2, k1 = a1 / (1 + k2)
        r, theta = 0.999, torch.tensor([0.05, 1.7])
        k2 = torch.full((2,), r**2)
        k1 = -2 * r * torch.cos(theta) / (1 + k2)
        scale = 1 - layer.margin
        layer.ar_reflection.copy_(torch.atanh(torch.stack([k1, k2])[None] / scale))
    x = torch.randn(2, 2000, 1, dtype=dtype)
    y = layer(x).detach().double().numpy()
    w = layer.ma.weight.detach().double().numpy()  # (F_out, 1, K)
    bias = layer.ma.bias.detach().double().numpy()
    poly = layer.ar_polynomial().detach().double().numpy()
    np.testing.assert_allclose(poly[:, 2], r**2, rtol=1e-6)
    for f in range(2):
        b = w[f, 0, ::-1]  # conv1d correlates: lag m has weight w[K - 1 - m]
        xs = x[..., 0].double().numpy()
        ref = scipy.signal.lfilter(b, poly[f], xs) + scipy.signal.lfilter(
            [bias[f]], poly[f], np.ones_like(xs)
        )
        np.testing.assert_allclose(y[..., f], ref, atol=rtol * np.abs(ref).max())


def test_causal_arma1d_is_causal_and_stable_for_any_parameters():
    torch.manual_seed(0)
    layer = CausalARMA1d(2, 3, kernel_size=3, ar_order=5, dilation=2, dtype=torch.float64)
    with torch.no_grad():
        layer.ar_reflection.copy_(torch.randn_like(layer.ar_reflection) * 1e3)
    for poly in layer.ar_polynomial().detach().numpy():
        assert np.abs(np.roots(poly)).max() < 1
    x = torch.randn(1, 60, 2, dtype=torch.float64)
    x2 = x.clone()
    x2[:, 30:] += torch.randn(1, 30, 2, dtype=torch.float64)
    torch.testing.assert_close(layer(x)[:, :30], layer(x2)[:, :30])  # the past is untouched
    assert not torch.allclose(layer(x)[:, 30:], layer(x2)[:, 30:])


def test_causal_arma1d_gradcheck_and_sequence_model():
    torch.manual_seed(0)
    layer = CausalARMA1d(2, 2, kernel_size=2, ar_order=3, dtype=torch.float64)
    with torch.no_grad():
        layer.ar_reflection.normal_()
    names = [n for n, _ in layer.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in layer.parameters())
    x = torch.randn(1, 9, 2, dtype=torch.float64, requires_grad=True)

    def fn(x, *ps):
        return torch.func.functional_call(layer, dict(zip(names, ps, strict=True)), (x,))

    assert torch.autograd.gradcheck(fn, (x, *params))
    model = ARMASequenceModel(3, 8, output_size=5, num_layers=2)
    assert model(torch.randn(4, 20, 3)).shape == (4, 20, 5)
    assert ARMASequenceModel(3, 8)(torch.randn(4, 20, 3)).shape == (4, 20, 8)


@pytest.mark.parametrize("T", [1000, 10_000])
def test_sos_filter_is_exact_for_repeated_poles_near_the_circle(T):
    """Two identical sections with a double real pole at 0.999, and two with complex
    poles at radius 0.999 near -1, against scipy.signal.sosfilt."""
    rho = 0.999
    x = np.random.default_rng(T).standard_normal((2, 3, T))
    for section in ([1.0, -2 * rho, rho * rho], [1.0, 1.996, 0.998]):
        sections = np.array([section, section])
        sos = np.concatenate([np.tile([[1.0, 0.0, 0.0]], (2, 1)), sections], axis=1)
        want = scipy.signal.sosfilt(sos, x)
        got = sos_filter1d(torch.tensor(x), torch.tensor(sections)).numpy()
        assert np.abs(got - want).max() < 1e-7 * np.abs(want).max()


def test_causal_arma_filters_by_sections_and_matches_its_polynomial():
    torch.manual_seed(0)
    layer = CausalARMA1d(2, 3, ar_order=3, dtype=torch.float64)
    with torch.no_grad():
        layer.ar_reflection.normal_()
    x = torch.randn(2, 40, 2, dtype=torch.float64)
    pad = layer.dilation * (layer.kernel_size - 1)
    ma = layer.ma(torch.nn.functional.pad(x.transpose(1, 2), (pad, 0))).detach().numpy()
    poly = layer.ar_polynomial().detach().numpy()
    want = np.stack([scipy.signal.lfilter([1.0], poly[f], ma[:, f]) for f in range(3)], 1)
    np.testing.assert_allclose(layer(x).transpose(1, 2).detach().numpy(), want, atol=1e-10)
    # the case: all reflections at 4.0 (repeated poles at radius ~0.999)
    with torch.no_grad():
        layer.ar_reflection.fill_(4.0)
    long = torch.randn(1, 4000, 2, dtype=torch.float64)
    sections = layer.ar_sections().detach().numpy()
    ma = layer.ma(torch.nn.functional.pad(long.transpose(1, 2), (pad, 0))).detach().numpy()
    sos = [np.concatenate([np.tile([[1.0, 0.0, 0.0]], (len(s), 1)), s], 1) for s in sections]
    want = np.stack([scipy.signal.sosfilt(sos[f], ma[:, f]) for f in range(3)], 1)
    got = layer(long).transpose(1, 2).detach().numpy()
    assert np.abs(got - want).max() < 1e-7 * np.abs(want).max()


@pytest.mark.parametrize(("r", "theta", "length"), [(0.9999, 0.3, 30_000), (0.9999, 0.05, 60_000)])
def test_ar_filter1d_with_near_repeated_poles_near_the_circle(r, theta, length):
    # A double complex pole pair: the companion matrix is close to a Jordan block, and
    # repeated squaring lost 0.6% (first case) or overflowed (second) against lfilter.
    section = np.array([1.0, -2 * r * np.cos(theta), r * r])
    a = np.convolve(section, section)
    impulse = np.zeros(length)
    impulse[0] = 1
    reference = scipy.signal.lfilter([1.0], a, impulse)
    got = _ar_filter1d(torch.tensor(impulse), torch.tensor(a)).numpy()
    assert np.abs(got - reference).max() / np.abs(reference).max() < 1e-4


def _random_layout(rng, kind: str, pairs: int) -> np.ndarray:
    """Second-order sections [1, -2 r cos t, r^2] with poles near the unit circle."""
    if kind == "repeated":
        r, t = 1 - 10 ** rng.uniform(-5, -3), rng.uniform(0.05, 3.0)
        poles = [(r, t)] * pairs
    elif kind == "clustered":
        r0, t0 = 1 - 10 ** rng.uniform(-5, -3), rng.uniform(0.1, 3.0)
        poles = [(r0 - 1e-5 * k, t0 + 0.06 * k) for k in range(pairs)]
    else:
        poles = [(1 - 10 ** rng.uniform(-4, -1), rng.uniform(0, math.pi)) for _ in range(pairs)]
    return np.array([[1.0, 0.0, 0.0, 1.0, -2 * r * math.cos(t), r * r] for r, t in poles])


@pytest.mark.parametrize("kind", ["repeated", "clustered", "scattered"])
@pytest.mark.parametrize(("pairs", "length"), [(3, 30_000), (8, 100_000)])
def test_sos_filter1d_equals_sosfilt_near_the_circle(kind, pairs, length):
    """The public all-pole filter on the layouts that broke the expanded-polynomial one
    (three pairs at r = 0.99999 0.06 rad apart: 6.9e92 against 9.9e6; four at 0.9999: NaN;
    a double pair: 2e-3): repeated, clustered and scattered poles, up to 8 pairs, T up to
    1e5, against scipy.signal.sosfilt."""
    rng = np.random.default_rng(pairs * 7 + len(kind))
    sos = _random_layout(rng, kind, pairs)
    x = rng.standard_normal(length)
    reference = scipy.signal.sosfilt(sos, x)
    sections = torch.tensor(sos[:, 3:])
    got = sos_filter1d(torch.tensor(x), sections).numpy()
    assert np.isfinite(got).all()
    assert np.abs(got - reference).max() <= 1e-6 * np.abs(reference).max()


def test_the_removed_polynomial_filter_names_its_replacement():
    import cunitary.arma

    with pytest.raises(AttributeError, match="sos_filter1d"):
        cunitary.arma.ar_filter1d  # noqa: B018
