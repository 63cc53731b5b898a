"""Per-box recognition panels and report entries: the line crop, its text with a confidence per
character, and each explained character's heat map on the crop (issue 15).

Example:
    >>> entry = write_rec_box(out_dir, box_id=3, line=line_explanation)         # doctest: +SKIP
    >>> entry["chars"][0]["char"], entry["chars"][0]["share_in_column"]          # doctest: +SKIP
    ('增', 0.62)
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional

import numpy as np
from PIL import Image, ImageDraw

from ..base import normalize_maps
from ..fonts import cjk_font
from ..io import save_npy, save_png
from ..ocr.rec_explain import LineExplanation
from .overlay import caption, fit_height, overlay

ROW_HEIGHT = 64


def confidence_strip(line: LineExplanation, width: int, font_size: int = 22) -> np.ndarray:
    """The read text, one cell per character with its confidence under it; characters below 0.9
    are drawn red so a reviewer sees where to look."""
    n = max(1, len(line.alignment.chars))
    font, small = cjk_font(font_size), cjk_font(max(10, font_size // 2))
    cell = max(font_size + 8, int(np.ceil(max([small.getlength("0.00")] + [0])) + 6))
    w = max(width, cell * n + 8)
    im = Image.new("RGB", (w, font_size * 2 + 14), (255, 255, 255))
    d = ImageDraw.Draw(im)
    for i, ch in enumerate(line.alignment.chars):
        color = (200, 0, 0) if ch.confidence < 0.9 else (20, 20, 20)
        x = 4 + i * cell
        d.text((x, 2), ch.char, font=font, fill=color)
        d.text((x, font_size + 6), f"{ch.confidence:.2f}", font=small, fill=color)
    return np.asarray(im)


def rec_panel(line: LineExplanation, title: str, alpha: float = 0.45, height: int = ROW_HEIGHT) -> np.ndarray:
    """One image: the crop, the text with confidences, then one captioned overlay per explained
    character (each map normalised on its own)."""
    crop_rgb = fit_height(np.ascontiguousarray(line.crop[:, :, ::-1]), height)
    rows: List[np.ndarray] = [caption(crop_rgb, [title], font_size=16),
                              confidence_strip(line, crop_rgb.shape[1])]
    for ce in line.chars:
        norm = normalize_maps(ce.crop_map[None])[0]
        ov = fit_height(overlay(line.crop, norm, alpha), height)
        if ce.target == "string":
            label = f"whole text {line.text!r}  score {ce.score:.2f} (sum of its characters' log p)"
        elif ce.target == "dropped":
            label = f"dropped character? blank evidence on frames {ce.frames[0]}-{ce.frames[-1]}"
        else:
            vs = f" vs {ce.alternative!r}" if ce.alternative else ""
            label = (f"#{ce.index} {ce.char!r}{vs}  p={ce.confidence:.2f}  frames {ce.frames[0]}-{ce.frames[-1]}  "
                     f"in column {ce.share_in_column:.2f}")
        rows.append(caption(ov, [label], font_size=14))
    w = max(r.shape[1] for r in rows)
    out = np.full((sum(r.shape[0] for r in rows) + 4 * len(rows), w, 3), 255, np.uint8)
    y = 0
    for r in rows:
        out[y:y + r.shape[0], :r.shape[1]] = r
        y += r.shape[0] + 4
    return out


def write_rec_box(out_dir: str, box_id: int, line: LineExplanation, alpha: float = 0.45, raw_maps: bool = True,
                  vdl=None, vdl_prefix: str = "") -> Dict:
    """Write one box's panel (``rec/box_<id>.png``) and raw crop maps (``rec/raw/box_<id>_c<k>.npy``);
    return its report.json entry. VisualDL tags: ``<prefix>/rec/<method>/box_<id>`` (panel),
    ``<prefix>/rec/box_<id>/confidence`` and ``/share_in_column`` (scalars, step = character index)."""
    title = f"box {box_id} · {line.text} · score {line.score:.3f} · {line.method} @ {', '.join(line.layers)}"
    panel = rec_panel(line, title, alpha)
    panel_path = save_png(os.path.join(out_dir, "rec", f"box_{box_id}.png"), panel)
    chars = []
    for ce in line.chars:
        key = f"box_{box_id}_c{ce.index}" if ce.index >= 0 else f"box_{box_id}_{ce.target}"
        raw_path: Optional[str] = None
        if raw_maps:
            raw_path = os.path.abspath(save_npy(os.path.join(out_dir, "rec", "raw", f"{key}.npy"),
                                                ce.crop_map.astype(np.float32)))
        chars.append({"index": ce.index, "char": ce.char, "target": ce.target, "alternative": ce.alternative,
                      "confidence": None if np.isnan(ce.confidence) else round(float(ce.confidence), 6),
                      "frames": [int(t) for t in ce.frames],
                      "columns": [round(float(v), 2) for v in ce.columns],
                      "score": round(float(ce.score), 6), "raw_map": raw_path,
                      "share_in_column": round(float(ce.share_in_column), 4)})
        if vdl is not None and ce.index >= 0:
            if not np.isnan(ce.confidence):
                vdl.scalar(f"{vdl_prefix}/rec/box_{box_id}/confidence", ce.confidence, step=ce.index)
            vdl.scalar(f"{vdl_prefix}/rec/box_{box_id}/share_in_column", ce.share_in_column, step=ce.index)
    if vdl is not None:
        vdl.image(f"{vdl_prefix}/rec/{line.method}/box_{box_id}", panel)
    geo = line.geometry
    return {"box_id": int(box_id), "text": line.text, "score": round(float(line.score), 6),
            "forced": bool(line.alignment.forced), "method": line.method, "layers": list(line.layers),
            "frames": line.alignment.num_frames, "panel": os.path.abspath(panel_path),
            "raw_map_space": "crop", "crop_size": [int(geo.crop_hw[1]), int(geo.crop_hw[0])],
            "crop_to_page": None if geo.to_page is None else [[float(v) for v in r] for r in geo.to_page],
            "crop_rotated": bool(geo.rotated), "chars": chars}
