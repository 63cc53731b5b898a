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


# Named CJK type styles the document generators draw with, each a list of (path, face index) in order of
# preference: Hei (sans), its monospaced cut, Song/Ming (the serif of pre-printed forms), Kai (brush), and a
# bitmap-like Hei whose stepped outlines look like a dot-matrix or thermal printer's.
_WQY_MICRO = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
_WQY_ZEN = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
_UMING = "/usr/share/fonts/truetype/arphic/uming.ttc"
_UKAI = "/usr/share/fonts/truetype/arphic/ukai.ttc"
FACE_STYLES = {
    "hei": ((_WQY_MICRO, 0), (_WQY_ZEN, 0), ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2)),
    "hei_mono": ((_WQY_MICRO, 1), (_WQY_ZEN, 1)),
    "song": ((_UMING, 0), ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2)),
    "kai": ((_UKAI, 0),),
    "sharp": ((_WQY_ZEN, 2),),
}


@functools.lru_cache(maxsize=None)
def cjk_style_faces(style: str) -> tuple:
    """The installed faces of a named style (:data:`FACE_STYLES`) that really draw Chinese.

    Falls back to :func:`find_cjk_font_path` when none of the style's faces is installed, so a page
    can always be drawn; the generator's variety then shrinks, it does not fail.

    >>> cjk_style_faces("song")[0]  # doctest: +SKIP
    ('/usr/share/fonts/truetype/arphic/uming.ttc', 0)
    """
    if style not in FACE_STYLES:
        raise KeyError(f"unknown font style {style!r}; one of {', '.join(FACE_STYLES)}")
    found = []
    for path, index in FACE_STYLES[style]:
        if os.path.isfile(path):
            try:
                if draws_cjk(ImageFont.truetype(path, 24, index=index)):
                    found.append((path, index))
            except OSError:
                continue
    return tuple(found) or (find_cjk_font_path(),)
