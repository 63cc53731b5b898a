"""Evaluation protocols and pruning comparisons without real models: the tools' configs, the
options the evaluation gives every registered method, the line windows, the summary table and
the comparison report."""
import numpy as np
import pytest

from paddle_cam.errors import InputError

def test_evaluation_settings_from_the_config():
    from paddle_cam.apps.evaluate_explanations import build_config, parse_args, settings

    quick = settings(build_config(parse_args(["--input", "x", "--quick", "--boxes", "5"])))
    assert quick["methods"] == ["gradcam", "layercam", "random"] and quick["pages"] == 2
    assert quick["boxes"] == 5  # an explicit flag beats the Quick section
    full = settings(build_config(parse_args(["--input", "x", "--methods", "Grad-CAM++,ig", "--gradient_support",
                                             "off"])))
    assert full["methods"] == ["gradcampp", "integrated_gradients", "random"]  # one spelling per method
    assert full["sanity_methods"] == full["methods"] and full["gradient_support"] is False
    assert full["layers"] == ["neck"] and full["tasks"] == ["det", "field"] and full["field_seed"] == 90000
    with pytest.raises(InputError, match="unknown method"):
        settings(build_config(parse_args(["--input", "x", "--methods", "gradcma"])))
    with pytest.raises(InputError, match="Eval.context"):
        settings(build_config(parse_args(["--input", "x", "-o", "Eval.context=pages"])))


def test_every_method_takes_the_evaluation_options():
    import paddle

    from paddle_cam.evaluation.scoring import evaluation_options
    from paddle_cam.methods import make_method, method_names

    class Split(paddle.nn.Sequential):
        """feature_occlusion reads a model split into features and the part after them."""

        def features(self, x):
            return self[0](x)

        def from_features(self, f):
            return self[1](f)

    model = Split(paddle.nn.Conv2D(3, 4, 3, padding=1), paddle.nn.ReLU())
    cfg = {"baseline_fill": "road", "ig_steps": 4, "rise_masks": 8, "seed": 0, "gradient_support": True}
    for name in method_names():
        opts = evaluation_options(name, cfg, region=(0, 0, 8, 8))
        assert make_method(name, model, ["0"], **opts).name == name  # no option the method lacks
        if "baseline" in opts:
            assert opts["baseline"] == "paper"  # ROAD removes pixels in the curves only


def _window_of(polygon, hw, margin, multiple=32):
    """The detector window as the evaluation first computed it (reference for box_window)."""
    h, w = hw
    lo, hi = np.floor(polygon.min(axis=0)) - margin, np.ceil(polygon.max(axis=0)) + margin
    out = []
    for a, b, size in ((lo[0], hi[0], w), (lo[1], hi[1], h)):
        length = min(size, int(np.ceil((b - a) / multiple) * multiple))
        start = int(min(max(0, (a + b - length) / 2), size - length))
        out.append((start, start + length))
    (x0, x1), (y0, y1) = out
    return x0, y0, x1, y1


def _neighbourhood(polygon, hw, grow=1.5):
    from paddle_cam.geometry import box_height

    m = grow * box_height(polygon) + 2
    lo, hi = polygon.min(axis=0) - m, polygon.max(axis=0) + m
    return (int(max(0, np.floor(lo[0]))), int(max(0, np.floor(lo[1]))),
            int(min(hw[1], np.ceil(hi[0]))), int(min(hw[0], np.ceil(hi[1]))))


def test_line_windows_are_the_shared_box_window():
    from paddle_cam.evaluation.det import DET_STRIDE, NEIGHBOURHOOD
    from paddle_cam.geometry import box_window

    rng = np.random.RandomState(0)
    for _ in range(300):
        hw = (int(rng.randint(64, 1000)), int(rng.randint(64, 1000)))
        x0, y0 = rng.rand() * hw[1] * 0.9, rng.rand() * hw[0] * 0.9
        w, h = rng.rand() * 300 + 2, rng.rand() * 40 + 2
        poly = np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]]) + rng.rand(4, 2)
        margin = int(rng.choice([0, 64, 128]))
        assert box_window(poly, hw, min_pad=margin, whole_pad=True, multiple=DET_STRIDE) == _window_of(poly, hw, margin)
        assert box_window(poly, hw, grow=NEIGHBOURHOOD, extra=2) == _neighbourhood(poly, hw)


def test_summary_table():
    from paddle_cam.evaluation import format_table, summarize

    recs = [{"task": "det", "method": "gradcam", "energy_in_box": 0.5, "pointing_game": 1.0},
            {"task": "det", "method": "gradcam", "energy_in_box": 0.7, "pointing_game": 0.0},
            {"task": "det", "method": "random", "energy_in_box": 0.1, "pointing_game": None}]
    s = summarize(recs)
    assert s["det"]["gradcam"]["n"] == 2 and s["det"]["gradcam"]["energy_in_box"] == pytest.approx(0.6)
    assert s["det"]["random"]["pointing_game"] is None and s["det"]["random"]["randomization_curve"] is None
    table = format_table(s).splitlines()
    assert table[0].split()[:3] == ["task", "method", "n"] and len(table) == 4 and "0.600" in table[2]


def test_prune_compare_settings_and_report(tmp_path):
    from paddle_cam.apps.prune_compare import DEFAULTS, FLAGS, build_settings, parse_args
    from paddle_cam.config import load_config, set_from_args
    from paddle_cam.slim.compare import Comparison, Variant, after_name, build_report, measure_latency

    def settings_of(argv):
        args = parse_args(["--input", "x", *argv])
        return build_settings(set_from_args(load_config(DEFAULTS, args.config, args.opt), args, FLAGS))

    s = settings_of(["--ratios", "0.3,0.1", "--no_compensate", "--method", "Grad-CAM"])
    assert s.ratios == [0.3, 0.1] and s.compensate is False and s.method == "gradcam" and s.layers is None
    assert settings_of(["-o", "Prune.ratios=[0.5]"]).ratios == [0.5]
    for argv, needle in ((["--ratios", "0.3,0.3"], "repeats"), (["--ratios", "1.5"], r"outside \(0, 1\)"),
                         (["--before", "a"], "go together"), (["--topk", "0"], "--topk")):
        with pytest.raises(InputError, match=needle):
            settings_of(argv)
    assert after_name("/m/base/") == "after" and after_name("/m/l1_0.3") == "l1_0.3"

    variants = [Variant("base", None, None), Variant("l1_0.3", None, None, "l1", 0.3)]
    calls = []
    measure_latency(variants, np.zeros((1, 3, 8, 8), np.float32), 2, lambda v: lambda b: calls.append(v.name),
                    lambda v: None)
    assert calls == ["base", "l1_0.3"] * 3 and all(v.latency_ms == v.latency_dygraph_ms > 0 for v in variants)
    for v in variants:
        v.metrics["record"] = {"name": v.name}
    rep = build_report(s, Comparison("field", variants, "layercam", {"build_s": 1.0}), str(tmp_path), 2.04)
    assert rep["model"] == "field" and rep["method"] == "layercam" and rep["layers"] == "auto"
    assert rep["timings_s"] == {"build_s": 1.0, "total": 2.0} and [r["name"] for r in rep["variants"]] == ["base", "l1_0.3"]
