"""From drawn layers to a scanned page: paper, inks and their defects (worn plate, dot-matrix
ribbon, faded ribbon, ink bleed, patchy stamps, pin-feed holes), a fold, and the scanner (skew,
lid, uneven light, low DPI, tone curve, grey or bi-level output, optics, noise, JPEG).

Images here are float32 RGB in [0, 255] between :func:`print_page` and the scanner;
:func:`scan_page` takes and returns BGR uint8 and the 3x3 matrix that maps page points onto the scan.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from .layout import Page


def _ink_box(mask: np.ndarray) -> Tuple[slice, slice]:
    x, y, w, h = cv2.boundingRect(mask if mask.dtype == np.uint8 else (mask > 0).astype(np.uint8))
    return slice(y, y + h), slice(x, x + w)


def apply_ink(img: np.ndarray, mask: np.ndarray, rgb, alpha: float = 1.0) -> None:
    """Subtractive ink: paper shows through light ink and earlier ink darkens what goes on top.
    Only the box around the mask's ink is touched (a stamp is a small part of the page)."""
    ys, xs = _ink_box(mask)
    if ys.stop == ys.start:
        return
    m = mask[ys, xs].astype(np.float32) * (alpha / 255.0)
    k = 1.0 - np.asarray(rgb, np.float32) / 255.0
    factor = cv2.merge([1.0 - m * float(k[0]), 1.0 - m * float(k[1]), 1.0 - m * float(k[2])])
    region = img[ys, xs]
    cv2.multiply(region, factor, dst=region)


def uneven_ink(mask: np.ndarray, rng: np.random.RandomState, lo: float, speckle: float) -> np.ndarray:
    """Patchy ink: a smooth random field scales the mask, plus small dropouts."""
    h, w = mask.shape
    field = rng.rand(max(2, h // 24), max(2, w // 24)).astype(np.float32)
    field = cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)
    field = lo + (1 - lo) * np.clip(field, 0, 1)
    holes = (rng.rand(h, w) > speckle).astype(np.float32)
    holes = cv2.GaussianBlur(holes, (0, 0), 0.7)
    return np.clip(mask.astype(np.float32) * field * holes, 0, 255).astype(np.uint8)


def blank_paper(w: int, h: int, rng: np.random.RandomState, tint: Optional[Sequence[float]] = None) -> np.ndarray:
    """(h, w, 3) float32 RGB paper: a tint (drawn unless given), grain, and sometimes a faint guilloche."""
    if tint is None:
        tint = (rng.uniform(236, 255), rng.uniform(232, 252), rng.uniform(218, 246))
    paper = np.array(tint, np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = paper
    # paper grain at two scales
    grain = cv2.resize(rng.normal(0, 1, (h // 8, w // 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img += (grain * rng.uniform(1.0, 3.0))[..., None]
    if rng.rand() < 0.6:  # anti-counterfeit guilloche, faint
        layer = np.zeros((h, w), np.uint8)
        period = rng.uniform(18, 40)
        amp, freq = rng.uniform(4, 12), rng.uniform(0.01, 0.03)
        xs = np.arange(0, w, 2, dtype=np.float32)
        for y0 in np.arange(-amp, h + amp, period):
            ys = y0 + amp * np.sin(xs * freq + y0 * 0.05)
            cv2.polylines(layer, [np.stack([xs, ys], 1).astype(np.int32)], False, 255, 1, cv2.LINE_AA)
        tint = np.array([rng.uniform(170, 230), rng.uniform(190, 240), rng.uniform(170, 235)], np.float32)
        apply_ink(img, layer, tint, rng.uniform(0.08, 0.25))
    return img


RIBBONS = ("needles", "dots", "bleed", "faded", "clean")


def dot_matrix(values: np.ndarray, pitch: int, rng: np.random.RandomState) -> np.ndarray:
    """A glyph layer re-printed by needles: one round dot per ``pitch`` px cell the glyphs cover."""
    h, w = values.shape
    sh, sw = h // pitch, w // pitch
    cover = cv2.resize(values[:sh * pitch, :sw * pitch], (sw, sh), interpolation=cv2.INTER_AREA)
    on = np.where(cover > rng.uniform(50, 90), np.minimum(255.0, cover * 2.0), 0).astype(np.float32)
    dots = np.zeros((h, w), np.float32)
    dots[pitch // 2:sh * pitch:pitch, pitch // 2:sw * pitch:pitch] = on
    # round needle dots about as wide as their pitch: neighbours touch along a stroke
    return cv2.GaussianBlur(dots, (0, 0), pitch * rng.uniform(0.35, 0.5)) * (pitch * 1.6)


def _printer_ribbon(values: np.ndarray, rng: np.random.RandomState, ribbon: Optional[str] = None,
                    px_per_mm: float = 7.0) -> np.ndarray:
    """The printed-value layer as the ribbon leaves it (:data:`RIBBONS`, drawn when None): needle
    dots, a fine needle grid, ink bleed, a worn ribbon fading in bands, or clean."""
    if ribbon is None:
        ribbon = RIBBONS[int(rng.choice(len(RIBBONS), p=(0.25, 0.15, 0.2, 0.2, 0.2)))]
    h, w = values.shape
    if ribbon == "needles":
        values = dot_matrix(values, max(2, int(round(px_per_mm * rng.uniform(0.2, 0.32)))), rng)
    elif ribbon == "dots":  # fine needle grid and slight smear
        dots = np.zeros((h, w), np.float32)
        dots[::2, ::2] = 1
        dots[1::2, 1::2] = 1
        dots = cv2.GaussianBlur(dots, (0, 0), 0.6)
        values = cv2.GaussianBlur(values * (0.45 + 0.55 * dots / dots.max()), (0, 0), 0.5)
    elif ribbon == "bleed":
        values = np.clip(cv2.GaussianBlur(values, (0, 0), rng.uniform(0.5, 0.9)) * 1.35, 0, 255)
    if ribbon == "faded" or (ribbon != "clean" and rng.rand() < 0.3):
        # a worn ribbon prints lighter in bands across the line and in patches along it
        y = np.arange(h, dtype=np.float32)[:, None]
        band = 1 - rng.uniform(0.2, 0.5) * (0.5 + 0.5 * np.sin(2 * np.pi * y / (px_per_mm * rng.uniform(1.5, 5))
                                                              + rng.uniform(0, 6.3)))
        values = uneven_ink(np.clip(values * band, 0, 255).astype(np.uint8), rng, rng.uniform(0.45, 0.75),
                            0.03).astype(np.float32)
    return values


def print_page(page: Page, seal_layer: np.ndarray, stamp_layer: np.ndarray, rng: np.random.RandomState,
               form_ink: Optional[Sequence[float]] = None, value_ink: Optional[Sequence[float]] = None,
               ribbon: Optional[str] = None, tint: Optional[Sequence[float]] = None) -> np.ndarray:
    """Paper with the form, the red 监制章, the printer's values and the seller's stamp inked on it,
    in that order (each darkens what is under it); pin-feed holes (``page.layers["holes"]``) show
    what lies under the sheet. Inks (RGB), ribbon (:data:`RIBBONS`) and paper tint are drawn when None."""
    img = blank_paper(page.w, page.h, rng, tint)
    if form_ink is None:
        form_ink = (rng.uniform(125, 180), rng.uniform(35, 80), rng.uniform(25, 65))
    if value_ink is None:  # black, blue-black, carbon-copy violet, worn grey ribbon
        inks = [(rng.uniform(10, 50),) * 3, (30, 35, 75), (60, 45, 110), (45, 45, 55)]
        value_ink = inks[int(rng.choice(4, p=[.5, .2, .15, .15]))]
    form = np.asarray(page.layers["form"])
    if rng.rand() < 0.3:  # worn plate: the pre-printed form is a bit patchy
        form = uneven_ink(form, rng, 0.6, 0.02)
    apply_ink(img, form, form_ink)
    apply_ink(img, seal_layer, (rng.uniform(190, 235), rng.uniform(40, 90), rng.uniform(40, 90)),
              rng.uniform(0.5, 0.8))
    values = _printer_ribbon(np.asarray(page.layers["value"]).astype(np.float32), rng, ribbon, page.s)
    apply_ink(img, values.astype(np.uint8), value_ink)
    ys, xs = _ink_box(stamp_layer)
    stamp = np.zeros_like(stamp_layer)
    if ys.stop > ys.start:
        stamp[ys, xs] = uneven_ink(stamp_layer[ys, xs], rng, rng.uniform(0.35, 0.7), rng.uniform(0.0, 0.08))
    apply_ink(img, stamp, (rng.uniform(200, 240), rng.uniform(20, 70), rng.uniform(30, 80)), rng.uniform(0.55, 0.85))
    holes = np.asarray(page.layers["holes"])
    if holes.any():
        under = np.float32(rng.uniform(40, 235))
        m = holes.astype(np.float32)[..., None] / 255.0
        img[:] = img * (1 - m) + under * m
    return img


def fold_crease(img: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Sometimes a fold: a dark valley with a bright ridge beside it, across or along the page."""
    h, w = img.shape[:2]
    if rng.rand() < 0.35:
        vertical = rng.rand() < 0.6
        pos = rng.uniform(0.3, 0.7) * (w if vertical else h)
        coord = np.arange(w if vertical else h, dtype=np.float32) - pos
        prof = 1 - rng.uniform(0.06, 0.16) * np.exp(-(coord / rng.uniform(1.5, 4)) ** 2) \
            + rng.uniform(0.02, 0.05) * np.exp(-((coord - 6) / 5) ** 2)
        img *= (prof[None, :, None] if vertical else prof[:, None, None])
    return img


def _on_scanner_glass(img: np.ndarray, rng: np.random.RandomState) -> Tuple[np.ndarray, np.ndarray]:
    """The page slightly rotated and shifted, the corners showing the lid; returns (image, the 2x3
    affine matrix that maps page points onto the scan)."""
    h, w = img.shape[:2]
    angle = rng.uniform(-1.5, 1.5)
    M = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    M[:, 2] += (rng.uniform(-0.012, 0.012) * w, rng.uniform(-0.012, 0.012) * h)
    lid = tuple(float(v) for v in (img[5, 5] * rng.uniform(0.85, 1.0)))
    img = cv2.warpAffine(np.clip(img, 0, 255), M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=lid)
    return img, M


def _illumination_and_resolution(img: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Sometimes uneven scanner light; sometimes a low-DPI scan resampled back up."""
    h, w = img.shape[:2]
    if rng.rand() < 0.5:  # uneven scanner illumination
        gx, gy = np.meshgrid(np.linspace(-1, 1, w, dtype=np.float32), np.linspace(-1, 1, h, dtype=np.float32))
        a = rng.uniform(0, 2 * np.pi)
        ramp = (gx * np.cos(a) + gy * np.sin(a) + 1.5) / 3.0
        img *= (1 - rng.uniform(0.05, 0.16) * ramp - rng.uniform(0.0, 0.06) * (gx ** 2 + gy ** 2))[..., None]
    if rng.rand() < 0.4:  # low-DPI scan, resampled back up
        f = rng.uniform(0.55, 0.85)
        small = cv2.resize(img, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return img


def _tone(img: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Scanner tone curve (washed-out or contrasty), sometimes grey-scale or near bi-level output."""
    gamma = rng.uniform(0.8, 1.35)
    lo_, hi_ = rng.uniform(0, 35), rng.uniform(235, 262)
    # the scanner's 8-bit curve as a lookup table: much cheaper than a power over the float page
    lut = (lo_ + 255.0 * (np.arange(256) / 255.0) ** gamma * (hi_ - lo_) / 255.0).astype(np.float32)
    img = lut[np.clip(img, 0, 255).astype(np.uint8)]
    mode = rng.rand()
    if mode < 0.25:
        img = np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    elif mode < 0.32:  # bi-level scan: hard threshold, anti-aliased again by the optics below
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        thr = np.percentile(g[::8, ::8], 90) - rng.uniform(38, 55)  # just below the paper, as scanners set it
        white, black = rng.uniform(235, 252), rng.uniform(10, 50)
        img = np.repeat(np.where(g > thr, white, black).astype(np.float32)[..., None], 3, axis=2)
    return img


def scan_page(page: np.ndarray, rng: np.random.RandomState, long_side: Optional[int] = None
              ) -> Tuple[np.ndarray, np.ndarray]:
    """A printed sheet (BGR uint8) as a scanner returns it: resampled to the scan's resolution
    (``long_side`` px), folded sometimes, skewed on the glass, lit unevenly, resampled, tone-mapped,
    blurred by the optics, noisy and JPEG-compressed.

    Returns (BGR uint8 scan, 3x3 matrix mapping sheet points onto it).

    >>> scan, H = scan_page(np.full((140, 240, 3), 250, np.uint8), np.random.RandomState(0), 480)
    >>> scan.shape, H.shape
    ((280, 480, 3), (3, 3))
    """
    h, w = page.shape[:2]
    S = np.eye(3)
    if long_side is not None and long_side != max(h, w):
        f = long_side / max(h, w)
        w2, h2 = max(1, int(round(w * f))), max(1, int(round(h * f)))
        page = cv2.resize(page, (w2, h2), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        S = np.diag([w2 / w, h2 / h, 1.0])
    img = page[:, :, ::-1].astype(np.float32)
    img = fold_crease(img, rng)
    img, M = _on_scanner_glass(img, rng)
    img = _illumination_and_resolution(img, rng)
    img = _tone(img, rng)
    img = cv2.GaussianBlur(img, (0, 0), 0.3 + 1.1 * rng.rand() ** 1.5)
    # sensor noise is mostly in luminance: one plane for the three channels keeps it cheap
    img += rng.normal(0, rng.uniform(1.5, 5.0), img.shape[:2]).astype(np.float32)[..., None]
    out = np.clip(img, 0, 255).astype(np.uint8)[:, :, ::-1]
    ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.randint(30, 86))])
    if not ok:
        raise RuntimeError("JPEG encoding of a generated invoice failed")
    return cv2.imdecode(enc, cv2.IMREAD_COLOR), np.vstack([M, [0, 0, 1]]) @ S
