"""CUDA gives the same outputs and gradients as the CPU (``pytest -m cuda``; skipped
without a GPU), and the experiments run on it."""

import pytest
import torch

import cunitary
from tests.test_conformance import CASES, MODULES, build, run

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _real(t: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(t) if t.is_complex() else t


@pytest.mark.parametrize("name", MODULES)
def test_module_matches_cpu_in_outputs_and_gradients(name):
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    _, make_input = CASES[name]
    torch.manual_seed(0)
    cpu = build(name, dtype=torch.float64)
    gpu = build(name, dtype=torch.float64, device="cuda")
    gpu.load_state_dict(cpu.state_dict())
    x = make_input()
    x = x.to(torch.complex128 if x.is_complex() else torch.float64)
    outputs = []
    for module, device in ((cpu, "cpu"), (gpu, "cuda")):
        out = run(module, x.to(device))
        probe = torch.ones_like(_real(out))
        (_real(out) * probe).sum().backward()
        grads = [p.grad.cpu() for p in module.parameters() if p.grad is not None]
        outputs.append((out.detach().cpu(), grads))
    torch.testing.assert_close(outputs[1][0], outputs[0][0])
    for a, b in zip(outputs[1][1], outputs[0][1], strict=True):
        torch.testing.assert_close(a, b)


def test_identity_transition_lives_on_the_module_device():
    transition = cunitary.UnitaryTransition(4, kind="identity", device="cuda")
    assert transition.matrix().device.type == "cuda"
    rnn = cunitary.ComplexGatedRNN(3, 4, transition="identity").cuda()
    out, _ = rnn(torch.randn(2, 5, 3, device="cuda"))
    assert out.device.type == "cuda"


def test_fused_cgrnn_matches_the_generic_loop_on_cuda():
    torch.manual_seed(1)
    fused = cunitary.ComplexGatedRNN(4, 16, dtype=torch.float64, device="cuda")
    reference = cunitary.ComplexGatedRNN(4, 16, dtype=torch.float64, device="cuda")
    reference.load_state_dict(fused.state_dict())
    reference.layers[0].use_fused = False
    x = torch.randn(3, 20, 4, dtype=torch.float64, device="cuda")
    a, b = fused(x)[0], reference(x)[0]
    torch.testing.assert_close(a, b)
    ga = torch.autograd.grad(a.abs().sum(), list(fused.parameters()))
    gb = torch.autograd.grad(b.abs().sum(), list(reference.parameters()))
    for u, v in zip(ga, gb, strict=True):
        torch.testing.assert_close(u, v)


@pytest.mark.parametrize("experiment", ["memory", "video"])
def test_experiments_run_on_cuda(experiment, tmp_path):
    module = __import__(f"experiments.{experiment}", fromlist=["main"])
    results = module.main(["--preset", "smoke", "--device", "cuda", "--out", str(tmp_path)])
    assert results


def test_the_scans_closed_form_blocks_on_cuda_match_the_cpu_loop():
    """On CUDA the diagonal scan runs each block as a cumulative sum (parallel in time);
    on the CPU as a step loop: values and gradients agree in float64."""
    from cunitary.functional import diagonal_unitary_scan

    torch.manual_seed(0)
    u = torch.randn(3, 1000, 8, dtype=torch.complex128, requires_grad=True)
    w = torch.rand(8, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 8, dtype=torch.complex128, requires_grad=True)
    grad = torch.randn(3, 1000, 8, dtype=torch.complex128)
    results = []
    for device in ("cpu", "cuda"):
        inputs = [t.detach().to(device).requires_grad_() for t in (u, w, h0)]
        out = diagonal_unitary_scan(*inputs)
        grads = torch.autograd.grad(out, inputs, grad.to(device))
        results.append([t.cpu() for t in (out, *grads)])
    for cpu, gpu in zip(*results, strict=True):
        torch.testing.assert_close(gpu, cpu, rtol=1e-10, atol=1e-10)
