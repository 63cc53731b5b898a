"""DB-target explanations on the real detector: the neck crop path is exact; maps sit on their box."""
import numpy as np
import pytest

from paddle_cam import GradCAM, LayerCAM
from paddle_cam.io import read_image
from paddle_cam.models.det import load_detector
from paddle_cam.ocr import neck_crop
from paddle_cam.ocr.db_postprocess import DBPostProcess
from paddle_cam.ocr.det_preprocess import DetPreprocess
from paddle_cam.ocr.pipeline import TextPipeline
from paddle_cam.ocr.regions import energy_in_box
from paddle_cam.ocr.targets import AllTextTarget, DBBoxTarget


@pytest.fixture(scope="module")
def page(root):
    det = load_detector()
    img = read_image(f"{root}/demo_docs/invoices/invoice_0102.jpg")
    pg = TextPipeline(det, DetPreprocess(limit_side_len=640), DBPostProcess()).detect(img)
    hw = pg.input_hw
    targets = [DBBoxTarget(pg.to_input(b.polygon), hw, b.id) for b in pg.boxes[::9]]
    return det, img, pg.batch, pg.boxes, targets


@pytest.mark.parametrize("method,layer", [(GradCAM, "model.neck"), (LayerCAM, "model.neck"),
                                          (GradCAM, "model.backbone.encoder.blocks.4")])
def test_crop_paths_equal_full_backward(page, method, layer):
    det, _, batch, _, targets = page
    cam = method(det.model, [layer], gradient_support=True)
    assert neck_crop.supports(det, cam, [layer], targets)
    full = cam.explain_targets(batch, targets)
    fast = list(neck_crop.iter_fast(det, cam, batch, targets, layer))
    for a, b in zip(full, fast):
        np.testing.assert_allclose(b.scores, a.scores, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(b.raw, a.raw, rtol=1e-4, atol=1e-6 * max(a.raw.max(), 1e-12))
    assert not neck_crop.supports(det, cam, [layer], [AllTextTarget()])


def test_gradient_support_confines_gradcam_to_its_box(page):
    """Plain Grad-CAM paints every text line for one box; cut to the gradient's support it does not."""
    det, img, batch, boxes, targets = page
    t = targets[1]
    box = next(b for b in boxes if b.id == t.box_id)
    import cv2

    energies = {}
    for support in (False, True):
        res = GradCAM(det.model, ["model.neck"], gradient_support=support).explain_targets(batch, [t])[0]
        page_map = cv2.resize(res.raw[0], (img.shape[1], img.shape[0]))
        energies[support] = energy_in_box(page_map, box.polygon)
    assert energies[False] < 0.3 < 0.9 < energies[True], energies


def test_windowed_scorecam_agrees_with_per_channel_scorecam(root):
    """Box Score-CAM on a window with blank channels scored once ranks pixels like the full version."""
    from paddle_cam import ScoreCAM
    from paddle_cam.metrics.similarity import spearman
    from paddle_cam.ocr.box_scorecam import box_score_cam

    det = load_detector()
    img = read_image(f"{root}/demo_docs/invoices/invoice_0100.jpg")
    pg = TextPipeline(det, DetPreprocess(limit_side_len=320), DBPostProcess()).detect(img)
    batch, hw = pg.batch, pg.input_hw
    b = max(pg.boxes, key=lambda b: b.score)
    t = DBBoxTarget(pg.to_input(b.polygon), hw, b.id)
    full = ScoreCAM(det.model, ["model.neck"], batch_size=16)(batch, [t])
    fast = box_score_cam(det.model, batch, t, "model.neck", margin=64)
    assert fast.raw.shape == full.raw.shape
    np.testing.assert_allclose(fast.scores, full.scores, rtol=1e-5)
    assert spearman(full.raw[0], fast.raw[0]) > 0.9
