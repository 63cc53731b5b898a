"""A PP-LCNet classifier of "which invoice field does this text line carry", decided from a
context window around each line (:mod:`.windows`), explained with any method of
:mod:`paddle_cam.methods` and placed back on the page (:class:`~.explanation.FieldExplanation`).
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import paddle
import yaml

from ..errors import InputError, ModelLoadError
from .baselines import field_baseline
from .explanation import FieldExplanation, slice_cam
from .label_context import label_regions, label_spans, regions_of
from .schema import FIELD_CLASSES, FIELD_ZH, GENERATOR_TO_FIELD
from .windows import (Polygon, Window, WindowSpec, compute_window, image_u8, label_planes_u8, normalize_u8, overlaps,
                      page_planes, paste_to_page, window_u8)

MODEL_NAME = "PP-LCNet_x0_25_invoice_field"
DEFAULT_LAYER = "encoder.blocks.2"  # stride 8: one cell per line height (see paddle_cam.invoice.windows)
# The fallback for a model whose inference.yml names no method. LayerCAM weights every position by
# its own positive gradient instead of one global weight per channel, so a window that holds
# several text lines is not painted wherever a channel fires. A training run picks the model's
# own default on pages of their own (paddle_cam.invoice.training.select_method).
DEFAULT_METHOD = "layercam"
# Integrated Gradients on this small classifier: 16 trapezoid nodes. On 16 decisions of seed 80000
# the completeness gap |sum(attr) - (f(x) - f(b))| averaged 0.17 / 0.078 / 0.016 / 0.009 with
# 8 / 16 / 32 / 64 nodes; 16 halves the cost of 32 where QA and the pointing game use the peak.
IG_STEPS = 16
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def default_model_dir() -> str:
    """The committed field classifier (inference folder): ``demo_docs/field_cls`` of a checkout,
    else the copy an installed wheel carries (``paddle_cam/data/field_cls``)."""
    checkout = os.path.join(REPO_ROOT, "demo_docs", "field_cls")
    wheel = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "field_cls")
    return checkout if os.path.isdir(checkout) or not os.path.isdir(wheel) else wheel


def _read_yml(path: str) -> Optional[dict]:
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "r", encoding="utf-8") as f:
            return yaml.safe_load(f) or {}
    except (OSError, ValueError, yaml.YAMLError):
        raise ModelLoadError(f"{path} is not valid YAML; copy it again from the training output") from None


def _field_window(cfg: Optional[dict]) -> Optional[dict]:
    for op in ((cfg or {}).get("PreProcess") or {}).get("transform_ops") or []:
        if isinstance(op, dict) and "FieldWindow" in op:
            return op["FieldWindow"] or {}
    return None


class FieldClassifier:
    """PP-LCNet deciding the invoice field of each text line from a context window around it.

    ``model`` (eval mode) maps (N, C_in, 80, 160) windows to (N, C) probabilities over ``labels``.
    A model with label planes (``spec.text_channels``) also reads the page's recognised texts:
    pass ``page_boxes`` (the page's boxes with ``.polygon`` and ``.text``, or ``(polygon, text)``
    pairs) to :meth:`prepare`, :meth:`classify` and :meth:`explain`.
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
        self.query_channels: Tuple[int, ...] = (2,)  # the line marker (paddle_cam.invoice.windows)

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
    def window(self, polygon: Polygon, page_hw: Sequence[int]) -> Window:
        """Context window (x0, y0, x1, y1) in page pixels (x1, y1 exclusive; may extend past the page,
        which is then padded with zeros)."""
        return compute_window(polygon, self.spec)

    @property
    def reads_labels(self) -> bool:
        """Whether the model's input has label planes (it then needs the page's recognised texts)."""
        return bool(self.spec.text_channels)

    def label_regions(self, page_boxes: Optional[Sequence]) -> Optional[list]:
        """The label planes' regions of a page (None for a model without label planes)."""
        if not self.reads_labels:
            return None
        if page_boxes is None:
            raise InputError(f"the field classifier {self.source or self.name} reads the labels printed around a line: "
                             "pass page_boxes, the page's recognised boxes (objects with .polygon and .text, or "
                             "(polygon, text) pairs)")
        return label_regions(page_boxes)

    def prepare_u8(self, page_bgr: np.ndarray, polygons: Sequence[Polygon],
                   page_boxes: Optional[Sequence] = None) -> np.ndarray:
        """(N, C, H, W) uint8 windows (compact storage for training)."""
        regions = self.label_regions(page_boxes)
        planes = page_planes(page_bgr)
        h, w = self.spec.input_hw
        if len(polygons) == 0:
            return np.zeros((0, self.spec.channels, h, w), np.uint8)
        return np.stack([window_u8(planes, p, self.spec, regions=regions) for p in polygons])

    def prepare(self, page_bgr: np.ndarray, polygons: Sequence[Polygon],
                page_boxes: Optional[Sequence] = None) -> np.ndarray:
        """(N, C, H, W) float32 model input, one context window per line polygon (page pixels,
        as a DB detector returns them); ``page_boxes`` as in the class docstring."""
        return normalize_u8(self.prepare_u8(page_bgr, polygons, page_boxes))

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

    def classify(self, page_bgr: np.ndarray, polygons: Sequence[Polygon],
                 page_boxes: Optional[Sequence] = None) -> List[Tuple[str, float]]:
        """(field, probability) of every line."""
        probs = self.predict(self.prepare(page_bgr, polygons, page_boxes))
        return [(self.labels[int(k)], float(p[k])) for p, k in zip(probs, probs.argmax(1))]

    def explain(self, page_bgr: np.ndarray, boxes_polygons: Sequence, method: Optional[str] = None,
                layers: Optional[Sequence[str]] = None, class_ids: Union[None, int, Sequence[int]] = None,
                batch_size: int = 32, page_boxes: Optional[Sequence] = None, **method_kwargs) -> List[FieldExplanation]:
        """CAM of each line's field decision (the predicted class unless ``class_ids`` says otherwise)
        with ``method`` (default: the model's ``default_method``) at ``layers`` (its ``default_layer``).

        ``boxes_polygons``: polygons in page pixels or objects with a ``.polygon`` (detector boxes).
        ``page_boxes``: the page's recognised boxes, for a model with label planes (default: the
        explained boxes themselves when they carry ``.text``).
        ``class_ids``: one id for all lines or one per line. Gradient attributions on the input
        (Integrated Gradients, SmoothGrad) start from :func:`field_baseline` (paper with the
        marker kept) and IG takes ``IG_STEPS`` nodes, unless ``method_kwargs`` say otherwise.
        """
        from ..methods import get_method, make_method
        from ..targets import ClassifierOutputTarget

        polys = [getattr(b, "polygon", b) for b in boxes_polygons]
        if not polys:
            return []
        if page_boxes is None and all(hasattr(b, "text") for b in boxes_polygons):
            page_boxes = boxes_polygons
        method_cls = get_method(method or self.default_method)
        if method_cls.kind == "input_gradient":
            q = self.query_channels
            method_kwargs.setdefault("baseline", lambda xi: field_baseline(xi, q))
            if method_cls.name == "integrated_gradients":
                method_kwargs.setdefault("n_steps", IG_STEPS)
        page_hw = tuple(int(v) for v in page_bgr.shape[:2])
        x = self.prepare(page_bgr, polys, page_boxes)
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
        cam = make_method(method_cls.name, self.model, list(layers or [self.default_layer]), **method_kwargs)
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

    def label_evidence(self, page_bgr: np.ndarray, polygons: Sequence[Polygon], page_boxes: Sequence,
                       class_ids: Optional[Sequence[int]] = None) -> List[dict]:
        """Which read labels each decision rests on, by removing them from the label planes.

        Per line: ``prob`` of the decided class (``class_ids``, default the arg-max) with every
        label read, ``without_labels`` with none (the image alone), and ``labels``: each label in
        the line's window (``box``, ``text``, ``kinds``) with ``drop``, how much the probability
        falls without it, biggest drop first. Empty dicts for a model without label planes.

        >>> ev = clf.label_evidence(page, [box.polygon], page_boxes=boxes)   # doctest: +SKIP
        >>> ev[0]["labels"][0]["text"], round(ev[0]["labels"][0]["drop"], 2)  # doctest: +SKIP
        ('发票号码：', 0.71)
        """
        if not self.reads_labels:
            return [{} for _ in polygons]
        spans = label_spans(page_boxes)
        planes = page_planes(page_bgr)
        variants, plan = [], []
        for p in polygons:
            win = compute_window(p, self.spec)
            near = [s for s in spans if overlaps(s.polygon, win)]
            sets = [near, []] + [[t for t in near if t is not s] for s in near]
            plan.append((len(variants), near))
            image = image_u8(planes, p, self.spec, win)   # only the label planes differ between the variants
            variants += [np.concatenate([image, label_planes_u8(self.spec, win, regions_of(v))]) for v in sets]
        if not variants:
            return []
        probs = self.predict(normalize_u8(np.stack(variants)))
        out = []
        for i, (start, near) in enumerate(plan):
            k = int(probs[start].argmax()) if class_ids is None else int(class_ids[i])
            full = float(probs[start, k])
            labels = [dict(s.to_dict(), drop=full - float(probs[start + 2 + j, k])) for j, s in enumerate(near)]
            labels.sort(key=lambda d: -d["drop"])
            out.append({"class_id": k, "field": self.labels[k], "prob": full,
                        "without_labels": float(probs[start + 1, k]), "labels": labels})
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
