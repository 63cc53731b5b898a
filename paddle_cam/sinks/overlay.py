"""Heatmap overlays and side-by-side panels, with CJK captions drawn by Pillow."""
from __future__ import annotations

from typing import List, Optional, Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ..fonts import cjk_font


def colorize(cam01: np.ndarray, colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """[0, 1] map -> RGB uint8 heatmap."""
    u8 = np.uint8(np.clip(cam01, 0, 1) * 255)
    return cv2.applyColorMap(u8, colormap)[:, :, ::-1]


def overlay(image_bgr: np.ndarray, cam01: np.ndarray, alpha: float = 0.45,
            colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """Blend a [0, 1] map (any size; resized to the image) onto a BGR image; returns RGB."""
    h, w = image_bgr.shape[:2]
    if cam01.shape != (h, w):
        cam01 = cv2.resize(cam01.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    heat = colorize(cam01, colormap).astype(np.float32)
    rgb = image_bgr[:, :, ::-1].astype(np.float32)
    return np.uint8(np.clip((1 - alpha) * rgb + alpha * heat, 0, 255))


def caption(image_rgb: np.ndarray, lines: Sequence[str], font_size: int = 18,
            bg=(255, 255, 255), fg=(20, 20, 20)) -> np.ndarray:
    """Image with a caption band above it (text may be Chinese)."""
    font = cjk_font(font_size)
    pad = 4
    line_h = font_size + pad
    band = pad + line_h * len(lines)
    widths = [int(np.ceil(font.getlength(t))) for t in lines] or [0]
    w = max(image_rgb.shape[1], max(widths) + 2 * pad)
    canvas = Image.new("RGB", (w, band + image_rgb.shape[0]), bg)
    canvas.paste(Image.fromarray(image_rgb), (0, band))
    draw = ImageDraw.Draw(canvas)
    for i, t in enumerate(lines):
        draw.text((pad, pad + i * line_h), t, font=font, fill=fg)
    return np.asarray(canvas)


def fit_height(image_rgb: np.ndarray, height: int) -> np.ndarray:
    """Scale to a display height (small text lines become readable)."""
    h, w = image_rgb.shape[:2]
    if h == height:
        return image_rgb
    nw = max(1, int(round(w * height / float(h))))
    interp = cv2.INTER_CUBIC if height > h else cv2.INTER_AREA
    return cv2.resize(image_rgb, (nw, height), interpolation=interp)


def side_by_side(panels: List[np.ndarray], titles: Optional[List[str]] = None, gap: int = 8,
                 height: Optional[int] = None, font_size: int = 16) -> np.ndarray:
    """Panels in a row on white, each optionally titled, scaled to one height."""
    height = height or max(p.shape[0] for p in panels)
    cols = []
    for i, p in enumerate(panels):
        p = fit_height(p, height)
        if titles:
            p = caption(p, [titles[i]], font_size=font_size)
        cols.append(p)
    H = max(c.shape[0] for c in cols)
    W = sum(c.shape[1] for c in cols) + gap * (len(cols) - 1)
    out = np.full((H, W, 3), 255, np.uint8)
    x = 0
    for c in cols:
        out[:c.shape[0], x:x + c.shape[1]] = c
        x += c.shape[1] + gap
    return out
