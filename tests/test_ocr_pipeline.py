"""Our OCR pre/post-processing against PaddleOCR 3.x itself, on the bundled PP-OCRv4 weights.

PaddleOCR runs offline in a subprocess (its env must be set before import) on copies of the
bundled model folders with a written ``inference.yml``. Neither side is given resize settings:
``paddleocr.TextDetection(limit_side_len=None, limit_type=None)`` makes PaddleX use, for
PP-OCRv4_mobile_det with ``DetResizeForTest: {resize_long: 960}``, limit_side_len 960,
limit_type "max", max_side_limit 4000 -- the defaults of our ``DetPreprocess()`` -- so the test
also proves the defaults agree.
"""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw, ImageFont

from paddle_cam.io import read_image
from paddle_cam.models.cls import bundled_model_dir
from paddle_cam.models.static import StaticPredictor
from paddle_cam.ocr.db_postprocess import DBPostProcess, sort_boxes
from paddle_cam.ocr.det_preprocess import DetPreprocess
from paddle_cam.models.rec import BUNDLED_REC
from paddle_cam.ocr.rec import TextRecognizer, bundled_char_dict_path, read_char_dict
from paddle_cam.fonts import find_cjk_font_path

pytestmark = pytest.mark.slow

PAGE_HW = (790, 1210)  # not multiples of 32: exercises the resize rounding (-> 640 x 960, ratio_h != ratio_w)
LINES = [  # (text, font size, x, y)
    ("增值税专用发票", 40, 420, 30),
    ("发票代码144031900111", 30, 70, 110),
    ("开票日期2023年05月17日", 30, 640, 110),
    ("购买方名称深圳市科技有限公司", 30, 70, 180),
    ("纳税人识别号91440300MA5F", 28, 70, 250),
    ("金额合计1234.56元", 32, 70, 330),
    ("税率13%税额160.49", 32, 70, 410),
    ("价税合计壹仟伍佰元整", 30, 70, 490),
    ("备注订单号20240315", 30, 70, 570),
    ("收款人张三复核李四", 30, 70, 650),
]
DET_YML = {
    "Global": {"model_name": "PP-OCRv4_mobile_det"},
    "PreProcess": {"transform_ops": [
        {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
        {"DetLabelEncode": None},
        {"DetResizeForTest": {"resize_long": 960}},
        {"NormalizeImage": {"mean": [0.485, 0.456, 0.406], "order": "hwc", "scale": "1./255.",
                            "std": [0.229, 0.224, 0.225]}},
        {"ToCHWImage": None},
        {"KeepKeys": {"keep_keys": ["image", "shape", "polys", "ignore_tags"]}},
    ]},
    "PostProcess": {"name": "DBPostProcess", "thresh": 0.3, "box_thresh": 0.6, "max_candidates": 1000,
                    "unclip_ratio": 1.5},
}
# A tall box (turned upright by the crop), a tilted one and one running off the page.
EXTRA_POLYS = [[[1150, 100], [1190, 100], [1190, 400], [1150, 400]],
               [[300, 700], [600, 640], [606, 672], [306, 732]],
               [[1100, 740], [1260, 740], [1260, 800], [1100, 800]]]
RESIZE_RULES = [(960, "max"), (736, "min"), (64, "min"), (960, "resize_long")]
RESIZE_SHAPES = [(1, 1), (0, 0), (20, 30), (31, 32), (790, 1210), (1210, 790), (100, 5000), (3000, 4500),
                 (48, 80), (16, 16), (959, 961)]

# Runs inside a fresh interpreter: PaddleOCR/PaddleX as the reference.
REF_SCRIPT = r'''
import json, sys
import cv2
import numpy as np
from paddleocr import TextDetection, TextRecognition
from paddlex.inference.models.text_detection.processors import DBPostProcess, DetResizeForTest, NormalizeImage

job = json.load(open(sys.argv[1], encoding="utf-8"))
out = {}
det = TextDetection(model_name="PP-OCRv4_mobile_det", model_dir=job["det_dir"], device="cpu", enable_mkldnn=False)
out["det"] = []
for path in job["det_images"]:
    r = det.predict(path)[0]
    out["det"].append({"polys": np.asarray(r["dt_polys"]).tolist(), "scores": [float(s) for s in r["dt_scores"]]})
rec = TextRecognition(model_name="PP-OCRv4_mobile_rec", model_dir=job["rec_dir"], device="cpu", enable_mkldnn=False)
out["rec"] = [(r["rec_text"], float(r["rec_score"])) for r in rec.predict(job["crops"], batch_size=6)]

data = np.load(job["npz"])
post = DBPostProcess(thresh=0.3, box_thresh=0.6, max_candidates=1000, unclip_ratio=1.5)
out["post"] = []
for i, shape in enumerate(job["map_pages"]):
    polys, scores = post([data["map%d" % i][None, None]], [np.array(shape + [1.0, 1.0])])
    out["post"].append({"polys": np.asarray(polys[0]).tolist(), "scores": [float(s) for s in scores[0]]})
out["resize"] = []
for limit, kind in job["rules"]:
    op = DetResizeForTest(limit_side_len=limit, limit_type=kind)
    for h, w in job["shapes"]:
        img, shape = op.resize(np.zeros((h, w, 3), np.uint8), None, None, 4000)
        out["resize"].append([list(img.shape[:2])] + [float(v) for v in shape])
from paddlex.inference.pipelines.components import CropByPolys
page = cv2.imread(job["det_images"][0])
crops = CropByPolys(det_box_type="quad")(page, np.array(job["crop_polys"], np.int16))
np.savez(job["crops_out"], *crops)
norm = NormalizeImage(scale="1./255.", mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], order="hwc")
np.save(job["norm_out"], norm([data["norm_in"]])[0])
json.dump(out, open(job["out"], "w", encoding="utf-8"), ensure_ascii=False)
'''


def _render_page(path):
    font_path, index = find_cjk_font_path()
    im = Image.new("RGB", PAGE_HW[::-1], "white")
    draw = ImageDraw.Draw(im)
    for text, size, x, y in LINES:
        draw.text((x, y), text, fill=(0, 0, 0), font=ImageFont.truetype(font_path, size, index=index))
    im.save(path)


def _synthetic_maps():
    """DB-like probability maps: rotated bars, a touching pair, a too-small blob, a faint blob."""
    rng = np.random.RandomState(0)
    maps = []
    for k, (h, w) in enumerate([(320, 480), (224, 160)]):
        m = (rng.rand(h, w) * 0.2).astype(np.float32)
        canvas = np.zeros((h, w), np.float32)
        for j in range(5):
            center = (float(rng.uniform(30, w - 30)), float(rng.uniform(20, h - 20)))
            size = (float(rng.uniform(25, 120)), float(rng.uniform(6, 18)))
            pts = cv2.boxPoints((center, size, float(rng.uniform(-30, 30)))).astype(np.int32)
            cv2.fillPoly(canvas, [pts], float(rng.uniform(0.55, 0.98)))
        cv2.rectangle(canvas, (5, 5), (7, 7), 0.9, -1)       # short side < 3: dropped
        cv2.rectangle(canvas, (10, h - 30), (60, h - 18), 0.45, -1)  # mean < box_thresh: dropped
        m = np.maximum(m, canvas + (rng.rand(h, w) * 0.02).astype(np.float32) * (canvas > 0))
        maps.append(np.clip(m, 0, 1).astype(np.float32))
    pages = [[517, 771], [790, 563]]
    return maps, pages


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Our pipeline on the synthetic page, and PaddleOCR's answers on the same inputs."""
    tmp = tmp_path_factory.mktemp("ocr")
    page_path = str(tmp / "page.png")
    _render_page(page_path)
    tiny_path = str(tmp / "tiny.png")
    cv2.imwrite(tiny_path, np.full((1, 1, 3), 255, np.uint8))

    pre, post = DetPreprocess(), DBPostProcess()
    det = StaticPredictor(bundled_model_dir("ch_PP-OCRv4_det_infer"))
    page = read_image(page_path)
    x, info = pre(page)
    prob = det(x[None])
    ours = post(prob, info)
    rec = TextRecognizer()
    reading = sort_boxes(ours)
    crops = rec.crops(page, [b["polygon"] for b in reading])
    crop_paths = []
    for i, c in enumerate(crops):
        crop_paths.append(str(tmp / f"crop{i}.png"))
        cv2.imwrite(crop_paths[-1], c)
    # In ratio order, so PaddleOCR's batches of 6 hold the same crops as ours.
    by_ratio = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / float(crops[i].shape[0]))

    det_dir, rec_dir = str(tmp / "det"), str(tmp / "rec")
    shutil.copytree(bundled_model_dir("ch_PP-OCRv4_det_infer"), det_dir)
    shutil.copytree(bundled_model_dir(BUNDLED_REC), rec_dir)
    with open(os.path.join(det_dir, "inference.yml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(DET_YML, f, allow_unicode=True, sort_keys=False)
    rec_yml = {
        "Global": {"model_name": "PP-OCRv4_mobile_rec"},
        "PreProcess": {"transform_ops": [
            {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
            {"MultiLabelEncode": {"gtc_encode": "NRTRLabelEncode"}},
            {"RecResizeImg": {"image_shape": [3, 48, 320]}},
            {"KeepKeys": {"keep_keys": ["image", "label_ctc", "label_gtc", "length", "valid_ratio"]}},
        ]},
        "PostProcess": {"name": "CTCLabelDecode", "character_dict": read_char_dict(bundled_char_dict_path())},
    }
    with open(os.path.join(rec_dir, "inference.yml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(rec_yml, f, allow_unicode=True, sort_keys=False)

    maps, map_pages = _synthetic_maps()
    norm_in = np.random.RandomState(3).randint(0, 256, (37, 53, 3)).astype(np.uint8)
    np.savez(str(tmp / "maps.npz"), norm_in=norm_in, **{f"map{i}": m for i, m in enumerate(maps)})
    job = {"det_dir": det_dir, "rec_dir": rec_dir, "det_images": [page_path, tiny_path],
           "crops": [crop_paths[i] for i in by_ratio], "npz": str(tmp / "maps.npz"), "map_pages": map_pages,
           "rules": RESIZE_RULES, "shapes": RESIZE_SHAPES, "norm_out": str(tmp / "norm.npy"),
           "out": str(tmp / "ref.json"), "crop_polys": [b["polygon"] for b in reading] + EXTRA_POLYS,
           "crops_out": str(tmp / "crops_ref.npz")}
    with open(tmp / "job.json", "w", encoding="utf-8") as f:
        json.dump(job, f, ensure_ascii=False)
    (tmp / "ref.py").write_text(REF_SCRIPT, encoding="utf-8")
    env = dict(os.environ, PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK="True", PADDLE_PDX_CACHE_HOME=str(tmp / "pdx"),
               FLAGS_use_mkldnn="0")
    p = subprocess.run([sys.executable, str(tmp / "ref.py"), str(tmp / "job.json")], capture_output=True,
                       text=True, timeout=300, env=env, cwd=str(tmp))
    assert p.returncode == 0, p.stderr[-3000:]
    with open(job["out"], encoding="utf-8") as f:
        ref = json.load(f)
    ref["rec"] = {by_ratio[k]: tuple(r) for k, r in enumerate(ref["rec"])}
    return {"ours": ours, "info": info, "prob": prob, "ref": ref, "rec": rec, "crops": crops, "reading": reading,
            "page": page, "det": det, "maps": maps, "map_pages": map_pages, "norm_in": norm_in,
            "norm_ref": np.load(job["norm_out"]), "crops_ref": list(np.load(job["crops_out"]).values())}


def _assert_same_boxes(ours, ref_polys, ref_scores):
    assert len(ours) == len(ref_polys), (len(ours), len(ref_polys))
    if not ours:
        return 0.0, 0.0
    dxy = np.abs(np.array([b["polygon"] for b in ours], float) - np.array(ref_polys, float)).max()
    ds = np.abs(np.array([b["score"] for b in ours]) - np.array(ref_scores)).max()
    assert dxy <= 1, dxy
    assert ds <= 1e-3, ds
    return float(dxy), float(ds)


def test_detection_matches_paddleocr(work):
    ref = work["ref"]["det"][0]
    dxy, ds = _assert_same_boxes(work["ours"], ref["polys"], ref["scores"])
    print(f"\ndet vs PaddleOCR TextDetection: {len(work['ours'])} boxes, max |dxy| = {dxy} px, max |dscore| = {ds:.2e}")
    assert len(work["ours"]) == len(LINES)
    info = work["info"]
    assert (info.in_h, info.in_w) == (640, 960) == work["prob"].shape[2:]
    assert (info.src_h, info.src_w) == PAGE_HW
    assert work["ref"]["det"][1]["polys"] == []  # PaddleOCR: nothing on a 1x1 page either
    for b in work["ours"]:  # the exposed mapping is the one the boxes went through (before rounding)
        assert np.abs(info.points_to_page(b["input_polygon"]) - b["polygon"]).max() <= 0.5 + 1e-4
    page_mask = info.map_to_page(DBPostProcess().binary_mask(work["prob"]).astype(bool))
    assert page_mask.shape == PAGE_HW and page_mask.dtype == bool
    for b in work["ours"]:
        cx, cy = np.mean(b["polygon"], axis=0).astype(int)
        assert page_mask[cy, cx]  # box centres lie on text pixels of the page-sized mask


def test_postprocess_matches_paddlex_on_synthetic_maps(work):
    post = DBPostProcess()
    n = 0
    for m, (h, w), ref in zip(work["maps"], work["map_pages"], work["ref"]["post"]):
        ours = post(m, (h, w, 1.0, 1.0))
        assert [b["polygon"] for b in ours] == ref["polys"]
        np.testing.assert_allclose([b["score"] for b in ours], ref["scores"], rtol=0, atol=1e-9)
        n += len(ours)
        mask = post.binary_mask(m)
        assert mask.dtype == np.uint8 and mask.shape == m.shape and set(np.unique(mask)) <= {0, 1}
    assert n >= 4  # the maps really produce (rotated) boxes; faint, tiny and low-mean blobs are dropped


def test_resize_and_normalize_match_paddlex(work):
    got = []
    for limit, kind in RESIZE_RULES:
        pre = DetPreprocess(limit, kind)
        for h, w in RESIZE_SHAPES:
            img, info = pre.resize(np.zeros((h, w, 3), np.uint8))
            got.append([[info.in_h, info.in_w], info.src_h, info.src_w, info.ratio_h, info.ratio_w])
            assert img.shape[:2] == (info.in_h, info.in_w)
    assert got == work["ref"]["resize"]
    x = DetPreprocess().normalize(work["norm_in"])
    np.testing.assert_array_equal(x, work["norm_ref"].transpose(2, 0, 1))


def test_crops_match_paddlex(work):
    polys = [b["polygon"] for b in work["reading"]] + EXTRA_POLYS
    ours = work["rec"].crops(work["page"], polys)
    assert len(ours) == len(work["crops_ref"])
    for a, b in zip(ours, work["crops_ref"]):
        np.testing.assert_array_equal(a, b)
    assert ours[len(work["reading"])].shape[:2] == (40, 300)  # 300 x 40 box turned upright


def test_recognition_reads_rendered_lines(work):
    rec, ref = work["rec"], work["ref"]["rec"]
    results = rec.recognize_crops(work["crops"])
    dmax = max(abs(s - ref[i][1]) for i, (_, s) in enumerate(results))
    print(f"\nrec vs PaddleOCR TextRecognition: {len(results)} crops, max |dscore| = {dmax:.2e}")
    for i, (text, score) in enumerate(results):
        assert text == ref[i][0], (text, ref[i])
        assert abs(score - ref[i][1]) <= 1e-3, (score, ref[i])
    # Boxes are in reading order; the lines were drawn top to bottom, left to right.
    expected = [t for t, _, _, _ in sorted(LINES, key=lambda l: (l[3], l[2]))]
    texts = [t.replace(" ", "") for t, _ in results]
    exact = sum(a == b for a, b in zip(texts, expected))
    print(f"exact lines: {exact}/{len(LINES)}", [t for t, e in zip(texts, expected) if t != e])
    assert exact >= 0.9 * len(LINES), list(zip(texts, expected))
    assert all(s > 0.8 for _, s in results)
    # The page-level call crops the same way.
    assert rec(work["page"], [b["polygon"] for b in work["reading"]]) == results


@pytest.mark.parametrize("image", [np.zeros((0, 0, 3), np.uint8), np.full((1, 1, 3), 255, np.uint8),
                                   np.zeros((1, 1), np.uint8), np.zeros((0, 17, 3), np.uint8)],
                         ids=["empty", "1x1", "1x1-gray", "0x17"])
def test_degenerate_images_give_no_boxes(work, image):
    pre, post = DetPreprocess(), DBPostProcess()
    x, info = pre(image)
    assert x.shape == (3, 32, 32) and (info.src_h, info.src_w) == image.shape[:2]
    assert post(work["det"](x[None]), info) == []
    assert info.map_to_page(np.ones((32, 32), np.float32)).shape == image.shape[:2]
    res = work["rec"](image, [[[0, 0], [5, 0], [5, 3], [0, 3]]])
    assert len(res) == 1 and isinstance(res[0][0], str) and isinstance(res[0][1], float)
    if image.size == 0:
        assert res == [("", 0.0)]


def test_recognizer_empty_inputs(work):
    rec = work["rec"]
    assert rec.recognize_crops([]) == []
    assert rec.recognize_crops([np.zeros((0, 5, 3), np.uint8)]) == [("", 0.0)]
