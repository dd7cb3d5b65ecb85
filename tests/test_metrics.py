"""Video metrics (cunitary.metrics) against scikit-image and torch's own losses."""

import numpy as np
import pytest
import torch
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from cunitary.metrics import frame_metrics, ssim
from cunitary.moving_mnist import generate_moving_mnist, load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_metrics_match_scikit_image(digits):
    rng = np.random.default_rng(0)
    real = generate_moving_mnist(digits[0][:30], 2, 4, seed=0).astype(np.float64) / 255
    pairs = [(real[0, 1], real[0, 0]), (real[1, 3], real[0, 2])]
    pairs += [(rng.random((64, 64)), rng.random((64, 64))), (rng.random((32, 40)),) * 2]
    for a, b in pairs:
        m = frame_metrics(torch.tensor(a), torch.tensor(b))
        assert float(m["ssim"]) == pytest.approx(structural_similarity(a, b, data_range=1))
        assert float(m["mse"]) == pytest.approx(mean_squared_error(a, b))
        assert float(m["mse_sum"]) == pytest.approx(mean_squared_error(a, b) * a.size)
        assert float(m["mae"]) == pytest.approx(np.abs(a - b).mean())
        if not np.array_equal(a, b):
            assert float(m["psnr"]) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1))
    # batched: one value per frame
    pred, target = torch.rand(2, 3, 1, 16, 16), torch.rand(2, 3, 1, 16, 16)
    batched = frame_metrics(pred, target)
    assert batched["ssim"].shape == (2, 3, 1)
    assert float(batched["ssim"][1, 2, 0]) == pytest.approx(
        structural_similarity(pred[1, 2, 0].numpy(), target[1, 2, 0].numpy(), data_range=1),
        rel=1e-5,
    )
    p, t = torch.rand(8, 8).double(), (torch.rand(8, 8) > 0.5).double()
    bce = torch.nn.functional.binary_cross_entropy(p, t)
    assert float(frame_metrics(p, t)["bce"]) == pytest.approx(float(bce))
    with pytest.raises(ValueError, match="smaller than"):
        ssim(torch.rand(4, 4), torch.rand(4, 4))


@pytest.mark.parametrize("bad", [torch.rand(3), "frames", np.zeros((8, 8))])
def test_metrics_reject_what_is_not_a_frame_tensor(bad):
    with pytest.raises((TypeError, ValueError), match="prediction|target"):
        frame_metrics(bad, torch.rand(8, 8))
