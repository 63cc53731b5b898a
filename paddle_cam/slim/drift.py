"""Explanations of one fixed set of targets on several models, and how far they drift.

Every model variant is explained on the *base* model's boxes (and the base's text mask for the
all-text target), so maps of different variants answer the same question and can be compared
pixel by pixel on the raw scale.

Speed: a DB box explained at the neck only depends on the neck output within the box/4 +- 1
feature pixels (the head is a 3x3 conv and two non-overlapping 2x2 transposed convs). For the
mobile detector at ``model.neck`` the head is therefore run on a crop of the neck output around
each box (box/4 +- 2), which gives the *same* activations and gradients as the full model (the
gradient is exactly zero outside) about 10x faster; the maps are then formed by the method's own
code (``BaseCAM.maps_from_captures``), as :mod:`paddle_cam.ocr.neck_crop` does for ``explain_ocr``.
The first box of each model is also explained the ordinary way and the two are compared; a
mismatch switches that model to the ordinary path.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..base import CAMResult, resize_maps
from ..geometry import box_window
from ..methods import make_method, method_options
from ..ocr import neck_crop
from ..ocr.explain import compact_raw
from ..ocr.regions import energy_in_box
from ..ocr.targets import DBBoxTarget
from ..targets import MaskedMeanTarget
from .metrics import spearman, ssim, topk_iou

NECK = neck_crop.NECK
GENERIC_CHUNK = 16


@dataclass
class PageTargets:
    """The base model's targets on one page, shared by every variant."""

    name: str
    image: np.ndarray                   # BGR page
    batch: np.ndarray                   # (1, 3, H_in, W_in) model input
    box_ids: List[int]
    page_polys: List[List[List[float]]]
    input_polys: List[np.ndarray]
    text_mask: Optional[np.ndarray]     # (H_in, W_in) base shrink map > thresh, for the all-text target

    @property
    def input_hw(self) -> Tuple[int, int]:
        return tuple(self.batch.shape[2:])

    def box_roi(self, index: int, grid_hw: Sequence[int]) -> Tuple[slice, slice]:
        """(rows, cols) of box ``index`` on a layer grid, where its maps are compared: the box
        grown by 1.5 text heights (at least 16 input pixels), as the explanation panels crop it,
        plus one grid cell past the end."""
        gh, gw = int(grid_hw[0]), int(grid_hw[1])
        H, W = self.input_hw
        x0, y0, x1, y1 = box_window(self.input_polys[index], (gh, gw), grow=1.5, min_pad=16, scale=(gw / W, gh / H))
        return slice(y0, min(gh, y1 + 1)), slice(x0, min(gw, x1 + 1))


@dataclass
class TargetMaps:
    """One target's explanation on one model."""

    key: str                            # box_<id> or all_text
    score: float
    grid: np.ndarray                    # (h, w) raw map at the layer's resolution (saved, compared)
    raw: np.ndarray                     # (H_in, W_in) raw map on the model input (energy, images)
    energy_in_box: Optional[float] = None


class FixedTargetExplainer:
    """Explain fixed targets on a detector with one CAM method at given layers."""

    def __init__(self, detector, method: str = "gradcam", layers: Sequence[str] = (NECK,),
                 gradient_support: bool = True, crop_trick: bool = True):
        self.det = detector
        self.layers = [layers] if isinstance(layers, str) else list(layers)
        options = {"gradient_support": gradient_support} if "gradient_support" in method_options(method) else {}
        self.cam = make_method(method, detector.model, self.layers, **options)
        self.fast = (crop_trick and self.layers == [NECK] and getattr(detector, "arch", "") == "mobile"
                     and self.cam.crop_paths)
        self.verified: Optional[float] = None  # max |diff| of the crop path vs the ordinary one

    # -- ordinary path (any method, any layer) ------------------------------------------------
    def _generic(self, batch: np.ndarray, targets: list) -> List[CAMResult]:
        return self.cam.explain_targets(batch, targets)

    # -- crop path (mobile DB head at the neck) -------------------------------------------------
    def _crop_results(self, batch: np.ndarray, polys: Sequence[np.ndarray], ids: Sequence[int]) -> Iterator[CAMResult]:
        hw = batch.shape[2:]
        # targets are made one at a time: a page's input-size masks together would not fit in memory
        return neck_crop.iter_at_neck(self.det, self.cam, batch, (DBBoxTarget(p, hw, i) for p, i in zip(polys, ids)))

    def _generic_chunks(self, page: PageTargets, hw) -> Iterator[CAMResult]:
        # one forward per chunk: all input-size results of a page at once would not fit in memory
        for s in range(0, len(page.box_ids), GENERIC_CHUNK):
            ids = page.box_ids[s:s + GENERIC_CHUNK]
            polys = page.input_polys[s:s + GENERIC_CHUNK]
            yield from self._generic(page.batch, [DBBoxTarget(p, hw, i) for p, i in zip(polys, ids)])

    def _verify(self, batch: np.ndarray, poly: np.ndarray, bid: int) -> bool:
        ref = self._generic(batch, [DBBoxTarget(poly, batch.shape[2:], bid)])[0]
        got = next(self._crop_results(batch, [poly], [bid]))
        a, b = ref.layer_maps[NECK], got.layer_maps[NECK]
        scale = max(float(np.abs(a).max()), 1e-12)
        self.verified = float(np.abs(a - b).max() / scale)
        return self.verified <= 1e-3 and abs(float(ref.scores[0]) - float(got.scores[0])) <= 1e-5

    def explain(self, page: PageTargets) -> Iterator[TargetMaps]:
        """Maps for every box of ``page`` (then the all-text target), one at a time."""
        hw = page.input_hw
        if page.box_ids:
            if self.fast and self.verified is None and not self._verify(page.batch, page.input_polys[0], page.box_ids[0]):
                self.fast = False
            if self.fast:
                results = self._crop_results(page.batch, page.input_polys, page.box_ids)
            else:
                results = self._generic_chunks(page, hw)
            for bid, res in zip(page.box_ids, results):
                yield self._maps(f"box_{bid}", res)
        if page.text_mask is not None and page.text_mask.sum() > 0:
            res = self._generic(page.batch, [MaskedMeanTarget(page.text_mask, 0, "all_text")])[0]
            yield self._maps("all_text", res)

    @staticmethod
    def _maps(key: str, res: CAMResult) -> TargetMaps:
        grid = compact_raw({k: v[0] for k, v in res.layer_maps.items()})
        return TargetMaps(key, float(res.scores[0]), grid, res.raw[0].astype(np.float32))


def page_energy(raw_input: np.ndarray, page_poly, page_hw: Sequence[int]) -> float:
    """``energy_in_box`` on the page, as ``explain_ocr`` reports it."""
    page_raw = np.maximum(resize_maps(raw_input[None], page_hw)[0], 0)
    return energy_in_box(page_raw, page_poly)


@dataclass
class Drift:
    """Per-target comparison of a variant's map with the base's."""

    key: str
    spearman: Optional[float]
    ssim: Optional[float]
    topk_iou: Optional[float]
    energy_in_box: Optional[float]
    energy_in_box_base: Optional[float]
    score: float
    score_base: float
    extra: Dict[str, object] = field(default_factory=dict)


def compare_maps(base: TargetMaps, var: TargetMaps, roi: Optional[Tuple[slice, slice]], topk: float) -> Drift:
    """Spearman / SSIM / top-k IoU of two grid maps inside ``roi`` (whole map when None)."""
    a, b = base.grid, var.grid
    if a.shape != b.shape:  # another layer resolution (a --before/--after pair of other input sizes)
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_LINEAR)
    if roi is not None:
        a, b = a[roi], b[roi]
    rng = float(max(a.max(), b.max()))
    return Drift(base.key, spearman(a, b), ssim(a, b, data_range=rng) if rng > 0 else None, topk_iou(a, b, topk),
                 var.energy_in_box, base.energy_in_box, var.score, base.score)
