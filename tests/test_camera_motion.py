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


def test_bad_motions_images_and_noise_are_refused(images):
    import math

    import numpy as np

    from cunitary.camera_motion import Motion, add_noise, camera_clip

    for bad in (math.nan, math.inf, -1.0):
        with pytest.raises(ValueError, match="must be finite and >= 0"):
            Motion(pan=bad)
    with pytest.raises(ValueError, match="zoom must be < 1"):
        Motion(zoom=2.5)
    with pytest.raises(ValueError, match="cut_every"):
        camera_clip(images, 0, 4, size=8, cut_every=True)
    with pytest.raises(ValueError, match=r"grey levels in \[0, 1\]"):
        camera_clip([(images[0] * 255).astype(np.uint8)], 0, 2, size=8)
    with pytest.raises(ValueError, match="sigma must be finite"):
        add_noise(np.zeros((2, 4, 4), np.float32), sigma=math.inf)
    clip = camera_clip(images, 0, 3, size=8, motion=Motion(zoom=0.5))  # allowed: it shrinks
    assert np.isfinite(clip).all() and clip.min() >= 0 and clip.max() <= 1
