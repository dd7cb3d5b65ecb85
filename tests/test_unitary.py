"""Unitary convolutions against independent dense references (scipy / numpy)."""

import contextlib
import math
from functools import partial

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cunitary.functional as F
from cunitary import FourierRotation, UnitaryConv1d, UnitaryConv2d

DTYPES = [torch.complex64, torch.complex128]
PRECISION = {torch.complex64: torch.float32, torch.complex128: torch.float64,
             torch.float32: torch.float32, torch.float64: torch.float64}  # fmt: skip
TOL = {torch.complex64: 2e-5, torch.complex128: 1e-11, torch.float32: 2e-5, torch.float64: 1e-11}


def odd_part_np(w: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Odd-symmetric part computed independently: w(-k) by reversing and rolling by one."""
    mirrored = w
    for ax in axes:
        mirrored = np.roll(np.flip(mirrored, axis=ax), 1, axis=ax)
    return 0.5 * (w - mirrored)


def circulant_reference(x: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """y[..., c, :] = circulant(ifft(exp(i w_c))) @ x[..., c, :] with scipy's matrix."""
    out = np.empty(np.broadcast_shapes(x.shape, angles.shape), dtype=np.complex128)
    for c in range(angles.shape[0]):
        mat = scipy.linalg.circulant(np.fft.ifft(np.exp(1j * angles[c])))
        out[..., c, :] = x[..., c, :] @ mat.T
    return out


def conv2d_reference(x: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Explicit circular convolution with K = ifft2(exp(i W)): sum_ab K[a,b] x[p-a, q-b]."""
    kernel = np.fft.ifft2(np.exp(1j * angles))  # (C, H, W)
    out = np.zeros(x.shape, dtype=np.complex128)
    h, w = angles.shape[-2:]
    for a in range(h):
        for b in range(w):
            out += kernel[:, a, b][:, None, None] * np.roll(x, (a, b), axis=(-2, -1))
    return out


def rand_complex(shape, dtype, gen):
    real = torch.randn(*shape, generator=gen, dtype=torch.float64)
    imag = torch.randn(*shape, generator=gen, dtype=torch.float64)
    return torch.complex(real, imag).to(dtype)


@pytest.mark.parametrize("n", [1, 5, 8, 13])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["fft", "matmul"])
def test_conv1d_matches_scipy_circulant(n, channels, dtype, method):
    gen = torch.Generator().manual_seed(n * 10 + channels)
    layer = UnitaryConv1d(n, channels=channels, method=method, dtype=torch.float64)
    layer.to(PRECISION[dtype])  # the input's precision (a mismatch is a TypeError)
    x = rand_complex((2, 4, channels, n), dtype, gen)
    y = layer(x)
    assert y.dtype == dtype and y.shape == x.shape
    ref = circulant_reference(x.to(torch.complex128).numpy(), layer.angles.detach().numpy())
    np.testing.assert_allclose(y.detach().to(torch.complex128).numpy(), ref, atol=TOL[dtype])


@pytest.mark.parametrize("n", [6, 7])
@pytest.mark.parametrize("method", ["fft", "matmul"])
def test_conv1d_real_is_orthogonal_and_real(n, method):
    layer = UnitaryConv1d(n, channels=2, real=True, method=method, dtype=torch.float64)
    x = torch.randn(5, 2, n, dtype=torch.float64)
    y = layer(x)
    assert not y.is_complex()
    angles = odd_part_np(layer.angles.detach().numpy(), (1,))
    ref = circulant_reference(x.numpy(), angles)
    assert np.abs(ref.imag).max() < 1e-12  # the reference operator is real too
    np.testing.assert_allclose(y.detach().numpy(), ref.real, atol=1e-12)
    np.testing.assert_allclose(y.norm().item(), x.norm().item(), rtol=1e-12)


@pytest.mark.parametrize("size", [(4, 4), (5, 6), (7, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["fft", "matmul"])
def test_conv2d_matches_explicit_circular_convolution(size, dtype, method):
    gen = torch.Generator().manual_seed(sum(size))
    layer = UnitaryConv2d(size, channels=2, method=method, dtype=PRECISION[dtype])
    x = rand_complex((3, 2, *size), dtype, gen)
    y = layer(x)
    ref = conv2d_reference(x.to(torch.complex128).numpy(), layer.angles.detach().numpy())
    np.testing.assert_allclose(y.detach().to(torch.complex128).numpy(), ref, atol=TOL[dtype])


@pytest.mark.parametrize("size", [(4, 4), (5, 6), (3, 7)])
def test_conv2d_real_variant(size):
    layer = UnitaryConv2d(size, channels=3, real=True, dtype=torch.float64)
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    y = layer(x)
    assert y.dtype == torch.float64
    angles = odd_part_np(layer.angles.detach().numpy(), (1, 2))
    ref = conv2d_reference(x.numpy(), angles)
    assert np.abs(ref.imag).max() < 1e-12
    np.testing.assert_allclose(y.detach().numpy(), ref.real, atol=1e-12)


@pytest.mark.parametrize("cls,size", [(UnitaryConv1d, 64), (UnitaryConv2d, (16, 12))])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mix", [False, True])
def test_norm_preserved_and_inverse(cls, size, dtype, mix):
    real_dtype = torch.float64 if dtype == torch.complex128 else torch.float32
    layer = cls(size, channels=4, mix=mix, dtype=real_dtype, method="fft")
    shape = (3, 4, *((size,) if isinstance(size, int) else size))
    x = rand_complex(shape, dtype, torch.Generator().manual_seed(0))
    y = layer(x)
    rel = {torch.complex64: 1e-6, torch.complex128: 1e-12}[dtype]
    assert abs(y.norm().item() / x.norm().item() - 1) < rel
    torch.testing.assert_close(layer.inverse(y), x, atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize("real", [False, True])
@pytest.mark.parametrize("mix", [False, True])
def test_matrix_is_unitary_and_matches_forward(real, mix):
    layer = UnitaryConv2d((3, 4), channels=2, real=real, mix=mix, dtype=torch.float64)
    mat = layer.matrix().detach()
    assert mat.shape == (24, 24)
    eye = torch.eye(24, dtype=mat.dtype)
    torch.testing.assert_close(mat @ mat.mH, eye, atol=1e-12, rtol=0)
    x = torch.randn(5, 2, 3, 4, dtype=torch.float64)
    y = layer(x).detach()
    expected = x.flatten(-3).to(mat.dtype) @ mat.T
    torch.testing.assert_close(y.flatten(-3), expected, atol=1e-12, rtol=0)
    assert mat.is_complex() != real


def test_stacking_adds_angles():
    layers = [UnitaryConv1d(10, channels=2, dtype=torch.float64) for _ in range(4)]
    x = torch.randn(3, 2, 10, dtype=torch.complex128)
    y = x
    for layer in layers:
        y = layer(y)
    summed = sum(layer.angles.detach() for layer in layers)
    torch.testing.assert_close(y.detach(), F.circulant(x, summed), atol=1e-12, rtol=0)


def test_init_options():
    assert torch.count_nonzero(UnitaryConv1d(8, init="zero").angles) == 0
    x = torch.randn(2, 1, 8, dtype=torch.complex64)
    torch.testing.assert_close(UnitaryConv1d(8, init="zero")(x), x)
    small = UnitaryConv2d(8, channels=2, mix=True, init="small")
    assert small.angles.abs().max() <= 0.1
    torch.testing.assert_close(small.mixer.matrix.detach(), torch.eye(2, dtype=torch.complex64))
    uniform = UnitaryConv1d(4096, init="uniform")
    assert uniform.angles.min() >= -math.pi and uniform.angles.max() <= math.pi
    assert uniform.angles.std() > 1.5  # U(-pi, pi) has std pi/sqrt(3) = 1.81


def test_real_input_to_complex_layer_is_promoted():
    layer = UnitaryConv1d(6, dtype=torch.float64)
    x = torch.randn(2, 1, 6, dtype=torch.float64)
    torch.testing.assert_close(layer(x), layer(x.to(torch.complex128)))


def test_a_precision_mismatch_is_a_type_error_as_in_the_cells():
    layer = UnitaryConv1d(6)  # float32 angles
    with pytest.raises(TypeError, match="x has dtype torch.complex128 but the parameters are"):
        layer(torch.randn(2, 1, 6, dtype=torch.complex128))
    with pytest.raises(TypeError, match="x has dtype torch.float64"):
        UnitaryConv2d((4, 4), channels=1, real=True)(torch.randn(1, 1, 4, 4).double())
    assert layer.double()(torch.randn(2, 1, 6, dtype=torch.complex128)).dtype == torch.complex128
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast owns the casts there
        assert layer.float()(torch.randn(2, 1, 6, dtype=torch.complex64)).is_complex()


def test_extra_repr():
    text = repr(UnitaryConv2d((4, 6), channels=3, real=True))
    assert "size=(4, 6)" in text and "channels=3" in text and "real=True" in text


def test_method_is_fft_or_matmul():
    for method in ("auto", "dense"):
        with pytest.raises(ValueError, match="method must be one of"):
            UnitaryConv1d(8, method=method)


# -- errors --------------------------------------------------------------------------------


def test_errors_on_bad_input():
    layer = UnitaryConv1d(8, channels=2)
    with pytest.raises(ValueError, match=r"trailing shape .*\(2, 8\).*\(3, 2, 7\)"):
        layer(torch.randn(3, 2, 7, dtype=torch.complex64))
    with pytest.raises(ValueError, match="channels"):
        layer(torch.randn(3, 3, 8, dtype=torch.complex64))
    with pytest.raises(TypeError, match="dtype"):
        layer(torch.ones(3, 2, 8, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer(np.ones((3, 2, 8)))
    with pytest.raises(TypeError, match="real=True"):
        UnitaryConv2d(4, real=True)(torch.randn(1, 1, 4, 4, dtype=torch.complex64))
    with pytest.raises(ValueError, match="H, W"):
        UnitaryConv2d(4)(torch.randn(1, 4, 5, dtype=torch.complex64))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 0},
        {"size": 8, "channels": 0},
        {"size": 8, "init": "gaussian"},
        {"size": 8, "method": "dft"},
    ],
)
def test_errors_on_bad_construction(kwargs):
    with pytest.raises(ValueError):
        UnitaryConv1d(**kwargs)


def test_errors_on_bad_dtype_and_size():
    with pytest.raises(TypeError, match="dtype"):
        UnitaryConv1d(8, dtype=torch.complex64)
    with pytest.raises(ValueError, match="size"):
        UnitaryConv2d((4, 0))
    with pytest.raises(ValueError, match="size"):
        UnitaryConv2d((4, 4, 4))


def test_functional_errors():
    with pytest.raises(ValueError, match="trailing"):
        F.circulant(torch.randn(4, 5, dtype=torch.complex64), torch.zeros(6))
    with pytest.raises(TypeError, match="angles"):
        F.circulant(torch.randn(4, 5), torch.zeros(5, dtype=torch.complex64))
    with pytest.raises(ValueError, match="ndim"):
        F.odd_symmetric(torch.zeros(3), ndim=3)


# -- gradients ------------------------------------------------------------------------------


def test_gradcheck_functional():
    gen = torch.Generator().manual_seed(1)
    x = rand_complex((2, 5), torch.complex128, gen).requires_grad_()
    w = torch.randn(5, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(F.circulant, (x, w))
    x2 = rand_complex((2, 3, 4), torch.complex128, gen).requires_grad_()
    w2 = torch.randn(3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(F.circulant2d, (x2, w2))
    xr = torch.randn(2, 3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: F.circulant2d(a, b, real=True), (xr, w2))
    assert torch.autograd.gradcheck(F.circulant_matrix, (w,))
    assert torch.autograd.gradcheck(lambda a: F.circulant2d_matrix(a, real=True), (w2,))


@pytest.mark.parametrize("cls,size", [(UnitaryConv1d, 6), (UnitaryConv2d, (3, 4))])
@pytest.mark.parametrize("real", [False, True])
@pytest.mark.parametrize("mix", [False, True])
@pytest.mark.parametrize("method", ["fft", "matmul"])
def test_gradcheck_modules(cls, size, real, mix, method):
    layer = cls(size, channels=2, real=real, mix=mix, method=method, dtype=torch.float64)
    params = {name: p.detach().clone().requires_grad_() for name, p in layer.named_parameters()}
    names = list(params)
    shape = (2, 2, *((size,) if isinstance(size, int) else size))
    gen = torch.Generator().manual_seed(2)
    if real:
        x = torch.randn(*shape, dtype=torch.float64, generator=gen)
    else:
        x = rand_complex(shape, torch.complex128, gen)
    x.requires_grad_()

    def run(x, *values):
        return torch.func.functional_call(layer, dict(zip(names, values, strict=True)), (x,))

    assert torch.autograd.gradcheck(run, (x, *params.values()))


# -- property tests -----------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    channels=st.integers(1, 3),
    batch=st.lists(st.integers(1, 3), max_size=2),
    dtype=st.sampled_from([torch.complex64, torch.complex128, torch.float32, torch.float64]),
    real=st.booleans(),
    mix=st.booleans(),
    method=st.sampled_from(["fft", "matmul"]),
)
def test_property_conv1d(n, channels, batch, dtype, real, mix, method):
    if real and dtype.is_complex:
        with pytest.raises(TypeError):
            UnitaryConv1d(n, channels=channels, real=True)(
                torch.zeros(*batch, channels, n, dtype=dtype)
            )
        return
    precision = torch.float64 if dtype in (torch.float64, torch.complex128) else torch.float32
    layer = UnitaryConv1d(n, channels, real=real, mix=mix, method=method, dtype=precision)
    x = torch.randn(*batch, channels, n, dtype=dtype)
    y = layer(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert y.is_complex() != real
    mat = layer.matrix().detach()
    expected = x.flatten(-2).to(mat.dtype) @ mat.T
    atol = 1e-10 if precision == torch.float64 else 1e-4
    torch.testing.assert_close(y.detach().flatten(-2).to(mat.dtype), expected, atol=atol, rtol=0)
    torch.testing.assert_close(y.norm().double(), x.norm().double(), atol=atol, rtol=atol)


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    channels=st.integers(1, 2),
    real=st.booleans(),
    method=st.sampled_from(["fft", "matmul"]),
)
def test_property_conv2d(h, w, channels, real, method):
    layer = UnitaryConv2d((h, w), channels, real=real, method=method, dtype=torch.float64)
    x = torch.randn(2, channels, h, w, dtype=torch.float64)
    y = layer(x).detach()
    angles = layer.angles.detach().numpy()
    if real:
        angles = odd_part_np(angles, (1, 2))
    ref = conv2d_reference(x.numpy(), angles)
    np.testing.assert_allclose(y.to(torch.complex128).numpy(), ref, atol=1e-10)


# -- Fourier rotation ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 8, 9, 16])
@pytest.mark.parametrize("k", [1, 2, 3, -1])
def test_quarter_turns_equal_rot90(n, k):
    x = torch.randn(2, n, n, dtype=torch.float64)
    y = F.fourier_rotate(x, k * math.pi / 2)
    torch.testing.assert_close(y.real, torch.rot90(x, k, dims=(-2, -1)), atol=1e-12, rtol=0)
    assert y.imag.abs().max() < 1e-12


@pytest.mark.parametrize("shape", [(8, 8), (9, 9), (6, 11)])
@pytest.mark.parametrize("angle", [0.1, -0.7, 1.5, 2.9, -3.0])
def test_rotation_is_unitary(shape, angle):
    x = torch.randn(3, *shape, dtype=torch.complex128)
    y = F.fourier_rotate(x, angle)
    torch.testing.assert_close(y.norm(dim=(-2, -1)), x.norm(dim=(-2, -1)), atol=1e-12, rtol=0)
    torch.testing.assert_close(F.fourier_rotate(y, angle, inverse=True), x, atol=1e-12, rtol=0)


def test_odd_size_rotation_group_law():
    x = torch.randn(9, 9, dtype=torch.complex128)
    torch.testing.assert_close(
        F.fourier_rotate(F.fourier_rotate(x, 0.4), -0.4), x, atol=1e-12, rtol=0
    )


def test_rotation_moves_a_blob_to_the_rotated_position():
    # A smooth Gaussian blob off-centre should land where the continuous rotation sends it.
    n = 33
    idx = torch.arange(n, dtype=torch.float64)
    i, j = torch.meshgrid(idx, idx, indexing="ij")
    c = (n - 1) / 2
    blob = lambda ci, cj: torch.exp(-((i - ci) ** 2 + (j - cj) ** 2) / 4.0)  # noqa: E731
    theta = 0.5
    x = blob(c + 6.0, c)
    expected = blob(c + 6.0 * math.cos(theta), c + 6.0 * math.sin(theta))
    y = F.fourier_rotate(x, theta)
    assert (y.real - expected).abs().max() < 0.02


def test_fourier_shift_integer_equals_roll():
    x = torch.randn(2, 7, 8, dtype=torch.float64)
    y = F.fourier_shift(x, (3, -2))
    torch.testing.assert_close(y.real, torch.roll(x, (3, -2), dims=(-2, -1)), atol=1e-12, rtol=0)


def test_fourier_rotation_module_gradients():
    module = FourierRotation(0.3)
    x = torch.randn(1, 6, 6, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, a: F.fourier_rotate(x, a), (x, module.angle))
    y = module(torch.randn(6, 6))
    y.abs().pow(2)[:3].sum().backward()
    assert module.angle.grad is not None and torch.isfinite(module.angle.grad)


def test_rotation_errors():
    with pytest.raises(ValueError, match="angle"):
        F.fourier_rotate(torch.randn(4, 4), float("nan"))
    with pytest.raises(ValueError, match="scalar"):
        F.fourier_rotate(torch.randn(4, 4), torch.zeros(2))
    with pytest.raises(ValueError, match="H, W"):
        F.fourier_rotate(torch.randn(4), 0.1)


@pytest.mark.parametrize("real", [False, True])
@pytest.mark.parametrize("block", [None, 1, 2])
@pytest.mark.parametrize(
    "x_shape,angle_shape",
    [
        ((4, 3, 8), (3, 8)),
        ((8,), (2, 8)),
        ((5, 1, 6, 4), (3, 6, 4)),
        ((2, 6, 4), (1, 6, 4)),
        ((2, 3, 5, 7), (3, 5, 7)),
    ],
)
def test_fused_spectral_backward_matches_autograd_composition(
    x_shape, angle_shape, block, real, monkeypatch
):
    """The hand-written backward of the FFT path against autograd through plain torch ops
    on the full grid (``real``: the odd-symmetric angles' operator on real signals, which
    the layer runs on the half grid). ``block``: leading rows per block of the reduction
    (1: row by row; 2: uneven blocks)."""
    if block is not None:
        monkeypatch.setattr(F, "_BLOCK_ELEMENTS", block * math.prod(angle_shape))
    ndim = 1 if len(angle_shape) == 2 and x_shape[-1] == 8 else 2
    dims = tuple(range(-ndim, 0))
    gen = torch.Generator().manual_seed(3)
    if real:
        x = torch.randn(x_shape, dtype=torch.float64, generator=gen).requires_grad_()
    else:
        x = rand_complex(x_shape, torch.complex128, gen).requires_grad_()
    w = torch.randn(angle_shape, dtype=torch.float64, generator=gen, requires_grad=True)
    angles = F.odd_symmetric(w, ndim) if real else w
    plain = torch.fft.ifftn(torch.fft.fftn(x, dim=dims) * torch.exp(1j * angles), dim=dims)
    plain = plain.real if real else plain
    fast = F._spectral_apply(x, F._phasors(w, ndim, real), ndim, real=real)
    torch.testing.assert_close(fast, plain)
    if real:
        cotangent = torch.randn(plain.shape, dtype=torch.float64, generator=gen)
    else:
        cotangent = rand_complex(plain.shape, torch.complex128, gen)
    g_plain = torch.autograd.grad(plain, (x, w), cotangent)
    g_fast = torch.autograd.grad(fast, (x, w), cotangent, retain_graph=True)
    for a, b in zip(g_fast, g_plain, strict=True):
        torch.testing.assert_close(a, b)
    # One input at a time: the backward takes other branches.
    (g_x,) = torch.autograd.grad(fast, x, cotangent, retain_graph=True)
    (g_w,) = torch.autograd.grad(fast, w, cotangent)
    torch.testing.assert_close(g_x, g_plain[0])
    torch.testing.assert_close(g_w, g_plain[1])


def test_double_backward_is_refused_not_wrong():
    x = torch.randn(3, 8, dtype=torch.complex128, requires_grad=True)
    w = torch.randn(8, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(F.circulant(x, w).abs().pow(2).sum(), w, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()


# -- compact angle parameterisations -------------------------------------------------------


def kernel_phasors_np(kernel: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """K/|K| of the centred kernel's DFT, by explicit sums over the taps."""
    ndim = len(size)
    grids = np.meshgrid(*[np.arange(n) for n in size], indexing="ij")
    spectrum = np.zeros((kernel.shape[0], *size), dtype=np.complex128)
    for index in np.ndindex(*kernel.shape[1:]):
        offsets = [i - k // 2 for i, k in zip(index, kernel.shape[1:], strict=True)]
        phase = sum(-2j * np.pi * o * g / n for o, g, n in zip(offsets, grids, size, strict=True))
        spectrum += kernel[(slice(None), *index)][(...,) + (None,) * ndim] * np.exp(phase)
    magnitude = np.abs(spectrum)
    return np.where(magnitude > 1e-12, spectrum / np.maximum(magnitude, 1e-300), 1.0)


def dense_np(phasors: np.ndarray) -> np.ndarray:
    """Block-diagonal F^-1 diag(P) F, each block built by numpy FFTs of the identity."""
    size = phasors.shape[1:]
    n = int(np.prod(size))
    axes = tuple(range(1, len(size) + 1))
    blocks = []
    for p in phasors:
        eye = np.eye(n).reshape(n, *size)
        cols = np.fft.ifftn(np.fft.fftn(eye, axes=axes) * p, axes=axes).reshape(n, n)
        blocks.append(cols.T)
    return scipy.linalg.block_diag(*blocks)


@pytest.mark.parametrize("real", [False, True])
@pytest.mark.parametrize("size", [(7,), (8,), (6, 5), (4, 4)])
@pytest.mark.parametrize("k", [1, 3])
def test_kernel_angles_give_the_phase_of_the_kernel_dft(real, size, k):
    cls = UnitaryConv1d if len(size) == 1 else UnitaryConv2d
    arg = size[0] if len(size) == 1 else size
    layer = cls(arg, channels=2, real=real, angles="kernel", angle_size=k, dtype=torch.float64)
    kernel = layer.kernel.detach().numpy()
    want = kernel_phasors_np(kernel, size)
    np.testing.assert_allclose(layer.eigenvalues().detach().numpy(), want, atol=1e-12)
    dense = dense_np(want)
    np.testing.assert_allclose(dense.conj().T @ dense, np.eye(len(dense)), atol=1e-12)
    got = layer.matrix().detach().numpy()
    np.testing.assert_allclose(got, dense.real if real else dense, atol=1e-12)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 2, *size, dtype=torch.float64, generator=gen)
    x = x if real else rand_complex(x.shape, torch.complex128, gen)
    y = layer(x)
    assert y.dtype == x.dtype
    want_y = x.flatten(-len(size) - 1).numpy() @ dense.T
    np.testing.assert_allclose(y.flatten(-len(size) - 1).detach().numpy(), want_y, atol=1e-12)
    torch.testing.assert_close(y.norm(), x.norm())
    assert layer.num_angle_parameters() == 2 * k ** len(size) * (1 if real else 2)


@pytest.mark.parametrize("shift", [(-1, 0), (1, 1), (0, -1)])
def test_kernel_angles_reach_shifts(shift):
    layer = UnitaryConv2d((6, 7), real=True, angles="kernel", init="zero")
    with torch.no_grad():
        layer.kernel.zero_()
        layer.kernel[0, 1 + shift[0], 1 + shift[1]] = 1.0
    x = torch.rand(2, 1, 6, 7)
    torch.testing.assert_close(layer(x), x.roll(shift, dims=(-2, -1)), atol=1e-6, rtol=0)
    torch.testing.assert_close(layer.inverse(layer(x)), x, atol=1e-6, rtol=0)


def test_kernel_angles_survive_zeros_of_the_spectrum():
    # Taps (1, 0, -1): K(w) = 2i sin(w) vanishes at w = 0 and w = pi.
    layer = UnitaryConv1d(8, real=True, angles="kernel", dtype=torch.float64)
    with torch.no_grad():
        layer.kernel.copy_(torch.tensor([[1.0, 0.0, -1.0]]))
    phasors = layer.eigenvalues()
    torch.testing.assert_close(phasors.abs(), torch.ones(1, 8, dtype=torch.float64))
    assert phasors[0, 0] == 1 and phasors[0, 4] == 1
    x = torch.randn(4, 1, 8, dtype=torch.float64)
    y = layer(x)
    y.pow(2).sum().backward()
    assert torch.isfinite(layer.kernel.grad).all()
    torch.testing.assert_close(y.norm(), x.norm())


@pytest.mark.parametrize("angles", ["kernel", "grid"])
@pytest.mark.parametrize("real", [False, True])
def test_compact_angles_gradcheck(angles, real):
    layer = UnitaryConv2d((6, 5), channels=2, real=real, mix=True, angles=angles,
                          angle_size=3, dtype=torch.float64)  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 6, 5, dtype=torch.float64, generator=gen)
    x = (x if real else rand_complex(x.shape, torch.complex128, gen)).requires_grad_()
    params = [p for p in layer.parameters()]

    def run(x, *values):
        saved = [p.data for p in params]
        for p, v in zip(params, values, strict=True):
            p.data = v
        try:
            return torch.func.functional_call(
                layer, {n: v for (n, _), v in zip(layer.named_parameters(), values, strict=True)}, x
            )
        finally:
            for p, v in zip(params, saved, strict=True):
                p.data = v

    values = [p.detach().clone().requires_grad_() for p in params]
    assert torch.autograd.gradcheck(run, (x, *values))


@pytest.mark.parametrize("g,n", [(3, 7), (4, 9), (5, 5), (6, 16), (1, 4)])
def test_fourier_interpolation_matches_scipy_resample(g, n):
    from scipy.signal import resample

    gen = np.random.default_rng(g * 100 + n)
    samples = gen.standard_normal((2, g))
    got = F.fourier_interpolate(torch.tensor(samples), (n,)).numpy()
    np.testing.assert_allclose(got, resample(samples, n, axis=-1), atol=1e-12)
    np.testing.assert_allclose(got[:, :: n // g] if n % g == 0 else got[:, :1], (
        samples if n % g == 0 else samples[:, :1]), atol=1e-12)  # fmt: skip
    grid = gen.standard_normal((3, g, g + 1))
    got2 = F.fourier_interpolate(torch.tensor(grid), (n, n + 2)).numpy()
    want2 = resample(resample(grid, n, axis=-2), n + 2, axis=-1)
    np.testing.assert_allclose(got2, want2, atol=1e-12)


@pytest.mark.parametrize("real", [False, True])
def test_grid_angles_are_interpolated_and_odd_for_real(real):
    from scipy.signal import resample

    layer = UnitaryConv2d((8, 6), channels=2, real=real, angles="grid", angle_size=4,
                          dtype=torch.float64)  # fmt: skip
    grid = layer.grid.detach().numpy()
    full = resample(resample(grid, 8, axis=-2), 6, axis=-1)
    want = odd_part_np(full, (-2, -1)) if real else full
    np.testing.assert_allclose(layer.effective_angles().detach().numpy(), want, atol=1e-12)
    dense = dense_np(np.exp(1j * want))
    np.testing.assert_allclose(layer.matrix().detach().numpy(), dense.real if real else dense,
                               atol=1e-12)  # fmt: skip
    assert layer.num_angle_parameters() == 2 * 16
    same = UnitaryConv2d((8, 6), angles="grid", angle_size=6, init="zero")
    assert same.grid.shape == (1, 6, 6)


def test_compact_angle_arguments_are_checked():
    with pytest.raises(ValueError, match="angles must be one of"):
        UnitaryConv1d(8, angles="spline")
    with pytest.raises(ValueError, match="odd"):
        UnitaryConv1d(8, angles="kernel", angle_size=4)
    with pytest.raises(ValueError, match="angle_size must be"):
        UnitaryConv2d((8, 5), angles="grid", angle_size=6)
    with pytest.raises(ValueError, match="angle_size is for"):
        UnitaryConv1d(8, angle_size=3)


@pytest.mark.parametrize("angles", ["full", "kernel", "grid"])
@pytest.mark.parametrize("init", ["uniform", "zero", "small"])
def test_reset_parameters_repeats_the_constructor_init(angles, init):
    torch.manual_seed(5)
    layer = UnitaryConv2d(8, channels=3, mix=True, angles=angles, init=init)
    state = {k: v.clone() for k, v in layer.state_dict().items()}
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(1.0)
    torch.manual_seed(5)
    layer.reset_parameters()
    for k, v in layer.state_dict().items():
        torch.testing.assert_close(v, state[k])
    if init == "zero":
        x = torch.randn(2, 3, 8, 8, dtype=torch.complex64)
        torch.testing.assert_close(layer(x), x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("angles", ["full", "kernel"])
def test_cached_phasors_are_computed_once_with_the_same_gradients(angles, monkeypatch):
    from cunitary import unitary

    layer = UnitaryConv2d(8, channels=2, real=True, angles=angles)
    x = torch.randn(3, 2, 8, 8)

    def loss():
        y = x
        for _ in range(4):
            y = torch.tanh(layer(y))
        return y.pow(2).sum()

    plain = torch.autograd.grad(loss(), list(layer.parameters()))
    calls = []
    original = unitary._EigenAngleConv.phasors

    def counting(self, *args, **kwargs):
        calls.append(unitary._phasor_cache is not None and len(unitary._phasor_cache))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(unitary._EigenAngleConv, "phasors", counting)
    with unitary.cached():
        value = loss()
    assert calls == [0, 1, 1, 1]  # computed on the first call, then found in the cache
    cached = torch.autograd.grad(value, list(layer.parameters()))
    for a, b in zip(cached, plain, strict=True):
        torch.testing.assert_close(a, b)
    assert unitary._phasor_cache is None


def test_cached_never_hands_a_new_layer_a_deleted_layers_phasors():
    import gc

    from cunitary.unitary import cached

    x = torch.randn(2, 1, 8, 8, dtype=torch.complex128)
    with cached():
        for _ in range(10):
            layer = UnitaryConv2d((8, 8), dtype=torch.float64)  # often at a freed address
            reference = torch.fft.ifft2(torch.fft.fft2(x) * torch.exp(1j * layer.angles.detach()))
            torch.testing.assert_close(layer(x), reference)
            del layer
            gc.collect()


def test_cached_value_made_without_grad_does_not_cut_later_gradients():
    from cunitary.unitary import cached

    layer = UnitaryConv2d((8, 8), dtype=torch.float64)
    x = torch.randn(2, 1, 8, 8, dtype=torch.complex128)
    with cached():
        with torch.no_grad():
            layer(x)
        (layer(x) * x.conj()).real.sum().backward()
    assert layer.angles.grad is not None and layer.angles.grad.abs().sum() > 0


def test_padding_embeds_the_frame_in_a_larger_circulant():
    torch.manual_seed(30)
    layer = UnitaryConv1d(6, padding=2, dtype=torch.float64)
    assert layer.size == (10,) and tuple(layer.angles.shape) == (1, 10)
    x = torch.randn(3, 1, 6, dtype=torch.complex128)
    C = scipy.linalg.circulant(np.fft.ifft(np.exp(1j * layer.angles.detach().numpy()[0])))
    ref = np.pad(x.numpy(), ((0, 0), (0, 0), (2, 2))) @ C.T
    np.testing.assert_allclose(layer(x).detach().numpy(), ref, atol=1e-12)
    # the state on the padded grid goes through as it is; the operator is unitary there
    torch.testing.assert_close(layer(torch.nn.functional.pad(x, (2, 2))), layer(x))
    conv = UnitaryConv2d((5, 4), channels=2, real=True, padding=1, dtype=torch.float64)
    m = conv.matrix()
    assert m.shape == (2 * 7 * 6, 2 * 7 * 6)
    torch.testing.assert_close(m.T @ m, torch.eye(m.shape[0], dtype=m.dtype))
    with pytest.raises(ValueError, match="padding must be an int >= 0"):
        UnitaryConv2d(4, padding=-1)


@pytest.mark.parametrize("angles", ["kernel", "full"])
def test_padding_reduces_but_does_not_remove_wrap_around(angles):
    """The padded operator is still circular: an impulse at the frame's left edge leaves
    part of its energy in the frame's right half after one application. Measured on the
    layer and on the dense padded operator built in numpy from the layer's eigenvalues
    (column by column: ifft2(e^{i Omega} fft2(e_j))); padding shrinks the leak, and with
    a compact angle kernel it stays above zero yet far below the unpadded one."""
    size, leaks = 12, {}
    for pad in (0, 4):
        torch.manual_seed(3)
        layer = UnitaryConv2d((size, size), 1, real=True, padding=pad, angles=angles,
                              dtype=torch.float64)  # fmt: skip
        grid = size + 2 * pad
        phasors = layer.eigenvalues().detach().numpy()[0]
        dense = np.empty((grid * grid, grid * grid))
        for j in range(grid * grid):
            e = np.zeros(grid * grid)
            e[j] = 1
            column = np.fft.ifft2(phasors * np.fft.fft2(e.reshape(grid, grid)))
            assert np.abs(column.imag).max() < 1e-12  # odd angles: a real operator
            dense[:, j] = column.real.ravel()
        np.testing.assert_allclose(dense.T @ dense, np.eye(grid * grid), atol=1e-12)
        x = torch.zeros(1, 1, size, size, dtype=torch.float64)
        x[0, 0, size // 2, 0] = 1  # the frame's left edge
        y = layer(x)[0, 0].detach().numpy()
        ref = dense[:, (size // 2 + pad) * grid + pad].reshape(grid, grid)
        np.testing.assert_allclose(y, ref, atol=1e-12)
        frame = ref[pad : pad + size, pad : pad + size]
        leaks[pad] = (frame[:, size // 2 :] ** 2).sum() / (ref**2).sum()
    assert leaks[4] > 1e-6  # padding does not remove the wrap-around
    assert leaks[4] < leaks[0]  # it reduces it
    if angles == "kernel":
        assert leaks[4] < 0.1 * leaks[0]


def test_forward_backward_twice_inside_one_cached_block():
    """A backward pass frees the graph behind a cached phasor; the next forward in the
    same block computes it again (it used to fail with 'backward through the graph a
    second time'): gradient accumulation and two stack calls, against the same steps
    outside any block."""
    from cunitary import ConvRNNStack, RotationConvGRUCell
    from cunitary.unitary import cached

    torch.manual_seed(0)
    stack = ConvRNNStack(partial(RotationConvGRUCell, size=(6, 6), angles="kernel"), 1, 1, 2, 2)
    x = torch.randn(2, 3, 1, 6, 6)
    for inside in (True, False):
        stack.zero_grad()
        with cached() if inside else contextlib.nullcontext():
            for _ in range(2):  # two accumulated steps
                out, _ = stack(x)
                out.square().sum().backward()
        grads = [p.grad.clone() for p in stack.parameters()]
        if inside:
            first = grads
    for a, b in zip(first, grads, strict=True):
        torch.testing.assert_close(a, b)
