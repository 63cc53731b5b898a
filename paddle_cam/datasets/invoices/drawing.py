"""A clean colour sheet for electronic documents, drawn the way a PDF viewer rasterises them, with
ground-truth lines recorded as they are drawn.

Unlike :class:`.layout.Page` (ink masks of a dot-matrix print on a 240 x 140 mm form), a
:class:`Sheet` is one RGB image of any size in mm: the form's print and the values are drawn in
their own colours, seals are blended on top, semi-transparent, when the sheet is finished. One line
of text can hold a label and its value in different faces and colours (:meth:`Sheet.write`); it is
then one ground-truth line whose ``value_span`` gives the value's character offsets.

>>> import numpy as np
>>> sheet = Sheet(200.0, 100.0, 1000, pick_faces(np.random.RandomState(0)))
>>> box = sheet.write(10, 10, [Run("名称：", sheet.style("song", 3.0)), Run("某公司", sheet.style("hei", 3.0))],
...                   "buyer_name", value_run=1)
>>> sheet.lines[0]["text"], sheet.lines[0]["value_span"]
('名称：某公司', [3, 6])
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ...fonts import find_cjk_font_path
from .layout import FIELDS, ROLES
from .stamps import oval_stamp

Colour = Tuple[int, int, int]

_FONT_DIR = "/usr/share/fonts/truetype"
# (file, face index) per family; missing files are skipped, and the default CJK font stands in for all
FACE_FILES: Dict[str, Tuple[Tuple[str, int], ...]] = {
    "hei": ((f"{_FONT_DIR}/wqy/wqy-microhei.ttc", 0), (f"{_FONT_DIR}/wqy/wqy-zenhei.ttc", 0)),
    "song": ((f"{_FONT_DIR}/arphic/uming.ttc", 0),),
    "kai": ((f"{_FONT_DIR}/arphic/ukai.ttc", 0),),
    "mono": ((f"{_FONT_DIR}/wqy/wqy-microhei.ttc", 1), (f"{_FONT_DIR}/wqy/wqy-zenhei.ttc", 1)),
}

# print colours of the form (RGB): the brown, red-brown and dark red of the tax bureau's templates
FORM_COLOURS: Tuple[Colour, ...] = ((128, 72, 20), (150, 80, 40), (160, 60, 40), (120, 50, 30), (170, 90, 50),
                                    (140, 40, 40))
VALUE_COLOURS: Tuple[Colour, ...] = ((0, 0, 0), (20, 20, 20), (30, 30, 40), (20, 40, 150), (10, 30, 110))
SEAL_RED: Colour = (215, 30, 35)


@functools.lru_cache(maxsize=None)
def available_faces() -> Dict[str, Tuple[Tuple[str, int], ...]]:
    """The families of :data:`FACE_FILES` whose files exist here; each falls back to the default CJK font."""
    base = find_cjk_font_path()
    return {k: tuple(f for f in v if os.path.isfile(f[0])) or (base,) for k, v in FACE_FILES.items()}


def pick_faces(rng: np.random.RandomState) -> Dict[str, Tuple[str, int]]:
    """One font file per family for one page, e.g. ``{"hei": (".../wqy-zenhei.ttc", 0), ...}``."""
    return {k: v[int(rng.randint(len(v)))] for k, v in available_faces().items()}


@functools.lru_cache(maxsize=1024)
def _font(path: str, index: int, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, max(6, int(px)), index=index)


@dataclass(frozen=True)
class Style:
    """How a run of text is drawn: font file, size (mm), colour, em letter-spacing, fake-bold stroke (px)."""

    face: Tuple[str, int]
    size: float
    colour: Colour = (0, 0, 0)
    track: float = 0.0
    stroke: int = 0


@dataclass(frozen=True)
class Run:
    """A piece of one line of text in one style."""

    text: str
    style: Style


def _ink(img: Image.Image, glyphs: Sequence[tuple]) -> Tuple[float, float, float, float]:
    """Draw glyphs ``((x, y), text, font, stroke, anchor, colour)`` on ``img`` and return their tight
    ink box (page px). Pillow's ``getbbox`` spans the advance (a full-width colon's blank half too),
    so each colour's glyphs are drawn on a small mask, pasted in that colour, and the masks' ink is
    what the box holds."""
    boxes = [(x + l, y + t, x + r, y + b) for (x, y), s, f, st, anchor, _ in glyphs
             for l, t, r, b in [f.getbbox(s, anchor=anchor, stroke_width=st)]]
    x0, y0 = int(min(b[0] for b in boxes)) - 2, int(min(b[1] for b in boxes)) - 2
    x1, y1 = int(max(b[2] for b in boxes)) + 2, int(max(b[3] for b in boxes)) + 2
    size = (max(1, x1 - x0), max(1, y1 - y0))
    ink = None
    for colour in dict.fromkeys(g[5] for g in glyphs):
        mask = Image.new("L", size, 0)
        d = ImageDraw.Draw(mask)
        for (x, y), s, f, st, anchor, c in glyphs:
            if c == colour:
                d.text((x - x0, y - y0), s, font=f, fill=255, anchor=anchor, stroke_width=st, stroke_fill=255)
        img.paste(colour, (x0, y0, x0 + size[0], y0 + size[1]), mask)
        b = mask.getbbox()
        if b is not None:
            ink = b if ink is None else (min(ink[0], b[0]), min(ink[1], b[1]), max(ink[2], b[2]), max(ink[3], b[3]))
    if ink is None:  # nothing visible (cannot happen for non-blank text); keep the layout box
        return x0 + 2.0, y0 + 2.0, x1 - 2.0, y1 - 2.0
    return float(x0 + ink[0]), float(y0 + ink[1]), float(x0 + ink[2]), float(y0 + ink[3])


class Sheet:
    """An RGB page ``w_mm`` x ``h_mm`` rasterised ``w_px`` wide, its seal overlay and its ground-truth lines."""

    def __init__(self, w_mm: float, h_mm: float, w_px: int, faces: Dict[str, Tuple[str, int]],
                 paper: Colour = (255, 255, 255)):
        self.s = w_px / w_mm
        self.w, self.h = int(w_px), int(round(h_mm * self.s))
        self.w_mm, self.h_mm = w_mm, h_mm
        self.families = faces
        self.faces = {"sans": faces["hei"]}  # what stamps.oval_stamp draws its texts with
        self.img = Image.new("RGB", (self.w, self.h), paper)
        self.draw = ImageDraw.Draw(self.img)
        self.seals: List[Tuple[np.ndarray, int, int, Colour, float]] = []  # canvas, its offset, ink, opacity
        self.lines: List[dict] = []

    def px(self, mm: float) -> float:
        return mm * self.s

    def style(self, family: str, size: float, colour: Colour = (0, 0, 0), track: float = 0.0,
              stroke: int = 0) -> Style:
        """A :class:`Style` with this page's font of ``family`` (hei, song, kai, mono)."""
        return Style(self.families[family], size, colour, track, stroke)

    def add(self, poly: np.ndarray, text: str, field: str, role: str, value_span: Optional[Sequence[int]] = None):
        assert field in FIELDS and role in ROLES, (field, role)
        line = {"id": len(self.lines), "polygon": np.asarray(poly, np.float64).reshape(4, 2), "text": text,
                "field": field, "role": role}
        if value_span is not None:
            line["value_span"] = [int(value_span[0]), int(value_span[1])]
        self.lines.append(line)

    def write(self, x: float, y: float, runs: Sequence[Run], field: str, role: str = "value", *,
              value_run: Optional[int] = None, align: str = "l", max_w: Optional[float] = None
              ) -> Tuple[float, float, float, float]:
        """Draw ``runs`` as one line with its vertical middle at ``y`` mm, starting (``align`` l), centred
        (c) or ending (r) at ``x`` mm; record it as one ground-truth line and return its ink box (px).

        ``value_run``: index of the run holding the value when a label shares the line; the line's
        ``value_span`` is then that run's character offsets in the recorded text. Letter-spaced runs
        are recorded without spaces. ``max_w`` (mm) shrinks all runs like the invoicing software does.
        """
        runs = [r for r in runs if r.text]
        fonts = [_font(*r.style.face, int(round(self.px(r.style.size)))) for r in runs]

        def advances(font: ImageFont.FreeTypeFont, r: Run) -> List[float]:
            if r.style.track:  # no spacing after the last character: a colon run follows tight
                return [font.getlength(c) + r.style.track * font.size for c in r.text[:-1]] + [
                    font.getlength(r.text[-1])]
            return [font.getlength(r.text)]

        total = sum(sum(advances(f, r)) for f, r in zip(fonts, runs))
        if max_w is not None and total > self.px(max_w):
            k = self.px(max_w) / total
            runs = [replace(r, style=replace(r.style, size=r.style.size * k)) for r in runs]
            fonts = [_font(*r.style.face, int(self.px(r.style.size))) for r in runs]
            total = sum(sum(advances(f, r)) for f, r in zip(fonts, runs))
        cx = self.px(x) - total * {"l": 0.0, "c": 0.5, "r": 1.0}[align]
        em = max(f.size for f in fonts)
        base = int(round(self.px(y) + 0.36 * em))  # one baseline for all runs, so mixed faces line up
        glyphs = []
        text, span = "", None
        for i, (font, r) in enumerate(zip(fonts, runs)):
            pieces = list(r.text) if r.style.track else [r.text]
            for piece, a in zip(pieces, advances(font, r)):
                if piece.strip():
                    X = int(round(cx))
                    glyphs.append(((X, base), piece, font, r.style.stroke, "ls", r.style.colour))
                cx += a
            piece_text = "".join(r.text.split()) if r.style.track else r.text
            if i == value_run:
                span = (len(text), len(text) + len(piece_text))
            text += piece_text
        box = _ink(self.img, glyphs)
        left, top, right, bottom = box
        self.add([[left, top], [right, top], [right, bottom], [left, bottom]], text, field, role, span)
        return box

    def text(self, x: float, y: float, s: str, style: Style, field: str, role: str, *, align: str = "l",
             max_w: Optional[float] = None) -> Optional[Tuple[float, float, float, float]]:
        """One run as one line (nothing and None for an empty string)."""
        if not s.strip():
            return None
        return self.write(x, y, [Run(s, style)], field, role, align=align, max_w=max_w)

    def vtext(self, x: float, y0: float, y1: float, s: str, style: Style, field: str, role: str) -> None:
        """Characters stacked top to bottom, centred on ``x`` mm and spread evenly between ``y0`` and ``y1``."""
        font = _font(*style.face, int(round(self.px(style.size))))
        glyphs = []
        for i, ch in enumerate(s):
            X, Y = int(round(self.px(x))), int(round(self.px(y0 + (y1 - y0) * (i + 0.5) / len(s))))
            glyphs.append(((X, Y), ch, font, style.stroke, "mm", style.colour))
        left, top, right, bottom = _ink(self.img, glyphs)
        self.add([[left, top], [right, top], [right, bottom], [left, bottom]], s, field, role)

    def line(self, x0: float, y0: float, x1: float, y1: float, colour: Colour, width: int = 1) -> None:
        self.draw.line([(self.px(x0), self.px(y0)), (self.px(x1), self.px(y1))], fill=colour, width=max(1, width))

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: Colour, width: int = 1) -> None:
        self.draw.rectangle([self.px(x0), self.px(y0), self.px(x1), self.px(y1)], outline=colour, width=max(1, width))

    def crossed_circle(self, x: float, y: float, r_mm: float, colour: Colour, width: int = 1) -> None:
        """The ⊗ printed before the capitals of 价税合计, centred at (x, y) mm."""
        cx, cy, r = self.px(x), self.px(y), self.px(r_mm)
        self.draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=max(1, width))
        q = r * 0.7
        self.draw.line([cx - q, cy - q, cx + q, cy + q], fill=colour, width=max(1, width))
        self.draw.line([cx - q, cy + q, cx + q, cy - q], fill=colour, width=max(1, width))

    def qr(self, x: float, y: float, size: float, payload: str) -> None:
        """A real QR code of ``payload`` (OpenCV's encoder), its quiet zone trimmed, top-left at (x, y) mm."""
        m = cv2.QRCodeEncoder.create().encode(payload)
        dark = np.nonzero(m < 128)
        m = m[dark[0].min():dark[0].max() + 1, dark[1].min():dark[1].max() + 1]
        side = max(m.shape[0], int(round(self.px(size))))
        q = cv2.resize(m, (side, side), interpolation=cv2.INTER_NEAREST)
        X, Y = int(round(self.px(x))), int(round(self.px(y)))
        region = np.asarray(self.img.crop((X, Y, X + side, Y + side))).copy()
        region[q < 128] = 0
        self.img.paste(Image.fromarray(region), (X, Y))

    def seal(self, cx: float, cy: float, size: Tuple[float, float], arc: str, middle: str, bottom: str, *,
             arc_mm: float, mid_mm: float, bottom_mm: float, ring_mm: float, angle: float, span_deg: float,
             colour: Colour, alpha: float, field: str, rng: np.random.RandomState) -> None:
        """An oval seal centred at (cx, cy) mm, blended over the page at :meth:`finish` with opacity
        ``alpha``; its three texts become ground-truth lines (role other) with ``field``."""
        mask, polys = oval_stamp(self, rng, size, arc, middle, bottom, arc_mm=arc_mm, mid_mm=mid_mm,
                                 bottom_mm=bottom_mm, ring_mm=ring_mm, angle=angle, span_deg=span_deg)
        h, w = mask.shape
        x0, y0 = int(round(self.px(cx) - w / 2)), int(round(self.px(cy) - h / 2))
        self.seals.append((mask, x0, y0, colour, alpha))
        for poly, s in polys:
            self.add(poly + (x0, y0), s, field, "other")

    def finish(self, height_mm: Optional[float] = None) -> Tuple[np.ndarray, List[dict]]:
        """The page as BGR uint8 with the seals blended in, and its lines in the ground-truth format
        (polygons clipped to the page, rounded to 0.1 px); ``height_mm`` cuts the page shorter."""
        if height_mm is not None and self.px(height_mm) < self.h:
            self.h = int(round(self.px(height_mm)))
            self.img = self.img.crop((0, 0, self.w, self.h))
        img = np.array(self.img)
        for mask, x0, y0, colour, alpha in self.seals:
            h, w = mask.shape
            xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, self.w), min(y0 + h, self.h)
            if xa >= xb or ya >= yb:
                continue
            under = img[ya:yb, xa:xb].astype(np.float32)
            a = (mask[ya - y0:yb - y0, xa - x0:xb - x0].astype(np.float32) / 255.0 * alpha)[..., None]
            # ink over ink: the seal's red multiplies what is under it, as a stamp on printed paper does
            blended = under * (1 - a) + under * (np.asarray(colour, np.float32) / 255.0) * a
            img[ya:yb, xa:xb] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        out = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        lines = []
        for ln in self.lines:
            p = ln["polygon"].copy()
            p[:, 0] = np.clip(p[:, 0], 0, self.w - 1)
            p[:, 1] = np.clip(p[:, 1], 0, self.h - 1)
            d = {"id": ln["id"], "polygon": [[round(float(x), 1), round(float(y), 1)] for x, y in p],
                 "text": ln["text"], "field": ln["field"], "role": ln["role"]}
            if "value_span" in ln:
                d["value_span"] = ln["value_span"]
            lines.append(d)
        return out, lines


def spaced(label: str, width_chars: int, rng: np.random.RandomState) -> float:
    """Em letter-spacing that spreads ``label`` (its colon excluded) over ``width_chars`` characters,
    the way forms write 名　　称 to the width of 纳税人识别号; sometimes none at all."""
    core = label.rstrip("：:")
    n = len(core)
    if n < 2 or n >= width_chars or rng.rand() < 0.3:
        return 0.0
    return (width_chars - n) / (n - 1)


def pick(rng: np.random.RandomState, seq: Sequence):
    """One element of ``seq``."""
    return seq[int(rng.randint(len(seq)))]


@dataclass(frozen=True)
class Look:
    """One page's typography: label and value styles, the colon after labels, and how often a label
    shares its line with its value (one ground-truth line with ``value_span``)."""

    label: Style
    value: Style
    mono: Style
    colon: str
    joined: float

    @classmethod
    def sample(cls, sheet: Sheet, rng: np.random.RandomState, form_colour: Colour, value_colour: Colour,
               label_mm: Tuple[float, float], joined: Tuple[float, float] = (0.0, 1.0),
               colons: Sequence[str] = ("：", "：", "：", ":", "")) -> "Look":
        size = rng.uniform(*label_mm)
        bold = int(rng.rand() < 0.25) * max(1, int(round(sheet.px(0.08))))
        label = sheet.style(pick(rng, ("song", "song", "hei", "kai")), size, form_colour, stroke=bold)
        vsize = size * rng.uniform(0.95, 1.15)
        value = sheet.style(pick(rng, ("song", "hei", "hei", "kai")), vsize, value_colour)
        mono = sheet.style(pick(rng, ("mono", "hei", "song")), vsize, value_colour)
        return cls(label, value, mono, pick(rng, colons), float(rng.uniform(*joined)))


def label_runs(text: str, style: Style, colon: str, width_chars: int = 0,
               rng: Optional[np.random.RandomState] = None) -> List[Run]:
    """A label as runs: its words letter-spaced to ``width_chars`` characters (when ``rng`` allows),
    then the colon drawn tight.

    >>> st = Style(("x.ttc", 0), 3.0)
    >>> [r.text for r in label_runs("名称", st, "：")]
    ['名称', '：']
    """
    track = spaced(text, width_chars, rng) if (width_chars and rng is not None) else 0.0
    runs = [Run(text, replace(style, track=track))]
    if colon:
        runs.append(Run(colon, style))
    return runs


def kv(sheet: Sheet, look: Look, rng: np.random.RandomState, x: float, y: float, label: str, value: str,
       field: str, *, value_style: Optional[Style] = None, value_x: Optional[float] = None, width_chars: int = 0,
       max_w: Optional[float] = None, joined: Optional[bool] = None, colon: Optional[str] = None,
       gap: float = 0.8) -> Tuple[float, float, float, float]:
    """A label and its value at (x, y) mm: one line (``value_span``) or two (label, then the value at
    ``value_x`` or ``gap`` mm after the label); ``max_w`` (mm, from ``x``) bounds the whole. Returns the
    box (px) of the value's line."""
    vst = value_style or look.value
    runs = label_runs(label, look.label, look.colon if colon is None else colon, width_chars, rng)
    if joined is None:
        joined = rng.rand() < look.joined
    if not value:
        return sheet.write(x, y, runs, field, "label")
    if joined:
        return sheet.write(x, y, runs + [Run(value, vst)], field, "value", value_run=len(runs), max_w=max_w)
    box = sheet.write(x, y, runs, field, "label")
    vx = value_x if value_x is not None else box[2] / sheet.s + gap
    rest = None if max_w is None else max(5.0, max_w - (vx - x))
    return sheet.write(vx, y, [Run(value, vst)], field, "value", max_w=rest)


def digits(rng: np.random.RandomState, n: int, first_nonzero: bool = False) -> str:
    """``n`` random decimal digits."""
    d = "".join(str(v) for v in rng.randint(0, 10, size=n))
    if first_nonzero and d[0] == "0":
        d = str(rng.randint(1, 10)) + d[1:]
    return d
