"""Files for one explained page: page overlay, a panel per explanation, raw maps, report.json.

report.json is written last, so its presence marks a page as complete.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional

import numpy as np
from PIL import Image, ImageDraw

from ..fonts import cjk_font
from ..geometry import box_window
from ..io import save_json, save_npy, save_png
from ..ocr.explain import PageResult, compact_raw
from .overlay import caption, overlay, side_by_side


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


def explanation_panel(image_bgr: np.ndarray, page_norm: np.ndarray, poly, title: str, alpha: float = 0.45) -> np.ndarray:
    """Crop of the page around ``poly``: the page and the heatmap side by side, captioned."""
    if poly is not None:  # the box with 1.5 text heights (at least 16 px) of context around it
        x0, y0, x1, y1 = box_window(poly, image_bgr.shape[:2], grow=1.5, min_pad=16, whole_pad=True)
    else:
        x0, y0, x1, y1 = 0, 0, image_bgr.shape[1], image_bgr.shape[0]
    crop = image_bgr[y0:y1, x0:x1]
    local = [[p[0] - x0, p[1] - y0] for p in poly] if poly is not None else None
    left = crop[:, :, ::-1].copy()
    right = overlay(crop, page_norm[y0:y1, x0:x1], alpha)
    if local is not None:
        left = draw_polygons(left, [local])
        right = draw_polygons(right, [local], color=(255, 255, 255), width=1)
    h = max(64, min(240, left.shape[0]))
    return caption(side_by_side([left, right], height=h), [title], font_size=16)


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


def write_page(out_dir: str, image_path: str, result: PageResult, model_info: Dict, method: str, layers: List[str],
               alpha: float = 0.45, raw_maps: str = "grid", vdl=None, vdl_prefix: str = "") -> Dict:
    """Write every output of one explained page and return the report dict.

    With per-character recognition explanations (``result.rec``, issue 15) the report gets a
    ``rec`` list (one entry per box: text, score, panel, and per character its text, confidence,
    frames, raw crop map and share in its own column; a box that could not be explained has an
    ``error``); nothing else changes."""
    page = result.page
    H, W = page.page_hw
    boxes = page.boxes
    labels = [str(b.id) for b in boxes]  # texts live in the report and panels; on the page they hide the heat
    page_rgb = page.image[:, :, ::-1]
    all_text = next((e for e in result.explanations if e.target["kind"] == "all_text"), None)
    base = overlay(page.image, all_text.page_norm((H, W)), alpha) if all_text is not None else page_rgb.copy()
    page_png = draw_polygons(base, [b.polygon for b in boxes], labels)
    page_path = save_png(os.path.join(out_dir, "page.png"), page_png)
    if vdl is not None:
        vdl.image(f"{vdl_prefix}/det/{method}/page", page_png)
        vdl.text(f"{vdl_prefix}/boxes", "\n".join(f"{b.id}\t{b.score:.3f}\t{b.text or ''}" for b in boxes))
        for b in boxes:
            vdl.scalar(f"{vdl_prefix}/det/score", b.score, step=b.id)
    explanations = []
    by_id = {b.id: b for b in boxes}
    for ex in result.explanations:
        key = _target_key(ex.target)
        poly = by_id[ex.target["box_id"]].polygon if ex.target["kind"] == "box" else ex.target.get("polygon")
        if ex.target["kind"] == "box":
            b = by_id[ex.target["box_id"]]
            title = (f"box {b.id} · {b.text or ''} · det {b.score:.2f} · energy_in_box {ex.energy_in_box:.2f} · "
                     f"{method} @ {', '.join(layers)}")
        elif ex.target["kind"] == "missed":
            title = (f"{key} · peak p={ex.target['peak_prob']:.2f} (thresh {ex.target['db_thresh']:.2f}) · "
                     f"energy_in_box {ex.energy_in_box:.2f}")
        elif ex.target["kind"] == "region":
            title = f"{key} · energy_in_box {ex.energy_in_box:.2f}"
        else:
            title = f"all text · {method}"
        panel = explanation_panel(page.image, ex.page_norm((H, W)), poly, title, alpha) if poly is not None else None
        panel_path = save_png(os.path.join(out_dir, "panels", f"{key}.png"), panel) if panel is not None else page_path
        raw = ex.page_raw((H, W)).astype(np.float32) if raw_maps == "page" else compact_raw(ex.layer_maps)
        raw_path = save_npy(os.path.join(out_dir, "raw", f"{key}.npy"), raw) if raw_maps != "none" else None
        item = {
            "target": ex.target, "method": method, "layers": layers,
            "energy_in_box": ex.energy_in_box,
            "regions": ex.regions["regions"], "background": ex.regions["background"],
            "overlay": os.path.abspath(panel_path),
            "raw_map": os.path.abspath(raw_path) if raw_path else None,
            "raw_map_grid": [int(raw.shape[1]), int(raw.shape[0])] if raw_path else None,
            "raw_map_to_page": [W / float(raw.shape[1]), H / float(raw.shape[0])] if raw_path else None,
            "raw_max": float(max(m.max() for m in ex.layer_maps.values())),
        }
        explanations.append(item)
        if vdl is not None:
            if panel is not None:
                vdl.image(f"{vdl_prefix}/det/{method}/{key}", panel)
            if ex.energy_in_box is not None:
                step = ex.target["box_id"] if ex.target["kind"] == "box" else 0
                vdl.scalar(f"{vdl_prefix}/det/{method}/energy_in_box" + ("" if ex.target["kind"] == "box" else f"_{key}"),
                           ex.energy_in_box, step=step)
    report = {
        "image": os.path.abspath(image_path),
        "size": [int(W), int(H)],
        "input_size": [int(page.input_hw[1]), int(page.input_hw[0])],
        "model": model_info,
        "boxes": [{"id": b.id, "polygon": [[round(x, 2), round(y, 2)] for x, y in b.polygon], "score": b.score,
                   "text": b.text, "text_score": b.text_score} for b in boxes],
        "page_overlay": os.path.abspath(page_path),
        "explanations": explanations,
    }
    if result.rec:
        from .rec_panel import write_rec_box

        report["rec"] = [write_rec_box(out_dir, box_id, line, alpha, raw_maps != "none", vdl, vdl_prefix)
                         if not isinstance(line, str) else {"box_id": int(box_id), "error": line}
                         for box_id, line in result.rec]
    save_json(os.path.join(out_dir, "report.json"), report)
    return report
