"""Short recovery fine-tuning of a (pruned) DB detector on generated invoices, on CPU.

The DB training objective as PaddleOCR sets it up (``ppocr/data/imaug/make_shrink_map.py``,
``make_border_map.py``, ``ppocr/modeling/heads/det_db_head.py``, ``ppocr/losses/det_db_loss.py``):

- shrink-map labels (:func:`shrink_map`): each text polygon shrunk with pyclipper by
  ``D = area * (1 - r^2) / perimeter``, ``r = 0.4``; polygons under ``min_text_size`` (8 px), flagged
  ``###`` or cut by the crop border are masked out (ignored), not counted as background;
- threshold-map labels (:func:`border_map`, ``MakeBorderMap``): the polygon grown by the same
  ``D``; inside that band the label is ``thresh_min + (thresh_max - thresh_min) * (1 - d / D)``
  with ``d`` the distance to the nearest polygon edge (0.7 on the edge, 0.3 from ``D`` inwards
  and outwards), mask = the grown polygons;
- threshold branch: the DB head's training-only ``thresh`` head (conv 3x3 + BN + ReLU, two 2x2
  transposed convs, sigmoid), and the approximate binary map ``B = 1 / (1 + exp(-k (P - T)))``,
  ``k = 50``;
- loss (:func:`db_loss`): ``alpha * L_shrink + beta * L1(T) + dice(B)``, ``alpha = 5``,
  ``beta = 10``; ``L1`` is the masked L1 on the threshold map, ``dice(B)`` uses the shrink labels.
  ``L_shrink`` is BCE with OHEM (all positives, the hardest negatives up to 3 per positive), the
  DB paper's loss and PaddleOCR's ``BalanceLoss(main_loss_type="BCELoss")``. PaddleOCR's shipped
  DB configs (PP-OCRv4 included) say ``main_loss_type: DiceLoss``; its ``BalanceLoss`` then
  multiplies a scalar dice by the OHEM masks, which reduces to a plain dice on the shrink map -
  ``FinetuneConfig.shrink_loss="dice"`` reproduces that.
- optimiser: Adam, L2 5e-5, warm-up then cosine decay; the peak learning rate scales PaddleOCR's
  1e-3 for a total batch of 64 (8 cards x 8) linearly to the batch used, as its fine-tuning notes
  ask.

Where this differs, and why:
- Inference folders (and so pruned exports) hold no threshold branch. It is built fresh for
  training (:class:`ThreshHead`): its conv/BN layers start as copies of the shrink branch's, its
  last conv at zero weight with the bias of ``T = thresh_min`` (0.3, the post-processing's
  binarisation threshold), so ``B`` starts as the deployed binarisation. It is dropped after
  training: only the shrink branch is exported, as PaddleOCR exports it.
- The model trained is the *re-parameterised* (fused) PP-LCNetV3: each learnable rep layer is
  one conv with bias, as stored in the inference folder. The multi-branch training form cannot
  be recovered from it; a fused conv trains as a plain conv, with the same function at start.
- Batch norm keeps its running statistics (eval mode; ``train_bn=True`` switches to batch
  statistics): the fused detector has three BN layers (stem, two in the head), batches are two
  crops of a handful of pages, and a few hundred steps at momentum 0.9 would leave the running
  averages of the last few batches in the export. Gradients still reach BN's scale and shift.
- Augmentation: scale jitter around the deployment resize and random 640 x 640 crops that avoid
  cutting text (no rotation/flip/CopyPaste). Training pages come from
  :func:`paddle_cam.datasets.invoices.render_invoice` with seeds far from the demo set's, so the
  evaluation pages are never trained on.
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
THRESH_MIN, THRESH_MAX = 0.3, 0.7
BASE_LR, BASE_BATCH = 1e-3, 64  # PaddleOCR det configs: Adam 1e-3 for 8 cards x 8 images
TRAIN_SEED0 = 50_000  # demo invoices use seeds ~100; keep training pages far away


@dataclass
class FinetuneConfig:
    """Defaults follow PaddleOCR's DB configs where a CPU budget allows (see the module docstring);
    batch and step counts are CPU-sized."""

    steps: int = 100
    batch_size: int = 2
    crop: int = 640
    lr: Optional[float] = None  # peak learning rate; None: 1e-3 * batch_size / 64 (PaddleOCR's linear rule)
    warmup: int = 10
    weight_decay: float = 5e-5
    alpha: float = 5.0
    beta: float = 10.0
    k: float = 50.0
    neg_ratio: float = 3.0
    labels: str = "detector"    # label boxes: "detector" (grown to the model's box convention) or "tight"
    shrink_loss: str = "bce"    # "bce" (OHEM BCE, the DB paper) or "dice" (PaddleOCR's main_loss_type: DiceLoss)
    thresh_min: float = THRESH_MIN
    thresh_max: float = THRESH_MAX
    train_bn: bool = False
    pages: int = 16             # distinct generated pages, rendered once and re-cropped
    limit_side_len: int = 960   # the deployment resize the crops are scaled around
    scale_jitter: Tuple[float, float] = (0.8, 1.25)
    seed: int = 0

    @property
    def peak_lr(self) -> float:
        return float(self.lr) if self.lr is not None else BASE_LR * self.batch_size / BASE_BATCH


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
        for ratio in np.append(np.arange(shrink_ratio, 1, shrink_ratio), 1.0):  # as PaddleOCR: 0.4, 0.8, 1
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


def _segment_distance(xs: np.ndarray, ys: np.ndarray, p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """Distance of grid points to the edge ``p1``-``p2`` as PaddleOCR's ``MakeBorderMap._distance``
    computes it: the distance to the edge's line where the point sees the edge under an obtuse
    angle, else to the nearer end point."""
    d1 = (xs - p1[0]) ** 2 + (ys - p1[1]) ** 2
    d2 = (xs - p2[0]) ** 2 + (ys - p2[1]) ** 2
    d12 = float((p1[0] - p2[0]) ** 2 + (p1[1] - p2[1]) ** 2)
    if d12 <= 0:
        return np.sqrt(np.minimum(d1, d2))
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = (d12 - d1 - d2) / (2 * np.sqrt(d1 * d2))
        sin2 = np.nan_to_num(1 - cos ** 2)
        out = np.sqrt(np.maximum(d1 * d2 * sin2 / d12, 0))
    acute = cos < 0
    out[acute] = np.sqrt(np.minimum(d1, d2))[acute]
    return out


def border_map(polygons: Sequence[np.ndarray], hw: Tuple[int, int], ignore: Optional[Sequence[bool]] = None,
               shrink_ratio: float = SHRINK_RATIO, thresh_min: float = THRESH_MIN,
               thresh_max: float = THRESH_MAX) -> Tuple[np.ndarray, np.ndarray]:
    """PaddleOCR's ``MakeBorderMap``: (threshold map, threshold mask) float32 maps of size ``hw``.

    Each care polygon is grown by ``D = area * (1 - r^2) / perimeter``; inside the grown polygon's
    bounding box the canvas is ``max(1 - d / D, 0)`` (``d``: distance to the nearest edge), kept
    as the maximum over polygons, then mapped to ``[thresh_min, thresh_max]``: ``thresh_max`` on
    the polygon's edges, ``thresh_min`` at ``D`` or more from every edge (the shrunk kernel, and
    outside the grown polygon). The mask is 1 inside the grown polygons (ignored ones excluded).
    """
    h, w = hw
    canvas = np.zeros((h, w), np.float32)
    mask = np.zeros((h, w), np.float32)
    ignore = list(ignore) if ignore is not None else [False] * len(polygons)
    for poly, ign in zip(polygons, ignore):
        if ign:
            continue
        poly = np.asarray(poly, np.float64).reshape(-1, 2)
        shape = Polygon(poly)
        if not shape.is_valid or shape.area <= 0:
            continue
        distance = shape.area * (1 - shrink_ratio ** 2) / shape.length
        pco = pyclipper.PyclipperOffset()
        pco.AddPath([tuple(p) for p in poly], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        grown = pco.Execute(distance)
        if not grown:
            continue
        grown = np.asarray(grown[0], np.float64).reshape(-1, 2)
        cv2.fillPoly(mask, [grown.astype(np.int32)], 1.0)
        x0, y0 = int(np.floor(grown[:, 0].min())), int(np.floor(grown[:, 1].min()))
        x1, y1 = int(np.ceil(grown[:, 0].max())), int(np.ceil(grown[:, 1].max()))
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w - 1, x1), min(h - 1, y1)
        if cx1 < cx0 or cy1 < cy0:
            continue
        ys, xs = np.mgrid[cy0:cy1 + 1, cx0:cx1 + 1].astype(np.float64)
        dist = np.min([_segment_distance(xs, ys, poly[i], poly[(i + 1) % len(poly)]) for i in range(len(poly))], 0)
        part = 1 - np.clip(dist / distance, 0, 1)
        np.maximum(canvas[cy0:cy1 + 1, cx0:cx1 + 1], part.astype(np.float32), out=canvas[cy0:cy1 + 1, cx0:cx1 + 1])
    return canvas * (thresh_max - thresh_min) + thresh_min, mask


def label_polygon(poly: np.ndarray, convention: str) -> np.ndarray:
    """A ground-truth polygon as a DB label: ``tight`` as the generator records it (the glyph
    box), ``detector`` grown to the box convention of the PP-OCR detector being fine-tuned
    (:func:`paddle_cam.invoice.matching.detector_like_polygon`, margins measured on generated
    invoices: its unclipped boxes are ~1.5x the glyph height). Training on tight boxes would teach
    the model kernels of a quarter of the height it predicts now, and boxes cutting through text
    after the deployed unclip."""
    if convention == "tight":
        return poly
    if convention == "detector":
        from ..invoice.matching import detector_like_polygon

        return detector_like_polygon(poly)
    raise ValueError(f"unknown label convention '{convention}'; use detector or tight")


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
        from ..datasets.invoices import render_invoice

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

    def sample(self) -> Tuple[np.ndarray, ...]:
        """(input, shrink gt, shrink mask, threshold gt, threshold mask) of one crop."""
        cfg, rng = self.cfg, self.rng
        img, gt = self.pages[rng.randint(len(self.pages))]
        h, w = img.shape[:2]
        s = cfg.limit_side_len / float(max(h, w)) * rng.uniform(*cfg.scale_jitter)
        page = cv2.resize(img, (max(1, int(round(w * s))), max(1, int(round(h * s)))), interpolation=cv2.INTER_LINEAR)
        polys = [label_polygon(np.asarray(ln["polygon"], np.float64), cfg.labels) * s for ln in gt["lines"]]
        ign0 = [str(ln.get("text", "")) == "###" for ln in gt["lines"]]
        crop, cpolys, ignore = random_crop(page, polys, cfg.crop, rng, ign0)
        tg, tm = border_map(cpolys, (cfg.crop, cfg.crop), ignore, thresh_min=cfg.thresh_min, thresh_max=cfg.thresh_max)
        g, m = shrink_map(cpolys, (cfg.crop, cfg.crop), ignore)
        x = self.pre.normalize(crop)
        return x, g, m, tg, tm

    def batch(self) -> Tuple[np.ndarray, ...]:
        return tuple(np.stack(a) for a in zip(*[self.sample() for _ in range(self.cfg.batch_size)]))


# ----------------------------------------------------------------------------- threshold branch

class ThreshHead(paddle.nn.Layer):
    """The DB head's training-only threshold branch, shaped like the shrink branch
    (``conv_down`` 3x3 conv + BN + ReLU, ``conv_up`` 2x2 transposed conv + BN + ReLU, ``conv_final``
    2x2 transposed conv, sigmoid). :meth:`from_head` starts it from the shrink branch's conv and BN
    weights with a last conv giving ``T = t0`` everywhere."""

    def __init__(self, in_channels: int, mid_channels: int, kernel: int = 3, down_bias: bool = False):
        super().__init__()
        nn = paddle.nn
        self.conv_down = nn.Conv2D(in_channels, mid_channels, kernel, padding=kernel // 2,
                                   bias_attr=None if down_bias else False)
        self.bn_down = nn.BatchNorm2D(mid_channels)
        self.conv_up = nn.Conv2DTranspose(mid_channels, mid_channels, 2, stride=2)
        self.bn_up = nn.BatchNorm2D(mid_channels)
        self.conv_final = nn.Conv2DTranspose(mid_channels, 1, 2, stride=2)

    def forward(self, x):
        x = F.relu(self.bn_down(self.conv_down(x)))
        x = F.relu(self.bn_up(self.conv_up(x)))
        return F.sigmoid(self.conv_final(x))

    @classmethod
    def from_head(cls, head: paddle.nn.Layer, t0: float = THRESH_MIN) -> "ThreshHead":
        down, up = head.conv_down, head.conv_up
        wd = down.convolution.weight
        # own name prefix: loaded models may already use the default parameter names, and Adam
        # keys its moments by name
        with paddle.utils.unique_name.guard("dbthresh_"):
            th = cls(int(wd.shape[1]), int(wd.shape[0]), int(wd.shape[2]), down.convolution.bias is not None)
        pairs = [(down.convolution, th.conv_down), (up.convolution, th.conv_up), (down.norm, th.bn_down),
                 (up.norm, th.bn_up)]
        for src, dst in pairs:
            for name, value in src.state_dict().items():
                getattr(dst, name.rpartition(".")[2]).set_value(value.numpy())
        th.conv_final.weight.set_value(np.zeros(th.conv_final.weight.shape, np.float32))
        th.conv_final.bias.set_value(np.full(th.conv_final.bias.shape, math.log(t0 / (1 - t0)), np.float32))
        th.eval()
        return th


def _head_parts(model: paddle.nn.Layer):
    head = getattr(model, "head", None)
    if head is None or not all(hasattr(head, n) for n in ("conv_down", "conv_up", "conv_final")) \
            or not hasattr(model, "model"):
        raise ValueError("fine-tuning needs a mobile DB detector (model.model -> features, head.conv_down/"
                         "conv_up/conv_final -> shrink map)")
    return model.model, head


def shrink_logits(model: paddle.nn.Layer, x: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
    """(neck features, pre-sigmoid shrink map) of a mobile DB detector (the forward, split open)."""
    body, head = _head_parts(model)
    feats = body(x)
    return feats, head.conv_final(head.conv_up(head.conv_down(feats)))


# ----------------------------------------------------------------------------- loss

def _dice(p, gt, mask, eps=1e-6):
    inter = (p * gt * mask).sum()
    union = (p * mask).sum() + (gt * mask).sum() + eps
    return 1 - 2 * inter / union


def ohem_bce(logits: paddle.Tensor, gt: paddle.Tensor, mask: paddle.Tensor, neg_ratio: float = 3.0,
             eps: float = 1e-6) -> paddle.Tensor:
    """BCE over all positives and the hardest negatives (at most ``neg_ratio`` per positive), from
    logits (the sigmoid saturates to exactly 0 on confident background, where a probability-space
    BCE has no gradient)."""
    positive = gt * mask
    negative = (1 - gt) * mask
    pos_count = int(float(positive.sum()))
    neg_count = int(min(float(negative.sum()), pos_count * neg_ratio))
    bce_map = F.binary_cross_entropy_with_logits(logits, gt, reduction="none")
    pos_loss = (bce_map * positive).sum()
    neg = (bce_map * negative).reshape([-1])
    neg_loss = paddle.topk(neg, neg_count)[0].sum() if neg_count > 0 else neg.sum() * 0
    return (pos_loss + neg_loss) / (pos_count + neg_count + eps)


def db_loss(logits: paddle.Tensor, thresh: paddle.Tensor, gt: paddle.Tensor, mask: paddle.Tensor,
            thresh_gt: paddle.Tensor, thresh_mask: paddle.Tensor, alpha: float = 5.0, beta: float = 10.0,
            k: float = 50.0, neg_ratio: float = 3.0, shrink_loss: str = "bce",
            eps: float = 1e-6) -> Dict[str, paddle.Tensor]:
    """PaddleOCR's ``DBLoss``: ``alpha * L_shrink + beta * masked L1(T) + dice(B)``.

    ``logits``: (N, 1, H, W) pre-sigmoid shrink map; ``thresh``: (N, 1, H, W) threshold map in
    (0, 1); labels (N, H, W). ``B = 1 / (1 + exp(-k (sigmoid(logits) - T)))``.
    """
    z, t = logits[:, 0], thresh[:, 0]
    p = F.sigmoid(z)
    if shrink_loss == "bce":
        l_shrink = ohem_bce(z, gt, mask, neg_ratio, eps)
    elif shrink_loss == "dice":
        l_shrink = _dice(p, gt, mask, eps)
    else:
        raise ValueError(f"unknown shrink_loss '{shrink_loss}'; use bce or dice")
    l_thresh = (paddle.abs(t - thresh_gt) * thresh_mask).sum() / (thresh_mask.sum() + eps)
    binary = 1 / (1 + paddle.exp(-k * (p - t)))
    l_binary = _dice(binary, gt, mask, eps)
    return {"loss": alpha * l_shrink + beta * l_thresh + l_binary, "shrink": l_shrink, "thresh_l1": l_thresh,
            "binary_dice": l_binary}


# ----------------------------------------------------------------------------- training

def finetune_detector(model: paddle.nn.Layer, cfg: FinetuneConfig, data: Optional[InvoiceCrops] = None,
                      on_step: Optional[Callable[[int, Dict[str, float]], None]] = None) -> List[Dict[str, float]]:
    """Fine-tune ``model`` (a mobile DB detector returning the shrink map) in place with the full
    DB loss; returns per-step logs.

    A fresh :class:`ThreshHead` is trained alongside and dropped afterwards (the model keeps its
    structure, so it exports as before). ``on_step(step, {"loss", "shrink", "thresh_l1",
    "binary_dice", "lr", "sec"})`` is called after every step (progress bars, VisualDL). Batch
    norm keeps its running statistics unless ``cfg.train_bn``; everything else trains.
    """
    _, head = _head_parts(model)
    data = data or InvoiceCrops(cfg)
    thresh_head = ThreshHead.from_head(head, cfg.thresh_min)
    lr0 = cfg.peak_lr
    warm = max(0, min(cfg.warmup, cfg.steps // 5))
    sched = paddle.optimizer.lr.CosineAnnealingDecay(lr0, T_max=max(1, cfg.steps - warm))
    if warm:
        sched = paddle.optimizer.lr.LinearWarmup(sched, warm, lr0 * 0.1, lr0)
    params = [p for p in model.parameters() if not p.stop_gradient] + list(thresh_head.parameters())
    opt = paddle.optimizer.Adam(sched, parameters=params, weight_decay=cfg.weight_decay)
    bns = [l for l in list(model.sublayers()) + list(thresh_head.sublayers())
           if isinstance(l, paddle.nn.layer.norm._BatchNormBase)]
    model.eval()
    thresh_head.eval()
    if cfg.train_bn:
        for bn in bns:
            bn.train()
    logs = []
    try:
        for step in range(cfg.steps):
            t0 = time.time()
            x, g, m, tg, tm = (paddle.to_tensor(a) for a in data.batch())
            feats, z = shrink_logits(model, x)
            parts = db_loss(z, thresh_head(feats), g, m, tg, tm, cfg.alpha, cfg.beta, cfg.k, cfg.neg_ratio,
                            cfg.shrink_loss)
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
        model.eval()
    return logs


# ----------------------------------------------------------------------------- classifiers

@dataclass
class ClassifierFinetuneConfig:
    """Recovery fine-tuning of a pruned classifier (the invoice field classifier's recipe,
    :mod:`paddle_cam.invoice.training`: AdamW, warm-up then cosine decay, class weights
    ``(N / n_c)^0.5``, label smoothing 0.05, batch 64), with a quarter of the recipe's
    from-scratch learning rate."""

    steps: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    warmup: int = 10
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    class_weight_power: float = 0.5
    pages: int = 16
    seed: int = 0


def finetune_classifier(model: paddle.nn.Layer, cfg: ClassifierFinetuneConfig, x_u8: np.ndarray, y: np.ndarray,
                        normalize: Callable[[np.ndarray], np.ndarray], num_classes: int,
                        on_step: Optional[Callable[[int, Dict[str, float]], None]] = None) -> List[Dict[str, float]]:
    """Fine-tune a classifier that outputs class *probabilities* (softmax included, as exported
    PP-LCNet classifiers do) in place, on uint8 inputs ``x_u8`` with labels ``y``; the loss is the
    class-weighted, label-smoothed cross-entropy on ``log(p)``. Train mode (BN batch statistics,
    dropout) while stepping, eval mode afterwards. ``on_step(step, {"loss", "acc", "lr", "sec"})``."""
    if len(y) == 0:
        raise ValueError("no training samples")
    from ..invoice.training import class_weights, warmup_cosine_adamw

    rng = np.random.RandomState(cfg.seed)
    _, w = class_weights(y, num_classes, cfg.class_weight_power)
    weight = paddle.to_tensor(w.astype(np.float32))
    warm = max(0, min(cfg.warmup, cfg.steps // 5))
    sched, opt = warmup_cosine_adamw(model.parameters(), cfg.lr, cfg.steps, warm, cfg.weight_decay)
    bs = min(cfg.batch_size, len(y))
    order = rng.permutation(len(y))
    pos = 0
    logs = []
    model.train()
    try:
        for step in range(cfg.steps):
            t0 = time.time()
            if pos + bs > len(order):
                order, pos = rng.permutation(len(y)), 0
            idx = order[pos:pos + bs]
            pos += bs
            xb = paddle.to_tensor(normalize(x_u8[idx]).astype(np.float32))
            yb = paddle.to_tensor(y[idx].astype(np.int64))
            logp = paddle.log(paddle.clip(model(xb), 1e-8, 1.0))
            onehot = F.one_hot(yb, num_classes)
            target = onehot * (1 - cfg.label_smoothing) + cfg.label_smoothing / num_classes
            per = -(target * logp).sum(1) * paddle.gather(weight, yb)
            loss = per.sum() / paddle.gather(weight, yb).sum()
            loss.backward()
            lr = opt.get_lr()
            opt.step()
            opt.clear_grad()
            sched.step()
            rec = {"loss": float(loss), "acc": float((logp.argmax(1) == yb).astype("float32").mean()),
                   "lr": float(lr), "sec": time.time() - t0}
            logs.append(rec)
            if on_step:
                on_step(step, rec)
    finally:
        model.eval()
    return logs
