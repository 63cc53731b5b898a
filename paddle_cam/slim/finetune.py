"""Short recovery fine-tuning of a (pruned) DB detector on generated invoices, on CPU.

What follows PaddleOCR's DB training (``ppocr/data/imaug/make_shrink_map.py``,
``ppocr/losses/det_db_loss.py``):
- shrink-map labels: each text polygon shrunk with pyclipper by
  ``D = area * (1 - r^2) / perimeter``, ``r = 0.4``; polygons under ``min_text_size`` (8 px) or cut
  by the crop border are masked out (ignored), not counted as background;
- loss on the shrink map: ``alpha * BCE`` with OHEM (all positives + the hardest negatives, at most
  3 per positive), ``alpha = 5``, plus a dice loss.

What is left out: the threshold map (``MakeBorderMap`` + masked L1, ``beta = 10``) and the dice on
the differentiable-binarisation map ``1 / (1 + exp(-k (P - T)))``: both need the DB head's
threshold branch, which exists only in training checkpoints (inference folders, and so pruned
exports, have the binarize branch only). Here the dice is applied to the shrink map itself. Also
simplified: augmentation (scale jitter around the deployment resize and random 640 x 640 crops
that avoid cutting text; no rotation/flip/CopyPaste) and batch norm, whose running statistics are
kept frozen (batches of 2 on CPU are too small to estimate them; the fused detector has 3 BN
layers). Training pages come from :func:`paddle_cam.demo.invoice.render_invoice` with seeds far
from the demo set's, so the evaluation pages are never trained on.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import paddle
import paddle.nn.functional as F
import pyclipper
from shapely.geometry import Polygon

from ..ocr.det_preprocess import DetPreprocess

SHRINK_RATIO = 0.4
MIN_TEXT_SIZE = 8
TRAIN_SEED0 = 50_000  # demo invoices use seeds ~100; keep training pages far away


@dataclass
class FinetuneConfig:
    """Defaults follow PaddleOCR's det configs where a CPU budget allows (Adam, lr warm-up then
    cosine decay, L2 5e-5, 640 x 640 crops); batch and step counts are CPU-sized."""

    steps: int = 100
    batch_size: int = 2
    crop: int = 640
    lr: float = 1e-3           # PaddleOCR det configs' Adam learning rate
    warmup: int = 10
    weight_decay: float = 5e-5
    alpha: float = 5.0
    neg_ratio: float = 3.0
    pages: int = 16             # distinct generated pages, rendered once and re-cropped
    limit_side_len: int = 960   # the deployment resize the crops are scaled around
    scale_jitter: Tuple[float, float] = (0.8, 1.25)
    seed: int = 0


# ----------------------------------------------------------------------------- labels

def _validate(poly: np.ndarray, h: int, w: int) -> np.ndarray:
    poly = poly.copy()
    poly[:, 0] = np.clip(poly[:, 0], 0, w - 1)
    poly[:, 1] = np.clip(poly[:, 1], 0, h - 1)
    return poly


def shrink_map(polygons: Sequence[np.ndarray], hw: Tuple[int, int], ignore: Optional[Sequence[bool]] = None,
               shrink_ratio: float = SHRINK_RATIO, min_text_size: int = MIN_TEXT_SIZE) -> Tuple[np.ndarray, np.ndarray]:
    """PaddleOCR's ``MakeShrinkMap``: (gt, mask) float32 maps of size ``hw``."""
    h, w = hw
    gt = np.zeros((h, w), np.float32)
    mask = np.ones((h, w), np.float32)
    ignore = list(ignore) if ignore is not None else [False] * len(polygons)
    for poly, ign in zip(polygons, ignore):
        poly = _validate(np.asarray(poly, np.float64).reshape(-1, 2), h, w)
        ph = poly[:, 1].max() - poly[:, 1].min()
        pw = poly[:, 0].max() - poly[:, 0].min()
        if ign or min(ph, pw) < min_text_size:
            cv2.fillPoly(mask, [poly.astype(np.int32)], 0)
            continue
        shape = Polygon(poly)
        if not shape.is_valid or shape.area <= 0:
            cv2.fillPoly(mask, [poly.astype(np.int32)], 0)
            continue
        pco = pyclipper.PyclipperOffset()
        pco.AddPath([tuple(p) for p in poly], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        shrunk = []
        for ratio in np.arange(shrink_ratio, 1, shrink_ratio):  # as PaddleOCR: 0.4, then 0.8
            distance = shape.area * (1 - ratio ** 2) / shape.length
            shrunk = pco.Execute(-distance)
            if len(shrunk) == 1:
                break
        if not shrunk:
            cv2.fillPoly(mask, [poly.astype(np.int32)], 0)
            continue
        for s in shrunk:
            cv2.fillPoly(gt, [np.asarray(s, np.int32).reshape(-1, 2)], 1)
    return gt, mask


def _free_start(spans: List[Tuple[float, float]], length: int, size: int, rng: np.random.RandomState) -> int:
    """A crop start along one axis whose two borders cut no text span, if one exists."""
    if length <= size:
        return 0
    occupied = np.zeros(length + 1, bool)
    for a, b in spans:
        occupied[max(0, int(math.floor(a))):min(length, int(math.ceil(b))) + 1] = True
    starts = np.arange(0, length - size + 1)
    ok = ~occupied[starts] & ~occupied[np.minimum(starts + size, length)]
    good = starts[ok]
    return int(rng.choice(good)) if len(good) else int(rng.randint(0, length - size + 1))


def random_crop(page: np.ndarray, polygons: List[np.ndarray], size: int, rng: np.random.RandomState,
                ignore: Optional[Sequence[bool]] = None):
    """A ``size`` x ``size`` crop (padded with white when the page is smaller) whose borders avoid
    text where possible; polygons crossing a border come back flagged as ignore (as do those
    already flagged in ``ignore``)."""
    flags = list(ignore) if ignore is not None else [False] * len(polygons)
    h, w = page.shape[:2]
    x0 = _free_start([(p[:, 0].min(), p[:, 0].max()) for p in polygons], w, size, rng)
    y0 = _free_start([(p[:, 1].min(), p[:, 1].max()) for p in polygons], h, size, rng)
    crop = np.full((size, size, 3), 255, np.uint8)
    part = page[y0:y0 + size, x0:x0 + size]
    crop[:part.shape[0], :part.shape[1]] = part
    cw, ch = part.shape[1], part.shape[0]
    polys, out_ignore = [], []
    for p, flag in zip(polygons, flags):
        q = p - [x0, y0]
        if q[:, 0].max() < 0 or q[:, 1].max() < 0 or q[:, 0].min() >= cw or q[:, 1].min() >= ch:
            continue
        inside = q[:, 0].min() >= 0 and q[:, 1].min() >= 0 and q[:, 0].max() < cw and q[:, 1].max() < ch
        polys.append(q)
        out_ignore.append(flag or not inside)
    return crop, polys, out_ignore


class InvoiceCrops:
    """Endless training batches from generated invoice pages (rendered once, re-cropped)."""

    def __init__(self, cfg: FinetuneConfig, pages: Optional[List[Tuple[np.ndarray, dict]]] = None,
                 progress: Optional[Callable[[int, int], None]] = None):
        from ..demo.invoice import render_invoice

        self.cfg = cfg
        self.pre = DetPreprocess()
        if pages is None:
            pages = []
            for i in range(cfg.pages):
                pages.append(render_invoice(TRAIN_SEED0 + i))
                if progress:
                    progress(i + 1, cfg.pages)
        self.pages = pages
        self.rng = np.random.RandomState(cfg.seed)

    def sample(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg, rng = self.cfg, self.rng
        img, gt = self.pages[rng.randint(len(self.pages))]
        h, w = img.shape[:2]
        s = cfg.limit_side_len / float(max(h, w)) * rng.uniform(*cfg.scale_jitter)
        page = cv2.resize(img, (max(1, int(round(w * s))), max(1, int(round(h * s)))), interpolation=cv2.INTER_LINEAR)
        polys = [np.asarray(ln["polygon"], np.float64) * s for ln in gt["lines"]]
        ign0 = [str(ln.get("text", "")) == "###" for ln in gt["lines"]]
        crop, cpolys, ignore = random_crop(page, polys, cfg.crop, rng, ign0)
        g, m = shrink_map(cpolys, (cfg.crop, cfg.crop), ignore)
        x = self.pre.normalize(crop)
        return x, g, m

    def batch(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        xs, gs, ms = zip(*[self.sample() for _ in range(self.cfg.batch_size)])
        return np.stack(xs), np.stack(gs), np.stack(ms)


# ----------------------------------------------------------------------------- loss

def db_shrink_loss(logits: paddle.Tensor, gt: paddle.Tensor, mask: paddle.Tensor, alpha: float = 5.0,
                   neg_ratio: float = 3.0, eps: float = 1e-6) -> Dict[str, paddle.Tensor]:
    """``alpha * OHEM-balanced BCE + dice`` on the shrink map (see the module docstring).

    ``logits``: (N, 1, H, W) pre-sigmoid shrink map (BCE from logits: the sigmoid saturates to
    exactly 0 on confident background, where a probability-space BCE would have no gradient).
    """
    z = logits[:, 0]
    positive = gt * mask
    negative = (1 - gt) * mask
    pos_count = int(float(positive.sum()))
    neg_count = int(min(float(negative.sum()), pos_count * neg_ratio))
    bce_map = F.binary_cross_entropy_with_logits(z, gt, reduction="none")
    pos_loss = (bce_map * positive).sum()
    neg = (bce_map * negative).reshape([-1])
    neg_loss = paddle.topk(neg, neg_count)[0].sum() if neg_count > 0 else neg.sum() * 0
    bce = (pos_loss + neg_loss) / (pos_count + neg_count + eps)
    p = F.sigmoid(z)
    inter = (p * gt * mask).sum()
    union = (p * mask).sum() + (gt * mask).sum() + eps
    dice = 1 - 2 * inter / union
    return {"loss": alpha * bce + dice, "bce": bce, "dice": dice}


def _logits_layer(model: paddle.nn.Layer) -> paddle.nn.Layer:
    layers = dict(model.named_sublayers())
    for name in ("head.conv_final", "head.binarize.conv3"):
        if name in layers:
            return layers[name]
    raise ValueError("fine-tuning needs the DB head's last conv (head.conv_final) to read logits from")


def finetune_detector(model: paddle.nn.Layer, cfg: FinetuneConfig, data: Optional[InvoiceCrops] = None,
                      on_step: Optional[Callable[[int, Dict[str, float]], None]] = None) -> List[Dict[str, float]]:
    """Fine-tune ``model`` (a DB detector returning the shrink map) in place; returns per-step logs.

    ``on_step(step, {"loss", "bce", "dice", "lr", "sec"})`` is called after every step (progress
    bars, VisualDL). Batch norm keeps its running statistics (eval mode); everything else trains.
    """
    data = data or InvoiceCrops(cfg)
    warm = max(0, min(cfg.warmup, cfg.steps // 5))
    sched = paddle.optimizer.lr.CosineAnnealingDecay(cfg.lr, T_max=max(1, cfg.steps - warm))
    if warm:
        sched = paddle.optimizer.lr.LinearWarmup(sched, warm, cfg.lr * 0.1, cfg.lr)
    params = [p for p in model.parameters() if not p.stop_gradient]
    opt = paddle.optimizer.Adam(sched, parameters=params, weight_decay=cfg.weight_decay)
    captured = {}
    handle = _logits_layer(model).register_forward_post_hook(lambda l, i, o: captured.__setitem__("z", o))
    model.eval()  # frozen BN statistics; parameters still get gradients
    logs = []
    try:
        for step in range(cfg.steps):
            t0 = time.time()
            x, g, m = data.batch()
            model(paddle.to_tensor(x))
            parts = db_shrink_loss(captured.pop("z"), paddle.to_tensor(g), paddle.to_tensor(m), cfg.alpha,
                                   cfg.neg_ratio)
            parts["loss"].backward()
            lr = opt.get_lr()
            opt.step()
            opt.clear_grad()
            sched.step()
            rec = {k: float(v) for k, v in parts.items()}
            rec.update(lr=float(lr), sec=time.time() - t0)
            logs.append(rec)
            if on_step:
                on_step(step, rec)
    finally:
        handle.remove()
        model.eval()
    return logs
