"""Synthetic camera motion over photographs: the sampler against direct pixel indexing,
and the clips' keys, shots and noise."""

import numpy as np
import pytest

from cunitary.camera_motion import MOTIONS, _render, add_noise, camera_clip, load_images


@pytest.fixture(scope="module")
def images():
    return load_images(("camera", "coins", "chelsea"))


def test_sampling_at_whole_pixels_is_indexing():
    rng = np.random.default_rng(0)
    image = rng.random((40, 50), dtype=np.float32)
    size, m = 9, 4  # odd window: the offsets u - m are whole pixels
    centres = np.array([[15.0, 20.0], [17.0, 23.0], [19.0, 26.0]])  # a pan of (2, 3) px
    identity = np.repeat(np.eye(2)[None], 3, 0)
    frames = _render(image, centres, identity, size)
    for t, (r, c) in enumerate(centres.astype(int)):
        np.testing.assert_allclose(frames[t], image[r - m : r + m + 1, c - m : c + m + 1],
                                   atol=1e-6)  # fmt: skip
    quarter = np.array([[[0.0, -1.0], [1.0, 0.0]]])  # rotation by 90 degrees
    turned = _render(image, centres[:1], quarter, size)[0]
    a, b = np.meshgrid(np.arange(size) - m, np.arange(size) - m, indexing="ij")
    np.testing.assert_allclose(turned, image[15 - b, 20 + a], atol=1e-6)
    doubled = _render(image, centres[:1], 2 * np.eye(2)[None], size)[0]  # zoomed out by 2
    np.testing.assert_allclose(doubled, image[15 + 2 * a, 20 + 2 * b], atol=1e-6)


def test_clips_are_keyed_and_shots_cut(images):
    clip = camera_clip(images, 3, 12, size=32, motion="mixed", seed=1)
    assert clip.shape == (12, 32, 32) and clip.dtype == np.float32
    np.testing.assert_array_equal(clip, camera_clip(images, 3, 12, size=32, motion="mixed",
                                                    seed=1))  # fmt: skip
    assert not np.array_equal(clip, camera_clip(images, 4, 12, size=32, motion="mixed", seed=1))
    assert 0 <= clip.min() and clip.max() <= 1
    assert np.abs(np.diff(clip, axis=0)).mean() > 1e-3  # the camera moves
    static = camera_clip(images, 0, 9, size=16, motion="static", cut_every=3)
    for shot in range(3):
        part = static[3 * shot : 3 * shot + 3]
        assert np.array_equal(part, np.repeat(part[:1], 3, 0))  # still within a shot
    assert not np.array_equal(static[2], static[3])  # a new scene after each cut
    with pytest.raises(ValueError, match="motion must be one of"):
        camera_clip(images, 0, 4, motion="shake")
    assert set(MOTIONS) >= {"static", "pan", "zoom", "rotate", "mixed"}


def test_noise_has_its_sigma_and_its_own_key(images):
    clean = camera_clip(images, 0, 8, size=64)
    noisy = add_noise(clean, 30 / 255, index=0)
    assert (noisy - clean).std() == pytest.approx(30 / 255, rel=0.02)
    np.testing.assert_array_equal(noisy, add_noise(clean, 30 / 255, index=0))
    assert not np.array_equal(noisy, add_noise(clean, 30 / 255, index=1))
