"""Text-detection input preparation, identical to PaddleOCR 3.x ``TextDetection`` (PaddleX 3.x).

What PaddleX does for a DB detector (``paddlex/inference/models/text_detection``):

- The ``DetResizeForTest`` entry of ``inference.yml`` is rewritten: for the PP-OCRv3/v4/v5/v6
  det models (``PP-OCRv4_mobile_det`` included) the defaults are ``limit_side_len =
  resize_long`` of the yml (960 when absent) and ``limit_type = "max"``; for other DB models
  736 / ``"min"``. ``paddleocr.TextDetection(limit_side_len=None, limit_type=None)`` (its
  defaults) keeps these, so a folder whose yml says ``DetResizeForTest: {resize_long: 960}``
  runs with 960 / ``"max"`` and ``max_side_limit = 4000``. Those are our defaults.
  (The OCR *pipeline*, ``paddleocr.PaddleOCR``, instead passes its own values: 64 / ``"min"``
  from PaddleX's ``OCR.yaml``, 960 / ``"max"`` if the config omits them; use
  ``DetPreprocess(64, "min")`` to reproduce it.)
- Images with ``h + w < 64`` are first padded with black to at least 32 x 32.
- ``limit_type``: ``"max"`` shrinks so the long side is <= limit, ``"min"`` grows so the short
  side is >= limit, ``"resize_long"`` scales the long side to the limit; sizes are truncated to
  int, capped at ``max_side_limit`` and rounded (Python ``round``, half to even) to multiples of
  32, at least 32. Resizing is ``cv2.resize`` bilinear; an image already of that size is kept.
- Normalisation runs on the image as read, which is BGR (``img_mode: BGR``), with the ImageNet
  mean/std listed in RGB order: channel 0 (blue) gets mean 0.485 / std 0.229. That quirk is
  what the weights were trained with, so it is kept. Arithmetic is float32:
  ``x * (scale / std) + (-mean / std)``, then HWC -> CHW.

Network-input pixels map back to page pixels by ``page = input * (page_size / input_size)``
per axis, exactly as ``DBPostProcess`` does (it never uses the stored ratios themselves).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..errors import InputError

# PaddleX's per-model defaults (MAX_LIMIT_MODELS) live with the table of detector families
from ..models.det_families import resize_defaults


_NUMERIC = ("limit_side_len", "max_side_limit")


def paddlex_resize_defaults(model_name: str, resize_cfg: Dict | None = None) -> Tuple[int, str]:
    """(limit_side_len, limit_type) PaddleX uses when the caller passes none.

    ``resize_cfg`` is the ``DetResizeForTest`` mapping of ``inference.yml``.
    """
    return resize_defaults(model_name, resize_cfg)


@dataclass(frozen=True)
class DetInfo:
    """Geometry of one prepared image: page size, resize ratios, network input size.

    ``ratio_h``/``ratio_w`` are PaddleX's (input size / padded image size). Page mapping uses
    ``page / input`` like ``DBPostProcess``; for a padded tiny image that stretches the padded
    canvas over the page, a PaddleX quirk kept so maps and boxes stay consistent.
    """

    src_h: int
    src_w: int
    ratio_h: float
    ratio_w: float
    in_h: int
    in_w: int
    padded: bool = False

    @property
    def scale_xy(self) -> Tuple[float, float]:
        """Factors from input pixels to page pixels (x, y), as DBPostProcess computes them."""
        return self.src_w / self.in_w, self.src_h / self.in_h

    def points_to_page(self, points: np.ndarray) -> np.ndarray:
        """(…, 2) x/y points in network-input pixels -> page pixels (float64, not rounded)."""
        sx, sy = self.scale_xy
        pts = np.asarray(points, np.float64)
        return pts * np.array([sx, sy])

    def points_to_input(self, points: np.ndarray) -> np.ndarray:
        """(…, 2) x/y page pixels -> network-input pixels (float64)."""
        sx, sy = self.scale_xy
        return np.asarray(points, np.float64) / np.array([sx, sy])

    def map_to_page(self, fmap: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """A (H', W') map over the network input -> (src_h, src_w), stretched like box corners are.

        Boolean masks are resized nearest-neighbour; other dtypes keep theirs.
        """
        fmap = np.asarray(fmap)
        if fmap.ndim > 2:
            fmap = fmap.reshape(fmap.shape[-2:])
        size = (self.src_w, self.src_h)
        if self.src_h < 1 or self.src_w < 1 or fmap.size == 0:
            return np.zeros((self.src_h, self.src_w), fmap.dtype)
        if fmap.dtype == np.bool_:
            return cv2.resize(fmap.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        if fmap.dtype in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
            return cv2.resize(fmap, size, interpolation=interpolation)
        return cv2.resize(fmap.astype(np.float32), size, interpolation=interpolation).astype(fmap.dtype)

    def as_array(self) -> np.ndarray:
        """PaddleX's ``shape`` record: [src_h, src_w, ratio_h, ratio_w]."""
        return np.array([self.src_h, self.src_w, self.ratio_h, self.ratio_w])


def as_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Any H x W (x 1/3/4) image as 3-channel uint8; alpha is dropped like PaddleX does."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(np.nan_to_num(img.astype(np.float64)), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3:
        raise ValueError(f"expected an H x W or H x W x C image, got shape {img.shape}")
    c = img.shape[2]
    if c == 1:
        img = np.repeat(img, 3, axis=2)
    elif c == 4:
        img = img[:, :, :3]
    elif c != 3:
        raise ValueError(f"expected 1, 3 or 4 channels, got {c}")
    return np.ascontiguousarray(img)


class DetPreprocess:
    """PaddleX ``DetResizeForTest`` (limit rule) + ``NormalizeImage`` + ``ToCHWImage``.

    ``DetPreprocess()(bgr) -> (chw_float32, DetInfo)``; defaults are those PaddleOCR's
    ``TextDetection`` uses for PP-OCRv4_mobile_det (960, "max", 4000); see the module docstring.
    """

    def __init__(self, limit_side_len: Optional[int] = 960, limit_type: Optional[str] = "max",
                 max_side_limit: Optional[int] = 4000, mean: Sequence[float] = (0.485, 0.456, 0.406),
                 std: Sequence[float] = (0.229, 0.224, 0.225), scale: float = 1.0 / 255.0):
        # None = PaddleX's value for PP-OCR det (use for_detector for a model's own value)
        limit_side_len = 960 if limit_side_len is None else limit_side_len
        limit_type = "max" if limit_type is None else limit_type
        max_side_limit = 4000 if max_side_limit is None else max_side_limit
        if limit_type not in ("max", "min", "resize_long"):
            raise ValueError(f"limit_type must be 'max', 'min' or 'resize_long', not {limit_type!r}")
        self.limit_side_len = int(limit_side_len)
        self.limit_type = limit_type
        self.max_side_limit = int(max_side_limit)
        # PaddleX folds the affine into float64 constants, then applies them to float32 pixels.
        self.alpha = np.array([scale / s for s in std], np.float32)
        self.beta = np.array([-m / s for m, s in zip(mean, std)], np.float32)

    @classmethod
    def for_detector(cls, detector: Any, **overrides: Any) -> "DetPreprocess":
        """The preprocessing PaddleX runs ``detector`` with (its ``processing["PreProcess"]``: limit
        side and type from its ``inference.yml``, else PaddleX's per-model defaults); ``overrides``
        that are not None win (a config key set to null means the model's own value).

        Example:
            >>> DetPreprocess.for_detector(det, limit_side_len=None).limit_side_len  # doctest: +SKIP
            960
        """
        own = dict((getattr(detector, "processing", None) or {}).get("PreProcess") or {})
        own.update({k: v for k, v in overrides.items() if v is not None})
        for k, v in own.items():
            if k in _NUMERIC and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise InputError(f"PreProcess.{k} must be a number, not {v!r}")
        return cls(**own)

    def target_size(self, h: int, w: int) -> Tuple[int, int]:
        """Network input (height, width) for an (already padded) image of h x w."""
        limit = self.limit_side_len
        if self.limit_type == "max":
            ratio = float(limit) / max(h, w) if max(h, w) > limit else 1.0
        elif self.limit_type == "min":
            ratio = float(limit) / min(h, w) if min(h, w) < limit else 1.0
        else:
            ratio = float(limit) / max(h, w)
        rh, rw = int(h * ratio), int(w * ratio)
        if max(rh, rw) > self.max_side_limit:
            ratio = float(self.max_side_limit) / max(rh, rw)
            rh, rw = int(rh * ratio), int(rw * ratio)
        # Python round (half to even) on purpose: that is what PaddleX uses.
        return max(int(round(rh / 32) * 32), 32), max(int(round(rw / 32) * 32), 32)

    def resize(self, image: np.ndarray) -> Tuple[np.ndarray, DetInfo]:
        """Padded-if-tiny, resized uint8 BGR image and its geometry."""
        img = as_bgr_uint8(image)
        src_h, src_w = img.shape[:2]
        padded = src_h + src_w < 64
        if padded:
            pad = np.zeros((max(32, src_h), max(32, src_w), 3), np.uint8)
            pad[:src_h, :src_w] = img
            img = pad
        h, w = img.shape[:2]
        rh, rw = self.target_size(h, w)
        if (rh, rw) == (h, w):
            return img, DetInfo(src_h, src_w, 1.0, 1.0, h, w, padded)
        img = cv2.resize(img, (rw, rh))
        return img, DetInfo(src_h, src_w, rh / float(h), rw / float(w), rh, rw, padded)

    def normalize(self, img: np.ndarray) -> np.ndarray:
        """uint8 HWC -> float32 CHW with PaddleX's float32 rounding."""
        out = img.astype(np.float32) * self.alpha + self.beta
        return np.ascontiguousarray(out.transpose(2, 0, 1))

    def __call__(self, image: np.ndarray) -> Tuple[np.ndarray, DetInfo]:
        """BGR image -> (C, H', W') float32 network input and its ``DetInfo``."""
        img, info = self.resize(image)
        return self.normalize(img), info

    @staticmethod
    def points_to_page(points: np.ndarray, info: DetInfo) -> np.ndarray:
        """Input-pixel x/y points (..., 2) -> page pixels (float64)."""
        return info.points_to_page(points)

    @staticmethod
    def map_to_page(fmap: np.ndarray, info: DetInfo) -> np.ndarray:
        """A 2-D map over the network input -> a (src_h, src_w) map over the page."""
        return info.map_to_page(fmap)
