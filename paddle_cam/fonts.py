"""Finding a font that really draws Chinese (OpenCV's putText cannot; tofu must not pass)."""
from __future__ import annotations

import functools
import os

from PIL import ImageFont

from .errors import FontNotFoundError

# Fonts the set-up installs first (Debian fonts-wqy-microhei), then common alternatives.
CANDIDATES = [
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/System/Library/Fonts/PingFang.ttc", 0),
    ("C:/Windows/Fonts/msyh.ttc", 0),
    ("C:/Windows/Fonts/simhei.ttf", 0),
]
_PROBE = "增值税发票¥1,234.56"


def draws_cjk(font: ImageFont.FreeTypeFont) -> bool:
    """True when the font has real, distinct glyphs for CJK, digits and the yen sign."""
    masks = [bytes(font.getmask(ch)) for ch in ("增", "值", "\uffff", "1", "¥")]
    notdef = masks[2]
    return all(m and m != notdef for m in (masks[0], masks[1], masks[3], masks[4])) and masks[0] != masks[1]


@functools.lru_cache(maxsize=None)
def find_cjk_font_path() -> tuple:
    """(path, face index) of a usable CJK font; ``PADDLE_CAM_FONT`` overrides the search."""
    env = os.environ.get("PADDLE_CAM_FONT")
    cands = [(env, 0)] if env else CANDIDATES  # an explicit choice that fails must not be swapped silently
    for path, index in cands:
        if path and os.path.isfile(path):
            try:
                if draws_cjk(ImageFont.truetype(path, 24, index=index)):
                    return path, index
            except OSError:
                continue
    if env:
        raise FontNotFoundError(f"PADDLE_CAM_FONT={env} cannot draw Chinese text; point it at a CJK .ttf/.ttc/.otf")
    raise FontNotFoundError("no CJK font found to draw Chinese labels; run `apt-get install fonts-wqy-microhei` "
                            "(make install does) or set PADDLE_CAM_FONT to a CJK .ttf/.ttc/.otf file")


def cjk_font(size: int = 18) -> ImageFont.FreeTypeFont:
    """The CJK font of :func:`find_cjk_font_path` at ``size`` pixels."""
    path, index = find_cjk_font_path()
    return ImageFont.truetype(path, size, index=index)
