"""Score-CAM for one DB box without a full-page forward per channel.

Straight Score-CAM masks the whole page with each of the layer's C channels and runs C full-page
forwards. A box's probability only depends on the page around it (the detector's effective
receptive field), so here every masked page is cut to a window around the box (``margin`` input
pixels on each side), and channels whose mask is empty inside the window - all of which give the
same, blank window - are scored once. The channel weights (softmax of the scores, as in
Score-CAM) then weight the full-page activations as usual. ``benchmark.py`` measures the speed-up
and the rank correlation with the straight version.
"""
from __future__ import annotations

import numpy as np
import paddle

from ..base import CAMResult, normalize_maps, resize_maps, to_tensor
from ..geometry import box_window, mask_bounds
from ..hooks import LayerHooks
from ..methods.score_cam import ScoreCAM
from ..modes import eval_mode
from ..targets import MaskedMeanTarget

ALIGN = 32  # PP-OCR det inputs must be multiples of 32


def box_score_cam(model: paddle.nn.Layer, batch, target: MaskedMeanTarget, layer: str, margin: int = 96,
                  batch_size: int = 8, baseline: float = 0.0) -> CAMResult:
    """Score-CAM of one box target at ``layer``, with windowed masked forwards (see module doc)."""
    x = to_tensor(batch)
    H, W = x.shape[2:]
    with eval_mode(model):
        with paddle.no_grad():
            with LayerHooks(model, [layer]) as hooks:
                full_score = float(target(model(x)[0]))
                acts = hooks.activations[layer]
            masks = ScoreCAM.channel_masks(acts.numpy(), (H, W))[0]  # (C, H, W)
            # the aligned window starts at the box (cut to the page) and grows towards the page's end
            x0, y0, x1, y1 = box_window(mask_bounds(target.mask), (H, W), min_pad=margin, whole_pad=True,
                                        multiple=ALIGN, anchor="start")
            win_masks = masks[:, y0:y1, x0:x1]
            win_x = x[:, :, y0:y1, x0:x1]
            local = paddle.to_tensor(target.mask[y0:y1, x0:x1])
            area = float(target.mask.sum())
            active = (win_masks.amax(axis=[1, 2]) > 0).numpy()
            scores = np.zeros(masks.shape[0], np.float64)
            idx = np.nonzero(active)[0]
            base = paddle.to_tensor(np.float32(baseline))

            def score(m):  # (b, h, w) window masks -> (b,) target values
                out = model(base + m.unsqueeze(1) * (win_x - base))
                return ((out[:, 0] * local).sum(axis=[1, 2]) / area).numpy()

            for s in range(0, len(idx), batch_size):
                chunk = idx[s:s + batch_size]
                scores[chunk] = score(win_masks[paddle.to_tensor(chunk)])
            if (~active).any():  # every empty-in-window channel yields the same blank window
                scores[~active] = score(paddle.zeros_like(win_masks[:1]))[0]
        e = np.exp(scores - scores.max())
        w = e / e.sum()
        a = acts.numpy()[0].astype(np.float64)
        cam = np.maximum(np.einsum("c,chw->hw", w, a), 0).astype(np.float32)[None]
        raw = resize_maps(cam, (H, W))
        return CAMResult(raw=raw, normalized=normalize_maps(raw), per_layer_raw={layer: raw}, layer_maps={layer: cam},
                         scores=np.array([full_score], np.float32), targets=[target], method="scorecam",
                         layers=[layer])
