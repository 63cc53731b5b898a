"""geometry.box_window: the one "box grown by k x its height" window, pinned to the windows its
callers cut (explanation panels, windowed Score-CAM, drift ROIs, evaluation windows)."""
import numpy as np
import pytest

from paddle_cam.geometry import box_window, mask_bounds, polygon_mask

HW = (400, 640)
POLYS = {
    "line": [[120, 40], [480, 40], [480, 64], [120, 64]],
    "tilted": [[33.4, 210.2], [301.7, 196.9], [303.1, 228.5], [34.8, 241.8]],
    "edge": [[2, 3], [90, 3], [90, 19], [2, 19]],
    "corner": [[600, 380], [638, 380], [638, 399], [600, 399]],
}
# (x0, y0, x1, y1) per caller, as the code before the shared helper cut them
PINNED = {
    "line": {"panel": (84, 4, 516, 100), "neighbourhood": (82, 2, 518, 102), "window_of": (92, 20, 508, 84),
             "roi": (slice(1, 26), slice(21, 130)), "scorecam": (24, 0, 600, 192)},
    "tilted": {"panel": (0, 149, 351, 289), "neighbourhood": (0, 147, 353, 292), "window_of": (8, 171, 328, 267),
               "roi": (slice(37, 74), slice(0, 89)), "scorecam": (0, 101, 416, 357)},
    "edge": {"panel": (0, 0, 114, 43), "neighbourhood": (0, 0, 116, 45), "window_of": (0, 0, 128, 64),
             "roi": (slice(0, 12), slice(0, 30)), "scorecam": (0, 0, 192, 128)},
    "corner": {"panel": (572, 352, 640, 400), "neighbourhood": (569, 349, 640, 400), "window_of": (544, 336, 640, 400),
               "roi": (slice(87, 100), slice(142, 160)), "scorecam": (480, 272, 640, 400)},
}


@pytest.mark.parametrize("name", list(POLYS))
def test_callers_windows_are_pinned(name):
    p = np.asarray(POLYS[name], np.float64)
    want = PINNED[name]
    # sinks.det_report.explanation_panel
    assert box_window(p, HW, grow=1.5, min_pad=16, whole_pad=True) == want["panel"]
    # evaluation: black-box masks around a line, and the detector's stride-aligned window
    assert box_window(p, HW, grow=1.5, extra=2) == want["neighbourhood"]
    assert box_window(p, HW, min_pad=16, whole_pad=True, multiple=32) == want["window_of"]
    # ocr.box_scorecam: from the target's mask, aligned from its start
    got = box_window(mask_bounds(polygon_mask(p, HW)), HW, min_pad=96, whole_pad=True, multiple=32, anchor="start")
    assert got == want["scorecam"]


@pytest.mark.parametrize("name", list(POLYS))
def test_drift_roi_on_the_layer_grid(name):
    from paddle_cam.slim.drift import PageTargets

    p = np.asarray(POLYS[name], np.float64)
    pt = PageTargets(name, np.zeros(HW + (3,), np.uint8), np.zeros((1, 3) + HW, np.float32), [0], [p.tolist()], [p],
                     None)
    assert pt.box_roi(0, (100, 160)) == PINNED[name]["roi"]


def test_window_stays_inside_and_aligned():
    rng = np.random.RandomState(0)
    for _ in range(200):
        x, y = rng.uniform(0, 300), rng.uniform(0, 350)
        p = [[x, y], [x + rng.uniform(2, 300), y], [x + 40, y + rng.uniform(2, 40)], [x, y + 20]]
        x0, y0, x1, y1 = box_window(p, HW, grow=1.5, min_pad=16)
        assert 0 <= x0 <= x1 <= HW[1] and 0 <= y0 <= y1 <= HW[0]
        for anchor in ("centre", "start"):
            x0, y0, x1, y1 = box_window(p, HW, min_pad=8, whole_pad=True, multiple=32, anchor=anchor)
            assert 0 <= x0 < x1 <= HW[1] and 0 <= y0 < y1 <= HW[0]
            # lengths are multiples of 32 unless the image is shorter (400 = 12.5 x 32)
            assert (x1 - x0) % 32 == 0 and ((y1 - y0) % 32 == 0 or (y0, y1) == (0, HW[0]))
    with pytest.raises(ValueError):
        box_window(POLYS["line"], HW, anchor="middle")
