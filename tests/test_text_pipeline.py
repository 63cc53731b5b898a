"""TextPipeline on the bundled detector: typed pages, the post-process order, upright pages."""
import numpy as np
import pytest

from paddle_cam.config import load_config
from paddle_cam.io import read_image
from paddle_cam.ocr.db_postprocess import sort_boxes
from paddle_cam.ocr.orientation import rotate
from paddle_cam.ocr.pipeline import OCRPage, TextPipeline


@pytest.fixture(scope="module")
def pipeline():
    from paddle_cam.models.cls import load_orientation_classifier

    cfg = load_config("det/explain_ocr", overrides=["PreProcess.limit_side_len=640"])
    return TextPipeline.from_config(cfg, use_rec=False, line_classifier=load_orientation_classifier())


@pytest.fixture(scope="module")
def image(root):
    return read_image(f"{root}/demo_docs/invoices/invoice_0102.jpg")


def test_detect_returns_typed_page_in_reading_order(pipeline, image):
    page = pipeline.detect(image)
    assert isinstance(page, OCRPage) and page.rotation == 0 and page.image is image
    assert page.batch.dtype == np.float32 and page.batch.shape[:2] == (1, 3)
    assert page.input_hw == page.prob.shape == page.batch.shape[2:] and max(page.input_hw) == 640
    assert page.page_hw == image.shape[:2]
    dets = sort_boxes(pipeline.post(page.prob, page.info))   # PaddleOCR's pipeline order
    assert [b.id for b in page.boxes] == list(range(len(dets))) and len(dets) > 20
    tops = [b.polygon[0][1] for b in page.boxes]
    assert all(t2 > t1 - 10 for t1, t2 in zip(tops, tops[1:]))   # top to bottom
    for b, d in zip(page.boxes, dets):
        assert b.polygon == [[float(x), float(y)] for x, y in d["polygon"]] and b.score == float(d["score"])
        assert b.text is None and b.text_score is None  # no recogniser
    (H, W), (h, w) = page.page_hw, page.input_hw
    np.testing.assert_allclose(page.to_input([[W, H], [0, 0]]), [[w, h], [0, 0]])
    with pytest.raises(ValueError):
        pipeline.recognize(image, [page.boxes[0].polygon])


def test_upright_turns_pages_back(pipeline, image):
    ref = pipeline.detect(image)
    assert pipeline.upright(image).rotation == 0
    flipped = pipeline.upright(rotate(image, 180))
    assert flipped.rotation == 180 and np.array_equal(flipped.image, image)
    assert [b.polygon for b in flipped.boxes] == [b.polygon for b in ref.boxes]
    turned = pipeline.upright(rotate(image, 270))  # turned counter-clockwise: 90 (+ 180) back
    assert turned.rotation in (90, 270) and turned.image.shape == image.shape
