"""DB (Differentiable Binarization) post-processing, identical to PaddleOCR 3.x ``TextDetection``.

Steps, as in PaddleX's ``DBPostProcess`` (quad boxes, ``score_mode="fast"``):

1. binary mask ``prob > thresh`` (optionally dilated by a 2 x 2 kernel);
2. ``cv2.findContours(RETR_LIST, CHAIN_APPROX_SIMPLE)``; the first ``max_candidates`` are kept,
   in OpenCV's order (which is also the order of the returned boxes);
3. per contour: min-area rectangle (short side >= 3), mean probability inside it (``box_score_fast``,
   the rectangle filled on its bounding window) >= ``box_thresh``;
4. unclip: offset the rectangle by ``area * unclip_ratio / perimeter`` with pyclipper (round joins),
   min-area rectangle again (short side >= 5);
5. corners ordered top-left, top-right, bottom-right, bottom-left (``get_mini_boxes``), scaled by
   ``page_size / map_size`` per axis, rounded half to even, clipped to ``[0, page_w] x [0, page_h]``
   (inclusive, as PaddleX does) and stored as int16.

``thresh``/``box_thresh``/``unclip_ratio`` defaults are the PP-OCRv4 det ``inference.yml`` values
(0.3 / 0.6 / 1.5); PaddleX itself falls back to 0.3 / 0.6 / 2.0 when the yml omits them.
:meth:`DBPostProcess.for_detector` takes a loaded detector's own values (its ``inference.yml``,
else its official one, else PaddleX's fallbacks; ``models/det_families.model_processing``).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import pyclipper

from ..errors import InputError

_NUMERIC = ("thresh", "box_thresh", "max_candidates", "unclip_ratio")
MIN_SIZE = 3  # PaddleX's fixed minimum short side of a candidate box (map pixels)


def _page_size(info: Any) -> Tuple[int, int]:
    """(height, width) of the page from a ``DetInfo`` or PaddleX's [src_h, src_w, ratio_h, ratio_w]."""
    if hasattr(info, "src_h"):
        return int(info.src_h), int(info.src_w)
    if isinstance(info, dict):
        return int(info["src_h"]), int(info["src_w"])
    arr = np.asarray(info).reshape(-1)
    return int(arr[0]), int(arr[1])


def as_prob_map(prob_map: np.ndarray) -> np.ndarray:
    """(H, W), (1, H, W) or (1, 1, H, W) -> float32 (H, W)."""
    pred = np.asarray(prob_map)
    while pred.ndim > 2 and pred.shape[0] == 1:
        pred = pred[0]
    if pred.ndim != 2:
        raise ValueError(f"expected one probability map (H, W), got shape {np.shape(prob_map)}")
    return pred.astype(np.float32, copy=False)


def mini_box(points: np.ndarray) -> Tuple[np.ndarray, float]:
    """Min-area rectangle of points as float32 (4, 2) TL, TR, BR, BL and its short side."""
    rect = cv2.minAreaRect(points)
    corners = cv2.boxPoints(rect)
    # PaddleX: stable sort by x, then the two left / two right points split by y.
    corners = corners[np.argsort(corners[:, 0], kind="stable")]
    left = (0, 1) if corners[1, 1] > corners[0, 1] else (1, 0)
    right = (2, 3) if corners[3, 1] > corners[2, 1] else (3, 2)
    box = corners[[left[0], right[0], right[1], left[1]]]
    return box, float(min(rect[1]))


def box_score_fast(pred: np.ndarray, box: np.ndarray) -> float:
    """Mean of ``pred`` inside the polygon ``box`` (float coords truncated to int like PaddleX)."""
    h, w = pred.shape[:2]
    xmin = max(0, min(math.floor(box[:, 0].min()), w - 1))
    xmax = max(0, min(math.ceil(box[:, 0].max()), w - 1))
    ymin = max(0, min(math.floor(box[:, 1].min()), h - 1))
    ymax = max(0, min(math.ceil(box[:, 1].max()), h - 1))
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), np.uint8)
    local = box - np.array([xmin, ymin], box.dtype)
    cv2.fillPoly(mask, local.reshape(1, -1, 2).astype(np.int32), 1)
    return float(cv2.mean(pred[ymin:ymax + 1, xmin:xmax + 1], mask)[0])


def box_score_slow(pred: np.ndarray, contour: np.ndarray) -> float:
    """Mean of ``pred`` inside the contour itself (``score_mode="slow"``)."""
    h, w = pred.shape[:2]
    pts = np.asarray(contour).reshape(-1, 2).copy()
    xmin, xmax = np.clip(pts[:, 0].min(), 0, w - 1), np.clip(pts[:, 0].max(), 0, w - 1)
    ymin, ymax = np.clip(pts[:, 1].min(), 0, h - 1), np.clip(pts[:, 1].max(), 0, h - 1)
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), np.uint8)
    pts[:, 0] -= xmin
    pts[:, 1] -= ymin
    cv2.fillPoly(mask, pts.reshape(1, -1, 2).astype(np.int32), 1)
    return float(cv2.mean(pred[ymin:ymax + 1, xmin:xmax + 1], mask)[0])


def unclip(points: np.ndarray, unclip_ratio: float) -> List[np.ndarray]:
    """The polygons pyclipper gives when offsetting ``points`` outward by the DB distance."""
    area = cv2.contourArea(points)
    length = cv2.arcLength(points, True)
    if length <= 0:
        return []
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(points, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return [np.asarray(p, np.int64).reshape(-1, 2) for p in offset.Execute(area * unclip_ratio / length)]


def _to_page(box: np.ndarray, page_w: int, page_h: int, map_w: int, map_h: int, dtype=np.float32) -> np.ndarray:
    # PaddleX rounds (half to even) ``coord * (page / map)`` computed in the box's own precision:
    # float32 for quads (cv2.boxPoints), float64 for integer polygons.
    out = np.asarray(box, dtype).copy()
    out[:, 0] = np.clip(np.round(out[:, 0] * dtype(page_w / map_w)), 0, page_w)
    out[:, 1] = np.clip(np.round(out[:, 1] * dtype(page_h / map_h)), 0, page_h)
    return out


class DBPostProcess:
    """Probability map + ``DetInfo`` -> PaddleOCR's text boxes on the page.

    ``__call__`` returns ``[{"polygon": [[x, y]] * 4 (int page pixels), "score": float,
    "input_polygon": float (4, 2) box in map pixels before scaling}]`` in PaddleOCR's order.
    """

    def __init__(self, thresh: Optional[float] = 0.3, box_thresh: Optional[float] = 0.6,
                 max_candidates: Optional[int] = 1000, unclip_ratio: Optional[float] = 1.5,
                 use_dilation: bool = False, score_mode: str = "fast", box_type: str = "quad"):
        # None = PaddleX's fallback when inference.yml omits the value (use for_detector for a
        # model's own value)
        thresh = 0.3 if thresh is None else thresh
        box_thresh = 0.6 if box_thresh is None else box_thresh
        max_candidates = 1000 if max_candidates is None else max_candidates
        unclip_ratio = 2.0 if unclip_ratio is None else unclip_ratio
        if score_mode not in ("fast", "slow"):
            raise ValueError(f"score_mode must be 'fast' or 'slow', not {score_mode!r}")
        if box_type not in ("quad", "poly"):
            raise ValueError(f"box_type must be 'quad' or 'poly', not {box_type!r}")
        self.thresh = float(thresh)
        self.box_thresh = float(box_thresh)
        self.max_candidates = int(max_candidates)
        self.unclip_ratio = float(unclip_ratio)
        self.use_dilation = bool(use_dilation)
        self.score_mode = score_mode
        self.box_type = box_type

    @classmethod
    def for_detector(cls, detector: Any, **overrides: Any) -> "DBPostProcess":
        """The post-processing PaddleX runs ``detector`` with (its ``processing["PostProcess"]``);
        ``overrides`` that are not None win (a config key set to null means the model's own value).

        Example:
            >>> DBPostProcess.for_detector(load_detector("PP-OCRv6_det_small.onnx")).unclip_ratio  # doctest: +SKIP
            1.5
        """
        import inspect

        allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
        own = {k: v for k, v in ((getattr(detector, "processing", None) or {}).get("PostProcess") or {}).items()
               if k in allowed}
        own.update({k: v for k, v in overrides.items() if v is not None})
        for k, v in own.items():
            if k in _NUMERIC and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise InputError(f"PostProcess.{k} must be a number, not {v!r}")
        return cls(**own)

    def binary_mask(self, prob_map: np.ndarray) -> np.ndarray:
        """The uint8 {0, 1} text mask contours are traced on (map pixels)."""
        mask = (as_prob_map(prob_map) > self.thresh).astype(np.uint8)
        if self.use_dilation:
            mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
        return mask

    def __call__(self, prob_map: np.ndarray, info: Any) -> List[Dict[str, Any]]:
        """Boxes of one page; ``info`` is a ``DetInfo`` (or PaddleX's shape record)."""
        pred = as_prob_map(prob_map)
        page_h, page_w = _page_size(info)
        if pred.size == 0 or page_h < 1 or page_w < 1:
            return []
        mask = self.binary_mask(pred)
        if self.box_type == "poly":
            return self._polygons(pred, mask, page_w, page_h)
        return self._quads(pred, mask, page_w, page_h)

    def _contours(self, mask: np.ndarray) -> Sequence[np.ndarray]:
        contours = cv2.findContours(mask * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[-2]
        return contours[:self.max_candidates]

    def _quads(self, pred: np.ndarray, mask: np.ndarray, page_w: int, page_h: int) -> List[Dict[str, Any]]:
        map_h, map_w = mask.shape
        out = []
        for contour in self._contours(mask):
            box, sside = mini_box(contour)
            if sside < MIN_SIZE:
                continue
            score = box_score_fast(pred, box) if self.score_mode == "fast" else box_score_slow(pred, contour)
            if score < self.box_thresh:
                continue
            polys = unclip(box, self.unclip_ratio)
            if not polys:
                continue
            # PaddleX stacks same-length results (all points together) and keeps the first otherwise.
            same = all(len(p) == len(polys[0]) for p in polys)
            pts = np.concatenate(polys) if same else polys[0]
            grown, sside = mini_box(pts.astype(np.int32).reshape(-1, 1, 2))
            if sside < MIN_SIZE + 2:
                continue
            page = _to_page(grown, page_w, page_h, map_w, map_h).astype(np.int16)
            out.append({"polygon": page.astype(int).tolist(), "score": score, "input_polygon": grown})
        return out

    def _polygons(self, pred: np.ndarray, mask: np.ndarray, page_w: int, page_h: int) -> List[Dict[str, Any]]:
        map_h, map_w = mask.shape
        out = []
        for contour in self._contours(mask):
            approx = cv2.approxPolyDP(contour, 0.002 * cv2.arcLength(contour, True), True).reshape(-1, 2)
            if len(approx) < 4:
                continue
            score = box_score_fast(pred, approx)
            if score < self.box_thresh:
                continue
            polys = unclip(approx, self.unclip_ratio)
            if len(polys) != 1 or len(polys[0]) == 0:
                continue
            _, sside = mini_box(polys[0].astype(np.int32).reshape(-1, 1, 2))
            if sside < MIN_SIZE + 2:
                continue
            page = _to_page(polys[0], page_w, page_h, map_w, map_h, np.float64)
            out.append({"polygon": page.astype(int).tolist(), "score": score,
                        "input_polygon": polys[0].astype(np.float32)})
        return out


def sort_boxes(boxes: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Reading order of the PaddleOCR OCR pipeline (``SortQuadBoxes``): top to bottom, then left
    to right for boxes whose first corners are within 10 px in y. ``TextDetection`` does not sort."""
    out = sorted(boxes, key=lambda b: (b["polygon"][0][1], b["polygon"][0][0]))
    for i in range(len(out) - 1):
        for j in range(i, -1, -1):
            a, b = out[j]["polygon"][0], out[j + 1]["polygon"][0]
            if abs(b[1] - a[1]) < 10 and b[0] < a[0]:
                out[j], out[j + 1] = out[j + 1], out[j]
            else:
                break
    return out
