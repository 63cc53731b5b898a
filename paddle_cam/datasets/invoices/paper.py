"""The machine-printed paper families (机打 增值税专用发票 / 增值税普通发票): one physical sheet, before
any scanner or camera sees it.

Per page: the copy (发票联 / 抵扣联 / 记账联) and its form colour, the printer's ink (black, blue,
purple, blue-black) and ribbon (needle dots, bands of a worn ribbon, bleed), type faces (Song labels,
Hei / Song / bitmap-like values), label wording, spacing and colons, labels merged with their values
into one line, paper tint, continuous paper with pin-feed strips, and 代开 invoices issued by the tax
office. 专用发票 have no 校验码 and a 抵扣联; 普通发票 usually print a 校验码.

>>> import numpy as np
>>> page, lines, info = render_paper(np.random.RandomState(0), "增值税普通发票")
>>> page.dtype, info["medium"], info["kind"]
(dtype('uint8'), 'paper', '增值税普通发票')
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from ...fonts import cjk_style_faces
from .content import KINDS, invoice_content
from .wording import LabelStyle, merge_pairs
from .layout import PAGE_MM, Page, draw_form
from .scan import RIBBONS, print_page
from .stamps import stamp_invoice

PIN_PITCH_MM = 12.7  # tractor feed holes sit every half inch


def _choose(rng: np.random.RandomState, options: Tuple[str, ...], p: Tuple[float, ...]) -> str:
    return options[int(rng.choice(len(options), p=p))]


def _face(rng: np.random.RandomState, style: str) -> Tuple[str, int]:
    faces = cjk_style_faces(style)
    return faces[int(rng.randint(len(faces)))]


def pick_faces(rng: np.random.RandomState, ribbon: str) -> Dict[str, Tuple[str, int]]:
    """Faces by role: labels mostly Song (the pre-printed form), values in the printer's face
    (bitmap-like when it prints with needles); ``sans`` is what the seals are lettered with."""
    needles = ribbon in ("needles", "dots")
    label = _choose(rng, ("song", "hei", "kai"), (0.7, 0.2, 0.1))
    value = _choose(rng, ("sharp", "hei_mono", "song"), (0.6, 0.2, 0.2)) if needles else \
        _choose(rng, ("hei", "song", "hei_mono", "sharp"), (0.4, 0.3, 0.2, 0.1))
    mono = _choose(rng, ("sharp", "hei_mono"), (0.7, 0.3)) if needles else \
        _choose(rng, ("hei_mono", "sharp", "hei"), (0.6, 0.2, 0.2))
    return {"label": _face(rng, label), "title": _face(rng, _choose(rng, ("song", "hei", "kai"), (0.6, 0.25, 0.15))),
            "value": _face(rng, value), "mono": _face(rng, mono), "sans": _face(rng, _choose(rng, ("song", "hei"),
                                                                                                (0.5, 0.5)))}


def form_ink(rng: np.random.RandomState, copy: str) -> Tuple[float, float, float]:
    """RGB of the pre-printed form: 发票联 brown, 抵扣联 blue-green, 记账联 dark blue-grey, with some
    regional deviation."""
    colours = {"发票联": (rng.uniform(125, 180), rng.uniform(35, 80), rng.uniform(25, 65)),
               "抵扣联": (rng.uniform(20, 60), rng.uniform(90, 130), rng.uniform(80, 130)),
               "记账联": (rng.uniform(30, 60), rng.uniform(40, 70), rng.uniform(70, 110))}
    if rng.rand() < 0.15:
        copy = ("发票联", "抵扣联", "记账联")[int(rng.randint(3))]
    return colours[copy]


def value_ink(rng: np.random.RandomState) -> Tuple[float, float, float]:
    """RGB of the printer's ribbon: black, blue, purple or blue-black, sometimes worn lighter."""
    k = int(rng.choice(4, p=(0.45, 0.25, 0.2, 0.1)))
    ink = [(rng.uniform(10, 50),) * 3, (rng.uniform(25, 60), rng.uniform(40, 80), rng.uniform(110, 170)),
           (rng.uniform(80, 120), rng.uniform(40, 70), rng.uniform(120, 160)), (30.0, 35.0, 75.0)][k]
    worn = rng.uniform(0.0, 0.35) if rng.rand() < 0.3 else 0.0
    return tuple(float(c + (235 - c) * worn) for c in ink)


def paper_tint(rng: np.random.RandomState) -> Tuple[float, float, float]:
    """White, cream, greenish, pinkish, bluish or aged paper."""
    base = [(250, 249, 244), (248, 245, 232), (242, 248, 242), (250, 242, 242), (240, 244, 250),
            (236, 230, 214)][int(rng.choice(6, p=(0.35, 0.2, 0.15, 0.1, 0.1, 0.1)))]
    return tuple(float(np.clip(c + rng.uniform(-6, 5), 0, 255)) for c in base)


def draw_pin_feed(page: Page, strip_mm: float, rng: np.random.RandomState) -> None:
    """Tractor strips on both sides of continuous paper: round holes every half inch and a
    perforation line; both are drawn into ``page.layers["holes"]`` (what shows through the sheet)."""
    d = page.draws["holes"]
    r = page.px(rng.uniform(1.9, 2.1))
    y = rng.uniform(3, PIN_PITCH_MM)
    mm_w = page.w / page.s
    while y < page.h / page.s:
        for cx in (strip_mm / 2, mm_w - strip_mm / 2):
            X, Y = page.px(cx), page.px(y)
            d.ellipse([X - r, Y - r, X + r, Y + r], fill=255)
        y += PIN_PITCH_MM
    dash, gap = rng.uniform(0.8, 1.6), rng.uniform(0.4, 0.9)
    for x in (strip_mm, mm_w - strip_mm):
        y = 0.0
        while y < page.h / page.s:
            d.line([(page.px(x), page.px(y)), (page.px(x), page.px(y + dash))], fill=int(rng.uniform(60, 130)),
                   width=max(1, int(round(page.px(0.15)))))
            y += dash + gap


def render_paper(rng: np.random.RandomState, kind: str) -> Tuple[np.ndarray, List[dict], dict]:
    """One printed 机打 invoice sheet of ``kind`` (one of :data:`.content.KINDS`), before capture.

    Returns (BGR uint8 sheet, ground-truth lines with ``polygon`` as 4x2 arrays in sheet px, info
    with ``kind``, ``medium`` = ``"paper"``, ``copy``, ``ribbon``, ``pin_feed``, ``daikai``).
    """
    if kind not in KINDS:
        raise ValueError(f"paper invoices are one of {', '.join(KINDS)}, not {kind!r}")
    special = kind == KINDS[0]
    content = invoice_content(rng, kind=kind, daikai=0.2)
    ribbon = RIBBONS[int(rng.choice(len(RIBBONS), p=(0.3, 0.1, 0.15, 0.2, 0.25)))]
    strip = rng.uniform(11.0, 13.5) if rng.rand() < 0.45 else 0.0
    mm_w = PAGE_MM[0] + 2 * strip
    W = int(round(rng.randint(1400, 1801) * mm_w / PAGE_MM[0]))
    H = int(round(W * PAGE_MM[1] / mm_w))
    page = Page(W, H, pick_faces(rng, ribbon), mm_w=mm_w)
    if strip:
        draw_pin_feed(page, strip, rng)
    labels = LabelStyle.sample(rng)
    writer = draw_form(page, content, rng, labels, sheet_dx=strip, show_check=not special and rng.rand() < 0.85)
    seal_layer, stamp_layer = stamp_invoice(writer, content)
    img = print_page(page, seal_layer, stamp_layer, rng, form_ink=form_ink(rng, content["copy"]),
                     value_ink=value_ink(rng), ribbon=ribbon, tint=paper_tint(rng))
    lines = merge_pairs(page.lines, writer.pairs, rng, labels.merge)
    clean = np.clip(img, 0, 255).astype(np.uint8)[:, :, ::-1].copy()
    info = {"kind": content["kind"], "medium": "paper", "copy": content["copy"], "ribbon": ribbon,
            "pin_feed": bool(strip), "daikai": content["daikai"] is not None}
    return clean, lines, info
