"""``.to(dtype)``, ``.double()``, ``.float()``, ``.half()`` on every public module: complex
parameters follow the real ones to the matching complex dtype, never lose their imaginary
parts, and the converted model computes what the original did."""

import copy

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
