"""Per-character explanations of a CTC text recogniser (PP-OCRv4/v5 mobile rec, PP-OCRv6 rec).

A line crop is read once (greedy CTC, or aligned to a given text); each character k gets a
target (:mod:`paddle_cam.ocr.rec_targets`: the sum of ``log p(c_k)`` over the frames that collapse
to it) and a heat map, made by any registered method:

- layer CAMs (``gradcam``, ``layercam``, ...) at the backbone stages (``stage2``..``stage5``),
  at the SVTR mixing blocks (``svtr0``, ``svtr1``, ...: the token sequence reshaped to its real
  ``h x w`` grid by :class:`TokenGrid`, which is read from the encoder's input at run time; there
  is no CLS token) or at the ``neck`` output (``(N, T, C)`` frames as a ``1 x T`` grid);
- ``integrated_gradients`` / ``smoothgrad`` on the line crop;
- ``occlusion`` by character column (full-height windows, one frame wide);
- ``feature_occlusion`` (the default): each column of the backbone's features replaced by those of
  a paper-filled input, scored through the SVTR neck and CTC head only.

Speed (layer CAMs): one forward for the line, the alignment read from that forward's output, then
one backward per character that only runs from the CTC head down to the hooked layer
(``paddle.grad`` to the hooked activations). Input and black-box methods share their forwards
between all characters of the line (``explain_targets``).

Maps land in the crop's coordinates (``CharExplanation.crop_map``) and on the page through the
crop's perspective transform (:meth:`LineExplanation.page_map`).

Example:
    >>> from paddle_cam.models.rec import load_recognizer
    >>> ex = RecExplainer(load_recognizer(), "gradcam", ["stage4"])          # doctest: +SKIP
    >>> line = ex.explain_crop(crop_bgr)                                     # doctest: +SKIP
    >>> line.text, line.chars[0].char, line.chars[0].share_in_column         # doctest: +SKIP
    ('增值税', '增', 0.81)
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import paddle
import paddle.nn as nn

from ..errors import InputError
from ..hooks import LayerHooks, resolve_layer
from ..methods import get_method, make_method, method_options
from ..modes import eval_mode
from .db_postprocess import mini_box
from .det_preprocess import as_bgr_uint8
from .rec import MAX_REC_WIDTH, resize_norm
from .rec_targets import (CTCAlignment, CTCStringTarget, char_targets, check_index, contrast_target, dropped_target,
                          forced_alignment, greedy_alignment, least_confident)

# ---- the explained model: logits, with the recogniser's own sublayer names --------------------


class RecLogits(nn.Layer):
    """A recogniser's pre-softmax CTC scores ``(N, T, classes)``, sharing its sublayers (so the
    dotted layer names, e.g. ``head.encoder.svtr_block.0``, are the recogniser's own).

    CTC targets take ``log_softmax`` of these logits: the recogniser's own output is already a
    softmax, whose log underflows for confident frames.

    Example:
        >>> m = RecLogits(load_recognizer().model)                 # doctest: +SKIP
        >>> m(x).shape                                             # (N, T, classes)  # doctest: +SKIP
    """

    def __init__(self, rec_model: nn.Layer):
        super().__init__()
        self.model = rec_model.model
        self.head = rec_model.head
        self.training = rec_model.training

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.from_features(self.features(x))

    def features(self, x: paddle.Tensor) -> paddle.Tensor:
        """The backbone's ``(N, C, h, T)`` features (the SVTR neck's input)."""
        return self.model(x)

    def from_features(self, f: paddle.Tensor) -> paddle.Tensor:
        """The CTC logits the neck and head make of backbone features (``feature_occlusion`` runs
        only this part per occluded column)."""
        return self.head.head(self.head.encoder(f))


# ---- token sequences as their real grid -------------------------------------------------------


class TokenGrid:
    """``reshape_transform`` for SVTR token sequences: ``(N, L, C)`` -> ``(N, C, h, w)``.

    The grid is the one the SVTR encoder flattened: recorded from the encoder's input
    (``(N, C, h, w)``) by a forward pre-hook while :meth:`watch` is active. It is not square
    (``1 x W/8`` for PP-OCR mobile/small rec at height 48) and has no CLS token. A sequence of
    ``w`` tokens (the neck output after the height axis is squeezed) becomes ``1 x w``; any other
    length is an error rather than a guess. 4-D tensors pass through.

    Example:
        >>> grid = TokenGrid()
        >>> grid.hw = (1, 5)
        >>> list(grid(paddle.zeros([2, 5, 7])).shape)
        [2, 7, 1, 5]
    """

    def __init__(self) -> None:
        self.hw: Optional[Tuple[int, int]] = None

    @contextlib.contextmanager
    def watch(self, model: nn.Layer, encoder: str = "head.encoder") -> Iterator["TokenGrid"]:
        """Record the encoder input's grid during forwards in the block; the hook is removed on exit."""
        _, layer = resolve_layer(model, encoder)

        def pre(_layer, inputs):
            shape = inputs[0].shape
            if len(shape) == 4:
                self.hw = (int(shape[2]), int(shape[3]))
            return None

        handle = layer.register_forward_pre_hook(pre)
        try:
            yield self
        finally:
            handle.remove()

    def __call__(self, t: paddle.Tensor) -> paddle.Tensor:
        if t.ndim == 4:
            return t
        if t.ndim != 3:
            raise ValueError(f"a token sequence must be (N, L, C), got shape {t.shape}")
        n, length, c = t.shape
        if self.hw is None:
            raise ValueError("TokenGrid has not seen the encoder's input grid; use it inside watch(model)")
        h, w = self.hw
        if length == h * w:
            grid = (h, w)
        elif length == w:
            grid = (1, w)
        else:
            raise ValueError(f"{length} tokens fit neither the {h} x {w} grid nor its {w} columns")
        return t.transpose([0, 2, 1]).reshape([n, c, grid[0], grid[1]])


def rec_layer_aliases(rec_model: nn.Layer, aliases: Dict[str, str]) -> Dict[str, str]:
    """The recogniser family's aliases (``neck``, ``head``, ``stageN``) plus ``svtrI`` for each
    SVTR mixing block (``head.encoder.svtr_block.I``)."""
    out = dict(aliases)
    for name, _ in rec_model.named_sublayers():
        parts = name.split(".")
        if len(parts) == 4 and parts[:3] == ["head", "encoder", "svtr_block"]:
            out[f"svtr{parts[3]}"] = name
            out[f"attn{parts[3]}"] = name + ".self_attn"
    attn = sorted(v for k, v in out.items() if k.startswith("attn"))
    if attn:
        out["attention"] = ",".join(attn)   # every SVTR attention layer, in forward order
    return out


def resolve_rec_layers(rec_model: nn.Layer, aliases: Dict[str, str], layers: Sequence[str]) -> List[str]:
    """Dotted layer names from aliases or names; unknown ones raise LayerNotFoundError."""
    table = rec_layer_aliases(rec_model, aliases)
    names = [n for layer in layers for n in table.get(str(layer), str(layer)).split(",")]
    for n in names:
        resolve_layer(rec_model, n)
    return names


# ---- crop geometry ------------------------------------------------------------------------------


@dataclass
class CropGeometry:
    """How a line crop relates to the model input and to the page.

    ``input_w``: the padded model-input width; ``resized_w``: the columns that hold the crop
    (the rest is padding); ``crop_hw``: the crop's size; ``to_page``: the 3x3 homography from
    crop pixels (before any upright turn) to page pixels, None for a crop given without a page;
    ``rotated``: the crop was turned 90 degrees counter-clockwise (tall boxes).
    """

    input_hw: Tuple[int, int]
    resized_w: int
    crop_hw: Tuple[int, int]
    to_page: Optional[np.ndarray] = None
    rotated: bool = False

    def input_to_crop(self, input_map: np.ndarray) -> np.ndarray:
        """An (H_in, W_in) map on the model input -> (h, w) on the crop (padding cut off)."""
        part = np.ascontiguousarray(input_map[:, :self.resized_w], np.float32)
        h, w = self.crop_hw
        return cv2.resize(part, (w, h), interpolation=cv2.INTER_LINEAR)

    def frame_columns(self, span: Tuple[float, float], num_frames: int) -> Tuple[float, float]:
        """Crop x-range [x0, x1) of a span of frames (frame units; frame t covers input columns
        ``[t, t+1) * W_in / T``)."""
        step = self.input_hw[1] / float(num_frames)
        sx = self.crop_hw[1] / float(self.resized_w)
        return (float(max(0.0, span[0] * step * sx)), float(min(self.crop_hw[1], span[1] * step * sx)))

    def crop_to_page(self, crop_map: np.ndarray, page_hw: Tuple[int, int]) -> np.ndarray:
        """A crop map warped onto the page (zeros outside the box)."""
        if self.to_page is None:
            raise InputError("this line was explained from a crop without its page; pass page polygons")
        m = np.rot90(crop_map, -1) if self.rotated else crop_map  # undo the upright turn first
        h, w = int(page_hw[0]), int(page_hw[1])
        return cv2.warpPerspective(np.ascontiguousarray(m, np.float32), self.to_page, (w, h),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def crop_with_transform(image_bgr: np.ndarray, polygon) -> Tuple[np.ndarray, np.ndarray, bool]:
    """PaddleOCR's line crop of ``polygon`` (as :func:`paddle_cam.ocr.rec.crop_box`) with the
    homography crop -> page and whether the crop was turned upright."""
    img = as_bgr_uint8(image_bgr)
    box, _ = mini_box(np.asarray(polygon).astype(np.int32).reshape(-1, 1, 2))
    pts = np.asarray(box, np.float32)
    width = int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
    height = int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
    if width < 1 or height < 1:
        raise InputError(f"box {np.asarray(polygon).tolist()} is degenerate ({width} x {height} px): no text to explain")
    dst = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    m = cv2.getPerspectiveTransform(pts, dst)
    crop = cv2.warpPerspective(img, m, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    rotated = crop.shape[0] * 1.0 / crop.shape[1] >= 1.5
    if rotated:
        crop = np.rot90(crop)
    return np.ascontiguousarray(crop), np.linalg.inv(m), rotated


# ---- results ------------------------------------------------------------------------------------


@dataclass
class CharExplanation:
    """One character's explanation: ``crop_map`` is the raw (ReLU'd, not normalised) map on the
    crop; ``columns`` the x-range of its own column on the crop (:func:`own_column`; for a dropped
    character, the gap's frames); ``share_in_column`` the part of the map's mass inside it; ``score`` the target's value."""

    index: int
    char: str
    confidence: float
    frames: List[int]
    columns: Tuple[float, float]
    crop_map: np.ndarray
    share_in_column: float
    score: float
    target: str = "char"
    alternative: Optional[str] = None


@dataclass
class LineExplanation:
    """A line's reading and the explanations of the chosen characters (or targets)."""

    text: str
    score: float
    alignment: CTCAlignment
    crop: np.ndarray
    geometry: CropGeometry
    method: str
    layers: List[str]
    chars: List[CharExplanation] = field(default_factory=list)

    def page_map(self, i: int, page_hw: Tuple[int, int]) -> np.ndarray:
        """The map of explanation ``i`` (in ``chars``) on the page."""
        return self.geometry.crop_to_page(self.chars[i].crop_map, page_hw)


def own_column(alignment: CTCAlignment, k: int) -> Tuple[float, float]:
    """Character k's own column in frame units: from halfway to its left neighbour's frames to
    halfway to its right neighbour's (CTC puts a character on one or two spiky frames, so its
    frames alone are far narrower than its glyph); the first and last characters mirror their
    inner half-gap outwards; a lone character owns the whole line.

    Example:
        >>> al = greedy_alignment(np.eye(4)[[0, 1, 0, 0, 2, 0, 3, 0]] * 9, list("_abc"))
        >>> [own_column(al, k) for k in range(3)]
        [(0.0, 3.0), (3.0, 5.5), (5.5, 7.5)]
    """
    chars = alignment.chars
    n, T = len(chars), float(alignment.num_frames)
    if n == 1:
        return 0.0, T
    bounds = [(chars[i].frames[-1] + 1 + chars[i + 1].frames[0]) / 2.0 for i in range(n - 1)]
    c = chars[k]
    left = bounds[k - 1] if k > 0 else c.frames[0] - (bounds[0] - (c.frames[-1] + 1))
    right = bounds[k] if k < n - 1 else c.frames[-1] + 1 + (c.frames[0] - bounds[-1])
    return float(max(0.0, left)), float(min(T, right))


def column_share(crop_map: np.ndarray, columns: Tuple[float, float]) -> float:
    """Share of a non-negative map's mass inside the x-range ``columns`` (0 for an empty map)."""
    total = float(crop_map.sum())
    if total <= 0:
        return 0.0
    x0, x1 = int(np.floor(columns[0])), int(np.ceil(columns[1]))
    return float(crop_map[:, x0:max(x0 + 1, x1)].sum()) / total


# ---- the explainer --------------------------------------------------------------------------------

CharSpec = Union[str, int, Sequence[int], None]
# Default of the library (the tool's default is configs/det/explain_ocr.yml Rec.method / Rec.layers),
# chosen by the per-character pointing game on rendered lines (pointing_game), deletion/insertion,
# the randomisation check and the cost of all characters of a line (docs/rec/rec_eval.md,
# BENCHMARKS.md). DEFAULT_LAYER serves layer CAMs.
DEFAULT_METHOD = "feature_occlusion"
DEFAULT_LAYER = "stage4"


class RecExplainer:
    """Per-character explanations of a :class:`paddle_cam.models.rec.Recognizer` on line crops.

    Args:
        recognizer: a loaded recogniser (``load_recognizer()``).
        method: any registered method name (``gradcam``, ``layercam``, ``integrated_gradients``,
            ``smoothgrad``, ``occlusion``, ...).
        layers: layer names or aliases (``stage2``..``stage5``, ``svtr0``.., ``neck``) for layer CAMs.
        method_kwargs: the method's options. Occlusion defaults to full-height windows one frame
            wide (columns), stride half a frame.

    Example:
        >>> ex = RecExplainer(load_recognizer(), "layercam", ["stage4"])       # doctest: +SKIP
        >>> line = ex.explain_crop(crop, chars=[3])                           # doctest: +SKIP
        >>> line.chars[0].crop_map.shape == crop.shape[:2]                    # doctest: +SKIP
        True
    """

    def __init__(self, recognizer, method: str = DEFAULT_METHOD, layers: Optional[Sequence[str]] = None,
                 method_kwargs: Optional[dict] = None):
        self.recognizer = recognizer
        self.logits_model = RecLogits(recognizer.model)
        self.method = get_method(method)
        self.grid = TokenGrid()
        opts = dict(method_kwargs or {})
        if self.method.kind == "layer_cam":
            default = ["attention"] if self.method.name == "attention_rollout" else [DEFAULT_LAYER]
            self.layers = resolve_rec_layers(recognizer.model, recognizer.layers, list(layers or default))
            if "reshape_transform" in method_options(self.method.name):
                opts.setdefault("reshape_transform", self.grid)
        else:
            self.layers = ["input"]
        self.method_kwargs = opts
        self.base_ratio = recognizer.image_shape[2] / float(recognizer.image_shape[1])

    # -- inputs --
    def prepare(self, crop_bgr: np.ndarray) -> Tuple[np.ndarray, CropGeometry]:
        """PaddleOCR's model input of one crop (as ``TextRecognizer.batches([crop])``) and its geometry."""
        crop = as_bgr_uint8(crop_bgr)
        if crop.ndim != 3 or crop.shape[0] < 1 or crop.shape[1] < 1:
            raise InputError("the box's crop is empty: no text to explain")
        h, w = crop.shape[:2]
        shape = self.recognizer.image_shape
        x = resize_norm(crop, max(self.base_ratio, w * 1.0 / h), shape)
        width = -(-x.shape[2] // 160) * 160  # the reader pads to steps of 160 px (TextRecognizer.batches)
        x = np.pad(x, ((0, 0), (0, 0), (0, width - x.shape[2])))[None]
        img_w = int(shape[1] * max(self.base_ratio, w * 1.0 / h))
        resized_w = min(img_w, int(math.ceil(shape[1] * (w / float(h))))) if img_w <= MAX_REC_WIDTH else MAX_REC_WIDTH
        return x.astype(np.float32), CropGeometry((int(x.shape[2]), int(x.shape[3])), int(resized_w), (h, w))

    def read(self, x: np.ndarray) -> np.ndarray:
        """(T, classes) logits of a one-line input, without gradients."""
        with eval_mode(self.logits_model), paddle.no_grad():
            return self.logits_model(paddle.to_tensor(x)).numpy()[0]

    # -- targets --
    def targets_for(self, alignment: CTCAlignment, logits: np.ndarray, chars: CharSpec = "all",
                    contrast: Optional[str] = None, dropped: Optional[int] = None) -> list:
        """Targets of a line: ``chars`` = ``all`` | ``least`` | ``string`` (the whole text, one
        map) | an index | indices; with
        ``contrast`` (an alternative character, or ``"runner-up"``) each chosen character is
        explained against it; ``dropped`` = a gap index explains the blank evidence there."""
        if dropped is not None:
            return [dropped_target(alignment, int(dropped))]
        if not alignment.chars:
            raise InputError("the recognition is empty: there is no character to explain")
        if chars is None or chars == "all":
            idx = list(range(len(alignment.chars)))
        elif chars == "least":
            idx = [least_confident(alignment)]
        elif chars == "string":
            return [CTCStringTarget(alignment)]
        elif isinstance(chars, (int, np.integer)):
            idx = [int(chars)]
        else:
            idx = [int(k) for k in chars]
        for k in idx:
            check_index(alignment, k)
        if contrast is not None:
            alt = None if contrast in ("runner-up", "runner_up", "") else contrast
            return [contrast_target(alignment, k, logits, alt) for k in idx]
        all_targets = char_targets(alignment)
        return [all_targets[k] for k in idx]

    # -- maps --
    def _iter_layer_cam(self, x: np.ndarray, make_targets: Callable[[np.ndarray], list]):
        """One forward with hooks; the alignment and targets come from its output; then one
        backward per target, from the head down to the hooked layers only."""
        cam = make_method(self.method.name, self.logits_model, self.layers, **self.method_kwargs)
        xt = paddle.to_tensor(x)

        def nchw(t: paddle.Tensor) -> np.ndarray:
            t = self.grid(t) if t.ndim == 3 else t
            return t.detach().numpy().astype(np.float32)

        extra = getattr(cam, "extra_hooks", contextlib.nullcontext)
        with eval_mode(self.logits_model), self.grid.watch(self.logits_model), extra(), \
                LayerHooks(self.logits_model, self.layers) as hooks:
            out = self.logits_model(xt)
            logits = out[0]
            targets = make_targets(logits.numpy())
            yield targets
            acts = {k: nchw(v) for k, v in hooks.activations.items()}
            for i, t in enumerate(targets):
                score = t(logits)
                if cam.uses_gradients:
                    g = hooks.gradients(score, retain_graph=i < len(targets) - 1)
                    grads = {k: nchw(v) for k, v in g.items()}
                else:
                    grads = {}
                yield cam.maps_from_captures(hooks.names, acts, grads, xt, [t], np.array([float(score)], np.float32))

    def _iter_other(self, x: np.ndarray, make_targets: Callable[[np.ndarray], list], geometry: CropGeometry):
        logits = self.read(x)
        targets = make_targets(logits)
        yield targets
        opts = dict(self.method_kwargs)
        if self.method.name == "occlusion":
            # character columns: full-height windows one frame wide, over the crop's columns only
            step = max(1, int(round(geometry.input_hw[1] / float(len(logits)))))
            opts.setdefault("window", (geometry.input_hw[0], step))
            opts.setdefault("stride", (geometry.input_hw[0], max(1, step // 2)))
        if self.method.name in ("occlusion", "feature_occlusion"):
            opts.setdefault("region", (0, 0, geometry.resized_w, geometry.input_hw[0]))   # not the padding
        method = make_method(self.method.name, self.logits_model, None, **opts)
        yield from method.explain_targets(x, targets)

    def input_maps(self, x: np.ndarray, targets: list, geometry: CropGeometry) -> List[np.ndarray]:
        """Raw ``(H_in, W_in)`` maps of fixed ``targets`` on a prepared input ``x`` (:meth:`prepare`),
        without reading the line again: what deletion curves and the randomisation check need,
        where the target must stay the one of the intact input and model.

        Example:
            >>> x, geo = ex.prepare(crop)                                         # doctest: +SKIP
            >>> al = forced_alignment(ex.read(x), ex.recognizer.characters, "AB") # doctest: +SKIP
            >>> ex.input_maps(x, char_targets(al), geo)[0].shape == x.shape[2:]   # doctest: +SKIP
            True
        """
        fixed = lambda _logits: list(targets)  # noqa: E731
        it = (self._iter_layer_cam(x, fixed) if self.method.kind == "layer_cam"
              else self._iter_other(x, fixed, geometry))
        try:
            next(it)
            return [np.asarray(res.raw[0], np.float32) for _, res in zip(targets, it)]
        finally:
            it.close()

    def explain_crop(self, crop_bgr: np.ndarray, chars: CharSpec = "all", text: Optional[str] = None,
                     contrast: Optional[str] = None, dropped: Optional[int] = None,
                     geometry: Optional[CropGeometry] = None) -> LineExplanation:
        """Read (or, with ``text``, force-align) one BGR line crop and explain the chosen characters.

        Raises InputError for an empty recognition, an index out of range, an alternative not in
        the dictionary, or a gap with no frames.
        """
        x, geo = self.prepare(crop_bgr)
        if geometry is not None:
            geo.to_page, geo.rotated = geometry.to_page, geometry.rotated
        state: Dict[str, object] = {}

        def make_targets(logits: np.ndarray) -> list:
            al = (forced_alignment(logits, self.recognizer.characters, text) if text
                  else greedy_alignment(logits, self.recognizer.characters))
            state["alignment"], state["logits"] = al, logits
            return self.targets_for(al, logits, chars, contrast, dropped)

        it = (self._iter_layer_cam(x, make_targets) if self.method.kind == "layer_cam"
              else self._iter_other(x, make_targets, geo))
        try:
            targets = next(it)
            al: CTCAlignment = state["alignment"]  # type: ignore[assignment]
            line = LineExplanation(al.text, al.score, al, as_bgr_uint8(crop_bgr), geo, self.method.name,
                                   list(self.layers))
            for t, res in zip(targets, it):
                crop_map = np.maximum(geo.input_to_crop(res.raw[0]), 0)
                frames = list(t.frames)
                span = own_column(al, t.index) if t.index >= 0 else (frames[0], frames[-1] + 1.0)
                cols = geo.frame_columns(span, al.num_frames)
                ch = al.chars[t.index] if t.index >= 0 else None
                line.chars.append(CharExplanation(
                    t.index, ch.char if ch else "", ch.confidence if ch else float("nan"), frames, cols, crop_map,
                    column_share(crop_map, cols), float(res.scores[0]), t.kind, getattr(t, "alt_char", None)))
        finally:
            it.close()  # leaves the hook contexts now, also on an exception
        return line

    def explain_box(self, page_bgr: np.ndarray, polygon, **kwargs) -> LineExplanation:
        """Crop a page box as PaddleOCR does and explain it; maps can go back to the page
        (:meth:`LineExplanation.page_map`)."""
        crop, to_page, rotated = crop_with_transform(page_bgr, polygon)
        return self.explain_crop(crop, geometry=CropGeometry((0, 0), 0, crop.shape[:2], to_page, rotated), **kwargs)


def explain_low_confidence(explainer: RecExplainer, page_bgr: np.ndarray, polygon, text: str,
                           span: Optional[Tuple[int, int]] = None, min_confidence: float = 0.9,
                           max_chars: int = 4) -> Optional[LineExplanation]:
    """Explain the least confident characters of one box's reading (at most ``max_chars``, those
    below ``min_confidence``), within ``span`` ``[start, end)`` of ``text`` (a field's value inside
    a box that also holds its label); None when every character there is confident.

    ``text`` is what the page's reader returned for the box: when this crop's own reading differs
    (batching pads lines differently), the characters are force-aligned to ``text`` so that
    indices and confidences refer to the characters the reviewer sees.

    >>> line = explain_low_confidence(RecExplainer(rec), page, box.polygon, box.text, (5, 23))  # doctest: +SKIP
    >>> [(c.char, round(c.confidence, 2)) for c in line.chars]                                 # doctest: +SKIP
    [('8', 0.41)]
    """
    if not text:
        return None
    crop, to_page, rotated = crop_with_transform(page_bgr, polygon)
    x, _ = explainer.prepare(crop)
    logits = explainer.read(x)
    al = greedy_alignment(logits, explainer.recognizer.characters)
    forced = al.text != text
    if forced:
        try:
            al = forced_alignment(logits, explainer.recognizer.characters, text)
        except InputError:
            return None   # a character the dictionary does not hold: nothing to align
    a, b = span if span is not None else (0, len(al.chars))
    low = sorted((c.confidence, k) for k, c in enumerate(al.chars) if a <= k < b and c.confidence < min_confidence)
    if not low:
        return None
    chars = sorted(k for _, k in low[:max(1, int(max_chars))])
    return explainer.explain_crop(crop, chars=chars, text=text if forced else None,
                                  geometry=CropGeometry((0, 0), 0, crop.shape[:2], to_page, rotated))


# ---- measurement: per-character pointing game on rendered lines ---------------------------------


def render_glyph_line(text: str, font_size: int = 32, pad: int = 12, font_path: Optional[str] = None
                      ) -> Tuple[np.ndarray, List[Tuple[int, int, int, int]]]:
    """A clean BGR line of ``text`` and each character's ink box (x0, y0, x1, y1) in its pixels.

    Example:
        >>> img, boxes = render_glyph_line("AB12")                # doctest: +SKIP
        >>> len(boxes)                                            # doctest: +SKIP
        4
    """
    from PIL import Image, ImageDraw, ImageFont

    from ..fonts import find_cjk_font_path

    path, index = (font_path, 0) if font_path else find_cjk_font_path()
    font = ImageFont.truetype(path, font_size, index=index)
    width = int(np.ceil(font.getlength(text))) + 2 * pad
    height = font_size + 2 * pad
    im = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    y = pad - int(font_size * 0.1)
    draw.text((pad, y), text, font=font, fill=(0, 0, 0))
    boxes = []
    for i, c in enumerate(text):
        x = pad + font.getlength(text[:i])
        l, t, r, b = font.getbbox(c)
        boxes.append((int(np.floor(x + l)), int(np.floor(y + t)), int(np.ceil(x + r)), int(np.ceil(y + b))))
    return np.ascontiguousarray(np.asarray(im)[:, :, ::-1]), boxes


def peak_in_box(crop_map: np.ndarray, box: Tuple[int, int, int, int], tol: int = 0) -> bool:
    """Pointing game: the map's maximum is reached inside ``box`` (grown by ``tol`` px); ties
    count as a hit when one of the maxima lies in the box; an all-zero map is a miss."""
    m = np.asarray(crop_map)
    top = float(m.max())
    if top <= 0:
        return False
    x0, y0, x1, y1 = box
    h, w = m.shape
    inner = m[max(0, y0 - tol):min(h, y1 + tol), max(0, x0 - tol):min(w, x1 + tol)]
    return inner.size > 0 and float(inner.max()) >= top


POINTING_TEXTS = ("增值税专用发票", "价税合计叁仟肆佰元整", "纳税人识别号91110108MA01C3XK2T",
                  "开票日期2024年05月01日", "金额1234.56税率13%", "北京云杉数据科技有限公司",
                  "ABCDEFGHJK", "发票代码011002100111")


def pointing_game(explainer: RecExplainer, texts: Sequence[str] = POINTING_TEXTS, font_size: int = 32,
                  tol: int = 0) -> Dict[str, float]:
    """Per-character pointing game on rendered lines: the share of characters whose map peaks
    inside their own glyph box. Lines are force-aligned to their true text, so every character
    is explained as itself; ``read_ok`` is the share of lines the greedy reading got right.

    Example:
        >>> pointing_game(RecExplainer(load_recognizer(), "layercam", ["stage4"]))   # doctest: +SKIP
        {'pointing': 0.97, 'chars': 150, 'read_ok': 1.0, 'share_in_column': 0.8}
    """
    hits, n, read_ok, shares = 0, 0, 0, []
    for text in texts:
        img, boxes = render_glyph_line(text, font_size)
        line = explainer.explain_crop(img, text=text)
        read_ok += int(greedy_alignment(explainer.read(explainer.prepare(img)[0]),
                                        explainer.recognizer.characters).text == text)
        for ce in line.chars:
            hits += int(peak_in_box(ce.crop_map, boxes[ce.index], tol))
            shares.append(ce.share_in_column)
            n += 1
    return {"pointing": hits / float(max(n, 1)), "chars": n, "read_ok": read_ok / float(len(texts)),
            "share_in_column": float(np.mean(shares)) if shares else 0.0}
