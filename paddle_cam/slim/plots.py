"""Images of a comparison: per-page side-by-side and difference maps, and the summary plot."""
from __future__ import annotations

import io
import os
from typing import List, Sequence, Tuple

import numpy as np


def diverging(d: np.ndarray) -> np.ndarray:
    """[-1, 1] -> RGB: blue (weaker in the variant), white (same), red (stronger)."""
    d = np.clip(d, -1, 1)[..., None]
    white = np.array([255, 255, 255], np.float32)
    red, blue = np.array([200, 30, 30], np.float32), np.array([30, 60, 200], np.float32)
    out = np.where(d >= 0, white + (red - white) * d, white + (blue - white) * (-d))
    return out.astype(np.uint8)


def page_images(image_bgr: np.ndarray, base_comp: np.ndarray, var_comp: np.ndarray, diff_comp: np.ndarray,
                polys: Sequence, name: str, vis_side: int = 1024) -> Tuple[np.ndarray, np.ndarray]:
    """(side_by_side, diff) RGB images of composite box maps. Each box's map is divided by the
    *base* map's maximum for that box (one raw scale per target, shared by base and variant, so a
    weaker variant map looks weaker), and the composites keep, per pixel, the strongest box."""
    import cv2

    from ..sinks.det_report import draw_polygons
    from ..sinks.overlay import caption, overlay, side_by_side

    H, W = image_bgr.shape[:2]
    s = min(1.0, vis_side / float(max(H, W)))
    size = (max(1, int(round(W * s))), max(1, int(round(H * s))))
    img = cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA) if s < 1 else image_bgr
    spolys = [[[x * s, y * s] for x, y in p] for p in polys]
    panels = []
    for comp in (base_comp, var_comp):
        m = cv2.resize(comp.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
        panels.append(draw_polygons(overlay(img, np.clip(m, 0, 1), 0.5), spolys, color=(255, 255, 255), width=1))
    sbs = side_by_side(panels, ["base", name], height=panels[0].shape[0])
    d = cv2.resize(diff_comp.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    gray = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2RGB).astype(np.float32)
    diff = np.uint8(0.35 * gray + 0.65 * diverging(d))
    diff = caption(draw_polygons(diff, spolys, color=(90, 90, 90), width=1),
                   [f"{name} - base, per box in units of the base map's maximum: red stronger, blue weaker"],
                   font_size=14)
    return sbs, diff


def crop_mosaic(base_maps: Sequence[np.ndarray], variant_maps: Sequence[np.ndarray]) -> np.ndarray:
    """RGB tiles, one row per crop: base | variant, both in units of the base map's maximum."""
    import cv2

    from ..sinks.overlay import colorize

    tiles = []
    for a, g in zip(base_maps, variant_maps):
        sm = float(a.max()) or 1.0
        tiles.append(np.concatenate([colorize(np.clip(a / sm, 0, 1)), colorize(np.clip(g / sm, 0, 1))], 1))
    w = max(t.shape[1] for t in tiles)
    return np.concatenate([cv2.resize(t, (w, max(8, int(t.shape[0] * w / t.shape[1])))) for t in tiles], 0)


def plot_comparison(recs: List[dict], path: str, kind: str) -> str:
    """Quality and drift against pruning ratio (base at 0; fine-tuned variants dashed); returns
    the absolute path of the PNG written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_write_bytes

    quality = "hmean" if kind == "det" else "accuracy"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    by_ratio = all(r.get("ratio") is not None or r["name"] == "base" for r in recs)

    def xs(rows):
        return [(r.get("ratio") or 0.0) if by_ratio else i for i, r in enumerate(rows)]

    groups = {"pruned": [r for r in recs if not r.get("finetune_steps")],
              "fine-tuned": [r for r in recs if r.get("finetune_steps")]}
    base = next((r for r in recs if r["name"] == "base"), None)
    if base is not None and groups["fine-tuned"]:
        groups["fine-tuned"] = [base] + groups["fine-tuned"]
    for gname, rows in groups.items():
        if not rows:
            continue
        ls = "-" if gname == "pruned" else "--"
        x = xs(rows)
        ax = axes[0]
        qual = [(quality, quality, "C0")] + ([("hmean_deteval", "hmean DetEval", "C7")] if kind == "det" else [])
        for key, label, c in qual + [("flops", "FLOPs / base", "C1"), ("params", "params / base", "C2"),
                                     ("latency_ms", "latency / base", "C3")]:
            ref = base.get(key) if base else None
            vals = [r.get(key) for r in rows]
            if key not in (quality, "hmean_deteval"):
                vals = [v / ref if v is not None and ref else None for v in vals]
            ax.plot(x, [float("nan") if v is None else v for v in vals], ls, marker="o", color=c,
                    label=f"{label} ({gname})")
        ax = axes[1]
        for key, c in (("spearman", "C4"), ("ssim", "C5"), ("topk_iou", "C6")):
            ax.plot(x, [float("nan") if r.get(key) is None else r[key] for r in rows], ls, marker="o", color=c,
                    label=f"{key} ({gname})")
    for ax, title in zip(axes, (f"quality and cost ({quality})", "explanation drift vs base (same targets)")):
        ax.set_xlabel("pruning ratio" if by_ratio else "variant")
        ax.set_title(title)
        ax.set_ylim(-0.05, 1.25 if ax is axes[0] else 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best", ncol=2, framealpha=0.6)
    if not by_ratio:
        for ax in axes:
            ax.set_xticks(range(len(recs)))
            ax.set_xticklabels([r["name"] for r in recs])
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return os.path.abspath(path)
