"""Files for one explained page: page overlay, a panel per explanation, raw maps, report.json.

report.json is written last, so its presence marks a page as complete.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw

from ..fonts import cjk_font
from ..geometry import box_window
from ..io import save_json, save_npz, save_png
from ..ocr.explain import PageResult, compact_raw
from .overlay import caption, colour_bar, fit_height, fmt_value, heat_overlay, place_labels, side_by_side


def draw_polygons(rgb: np.ndarray, polygons: List, labels: Optional[List[str]] = None,
                  color=(0, 200, 0), width: int = 2) -> np.ndarray:
    """Polygons (page pixels) with optional labels drawn above them (CJK-safe)."""
    im = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(im)
    size = max(12, int(round(min(rgb.shape[:2]) / 70)))
    font = cjk_font(size) if labels else None
    for i, poly in enumerate(polygons):
        pts = [tuple(map(float, p)) for p in poly]
        draw.line(pts + [pts[0]], fill=color, width=width)
        if labels and labels[i]:
            x, y = min(p[0] for p in pts), min(p[1] for p in pts)
            draw.text((x, max(0, y - size - 2)), labels[i], font=font, fill=color)
    return np.asarray(im)


def explanation_panel(image_bgr: np.ndarray, ex, poly, lines: List[str], vmax: float, alpha: float = 0.6,
                      scale_label: str = "") -> np.ndarray:
    """Crop of the page around ``poly`` with the map over it on the scale [0, ``vmax``] (the page
    shows through where the map is low) and its colour bar, under caption ``lines``."""
    H, W = image_bgr.shape[:2]
    if poly is not None:  # the box with 1.5 text heights (at least 16 px) of context around it
        x0, y0, x1, y1 = box_window(poly, (H, W), grow=1.5, min_pad=16, whole_pad=True)
    else:
        x0, y0, x1, y1 = 0, 0, W, H
    crop = image_bgr[y0:y1, x0:x1]
    local = [[p[0] - x0, p[1] - y0] for p in poly] if poly is not None else None
    heat = heat_overlay(crop, ex.page_raw_window((H, W), (x0, y0, x1, y1)), vmax, alpha)
    if local is not None:
        heat = draw_polygons(heat, [local], color=(0, 170, 255), width=1)
    h = max(64, min(240, heat.shape[0]))
    return caption(side_by_side([fit_height(heat, h), colour_bar(h, vmax, scale_label)], gap=4), lines,
                   font_size=15)


def region_summary(regions: List[Dict], background: float, own_id: Optional[int], texts: Dict[int, str],
                   top: int = 3) -> Dict:
    """Where a map's mass went, led by the target's own box: ``own_share`` (None without a box),
    the ``top`` other regions with their text, the rest of the boxes in ``other_regions`` and the
    ``background``; the four add up to 1.

    >>> region_summary([{"box_id": 0, "share": 0.6}, {"box_id": 1, "share": 0.3}, {"box_id": 2, "share": 0.05}],
    ...                0.05, 0, {1: "价税合计"}, top=1)["top_regions"]
    [{'box_id': 1, 'text': '价税合计', 'share': 0.3}]
    """
    own = next((r["share"] for r in regions if r["box_id"] == own_id), None) if own_id is not None else None
    others = sorted((r for r in regions if r["box_id"] != own_id and r["share"] > 0), key=lambda r: -r["share"])
    shown = [{"box_id": int(r["box_id"]), "text": texts.get(r["box_id"], ""), "share": float(r["share"])}
             for r in others[:top]]
    return {"own_share": own, "top_regions": shown,
            "other_regions": float(sum(r["share"] for r in others[top:])), "background": float(background)}


def share_line(summary: Dict, top: int = 2) -> str:
    """A caption's second line: "own box 72% · ← 12 '价税合计' 15% · background 9%"."""
    parts = [] if summary["own_share"] is None else [f"own box {100 * summary['own_share']:.0f}%"]
    for r in [r for r in summary["top_regions"] if r["share"] >= 0.005][:top]:
        text = r["text"] if len(r["text"]) <= 10 else r["text"][:9] + "…"
        parts.append(f"← {r['box_id']} '{text}' {100 * r['share']:.0f}%")
    parts.append(f"background {100 * summary['background']:.0f}%")
    return " · ".join(parts)


def _title(ex, box, key: str) -> str:
    t = ex.target
    if t["kind"] == "box":
        rec = f" · rec {box.text_score:.2f}" if box.text_score is not None else ""
        return f"box {box.id} · {box.text or ''}{rec} · det {box.score:.2f}"
    if t["kind"] == "missed":
        return f"{key} · peak p={t['peak_prob']:.2f} (DB thresh {t['db_thresh']:.2f})"
    return key if t["kind"] == "region" else "all text"


def page_overlay(result: PageResult, alpha: float = 0.6) -> np.ndarray:
    """The page with the all-text map (when explained) on its own raw scale and a colour bar, and
    every box outlined with its id (placed clear of the other ids)."""
    page = result.page
    H, W = page.page_hw
    all_text = next((e for e in result.explanations if e.target["kind"] == "all_text"), None)
    if all_text is not None:
        raw = all_text.page_raw((H, W))
        vmax = float(raw.max())
        base = heat_overlay(page.image, raw, vmax, alpha)
    else:
        base, vmax = page.image[:, :, ::-1].copy(), None
    base = draw_polygons(base, [b.polygon for b in page.boxes], color=(0, 170, 255), width=1)
    im = Image.fromarray(base)
    draw = ImageDraw.Draw(im)
    size = max(11, int(round(min(H, W) / 90)))
    font = cjk_font(size)
    labels = [str(b.id) for b in page.boxes]
    rects = [tuple(np.r_[np.min(b.polygon, axis=0), np.max(b.polygon, axis=0)]) for b in page.boxes]
    sizes = [(int(font.getlength(t)) + 4, size + 3) for t in labels]
    for (x, y), (w, h), t in zip(place_labels(rects, sizes, (H, W)), sizes, labels):
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(255, 255, 255))
        draw.text((x + 2, y), t, font=font, fill=(0, 90, 200))
    out = np.asarray(im)
    if vmax is not None:
        out = side_by_side([out, colour_bar(H, vmax, "all text", width=max(14, W // 80), font_size=size)], gap=6)
    return out


def _raw_grid(ex, raw_maps: str, page_hw) -> np.ndarray:
    return ex.page_raw(page_hw).astype(np.float32) if raw_maps == "page" else compact_raw(ex.layer_maps)


def _nonzero_window(raw: np.ndarray) -> Tuple[int, int, int, int]:
    ys, xs = np.nonzero(raw > 0)
    if len(xs) == 0:
        return 0, 0, 0, 0
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def load_raw_map(report: Dict, explanation: Dict) -> np.ndarray:
    """An explanation's raw map (float32, its ``raw_map_grid``) from the page's ``raw.npz``.

    Example:
        >>> rep = json.load(open("output/ocr/invoice/report.json"))          # doctest: +SKIP
        >>> load_raw_map(rep, rep["explanations"][0]).shape                  # doctest: +SKIP
        (144, 240)
    """
    w, h = explanation["raw_map_grid"]
    out = np.zeros((h, w), np.float32)
    x0, y0, x1, y1 = explanation["raw_window"]
    if x1 > x0 and y1 > y0:
        with np.load(report["raw_maps"]) as z:
            out[y0:y1, x0:x1] = z[explanation["raw_key"]].astype(np.float32) * explanation["raw_scale"]
    return out


def page_report(result: PageResult, model_info: Dict, method: str, layers: List[str], top_regions: int = 3) -> Dict:
    """report.json's content without its file paths: the boxes and, per explanation, its target,
    the box's own share of the map, the top other regions, the rest, ``energy_in_box`` and the
    raw scale."""
    page = result.page
    H, W = page.page_hw
    texts = {b.id: b.text or "" for b in page.boxes}
    items = []
    for ex in result.explanations:
        own = ex.target.get("box_id") if ex.target["kind"] == "box" else None
        item = {"target": ex.target, "method": method, "layers": layers,
                **region_summary(ex.regions["regions"], ex.regions["background"], own, texts, top_regions),
                "energy_in_box": ex.energy_in_box,
                "raw_max": float(max(m.max() for m in ex.layer_maps.values()))}
        items.append(item)
    return {
        "size": [int(W), int(H)],
        "input_size": [int(page.input_hw[1]), int(page.input_hw[0])],
        "rotation": int(getattr(page, "rotation", 0) or 0),
        "model": model_info,
        "boxes": [{"id": b.id, "polygon": [[round(x, 2), round(y, 2)] for x, y in b.polygon], "score": b.score,
                   "text": b.text, "text_score": b.text_score} for b in page.boxes],
        "explanations": items,
    }


def _target_key(t: Dict) -> str:
    return f"box_{t['box_id']}" if t["kind"] == "box" else t.get("name", t["kind"])


def model_record(pipeline) -> Dict:
    """report.json's ``model``: the weights a :class:`~paddle_cam.ocr.pipeline.TextPipeline` loaded,
    described from what was loaded (never from what was asked for): the detector's name (the one
    its folder declares, else the loader's), path, format, architecture and fusion, with the
    recogniser's own record under ``rec`` (None without one).

    Example:
        >>> model_record(pipeline)["name"], model_record(pipeline)["rec"]["name"]  # doctest: +SKIP
        ('PP-OCRv4_mobile_det', 'PP-OCRv4_mobile_rec')
    """
    from ..models.names import weights_record

    det = pipeline.detector
    record = weights_record("det", det.source, det.name, det.format)
    record.update({"arch": det.arch, "fused": det.fused, "source": record["path"], "weights": record["path"]})
    rec = pipeline.rec
    if rec is not None:
        loaded = rec.recognizer  # the dynamic-graph recogniser: what was loaded and is explained
        rec = weights_record("rec", loaded.source, loaded.name, loaded.fmt)
    record["rec"] = rec
    return record


OUTPUT_DEFAULTS = {"alpha": 0.6, "raw_maps": "grid", "panels": True, "colour_scale": "page", "top_regions": 3}


def write_page(out_dir: str, image_path: str, result: PageResult, model_info: Dict, method: str, layers: List[str],
               output: Optional[Dict] = None, vdl=None, vdl_prefix: str = "") -> Dict:
    """Write every output of one explained page and return the report dict.

    ``output`` (``configs/det/explain_ocr.yml`` ``Output``): ``alpha`` (the heat's opacity at
    its top), ``raw_maps`` (``grid``: each map on its finest layer's grid, ``page``: on page
    pixels, ``none``), ``panels`` (a panel per explanation), ``colour_scale`` (``page``: one scale
    for the panels of a page, so they compare; ``panel``: each its own), ``top_regions``.

    Files: ``page.png``, ``panels/<target>.png``, ``raw.npz`` (each map cropped to where it is
    non-zero, float16 relative to its ``raw_scale``: :func:`load_raw_map`), ``report.json``
    (last: its presence marks the page complete). With per-character recognition explanations
    (``result.rec``) also ``rec/`` and the report's ``rec`` list."""
    o = {**OUTPUT_DEFAULTS, **(output or {})}
    alpha, raw_maps = float(o["alpha"]), o["raw_maps"]
    page = result.page
    H, W = page.page_hw
    report = page_report(result, model_info, method, layers, int(o["top_regions"]))
    page_png = page_overlay(result, alpha)
    page_path = save_png(os.path.join(out_dir, "page.png"), page_png, palette=256)
    by_id = {b.id: b for b in page.boxes}
    shared = max((it["raw_max"] for it in report["explanations"] if it["target"]["kind"] != "all_text"), default=0.0)
    arrays = {}
    box_panels: Dict[int, np.ndarray] = {}   # for VisualDL, as drawn (not read back from their files)
    for ex, item in zip(result.explanations, report["explanations"]):
        key = _target_key(ex.target)
        poly = by_id[ex.target["box_id"]].polygon if ex.target["kind"] == "box" else ex.target.get("polygon")
        item["overlay"] = os.path.abspath(page_path)
        if poly is not None and o["panels"]:
            own_scale = o["colour_scale"] == "panel"
            peak = item["raw_max"]
            vmax = peak if own_scale else shared
            scale = "panel" if own_scale else f"page; this map's peak is {100 * peak / vmax:.0f}% of it" if vmax else "page"
            lines = [_title(ex, by_id.get(ex.target.get("box_id")), key), share_line(item),
                     f"{method} @ {', '.join(layers)} · scale 0–{fmt_value(vmax)} ({scale})"]
            panel = explanation_panel(page.image, ex, poly, lines, vmax, alpha)
            item["overlay"] = os.path.abspath(save_png(os.path.join(out_dir, "panels", f"{key}.png"), panel, palette=64))
            if vdl is not None and ex.target["kind"] == "box":
                box_panels[int(ex.target["box_id"])] = panel
        if raw_maps != "none":
            raw = _raw_grid(ex, raw_maps, (H, W))
            x0, y0, x1, y1 = _nonzero_window(raw)
            scale = float(raw.max()) or 1.0
            arrays[key] = (raw[y0:y1, x0:x1] / scale).astype(np.float16)
            item.update({"raw_key": key, "raw_window": [x0, y0, x1, y1], "raw_scale": scale,
                         "raw_map_grid": [int(raw.shape[1]), int(raw.shape[0])],
                         "raw_map_to_page": [W / float(raw.shape[1]), H / float(raw.shape[0])]})
    report = {"image": os.path.abspath(image_path), **report, "page_overlay": os.path.abspath(page_path),
              "raw_maps": os.path.abspath(save_npz(os.path.join(out_dir, "raw.npz"), arrays)) if arrays else None,
              "colour_scale": {"panels": o["colour_scale"], "page_max": shared}}
    if vdl is not None:
        log_page(vdl, vdl_prefix, method, report, page_png, box_panels)
    if result.rec:
        from .rec_panel import write_rec_box

        report["rec"] = [write_rec_box(out_dir, box_id, line, alpha, raw_maps != "none", vdl, vdl_prefix)
                         if not isinstance(line, str) else {"box_id": int(box_id), "error": line}
                         for box_id, line in result.rec]
    save_json(os.path.join(out_dir, "report.json"), report)
    return report


def log_page(vdl, prefix: str, method: str, report: Dict, page_png: np.ndarray, panels: Dict[int, np.ndarray]) -> None:
    """One page in VisualDL: the page overlay; one image tag per page and method whose steps are
    the box ids (VisualDL's step slider walks the boxes); the box texts; per-page histograms of
    the own-box shares and detection scores (box order carries no trend to draw)."""
    vdl.image(f"{prefix}/det/{method}/page", page_png)
    for box_id in sorted(panels):
        vdl.image(f"{prefix}/det/{method}/boxes", panels[box_id], step=box_id)
    vdl.text(f"{prefix}/boxes", "\n".join(f"{b['id']}\t{b['score']:.3f}\t{b['text'] or ''}" for b in report["boxes"]))
    own = [e["own_share"] for e in report["explanations"] if e.get("own_share") is not None]
    if own:
        vdl.histogram(f"{prefix}/det/{method}/own_share", np.asarray(own, np.float32))
    if report["boxes"]:
        vdl.histogram(f"{prefix}/det/score", np.asarray([b["score"] for b in report["boxes"]], np.float32))
