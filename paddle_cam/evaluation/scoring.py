"""One method on one line: its map, the deletion/insertion curves and the randomisation check.

Shared by the detector (:mod:`.det`) and field classifier (:mod:`.field`) protocols. ``cfg`` is
the run's flat settings (``n_steps``, ``seed``, ``ig_steps``, ``rise_masks``, ``sanity_methods``,
``gradient_support``, ``baseline_fill`` ...; see ``configs/eval/evaluate_explanations.yml``).
"""
from __future__ import annotations

import time
from typing import Optional, Sequence, Tuple

import numpy as np

from ..methods import get_method, make_method

# the keys every task reports per method (the headline table), then det-only and detail keys
REQUIRED = ("energy_in_box", "pointing_game", "deletion_auc", "insertion_auc", "randomization_spearman")
METRICS = REQUIRED + ("randomization_spearman_whole", "deletion_auc_line", "insertion_auc_line")
RANDOM = "random"  # the baseline map: uniform noise, not a method


def random_map(hw: Tuple[int, int], rng: np.random.RandomState, stride: int = 4) -> np.ndarray:
    """Uniform noise on a stride-4 grid, bilinearly upsampled: as smooth as a neck-level CAM,
    so the baseline differs from the methods in *where* it puts mass, not in resolution."""
    import cv2

    h, w = hw
    g = rng.rand(max(1, h // stride), max(1, w // stride)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)


def evaluation_options(name: str, cfg: dict, region=None) -> dict:
    """The options this evaluation gives method ``name`` (a canonical registry name):
    budgets from ``cfg``, the removal fill as the attribution baseline, black-box masks inside
    ``region`` (x0, y0, x1, y1) when given."""
    cls = get_method(name)
    if cls.kind == "layer_cam":
        return {"gradient_support": cfg.get("gradient_support", True)}
    # ROAD is a way of removing pixels in the curves; the methods' own baseline is paper then
    fill = cfg.get("method_baseline", cfg["baseline_fill"])
    if isinstance(fill, str) and fill == "road":
        fill = "paper"
    if cls.name == "integrated_gradients":
        return {"n_steps": cfg["ig_steps"], "internal_batch_size": 8, "baseline": fill}
    if cls.name == "smoothgrad":
        return {"n_samples": cfg["ig_steps"], "internal_batch_size": 8, "baseline": fill}
    if cls.name == "occlusion":
        size = cfg.get("occlusion_window", 12)
        return {"window": size, "stride": size, "baseline": fill, "batch_size": 8, "region": region}
    if cls.name == "feature_occlusion":
        return {"baseline": fill, "batch_size": 8, "region": region}
    if cls.name == "rise":
        return {"n_masks": cfg["rise_masks"], "grid": cfg.get("rise_grid", (4, 16)), "baseline": fill,
                "batch_size": 8, "region": region, "seed": cfg["seed"]}
    return {}


def sanity_check(model, explain, raw: np.ndarray, x: np.ndarray, target, cascade: Sequence[str], seed: int) -> dict:
    """Cascading randomisation summary of one line's map; the random map (``explain`` None)
    does not depend on the model, so it is returned unchanged at every step."""
    from ..metrics.sanity import cascading_randomization

    if explain is None:
        fn = lambda: raw  # noqa: E731
    else:
        fn = lambda: np.stack([r.raw[0] for r in explain(x, [target])])  # noqa: E731
    return cascading_randomization(model, fn, cascade, seed=seed).summary()


def completeness_gap(res) -> Optional[float]:
    """IG's sum(attr) - (f(x) - f(b)) relative to f(x) - f(b); None for other methods."""
    delta = getattr(res, "delta", None)
    if delta is None:
        return None
    attr_sum = float(np.asarray(res.attributions).sum())
    gap = attr_sum - float(delta[0])  # = f(x) - f(b)
    return float(delta[0] / gap) if gap != 0 else None


def randomization_record(s: dict) -> dict:
    """Record fields of a cascade. The headline ``randomization_spearman`` is the mean over the
    steps of the Spearman correlation on the claim region (pixels where either map is non-zero,
    see ``paddle_cam.metrics.sanity``); ``*_whole`` is the same over the whole map, ``*_final``
    after the last step. Every step weighs the same; steps whose map became constant (Spearman
    undefined) are left out of the means and counted in ``randomization_degenerate_steps``."""
    return {"randomization_spearman": s["mean_claim_spearman"],
            "randomization_spearman_final": s["final_claim_spearman"],
            "randomization_spearman_whole": s["mean_spearman"],
            "randomization_spearman_whole_final": s["final_spearman"],
            "randomization_ssim": s["mean_claim_ssim"], "randomization_ssim_whole": s["mean_ssim"],
            "randomization_degenerate_steps": int(sum(s["degenerate"])),
            "randomization_curve": {"layers": s["layers"], "spearman": s["claim_spearman"],
                                    "spearman_whole": s["spearman"], "ssim": s["claim_ssim"],
                                    "ssim_whole": s["ssim"], "nonzero_iou": s["nonzero_iou"],
                                    "degenerate": s["degenerate"], "changed_tensors": s["changed_tensors"],
                                    "randomized_fraction": s["randomized_fraction"]}}


def score_method(method: str, model, layers, cfg: dict, x: np.ndarray, target, score_fn, fill, ends,
                 rng: np.random.RandomState, cascade: Sequence[str], sanity: bool, region=None,
                 random_stride: int = 4) -> Tuple[np.ndarray, dict]:
    """One method on one line: its (H, W) map and the record fields every task shares
    (deletion/insertion AUCs and curves, timing, IG's completeness gap, the randomisation
    check when ``sanity`` and the method is among ``cfg['sanity_methods']``)."""
    from ..metrics.faithfulness import deletion_insertion

    t0 = time.time()
    explain = None if method == RANDOM else \
        make_method(method, model, layers, **evaluation_options(method, cfg, region)).explain_targets
    gap = None
    if explain is None:
        raw = random_map(x.shape[2:], np.random.RandomState(rng.randint(1 << 30)), random_stride)
    else:
        res = explain(x, [target])[0]
        raw, gap = res.raw[0], completeness_gap(res)
    t_explain = time.time() - t0
    curves = deletion_insertion(x[0], raw, score_fn, fill, cfg["n_steps"], batch_size=8, seed=cfg["seed"],
                                endpoint_scores=ends)
    rec = {"method": method, "score": ends[0], "blank_score": ends[1],
           "deletion_auc": curves["deletion"].auc, "insertion_auc": curves["insertion"].auc,
           "deletion_curve": [round(float(v), 5) for v in curves["deletion"].scores],
           "insertion_curve": [round(float(v), 5) for v in curves["insertion"].scores],
           "randomization_spearman": None, "explain_seconds": round(t_explain, 3)}
    if gap is not None:
        rec["completeness_gap"] = gap
    if sanity and method in cfg["sanity_methods"]:
        rec.update(randomization_record(sanity_check(model, explain, raw, x, target, cascade, cfg["seed"])))
    rec["seconds"] = round(time.time() - t0, 3)
    return raw, rec


def rise_grid(region, cell: int) -> Tuple[int, int]:
    """Grid of RISE cells about ``cell`` pixels square over a region."""
    x0, y0, x1, y1 = region
    return max(2, int(round((y1 - y0) / cell))), max(2, int(round((x1 - x0) / cell)))
