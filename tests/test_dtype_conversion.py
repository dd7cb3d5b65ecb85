"""``.to(dtype)``, ``.double()``, ``.float()``, ``.half()`` on every public module: complex
parameters follow the real ones to the matching complex dtype, never lose their imaginary
parts, and the converted model computes what the original did."""

import copy

import numpy as np
import pytest
import torch

import cunitary
from tests.test_conformance import CASES, MODULES, build, run

WIDER = {torch.float32: torch.float64, torch.complex64: torch.complex128,
         torch.float64: torch.float64, torch.complex128: torch.complex128}  # fmt: skip


def _real(t):
    return torch.view_as_real(t) if t.is_complex() else t


def _tensors(module):
    return dict(module.named_parameters()) | dict(module.named_buffers())


@pytest.mark.filterwarnings("ignore:Complex modules are a new feature")
@pytest.mark.parametrize("how", ["to_float64", "double", "to_complex128"])
@pytest.mark.parametrize("name", MODULES)
def test_double_precision_keeps_every_complex_parameter_complex(name, how):
    torch.manual_seed(0)
    module = build(name)
    before = {k: v.detach().clone() for k, v in _tensors(module).items()}
    x = CASES[name][1]()
    expected = run(module, x)
    wide = copy.deepcopy(module)
    {"to_float64": lambda m: m.to(torch.float64), "double": lambda m: m.double(),
     "to_complex128": lambda m: m.to(torch.complex128)}[how](wide)  # fmt: skip
    for key, old in before.items():
        new = _tensors(wide)[key]
        if old.is_floating_point() or old.is_complex():
            assert new.dtype == WIDER[old.dtype], (key, new.dtype)
            torch.testing.assert_close(new, old.to(new.dtype), rtol=0, atol=0)  # exact
    got = run(wide, x.to(WIDER[x.dtype]))
    assert got.dtype == WIDER[expected.dtype]
    scale = _real(expected).abs().max().item() + 1
    torch.testing.assert_close(_real(got).float(), _real(expected), rtol=0, atol=1e-5 * scale)
    back = copy.deepcopy(wide).float()
    assert all(t.dtype in (torch.float32, torch.complex64) for t in _tensors(back).values()
               if t.is_floating_point() or t.is_complex())  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_half_precision_is_refused_for_complex_modules_before_anything_changes(name):
    module = build(name)
    if not any(t.is_complex() for t in _tensors(module).values()):
        return  # a real module converts as torch's own modules do
    before = {k: (v.dtype, v.detach().clone()) for k, v in _tensors(module).items()}
    for convert in (lambda m: m.half(), lambda m: m.bfloat16(), lambda m: m.to(torch.float16)):
        with pytest.raises(TypeError, match="complex parameters"):
            convert(module)
    for key, (dtype, value) in before.items():
        assert _tensors(module)[key].dtype == dtype
        torch.testing.assert_close(_tensors(module)[key], value, rtol=0, atol=0)


def test_containers_convert_through_to_the_complex_parameters():
    model = torch.nn.Sequential(cunitary.UnitaryConv2d((6, 6), channels=2, mix=True))
    model.to(torch.float64)
    conv = model[0]
    assert all(p.dtype in (torch.float64, torch.complex128) for p in conv.parameters())
    m = conv.matrix()
    assert m.dtype == torch.complex128
    eye = torch.eye(m.shape[0], dtype=m.dtype)
    # As unitary as the float32 matrix it was (torch's orthogonal parametrization keeps a
    # float32-rounded base): the conversion adds no error of its own.
    assert (m.mH @ m - eye).abs().max() < 1e-6


def test_the_identity_transition_follows_the_module_precision():
    transition = cunitary.UnitaryTransition(4, "identity").double()
    assert transition.matrix().dtype == torch.complex128


def _unitary_matrices(module):
    """The dense unitary factors a module computes with, as it uses them."""
    from cunitary.cells import UnitaryTransition
    from cunitary.unitary import _ChannelMix

    mats = []
    for m in module.modules():
        if isinstance(m, _ChannelMix):
            mats.append(m.matrix)
        elif isinstance(m, UnitaryTransition) and m.kind in ("full", "stiefel"):
            mats.append(m.matrix())
    return mats


DENSE_UNITARY = {
    "UnitaryConv1d(mix)": lambda: cunitary.UnitaryConv1d(8, channels=3, mix=True),
    "UnitaryConv2d(mix)": lambda: cunitary.UnitaryConv2d((8, 8), channels=2, mix=True),
    "UnitaryConv2d(real, mix)": lambda: cunitary.UnitaryConv2d(
        (8, 8), channels=3, real=True, mix=True
    ),
    "RotationConvGRUCell(mix)": lambda: cunitary.RotationConvGRUCell(1, 3, (6, 6), mix=True),
    "ComplexConvGatedCell(mix)": lambda: cunitary.ComplexConvGatedCell(1, 3, (6, 6), mix=True),
    "UnitaryTransition(full)": lambda: cunitary.UnitaryTransition(6, "full"),
    "UnitaryTransition(full, real)": lambda: cunitary.UnitaryTransition(6, "full", real=True),
    "UnitaryTransition(stiefel)": lambda: cunitary.UnitaryTransition(6, "stiefel"),
    "UnitaryTransition(stiefel, real)": lambda: cunitary.UnitaryTransition(6, "stiefel", real=True),
    "ComplexGatedRNN(full)": lambda: cunitary.ComplexGatedRNN(3, 6, transition="full"),
    "ComplexGatedRNN(stiefel)": lambda: cunitary.ComplexGatedRNN(3, 6, transition="stiefel"),
}


@pytest.mark.filterwarnings("ignore:Complex modules are a new feature")
@pytest.mark.parametrize("how", ["to_float64", "double", "to_complex128"])
@pytest.mark.parametrize("name", DENSE_UNITARY)
def test_a_float32_unitary_factor_converted_up_is_unitary_to_float64(name, how):
    """Made in float32 (unitary to ~1e-7), converted up: unitary to float64's precision,
    checked in numpy on the matrix the module computes with; inside a plain container
    too."""
    torch.manual_seed(0)
    module = torch.nn.Sequential(DENSE_UNITARY[name]())
    before = [m.detach().clone() for m in _unitary_matrices(module)]
    assert before and all(m.dtype in (torch.float32, torch.complex64) for m in before)
    convert = {
        "to_float64": lambda m: m.to(torch.float64),
        "double": lambda m: m.double(),
        "to_complex128": lambda m: m.to(torch.complex128),
    }[how]
    module = convert(module)
    for old, mat in zip(before, _unitary_matrices(module), strict=True):
        m = mat.detach().numpy()
        assert m.dtype in ("float64", "complex128")
        assert np.linalg.norm(m.conj().T @ m - np.eye(m.shape[0])) < 1e-13
        assert np.abs(m - old.numpy()).max() < 1e-5  # the same matrix, re-rounded


def test_a_converted_unitary_conv_keeps_the_norm_over_1000_applications():
    torch.manual_seed(1)
    layer = cunitary.UnitaryConv2d((8, 8), channels=2, mix=True).double()
    x = torch.randn(3, 2, 8, 8, dtype=torch.complex128)
    y = x
    with torch.no_grad():
        for _ in range(1000):
            y = layer(y)
    ratio = np.linalg.norm(y.numpy()) / np.linalg.norm(x.numpy())
    assert abs(ratio - 1) < 1e-11  # float32 rounding of the mix would give ~1e-5


def test_converting_down_and_at_the_same_precision_leaves_the_weights_alone():
    torch.manual_seed(2)
    module = cunitary.UnitaryTransition(6, "stiefel")
    start = module.weight.detach().clone()
    module.float()
    assert torch.equal(module.weight, start)  # no re-rounding at the same precision
