"""Per-method means of the per-line records, and the table the tool prints."""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from .scoring import METRICS

SUMMARY_EXTRA = ("randomization_spearman_final", "randomization_spearman_whole_final", "randomization_ssim",
                 "randomization_ssim_whole")


def mean_curve(rows: List[dict]) -> Optional[dict]:
    """Per-step means of the randomisation curves of some records (None without any)."""
    curves = [r["randomization_curve"] for r in rows if r.get("randomization_curve")]
    if not curves:
        return None
    out = {"layers": curves[0]["layers"], "lines": len(curves)}
    for key in ("spearman", "spearman_whole", "ssim", "nonzero_iou", "randomized_fraction"):
        steps = np.array([[np.nan if v is None else v for v in c[key]] for c in curves], np.float64)
        out[key] = [None if not np.isfinite(col).any() else round(float(np.nanmean(col)), 4) for col in steps.T]
    return out


def summarize(records: List[dict]) -> Dict[str, Dict[str, Dict[str, Optional[float]]]]:
    """{task: {method: {metric: mean over lines (None if never computed), n: lines,
    randomization_curve: per-step means}}}."""
    out: Dict[str, Dict[str, Dict[str, Optional[float]]]] = {}
    for r in records:
        out.setdefault(r["task"], {}).setdefault(r["method"], {})
    for task, methods in out.items():
        for method in methods:
            rows = [r for r in records if r["task"] == task and r["method"] == method]
            stats: Dict[str, Optional[float]] = {"n": len(rows)}
            for m in METRICS + SUMMARY_EXTRA:
                vals = [r[m] for r in rows if r.get(m) is not None]
                stats[m] = float(np.mean(vals)) if vals else None
            stats["randomization_curve"] = mean_curve(rows)
            methods[method] = stats
    return out


def format_table(summary: dict) -> str:
    """Fixed-width table: one row per task and method."""
    head = ["task", "method", "n"] + list(METRICS)
    rows = [head]
    for task, methods in summary.items():
        for method, s in methods.items():
            rows.append([task, method, str(s["n"])] + ["-" if s[m] is None else f"{s[m]:.3f}" for m in METRICS])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
