"""Task generators against hand-built examples and their baselines."""

import math

import pytest
import torch

from cunitary.tasks import ADDING_BASELINE, adding_task, copy_baseline, copy_task


def test_copy_layout_matches_a_hand_built_example():
    gen = torch.Generator().manual_seed(0)
    x, y = copy_task(2, 5, generator=gen)
    assert x.shape == y.shape == (2, 25)
    for b in range(2):
        symbols = x[b, :10].tolist()
        assert all(1 <= s <= 8 for s in symbols)
        expected_x = symbols + [0] * 4 + [9] + [0] * 10  # T-1 = 4 blanks, marker, 10 blanks
        expected_y = [0] * 15 + symbols  # T + 10 = 15 blanks, then the symbols
        assert x[b].tolist() == expected_x
        assert y[b].tolist() == expected_y


def test_copy_baseline_values():
    assert copy_baseline(250) == pytest.approx(10 * math.log(8) / 270)
    assert round(copy_baseline(250), 4) == 0.0770
    assert round(copy_baseline(1000), 4) == 0.0204


def test_copy_memoryless_strategy_attains_the_baseline():
    # Predict blank with certainty until the marker's echo, then uniform over 1..8.
    x, y = copy_task(64, 30, generator=torch.Generator().manual_seed(1))
    logits = torch.full((64, 50, 9), -1e9)
    logits[:, :40, 0] = 0
    logits[:, 40:, 1:] = 0
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 9), y.reshape(-1))
    assert loss.item() == pytest.approx(copy_baseline(30), rel=1e-6)


def test_adding_layout_and_baseline():
    gen = torch.Generator().manual_seed(2)
    x, y = adding_task(20000, 100, generator=gen)
    assert x.shape == (20000, 100, 2) and y.shape == (20000,)
    markers = x[..., 1]
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :50].sum(1) == 1).all() and (markers[:, 50:].sum(1) == 1).all()
    torch.testing.assert_close(y, (x[..., 0] * markers).sum(1))
    assert ((y - 1.0) ** 2).mean().item() == pytest.approx(ADDING_BASELINE, rel=0.03)


def test_seeded():
    a = copy_task(4, 50, generator=torch.Generator().manual_seed(3))
    b = copy_task(4, 50, generator=torch.Generator().manual_seed(3))
    c = copy_task(4, 50, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    x, y = adding_task(4, 50, generator=torch.Generator().manual_seed(3))
    x2, y2 = adding_task(4, 50, generator=torch.Generator().manual_seed(3))
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_errors():
    with pytest.raises(ValueError, match="T"):
        copy_task(2, 0)
    with pytest.raises(ValueError, match="batch"):
        adding_task(0, 10)
    with pytest.raises(ValueError, match="T"):
        adding_task(2, 1)
