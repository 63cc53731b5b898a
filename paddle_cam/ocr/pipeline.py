"""The text pipeline of one page: preprocess -> DB probability map -> DB post-process ->
(orientation) -> recogniser, returning typed results.

Every tool that detects text goes through :class:`TextPipeline`, so the boxes an explanation,
an evaluation, a pruning comparison or the invoice QA sees are the same boxes, in the same
order (the post-process order), with the same preprocessing scale.

Example:
    >>> from paddle_cam.config import load_config
    >>> from paddle_cam.ocr.pipeline import TextPipeline
    >>> pipe = TextPipeline.from_config(load_config("det/explain_ocr"), use_rec=False)  # doctest: +SKIP
    >>> page = pipe.detect(image_bgr)                                                  # doctest: +SKIP
    >>> [(b.id, b.score) for b in page.boxes]                                           # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ..models.det import Detector
from .db_postprocess import DBPostProcess, sort_boxes
from .det_preprocess import DetInfo, DetPreprocess
from .orientation import flipped_fraction, rotate, vertical_fraction
from .rec import line_crops


@dataclass
class Box:
    """One detected text line."""

    id: int
    polygon: List[List[float]]     # page pixels
    score: float
    text: Optional[str] = None
    text_score: Optional[float] = None


@dataclass
class OCRPage:
    """One page as the detector saw it."""

    image: np.ndarray              # BGR page as detected (upright when it was turned)
    batch: np.ndarray              # (1, 3, H_in, W_in) float32 model input
    info: DetInfo                  # the preprocessing geometry (page size, resize ratios)
    prob: np.ndarray               # (H_in, W_in) shrink map
    boxes: List[Box]
    rotation: int = 0              # degrees the input was turned clockwise to be upright

    @property
    def input_hw(self) -> Tuple[int, int]:
        """(H_in, W_in) of the model input."""
        return tuple(int(v) for v in self.batch.shape[2:])

    @property
    def page_hw(self) -> Tuple[int, int]:
        """(H, W) of the page."""
        return tuple(int(v) for v in self.image.shape[:2])

    def to_input(self, polygon: Sequence[Sequence[float]]) -> np.ndarray:
        """Page pixels -> model-input pixels (float64), by the page-to-input size ratio."""
        (H, W), (h_in, w_in) = self.page_hw, self.input_hw
        sy, sx = h_in / float(H), w_in / float(W)
        return np.asarray(polygon, np.float64) * [sx, sy]


class TextPipeline:
    """A DB detector with its pre/post-processing, an optional recogniser and an optional
    text-line orientation classifier.

    Args:
        detector: the dynamic-graph DB detector (:func:`paddle_cam.models.det.load_detector`).
        preprocess: ``image_bgr -> (chw float32, DetInfo)`` (:class:`DetPreprocess`).
        postprocess: ``(prob map, DetInfo) -> [{"polygon", "score"}]`` (:class:`DBPostProcess`).
        recognizer: ``(image, polygons) -> [(text, score)]`` with ``.crops``, or None to skip reading.
        line_classifier: PaddleOCR's 0/180 text-line classifier, used by :meth:`upright`.
    """

    def __init__(self, detector: Detector, preprocess: Any, postprocess: Any, recognizer: Any = None,
                 line_classifier: Any = None):
        self.detector = detector
        self.pre = preprocess
        self.post = postprocess
        self.rec = recognizer
        self.line_clf = line_classifier

    @classmethod
    def from_config(cls, cfg: dict, use_rec: Optional[bool] = None,
                    line_classifier: Any = None) -> "TextPipeline":
        """The pipeline a tool's config describes.

        Weights, per kind (``det``, ``rec``): ``Global.<kind>_model_dir`` wins (a folder, file or
        ``.onnx``); else ``Global.<kind>_model_name`` (a PaddleOCR name such as
        ``PP-OCRv6_small_det``) resolves to PaddleX's model cache
        (:func:`paddle_cam.models.names.resolve_weights`); else the bundled PP-OCRv4 model. Both
        are resolved before either loads, so a missing or wrong name fails (one line, exit 2)
        before any work. ``Global.use_rec`` says whether to read (``use_rec`` overrides it: a tool
        that never reads passes False). The ``PreProcess`` / ``PostProcess`` sections override the
        detector's own processing (a null key keeps the model's value):
        :meth:`DetPreprocess.for_detector`, :meth:`DBPostProcess.for_detector`.

        Example:
            >>> from paddle_cam.config import load_config
            >>> cfg = load_config("det/explain_ocr", overrides=["Global.det_model_name=PP-OCRv6_small_det"])
            >>> TextPipeline.from_config(cfg).detector.name  # doctest: +SKIP
            'PP-OCRv6_small_det'
        """
        from ..models.det import load_detector
        from ..models.names import check_kind, resolve_weights

        g = cfg["Global"]
        if use_rec is None:
            use_rec = bool(g.get("use_rec", True))
        kinds = ("det", "rec") if use_rec else ("det",)
        wanted = {k: (g.get(f"{k}_model_dir"), g.get(f"{k}_model_name")) for k in kinds}
        for kind, (_, name) in wanted.items():
            if name:
                check_kind(name, kind)  # a det/rec mix-up is the error to show, not the folder it lacks
        det_dir, det_name = resolve_weights(*wanted["det"], "det")
        if use_rec:
            rec_dir, rec_name = resolve_weights(*wanted["rec"], "rec")
        det = load_detector(det_dir, model_name=det_name)
        rec = None
        if use_rec:
            from .rec import TextRecognizer

            rec = TextRecognizer(rec_dir, model_name=rec_name)
        return cls(det, DetPreprocess.for_detector(det, **(cfg.get("PreProcess") or {})),
                   DBPostProcess.for_detector(det, **(cfg.get("PostProcess") or {})),
                   rec, line_classifier)

    def detect(self, image_bgr: np.ndarray, recognize: bool = True) -> OCRPage:
        """Boxes of one page, read when ``recognize`` and a recogniser is set. Ids follow reading
        order as PaddleOCR's OCR pipeline sorts its boxes (:func:`sort_boxes`: top to bottom,
        then left to right); ``TextDetection`` alone returns them in post-process order."""
        chw, info = self.pre(image_bgr)
        batch = chw[None].astype(np.float32)
        prob = self.detector.prob_map(batch)[0, 0]
        dets = sort_boxes(self.post(prob, info))
        boxes = [Box(i, [[float(x), float(y)] for x, y in d["polygon"]], float(d["score"])) for i, d in enumerate(dets)]
        page = OCRPage(image_bgr, batch, info, prob, boxes)
        if recognize:
            self._read(page)
        return page

    def upright(self, image_bgr: np.ndarray, recognize: bool = True) -> OCRPage:
        """:meth:`detect` on the page turned upright: by 90 degrees when most boxes stand
        vertically, then by 180 degrees when the line classifier reads most confident lines as
        upside down (only with a line classifier). ``OCRPage.rotation`` says how it was turned."""
        page = self.detect(image_bgr, recognize=False)
        rotation = 0
        if page.boxes and vertical_fraction([b.polygon for b in page.boxes]) > 0.5:
            rotation = 90
            page = self.detect(rotate(image_bgr, 90), recognize=False)
        if page.boxes and self.line_clf is not None:
            crops = line_crops(page.image, [b.polygon for b in page.boxes])
            if flipped_fraction(self.line_clf, crops) > 0.5:
                rotation = (rotation + 180) % 360
                page = self.detect(rotate(page.image, 180), recognize=False)
        page.rotation = rotation
        if recognize:
            self._read(page)
        return page

    def recognize(self, image: np.ndarray, polygons: Sequence[Sequence[Sequence[float]]]) -> List[Tuple[str, float]]:
        """(text, score) of each polygon (page pixels) of a BGR page, in order."""
        if self.rec is None:
            raise ValueError("this TextPipeline has no recogniser; build it with one (use_rec=True)")
        return [(text, float(score)) for text, score in self.rec(image, polygons)]

    def _read(self, page: OCRPage) -> None:
        if self.rec is not None and page.boxes:
            for b, (text, score) in zip(page.boxes, self.recognize(page.image, [b.polygon for b in page.boxes])):
                b.text, b.text_score = text, score
