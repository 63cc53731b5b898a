"""Fills for removed pixels of a document, in the model's (normalised) input space.

The default is *paper*, never black: a black fill on a white page is itself a strong (ink-like)
signal for a text detector. The attribution methods (baselines of Integrated Gradients and
SmoothGrad, fills of occlusion and RISE) and the deletion/insertion curves share these.
"""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

# PaddleOCR / ImageNet normalisation: x * (1/255) / std - mean / std
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalized_value(pixel: float = 255.0, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                     scale: float = 1.0 / 255.0) -> np.ndarray:
    """(C,) value of a grey level (255 = white paper) after ``x * scale / std - mean / std``.

    PaddleOCR normalises BGR images with the RGB-ordered ImageNet constants; for white the
    channel order does not matter, for other greys pass the constants in the model's order.
    """
    return np.array([pixel * scale / s - m / s for m, s in zip(mean, std)], np.float32)


def paper_color(image: np.ndarray) -> np.ndarray:
    """(C,) per-channel median of a (C, H, W) input: on a document, its background paper."""
    return np.median(np.asarray(image).reshape(image.shape[0], -1), axis=1).astype(np.float32)


def make_baseline(image: np.ndarray, kind: str = "paper", white: Optional[Sequence[float]] = None,
                  blur_sigma: Optional[float] = None) -> np.ndarray:
    """(C, H, W) fill for removed pixels, in the model's (normalised) input space.

    kind: ``paper`` (the page's median colour), ``white`` (``white`` = the normalised value of
    a 255 pixel, e.g. ``normalized_value()``), ``blur`` (Gaussian, ``blur_sigma`` defaults to
    1/64 of the long side: wide enough to erase strokes of text at PaddleOCR's input sizes).
    Black is deliberately not offered: on paper it reads as ink.
    """
    img = np.asarray(image, np.float32)
    if img.ndim != 3:
        raise ValueError(f"baseline needs one (C, H, W) image, got shape {img.shape}")
    c, h, w = img.shape
    if kind in ("paper", "median"):
        return np.broadcast_to(paper_color(img)[:, None, None], img.shape).copy()
    if kind == "white":
        if white is None:
            white = normalized_value(255.0)
        return np.broadcast_to(np.asarray(white, np.float32).reshape(c, 1, 1), img.shape).copy()
    if kind == "blur":
        sigma = float(blur_sigma or max(h, w) / 64.0)
        return np.stack([cv2.GaussianBlur(ch, (0, 0), sigma, borderType=cv2.BORDER_REFLECT) for ch in img])
    raise ValueError(f"unknown baseline '{kind}'; use paper, white or blur (or road in the curves)")
