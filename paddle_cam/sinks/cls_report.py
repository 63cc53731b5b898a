"""Files for one explained classifier decision: overlay.png, raw_map.npy and report.json (last)."""
from __future__ import annotations

import os

import numpy as np

from ..io import save_json, save_npy, save_png
from ..models.cls import Classifier
from ..ocr.cls_explain import ClsExplanation
from .overlay import caption, fit_height, overlay, side_by_side


def write_cls_report(out_dir: str, image_path: str, image_bgr: np.ndarray, clf: Classifier, ex: ClsExplanation,
                     alpha: float = 0.45, display_height: int = 96) -> dict:
    """Write the panel (input | heatmap, captioned with the prediction), the raw map on the image
    and report.json; return the report.

    Args:
        display_height: panel height in pixels (text lines are small, so they are scaled up).
    """
    pred = int(np.argmax(ex.probs))
    label = clf.labels[ex.class_id]
    h = int(display_height)
    panel = side_by_side(
        [fit_height(image_bgr[:, :, ::-1], h), fit_height(overlay(image_bgr, ex.image_norm, float(alpha)), h)],
        ["原图 input", f"{ex.cam.method} · 类别 {label}"])
    panel = caption(panel, [f"预测 {clf.labels[pred]}  置信度 {ex.probs[pred]:.4f}   解释类别 {label} "
                            f"(p={ex.probs[ex.class_id]:.4f})   层 {', '.join(ex.cam.layers)}"])
    overlay_path = save_png(os.path.join(out_dir, "overlay.png"), panel)
    raw_path = save_npy(os.path.join(out_dir, "raw_map.npy"), ex.image_raw.astype(np.float32))
    report = {
        "image": os.path.abspath(image_path),
        "size": [int(image_bgr.shape[1]), int(image_bgr.shape[0])],
        "model": {"name": clf.name, "source": os.path.abspath(clf.source), "labels": clf.labels},
        "prediction": {"class_id": pred, "label": clf.labels[pred], "score": float(ex.probs[pred]),
                       "probs": [float(p) for p in ex.probs]},
        "explanations": [{
            "target": {"kind": "class", "class_id": ex.class_id, "label": label, "score": float(ex.probs[ex.class_id])},
            "method": ex.cam.method,
            "layers": ex.cam.layers,
            "layer_map_shapes": {k: list(v.shape[1:]) for k, v in ex.cam.layer_maps.items()},
            "raw_max": float(ex.image_raw.max()),
            "overlay": os.path.abspath(overlay_path),
            "raw_map": os.path.abspath(raw_path),
        }],
    }
    save_json(os.path.join(out_dir, "report.json"), report)
    return report
