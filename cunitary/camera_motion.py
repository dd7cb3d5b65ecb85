r"""Natural-image video with synthetic camera motion: data for recurrent video denoisers.

The stability study of recurrent video processing (Tanay et al.) trains and tests on
natural video (Vimeo-90k), which cannot be downloaded here; it also makes long test
sequences by moving a camera over single frames. This module does the second from the
photographs that ship with scikit-image: a clip is a window of ``size x size`` pixels
moved over a grey-level image along a camera path,

.. math::
    F_t(u) = I\bigl(c + R(\theta_0 + t\,\dot\theta)\,s_0(1 + \dot s)^t\,(u - m)
                  + t\,v\bigr),

pan velocity :math:`v` (pixels per frame), zoom rate :math:`\dot s` and rotation rate
:math:`\dot\theta` per frame, read by bilinear interpolation with mirrored borders (``u``
a window pixel, ``m`` the window's centre, ``c`` the path's start in the image). A scene
cut starts a new image and a new path. Every clip is drawn from a generator keyed by
``(seed, index)``, so any clip can be regenerated alone; noise
(:math:`\sigma = 30/255` by default, the study's) has its own key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["SOURCE_IMAGES", "Motion", "MOTIONS", "load_images", "camera_clip", "add_noise"]

#: scikit-image's bundled photographs (no download), made grey in ``[0, 1]``.
SOURCE_IMAGES = (
    "camera", "astronaut", "chelsea", "coffee", "coins", "moon", "rocket", "brick", "grass",
    "gravel", "immunohistochemistry", "hubble_deep_field", "retina", "clock", "page", "text",
)  # fmt: skip


@dataclass(frozen=True)
class Motion:
    """Largest camera speeds: pan in pixels per frame, zoom as a relative scale change per
    frame, rotation in radians per frame; each clip draws its own uniformly up to these."""

    pan: float = 0.0
    zoom: float = 0.0
    rotation: float = 0.0

    def __post_init__(self) -> None:
        for name in ("pan", "zoom", "rotation"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"Motion.{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Motion.{name} must be finite and >= 0, got {value!r}")
        if self.zoom >= 1:  # a scale factor 1 - zoom <= 0 would flip or collapse the frame
            raise ValueError(
                f"Motion.zoom must be < 1 (a relative change per frame), got {self.zoom}"
            )


#: Named motions: ``static`` (the study's most unstable case), and the camera moves.
MOTIONS = {
    "static": Motion(),
    "pan": Motion(pan=3.0),
    "zoom": Motion(zoom=0.01),
    "rotate": Motion(rotation=0.01),
    "mixed": Motion(pan=2.0, zoom=0.005, rotation=0.005),
}


def load_images(names: tuple[str, ...] = SOURCE_IMAGES) -> list[np.ndarray]:
    """The named scikit-image photographs as grey float32 images in ``[0, 1]``."""
    import skimage.color
    import skimage.data
    import skimage.util

    images = []
    for name in names:
        image = getattr(skimage.data, name, None)
        if image is None:
            raise ValueError(f"skimage.data has no image {name!r}")
        image = image()
        if image.ndim == 3:
            image = skimage.color.rgb2gray(image[..., :3])
        images.append(skimage.util.img_as_float32(image))
    return images


def _key(seed: int, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index), int(stream)])


def _render(image: np.ndarray, centre: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """``image`` sampled at ``centre + matrix @ (u - m)`` for every window pixel ``u``
    (``matrix`` ``(frames, 2, 2)``, ``centre`` ``(frames, 2)``, both in (row, col) pixels)."""
    height, width = image.shape
    u = np.arange(size) - (size - 1) / 2
    grid = np.stack(np.meshgrid(u, u, indexing="ij"), -1)  # (size, size, 2): (row, col)
    points = centre[:, None, None, :] + np.einsum("fij,abj->fabi", matrix, grid)
    # grid_sample with align_corners=True reads pixel k at -1 + 2k / (n - 1) exactly.
    norm = np.stack([2 * points[..., 1] / (width - 1) - 1, 2 * points[..., 0] / (height - 1) - 1],
                    -1)  # fmt: skip
    source = torch.from_numpy(image)[None, None].expand(len(matrix), 1, height, width)
    frames = torch.nn.functional.grid_sample(
        source.double(), torch.from_numpy(norm), mode="bilinear", padding_mode="reflection",
        align_corners=True,
    )  # fmt: skip
    return frames[:, 0].float().numpy()


def _grey(images: list[np.ndarray], k: int) -> np.ndarray:
    """``images[k]``, refused unless a 2-D floating image in ``[0, 1]`` (uint8 images would
    give clips in 0..255)."""
    image = images[k]
    if not isinstance(image, np.ndarray) or image.ndim != 2:
        raise ValueError(
            f"images[{k}] must be a 2-D grey image, got {getattr(image, 'shape', image)!r}"
        )
    if not np.issubdtype(image.dtype, np.floating) or not (
        np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1
    ):
        raise ValueError(
            f"images[{k}] must be floating grey levels in [0, 1] (load_images gives them), got "
            f"{image.dtype} in [{image.min()}, {image.max()}]"
        )
    return image


def camera_clip(
    images: list[np.ndarray],
    index: int,
    frames: int,
    size: int = 64,
    motion: Motion | str = "mixed",
    cut_every: int = 0,
    seed: int = 0,
) -> np.ndarray:
    """Clip ``index`` of the stream keyed by ``seed``: ``(frames, size, size)`` float32.

    Args:
        images: source images (:func:`load_images`).
        index: which clip; with ``seed`` it determines the clip completely.
        frames: length.
        size: window size in pixels.
        motion: a :class:`Motion` or a name in :data:`MOTIONS`.
        cut_every: a scene cut (new image, new path) every this many frames; 0: none.
        seed: the stream.
    """
    if isinstance(motion, str):
        if motion not in MOTIONS:
            raise ValueError(f"motion must be one of {sorted(MOTIONS)}, got {motion!r}")
        motion = MOTIONS[motion]
    for name, value in (("frames", frames), ("size", size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if isinstance(cut_every, bool) or not isinstance(cut_every, int) or cut_every < 0:
        raise ValueError(f"cut_every must be an int >= 0, got {cut_every!r}")
    if not isinstance(motion, Motion):
        raise TypeError(f"motion must be a Motion or a name, got {type(motion).__name__}")
    if not images:
        raise ValueError("images is empty")
    rng = _key(seed, index, 0)
    shots = []
    remaining = frames
    while remaining > 0:
        length = min(remaining, cut_every or remaining)
        image = _grey(images, int(rng.integers(len(images))))
        height, width = image.shape
        velocity = rng.uniform(-1, 1, 2) * motion.pan
        zoom = 1 + rng.uniform(-1, 1) * motion.zoom
        spin = rng.uniform(-1, 1) * motion.rotation
        start = np.array(
            [rng.uniform(0.3, 0.7) * (height - 1), rng.uniform(0.3, 0.7) * (width - 1)]
        )
        angle0 = rng.uniform(-math.pi, math.pi) if motion.rotation else 0.0
        t = np.arange(length)
        angles = angle0 + spin * t
        scales = zoom**t
        cos, sin = np.cos(angles) * scales, np.sin(angles) * scales
        matrix = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
        shots.append(_render(image, start + t[:, None] * velocity, matrix, size))
        remaining -= length
    return np.concatenate(shots, 0)


def add_noise(clean: np.ndarray, sigma: float = 30 / 255, index: int = 0, seed: int = 0):
    """``clean`` plus Gaussian noise of standard deviation ``sigma``, keyed like the clip."""
    if isinstance(sigma, bool) or not isinstance(sigma, int | float):
        raise TypeError(f"sigma must be a number, got {sigma!r}")
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be finite and >= 0, got {sigma!r}")
    noise = _key(seed, index, 1).standard_normal(clean.shape).astype(np.float32)
    return clean + np.float32(sigma) * noise
