"""Sanity check by cascading model-parameter randomisation (Adebayo et al., NeurIPS 2018).

Layers are re-initialised from the output side down, cumulatively; after each step the maps
are recomputed and compared with the originals (Spearman rank correlation, SSIM, top-10% IoU).
A map that still looks the same once the weights are random explains the architecture or the
input, not what the model learned. The model's weights are always restored afterwards, also
when the explanation or a callback raises.

Two regions are compared, and both are reported:

- the whole map (Adebayo et al.'s number), and
- the *claim region*: the pixels where either map is non-zero, i.e. where the method makes a
  claim at all (``claim_spearman``, ``claim_ssim``).

Why both: a map can be exactly zero on most of the input for reasons of *architecture*, not of
weights. A box target of a DB detector has a gradient only inside the receptive field of the
box (a few pixels around it at the neck), so a gradient-supported CAM is zero on almost all of
a line's window before *and* after any re-initialisation. Those tied zeros dominate a
whole-map rank correlation: two maps that share only that support but are unrelated inside it
still correlate strongly, which says "the receptive field did not move", something no weights
can change. Inside the claim region the ranks compare what the weights decide. The claim
region is the union of both maps' non-zero pixels, so a map whose evidence moves, shrinks or
grows after randomisation is still compared on all of it (pixels one map leaves at zero rank
lowest in that map); it is not restricted to where the maps agree. A method whose map does not
change inside its support when the weights change fails the claim-region check as it should.
``nonzero_iou`` (IoU of the two non-zero sets) shows how much of the support is fixed by the
architecture. SSIM on the claim region is computed on the bounding rectangle of that region
(plus the SSIM window's radius), each map min-max scaled on it. Maps are compared as the
methods return them (ReLU'd CAMs, |attributions| for IG and SmoothGrad: Adebayo et al.'s
absolute-value variant).

Re-initialisation draws each trainable parameter tensor from a normal with the tensor's own
mean and standard deviation: scale-preserving, so activations neither vanish nor explode through
the cascade (which would make maps degenerate rather than random). Single-valued parameters
(learnable scalars) are left alone, and so are non-trainable ones: Paddle keeps BatchNorm's
running mean and variance as parameters, and a re-drawn variance can turn negative (NaN maps).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import paddle

from ..hooks import LayerRef, resolve_layer
from .similarity import spearman, ssim, topk_iou


@dataclass
class RandomizationResult:
    """Similarity of each item's map to its original after each cascade step.

    layers:     cascade order (step i has layers[: i + 1] randomised).
    spearman, ssim, topk_iou: (steps, N) arrays over the whole map.
    claim_spearman, claim_ssim: (steps, N) on the claim region (see the module docstring).
    nonzero_iou: (steps, N) IoU of the two maps' non-zero pixel sets.
    degenerate: (steps, N) bool, the map became constant (e.g. all zero): its Spearman is NaN
                (no ordering left to compare) and it is left out of the means.
    changed:    parameter tensors re-drawn at each step (0 would mean the step changed nothing).
    randomized_fraction: share of the model's trainable elements re-drawn after each step.
    """

    layers: List[str]
    spearman: np.ndarray
    ssim: np.ndarray
    topk_iou: np.ndarray
    degenerate: np.ndarray
    original: np.ndarray
    maps: List[np.ndarray] = field(default_factory=list)
    claim_spearman: Optional[np.ndarray] = None
    claim_ssim: Optional[np.ndarray] = None
    nonzero_iou: Optional[np.ndarray] = None
    changed: List[int] = field(default_factory=list)
    randomized_fraction: List[float] = field(default_factory=list)

    def summary(self) -> Dict[str, object]:
        """Per-step means over items, the mean over all steps and the last step's values
        (NaN-free means; ``None`` when every map was degenerate)."""
        def nanmean(a):
            a = np.asarray(a, np.float64)
            return float(np.nanmean(a)) if np.isfinite(a).any() else None

        out = {"layers": list(self.layers),
               "spearman": [nanmean(v) for v in self.spearman],
               "ssim": [nanmean(v) for v in self.ssim],
               "topk_iou": [nanmean(v) for v in self.topk_iou],
               "degenerate": [int(v.sum()) for v in self.degenerate],
               "changed_tensors": [int(v) for v in self.changed],
               "randomized_fraction": [float(v) for v in self.randomized_fraction],
               "mean_spearman": nanmean(self.spearman), "mean_ssim": nanmean(self.ssim),
               "final_spearman": nanmean(self.spearman[-1]), "final_ssim": nanmean(self.ssim[-1])}
        for key in ("claim_spearman", "claim_ssim", "nonzero_iou"):
            v = getattr(self, key)
            if v is not None:
                out[key] = [nanmean(r) for r in v]
                out[f"mean_{key}"] = nanmean(v)
                out[f"final_{key}"] = nanmean(v[-1])
        return out


class saved_parameters:
    """Context manager: snapshot the given parameters and put them back on exit, always."""

    def __init__(self, params: Sequence[paddle.Tensor]):
        self.params = list(params)
        self.saved: List[np.ndarray] = []

    def __enter__(self) -> "saved_parameters":
        self.saved = [p.numpy().copy() for p in self.params]
        return self

    def __exit__(self, *exc) -> None:
        with paddle.no_grad():
            for p, v in zip(self.params, self.saved):
                p.set_value(v)


def claim_region(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels where either map is non-zero: where at least one of them claims anything."""
    return (np.asarray(a) != 0) | (np.asarray(b) != 0)


def nonzero_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of the non-zero pixel sets of two maps (NaN when both are all zero)."""
    na, nb = np.asarray(a) != 0, np.asarray(b) != 0
    union = int((na | nb).sum())
    return float((na & nb).sum() / union) if union else float("nan")


def claim_spearman(a: np.ndarray, b: np.ndarray, min_pixels: int = 3) -> float:
    """Spearman rank correlation of two maps on their claim region (NaN when it has fewer than
    ``min_pixels`` pixels or either map is constant there)."""
    region = claim_region(a, b)
    if int(region.sum()) < min_pixels:
        return float("nan")
    return spearman(np.asarray(a)[region], np.asarray(b)[region])


def claim_ssim(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> float:
    """SSIM of two 2-D maps on the bounding rectangle of their claim region, grown by the SSIM
    window's radius (NaN when both maps are all zero)."""
    region = claim_region(a, b)
    if not region.any():
        return float("nan")
    ys, xs = np.nonzero(region)
    pad = int(3.5 * sigma + 0.5)
    y0, y1 = max(0, ys.min() - pad), min(region.shape[0], ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(region.shape[1], xs.max() + 1 + pad)
    return ssim(np.asarray(a)[y0:y1, x0:x1], np.asarray(b)[y0:y1, x0:x1], sigma=sigma)


def randomize_layer(layer: paddle.nn.Layer, rng: np.random.RandomState) -> int:
    """Re-draw every trainable parameter of ``layer`` (recursively) from N(mean, std) of its own
    values; returns how many tensors changed."""
    n = 0
    with paddle.no_grad():
        for p in layer.parameters():
            if not p.trainable:
                continue
            v = p.numpy()
            if v.size < 2:
                continue
            std = float(v.std())
            new = rng.normal(float(v.mean()), std if std > 0 else 1e-2, v.shape).astype(v.dtype)
            p.set_value(new)
            n += 1
    return n


def default_cascade(model: paddle.nn.Layer, depth: int = 1) -> List[str]:
    """Named sublayers with parameters at ``depth`` (1 = direct children), output side first.

    Assumes children are registered in execution order, as most models do; pass an explicit
    list when they are not (e.g. for a detector: head, neck, backbone stages last to first).
    """
    names = [n for n, l in model.named_sublayers() if n.count(".") == depth - 1 and l.parameters()]
    return names[::-1]


def _maps(out) -> np.ndarray:
    m = np.asarray(getattr(out, "raw", out), np.float64)
    return m[None] if m.ndim == 2 else m


def cascading_randomization(model: paddle.nn.Layer, explain: Callable[[], object],
                            layers: Optional[Sequence[LayerRef]] = None, seed: int = 0, topk: float = 0.1,
                            callback: Optional[Callable[[int, str, np.ndarray], None]] = None,
                            keep_maps: bool = False) -> RandomizationResult:
    """Randomise ``layers`` one after another (cumulatively) and compare maps with the originals.

    explain:  a callable that recomputes the maps with the model's current weights, returning
              (N, H, W) or (H, W) arrays or a ``CAMResult`` (its ``raw`` maps are used); e.g.
              ``lambda: GradCAM(model, ["neck"])(x, targets)``. Targets stay fixed.
    layers:   names or Layer objects, output side first (default ``default_cascade(model)``).
    callback: called as ``callback(step, layer_name, maps)`` after each step (logging,
              early stop by raising); weights are restored whatever it does.
    """
    refs = list(layers) if layers is not None else default_cascade(model)
    resolved = [resolve_layer(model, r) for r in refs]
    names = [n for n, _ in resolved]
    params: List[paddle.Tensor] = []
    seen = set()
    for _, layer in resolved:
        for p in layer.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    total = sum(int(p.size) for p in model.parameters() if p.trainable) or 1
    rng = np.random.RandomState(seed)
    original = np.nan_to_num(_maps(explain()), nan=0.0, posinf=0.0, neginf=0.0)
    sp, ss, ti, degen, kept, csp, css, nz, changed, frac = [], [], [], [], [], [], [], [], [], []
    drawn = set()
    with saved_parameters(params):
        for step, (name, layer) in enumerate(resolved):
            changed.append(randomize_layer(layer, rng))
            drawn.update(id(p) for p in layer.parameters() if p.trainable and p.size >= 2)
            frac.append(sum(int(p.size) for p in model.parameters() if id(p) in drawn) / total)
            maps = _maps(explain())
            if maps.shape != original.shape:
                raise ValueError(f"explain() returned {maps.shape} after randomising {name}, {original.shape} before")
            maps = np.nan_to_num(maps, nan=0.0, posinf=0.0, neginf=0.0)
            degen.append([bool(b.max() <= b.min()) for b in maps])
            sp.append([spearman(a, b) for a, b in zip(original, maps)])
            ss.append([ssim(a, b) for a, b in zip(original, maps)])
            ti.append([topk_iou(a, b, topk) for a, b in zip(original, maps)])
            csp.append([claim_spearman(a, b) for a, b in zip(original, maps)])
            css.append([claim_ssim(a, b) for a, b in zip(original, maps)])
            nz.append([nonzero_iou(a, b) for a, b in zip(original, maps)])
            if keep_maps:
                kept.append(maps.astype(np.float32))
            if callback is not None:
                callback(step, name, maps)
    return RandomizationResult(names, np.asarray(sp), np.asarray(ss), np.asarray(ti), np.asarray(degen, bool),
                               original.astype(np.float32), kept, claim_spearman=np.asarray(csp),
                               claim_ssim=np.asarray(css), nonzero_iou=np.asarray(nz), changed=changed,
                               randomized_fraction=frac)
