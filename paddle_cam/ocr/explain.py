"""Explain a DB detector on a page: detect, read, and attribute each box (or region) to pixels.

All targets of a page share one forward pass (``BaseCAM.explain_targets``); maps live on the
model-input grid and are mapped back to page pixels for metrics and overlays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Mapping, Optional, Sequence

import cv2
import numpy as np

from ..base import CAMResult, normalize_maps, resize_maps
from ..errors import InputError
from ..methods import get_method, make_method, method_options
from ..models.det import Detector
from ..models.det_families import resolve_aliases
from .pipeline import Box, OCRPage, TextPipeline
from .regions import BoxLabels, energy_in_box
from .targets import AllTextTarget, DBBoxTarget, MissedLineTarget, RegionTarget


@dataclass
class Explanation:
    """One target's explanation, kept small: per-layer maps on their own grids (page-size maps
    are made on demand, so a page with hundreds of boxes stays within memory)."""

    target: Dict[str, object]      # kind + box id / region name, and its score
    method: str
    layers: List[str]
    layer_maps: Dict[str, np.ndarray]   # (h, w) raw, ReLU'd, per layer
    input_hw: tuple
    energy_in_box: Optional[float]
    regions: Dict[str, object]

    def input_raw(self) -> np.ndarray:
        """(H_in, W_in) raw map on the model input, as ``CAMResult.raw`` (made once)."""
        cached = self.__dict__.get("_input_raw")
        if cached is None:
            cached = np.mean([resize_maps(m[None], self.input_hw)[0] for m in self.layer_maps.values()], axis=0)
            self.__dict__["_input_raw"] = cached
        return cached

    def page_raw(self, page_hw) -> np.ndarray:
        """(H, W) raw map on the page."""
        return np.maximum(resize_maps(self.input_raw()[None], page_hw)[0], 0)

    def page_raw_window(self, page_hw, window) -> np.ndarray:
        """The raw map on page pixels ``window = (x0, y0, x1, y1)`` only: the input-grid cells
        under the window, resized to it (a panel's crop without a page-size map per box)."""
        x0, y0, x1, y1 = (int(v) for v in window)
        raw = self.input_raw()
        (H, W), (h, w) = page_hw, raw.shape
        sx, sy = w / float(W), h / float(H)
        ix0, iy0 = int(np.floor(x0 * sx)), int(np.floor(y0 * sy))
        ix1, iy1 = min(w, int(np.ceil(x1 * sx)) + 1), min(h, int(np.ceil(y1 * sy)) + 1)
        cell = raw[iy0:iy1, ix0:ix1].astype(np.float32)
        big = cv2.resize(cell, (int(round((ix1 - ix0) / sx)), int(round((iy1 - iy0) / sy))), interpolation=cv2.INTER_LINEAR)
        ox, oy = int(round(x0 - ix0 / sx)), int(round(y0 - iy0 / sy))
        out = np.zeros((y1 - y0, x1 - x0), np.float32)
        part = big[oy:oy + out.shape[0], ox:ox + out.shape[1]]
        out[:part.shape[0], :part.shape[1]] = part
        return np.maximum(out, 0)

    def page_norm(self, page_hw) -> np.ndarray:
        """(H, W) map in [0, 1] on the page (per-layer normalised first when layers are fused)."""
        if len(self.layer_maps) == 1:
            return normalize_maps(self.page_raw(page_hw)[None])[0]
        per = [normalize_maps(resize_maps(m[None], self.input_hw))[0] for m in self.layer_maps.values()]
        return normalize_maps(resize_maps(np.mean(per, axis=0)[None], page_hw))[0]


@dataclass
class PageResult:
    """A detected page and the explanations made on it."""

    page: OCRPage
    explanations: List[Explanation] = field(default_factory=list)
    # per-character recognition explanations: (box id, LineExplanation) or (box id, error message)
    rec: List[tuple] = field(default_factory=list)


def resolve_layers(detector: Detector, layers: Optional[Sequence[str]]) -> List[str]:
    """Layer names, with the detector family's aliases (``models/det_families.py``): neck, head,
    stage2..stage5 (output stride 4..32), scales (= stage3..5 + neck)."""
    return resolve_aliases(detector.arch, list(layers or [detector.default_layer]))


def parse_polygon(text: str) -> List[List[float]]:
    """``x1,y1,x2,y2,...`` (4+ points) or ``x0,y0,x1,y1`` (a rectangle) in page pixels."""
    try:
        v = [float(t) for t in text.replace(";", ",").split(",") if t.strip()]
    except ValueError:
        raise InputError(f"polygon '{text}' must be comma-separated numbers x1,y1,x2,y2,...") from None
    if len(v) == 4:
        x0, y0, x1, y1 = v
        return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    if len(v) < 6 or len(v) % 2:
        raise InputError(f"polygon '{text}' needs 4 numbers (a rectangle) or 3+ x,y pairs")
    return [[v[i], v[i + 1]] for i in range(0, len(v), 2)]


def select_boxes(boxes: List[Box], spec: str) -> List[Box]:
    """``all``, ``top-K`` (highest detection scores) or ``N,M`` (box ids)."""
    spec = (spec or "all").strip().lower()
    if spec == "all":
        return list(boxes)
    if spec == "none":
        return []
    if spec.startswith("top-"):
        try:
            k = int(spec[4:])
        except ValueError:
            raise InputError(f"--boxes {spec}: use top-K with a whole number K") from None
        return sorted(boxes, key=lambda b: -b.score)[:k]
    try:
        ids = [int(t) for t in spec.split(",") if t.strip()]
    except ValueError:
        raise InputError(f"--boxes '{spec}' must be all, top-K or box ids like 0,3,7") from None
    by_id = {b.id: b for b in boxes}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise InputError(f"--boxes: no box with id {missing[0]} (the page has {len(boxes)} boxes, ids 0..{len(boxes) - 1})")
    return [by_id[i] for i in ids]


class OCRExplainer:
    """CAM explanations of a text pipeline's DB detector on pages (boxes, regions, missed lines
    and all text), with the detection (and reading) of :class:`TextPipeline`."""

    def __init__(self, pipeline: TextPipeline, method: str = "gradcam", layers: Optional[Sequence[str]] = None,
                 method_kwargs: Optional[dict] = None, gradient_support: bool = True, rec_explainer=None):
        self.pipeline = pipeline
        self.rec_explainer = rec_explainer  # a rec_explain.RecExplainer of the pipeline's recogniser, or None
        self.method = get_method(method)
        self.layers = resolve_layers(pipeline.detector, layers)
        self.method_kwargs = dict(method_kwargs or {})
        if "gradient_support" in method_options(self.method.name):
            self.method_kwargs.setdefault("gradient_support", gradient_support)

    @property
    def detector(self) -> Detector:
        """The explained detector (the pipeline's)."""
        return self.pipeline.detector

    def iter_targets(self, batch: np.ndarray, targets: Sequence) -> Iterator[CAMResult]:
        """CAMs of many targets on one page, in order, one at a time; box-like targets at the neck
        take the exact crop path (one neck pass for all), the others share one full forward."""
        from ..targets import MaskedMeanTarget
        from . import neck_crop
        from .box_scorecam import box_score_cam

        cam = make_method(self.method.name, self.detector.model, self.layers, **self.method_kwargs)
        if cam.name == "scorecam" and len(self.layers) == 1:
            # one windowed Score-CAM per box; page-wide targets need the full-page version
            for t in targets:
                yield (box_score_cam(self.detector.model, batch, t, self.layers[0], batch_size=cam.batch_size)
                       if isinstance(t, MaskedMeanTarget) else cam(batch, [t]))
            return
        fast = [neck_crop.supports(self.detector, cam, self.layers, [t]) for t in targets]
        quick = neck_crop.iter_fast(self.detector, cam, batch, [t for t, f in zip(targets, fast) if f], self.layers[0]) \
            if any(fast) else iter(())
        other = cam.iter_targets(batch, [t for t, f in zip(targets, fast) if not f])
        for f in fast:
            yield next(quick) if f else next(other)

    def explain_page(self, image_bgr: np.ndarray, boxes_spec: str = "all", all_text: bool = True,
                     regions: Sequence[Sequence] = (), missed: Sequence[Sequence] = (),
                     upright: bool = False) -> PageResult:
        """Detect (and read) one page, then explain the selected boxes, ``regions`` and ``missed``
        lines (page polygons) and, with ``all_text``, all detected text together. ``upright``:
        the page is turned upright first (:meth:`TextPipeline.upright`); polygons are then on the
        turned page (``result.page.image``)."""
        page = self.pipeline.upright(image_bgr) if upright else self.pipeline.detect(image_bgr)
        boxes, prob, hw_in = page.boxes, page.prob, page.input_hw
        result = PageResult(page)
        thresh = float(getattr(self.pipeline.post, "thresh", 0.3))
        jobs = []  # (description, target, page polygon or None)
        for b in select_boxes(boxes, boxes_spec):
            jobs.append(({"kind": "box", "box_id": b.id}, DBBoxTarget(page.to_input(b.polygon), hw_in, b.id), b.polygon))
        for i, poly in enumerate(regions):
            jobs.append(({"kind": "region", "name": f"region_{i}", "polygon": poly},
                         RegionTarget(page.to_input(poly), hw_in, f"region_{i}"), poly))
        for i, poly in enumerate(missed):
            t = MissedLineTarget(page.to_input(poly), hw_in, f"missed_{i}")
            peak = float((prob * t.mask).max())
            jobs.append(({"kind": "missed", "name": f"missed_{i}", "polygon": poly, "peak_prob": peak,
                          "db_thresh": thresh}, t, poly))
        if all_text and boxes:
            jobs.append(({"kind": "all_text"}, AllTextTarget.from_prob(prob, thresh), None))
        if not jobs:
            return result
        # Shares and energies are ratios of areas: measured on the model-input grid where the maps
        # are made, not on the page, which only adds interpolated pixels (and costs 10x on A4 scans).
        labels = BoxLabels([page.to_input(b.polygon) for b in boxes], hw_in, [b.id for b in boxes])
        for (desc, _, poly), res in zip(jobs, self.iter_targets(page.batch, [t for _, t, _ in jobs])):
            ex = Explanation(dict(desc, score=float(res.scores[0])), res.method, res.layers,
                             {k: v[0] for k, v in res.layer_maps.items()}, hw_in, None, {})
            raw = res.raw[0]
            ex.energy_in_box = energy_in_box(raw, page.to_input(poly)) if poly is not None else None
            ex.regions = labels.shares(raw)
            result.explanations.append(ex)
        return result


def parse_char_spec(spec: str) -> tuple:
    """``BOX:K[,K..]`` | ``BOX:least`` | ``BOX:all`` | ``BOX:string`` -> (box id, chars) for ``--chars``.

    Example:
        >>> parse_char_spec("3:0,2"), parse_char_spec("5:least")
        ((3, [0, 2]), (5, 'least'))
    """
    box, sep, chars = str(spec).partition(":")
    try:
        box_id = int(box)
        if not sep or chars.strip() in ("", "all"):
            return box_id, "all"
        if chars.strip() in ("least", "string"):
            return box_id, chars.strip()
        return box_id, [int(k) for k in chars.split(",") if k.strip()]
    except ValueError:
        raise InputError(f"--chars '{spec}' must be BOX:K[,K...], BOX:least, BOX:string or BOX:all, e.g. 3:0,2") from None


def explain_rec(explainer: "OCRExplainer", page: OCRPage, boxes_spec: str = "all", char_specs: Sequence = (),
                contrast: Optional[str] = None) -> List[tuple]:
    """Per-character explanations of the recogniser on a detected page.

    ``char_specs`` (``--chars``): explain only those boxes and characters; a bad box id, an empty
    text or an index out of range is an InputError (a single target: exit 2). Otherwise every
    character of the boxes ``boxes_spec`` selects; a box that cannot be explained (no text) is
    recorded as ``(box id, message)`` and the page continues.
    """
    rx = explainer.rec_explainer
    if rx is None:
        raise InputError("recognition explanations need a recogniser: set Global.use_rec: true")
    out: List[tuple] = []
    by_id = {b.id: b for b in page.boxes}
    if char_specs:
        for spec in char_specs:
            box_id, chars = parse_char_spec(spec) if isinstance(spec, str) else spec
            if box_id not in by_id:
                raise InputError(f"--chars: no box with id {box_id} (the page has {len(page.boxes)} boxes, "
                                 f"ids 0..{len(page.boxes) - 1})")
            out.append((box_id, rx.explain_box(page.image, by_id[box_id].polygon, chars=chars, contrast=contrast)))
        return out
    for b in select_boxes(page.boxes, boxes_spec):
        try:
            out.append((b.id, rx.explain_box(page.image, b.polygon, chars="all", contrast=contrast)))
        except InputError as err:
            out.append((b.id, str(err)))
    return out


def compact_raw(layer_maps: Mapping[str, np.ndarray]) -> np.ndarray:
    """One target's raw (h, w) maps per layer as one float32 map on the finest layer's grid (exact
    for one layer; a mean of bilinear resizes for several) - small enough to keep one per box."""
    maps = list(layer_maps.values())
    finest = max((m.shape for m in maps), key=lambda s: s[0] * s[1])
    if len(maps) == 1:
        return maps[0].astype(np.float32)
    return np.mean([cv2.resize(m, (finest[1], finest[0]), interpolation=cv2.INTER_LINEAR) for m in maps],
                   axis=0).astype(np.float32)
