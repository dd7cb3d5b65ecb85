"""The stability study's denoisers: each way of recurring reads what it says, none reads
the future, and the untrained-norm experiment writes its files."""

import json

import pytest
import torch

from experiments.stability import backbones as denoisers


@pytest.mark.parametrize("recurrence", denoisers.RECURRENCES)
def test_each_recurrence_reads_what_it_says_and_never_the_future(recurrence):
    torch.manual_seed(0)
    model = denoisers.Denoiser("vresnet", recurrence, channels=3, size=8, blocks=2)
    x = torch.rand(2, 4, 1, 8, 8)
    out = model(x)
    # Reference: the backbone called by hand, frame after frame.
    previous, features, expected = torch.zeros(2, 1, 8, 8), torch.zeros(2, 3, 8, 8), []
    for t in range(4):
        past = [x[:, max(t - 2, 0)], x[:, max(t - 1, 0)]]
        z = {
            "single": [x[:, t]],
            "multi": [*past, x[:, t]],
            "frame": [x[:, t], previous],
            "feature": [x[:, t], features],
            "rlsp": [past[1], x[:, t], previous, features],
            "unitary": [x[:, t], model.transport(features) if model.transport else None],
            "rotation_gru": [x[:, t], features],
        }
        residual, hidden = model.backbone(torch.cat(z[recurrence], 1))
        features = model.cell(hidden, features) if recurrence == "rotation_gru" else hidden
        previous = x[:, t] - residual
        expected.append(previous)
    torch.testing.assert_close(out, torch.stack(expected, 1))
    changed = x.clone()
    changed[:, 3] += 1
    torch.testing.assert_close(model(changed)[:, :3], out[:, :3])  # causal


def test_untrained_norms_are_written(tmp_path):
    results = denoisers.main(["--preset", "smoke", "--out", str(tmp_path)])
    stored = json.loads((tmp_path / "norms.json").read_text())
    assert stored.keys() == results.keys()
    assert len(stored) == len(denoisers.INITS) * len(denoisers.BACKBONES) * len(
        denoisers.RECURRENCES
    )
    assert (tmp_path / "untrained_norms.png").exists()
    with pytest.raises(ValueError, match="recurrence must be one of"):
        denoisers.Denoiser("vdncnn", "lstm")


def test_dampening_scales_what_is_fed_back():
    torch.manual_seed(1)
    damped = denoisers.Denoiser("vdncnn", "frame", channels=3, size=8, depth=3, dampening=0.0)
    x = torch.rand(1, 3, 1, 8, 8)
    # lambda = 0: the fed-back frame is zero at every step, as at the first one
    expected = [damped.backbone(torch.cat([f, torch.zeros_like(f)], 1))[0] for f in x.unbind(1)]
    frames = x.unbind(1)
    want = torch.stack([f - r for f, r in zip(frames, expected, strict=True)], 1)
    torch.testing.assert_close(damped(x), want)


def test_srn_bench_times_the_three_constraints_side_by_side():
    from experiments import bench

    result = bench.run_srn(1, sizes=bench.TINY)
    assert [r["model"] for r in result["rows"]] == ["unconstrained", "srn", "srn_c"]
    assert result["rows"][0]["vs_unconstrained"] == 1.0
