"""Seals on the invoice: the 全国统一发票监制章 over the title and the seller's red 发票专用章 (its
name on the arc, its tax id across, 发票专用章 below), each an oval drawn on its own canvas,
turned, and pasted onto a stamp layer; their texts are ground-truth lines too."""
from __future__ import annotations

from typing import List, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .layout import FormWriter, Page, load_font


def _glyph(font: ImageFont.FreeTypeFont, ch: str, squeeze: float) -> Tuple[np.ndarray, Tuple[float, ...]]:
    """One character on its own canvas, centred, squeezed horizontally; returns (mask, ink box about centre)."""
    side = int(font.size * 2)
    im = Image.new("L", (side, side), 0)
    ImageDraw.Draw(im).text((side // 2, side // 2), ch, font=font, fill=255, anchor="mm")
    l, t, r, b = font.getbbox(ch, anchor="mm")
    if squeeze != 1.0:
        im = im.resize((max(1, int(round(side * squeeze))), side), Image.BICUBIC)
        l, r = l * squeeze, r * squeeze
    return np.asarray(im), (l, t, r, b)


def _paste_max(dst: np.ndarray, src: np.ndarray, cx: float, cy: float) -> None:
    h, w = src.shape
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, dst.shape[1]), min(y0 + h, dst.shape[0])
    if xa < xb and ya < yb:
        np.maximum(dst[ya:yb, xa:xb], src[ya - y0:yb - y0, xa - x0:xb - x0], out=dst[ya:yb, xa:xb])


def _rot(pts: np.ndarray, deg: float) -> np.ndarray:
    """Rotate points about the origin the way PIL's Image.rotate turns the picture (counter-clockwise on screen)."""
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.stack([pts[:, 0] * c + pts[:, 1] * s, -pts[:, 0] * s + pts[:, 1] * c], axis=1)


def _order_quad(p: np.ndarray) -> np.ndarray:
    """Clockwise on screen, starting at the corner nearest the top-left, like the axis-aligned boxes."""
    ctr = p.mean(axis=0)
    p = p[np.argsort(np.arctan2(p[:, 1] - ctr[1], p[:, 0] - ctr[0]))]
    return np.roll(p, -int(np.argmin(p[:, 0] + p[:, 1])), axis=0)


def _box_pts(box, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    l, t, r, b = box
    return np.array([[l, t], [r, t], [r, b], [l, b]], np.float64) + (cx, cy)


def oval_stamp(page: Page, rng: np.random.RandomState, size_mm: Tuple[float, float], arc: str, middle: str,
                bottom: str, arc_mm: float, mid_mm: float, bottom_mm: float, ring_mm: float, angle: float,
                span_deg: float) -> Tuple[np.ndarray, List[Tuple[np.ndarray, str]]]:
    """An oval seal on its own square canvas: ring, text along the upper arc, a middle line and a
    bottom line, all turned by ``angle``. Returns (mask, [(4x2 polygon in canvas px, text)])."""
    A, B = page.px(size_mm[0]) / 2, page.px(size_mm[1]) / 2
    side = int(2 * A + page.px(4))
    c = side / 2
    mask = np.zeros((side, side), np.uint8)
    ring = max(2, int(round(page.px(ring_mm))))
    cv2.ellipse(mask, (int(c), int(c)), (int(A - ring / 2), int(B - ring / 2)), 0, 0, 360, 255, ring, cv2.LINE_AA)
    polys = []
    # arc text: centres on an inner ellipse, spaced by arc length, each glyph's top facing outwards
    afont = load_font(*page.faces["sans"], int(round(page.px(arc_mm))))
    ia, ib = A - ring - 0.62 * afont.size, B - ring - 0.62 * afont.size
    half = np.deg2rad(span_deg) / 2
    t = np.linspace(1.5 * np.pi - half, 1.5 * np.pi + half, 2000)
    xy = np.stack([ia * np.cos(t), ib * np.sin(t)], 1)
    cum = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
    n = len(arc)
    squeeze = float(np.clip(cum[-1] / n / (afont.size * 1.02), 0.55, 0.95))
    pts = []
    for i, ch in enumerate(arc):
        k = int(np.searchsorted(cum, cum[-1] * (i + 0.5) / n))
        ti = t[min(k, len(t) - 1)]
        px_, py_ = c + ia * np.cos(ti), c + ib * np.sin(ti)
        nx, ny = np.cos(ti) / ia, np.sin(ti) / ib
        deg = np.degrees(np.arctan2(-ny, nx)) - 90.0
        g, box = _glyph(afont, ch, squeeze)
        gi = Image.fromarray(g).rotate(deg, resample=Image.BICUBIC, expand=True)
        _paste_max(mask, np.asarray(gi), px_, py_)
        pts.append(_rot(_box_pts(box), deg) + (px_, py_))
    rect = cv2.minAreaRect(np.concatenate(pts).astype(np.float32))
    polys.append((cv2.boxPoints(rect).astype(np.float64), arc))
    # middle line: condensed like the real stamps' tall narrow digits
    for text_, size, yc, target_w in ((middle, mid_mm, c + 0.04 * B, 1.4 * A),
                                      (bottom, bottom_mm, c + 0.56 * B, 0.9 * A)):
        if not text_:
            continue
        f = load_font(*page.faces["sans"], int(round(page.px(size))))
        im = Image.new("L", (int(f.getlength(text_) + 2 * f.size), int(2 * f.size)), 0)
        ImageDraw.Draw(im).text((im.width // 2, im.height // 2), text_, font=f, fill=255, anchor="mm")
        l, tt, r, b = f.getbbox(text_, anchor="mm")
        sq = min(1.0, target_w / max(1.0, r - l))
        im = im.resize((max(1, int(round(im.width * sq))), im.height), Image.BICUBIC)
        _paste_max(mask, np.asarray(im), c, yc)
        polys.append((_box_pts((l * sq, tt, r * sq, b), c, yc), text_))
    M = cv2.getRotationMatrix2D((c, c), angle, 1.0)
    mask = cv2.warpAffine(mask, M, (side, side), flags=cv2.INTER_LINEAR)
    polys = [(_order_quad(p @ M[:, :2].T + M[:, 2]), s) for p, s in polys]
    return mask, polys


def place_stamp(page: Page, stamp: np.ndarray, cx: float, cy: float, layer: np.ndarray) -> Tuple[float, float]:
    """Paste a stamp canvas centred at (cx, cy) page px; returns the canvas' top-left offset."""
    _paste_max(layer, stamp, cx, cy)
    h, w = stamp.shape
    return float(int(round(cx - w / 2))), float(int(round(cy - h / 2)))


def stamp_invoice(w: FormWriter, c: dict) -> Tuple[np.ndarray, np.ndarray]:
    """The 监制章 over the title and the seller's 发票专用章 near the bottom; returns their
    (page-size uint8) layers (seal, stamp), which are inked separately."""
    return supervision_seal(w, c), seller_stamp(w, c)


def supervision_seal(w: FormWriter, c: dict) -> np.ndarray:
    """全国统一发票监制章 over the title, with the region's tax bureau at the bottom."""
    page, rng = w.page, w.rng
    mask, polys = oval_stamp(page, rng, (rng.uniform(28, 31), rng.uniform(19, 21)), "全国统一发票监制章", "国家税务总局",
                             c["region"][1], arc_mm=2.3, mid_mm=2.4, bottom_mm=2.2, ring_mm=0.6, angle=0.0,
                             span_deg=200)
    layer = np.zeros((page.h, page.w), np.uint8)
    offset = place_stamp(page, mask, *(page.px(v) for v in w.on_form(120, 16.0 + rng.uniform(-1, 1))), layer)
    for poly, s in polys:
        page.add(poly + offset, s, "other", "other")
    return layer


def seller_stamp(w: FormWriter, c: dict) -> np.ndarray:
    """发票专用章: the seller's name on the arc, its tax id across, 发票专用章 below, turned a little.
    A 代开 invoice (``c["daikai"]``) carries the tax office's 代开发票专用章 instead."""
    page, rng, g = w.page, w.rng, w.grid
    seller = c["seller"]
    middle, bottom = (seller["tax_id"], "发票专用章") if not c.get("daikai") else ("代开发票专用章", "")
    mask, polys = oval_stamp(page, rng, (rng.uniform(38, 42), rng.uniform(28, 31)), seller["name"], middle,
                             bottom, arc_mm=rng.uniform(3.6, 4.4), mid_mm=3.2, bottom_mm=3.6,
                             ring_mm=rng.uniform(0.9, 1.2), angle=rng.uniform(-18, 18), span_deg=rng.uniform(210, 240))
    layer = np.zeros((page.h, page.w), np.uint8)
    cx, cy = w.on_form(g.left + rng.uniform(95, 185), g.seller_bottom - rng.uniform(2, 10))
    offset = place_stamp(page, mask, page.px(cx), page.px(cy), layer)
    for poly, s in polys:
        page.add(poly + offset, s, "stamp", "other")
    return layer
