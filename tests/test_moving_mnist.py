"""Moving-MNIST data against explicit loops and written files."""

import gzip

import numpy as np
import pytest

from cunitary.moving_mnist import (
    DIGIT_SIZE,
    MovingMNIST,
    build_dataset,
    downsample,
    generate_moving_mnist,
    load_digits,
    load_mnist_idx,
    load_moving_mnist_npy,
    split_digits,
    trajectories,
)


@pytest.fixture(scope="module")
def digits():
    images, labels = load_digits()
    return images, labels


def test_offline_digits_are_real_mnist(digits):
    images, labels = digits
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and (images == 0).mean() > 0.7  # ink on a black background


def test_generator_places_digits_like_an_explicit_loop(digits):
    images = digits[0][:50]
    seed, n, frames, speed = 3, 6, 12, 2.0
    out = generate_moving_mnist(images, n, frames, speed=speed, seed=seed)
    rng = np.random.default_rng(seed)
    choice = rng.integers(0, len(images), size=(n, 2))
    pos = trajectories(n * 2, frames, 36, speed, rng).reshape(n, 2, frames, 2)
    for i in range(n):
        for t in range(frames):
            ref = np.zeros((64, 64), np.uint8)
            for d in range(2):
                y, x = pos[i, d, t]
                window = ref[y : y + 28, x : x + 28]
                np.maximum(window, images[choice[i, d]], out=window)
            np.testing.assert_array_equal(out[i, t], ref)


@pytest.mark.parametrize("speed", [1, 2, 3])
def test_trajectories_step_bounce_and_stay_in_frame(speed):
    rng = np.random.default_rng(0)
    pos = trajectories(2000, 20, 36, speed, rng)
    assert pos.min() >= 0 and pos.max() <= 36
    step = np.linalg.norm(np.diff(pos, axis=1), axis=-1)
    expected = 3.6 * speed
    assert step.max() <= expected + np.sqrt(2) + 1e-9  # a reflection only shortens a step
    assert np.median(step) == pytest.approx(expected, abs=0.75)


def test_one_digit_keeps_its_size_and_mass(digits):
    images = digits[0][:20]
    out = generate_moving_mnist(images, 30, 20, num_digits=1, speed=3.0, seed=1)
    sums = out.reshape(30, 20, -1).sum(-1, dtype=np.int64)
    assert (sums == sums[:, :1]).all()  # never clipped by the border
    for frame in out[:, ::5].reshape(-1, 64, 64):
        rows, cols = np.nonzero(frame.any(1))[0], np.nonzero(frame.any(0))[0]
        assert np.ptp(rows) < DIGIT_SIZE and np.ptp(cols) < DIGIT_SIZE


def test_generator_is_seeded_and_validates(digits):
    images = digits[0][:10]
    a = generate_moving_mnist(images, 4, 5, seed=7)
    assert np.array_equal(a, generate_moving_mnist(images, 4, 5, seed=7))
    assert not np.array_equal(a, generate_moving_mnist(images, 4, 5, seed=8))
    assert np.array_equal(a, generate_moving_mnist(images, 4, 5, seed=7, chunk=3))
    with pytest.raises(ValueError, match="digits"):
        generate_moving_mnist(images[:, :20], 2)
    with pytest.raises(ValueError, match="speed"):
        generate_moving_mnist(images, 2, speed=0)


def test_splits_are_disjoint(digits):
    train, test = split_digits(digits[0])
    assert len(train) == 4000 and len(test) == 1000
    train_keys = {im.tobytes() for im in train}
    assert not any(im.tobytes() in train_keys for im in test)


def test_idx_and_npy_loaders_read_written_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7, dtype=np.uint8)
    header = np.array([2051, 7, 28, 28], dtype=">u4").tobytes()
    (tmp_path / "img").write_bytes(header + images.tobytes())
    with gzip.open(tmp_path / "img.gz", "wb") as f:
        f.write(header + images.tobytes())
    (tmp_path / "lab").write_bytes(np.array([2049, 7], dtype=">u4").tobytes() + labels.tobytes())
    for name in ("img", "img.gz"):
        got, got_labels = load_mnist_idx(tmp_path / name, tmp_path / "lab")
        np.testing.assert_array_equal(got, images)
        np.testing.assert_array_equal(got_labels, labels)
    with pytest.raises(ValueError, match="magic"):
        load_mnist_idx(tmp_path / "lab")
    seq = rng.integers(0, 256, (20, 3, 64, 64), dtype=np.uint8)  # Srivastava's layout
    np.save(tmp_path / "mnist_test_seq.npy", seq)
    loaded = load_moving_mnist_npy(tmp_path / "mnist_test_seq.npy")
    assert loaded.shape == (3, 20, 64, 64)
    np.testing.assert_array_equal(loaded[1, 4], seq[4, 1])


def test_cached_dataset_and_small_variant(tmp_path, digits):
    path = tmp_path / "mm" / "train.npz"
    data = build_dataset(path, 8, "train", size=32, digits=digits[0])
    assert data.shape == (8, 20, 32, 32) and path.exists()
    assert not list(path.parent.glob("*.tmp*"))
    again = build_dataset(path, 8, "train", size=32)  # from the cache: no digits needed
    np.testing.assert_array_equal(again, data)
    big = generate_moving_mnist(digits[0][:5], 2, 3, seed=0)
    small = downsample(big)
    ref = big.reshape(2, 3, 32, 2, 32, 2).mean(axis=(3, 5))
    np.testing.assert_array_equal(small, np.rint(ref).astype(np.uint8))
    dataset = MovingMNIST(data, input_frames=10)
    x, y = dataset[3]
    assert x.shape == (10, 1, 32, 32) and y.shape == (10, 1, 32, 32)
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    with pytest.raises(ValueError, match="split"):
        build_dataset(path, 8, "dev")


def test_a_cache_made_with_other_arguments_is_refused(tmp_path, digits):
    path = tmp_path / "cache.npz"
    train = build_dataset(path, 4, "train", speed=1, size=32, digits=digits[0])
    for other in ({"split": "test"}, {"speed": 3}, {"seed": 7}, {"n": 5}):
        args = {"n": 4, "split": "train", "speed": 1, "size": 32, **other}
        with pytest.raises(ValueError, match="caches a dataset made with"):
            build_dataset(path, digits=digits[0], **args)
    with pytest.raises(ValueError, match="caches a dataset made with"):
        build_dataset(path, 4, "train", speed=1, size=32, digits=digits[0][:100])
    np.testing.assert_array_equal(build_dataset(path, 4, "train", speed=1, size=32), train)


def test_degenerate_generator_arguments(digits):
    still = generate_moving_mnist(digits[0][:3], 2, 4, size=DIGIT_SIZE, seed=0)
    assert still.shape == (2, 4, 28, 28) and (still == still[:, :1]).all()
    with pytest.raises(ValueError, match="speed"):
        generate_moving_mnist(digits[0][:3], 2, 4, speed=float("inf"))


def test_a_truncated_idx_header_and_a_damaged_cache_are_named(tmp_path):
    import struct

    from cunitary.moving_mnist import build_dataset, load_mnist_idx

    idx = tmp_path / "images.idx"
    idx.write_bytes(struct.pack(">I", 2051) + b"\x00\x00")  # magic, then 2 of 12 bytes
    with pytest.raises(ValueError, match="truncated IDX header"):
        load_mnist_idx(idx)
    cache = tmp_path / "train.npz"
    cache.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="not a readable dataset cache.*delete it"):
        build_dataset(cache, 2, "train", size=32, digits=np.zeros((10, 28, 28), np.uint8))
    np.savez(cache, other=np.zeros(3))
    with pytest.raises(ValueError, match="holds no sequences"):
        build_dataset(cache, 2, "train", size=32, digits=np.zeros((10, 28, 28), np.uint8))
