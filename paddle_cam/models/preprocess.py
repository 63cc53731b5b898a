"""Image preprocessing as PaddleOCR / PaddleX define it in ``inference.yml`` transform ops."""
from __future__ import annotations

import math
from typing import List, Optional

import cv2
import numpy as np

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def cls_resize(img_bgr: np.ndarray, image_shape=(3, 48, 192)) -> np.ndarray:
    """PaddleOCR ``ClsResizeImg``: keep aspect, height to H, width capped at W, pad right with 0."""
    _, H, W = image_shape
    h, w = img_bgr.shape[:2]
    rw = min(W, int(math.ceil(H * w / float(h))))
    rw = max(rw, 1)
    resized = cv2.resize(img_bgr, (rw, H)).astype(np.float32).transpose(2, 0, 1) / 255.0
    resized = (resized - 0.5) / 0.5
    out = np.zeros((3, H, W), dtype=np.float32)
    out[:, :, :rw] = resized
    return out


class Preprocess:
    """Callable BGR uint8 (H, W, 3) -> float32 (3, H', W'), plus a description for reports."""

    def __init__(self, ops: List[dict], rgb: bool):
        self.ops = ops
        self.rgb = rgb

    def __call__(self, img_bgr: np.ndarray) -> np.ndarray:
        img = img_bgr[:, :, ::-1] if self.rgb else img_bgr
        chw = False
        for op in self.ops:
            (name, a), = op.items()
            a = a or {}
            if name == "ClsResizeImg":
                return cls_resize(img, tuple(a.get("image_shape", (3, 48, 192))))
            if name == "ResizeImage":
                if a.get("size") is not None:
                    size = a["size"]
                    w, h = (size, size) if isinstance(size, int) else (size[0], size[1])
                else:
                    s = float(a["resize_short"]) / min(img.shape[:2])
                    w, h = int(round(img.shape[1] * s)), int(round(img.shape[0] * s))
                img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
            elif name == "CropImage":
                size = a.get("size", 224)
                cw, ch = (size, size) if isinstance(size, int) else size
                y0, x0 = max(0, (img.shape[0] - ch) // 2), max(0, (img.shape[1] - cw) // 2)
                img = img[y0:y0 + ch, x0:x0 + cw]
            elif name == "NormalizeImage":
                scale = a.get("scale", 1 / 255.0)
                scale = eval(scale, {}, {}) if isinstance(scale, str) else float(scale)  # "1./255." in yml
                mean = np.array(a.get("mean", IMAGENET_MEAN), np.float32)
                std = np.array(a.get("std", IMAGENET_STD), np.float32)
                img = (img.astype(np.float32) * scale - mean) / std
            elif name == "ToCHWImage":
                img = img.transpose(2, 0, 1)
                chw = True
        img = np.ascontiguousarray(img, dtype=np.float32)
        return img if chw else img.transpose(2, 0, 1)

    def describe(self) -> list:
        return self.ops

    def back_to_image(self, input_map: np.ndarray, image_hw) -> np.ndarray:
        """Map an (H', W') map on the model input back onto the original image (H, W).

        Padding added by the resize is dropped; pixels a centre crop cut away get 0.
        """
        H, W = int(image_hw[0]), int(image_hw[1])
        m = input_map.astype(np.float32)
        for op in self.ops:
            (name, a), = op.items()
            a = a or {}
            if name == "ClsResizeImg":
                _, h_in, w_in = a.get("image_shape", (3, 48, 192))
                rw = max(1, min(w_in, int(math.ceil(h_in * W / float(H)))))
                return cv2.resize(m[:, :rw], (W, H), interpolation=cv2.INTER_LINEAR)
        crop = next((op["CropImage"] or {} for op in self.ops if "CropImage" in op), None)
        short = next(((op["ResizeImage"] or {}).get("resize_short") for op in self.ops if "ResizeImage" in op), None)
        if crop is not None and short:
            s = float(short) / min(H, W)
            rh, rw = int(round(H * s)), int(round(W * s))
            full = np.zeros((rh, rw), np.float32)
            y0, x0 = max(0, (rh - m.shape[0]) // 2), max(0, (rw - m.shape[1]) // 2)
            full[y0:y0 + m.shape[0], x0:x0 + m.shape[1]] = m[:rh - y0, :rw - x0]
            m = full
        return cv2.resize(m, (W, H), interpolation=cv2.INTER_LINEAR)


PPOCR_CLS = Preprocess([{"ClsResizeImg": {"image_shape": [3, 48, 192]}}], rgb=False)
PPLCNET_TEXTLINE = Preprocess([{"ResizeImage": {"size": [160, 80]}}, {"NormalizeImage": {}}, {"ToCHWImage": None}], rgb=True)
PPLCNET_CROP = Preprocess([{"ResizeImage": {"resize_short": 256}}, {"CropImage": {"size": 224}},
                           {"NormalizeImage": {}}, {"ToCHWImage": None}], rgb=True)


def from_inference_yml(cfg: Optional[dict], default: Preprocess) -> Preprocess:
    """Preprocess from a PaddleX/PaddleOCR ``inference.yml``; ``default`` when it has none."""
    ops = ((cfg or {}).get("PreProcess") or {}).get("transform_ops")
    if not ops:
        return default
    known = {"ClsResizeImg", "ResizeImage", "CropImage", "NormalizeImage", "ToCHWImage"}
    kept = [op for op in ops if isinstance(op, dict) and next(iter(op)) in known]
    rgb = default.rgb
    for op in ops:
        if isinstance(op, dict) and "DecodeImage" in op:
            mode = (op["DecodeImage"] or {}).get("img_mode", "BGR" if not default.rgb else "RGB")
            rgb = mode.upper() == "RGB" or bool((op["DecodeImage"] or {}).get("to_rgb", False))
    return Preprocess(kept, rgb) if kept else default
