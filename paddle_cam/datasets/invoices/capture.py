"""How a clean page reaches the reader: scanned, photographed on a desk, shown in a PDF viewer
and screenshotted, or rendered from the PDF. Applied after any family's clean page; every style
maps page points onto its output with one 3x3 matrix, and the ground-truth polygons go through
the same matrix as the image (``cv2.perspectiveTransform``) and clipped to the output; a line that
is cut by the frame is dropped (its text would no longer be what is visible). A viewer's own texts (file name, page
counter, zoom) are ground-truth lines too, of field ``other``.

Styles (:data:`STYLES`): ``scan`` (the scanner of :mod:`.scan`), ``photo`` (desk, perspective,
shadow, uneven light, blur, JPEG), ``screenshot`` (grey viewer frame with toolbar, sidebar and a
page zoom, sharp screen resampling), ``pdf`` (clean render at some resolution, light JPEG). The
output's long side is drawn from :data:`LONG_SIDE`, then raised where needed so that the page's
median text line is at least :data:`LEGIBLE_PX` pixels tall (a floor drawn per page): people
photograph, scan and screenshot invoices so that they can read them, and a page whose text no
reader could make out teaches nothing about real ones.

>>> import numpy as np
>>> page = np.full((400, 600, 3), 255, np.uint8)
>>> line = {"id": 0, "polygon": [[10, 10], [90, 10], [90, 30], [10, 30]], "text": "x", "field": "other",
...         "role": "other"}
>>> img, lines, info = capture(page, [line], "pdf", np.random.RandomState(0))
>>> info["style"], max(img.shape[:2]) >= LONG_SIDE[0]
('pdf', True)
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ...fonts import cjk_style_faces
from ...geometry import box_height
from .layout import load_font
from .scan import scan_page

STYLES = ("scan", "photo", "screenshot", "pdf")
LONG_SIDE = (1100, 2400)
LEGIBLE_PX = (13.0, 20.0)   # floor of the median line's ink height on the output, drawn per page
MIN_VISIBLE = 0.97  # share of a line's area inside the frame for it to stay in the ground truth


def _long_side(rng: np.random.RandomState) -> int:
    return int(rng.randint(LONG_SIDE[0], LONG_SIDE[1] + 1))


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding of a generated page failed")
    return cv2.imdecode(enc, cv2.IMREAD_COLOR)


def _resize(img: np.ndarray, w: int, h: int, sharp: bool = False) -> np.ndarray:
    """Downscale by area; upscale linear, or nearest-ish (screen) when ``sharp``."""
    down = w * h < img.shape[0] * img.shape[1]
    interp = cv2.INTER_AREA if down else (cv2.INTER_NEAREST if sharp else cv2.INTER_LINEAR)
    return cv2.resize(img, (w, h), interpolation=interp)


# ----------------------------------------------------------------------------- styles


def pdf_render(page: np.ndarray, rng: np.random.RandomState, min_scale: float = 0.0
               ) -> Tuple[np.ndarray, np.ndarray, List[dict]]:
    """The page rendered at a random resolution (at least ``min_scale`` output px per page px),
    lightly JPEG-compressed (or not at all)."""
    h, w = page.shape[:2]
    f = max(_long_side(rng) / max(h, w), min_scale)
    W, H = max(1, int(round(w * f))), max(1, int(round(h * f)))
    img = _resize(page, W, H)
    if rng.rand() < 0.7:
        img = _jpeg(img, rng.randint(82, 98))
    return img, np.diag([W / w, H / h, 1.0]), []


def scan(page: np.ndarray, rng: np.random.RandomState, min_scale: float = 0.0
         ) -> Tuple[np.ndarray, np.ndarray, List[dict]]:
    """The scanner of :func:`.scan.scan_page`, at a random resolution (``min_scale`` as for pdf)."""
    img, M = scan_page(page, rng, max(_long_side(rng), int(np.ceil(min_scale * max(page.shape[:2])))))
    return img, M, []


def desk(w: int, h: int, rng: np.random.RandomState) -> np.ndarray:
    """(h, w, 3) float32 BGR desk: wood grain, a plain table, dark cloth or other paper; built at low
    resolution and upscaled (a background is smooth, and this keeps it cheap)."""
    sw, sh = max(8, w // 8), max(8, h // 8)
    kind = int(rng.choice(4, p=(0.35, 0.3, 0.2, 0.15)))
    noise = cv2.GaussianBlur(rng.rand(sh, sw).astype(np.float32), (0, 0), rng.uniform(0.8, 3))
    if kind == 0:  # wood: stretched noise along a random direction plus rings
        base = np.array([rng.uniform(40, 110), rng.uniform(80, 140), rng.uniform(120, 190)], np.float32)
        streak = cv2.resize(rng.rand(sh, 3).astype(np.float32), (sw, sh), interpolation=cv2.INTER_CUBIC)
        yy = np.arange(sh, dtype=np.float32)[:, None]
        tex = 0.6 * streak + 0.25 * np.sin(yy * rng.uniform(0.2, 0.6) + 3 * noise) + 0.15 * noise
        small = base * (0.75 + 0.35 * tex[..., None])
        if rng.rand() < 0.5:
            small = np.ascontiguousarray(np.rot90(small)) if sw == sh else cv2.resize(
                np.ascontiguousarray(np.rot90(small)), (sw, sh))
    elif kind == 1:  # plain table: grey, white or coloured laminate
        base = np.array([rng.uniform(90, 235)] * 3, np.float32) + rng.uniform(-25, 25, 3).astype(np.float32)
        small = base * (0.92 + 0.16 * noise[..., None])
    elif kind == 2:  # dark cloth or mat
        base = np.array([rng.uniform(20, 80), rng.uniform(20, 80), rng.uniform(20, 80)], np.float32)
        small = base * (0.8 + 0.4 * noise[..., None])
    else:  # other paper or a notebook underneath
        base = np.array([rng.uniform(200, 245)] * 3, np.float32)
        small = base * (0.96 + 0.06 * noise[..., None])
        for y in np.arange(rng.uniform(0, 6), sh, rng.uniform(4, 7)):
            small[int(y)] *= 0.85
    return cv2.resize(np.clip(small, 0, 255), (w, h), interpolation=cv2.INTER_LINEAR)


def photo(page: np.ndarray, rng: np.random.RandomState, min_scale: float = 0.0
          ) -> Tuple[np.ndarray, np.ndarray, List[dict]]:
    """A phone photo of the page on a desk: perspective, a shadow, uneven light, colour cast, blur,
    noise and JPEG (``min_scale`` as for pdf)."""
    h, w = page.shape[:2]
    L = _long_side(rng)
    landscape = (w >= h) if rng.rand() < 0.9 else (w < h)
    aspect = rng.choice((4 / 3, 16 / 9, 3 / 2))
    fill = rng.uniform(0.62, 0.95)
    W, H = (L, int(L / aspect)) if landscape else (int(L / aspect), L)
    if fill * min(W / w, H / h) < min_scale:  # a closer shot: more pixels on the page
        k = min_scale / (fill * min(W / w, H / h))
        W, H = int(np.ceil(W * k)), int(np.ceil(H * k))
    s = fill * min(W / w, H / h)
    # people centre what they photograph, roughly
    cx, cy = W / 2 + rng.uniform(-0.35, 0.35) * (W - s * w), H / 2 + rng.uniform(-0.35, 0.35) * (H - s * h)
    a = np.deg2rad(rng.uniform(-6, 6))
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = (src - (w / 2, h / 2)) * s @ R.T + (cx, cy)
    # perspective: the camera leans, so one edge of the page is shorter than the opposite one
    k = rng.uniform(-0.07, 0.07) * s * w
    dst[0, 0] += k
    dst[1, 0] -= k
    k = rng.uniform(-0.05, 0.05) * s * h
    dst[0, 1] += k
    dst[3, 1] -= k
    dst += rng.uniform(-0.025, 0.025, (4, 2)) * (s * w, s * h)
    Hm = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    # smooth fields (desk, shadows, light) are computed at a quarter of the resolution, then upscaled once
    q = 4
    Ws, Hs = W // q + 1, H // q + 1
    m_small = cv2.warpPerspective(np.full((h, w), 1.0, np.float32), np.diag([1 / q, 1 / q, 1]) @ Hm, (Ws, Hs))
    bg = desk(Ws, Hs, rng)
    if rng.rand() < 0.6:  # the page's own soft drop shadow on the desk
        sh = cv2.GaussianBlur(m_small, (0, 0), rng.uniform(3, 12) / q)
        sh = np.roll(sh, (int(rng.uniform(2, 10) / q), int(rng.uniform(2, 10) / q)), axis=(0, 1))
        bg *= (1 - rng.uniform(0.2, 0.5) * sh)[..., None]
    bg = cv2.resize(np.clip(bg, 0, 255).astype(np.uint8), (W, H), interpolation=cv2.INTER_LINEAR)
    warped = cv2.warpPerspective(page, Hm, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    m = cv2.warpPerspective(np.full((h, w), 1.0, np.float32), Hm, (W, H), flags=cv2.INTER_LINEAR)
    img = cv2.blendLinear(warped, bg, m, 1.0 - m)
    # light: a smooth gain field, a directional ramp, a warm or cold cast
    gain = cv2.resize(rng.rand(3, 3).astype(np.float32), (Ws, Hs), interpolation=cv2.INTER_CUBIC)
    gx, gy = np.meshgrid(np.linspace(-1, 1, Ws, dtype=np.float32), np.linspace(-1, 1, Hs, dtype=np.float32))
    ang = rng.uniform(0, 2 * np.pi)
    ramp = gx * np.cos(ang) + gy * np.sin(ang)
    light = 1 - rng.uniform(0.0, 0.25) * np.clip(gain, 0, 1) - rng.uniform(0, 0.18) * (ramp + 1) / 2
    if rng.rand() < 0.55:  # a shadow (phone, hand) falling across part of the page
        n = rng.uniform(-1, 1, 2)
        n /= np.linalg.norm(n) + 1e-6
        edge = gx * n[0] + gy * n[1] - rng.uniform(-0.3, 0.6)
        soft = rng.uniform(0.03, 0.25)
        light *= 1 - rng.uniform(0.2, 0.5) / (1 + np.exp(-edge / soft))
    cast = (rng.uniform(0.88, 1.0), rng.uniform(0.93, 1.0), rng.uniform(0.9, 1.06))
    light = cv2.resize(light.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    img = cv2.multiply(img.astype(np.float32), cv2.merge([light * np.float32(c) for c in cast]))
    if rng.rand() < 0.3:  # hand shake: a short motion blur
        k = int(rng.randint(3, 8))
        kern = np.zeros((k, k), np.float32)
        kern[k // 2] = 1.0 / k
        M = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kern = cv2.warpAffine(kern, M, (k, k))
        img = cv2.filter2D(img, -1, kern / max(kern.sum(), 1e-6))
    else:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.5))
    # sensor noise, smoothed by demosaicing: drawn at half resolution, mostly in luminance
    noise = rng.normal(0, rng.uniform(1.0, 5.0), (H // 2 + 1, W // 2 + 1)).astype(np.float32)
    img += cv2.resize(noise, (W, H), interpolation=cv2.INTER_LINEAR)[..., None]
    out = _jpeg(np.clip(img, 0, 255).astype(np.uint8), rng.randint(55, 93))
    return out, Hm.astype(np.float64), []


_THEMES = (  # viewer background, toolbar, toolbar text (BGR): dark PDF viewer, light viewer, mid grey
    ((89, 86, 82), (57, 54, 50), (235, 235, 235)),
    ((232, 232, 232), (250, 249, 248), (40, 40, 40)),
    ((160, 157, 153), (226, 224, 222), (30, 30, 30)),
)


class _Chrome:
    """Draws the viewer's chrome and records its texts as ``other`` lines (output px)."""

    def __init__(self, img: np.ndarray, rng: np.random.RandomState):
        self.im = Image.fromarray(img[:, :, ::-1])
        self.d = ImageDraw.Draw(self.im)
        faces = cjk_style_faces("hei")
        self.face = faces[int(rng.randint(len(faces)))]
        self.lines: List[dict] = []

    def text(self, x: float, y: float, s: str, px: int, colour: Sequence[int]) -> None:
        font = load_font(*self.face, px)
        self.d.text((int(x), int(y)), s, font=font, fill=tuple(int(c) for c in colour[::-1]), anchor="lm")
        l, t, r, b = font.getbbox(s, anchor="lm")
        l, t, r, b = int(x) + l, int(y) + t, int(x) + r, int(y) + b
        self.lines.append({"polygon": [[l, t], [r, t], [r, b], [l, b]], "text": s, "field": "other", "role": "other"})

    def rect(self, box: Sequence[float], colour: Sequence[int], outline: bool = False) -> None:
        c = tuple(int(v) for v in colour[::-1])
        self.d.rectangle([int(v) for v in box], outline=c if outline else None, fill=None if outline else c)

    def array(self) -> np.ndarray:
        return np.asarray(self.im)[:, :, ::-1].copy()


def screenshot(page: np.ndarray, rng: np.random.RandomState, min_scale: float = 0.0
               ) -> Tuple[np.ndarray, np.ndarray, List[dict], Tuple[int, int, int, int]]:
    """The page in a PDF viewer: grey frame, toolbar (file name, page counter, zoom), sometimes a
    sidebar with a thumbnail, the page zoomed (possibly past the window) and resampled sharply.
    ``min_scale``: a larger screen when the page would be shown smaller than that.
    Returns (image, page -> image matrix, the chrome's text lines, the page's visible box)."""
    h, w = page.shape[:2]
    W = _long_side(rng)
    screen = rng.choice((16 / 9, 16 / 10, 3 / 2))
    # the page fits the viewport at >= 0.75 x min(W / w, H / h): a reader with a small page gets a larger screen
    W = max(W, int(np.ceil(min_scale / 0.75 / min(1 / w, 1 / (screen * h)))))
    H = int(W / screen)
    bg, bar, ink = _THEMES[int(rng.randint(len(_THEMES)))]
    img = np.empty((H, W, 3), np.uint8)
    img[:] = bg
    ui = max(12, int(round(W / rng.uniform(90, 130))))  # UI font size follows the screen's scale
    bar_h = int(ui * rng.uniform(2.6, 3.6))
    side = int(W * rng.uniform(0.1, 0.16)) if rng.rand() < 0.5 else 0
    vx0, vy0, vx1, vy1 = side, bar_h, W, H
    fit = min((vx1 - vx0) * 0.94 / w, (vy1 - vy0) * 0.96 / h)
    zoom = rng.choice((1.0, rng.uniform(0.7, 1.0), rng.uniform(1.0, 1.4)), p=(0.4, 0.3, 0.3))
    zoom = max(zoom, min_scale / fit)  # and zooms in until the text is legible
    s = fit * zoom
    pw, ph = max(1, int(round(w * s))), max(1, int(round(h * s)))
    shown = _resize(page, pw, ph, sharp=True)
    x0 = vx0 + ((vx1 - vx0) - pw) // 2
    y0 = vy0 + max(int(ui * 0.8), ((vy1 - vy0) - ph) // 2) - (int(rng.uniform(0, ph - (vy1 - vy0))) if ph > vy1 - vy0
                                                              else 0)
    # a soft drop shadow, then the page clipped to the viewport
    sx0, sy0, sx1, sy1 = max(x0 - 3, vx0), max(y0 - 3, vy0), min(x0 + pw + 6, vx1), min(y0 + ph + 6, vy1)
    if sx1 > sx0 and sy1 > sy0:
        img[sy0:sy1, sx0:sx1] = (img[sy0:sy1, sx0:sx1] * 0.75).astype(np.uint8)
    cx0, cy0, cx1, cy1 = max(x0, vx0), max(y0, vy0), min(x0 + pw, vx1), min(y0 + ph, vy1)
    img[cy0:cy1, cx0:cx1] = shown[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    img[:bar_h] = bar
    chrome = _Chrome(img, rng)
    if side:
        chrome.rect((0, bar_h, side - 1, H), tuple(int(c * 0.92) for c in bg))
        tw = int(side * 0.7)
        th = max(1, int(tw * h / w))
        thumb = _resize(page, tw, th)
        tx, ty = (side - tw) // 2, bar_h + int(ui * 1.5)
        chrome.im.paste(Image.fromarray(thumb[:, :, ::-1]), (tx, ty))
        chrome.rect((tx - 3, ty - 3, tx + tw + 2, ty + th + 2), (200, 140, 60), outline=True)
        chrome.text(side // 2 - ui // 3, ty + th + ui, "1", ui, ink)
    names = ("发票.pdf", "dzfp_{n}.pdf", "{n}.pdf", "电子发票_{n}.pdf", "invoice_{n}.pdf", "扫描件{n}.pdf")
    name = names[int(rng.randint(len(names)))].format(n="".join(str(v) for v in rng.randint(0, 10, 8 + rng.randint(12))))
    mid = bar_h // 2
    chrome.text(ui * rng.uniform(2.5, 4), mid, name, ui, ink)
    chrome.text(W * rng.uniform(0.4, 0.46), mid, f"1 / {int(rng.choice((1, 1, 1, 2)))}", ui, ink)
    chrome.text(W * rng.uniform(0.5, 0.56), mid, f"{int(round(zoom * 100))}%", ui, ink)
    for k in range(int(rng.randint(2, 6))):  # toolbar icons
        cx = W - ui * (2 + 2.6 * k)
        chrome.rect((cx - ui * 0.5, mid - ui * 0.5, cx + ui * 0.5, mid + ui * 0.5), ink, outline=True)
    out = chrome.array()
    if rng.rand() < 0.5:  # shared through a chat app
        out = _jpeg(out, rng.randint(80, 96))
    Hm = np.array([[pw / w, 0, x0], [0, ph / h, y0], [0, 0, 1]], np.float64)
    return out, Hm, chrome.lines, (cx0, cy0, cx1, cy1)


# ----------------------------------------------------------------------------- the stage


def transform_polygon(poly, H: np.ndarray) -> np.ndarray:
    """4x2 polygon through a 3x3 matrix (``cv2.perspectiveTransform``)."""
    p = np.asarray(poly, np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(p, H).reshape(-1, 2)


def _visible_fraction(p: np.ndarray, box: Tuple[float, float, float, float]) -> float:
    """Share of a convex quad's area inside an axis-aligned box."""
    area = abs(cv2.contourArea(p.astype(np.float32)))
    if area <= 1e-6:
        return 0.0
    x0, y0, x1, y1 = box
    rect = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
    inter, _ = cv2.intersectConvexConvex(p.astype(np.float32), rect)
    return float(inter) / area


def capture(page: np.ndarray, lines: Sequence[dict], style: str, rng: np.random.RandomState
            ) -> Tuple[np.ndarray, List[dict], dict]:
    """``page`` (BGR uint8) captured in ``style``; returns (image, lines, info).

    Lines keep their keys; polygons are mapped like the image, clipped to it (4 points kept),
    and lines not wholly visible (:data:`MIN_VISIBLE`) are dropped; ids are renumbered from 0. ``info``:
    ``{"style", "matrix": 3x3 page -> image}``.
    """
    if style not in STYLES:
        raise ValueError(f"unknown capture style {style!r}; one of {', '.join(STYLES)}")
    extra: List[dict] = []
    h, w = page.shape[:2]
    heights = [box_height(ln["polygon"]) for ln in lines if len(str(ln.get("text", "")).strip()) >= 2]
    min_scale = rng.uniform(*LEGIBLE_PX) / float(np.median(heights)) if heights else 0.0
    if style == "screenshot":
        img, Hm, extra, view = screenshot(page, rng, min_scale)
    else:
        img, Hm, extra = {"scan": scan, "photo": photo, "pdf": pdf_render}[style](page, rng, min_scale)
        view = (0, 0, img.shape[1], img.shape[0])
    H_, W_ = img.shape[:2]
    out: List[dict] = []
    for ln in lines:
        p = transform_polygon(ln["polygon"], Hm)
        if _visible_fraction(p, view) < MIN_VISIBLE:
            continue
        p[:, 0] = np.clip(p[:, 0], view[0], min(view[2], W_) - 1)
        p[:, 1] = np.clip(p[:, 1], view[1], min(view[3], H_) - 1)
        out.append(dict(ln, id=len(out), polygon=[[round(float(x), 1), round(float(y), 1)] for x, y in p]))
    for ln in extra:
        out.append(dict(ln, id=len(out), polygon=[[float(x), float(y)] for x, y in ln["polygon"]]))
    return img, out, {"style": style, "matrix": [[float(v) for v in row] for row in Hm]}
