"""Invoice field schema and a PP-LCNet classifier of "which field does this text line carry".

Schema
------
``FIELD_CLASSES`` are the fields a QA tool reads off a Chinese VAT invoice plus ``other``. The
generator's (``paddle_cam.demo.invoice``) finer fields map onto them: the 金额 column and the ¥
amount of the 合计 row are ``amount``; the 税额 column and the 合计 row's ¥ tax are ``tax``; the
价税合计 capitals and the （小写） figures are ``total``; both printings of the code and of the number
(top left / top right, and the 发票代码/发票号码 block) are ``invoice_code`` / ``invoice_number``.

**Only value lines carry a field; label lines are ``other``.** The question the QA tool asks is
"which field does this detected value line carry", so "发票代码：" must not come out as an
invoice code. Labels are what the classifier *looks at* (through the context window) to decide
about a value, not what it labels. Titles, stamps (whose arc repeats the seller's name and tax
id), addresses, banks, item names/specs/units/quantities/prices, 密码区, 备注 and signatures are
``other`` as well.

Input (one per line)
--------------------
A context window around the line, fixed aspect 2:1, in units of the line's height ``h`` (short
side of the box's minimum-area rectangle, so a slightly rotated scan does not inflate it):
8 h to the left of the line's start and 12 h to the right, 7 h above and 2 h below the box.
Invoice labels sit to the left (名称： … before the value) or above (金额 / 税额 column headers up to
~9 glyph heights over the last item row), so the window extends mostly left and up; right and
below only enough to see column borders and the next row. Scaling by ``h`` makes the input
independent of scan resolution. 80 x 160 px, 8 px per line height, so one cell of the stride-8
grid explained by default (``encoder.blocks.2``, 10 x 20 cells) is one line height: the deepest
PP-LCNet stage that still resolves a single text line. The line's centre lies on a row of cell
centres of that grid (input row 60 = 8 * 7 + 4): a bilinearly upsampled CAM peaks on grid nodes
only, so with the line between two node rows no map could ever peak on the line itself.
Three channels:

0. luminance of the page;
1. chroma (max - min of B, G, R): the pre-printed form ink is brown, stamps red, printer ink
   black/blue, which tells labels from values on colour scans (zero on grey ones);
2. the marker: the line's own polygon filled, so the network knows which line of the window is
   asked about (several values share one window).

Everything off the page is 0 in all channels (black, no marker), which also tells the network
where the page edge is. Values are scaled to [-1, 1] as ``u8 / 127.5 - 1``.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import paddle

from ..base import CAMResult
from ..errors import InputError, ModelLoadError
from ..ocr.regions import box_height, polygon_iou

FIELD_CLASSES: Tuple[str, ...] = (
    "invoice_code", "invoice_number", "date", "check_code", "buyer_name", "buyer_tax_id", "seller_name",
    "seller_tax_id", "amount", "tax_rate", "tax", "total", "other",
)
FIELD_ZH: Dict[str, str] = {
    "invoice_code": "发票代码", "invoice_number": "发票号码", "date": "开票日期", "check_code": "校验码",
    "buyer_name": "购买方名称", "buyer_tax_id": "购买方纳税人识别号", "seller_name": "销售方名称",
    "seller_tax_id": "销售方纳税人识别号", "amount": "金额", "tax_rate": "税率", "tax": "税额", "total": "价税合计",
    "other": "其他",
}
# generator field (paddle_cam.demo.invoice.FIELDS) of a *value* line -> schema field; all else is other
GENERATOR_TO_FIELD: Dict[str, str] = {
    "invoice_code": "invoice_code", "invoice_number": "invoice_number", "date": "date", "check_code": "check_code",
    "buyer_name": "buyer_name", "buyer_tax_id": "buyer_tax_id", "seller_name": "seller_name",
    "seller_tax_id": "seller_tax_id", "item_amount": "amount", "amount_total": "amount",
    "item_tax_rate": "tax_rate", "item_tax": "tax", "tax_total": "tax", "total_capital": "total",
    "total_figures": "total",
}
MODEL_NAME = "PP-LCNet_x0_25_invoice_field"
DEFAULT_LAYER = "encoder.blocks.2"  # stride 8: one cell per line height (see the module docstring)
# The fallback for a model whose inference.yml names no method. LayerCAM weights every position by
# its own positive gradient instead of one global weight per channel, so a window that holds
# several text lines is not painted wherever a channel fires. A training run picks the model's
# own default on pages of their own (train_field_cls.py, Explain.candidates).
DEFAULT_METHOD = "layercam"
# Integrated Gradients on this small classifier: 16 trapezoid nodes. On 16 decisions of seed 80000
# the completeness gap |sum(attr) - (f(x) - f(b))| averaged 0.17 / 0.078 / 0.016 / 0.009 with
# 8 / 16 / 32 / 64 nodes; 16 halves the cost of 32 where QA and the pointing game use the peak.
IG_STEPS = 16
_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

Polygon = Sequence[Sequence[float]]


def default_model_dir() -> str:
    """The committed field classifier (inference folder) in ``demo_docs/field_cls``."""
    return os.path.join(_ROOT, "demo_docs", "field_cls")


def field_of_line(line: dict) -> str:
    """Schema field of a ground-truth line: the mapped field for value lines, ``other`` otherwise."""
    if line.get("role") != "value":
        return "other"
    return GENERATOR_TO_FIELD.get(line.get("field", ""), "other")


gt_class = field_of_line  # the name the QA tool uses


# ----------------------------------------------------------------------------- geometry


def _bbox(p: np.ndarray) -> Tuple[float, float, float, float]:
    return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())


def match_to_gt(det_polygons: Sequence[Polygon], gt_polygons: Sequence[Polygon],
                iou_thresh: float = 0.5) -> List[Optional[int]]:
    """One-to-one matching of detected boxes to ground-truth lines, greedily by IoU (highest first).

    Returns, per detected box, the index of its ground-truth line or ``None`` below ``iou_thresh``.
    """
    dets = [np.asarray(p, np.float64).reshape(-1, 2) for p in det_polygons]
    gts = [np.asarray(p, np.float64).reshape(-1, 2) for p in gt_polygons]
    gb = np.array([_bbox(g) for g in gts]) if gts else np.zeros((0, 4))
    pairs = []
    for i, d in enumerate(dets):
        x0, y0, x1, y1 = _bbox(d)
        near = np.nonzero((gb[:, 0] < x1) & (gb[:, 2] > x0) & (gb[:, 1] < y1) & (gb[:, 3] > y0))[0]
        for j in near:
            iou = polygon_iou(d, gts[j])
            if iou >= iou_thresh:
                pairs.append((iou, i, int(j)))
    out: List[Optional[int]] = [None] * len(dets)
    used = set()
    for iou, i, j in sorted(pairs, key=lambda t: (-t[0], t[1], t[2])):
        if out[i] is None and j not in used:
            out[i] = j
            used.add(j)
    return out


# Margins of PP-OCRv4 DB boxes around the generator's tight glyph boxes, in glyph heights, measured
# on generated invoices (mean, spread): DB's unclip grows every side, the top more than the bottom.
DET_MARGINS = {"left": (0.15, 0.3), "right": (0.1, 0.3), "top": (0.23, 0.1), "bottom": (0.19, 0.1)}


def detector_like_polygon(polygon: Polygon, rng: Optional[np.random.RandomState] = None) -> np.ndarray:
    """A tight ground-truth quad grown like a DB detector's box (randomly jittered when ``rng`` is given).

    The classifier is meant for detector boxes; its window scales with the box height, so tight
    glyph boxes must be grown the same way before they are classified.
    """
    p = np.asarray(polygon, np.float64).reshape(4, 2)
    h = max(box_height(p), 1.0)
    m = {k: mu + (rng.normal(0, sd) if rng is not None else 0.0) for k, (mu, sd) in DET_MARGINS.items()}
    # unit vectors along the line (TL->TR) and across it (TL->BL), so rotated boxes grow along their axes
    u = p[1] - p[0]
    u /= max(np.linalg.norm(u), 1e-6)
    v = p[3] - p[0]
    v /= max(np.linalg.norm(v), 1e-6)
    out = p.copy()
    out[[0, 3]] -= u * m["left"] * h
    out[[1, 2]] += u * m["right"] * h
    out[[0, 1]] -= v * m["top"] * h
    out[[2, 3]] += v * m["bottom"] * h
    return out


def match_detections(det_polygons: Sequence[Polygon], gt_lines: Sequence[dict],
                     iou_thresh: float = 0.5) -> List[Optional[int]]:
    """:func:`match_to_gt` of detector boxes against ground-truth lines grown like a DB box.

    The generator's polygons are tight glyph boxes (digits get the cap height only), a DB box of
    the same line is 1.4-2x as tall: against the tight boxes short values (税率 "13%", 发票号码)
    fall below IoU 0.5 and would silently drop out of every score.
    """
    return match_to_gt(det_polygons, [detector_like_polygon(ln["polygon"]) for ln in gt_lines], iou_thresh)


# ----------------------------------------------------------------------------- the input


@dataclass(frozen=True)
class WindowSpec:
    """Context window around a line, in line heights, and the model input size (H, W)."""

    left: float = 8.0
    right: float = 12.0
    up: float = 7.0
    down: float = 2.0
    input_hw: Tuple[int, int] = (80, 160)

    def __post_init__(self):
        aspect = (self.up + 1.0 + self.down) / (self.left + self.right)
        if abs(aspect - self.input_hw[0] / self.input_hw[1]) > 1e-6:
            raise ValueError(f"window {self} is {aspect:.3f} high per unit width but the input is "
                             f"{self.input_hw[0]}x{self.input_hw[1]}; the aspects must agree")

    def to_yml(self) -> dict:
        d = asdict(self)
        d["input_hw"] = list(self.input_hw)
        d.update({"unit": "line height = short side of the box's minimum-area rectangle",
                  "anchor": "left end of the box (min x, mean y of the two leftmost corners)",
                  "channels": ["luminance", "chroma (max-min of BGR)", "line marker (box filled)"],
                  "scale": "u8 / 127.5 - 1", "outside_page": 0, "resize": "cv2.INTER_AREA"})
        return d

    @classmethod
    def from_yml(cls, d: dict) -> "WindowSpec":
        return cls(float(d["left"]), float(d["right"]), float(d["up"]), float(d["down"]),
                   tuple(int(v) for v in d["input_hw"]))


def page_planes(page_bgr: np.ndarray) -> np.ndarray:
    """(H, W, 2) uint8: luminance and chroma of a BGR page, computed once per page."""
    if page_bgr.ndim == 2:
        page_bgr = cv2.cvtColor(page_bgr, cv2.COLOR_GRAY2BGR)
    page_bgr = np.ascontiguousarray(page_bgr[:, :, :3], dtype=np.uint8)
    gray = cv2.cvtColor(page_bgr, cv2.COLOR_BGR2GRAY)
    b, g, r = cv2.split(page_bgr)
    chroma = cv2.subtract(cv2.max(cv2.max(b, g), r), cv2.min(cv2.min(b, g), r))
    return np.dstack([gray, chroma])


def compute_window(polygon: Polygon, spec: WindowSpec) -> Tuple[int, int, int, int]:
    """Integer page-pixel window (x0, y0, x1, y1) of a line (x1, y1 exclusive); may leave the page."""
    p = np.asarray(polygon, np.float64).reshape(-1, 2)
    if p.shape[0] < 3 or not np.isfinite(p).all():
        raise InputError(f"a line polygon needs 3+ finite points, got {p.tolist()}")
    h = max(box_height(p), 2.0)
    xl = float(p[:, 0].min())
    cy = float(p[np.argsort(p[:, 0], kind="stable")[:2], 1].mean())
    in_h, in_w = spec.input_hw
    w = max(in_w // 8, int(round(h * (spec.left + spec.right))))
    hh = max(1, int(round(w * in_h / in_w)))
    x0 = int(math.floor(xl - spec.left * h + 0.5))
    y0 = int(math.floor(cy - (0.5 + spec.up) * h + 0.5))
    return x0, y0, x0 + w, y0 + hh


def window_u8(planes: np.ndarray, polygon: Polygon, spec: WindowSpec,
              win: Optional[Tuple[int, int, int, int]] = None) -> np.ndarray:
    """(3, H, W) uint8 model input of one line from the page planes (see the module docstring)."""
    x0, y0, x1, y1 = win or compute_window(polygon, spec)
    H, W = planes.shape[:2]
    canvas = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if ax0 < ax1 and ay0 < ay1:
        canvas[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0, :2] = planes[ay0:ay1, ax0:ax1]
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round((np.asarray(polygon, np.float64).reshape(-1, 2) - (x0, y0)) * 16).astype(np.int32)
    cv2.fillPoly(mask, [pts.reshape(-1, 1, 2)], 255, lineType=cv2.LINE_8, shift=4)
    canvas[:, :, 2] = mask
    in_h, in_w = spec.input_hw
    out = cv2.resize(canvas, (in_w, in_h), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def paper_background(page_bgr: np.ndarray, glyph_px: float = 24.0) -> np.ndarray:
    """The page with its ink removed (uint8 BGR): a grey-level closing wider than any stroke or
    gap between strokes drops dark text and grid lines and keeps the paper's shading, folds and
    colour cast; a box blur of the same size hides the closing's blocky texture."""
    k = max(3, int(round(0.8 * glyph_px)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    bg = cv2.morphologyEx(np.ascontiguousarray(page_bgr[:, :, :3]), cv2.MORPH_CLOSE, kernel)
    return cv2.blur(bg, (k, k))


def window_u8_mixed(planes: np.ndarray, bg_planes: np.ndarray, polygon: Polygon, spec: WindowSpec,
                    regions: Sequence[Polygon], keep: bool, fill: Optional[np.ndarray] = None) -> np.ndarray:
    """:func:`window_u8` with page content replaced by paper outside (``keep``) or inside
    (``not keep``) ``regions`` (page-pixel polygons); the marker channel is unchanged. ``fill``
    (a (3, H, W) window) replaces with its content instead of paper.

    Counterfactual windows for training: "the line and its labels alone", "the line and its labels
    in another line's surroundings" and "no ink on the line".
    """
    win = compute_window(polygon, spec)
    x0, y0, x1, y1 = win
    a = window_u8(planes, polygon, spec, win)
    b = fill if fill is not None else window_u8(bg_planes, polygon, spec, win)
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    for r in regions:
        pts = np.round((np.asarray(r, np.float64).reshape(-1, 2) - (x0, y0)) * 16).astype(np.int32)
        cv2.fillPoly(mask, [pts.reshape(-1, 1, 2)], 1.0, lineType=cv2.LINE_8, shift=4)
    in_h, in_w = spec.input_hw
    alpha = cv2.resize(mask, (in_w, in_h), interpolation=cv2.INTER_AREA)
    if not keep:
        alpha = 1.0 - alpha
    out = a.astype(np.float32)
    out[:2] = alpha * out[:2] + (1.0 - alpha) * b[:2].astype(np.float32)
    # off-page stays 0 (black, no marker) as in window_u8
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def field_baseline(x: np.ndarray, query_channels: Sequence[int] = (2,), kind: str = "paper") -> np.ndarray:
    """Removed-pixel fill of one (C, H, W) field-classifier input: paper (the window's median
    luminance and chroma: paper-white, no colour), ``white`` (luminance 255, chroma 0) or ``blur``.
    The query channels (the line marker) stay as they are: the marker says *which* line is asked
    about, removing it would change the question, not the evidence."""
    from ..metrics.faithfulness import make_baseline

    if kind == "white":
        b = make_baseline(x, "white", white=[1.0] + [-1.0] * (x.shape[0] - 1))
    else:
        b = make_baseline(x, "blur" if kind == "blur" else "paper")
    for c in query_channels:
        b[c] = x[c]
    return b


def normalize_u8(batch_u8: np.ndarray) -> np.ndarray:
    """uint8 windows -> float32 model input in [-1, 1]."""
    return batch_u8.astype(np.float32) / 127.5 - 1.0


def paste_to_page(input_map: np.ndarray, win: Tuple[int, int, int, int], page_hw: Sequence[int]) -> np.ndarray:
    """An (H_in, W_in) map on the model input resized onto its window of an all-zero page map."""
    x0, y0, x1, y1 = win
    H, W = int(page_hw[0]), int(page_hw[1])
    out = np.zeros((H, W), np.float32)
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if ax0 >= ax1 or ay0 >= ay1:
        return out
    big = cv2.resize(np.asarray(input_map, np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    out[ay0:ay1, ax0:ax1] = big[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    return out


# ----------------------------------------------------------------------------- explanations


def slice_cam(res: CAMResult, i: int) -> CAMResult:
    """Item ``i`` of a batched CAM result, as a result of batch size 1."""
    return CAMResult(raw=res.raw[i:i + 1], normalized=res.normalized[i:i + 1],
                     per_layer_raw={k: v[i:i + 1] for k, v in res.per_layer_raw.items()},
                     layer_maps={k: v[i:i + 1] for k, v in res.layer_maps.items()},
                     scores=res.scores[i:i + 1], targets=[res.targets[i]], method=res.method, layers=list(res.layers))


@dataclass
class FieldExplanation:
    """Why one line was given (or would be given) a field.

    ``page_raw`` is computed on access from the input-size map (a page-size float32 map per line
    would take megabytes each); it is zero outside the line's window.
    """

    index: int                      # position in the polygons passed to explain()
    polygon: List[List[float]]
    field: str                      # explained class (the predicted one unless class_ids was given)
    class_id: int
    prob: float                     # probability of the explained class
    predicted: str                  # arg-max field
    probs: np.ndarray               # (C,)
    window: Tuple[int, int, int, int]
    page_hw: Tuple[int, int]
    cam: CAMResult                  # maps on the model input (batch of one)

    @property
    def page_raw(self) -> np.ndarray:
        """(page_h, page_w) float32 raw (un-normalised) map placed back on the page."""
        return paste_to_page(self.cam.raw[0], self.window, self.page_hw)

    def __getitem__(self, key: str):
        """Mapping-style access (``ex["page_raw"]``) for code that treats results as dicts."""
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def keys(self) -> Tuple[str, ...]:
        return ("index", "polygon", "field", "class_id", "prob", "predicted", "probs", "window", "page_hw", "cam",
                "page_raw", "page_norm")

    @property
    def page_norm(self) -> np.ndarray:
        """``page_raw`` scaled to [0, 1] by its maximum (0 everywhere for an empty map)."""
        m = self.page_raw
        top = float(m.max())
        return m / top if top > 0 else m


# ----------------------------------------------------------------------------- the classifier


def _read_yml(path: str) -> Optional[dict]:
    if not os.path.isfile(path):
        return None
    import yaml

    try:
        with open(path, "r", encoding="utf-8") as f:
            return yaml.safe_load(f) or {}
    except Exception:
        raise ModelLoadError(f"{path} is not valid YAML; copy it again from the training output") from None


def _field_window(cfg: Optional[dict]) -> Optional[dict]:
    for op in ((cfg or {}).get("PreProcess") or {}).get("transform_ops") or []:
        if isinstance(op, dict) and "FieldWindow" in op:
            return op["FieldWindow"] or {}
    return None


class FieldClassifier:
    """PP-LCNet deciding the invoice field of each text line from a context window around it.

    ``model`` (eval mode) maps (N, 3, 80, 160) windows to (N, C) probabilities over ``labels``.
    """

    def __init__(self, model: paddle.nn.Layer, labels: Sequence[str], spec: WindowSpec = WindowSpec(),
                 source: str = "", default_layer: str = DEFAULT_LAYER, name: str = MODEL_NAME,
                 default_method: str = DEFAULT_METHOD):
        self.model = model
        self.model.eval()
        self.labels = [str(x) for x in labels]
        self.spec = spec
        self.source = source
        self.default_layer = default_layer
        self.default_method = default_method
        self.name = name
        self.query_channels: Tuple[int, ...] = (2,)  # the line marker (module docstring)

    # --- loading --------------------------------------------------------------------------
    @classmethod
    def load(cls, source: Optional[str] = None) -> "FieldClassifier":
        """The committed model (``demo_docs/field_cls``), an inference folder of
        ``tools/train_field_cls.py`` or its ``model.pdparams`` (window and labels are then read
        from the ``inference.yml`` next to it, the defaults when there is none)."""
        from ..models.cls import load_pplcnet

        source = source or default_model_dir()
        hint = ("pass the folder written by tools/train_field_cls.py (inference.json + inference.pdiparams + "
                "inference.yml) or its model.pdparams")
        if os.path.isdir(source):
            cfg = _read_yml(os.path.join(source, "inference.yml"))
            if cfg is None or _field_window(cfg) is None:
                what = ("has no inference.yml" if cfg is None
                        else "has an inference.yml without FieldWindow preprocessing")
                raise ModelLoadError(f"{source} is not an invoice field classifier: it {what}; {hint}")
        elif os.path.isfile(source):
            cfg = _read_yml(os.path.join(os.path.dirname(os.path.abspath(source)), "inference.yml"))
            if cfg is not None and _field_window(cfg) is None:
                cfg = None  # a foreign inference.yml beside the weights says nothing about ours
        else:
            raise ModelLoadError(f"invoice field classifier not found: {source}; {hint}")
        fw = _field_window(cfg)
        spec = WindowSpec.from_yml(fw) if fw else WindowSpec()
        post = (cfg or {}).get("PostProcess") or {}
        labels = ((post.get("Topk") or {}).get("label_list")) or list(FIELD_CLASSES)
        name = ((cfg or {}).get("Global") or {}).get("model_name") or MODEL_NAME
        exp = (cfg or {}).get("Explain") or {}
        layer = exp.get("default_layer") or DEFAULT_LAYER
        # models exported before the method was recorded were explained with Grad-CAM
        method = exp.get("default_method") or ("gradcam" if cfg is not None and exp else DEFAULT_METHOD)
        try:
            inner = load_pplcnet(source, name, labels=[str(x) for x in labels])
        except ModelLoadError as e:
            raise ModelLoadError(f"cannot load an invoice field classifier from {source}: {e}") from None
        n = int(inner.model.head.weight.shape[1])
        if n != len(labels):
            raise ModelLoadError(f"{source} has {n} output classes but its field list has {len(labels)} "
                                 f"({', '.join(map(str, labels))}); {hint}")
        return cls(inner.model, labels, spec, source, layer, name, method)

    # --- input ----------------------------------------------------------------------------
    def window(self, polygon: Polygon, page_hw: Sequence[int]) -> Tuple[int, int, int, int]:
        """Context window (x0, y0, x1, y1) in page pixels (x1, y1 exclusive; may extend past the page,
        which is then padded with zeros)."""
        return compute_window(polygon, self.spec)

    def prepare_u8(self, page_bgr: np.ndarray, polygons: Sequence[Polygon]) -> np.ndarray:
        """(N, 3, H, W) uint8 windows (compact storage for training)."""
        planes = page_planes(page_bgr)
        h, w = self.spec.input_hw
        if len(polygons) == 0:
            return np.zeros((0, 3, h, w), np.uint8)
        return np.stack([window_u8(planes, p, self.spec) for p in polygons])

    def prepare(self, page_bgr: np.ndarray, polygons: Sequence[Polygon]) -> np.ndarray:
        """(N, 3, H, W) float32 model input, one context window per line polygon (page pixels,
        as a DB detector returns them)."""
        return normalize_u8(self.prepare_u8(page_bgr, polygons))

    def map_to_page(self, input_map: np.ndarray, polygon: Polygon, page_hw: Sequence[int]) -> np.ndarray:
        """An (H, W) map on the model input placed back on the page: (page_h, page_w) float32,
        zero outside the line's window."""
        return paste_to_page(input_map, self.window(polygon, page_hw), page_hw)

    def input_polygons(self, page_bgr: np.ndarray, polygons: Sequence[Polygon]) -> List[np.ndarray]:
        """Each line's polygon in the coordinates of its own model input (H, W as ``spec.input_hw``)."""
        page_hw = page_bgr.shape[:2]
        in_h, in_w = self.spec.input_hw
        out = []
        for p in polygons:
            x0, y0, x1, y1 = self.window(p, page_hw)
            q = np.asarray(p, np.float64).reshape(-1, 2) - (x0, y0)
            out.append(q * (in_w / float(x1 - x0), in_h / float(y1 - y0)))
        return out

    # --- decisions --------------------------------------------------------------------------
    def predict(self, batch: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """(N, C) class probabilities of prepared windows."""
        batch = np.asarray(batch, np.float32)
        if batch.shape[0] == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        out = []
        with paddle.no_grad():
            for i in range(0, batch.shape[0], batch_size):
                out.append(self.model(paddle.to_tensor(batch[i:i + batch_size])).numpy())
        return np.concatenate(out).astype(np.float32)

    def classify(self, page_bgr: np.ndarray, polygons: Sequence[Polygon]) -> List[Tuple[str, float]]:
        """(field, probability) of every line."""
        probs = self.predict(self.prepare(page_bgr, polygons))
        return [(self.labels[int(k)], float(p[k])) for p, k in zip(probs, probs.argmax(1))]

    def explain(self, page_bgr: np.ndarray, boxes_polygons: Sequence, method: Optional[str] = None,
                layers: Optional[Sequence[str]] = None, class_ids: Union[None, int, Sequence[int]] = None,
                batch_size: int = 32, **method_kwargs) -> List[FieldExplanation]:
        """CAM of each line's field decision (the predicted class unless ``class_ids`` says otherwise)
        with ``method`` (default: the model's ``default_method``) at ``layers`` (its ``default_layer``).

        ``boxes_polygons``: polygons in page pixels or objects with a ``.polygon`` (detector boxes).
        ``class_ids``: one id for all lines or one per line. Gradient attributions on the input
        (Integrated Gradients, SmoothGrad) start from :func:`field_baseline` (paper with the
        marker kept) and IG takes ``IG_STEPS`` nodes, unless ``method_kwargs`` say otherwise.
        """
        from ..methods import get_method
        from ..methods.input_attribution import GradientAttribution
        from ..targets import ClassifierOutputTarget

        polys = [getattr(b, "polygon", b) for b in boxes_polygons]
        if not polys:
            return []
        method_cls = get_method(method or self.default_method)
        if issubclass(method_cls, GradientAttribution):
            q = self.query_channels
            method_kwargs.setdefault("baseline", lambda xi: field_baseline(xi, q))
            if method_cls.name == "integratedgradients":
                method_kwargs.setdefault("n_steps", IG_STEPS)
        page_hw = tuple(int(v) for v in page_bgr.shape[:2])
        x = self.prepare(page_bgr, polys)
        probs = self.predict(x)
        if class_ids is None:
            cids = [int(k) for k in probs.argmax(1)]
        elif isinstance(class_ids, (int, np.integer)):
            cids = [int(class_ids)] * len(polys)
        else:
            cids = [int(k) for k in class_ids]
            if len(cids) != len(polys):
                raise InputError(f"class_ids has {len(cids)} entries for {len(polys)} lines; "
                                 "give one per line or one for all")
        cam = method_cls(self.model, list(layers or [self.default_layer]), **method_kwargs)
        out: List[FieldExplanation] = []
        for s in range(0, len(polys), batch_size):
            idx = list(range(s, min(s + batch_size, len(polys))))
            res = cam(x[idx], targets=[ClassifierOutputTarget(cids[i]) for i in idx])
            for j, i in enumerate(idx):
                k = cids[i]
                out.append(FieldExplanation(
                    index=i, polygon=[[float(a), float(b)] for a, b in np.asarray(polys[i], float).reshape(-1, 2)],
                    field=self.labels[k], class_id=k, prob=float(probs[i, k]),
                    predicted=self.labels[int(probs[i].argmax())], probs=probs[i],
                    window=self.window(polys[i], page_hw), page_hw=page_hw, cam=slice_cam(res, j)))
        return out

    def inference_yml(self, extra: Optional[dict] = None) -> dict:
        """The ``inference.yml`` describing this model (PaddleX layout plus the FieldWindow op)."""
        cfg = {
            "Global": {"model_name": self.name},
            "PreProcess": {"transform_ops": [{"FieldWindow": self.spec.to_yml()}]},
            "PostProcess": {"Topk": {"topk": 1, "label_list": list(self.labels)}},
            "Explain": {"default_layer": self.default_layer, "default_method": self.default_method},
            "Fields": {"zh": {k: FIELD_ZH.get(k, k) for k in self.labels},
                       "label_lines": "other (only value lines carry a field)",
                       "generator_to_field": dict(GENERATOR_TO_FIELD)},
        }
        if extra:
            cfg.update(extra)
        return cfg
