"""Issue 15: CTC targets (exact, on logits we control) and per-character explanations of the
real PP-OCRv4 recogniser."""
import numpy as np
import paddle
import pytest

from paddle_cam.errors import InputError
from paddle_cam.ocr.rec import CTCDecoder
from paddle_cam.ocr.rec_targets import (CTCStringTarget, char_target, char_targets, contrast_target,
                                        dropped_target, forced_alignment, greedy_alignment, least_confident,
                                        log_softmax_np, runner_up)

CLASSES = ["blank", "a", "b", "c", "d"]


def make_logits(path, strength=None, seed=0):
    """(T, 5) logits whose argmax follows ``path``; ``strength[t]`` sets how sure frame t is."""
    rng = np.random.RandomState(seed)
    z = rng.normal(0, 0.5, (len(path), len(CLASSES))).astype(np.float32)
    for t, c in enumerate(path):
        z[t, c] = 4.0 if strength is None else strength[t]
    return z


def lp(z):
    return log_softmax_np(z)


def test_greedy_alignment_frames_confidence_match_paddleocr():
    path = [0, 1, 1, 0, 2, 2, 2, 0, 0, 1, 0, 3]
    z = make_logits(path, strength=[4, 3, 5, 4, 2, 6, 4, 4, 4, 1.5, 4, 4])
    al = greedy_alignment(z, CLASSES)
    assert al.text == "abac"
    assert [c.frames for c in al.chars] == [[1, 2], [4, 5, 6], [9], [11]]
    probs = np.exp(lp(z))
    text, score = CTCDecoder.from_classes(CLASSES)(probs[None])[0]
    assert text == al.text
    assert al.score == pytest.approx(score, abs=1e-6)   # per-char confidences average to PaddleOCR's score
    assert [c.confidence for c in al.chars] == pytest.approx([probs[1, 1], probs[4, 2], probs[9, 1], probs[11, 3]])


def test_char_target_is_sum_of_log_probs_over_collapsed_frames():
    path = [0, 1, 1, 0, 2, 2, 2, 0, 1, 0]
    z = make_logits(path, seed=1)
    al = greedy_alignment(z, CLASSES)
    out = paddle.to_tensor(z)
    ref = lp(z)
    for k, (frames, c) in enumerate([([1, 2], 1), ([4, 5, 6], 2), ([8], 1)]):
        assert float(char_target(al, k)(out)) == pytest.approx(ref[frames, c].sum(), abs=1e-5)
    # whole string: the sum over characters, not the mean over all frames (blanks excluded)
    s = float(CTCStringTarget(al)(out))
    assert s == pytest.approx(ref[[1, 2], 1].sum() + ref[[4, 5, 6], 2].sum() + ref[8, 1], abs=1e-5)
    assert s == pytest.approx(sum(float(t(out)) for t in char_targets(al)), abs=1e-5)
    # negative index counts from the end
    assert float(char_target(al, -1)(out)) == pytest.approx(ref[8, 1], abs=1e-5)


def test_char_target_gradient_only_on_its_frames():
    z = make_logits([0, 1, 0, 2, 2, 0], seed=2)
    al = greedy_alignment(z, CLASSES)
    t = paddle.to_tensor(z, stop_gradient=False)
    (g,) = paddle.grad([char_target(al, 1)(t)], [t])
    g = g.numpy()
    assert np.abs(g[[0, 1, 2, 5]]).max() == 0
    p = np.exp(lp(z))
    expected = -p[[3, 4]].copy()
    expected[:, 2] += 1          # d log softmax_c / d z = onehot_c - p
    np.testing.assert_allclose(g[[3, 4]], expected, atol=1e-5)


def test_contrast_target_given_and_runner_up():
    z = make_logits([0, 1, 1, 0, 3, 0], seed=3)
    z[1, 4] = 3.5  # 'd' is the second best on 'a''s frames
    z[2, 4] = 3.0
    al = greedy_alignment(z, CLASSES)
    ref = lp(z)
    out = paddle.to_tensor(z)
    t = contrast_target(al, 0, z, "b")
    assert t.alt_char == "b"
    assert float(t(out)) == pytest.approx((ref[[1, 2], 1] - ref[[1, 2], 2]).sum(), abs=1e-5)
    # the contrast is the logit difference: the softmax normaliser cancels
    assert float(t(out)) == pytest.approx((z[[1, 2], 1] - z[[1, 2], 2]).sum(), abs=1e-5)
    assert runner_up(z, al.chars[0]) == 4
    r = contrast_target(al, 0, z)
    assert r.alt_char == "d"
    assert float(r(out)) == pytest.approx((ref[[1, 2], 1] - ref[[1, 2], 4]).sum(), abs=1e-5)
    with pytest.raises(InputError, match="not in the recogniser's dictionary"):
        contrast_target(al, 0, z, "x")
    with pytest.raises(InputError, match="is the character that was read"):
        contrast_target(al, 0, z, "a")


def test_dropped_character_target_is_blank_evidence_between_characters():
    z = make_logits([1, 0, 0, 0, 2, 3, 0], seed=4)
    al = greedy_alignment(z, CLASSES)
    assert al.text == "abc"
    ref = lp(z)
    out = paddle.to_tensor(z)
    t = dropped_target(al, 1)               # missing between 'a' and 'b'
    assert t.frames == [1, 2, 3]
    assert float(t(out)) == pytest.approx(ref[[1, 2, 3], 0].sum(), abs=1e-5)
    assert dropped_target(al, 3).frames == [6]     # after the last character
    with pytest.raises(InputError, match="adjacent frames"):
        dropped_target(al, 2)                # 'b' and 'c' touch: nothing read blank between them
    with pytest.raises(InputError, match="out of range"):
        dropped_target(al, 5)


def test_least_confident_selects_the_weakest_character():
    z = make_logits([1, 0, 2, 0, 3, 0, 4], strength=[5, 4, 5, 4, 1.2, 4, 5], seed=5)
    al = greedy_alignment(z, CLASSES)
    assert al.text == "abcd"
    assert least_confident(al) == 2
    assert al.chars[2].confidence == min(c.confidence for c in al.chars)


def test_forced_alignment_spells_the_given_text():
    z = make_logits([0, 1, 1, 0, 2, 0, 3, 0], seed=6)
    z[6, 4] = 3.9    # 'd' almost as likely as 'c' on frame 6
    al = forced_alignment(z, CLASSES, "abd")
    assert al.text == "abd" and al.forced
    assert [c.frames for c in al.chars] == [[1, 2], [4], [6]]
    # the forced path's total log-prob is the best among paths spelling the text: check by brute force
    import itertools

    ref = lp(z)

    def collapse(p):
        out, prev = [], 0
        for c in p:
            if c != 0 and c != prev:
                out.append(c)
            prev = c
        return out

    best = max((sum(ref[t, c] for t, c in enumerate(p)), p)
               for p in itertools.product([0, 1, 2, 4], repeat=len(z)) if collapse(p) == [1, 2, 4])
    assert list(al.path) == list(best[1])
    # two equal characters need a blank between them
    al2 = forced_alignment(z, CLASSES, "aa")
    assert len(al2.chars) == 2 and al2.chars[0].frames[-1] + 1 < al2.chars[1].frames[0]
    with pytest.raises(InputError, match="not in the recogniser's dictionary"):
        forced_alignment(z, CLASSES, "az")
    with pytest.raises(InputError, match="needs at least"):
        forced_alignment(z, CLASSES, "abcdabcda")


def test_bad_input_is_one_clear_error():
    z = make_logits([0, 0, 0, 0], seed=7)
    al = greedy_alignment(z, CLASSES)
    assert al.text == "" and al.score == 0.0
    for call in (lambda: char_target(al, 0), lambda: least_confident(al), lambda: CTCStringTarget(al)):
        with pytest.raises(InputError, match="recognition is empty"):
            call()
    al = greedy_alignment(make_logits([1, 0, 2], seed=8), CLASSES)
    with pytest.raises(InputError, match=r"index 2 is out of range.*indices 0\.\.1"):
        char_target(al, 2)


def test_token_grid_reshape_is_not_square_and_has_no_cls():
    from paddle_cam.ocr.rec_explain import TokenGrid

    g = TokenGrid()
    g.hw = (2, 3)
    seq = paddle.to_tensor(np.arange(2 * 6 * 4, dtype=np.float32).reshape(2, 6, 4))   # (N, L=h*w, C)
    out = g(seq).numpy()
    assert out.shape == (2, 4, 2, 3)
    # token l = i * w + j lands at (i, j): the encoder's flatten(2).transpose order
    assert out[1, 2, 1, 0] == seq.numpy()[1, 3, 2]
    assert list(g(paddle.zeros([1, 3, 4])).shape) == [1, 4, 1, 3]     # the squeezed neck: 1 x w
    with pytest.raises(ValueError, match="fit neither"):
        g(paddle.zeros([1, 5, 4]))


def test_crop_map_goes_back_onto_the_page():
    from paddle_cam.ocr.rec import crop_box
    from paddle_cam.ocr.rec_explain import CropGeometry, crop_with_transform

    page = np.full((200, 300, 3), 255, np.uint8)
    poly = [[40, 60], [240, 80], [236, 120], [36, 100]]
    crop, to_page, rotated = crop_with_transform(page, poly)
    np.testing.assert_array_equal(crop, crop_box(page, poly))     # the crop PaddleOCR reads
    geo = CropGeometry((48, 320), 320, crop.shape[:2], to_page, rotated)
    pm = geo.crop_to_page(np.ones(crop.shape[:2], np.float32), (200, 300))
    import cv2

    mask = np.zeros((200, 300), np.uint8)
    cv2.fillPoly(mask, [np.int32(poly)], 1)
    inside = pm[mask > 0]
    assert (pm > 0.5).sum() > 0.9 * mask.sum() and inside.mean() > 0.9
    assert pm[mask == 0].mean() < 0.02


# ---- the real recogniser ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rec4():
    from paddle_cam.models.rec import load_recognizer

    return load_recognizer()


@pytest.mark.slow
def test_char_maps_peak_in_their_own_column_on_a_rendered_line(rec4):
    from paddle_cam.hooks import active_hook_count
    from paddle_cam.ocr.rec_explain import RecExplainer, peak_in_box, render_glyph_line

    img, boxes = render_glyph_line("增值税专用发票")
    ex = RecExplainer(rec4)   # the default method and layer
    line = ex.explain_crop(img)
    assert line.text == "增值税专用发票"
    assert len(line.chars) == 7
    hits = [peak_in_box(c.crop_map, boxes[c.index]) for c in line.chars]
    assert sum(hits) >= 6, hits
    for c in line.chars:
        assert c.crop_map.shape == img.shape[:2]
        assert 0 < c.confidence <= 1
        x0, x1 = c.columns
        assert x0 < x1
    # one character: its map's mass is mostly near its own glyph, far less on a distant one
    c0 = line.chars[0].crop_map
    b0, b6 = boxes[0], boxes[6]
    assert c0[:, b0[0]:b0[2]].sum() > 3 * c0[:, b6[0]:b6[2]].sum()
    # bad index: one clear line, and no hook left behind
    with pytest.raises(InputError, match="out of range"):
        ex.explain_crop(img, chars=[9])
    assert active_hook_count([l for _, l in rec4.model.named_sublayers()]) == 0
    with pytest.raises(InputError, match="dictionary"):
        ex.explain_crop(img, chars=[1], contrast="\u2603")


@pytest.mark.slow
def test_rec_evaluation_scores_against_a_random_map(rec4):
    """evaluate_explanations' rec task on one rendered line: the cascade runs from the CTC head to
    the stem; feature-column occlusion points at the glyph and deletes the character faster than a
    random map; the randomisation check changes its map and the layer CAM's."""
    from paddle_cam.evaluation.rec import evaluate_rec
    from paddle_cam.hooks import active_hook_count

    cfg = dict(methods=["feature_occlusion", "layercam", "random"], rec_layers=None, rec_chars=2, rec_font_size=32,
               n_steps=4, sanity_methods=["feature_occlusion", "layercam"], rec_sanity_lines=1, seed=0, ig_steps=4,
               rec_texts=["代码0110"])
    res = evaluate_rec(cfg, rec4, log=lambda *_: None)
    assert res["cascade"][0] == "head.head" and res["cascade"][-1] == "model.backbone.encoder.convolution"
    assert "head.encoder.svtr_block.1" in res["cascade"] and res["lines"][0]["read_ok"]
    by = {}
    for r in res["records"]:
        assert r["task"] == "rec:PP-OCRv4_mobile_rec" and 0 <= r["energy_in_box"] <= 1
        by.setdefault(r["method"], []).append(r)
    assert [len(v) for v in by.values()] == [2, 2, 2]
    fo = by["feature_occlusion"]
    assert all(r["pointing_game"] == 1.0 for r in fo)
    assert np.mean([r["deletion_auc"] for r in fo]) < np.mean([r["deletion_auc"] for r in by["random"]])
    for r in (fo[0], by["layercam"][0]):
        assert r["randomization_spearman"] is not None and r["randomization_spearman"] < 1.0
        assert len(r["randomization_curve"]["layers"]) == len(res["cascade"])
    assert by["random"][0]["randomization_spearman"] is None   # not asked for
    assert active_hook_count([l for _, l in rec4.model.named_sublayers()]) == 0


class ToyAttention(paddle.nn.Layer):
    """The PaddleX SVTR attention form (qkv, num_heads, scale, projection); keeps its attention."""

    def __init__(self, c=8, heads=2):
        super().__init__()
        self.num_heads, self.scale = heads, (c // heads) ** -0.5
        self.qkv = paddle.nn.Linear(c, 3 * c)
        self.projection = paddle.nn.Linear(c, c)

    def forward(self, x):
        n, length, c = x.shape
        qkv = self.qkv(x).reshape([n, length, 3, self.num_heads, c // self.num_heads]).transpose([2, 0, 3, 1, 4])
        self.attn = paddle.nn.functional.softmax(paddle.matmul(qkv[0], qkv[1], transpose_y=True) * self.scale, -1)
        z = paddle.matmul(self.attn, qkv[2]).transpose([0, 2, 1, 3]).reshape([n, length, c])
        return self.projection(z)


class ToySeq(paddle.nn.Layer):
    """(N, 1, 1, L*8) input -> 8-dim tokens on a 1 x L grid -> attention -> (N, L, 5) logits."""

    def __init__(self):
        super().__init__()
        paddle.seed(0)
        self.attn = ToyAttention()
        self.out = paddle.nn.Linear(8, 5)

    def forward(self, x):
        n = x.shape[0]
        tokens = x.reshape([n, -1, 8])
        return self.out(tokens + self.attn(tokens))


def test_gradient_weighted_attention_is_exact_per_query_frame():
    from paddle_cam.methods import make_method
    from paddle_cam.ocr.rec_explain import TokenGrid

    model = ToySeq()
    model.eval()
    x = np.random.RandomState(0).normal(0, 1, (1, 1, 1, 6 * 8)).astype(np.float32)
    z = model(paddle.to_tensor(x))[0].numpy()
    al = greedy_alignment(z, CLASSES)
    grid = TokenGrid()
    grid.hw = (1, 6)
    target = char_targets(al)[0]
    # reference: autograd of the target w.r.t. the attention matrix itself
    out = model(paddle.to_tensor(x))
    (da,) = paddle.grad([target(out[0])], [model.attn.attn])
    a = model.attn.attn.numpy()[0]
    rel = np.maximum(da.numpy()[0] * a, 0).mean(axis=0)
    expected = (np.eye(6) + rel)[target.frames].mean(axis=0)
    cam = make_method("attention_rollout", model, ["attn"], reshape_transform=grid, mode="gradient")
    res = cam(x, [target])
    np.testing.assert_allclose(res.layer_maps["attn"][0, 0], expected, rtol=1e-4, atol=1e-6)
    # plain rollout: 0.5 * mean_heads(A) + 0.5 * I, rows of the query frames
    roll = make_method("rollout", model, ["attn"], reshape_transform=grid)(x, [target])
    step = 0.5 * a.mean(axis=0) + 0.5 * np.eye(6)
    np.testing.assert_allclose(roll.layer_maps["attn"][0, 0], step[target.frames].mean(axis=0), rtol=1e-4, atol=1e-6)
    # a layer that is not a qkv attention is refused rather than mis-read
    with pytest.raises(Exception):
        make_method("attention_rollout", model, ["out"], reshape_transform=grid)(x, [target])


@pytest.mark.slow
def test_explain_ocr_chars_writes_panel_and_report(root, tmp_path):
    import json
    import os

    from paddle_cam.apps import explain_ocr

    img = os.path.join(root, "demo_docs", "invoices", "invoice_0100.jpg")
    base = ["--img", img, "--boxes", "none", "-o", "Explain.all_text=false", "--output", str(tmp_path)]
    assert explain_ocr.main(base + ["--chars", "5:0,1", "--chars", "3:least"]) == 0
    report = json.load(open(tmp_path / "invoice_0100" / "report.json", encoding="utf-8"))
    rec = {r["box_id"]: r for r in report["rec"]}
    box5 = next(b for b in report["boxes"] if b["id"] == 5)
    assert rec[5]["text"] == box5["text"]             # the explained reading is the pipeline's
    assert [c["index"] for c in rec[5]["chars"]] == [0, 1]
    for c in rec[5]["chars"] + rec[3]["chars"]:
        m = np.load(c["raw_map"])
        assert m.shape == (rec[5 if c in rec[5]["chars"] else 3]["crop_size"][1],
                           rec[5 if c in rec[5]["chars"] else 3]["crop_size"][0])
        assert 0 <= c["share_in_column"] <= 1 and c["frames"] and 0 < c["confidence"] <= 1
    assert len(rec[3]["chars"]) == 1                   # "least": one character, the least confident
    assert os.path.isfile(rec[5]["panel"])
    # a character index out of range on a single target: one clear error (exit 2 from the tool)
    with pytest.raises(InputError, match="out of range"):
        explain_ocr.main(base + ["--chars", "5:40"])


@pytest.mark.slow
def test_page_run_continues_past_a_box_with_no_text(rec4):
    from types import SimpleNamespace

    from paddle_cam.ocr.explain import explain_rec
    from paddle_cam.ocr.pipeline import Box
    from paddle_cam.ocr.rec_explain import RecExplainer, render_glyph_line

    line, _ = render_glyph_line("发票代码")
    page = np.full((200, 400, 3), 255, np.uint8)
    page[20:20 + line.shape[0], 10:10 + line.shape[1]] = line
    h, w = line.shape[:2]
    boxes = [Box(0, [[10, 20], [10 + w, 20], [10 + w, 20 + h], [10, 20 + h]], 0.9),
             Box(1, [[20, 120], [300, 120], [300, 170], [20, 170]], 0.9)]      # blank paper
    explainer = SimpleNamespace(rec_explainer=RecExplainer(rec4))
    pg = SimpleNamespace(boxes=boxes, image=page)
    out = explain_rec(explainer, pg, "all")
    assert out[0][1].text == "发票代码" and len(out[0][1].chars) == 4
    assert isinstance(out[1][1], str) and "empty" in out[1][1]
    # the page map of a character lies on its box
    pm = out[0][1].page_map(0, page.shape[:2])
    ys, xs = np.nonzero(pm > 0.5 * pm.max())
    assert 10 <= xs.min() and xs.max() <= 10 + w and 20 <= ys.min() and ys.max() <= 20 + h
    # a single target on that box is one clear error
    with pytest.raises(InputError, match="empty"):
        explain_rec(explainer, pg, "all", ["1:0"])


def test_targets_give_the_same_value_on_numpy_outputs():
    z = make_logits([0, 1, 1, 0, 2, 0, 3], seed=9)
    al = greedy_alignment(z, CLASSES)
    for t in char_targets(al) + [CTCStringTarget(al), contrast_target(al, 1, z), dropped_target(al, 1)]:
        assert t.numpy_target
        assert t(z) == pytest.approx(float(t(paddle.to_tensor(z))), abs=1e-5)


def test_char_spec_parsing():
    from paddle_cam.ocr.explain import parse_char_spec

    assert parse_char_spec("3:0,2") == (3, [0, 2])
    assert parse_char_spec("4") == (4, "all")
    assert parse_char_spec("7:string") == (7, "string")
    with pytest.raises(InputError, match="BOX:K"):
        parse_char_spec("a:b")
