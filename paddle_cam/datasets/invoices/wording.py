"""How one printing of a form words and spaces its labels: wording variants (纳税人识别号 or
统一社会信用代码/纳税人识别号), the colon (：, : or none), letter-spacing (名　　称, 名 称 or tight), and
whether a label and the value printed right after it read as one line (one ground-truth line whose
``value_span`` points at the value, as a text detector boxes them).

>>> import numpy as np
>>> style = LabelStyle.sample(np.random.RandomState(0))
>>> style.word("名称").startswith("名")
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

# base wording -> variants seen on printed forms (the first is the most common)
WORDINGS: Dict[str, Tuple[str, ...]] = {
    "纳税人识别号": ("纳税人识别号", "纳税人识别号", "纳税人识别号", "统一社会信用代码/纳税人识别号", "纳税人识别码"),
    "地址、电话": ("地址、电话", "地址、电话", "地址电话", "地址、电话号码"),
    "开户行及账号": ("开户行及账号", "开户行及账号", "开户行及帐号", "开户银行及账号"),
    "复核": ("复核", "复核", "复核人"),
    "收款人": ("收款人",),
    "开票人": ("开票人",),
    "开票日期": ("开票日期", "开票日期", "日期"),
    "校验码": ("校验码",),
    "机器编号": ("机器编号", "机打号码"),
}
COLONS = ("：", ":", "")
SPACINGS = ("spread", "fullwidth", "tight")
_BLANKS = str.maketrans("", "", " \u3000")


def gt_label(s: str) -> str:
    """A label as its ground truth records it: letter-spacing blanks removed (名　　称： -> 名称：)."""
    return s.translate(_BLANKS)


@dataclass(frozen=True)
class LabelStyle:
    """The labels of one page; :meth:`sample` draws them from a random state."""

    colon: str
    spacing: str                 # spread: fill the label column; fullwidth: 名　　称; tight: no spacing
    words: Tuple[Tuple[str, str], ...]
    merge: float                 # probability that an adjacent label and value are one line

    @classmethod
    def sample(cls, rng: np.random.RandomState) -> "LabelStyle":
        colon = COLONS[int(rng.choice(3, p=(0.7, 0.15, 0.15)))]
        spacing = SPACINGS[int(rng.choice(3, p=(0.6, 0.2, 0.2)))]
        words = tuple((k, v[int(rng.randint(len(v)))]) for k, v in WORDINGS.items())
        merge = float(rng.choice((0.0, 0.5, 0.9), p=(0.3, 0.3, 0.4)))
        return cls(colon, spacing, words, merge)

    def word(self, base: str) -> str:
        """This page's wording of a label (without colon)."""
        return dict(self.words).get(base, base)

    def text(self, base: str, colon: bool = True) -> str:
        """Wording, letter-spacing of two-character labels (``fullwidth``), and colon."""
        s = self.word(base)
        if self.spacing == "fullwidth" and len(s) == 2:
            s = s[0] + "\u3000\u3000" + s[1]
        return s + (self.colon if colon else "")


def merge_pairs(lines: List[dict], pairs: Sequence[Tuple[int, int]], rng: np.random.RandomState,
                p: float) -> List[dict]:
    """Join label / value pairs that sit on one baseline close together into one line (with
    ``value_span``), each with probability ``p``; ids are renumbered.

    ``lines`` have axis-aligned ``polygon`` arrays (page px); ``pairs`` are (label id, value id).
    """
    drop, joined = set(), {}
    for lid, vid in pairs:
        lab, val = lines[lid], lines[vid]
        (l0, t0), (l1, b0) = lab["polygon"][0], lab["polygon"][2]
        (v0, t1), (v1, b1) = val["polygon"][0], val["polygon"][2]
        h = max(b0 - t0, b1 - t1)
        same_row = abs((t0 + b0) / 2 - (t1 + b1) / 2) < 0.45 * h
        close = -0.2 * h < v0 - l1 < 1.6 * h
        if same_row and close and rng.rand() < p:
            text = lab["text"] + val["text"]
            box = [min(l0, v0), min(t0, t1), max(l1, v1), max(b0, b1)]
            joined[lid] = dict(val, text=text, value_span=[len(lab["text"]), len(text)],
                               polygon=np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]],
                                                 [box[0], box[3]]], np.float64))
            drop.add(vid)
    out = []
    for ln in lines:
        if ln["id"] in drop:
            continue
        out.append(dict(joined.get(ln["id"], ln), id=len(out)))
    return out
