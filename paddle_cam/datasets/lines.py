"""Rendered Chinese text lines with scan-like degradations (for the orientation classifier)."""
from __future__ import annotations

from typing import List, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..fonts import find_cjk_font_path

LINE_TEXTS = [
    "增值税专用发票",
    "价税合计（大写）壹仟贰佰叁拾肆元伍角陆分",
    "购买方名称：北京云杉数据科技有限公司",
    "纳税人识别号：91110108MA01C3XK2T",
    "开票日期：2024年05月01日",
    "金额 ¥1,234.56  税率 13%  税额 ¥160.49",
]


def render_line(text: str, rng: np.random.RandomState) -> np.ndarray:
    """One degraded text line as BGR uint8: size, ink, paper tint, rotation, blur, noise, JPEG."""
    from PIL import ImageFont

    path, index = find_cjk_font_path()
    size = int(rng.randint(22, 40))
    font = ImageFont.truetype(path, size, index=index)
    w = int(np.ceil(font.getlength(text))) + 2 * int(rng.randint(6, 20))
    h = size + int(rng.randint(10, 22))
    paper = tuple(int(c) for c in (255 - rng.randint(0, 30), 255 - rng.randint(0, 25), 255 - rng.randint(0, 40)))
    ink = tuple(int(c) for c in rng.randint(0, 90, size=3))
    im = Image.new("RGB", (w, h), paper)
    draw = ImageDraw.Draw(im)
    draw.text(((w - font.getlength(text)) / 2, (h - size) / 2 - size * 0.1), text, font=font, fill=ink,
              stroke_width=int(rng.rand() < 0.3))
    im = im.rotate(float(rng.uniform(-2.0, 2.0)), resample=Image.BICUBIC, expand=False, fillcolor=paper)
    im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.0, 1.0))))
    a = np.asarray(im).astype(np.float32)
    a += rng.normal(0, rng.uniform(2, 9), a.shape)
    a = np.clip(a, 0, 255).astype(np.uint8)
    ok, enc = cv2.imencode(".jpg", a[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.randint(45, 90))])
    return cv2.imdecode(enc, cv2.IMREAD_COLOR)


def make_lines(seed: int, texts: Sequence[str] = LINE_TEXTS) -> List[Tuple[str, np.ndarray, int, str]]:
    """(name, BGR image, degrees, text) for every text, upright and turned 180 degrees."""
    rng = np.random.RandomState(seed)
    out = []
    for i, t in enumerate(texts):
        img = render_line(t, rng)
        out.append((f"line_{i:02d}_0", img, 0, t))
        out.append((f"line_{i:02d}_180", np.ascontiguousarray(img[::-1, ::-1]), 180, t))
    return out
