"""Per-character explanations of a CTC recogniser on rendered lines whose glyph boxes are known.

:func:`evaluate_rec` (``tools/evaluate_explanations.py --tasks rec``) renders each line of
``Rec.texts`` (:func:`paddle_cam.ocr.rec_explain.render_glyph_line`: the renderer knows every
glyph's ink box), force-aligns the recogniser's output to the true text (so every character is
explained as itself, whatever the greedy reading says) and, for a seeded sample of characters per
line, scores each method and a ``random`` map:

- ``pointing_game``: the map's peak lies inside the character's own glyph box (on the crop);
- ``energy_in_box``: the share of the map's mass inside that glyph box (a character box is a
  small part of the line, so this is no near-1-by-construction number);
- ``share_in_column``: the share inside the character's own column (its CTC frames' span);
- ``deletion_auc`` / ``insertion_auc``: pixels of the line (padding excluded) replaced by paper
  in the map's order, scored by the character's probability (mean over its frames of ``p(c_k)``,
  frames fixed from the intact input); lower / higher is better; the random map is the bar;
- ``randomization_spearman``: cascading randomisation of the recogniser, output side first (CTC
  head, SVTR neck blocks, backbone stages, stem; :func:`rec_cascade`), Spearman of each step's map
  with the original on the claim region, mean over the steps; lower is better.

The task of each record is ``rec:<model name>``, so two recognisers in one run (``Rec.models``)
are summarised side by side.
"""
from __future__ import annotations

import time
from typing import Callable, List, Optional, Sequence

import numpy as np

from .scoring import RANDOM, random_map, randomization_record


def rec_cascade(logits_model, x: np.ndarray) -> List[str]:
    """Cascade units of a recogniser (a :class:`~paddle_cam.ocr.rec_explain.RecLogits`), output
    side first: the CTC head, each part of the SVTR neck (every mixing block on its own), each
    backbone stage, the stem; ordered by when one forward on ``x`` first calls them."""
    from ..models.weights import first_calls

    names = dict(logits_model.named_sublayers())
    units = ["head.head"]
    for child, layer in names["head.encoder"].named_children():
        if not list(layer.parameters()):
            continue
        sub = [f"head.encoder.{child}.{n}" for n, l in layer.named_children() if list(l.parameters())]
        units += sub if child in ("svtr_block", "conv_block") and sub else [f"head.encoder.{child}"]
    enc = "model.backbone.encoder"
    if enc in names:
        units += [f"{enc}.blocks.{n}" for n, _ in names[f"{enc}.blocks"].named_children()]
        units += [f"{enc}.{n}" for n, l in names[enc].named_children() if n != "blocks" and list(l.parameters())]
    wanted = {id(names[u]): u for u in units if u in names}
    calls = first_calls(logits_model, x, lambda layer: id(layer) in wanted, post=False)
    return [wanted[id(layer)] for _, layer, _, _ in calls][::-1]


def char_prob_fn(logits_model, frames: Sequence[int], class_id: int) -> Callable[[np.ndarray], np.ndarray]:
    """``score_fn(batch) -> (B,)``: the mean over ``frames`` of ``p(class_id)`` (the character's
    probability, the score of the deletion and insertion curves)."""
    from ..ocr.rec_targets import log_softmax_np
    from ..predictors import as_predict

    fr = list(frames)
    predict = as_predict(logits_model)

    def score_fn(batch: np.ndarray) -> np.ndarray:
        z = predict(batch)
        return np.exp(log_softmax_np(z[:, fr])[..., int(class_id)]).mean(axis=1)
    return score_fn


def glyph_share(crop_map: np.ndarray, box) -> float:
    """Share of a non-negative crop map's mass inside a glyph box (x0, y0, x1, y1)."""
    total = float(crop_map.sum())
    if total <= 0:
        return 0.0
    x0, y0, x1, y1 = (int(v) for v in box)
    return float(crop_map[max(0, y0):y1, max(0, x0):x1].sum()) / total


def evaluate_rec(cfg: dict, recognizer, log=print) -> dict:
    """Per-character records for ``recognizer`` (a :class:`paddle_cam.models.rec.Recognizer`) on
    the rendered lines ``cfg['rec_texts']`` (None: ``POINTING_TEXTS``; see the module doc); ``cfg`` is the run's flat
    settings: ``methods``, ``rec_layers``, ``rec_chars``, ``rec_font_size``, ``n_steps``,
    ``sanity_methods``, ``rec_sanity_lines``, ``seed``."""
    from ..metrics.faithfulness import deletion_insertion, endpoint_scores
    from ..metrics.sanity import cascading_randomization
    from ..ocr.rec_explain import (POINTING_TEXTS, RecExplainer, column_share, own_column, peak_in_box,
                                   render_glyph_line)
    from ..ocr.rec_targets import char_targets, forced_alignment, greedy_alignment

    task = f"rec:{getattr(recognizer, 'name', 'rec')}"
    explainers = {m: RecExplainer(recognizer, m, cfg.get("rec_layers") or None, _method_options(m, cfg))
                  for m in cfg["methods"] if m != RANDOM}
    reader = next(iter(explainers.values()), None) or RecExplainer(recognizer, "gradcam")
    records, timing, lines, cascade = [], {}, [], None
    for li, text in enumerate(cfg.get("rec_texts") or POINTING_TEXTS):
        img, boxes = render_glyph_line(text, int(cfg["rec_font_size"]))
        x, geo = reader.prepare(img)
        logits = reader.read(x)
        al = forced_alignment(logits, recognizer.characters, text)
        read = greedy_alignment(logits, recognizer.characters).text
        lines.append({"text": text, "read": read, "read_ok": read == text})
        if cascade is None:
            cascade = rec_cascade(reader.logits_model, x)
        rng = np.random.RandomState(cfg["seed"] + li)
        ks = sorted(rng.choice(len(al.chars), min(int(cfg["rec_chars"]), len(al.chars)), replace=False).tolist())
        targets = char_targets(al)
        domain = np.zeros(x.shape[2:], bool)
        domain[:, :geo.resized_w] = True        # the line, not the reader's padding
        for rank, k in enumerate(ks):
            ch, t = al.chars[k], targets[k]
            score_fn = char_prob_fn(reader.logits_model, ch.frames, ch.class_id)
            ends = endpoint_scores(x[0], score_fn, "paper", domain)
            cols = geo.frame_columns(own_column(al, k), al.num_frames)
            for method in cfg["methods"]:
                t0 = time.time()
                if method == RANDOM:
                    raw = random_map(x.shape[2:], np.random.RandomState(rng.randint(1 << 30)))
                    explain = None
                else:
                    ex = explainers[method]
                    explain = lambda ex=ex, t=t: ex.input_maps(x, [t], geo)[0]  # noqa: E731
                    raw = explain()
                t_explain = time.time() - t0
                crop_map = np.maximum(geo.input_to_crop(raw), 0)
                curves = deletion_insertion(x[0], np.where(domain, raw, 0), score_fn, "paper", cfg["n_steps"],
                                            batch_size=8, domain=domain, seed=cfg["seed"], endpoint_scores=ends)
                rec = {"task": task, "line": li, "text": text, "char_index": int(k), "char": ch.char,
                       "method": method, "prob": ends[0], "blank_score": ends[1],
                       "pointing_game": float(peak_in_box(crop_map, boxes[k])),
                       "energy_in_box": glyph_share(crop_map, boxes[k]),
                       "share_in_column": column_share(crop_map, cols),
                       "deletion_auc": curves["deletion"].auc, "insertion_auc": curves["insertion"].auc,
                       "deletion_curve": [round(float(v), 5) for v in curves["deletion"].scores],
                       "insertion_curve": [round(float(v), 5) for v in curves["insertion"].scores],
                       "randomization_spearman": None, "explain_seconds": round(t_explain, 4)}
                if li < int(cfg["rec_sanity_lines"]) and rank == 0 and method in cfg["sanity_methods"]:
                    fn = (lambda raw=raw: raw) if explain is None else explain
                    s = cascading_randomization(reader.logits_model, fn, cascade, seed=cfg["seed"]).summary()
                    rec.update(randomization_record(s))
                rec["seconds"] = round(time.time() - t0, 3)
                records.append(rec)
                timing[method] = timing.get(method, 0.0) + rec["seconds"]
        log(f"{task} line {li}: {text!r} read {read!r}, {len(ks)} characters")
    return {"records": records, "model": getattr(recognizer, "name", ""), "source": getattr(recognizer, "source", ""),
            "layers": {m: ex.layers for m, ex in explainers.items()}, "cascade": cascade or [], "lines": lines,
            "read_ok": float(np.mean([ln["read_ok"] for ln in lines])) if lines else None,
            "seconds_per_method": {k: round(v, 2) for k, v in timing.items()},
            "localisation": "on the line crop: the character's glyph box from the renderer; pointing_game = the "
                            "map's peak inside it, energy_in_box = its share of the map's mass"}


def _method_options(method: str, cfg: dict) -> Optional[dict]:
    """The evaluation's budgets for the input-gradient methods (paper baseline, ``ig_steps``, as
    the other tasks give them); the other kinds keep the explainer's own options (occlusion by
    character column, layer CAMs without gradient support)."""
    from ..methods import get_method
    from .scoring import evaluation_options

    if get_method(method).kind != "input_gradient":
        return None
    return evaluation_options(method, dict(cfg, baseline_fill="paper"))
