"""The complex gated cell's gate families, initialisations and Wolter & Yao's model, against
numpy loops written from the equations (Wolter & Yao 2018 and their published code)."""

import copy

import numpy as np
import pytest
import torch

from cunitary import ComplexConvGatedCell, ComplexGatedRNN
from cunitary.cells import GATES
from cunitary.init import arjovsky_unitary_, tf_glorot_uniform_
from cunitary.tasks import COPY_MARKER, copy_one_hot, copy_task
from experiments import memory
from experiments.runner import count_parameters


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def modrelu_np(z, b):
    r = np.abs(z)
    return np.maximum(r + b, 0) * np.where(r > 0, z / np.where(r > 0, r, 1), 0)


def numpy_of(p):
    return p.detach().to(torch.complex128 if p.is_complex() else torch.float64).numpy()


def gates_np(cell, g):
    n = cell.hidden_size

    def per_gate(name):
        p = numpy_of(getattr(cell, name))
        return np.repeat(p, n) if p.shape == (2,) else p

    re, im = g.real, g.imag
    if cell.gate == "mod_sigmoid_per_unit":
        a = per_gate("gate_alpha")
        return sigmoid(a * re + (1 - a) * im)
    if cell.gate == "mod_sigmoid":
        a = sigmoid(per_gate("gate_alpha"))
        return sigmoid(a * re + (1 - a) * im)
    if cell.gate == "mod_sigmoid_beta":
        return sigmoid(sigmoid(per_gate("gate_alpha")) * re + sigmoid(per_gate("gate_beta")) * im)
    if cell.gate == "mod_sigmoid_sum":
        a = sigmoid(per_gate("gate_alpha"))
        return a * sigmoid(re) + (1 - a) * sigmoid(im)
    if cell.gate == "mod_sigmoid_prod":
        return sigmoid(re) * sigmoid(im)
    if cell.gate == "phase_hirose":
        m, a, b = per_gate("gate_m"), per_gate("gate_a"), per_gate("gate_b")
        return np.tanh(np.abs(g) / m**2) * sigmoid(a * np.angle(g) + b)
    raise AssertionError(cell.gate)


def cell_reference(cell, x):
    n = cell.hidden_size
    W, b = numpy_of(cell.input_weight), numpy_of(cell.bias)
    U = numpy_of(cell.transition.matrix())
    mb = numpy_of(cell.activation.bias)
    h = np.zeros((x.shape[0], n), dtype=np.complex128)
    out = []
    for t in range(x.shape[1]):
        p = x[:, t] @ W.T + b
        if cell.gate == "none":
            h = modrelu_np(p + h @ U.T, mb)
        else:
            gates = gates_np(cell, p[:, : 2 * n] + h @ numpy_of(cell.hidden_weight).T)
            r, z = gates[:, :n], gates[:, n:]
            c = modrelu_np(p[:, 2 * n :] + (r * h) @ U.T, mb)
            h = (1 - z) * h + z * c
        out.append(h)
    return np.stack(out, 1)


def perturbed(model):
    """Move every parameter off its start so that each one matters."""
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for cell in model.layers:
            cell.bias.mul_(0.15)
            cell.activation.bias.uniform_(-0.2, 0.1, generator=gen)
            for name, p in cell.named_parameters(recurse=False):
                if name.startswith("gate_"):
                    p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


@pytest.mark.parametrize("gate", GATES)
@pytest.mark.parametrize("transition", ["circulant", "stiefel"])
def test_every_gate_family_matches_the_reference(gate, transition):
    torch.manual_seed(0)
    model = perturbed(ComplexGatedRNN(4, 7, transition=transition, gate=gate,
                                      activation_bias="scalar", dtype=torch.float64))  # fmt: skip
    x = torch.randn(3, 9, 4, dtype=torch.float64)
    ref = cell_reference(model.layers[0], x.numpy().astype(np.complex128))
    out, _ = model(x)
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-11)


@pytest.mark.parametrize("gate", ["mod_sigmoid", "mod_sigmoid_beta"])
def test_fused_loop_serves_the_linear_gates_with_the_same_gradients(gate):
    torch.manual_seed(1)
    fused = perturbed(ComplexGatedRNN(3, 6, num_layers=2, transition="stiefel", gate=gate,
                                      activation_bias="scalar", dtype=torch.float64))  # fmt: skip
    reference = ComplexGatedRNN(3, 6, num_layers=2, transition="stiefel", gate=gate,
                                activation_bias="scalar", dtype=torch.float64)  # fmt: skip
    reference.load_state_dict(fused.state_dict())
    for cell in reference.layers:
        cell.use_fused = False
    x = torch.randn(2, 10, 3, dtype=torch.complex128)
    assert fused.layers[0].fused_sequence(x, torch.zeros(2, 6, dtype=torch.complex128)) is not None
    probe = torch.randn(2, 10, 6, dtype=torch.complex128)
    results = []
    for model in (fused, reference):
        out, _ = model(x)
        loss = (out * probe.conj()).real.sum()
        results.append((out, torch.autograd.grad(loss, list(model.parameters()))))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-12, rtol=0)
    for a, b in zip(results[0][1], results[1][1], strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9)


def test_gate_parameters_start_where_their_code_starts():
    cells = {g: ComplexGatedRNN(2, 5, gate=g).layers[0] for g in GATES}
    assert cells["mod_sigmoid"].gate_alpha.tolist() == [0.0, 0.0]
    assert cells["mod_sigmoid_beta"].gate_beta.tolist() == [1.0, 1.0]
    hirose = cells["phase_hirose"]
    for name, (low, high) in {"gate_m": (0.9, 1.1), "gate_a": (1.9, 2.1),
                              "gate_b": (3.9, 4.1)}.items():  # fmt: skip
        values = getattr(hirose, name)
        assert values.shape == (2,) and bool(((values >= low) & (values <= high)).all())
    assert cells["none"].hidden_weight is None and cells["none"].input_weight.shape == (5, 2)
    assert not any(n.startswith("gate_") for n, _ in cells["mod_sigmoid_prod"].named_parameters())
    with pytest.raises(ValueError, match="gate must be one of"):
        ComplexGatedRNN(2, 5, gate="tanh")
    with pytest.raises(ValueError, match="activation_bias"):
        ComplexGatedRNN(2, 5, activation_bias="one")
    with pytest.raises(ValueError, match="init must be one of"):
        ComplexGatedRNN(2, 5, init="he")


def test_wolter_yao_initialisation():
    torch.manual_seed(2)
    n, f = 80, 9
    cell = ComplexGatedRNN(f, n, transition="stiefel", gate="mod_sigmoid",
                           activation_bias="scalar", init="wolter_yao").layers[0]  # fmt: skip
    for weight, fan_in in ((cell.input_weight, f), (cell.hidden_weight, n)):
        parts = torch.view_as_real(weight.detach()).double()
        limit = np.sqrt(6 / (fan_in * (n + 2)))
        assert parts.abs().max() <= limit
        assert parts.var().item() == pytest.approx(limit**2 / 3, rel=0.1)
    assert cell.activation.bias.shape == () and abs(cell.activation.bias.item()) <= 0.01
    gate_bias = cell.bias[: 2 * n]
    assert bool((gate_bias == complex(4, 4)).all()) and bool((cell.bias[2 * n :] == 0).all())
    u = cell.transition.weight.detach().to(torch.complex128)
    assert (u.mH @ u - torch.eye(n, dtype=u.dtype)).abs().max() < 1e-6


def test_arjovsky_unitary_is_a_phased_permutation_up_to_two_reflections():
    gen = torch.Generator().manual_seed(4)
    u = arjovsky_unitary_(torch.empty(64, 64, dtype=torch.complex128), generator=gen)
    assert (u.mH @ u - torch.eye(64, dtype=u.dtype)).abs().max() < 1e-12
    # Each reflection moves a row by O(1/n): every row and column keeps one dominant entry
    # of modulus near 1, in a permutation pattern.
    rows = u.abs().argmax(1)
    assert sorted(rows.tolist()) == list(range(64))
    assert u.abs().max(1).values.min() > 0.7
    with pytest.raises(ValueError, match="square complex"):
        arjovsky_unitary_(torch.empty(3, 3))


def test_tf_glorot_uniform_limit_and_variance():
    gen = torch.Generator().manual_seed(5)
    w = tf_glorot_uniform_(torch.empty(200, 300, dtype=torch.complex128), 9 * 80, 18, gen)
    limit = np.sqrt(6 / (9 * 80 + 18))
    parts = torch.view_as_real(w)
    assert parts.abs().max() <= limit
    assert parts.var().item() == pytest.approx(limit**2 / 3, rel=0.03)


def test_copy_encoding_of_width_nine_zeroes_the_marker():
    x, _ = copy_task(4, 12, generator=torch.Generator().manual_seed(6))
    nine, ten = copy_one_hot(x, 9), copy_one_hot(x, 10)
    xs = x.numpy()
    ref = np.zeros((*xs.shape, 10))
    ref[np.arange(xs.shape[0])[:, None], np.arange(xs.shape[1])[None], xs] = 1
    np.testing.assert_array_equal(ten.numpy(), ref)
    marker = xs == COPY_MARKER
    assert marker.sum() == 4 and not nine.numpy()[marker].any()
    np.testing.assert_array_equal(nine.numpy()[~marker], ref[~marker][:, :9])
    with pytest.raises(ValueError, match="width"):
        copy_one_hot(x, 8)
    with pytest.raises(TypeError, match="int64"):
        copy_one_hot(x.float(), 9)


def test_wolter_yao_preset_has_their_parameter_counts():
    cfg, _ = memory.parse(["--preset", "wolter-yao", "--out", "unused"])
    assert cfg.hidden == 80
    counts = {task: count_parameters(memory.SequenceModel("cgrnn", task, 80, cfg))
              for task in ("copy", "adding")}  # fmt: skip
    assert counts == {"copy": 44_643, "adding": 40_003}
    model = memory.SequenceModel("cgrnn", "copy", 80, cfg)
    assert model.readout.linear.bias is None
    optimizers = memory.make_optimizer(cfg, model).optimizers
    assert [type(o).__name__ for o in optimizers] == ["RMSpropTF", "StiefelCayley"]
    cayley_params = optimizers[1].param_groups[0]["params"]
    assert len(cayley_params) == 1 and cayley_params[0] is model.core.layers[0].transition.weight
    assert sum(p.numel() for g in optimizers[0].param_groups for p in g["params"]) + 6400 == sum(
        p.numel() for p in model.parameters()
    )


def test_blocks_rule_reports_the_first_block_below_the_threshold_at_its_centre():
    cfg = memory.Config(window=4, solve_rule="blocks")
    losses = [1.0] * 8 + [1e-3, 1e-3, 1e-3, 1e-2] + [1e-8] * 8
    # blocks: [0,4) 1, [4,8) 1, [8,12) 3.25e-3, [12,16) 1e-8 -> 5e-7 at 12 + 2 = 14
    assert memory.solved_steps(cfg, "copy", losses) == {"steps_to_0.001": 14, "steps_to_5e-07": 14}
    trailing = memory.Config(window=4, solve_rule="trailing")
    # trailing mean of steps 10..13: (1e-3 + 1e-2 + 2e-8) / 4 > 1e-3; 11..14: 2.5e-3; 12..15 ok
    assert memory.solved_steps(trailing, "copy", losses)["steps_to_0.001"] == 16


def test_a_parametrized_u_can_take_plain_sgd_steps_apart_from_the_rest():
    cfg, _ = memory.parse(["--preset", "wolter-yao", "--transition", "full", "--u-optimizer",
                           "sgd", "--out", "unused"])  # fmt: skip
    model = memory.SequenceModel("cgrnn", "copy", 80, cfg)
    main, sgd = memory.make_optimizer(cfg, model).optimizers
    assert type(sgd) is torch.optim.SGD
    generator = {id(p) for p in model.core.layers[0].transition.parameters()}
    assert {id(p) for g in sgd.param_groups for p in g["params"]} == generator
    assert not generator & {id(p) for g in main.param_groups for p in g["params"]}


@pytest.mark.parametrize("fused", [True, False])
def test_nonexpansive_cgrnn_applies_a_positive_bias_as_zero(fused):
    """Constraint (3): with nonexpansive=True a modReLU bias an optimiser pushed above 0 is
    applied as 0; the free cell with that bias set to 0 is the reference (it is tested
    against dense references elsewhere). Both the fused and the autograd loop."""
    torch.manual_seed(4)
    rnn = ComplexGatedRNN(3, 6, transition="full", nonexpansive=True, dtype=torch.float64)
    free = copy.deepcopy(rnn)
    free.layers[0].activation.nonexpansive = False
    for cell in (rnn.layers[0], free.layers[0]):
        cell.use_fused = fused
    with torch.no_grad():
        rnn.layers[0].activation.bias.copy_(torch.linspace(-0.3, 0.3, 6))
        free.layers[0].activation.bias.copy_(torch.linspace(-0.3, 0.3, 6).clamp(max=0))
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    out, _ = rnn(x)
    ref, _ = free(x)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    out.abs().sum().backward()
    assert torch.all(rnn.layers[0].activation.bias.grad != 0)  # straight through, not frozen
    with pytest.raises(ValueError, match="activation must be 'modrelu'"):
        ComplexGatedRNN(3, 6, activation="hirose", nonexpansive=True)


def test_nonexpansive_conv_gated_cell_applies_a_positive_bias_as_zero():
    torch.manual_seed(5)
    cell = ComplexConvGatedCell(1, 2, (6, 6), nonexpansive=True, dtype=torch.float64)
    free = copy.deepcopy(cell)
    free.nonexpansive = False
    with torch.no_grad():
        cell.modrelu_bias.copy_(torch.tensor([0.4, -0.2]).view(2, 1, 1))
        free.modrelu_bias.copy_(torch.tensor([0.0, -0.2]).view(2, 1, 1))
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    h = torch.randn(3, 2, 6, 6, dtype=torch.complex128)
    torch.testing.assert_close(cell(x, h), free(x, h), rtol=0, atol=1e-12)
    assert "nonexpansive=True" in repr(cell)


def test_one_precision_policy_and_argument_checks_of_the_sequence_modules():
    """A precision mismatch is a TypeError in every module; a complex dtype is refused
    where the parameters are real; batch_first must be a bool; dropout with one layer
    warns, as torch.nn.GRU does."""
    from cunitary import ComplexReadout, LinearUnitaryRecurrence

    with pytest.raises(TypeError, match="input has dtype torch.complex128"):
        LinearUnitaryRecurrence(3, 4)(torch.randn(2, 5, 3, dtype=torch.complex128))
    with pytest.raises(TypeError, match="dtype must be torch.float32 or torch.float64"):
        ComplexReadout(4, 2, dtype=torch.complex64)
    for cls in (ComplexGatedRNN, LinearUnitaryRecurrence):
        with pytest.raises(TypeError, match="batch_first must be a bool"):
            cls(3, 4, batch_first="no")
    with pytest.warns(UserWarning, match="does nothing with num_layers=1"):
        ComplexGatedRNN(3, 4, dropout=0.5)
