"""The short Python API: a page explained in a few lines, with the command line's defaults.

``OCRExplainer`` loads a detector (and recogniser) the way ``tools/explain_ocr.py`` does, from the
same defaults file (``configs/det/explain_ocr.yml``), and ``explain`` returns a
:class:`PageExplanation` that saves, draws, serialises and logs itself.

Example (the bundled PP-OCRv4 det + rec; ``tests/test_api.py`` runs it):

    >>> import paddle_cam as pc
    >>> ex = pc.OCRExplainer.from_pretrained()                                  # doctest: +SKIP
    >>> res = ex.explain("demo_docs/invoices/invoice_0100.jpg", boxes="top-3")  # doctest: +SKIP
    >>> res.save("output/invoice_0100")                                         # doctest: +SKIP
    >>> res.boxes[0].text, res.explanations[0].target                           # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from .config import as_list, load_config
from .errors import InputError
from .ocr.explain import Explanation
from .ocr.explain import OCRExplainer as _DetExplainer
from .ocr.explain import PageResult, explain_rec, parse_polygon
from .ocr.pipeline import Box

DEFAULTS = "det/explain_ocr"
ImageLike = Union[str, os.PathLike, np.ndarray]


def method_kwargs(explain_cfg: dict) -> dict:
    """Options of the configured method that come from its config section (Score-CAM's batch size)."""
    from .methods import method_options

    opts = method_options(explain_cfg["method"])
    return {"batch_size": int(explain_cfg["scorecam_batch_size"])} if "batch_size" in opts else {}


def _boxes_spec(boxes: Union[str, int, Sequence[int], None]) -> str:
    if boxes is None:
        return "none"
    if isinstance(boxes, (int, np.integer)):
        return str(int(boxes))
    if isinstance(boxes, str):
        return boxes
    ids = [str(int(b)) for b in boxes]
    return ",".join(ids) if ids else "none"


class PageExplanation:
    """One explained page: its boxes (with the recognised text), the explanations, and the ways
    out (files, an image, JSON, VisualDL). Same content and files as ``tools/explain_ocr.py``.

    Attributes:
        result: the :class:`~paddle_cam.ocr.explain.PageResult` (page, explanations, rec).
        source: the image's path (or ``"<array>"``).
    """

    def __init__(self, result: PageResult, source: str, explainer: "OCRExplainer", method: str, layers: List[str]):
        self.result = result
        self.source = source
        self._explainer = explainer
        self.method = method
        self.layers = layers

    @property
    def boxes(self) -> List[Box]:
        """The detected boxes (ids, polygons, scores, text, text scores), page pixels."""
        return self.result.page.boxes

    @property
    def explanations(self) -> List[Explanation]:
        return self.result.explanations

    @property
    def rotation(self) -> int:
        """Degrees the page was turned to read it upright (0 when it was)."""
        return int(getattr(self.result.page, "rotation", 0) or 0)

    def _model(self) -> Dict[str, Any]:
        from .sinks.det_report import model_record

        return model_record(self._explainer.pipeline)

    def to_dict(self) -> Dict[str, Any]:
        """The report without files: boxes, and per explanation its target, own-box share, top
        other regions, the rest, background, ``energy_in_box`` and raw maximum."""
        from .sinks.det_report import page_report

        rep = page_report(self.result, self._model(), self.method, self.layers,
                          int(self._explainer.output["top_regions"]))
        return {"image": self.source, **rep}

    def to_json(self, indent: Optional[int] = None) -> str:
        """:meth:`to_dict` as JSON text (UTF-8 characters kept)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def overlay(self) -> np.ndarray:
        """The page overlay (RGB uint8): the all-text map with its colour bar, boxes and ids."""
        from .sinks.det_report import page_overlay

        return page_overlay(self.result, float(self._explainer.output["alpha"]))

    def save(self, out_dir: Union[str, os.PathLike], vdl=None, name: Optional[str] = None) -> Dict[str, Any]:
        """Write ``page.png``, ``panels/``, ``raw.npz`` and ``report.json`` (last) to ``out_dir``;
        returns the report. ``vdl``: an open :class:`~paddle_cam.sinks.visualdl.VisualDLRun` to log
        to as well, under the tag prefix ``name`` (default: the image's name)."""
        from .io import ensure_writable_dir
        from .sinks.det_report import write_page
        from .sinks.visualdl import safe_tag

        out_dir = ensure_writable_dir(os.fspath(out_dir))
        prefix = safe_tag(name) if name else _vdl_prefix(self.source)
        return write_page(out_dir, self.source, self.result, self._model(), self.method, self.layers,
                          self._explainer.output, vdl, prefix)

    def log_visualdl(self, writer: Union[str, os.PathLike, Any], run: str = "base") -> None:
        """Log the page to VisualDL: ``writer`` is a log folder (a run ``run`` is made in it) or a
        :class:`paddle_cam.sinks.visualdl.VisualDLRun` already open. Panels are drawn in memory."""
        import tempfile

        from .sinks.visualdl import VisualDLRun

        own = not hasattr(writer, "image")
        vdl = VisualDLRun(os.fspath(writer), run) if own else writer
        try:
            with tempfile.TemporaryDirectory() as tmp:
                self.save(tmp, vdl)
        finally:
            if own:
                vdl.close()


def _vdl_prefix(source: str) -> str:
    from .sinks.visualdl import safe_tag

    return safe_tag(os.path.splitext(os.path.basename(source))[0]) if source != "<array>" else "page"


class OCRExplainer(_DetExplainer):
    """Explain a PaddleOCR text detector (and recogniser) on pages, from a name, a folder, a
    PaddleOCR object or the bundled default, with ``configs/det/explain_ocr.yml``'s defaults.

    Example:
        >>> ex = OCRExplainer.from_pretrained("PP-OCRv6_small_det", rec="PP-OCRv6_small_rec")  # doctest: +SKIP
        >>> ex = OCRExplainer.from_paddleocr(paddleocr.PaddleOCR(...))                          # doctest: +SKIP
        >>> res = OCRExplainer.from_pretrained().explain(page_bgr, boxes=[3, 7], method="layercam")  # doctest: +SKIP
    """

    def __init__(self, *args, config: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.config = config if config is not None else load_config(DEFAULTS)

    @property
    def output(self) -> dict:
        """The ``Output`` section: alpha, raw_maps, panels, colour_scale, top_regions."""
        return self.config["Output"]

    @classmethod
    def from_config(cls, cfg: dict) -> "OCRExplainer":
        """The explainer a full config describes (``load_config("det/explain_ocr", ...)``): the
        text pipeline of ``Global`` / ``PreProcess`` / ``PostProcess``, the method and layers of
        ``Explain``, the recogniser's explainer when ``Rec.explain`` or ``Rec.chars`` ask for it,
        and the line orientation classifier when ``Global.fix_orientation``."""
        from .ocr.pipeline import TextPipeline

        e, r, g = cfg["Explain"], cfg["Rec"], cfg["Global"]
        line_clf = None
        if g.get("fix_orientation"):
            from .models.cls import load_orientation_classifier

            line_clf = load_orientation_classifier()
        pipeline = TextPipeline.from_config(cfg, line_classifier=line_clf)
        rec_explainer = None
        if pipeline.rec is not None:
            from .ocr.rec_explain import RecExplainer

            rec_explainer = RecExplainer(pipeline.rec.recognizer, r["method"], as_list(r["layers"]) or None)
        return cls(pipeline, e["method"], as_list(e["layers"]), method_kwargs(e), bool(e["gradient_support"]),
                   rec_explainer, config=cfg)

    @classmethod
    def from_pretrained(cls, det: Optional[str] = None, rec: Optional[str] = None, *, use_rec: bool = True,
                        method: Optional[str] = None, layers: Optional[Sequence[str]] = None,
                        device: Optional[str] = None, config: Optional[str] = None,
                        overrides: Sequence[str] = ()) -> "OCRExplainer":
        """Load by PaddleOCR model name or from a folder / file.

        Args:
            det: a detector name (``"PP-OCRv6_small_det"``: PaddleX's cache,
                ``$PADDLE_PDX_CACHE_HOME/official_models``) or a path (inference or safetensors
                folder, ``.pdparams``, ``.onnx``); None: the bundled PP-OCRv4 mobile det.
            rec: the recogniser, likewise (None: the bundled PP-OCRv4 mobile rec).
            use_rec: False: detect only.
            method, layers: the default method and layers of :meth:`explain`.
            device: ``cpu``, ``gpu`` or ``gpu:N``; None: ``Global.device`` (``auto``: a GPU when
                Paddle has one).
            config: a ``-c`` style YAML file; ``overrides``: ``-o`` style ``Section.key=value``.

        Raises:
            InputError: an unknown name, a missing folder, a misspelt override key.
        """
        from .cli import set_device

        cfg = load_config(DEFAULTS, config, overrides)
        g = cfg["Global"]
        for kind, value in (("det", det), ("rec", rec)):
            if value is not None:
                key = "model_dir" if os.path.exists(os.fspath(value)) else "model_name"
                g[f"{kind}_{key}"] = os.fspath(value)
        g["use_rec"] = bool(use_rec)
        if method is not None:
            cfg["Explain"]["method"] = method
        if layers is not None:
            cfg["Explain"]["layers"] = as_list(layers)
        set_device(device or g["device"])
        return cls.from_config(cfg)

    @classmethod
    def from_paddleocr(cls, obj: Any, rec: Any = None, **kwargs) -> "OCRExplainer":
        """The models of a PaddleOCR 3.x object you already have: a ``PaddleOCR`` pipeline (its
        text detection and recognition models and their settings), or a ``TextDetection`` with an
        optional ``TextRecognition`` as ``rec``. Its detection settings (limit side, thresholds,
        unclip ratio) become this explainer's. Other keywords go to :meth:`from_pretrained`.

        Raises:
            InputError: an object that is not one of these.
        """
        det_cfg, rec_cfg = paddleocr_settings(obj)
        if det_cfg is None:
            raise InputError("a TextRecognition alone has no detector to explain: pass the TextDetection (or the "
                             "PaddleOCR pipeline) and the recogniser as rec=")
        if rec is not None:
            rec_cfg = paddleocr_settings(rec)[1]
            if rec_cfg is None:
                raise InputError(f"rec= must be a paddleocr.TextRecognition, not a {type(rec).__name__} of a detector")
        over = list(kwargs.pop("overrides", ()))
        for section, keys in (("PreProcess", ("limit_side_len", "limit_type", "max_side_limit")),
                              ("PostProcess", ("thresh", "box_thresh", "unclip_ratio"))):
            over += [f"{section}.{k}={det_cfg[k]}" for k in keys if det_cfg.get(k) is not None]
        return cls.from_pretrained(det_cfg.get("model"), rec_cfg.get("model") if rec_cfg else None,
                                   use_rec=rec_cfg is not None, overrides=over, **kwargs)

    def explain(self, image: ImageLike, boxes: Union[str, int, Sequence[int], None] = None, *,
                method: Optional[str] = None, layers: Optional[Sequence[str]] = None,
                regions: Sequence = (), missed: Sequence = (), rec: bool = False, chars: Sequence[str] = (),
                all_text: Optional[bool] = None, upright: Optional[bool] = None) -> PageExplanation:
        """Detect and read one page, then explain its boxes.

        Args:
            image: a path (image or one-page PDF) or a BGR uint8 array (as ``cv2.imread``).
            boxes: ``"all"``, ``"top-K"``, a box id or ids, ``"none"``; None: ``Explain.boxes``.
            method, layers: for this call (default: the explainer's).
            regions, missed: polygons (page pixels, or ``"x1,y1,x2,y2,..."``) of regions to
                explain and of lines that should have been detected.
            rec: also explain every character read in the selected boxes; ``chars``: only
                these (``"BOX:K[,K..]"``, ``"BOX:least"`` ...).
            all_text: explain all text together (the page overlay); None: ``Explain.all_text``.
            upright: turn the page upright first (90 degrees from box geometry, 180 from the
                line classifier); None: ``Global.fix_orientation``.

        Raises:
            InputError: an unreadable image, a bad box id or polygon, an unknown method.
        """
        from .methods import check_method_for

        e, g = self.config["Explain"], self.config["Global"]
        if method:
            check_method_for(method, "det")
        img, source = self._image(image)
        worker = self
        if (method and method != self.method.name) or layers is not None:
            cfg = {**self.config, "Explain": {**e, "method": method or self.method.name,
                                              "layers": as_list(layers) if layers is not None else self.layers}}
            worker = OCRExplainer(self.pipeline, cfg["Explain"]["method"], cfg["Explain"]["layers"],
                                  method_kwargs(cfg["Explain"]), bool(e["gradient_support"]), self.rec_explainer,
                                  config=cfg)
        spec = _boxes_spec(boxes) if boxes is not None else str(e["boxes"])
        polys = [[parse_polygon(p) if isinstance(p, str) else p for p in group] for group in (regions, missed)]
        turn = bool(g.get("fix_orientation", True)) if upright is None else bool(upright)
        result = worker.explain_page(img, spec, bool(e["all_text"]) if all_text is None else bool(all_text),
                                     polys[0], polys[1], upright=turn)
        if rec or chars:
            if self.rec_explainer is None:
                raise InputError("rec / chars explain the recogniser: load the explainer with use_rec=True")
            result.rec = explain_rec(worker, result.page, spec, list(chars), self.config["Rec"]["contrast"])
        return PageExplanation(result, source, worker, worker.method.name, worker.layers)

    def _image(self, image: ImageLike):
        from .io import read_document

        if isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise InputError(f"image arrays must be BGR uint8 (H, W, 3), got {image.dtype} {image.shape}")
            return image, "<array>"
        path = os.fspath(image)
        pages = read_document(path, max_pixels=int(self.output["max_pixels"]))
        if len(pages) != 1:
            raise InputError(f"{path} has {len(pages)} pages; explain one page array at a time "
                             f"(paddle_cam.io.read_document) or use tools/explain_ocr.py")
        return pages[0][1], path


def paddleocr_settings(obj: Any):
    """``(det, rec)`` settings of a PaddleOCR 3.x object: dicts with ``model`` (its folder, else
    its name) and the detection parameters set on it; ``rec`` is None without a recogniser.

    Raises:
        InputError: not a ``PaddleOCR``, ``TextDetection`` or ``TextRecognition`` object.
    """
    def model(name, folder):
        return os.fspath(folder) if folder else name

    cfg = getattr(obj, "_merged_paddlex_config", None)
    if isinstance(cfg, dict) and "SubModules" in cfg:   # the PaddleOCR pipeline
        sub = cfg["SubModules"]
        d = dict(sub.get("TextDetection") or {})
        r = sub.get("TextRecognition")
        det = {**d, "model": model(d.get("model_name"), d.get("model_dir"))}
        return det, ({"model": model(r.get("model_name"), r.get("model_dir"))} if r else None)
    name = getattr(obj, "_model_name", None)
    if name is None:
        raise InputError(f"from_paddleocr takes a paddleocr.PaddleOCR, TextDetection or TextRecognition object, "
                         f"not {type(obj).__name__}")
    predictor = getattr(obj, "paddlex_predictor", None)
    folder = getattr(obj, "_model_dir", None) or getattr(predictor, "model_dir", None)
    entry = {**(getattr(obj, "_extra_init_args", None) or {}), "model": model(name, folder)}
    if name.endswith("_rec"):
        return None, entry
    return entry, None
