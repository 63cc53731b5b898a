"""Heatmap overlays and side-by-side panels, with CJK captions drawn by Pillow."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

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


# Reviewer overlays: a sequential colour map whose opacity follows the map, so zero is the page as
# it is, with a colour bar in the map's own (raw) units.
HEAT_CMAP = "YlOrRd"


def heat_overlay(image_bgr: np.ndarray, raw: np.ndarray, vmax: float, alpha: float = 0.6,
                 cmap: str = HEAT_CMAP) -> np.ndarray:
    """A raw map (any size, resized to the image) drawn over a BGR image on the scale [0, vmax];
    returns RGB. Opacity grows with the value (``alpha`` at ``vmax``): where the map is zero the
    page shows unchanged.

    >>> img = np.full((4, 4, 3), 255, np.uint8); m = np.zeros((4, 4)); m[0, 0] = 2.0
    >>> out = heat_overlay(img, m, vmax=2.0)
    >>> bool((out[3, 3] == 255).all()), bool((out[0, 0] < 255).any())
    (True, True)
    """
    from matplotlib import colormaps

    h, w = image_bgr.shape[:2]
    raw = np.asarray(raw, np.float32)
    if raw.shape != (h, w):
        raw = cv2.resize(raw, (w, h), interpolation=cv2.INTER_LINEAR)
    v = np.clip(raw / float(vmax), 0, 1) if vmax > 0 else np.zeros_like(raw)
    heat = colormaps[cmap](v)[..., :3].astype(np.float32) * 255
    a = (alpha * v ** 0.4)[..., None]   # a tenth of the scale is still at 40% of the full opacity
    rgb = image_bgr[:, :, ::-1].astype(np.float32)
    return np.uint8(np.clip((1 - a) * rgb + a * heat, 0, 255))


def fmt_value(v: float) -> str:
    """A map value for a colour bar tick: 3 significant digits."""
    return "0" if v == 0 else f"{v:.3g}"


def colour_bar(height: int, vmax: float, label: str = "", width: int = 14, font_size: int = 12,
               cmap: str = HEAT_CMAP) -> np.ndarray:
    """A vertical colour bar (RGB) for [0, vmax] with its ticks (0, vmax/2, vmax) and a label."""
    from matplotlib import colormaps

    font = cjk_font(font_size)
    ticks = [fmt_value(vmax), fmt_value(vmax / 2), "0"]
    text_w = int(max(font.getlength(t) for t in ticks + [label])) + 6
    height = max(height, 3 * font_size + 6)
    im = Image.new("RGB", (width + text_w, height), (255, 255, 255))
    ramp = colormaps[cmap](np.linspace(1, 0, height))[:, :3]
    im.paste(Image.fromarray(np.uint8(np.repeat(ramp[:, None, :], width, axis=1) * 255)), (0, 0))
    draw = ImageDraw.Draw(im)
    for t, y in zip(ticks, (0, height // 2 - font_size // 2, height - font_size - 2)):
        draw.text((width + 3, y), t, font=font, fill=(20, 20, 20))
    if label:
        draw.text((width + 3, height // 4 - font_size // 2), label, font=font, fill=(90, 90, 90))
    return np.asarray(im)


def place_labels(boxes_xyxy: Sequence[Sequence[float]], sizes: Sequence[Tuple[int, int]], hw) -> List[Tuple[int, int]]:
    """Top-left corners for labels of ``sizes`` (w, h), one per box, in the given order: above
    the box's left end, else left of it, else below, else inside; each spot clear of the labels
    placed before it where one is free."""
    H, W = int(hw[0]), int(hw[1])
    placed: List[Tuple[int, int, int, int]] = []
    out = []
    for (x0, y0, x1, y1), (w, h) in zip(boxes_xyxy, sizes):
        spots = [(x0, y0 - h - 1), (x0 - w - 2, y0), (x0, y1 + 1), (x0 + 1, y0 + 1)]
        best = None
        for sx, sy in spots:
            sx, sy = int(min(max(sx, 0), W - w)), int(min(max(sy, 0), H - h))
            r = (sx, sy, sx + w, sy + h)
            if not any(r[0] < q[2] and q[0] < r[2] and r[1] < q[3] and q[1] < r[3] for q in placed):
                best = r
                break
        if best is None:
            sx, sy = int(min(max(spots[0][0], 0), W - w)), int(min(max(spots[0][1], 0), H - h))
            best = (sx, sy, sx + w, sy + h)
        placed.append(best)
        out.append((best[0], best[1]))
    return out
