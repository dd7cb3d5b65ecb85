"""Recurrent cells against plain loops over dense matrices written here from the equations."""

import numpy as np
import pytest
import scipy.linalg
import torch

import cunitary.functional as F
from cunitary import (
    ComplexGatedRNN,
    ComplexReadout,
    LinearUnitaryRecurrence,
    RotationConvGRUCell,
    RotationGRU,
    UnitaryRNN,
)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def circulant_np(angles: np.ndarray, real: bool = False) -> np.ndarray:
    if real:
        mirrored = np.roll(angles[::-1], 1)
        angles = 0.5 * (angles - mirrored)
    mat = scipy.linalg.circulant(np.fft.ifft(np.exp(1j * angles)))
    return mat.real if real else mat


def transition_np(transition) -> np.ndarray:
    if transition.kind == "circulant":
        return circulant_np(transition.angles.detach().double().numpy(), transition.real)
    if transition.kind == "identity":
        return np.eye(transition.hidden_size)
    return transition.linear.weight.detach().to(torch.complex128).numpy()


def modrelu_np(z, b):
    r = np.abs(z)
    return np.maximum(r + b, 0) * np.where(r > 0, z / np.where(r > 0, r, 1), 0)


def cgrnn_reference(cell, x: np.ndarray) -> np.ndarray:
    n = cell.hidden_size
    W = cell.input_weight.detach().to(torch.complex128).numpy()
    V = cell.hidden_weight.detach().to(torch.complex128).numpy()
    b = cell.bias.detach().to(torch.complex128).numpy()
    alpha = cell.gate_alpha.detach().double().numpy()
    U = transition_np(cell.transition)
    mb = cell.activation.bias.detach().double().numpy()
    h = np.zeros((x.shape[0], n), dtype=np.complex128)
    out = []
    for t in range(x.shape[1]):
        g = x[:, t] @ W.T + b
        gates_pre = g[:, : 2 * n] + h @ V.T
        gates = sigmoid(alpha * gates_pre.real + (1 - alpha) * gates_pre.imag)
        r, z = gates[:, :n], gates[:, n:]
        c = modrelu_np(g[:, 2 * n :] + (r * h) @ U.T, mb)
        h = (1 - z) * h + z * c
        out.append(h)
    return np.stack(out, 1)


@pytest.mark.parametrize("transition", ["circulant", "full", "identity"])
def test_complex_gated_rnn_matches_reference(transition):
    torch.manual_seed(0)
    model = ComplexGatedRNN(5, 12, transition=transition, dtype=torch.float64)
    with torch.no_grad():  # make every part matter: closed-ish gates, non-zero biases
        model.layers[0].bias.mul_(0.1)
        model.layers[0].activation.bias.fill_(-0.05)
    x = torch.randn(3, 9, 5, dtype=torch.float64)
    out, h_n = model(x)
    ref = cgrnn_reference(model.layers[0], x.numpy().astype(np.complex128))
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-10)
    np.testing.assert_allclose(h_n[0].detach().numpy(), ref[:, -1], atol=1e-10)


def test_large_circulant_uses_fft_and_still_matches():
    from cunitary import cells

    torch.manual_seed(1)
    n = cells.DENSE_TRANSITION_MAX + 4
    model = ComplexGatedRNN(3, n, dtype=torch.float64)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    ref = cgrnn_reference(model.layers[0], x.numpy().astype(np.complex128))
    np.testing.assert_allclose(model(x)[0].detach().numpy(), ref, atol=1e-10)


@pytest.mark.parametrize("transition", ["circulant", "full"])
def test_unitary_rnn_matches_reference(transition):
    torch.manual_seed(2)
    model = UnitaryRNN(4, 10, transition=transition, bias=-0.1, dtype=torch.float64)
    cell = model.layers[0]
    bias = cell.activation.bias.detach().numpy()
    x = torch.randn(2, 7, 4, dtype=torch.float64)
    W = cell.input_weight.detach().numpy()
    U = transition_np(cell.transition)
    h = np.zeros((2, 10), dtype=np.complex128)
    ref = []
    for t in range(7):
        h = modrelu_np(h @ U.T + x[:, t].numpy() @ W.T, bias)
        ref.append(h)
    np.testing.assert_allclose(model(x)[0].detach().numpy(), np.stack(ref, 1), atol=1e-10)


@pytest.mark.parametrize("candidate", ["gru", "linear_recurrent"])
@pytest.mark.parametrize("transition", ["circulant", "full", "identity"])
def test_rotation_gru_matches_reference(transition, candidate):
    torch.manual_seed(3)
    model = RotationGRU(4, 8, transition=transition, candidate=candidate, dtype=torch.float64)
    cell = model.layers[0]
    x = torch.randn(2, 6, 4, dtype=torch.float64)
    Wi, bi = cell.input_map.weight.detach().numpy(), cell.input_map.bias.detach().numpy()
    Vg = cell.gate_map.weight.detach().numpy()
    Vc = cell.candidate_map.weight.detach().numpy()
    R = transition_np(cell.transition)
    if transition == "full":
        R = R.real
    assert np.allclose(R @ R.T, np.eye(8), atol=1e-10)
    h = np.zeros((2, 8))
    ref = []
    for t in range(6):
        p = x[:, t].numpy() @ Wi.T + bi
        g = sigmoid(p[:, :16] + h @ Vg.T)
        r, z = g[:, :8], g[:, 8:]
        if candidate == "gru":
            cand = np.tanh(p[:, 16:] + (r * h) @ Vc.T)
        else:  # the document's eq. (109): reset on the recurrent term's output, no tanh
            cand = np.tanh(p[:, 16:]) + r * (h @ Vc.T)
        h = ((1 - z) * cand + z * h) @ R.T
        ref.append(h)
    out, h_n = model(x)
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.detach().numpy(), np.stack(ref, 1), atol=1e-10)


# -- linear unitary recurrence -------------------------------------------------------------


def test_unitary_scan_matches_float64_loop_at_T4096():
    gen = torch.Generator().manual_seed(4)
    n, T = 32, 4096
    # float32 angles (as a float32 model has them), held exactly in float64 for the truth
    w = ((torch.rand(n, generator=gen) * 2 - 1) * np.pi).double()
    u = torch.randn(4, T, n, generator=gen, dtype=torch.complex128).to(torch.complex64)
    truth = F.unitary_scan(u.to(torch.complex128), w, method="loop")  # sequential, float64
    fast = F.unitary_scan(u, w.float())
    rel = (fast.to(torch.complex128) - truth).norm(dim=-1) / truth.norm(dim=-1)
    assert rel.max() < 1e-4
    # An explicit dense-matrix loop, independent of the library, on the first 64 steps.
    C = circulant_np(w.numpy())
    h = np.zeros((4, n), dtype=np.complex128)
    for t in range(64):
        h = h @ C.T + u[:, t].numpy().astype(np.complex128)
        np.testing.assert_allclose(truth[:, t].numpy(), h, atol=1e-10)


def test_unitary_scan_gradients_match_loop():
    gen = torch.Generator().manual_seed(5)
    w = torch.randn(16, generator=gen, dtype=torch.float64, requires_grad=True)
    u = torch.randn(2, 300, 16, generator=gen, dtype=torch.complex128, requires_grad=True)
    h0 = torch.randn(2, 16, generator=gen, dtype=torch.complex128, requires_grad=True)
    probe = torch.randn(2, 300, 16, generator=gen, dtype=torch.complex128)

    def grads(method):
        out = F.unitary_scan(u, w, h0, method=method)
        return torch.autograd.grad((out * probe.conj()).real.sum(), (u, w, h0))

    for a, b in zip(grads("closed"), grads("loop"), strict=True):
        torch.testing.assert_close(a, b, atol=1e-8, rtol=1e-8)


def test_gradcheck_unitary_scan():
    gen = torch.Generator().manual_seed(6)
    w = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    u = torch.randn(2, 7, 5, generator=gen, dtype=torch.complex128, requires_grad=True)
    h0 = torch.randn(2, 5, generator=gen, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(F.unitary_scan, (u, w, h0))


def test_state_norm_drift_over_10000_steps_float32():
    model = LinearUnitaryRecurrence(None, 64)
    h0 = torch.randn(1, 4, 64, dtype=torch.complex64)
    out, _ = model(torch.zeros(4, 10_000, 64), h0)
    drift = (out.norm(dim=-1) / h0[0].norm(dim=-1)[:, None] - 1).abs().max()
    assert drift < 1e-4


def test_gradient_through_time_keeps_its_norm():
    """dh_T/dh_0 = C^T is unitary: any cotangent comes back to h_0 with the same norm."""
    gen = torch.Generator().manual_seed(15)
    w = torch.randn(16, generator=gen, dtype=torch.float64)
    u = torch.randn(1, 1000, 16, generator=gen, dtype=torch.complex128)
    h0 = torch.randn(1, 16, generator=gen, dtype=torch.complex128, requires_grad=True)
    h_T = F.unitary_scan(u, w, h0)[0, -1]
    for _ in range(4):
        g = torch.randn(16, generator=gen, dtype=torch.complex128)
        (grad,) = torch.autograd.grad((h_T * g.conj()).real.sum(), h0, retain_graph=True)
        assert abs(grad.norm().item() / g.norm().item() - 1) < 1e-10


def test_linear_recurrence_module_with_input_map():
    torch.manual_seed(7)
    model = LinearUnitaryRecurrence(3, 6, dtype=torch.float64)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    out, h_n = model(x)
    u = x.to(torch.complex128) @ model.input_weight.detach().mT
    torch.testing.assert_close(out, F.unitary_scan(u, model.angles.detach(), method="loop"))
    torch.testing.assert_close(h_n[0], out[:, -1])
    loop = LinearUnitaryRecurrence(3, 6, method="loop", dtype=torch.float64)
    loop.load_state_dict(model.state_dict())
    torch.testing.assert_close(loop(x)[0], out)


# -- interface parity with nn.GRU ----------------------------------------------------------


@pytest.mark.parametrize("cls", [ComplexGatedRNN, UnitaryRNN, RotationGRU])
@pytest.mark.parametrize("batch_first", [True, False])
def test_interface_matches_nn_gru(cls, batch_first):
    model = cls(4, 6, num_layers=2, batch_first=batch_first)
    gru = torch.nn.GRU(4, 6, num_layers=2, batch_first=batch_first)
    x = torch.randn(3, 5, 4)
    out, h_n = model(x)
    ref_out, ref_h = gru(x)
    assert out.shape == ref_out.shape and h_n.shape == ref_h.shape
    # h0 is honoured: running the first half, then the second from its h_n, continues
    # the sequence exactly.
    first, second = (x[:, :2], x[:, 2:]) if batch_first else (x[:2], x[2:])
    out_1, h_1 = model(first)
    out_2, h_2 = model(second, h_1)
    torch.testing.assert_close(torch.cat([out_1, out_2], 1 if batch_first else 0), out)
    torch.testing.assert_close(h_2, h_n)
    # unbatched input
    out_u, h_u = model(x[0] if batch_first else x[:, 0])
    ref_u, ref_hu = gru(x[0] if batch_first else x[:, 0])
    assert out_u.shape == ref_u.shape and h_u.shape == ref_hu.shape
    torch.testing.assert_close(out_u, out[0] if batch_first else out[:, 0], atol=1e-6, rtol=1e-5)


def test_split_sequence_equals_whole_sequence():
    torch.manual_seed(8)
    model = ComplexGatedRNN(3, 8, num_layers=2)
    x = torch.randn(2, 10, 3)
    whole, h_whole = model(x)
    first, h_mid = model(x[:, :4])
    second, h_end = model(x[:, 4:], h_mid)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    torch.testing.assert_close(h_end, h_whole)


def test_dtypes_and_double_precision():
    model = ComplexGatedRNN(3, 8, dtype=torch.float64)
    out, _ = model(torch.randn(2, 4, 3, dtype=torch.float64))
    assert out.dtype == torch.complex128
    model32 = ComplexGatedRNN(3, 8)
    assert model32(torch.randn(2, 4, 3))[0].dtype == torch.complex64


def test_cell_matches_sequence_step():
    torch.manual_seed(9)
    model = ComplexGatedRNN(3, 8)
    cell = model.layers[0]
    x = torch.randn(2, 3, 3)
    h = None
    for t in range(3):
        h = cell(x[:, t], h)
    torch.testing.assert_close(h, model(x)[1][0])


@pytest.mark.parametrize("cls", [ComplexGatedRNN, UnitaryRNN, RotationGRU])
def test_gradcheck_sequence_modules(cls):
    torch.manual_seed(10)
    model = cls(2, 4, dtype=torch.float64, transition="full")
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in model.named_parameters()]
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)

    def run(x, *values):
        out, _ = torch.func.functional_call(model, dict(zip(names, values, strict=True)), (x,))
        return out

    assert torch.autograd.gradcheck(run, (x, *params))


def test_errors():
    model = ComplexGatedRNN(3, 8)
    with pytest.raises(ValueError, match="3 features"):
        model(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="h0 must have shape"):
        model(torch.randn(2, 5, 3), torch.zeros(1, 3, 8, dtype=torch.complex64))
    with pytest.raises(TypeError, match="dtype"):
        model(torch.ones(2, 5, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="dtype"):
        RotationGRU(3, 8)(torch.randn(2, 5, 3, dtype=torch.complex64))
    with pytest.raises(ValueError, match="transition"):
        ComplexGatedRNN(3, 8, transition="householder")
    with pytest.raises(ValueError, match="hidden_size"):
        UnitaryRNN(3, 0)
    with pytest.raises(ValueError, match="input must be"):
        LinearUnitaryRecurrence(None, 4)(torch.randn(4))
    with pytest.raises(TypeError, match="num_layers must be an int"):
        LinearUnitaryRecurrence(3, 8, "loop")
    with pytest.raises(TypeError, match="complex"):
        ComplexReadout(4, 2)(torch.randn(3, 4))
    with pytest.raises(ValueError, match="shape"):
        RotationConvGRUCell(1, 2, 8)(torch.randn(1, 1, 8, 9))


# -- training smoke test -------------------------------------------------------------------


def test_cgrnn_learns_to_recall_a_symbol_after_50_blanks():
    torch.manual_seed(0)
    symbols, blanks, batch = 4, 50, 32
    rnn = ComplexGatedRNN(symbols + 1, 32)
    readout = ComplexReadout(32, symbols)
    params = list(rnn.parameters()) + list(readout.parameters())
    opt = torch.optim.Adam(params, lr=1e-2)
    gen = torch.Generator().manual_seed(1)

    def batch_of(n):
        sym = torch.randint(0, symbols, (n,), generator=gen)
        x = torch.zeros(n, blanks + 1, symbols + 1)
        x[torch.arange(n), 0, sym] = 1
        x[:, 1:, symbols] = 1
        return x, sym

    for _ in range(80):
        x, sym = batch_of(batch)
        loss = torch.nn.functional.cross_entropy(readout(rnn(x)[0][:, -1]), sym)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        assert torch.isfinite(loss)
    x, sym = batch_of(256)
    with torch.no_grad():
        accuracy = (readout(rnn(x)[0][:, -1]).argmax(-1) == sym).float().mean()
    assert accuracy > 0.95


# -- the fused sequence loop against the generic autograd loop -----------------------------


@pytest.mark.parametrize("transition", ["circulant", "full", "identity"])
def test_fused_cgrnn_matches_autograd_loop(transition):
    torch.manual_seed(16)
    fused = ComplexGatedRNN(4, 10, num_layers=2, transition=transition, dtype=torch.float64)
    with torch.no_grad():
        for layer in fused.layers:
            layer.bias.mul_(0.2)  # gates away from saturation, so every path carries gradient
            layer.activation.bias.uniform_(-0.3, 0.3)
    reference = ComplexGatedRNN(4, 10, num_layers=2, transition=transition, dtype=torch.float64)
    reference.load_state_dict(fused.state_dict())
    for layer in reference.layers:
        layer.use_fused = False
    assert all(layer.fused_sequence(torch.zeros(3, 2, layer.input_size, dtype=torch.complex128),
                                    torch.zeros(3, 10, dtype=torch.complex128)) is not None
               for layer in fused.layers)  # fmt: skip
    x = torch.randn(3, 12, 4, dtype=torch.float64)
    h0 = torch.randn(2, 3, 10, dtype=torch.complex128)
    probe = torch.randn(3, 12, 10, dtype=torch.complex128)
    results = []
    for model in (fused, reference):
        out, h_n = model(x, h0.clone().requires_grad_())
        loss = (out * probe.conj()).real.sum() + h_n.abs().sum()
        grads = torch.autograd.grad(loss, list(model.parameters()))
        results.append((out, h_n, grads))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-12, rtol=0)
    torch.testing.assert_close(results[0][1], results[1][1], atol=1e-12, rtol=0)
    for a, b in zip(results[0][2], results[1][2], strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9)


def test_fused_cgrnn_ignores_autocast():
    # Its real matmuls stand for complex products: bf16 autocast (the experiments' --amp)
    # must not reach them, and it once broke the backward.
    torch.manual_seed(19)
    model = ComplexGatedRNN(3, 8, num_layers=2)
    x = torch.randn(2, 5, 3)
    results = []
    for amp in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out, _ = model(x)
        grads = torch.autograd.grad(torch.view_as_real(out).square().sum(), model.parameters())
        results.append((out, grads))
    assert results[1][0].dtype == torch.complex64
    torch.testing.assert_close(results[1][0], results[0][0], atol=0, rtol=0)
    for a, b in zip(results[1][1], results[0][1], strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_fused_cgrnn_gradcheck(monkeypatch):
    from cunitary import _fused

    calls = []
    original = _fused.GatedScan.apply
    monkeypatch.setattr(_fused.GatedScan, "apply", lambda *a: calls.append(1) or original(*a))
    torch.manual_seed(17)
    model = ComplexGatedRNN(2, 3, dtype=torch.float64)
    with torch.no_grad():
        model.layers[0].bias.mul_(0.2)
        model.layers[0].activation.bias.fill_(0.1)
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in model.named_parameters()]
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 3, dtype=torch.complex128, requires_grad=True)

    def run(x, h0, *values):
        out, _ = torch.func.functional_call(model, dict(zip(names, values, strict=True)), (x, h0))
        return out

    assert torch.autograd.gradcheck(run, (x, h0, *params))
    assert calls  # the fused loop ran (the generic loop would not call it)


@pytest.mark.parametrize("chunk", [1, 7, 256])
def test_scan_blocks_do_not_change_the_result(chunk, monkeypatch):
    gen = torch.Generator().manual_seed(18)
    w = torch.randn(6, generator=gen, dtype=torch.float64)
    u = torch.randn(2, 50, 6, generator=gen, dtype=torch.complex128)
    h0 = torch.randn(2, 6, generator=gen, dtype=torch.complex128)
    monkeypatch.setattr(F, "SCAN_CHUNK", chunk)
    torch.testing.assert_close(F.unitary_scan(u, w, h0), F.unitary_scan(u, w, h0, method="loop"))


def test_linear_unitary_recurrence_layers_and_unbatched_input():
    torch.manual_seed(21)
    model = LinearUnitaryRecurrence(3, 5, 2, dtype=torch.float64)
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    h0 = torch.randn(2, 2, 5, dtype=torch.complex128)
    out, h_n = model(x, h0)
    # Reference: each layer's dense recurrence h_t = C h_{t-1} + W x_t, written here.
    layer_input = x.to(torch.complex128).numpy()
    finals = []
    for k, layer in enumerate([model, *model.deeper]):
        C = circulant_np(layer.angles.detach().numpy())
        W = layer.input_weight.detach().numpy()
        h = h0[k].numpy()
        states = []
        for t in range(layer_input.shape[1]):
            h = h @ C.T + layer_input[:, t] @ W.T
            states.append(h)
        layer_input = np.stack(states, 1)
        finals.append(h)
    np.testing.assert_allclose(out.detach().numpy(), layer_input, atol=1e-10)
    np.testing.assert_allclose(h_n.detach().numpy(), np.stack(finals), atol=1e-10)
    single, single_h = model(x[0], h0[:, 0])  # unbatched (T, F) with h0 (L, n)
    torch.testing.assert_close(single, out[0])
    torch.testing.assert_close(single_h, h_n[:, 0])


@pytest.mark.parametrize("cls", [ComplexGatedRNN, UnitaryRNN, RotationGRU])
def test_bidirectional_is_two_directions_run_apart_and_concatenated(cls):
    torch.manual_seed(22)
    model = cls(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    out, h_n = model(x)
    assert out.shape == (2, 6, 8) and h_n.shape == (4, 2, 4)
    # Reference: each cell as a one-layer module of its own, the backward one on the
    # reversed sequence, outputs concatenated, layer after layer.
    layer_input, finals = x, []
    for k in range(2):
        outs = []
        for d in range(2):
            single = cls(layer_input.shape[-1], 4, dtype=torch.float64)
            single.layers[0].load_state_dict(model.layers[2 * k + d].state_dict())
            seq = layer_input if d == 0 else layer_input.flip(1)
            states, h = single(seq)
            finals.append(h[0])
            outs.append(states if d == 0 else states.flip(1))
        layer_input = torch.cat(outs, -1)
    torch.testing.assert_close(out, layer_input)
    torch.testing.assert_close(h_n, torch.stack(finals))


def test_dropout_between_layers_only_while_training():
    torch.manual_seed(23)
    model = ComplexGatedRNN(3, 4, num_layers=2, dropout=1.0, dtype=torch.float64)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    second = ComplexGatedRNN(4, 4, dtype=torch.float64)
    second.layers[0].load_state_dict(model.layers[1].state_dict())
    out, _ = model.train()(x)  # p = 1: the second layer reads zeros
    expected, _ = second(torch.zeros(2, 5, 4, dtype=torch.complex128))
    torch.testing.assert_close(out, expected)
    kept, _ = model.eval()(x)
    reference = ComplexGatedRNN(3, 4, num_layers=2, dtype=torch.float64)
    reference.load_state_dict(model.state_dict())
    torch.testing.assert_close(kept, reference(x)[0])
    half = ComplexGatedRNN(3, 4, num_layers=2, dropout=0.5).train()
    with pytest.raises(ValueError, match="dropout must be in"):
        ComplexGatedRNN(3, 4, dropout=1.5)
    assert half(torch.randn(2, 5, 3))[0].shape == (2, 5, 4)


def test_complex_real_layouts_and_a_per_pixel_readout():
    from cunitary import ComplexToReal, RealToComplex

    z = torch.randn(2, 3, 4, 5, dtype=torch.complex128)
    planes = ComplexToReal(dim=1)(z)
    np.testing.assert_array_equal(planes.numpy(), np.concatenate([z.real, z.imag], axis=1))
    torch.testing.assert_close(RealToComplex(dim=1)(planes), z)
    with pytest.raises(ValueError, match="even size along dim=1"):
        RealToComplex(dim=1)(torch.randn(2, 5, 4, 4))
    readout = ComplexReadout(3, 2, dim=1, dtype=torch.float64)
    out = readout(z)
    w, b = readout.linear.weight.detach().numpy(), readout.linear.bias.detach().numpy()
    ref = np.einsum("oc,bchw->bohw", w, planes.numpy()) + b[None, :, None, None]
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-12)
    with pytest.raises(ValueError, match="3 features along dim=1"):
        readout(torch.randn(2, 4, 4, 5, dtype=torch.complex128))
