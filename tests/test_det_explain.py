"""DB-target explanations on the real detector: the neck crop path is exact; maps sit on their box."""
import numpy as np
import pytest

from paddle_cam import GradCAM, LayerCAM
from paddle_cam.io import read_image
from paddle_cam.models.det import load_detector
from paddle_cam.ocr import neck_crop
from paddle_cam.ocr.db_postprocess import DBPostProcess
from paddle_cam.ocr.det_preprocess import DetPreprocess
from paddle_cam.ocr.explain import OCRExplainer
from paddle_cam.ocr.regions import energy_in_box
from paddle_cam.ocr.targets import AllTextTarget, DBBoxTarget


@pytest.fixture(scope="module")
def page(root):
    det = load_detector()
    ex = OCRExplainer(det, DetPreprocess(limit_side_len=640), DBPostProcess(), None)
    img = read_image(f"{root}/demo_docs/invoices/invoice_0102.jpg")
    batch, info, prob, boxes = ex.detect(img)
    hw = batch.shape[2:]
    targets = [DBBoxTarget(ex.to_input(b.polygon, img.shape[:2], hw), hw, b.id) for b in boxes[::9]]
    return det, ex, img, batch, boxes, targets


@pytest.mark.parametrize("method", [GradCAM, LayerCAM])
def test_neck_crop_path_equals_full_backward(page, method):
    det, _, _, batch, _, targets = page
    cam = method(det.model, ["model.neck"], gradient_support=True)
    assert neck_crop.supports(det, cam, ["model.neck"], targets)
    full = cam.explain_targets(batch, targets)
    fast = neck_crop.explain_at_neck(det, cam, batch, targets)
    for a, b in zip(full, fast):
        np.testing.assert_allclose(b.scores, a.scores, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(b.raw, a.raw, rtol=1e-4, atol=1e-6 * max(a.raw.max(), 1e-12))
    assert not neck_crop.supports(det, cam, ["model.neck"], [AllTextTarget()])


def test_gradient_support_confines_gradcam_to_its_box(page):
    """Plain Grad-CAM paints every text line for one box; cut to the gradient's support it does not."""
    det, ex, img, batch, boxes, targets = page
    t = targets[1]
    box = next(b for b in boxes if b.id == t.box_id)
    import cv2

    energies = {}
    for support in (False, True):
        res = GradCAM(det.model, ["model.neck"], gradient_support=support).explain_targets(batch, [t])[0]
        page_map = cv2.resize(res.raw[0], (img.shape[1], img.shape[0]))
        energies[support] = energy_in_box(page_map, box.polygon)
    assert energies[False] < 0.3 < 0.9 < energies[True], energies
