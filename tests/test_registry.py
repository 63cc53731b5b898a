"""The method registry: one canonical name per method, declared kinds, typed options, one factory."""
import inspect

import numpy as np
import pytest

from paddle_cam import InputError, get_method, make_method, method_names, method_options
from paddle_cam.methods import KINDS, METHODS, IntegratedGradients, Occlusion, ScoreCAM
from toy_models import ConvReadout

CANONICAL = ["gradcam", "gradcampp", "xgradcam", "layercam", "hirescam", "eigencam", "scorecam",
             "integrated_gradients", "smoothgrad", "occlusion", "feature_occlusion", "rise", "attention_rollout"]

# what each method is, and whether the DB detector's exact crop paths reproduce its maps
DECLARED = {
    "gradcam": ("layer_cam", True), "gradcampp": ("layer_cam", True), "xgradcam": ("layer_cam", True),
    "layercam": ("layer_cam", True), "hirescam": ("layer_cam", True), "eigencam": ("layer_cam", False),
    "scorecam": ("layer_cam", False), "integrated_gradients": ("input_gradient", False),
    "smoothgrad": ("input_gradient", False), "occlusion": ("black_box", False), "rise": ("black_box", False),
    "feature_occlusion": ("black_box", False),
    "attention_rollout": ("layer_cam", False),
}


def test_canonical_names_are_the_class_names():
    assert method_names() == CANONICAL == list(METHODS)
    for name in CANONICAL:
        assert get_method(name).name == name


@pytest.mark.parametrize("spelling,name", [
    ("GradCAM", "gradcam"), ("grad-cam", "gradcam"), ("Grad_CAM", "gradcam"),
    ("gradcam++", "gradcampp"), ("Grad-CAM++", "gradcampp"), ("gradcampp", "gradcampp"),
    ("XGrad-CAM", "xgradcam"), ("layer_cam", "layercam"), ("HiResCAM", "hirescam"), ("Eigen-CAM", "eigencam"),
    ("score-cam", "scorecam"), ("ScoreCAM", "scorecam"),
    ("ig", "integrated_gradients"), ("IG", "integrated_gradients"), ("integratedgradients", "integrated_gradients"),
    ("integrated_gradients", "integrated_gradients"), ("Integrated-Gradients", "integrated_gradients"),
    ("smooth_grad", "smoothgrad"), ("SmoothGrad", "smoothgrad"), ("Occlusion", "occlusion"), ("RISE", "rise"),
])
def test_spellings_resolve_to_one_canonical_name(spelling, name):
    assert get_method(spelling).name == name


def test_unknown_method_lists_the_canonical_names():
    with pytest.raises(InputError) as e:
        get_method("gradcan")
    msg = str(e.value)
    assert "'gradcan'" in msg and "did you mean 'gradcam'" in msg
    assert msg.endswith("choose one of: " + ", ".join(CANONICAL))


@pytest.mark.parametrize("name", CANONICAL)
def test_declared_kind_and_crop_paths(name):
    cls = get_method(name)
    assert (cls.kind, cls.crop_paths) == DECLARED[name]
    assert cls.kind in KINDS


@pytest.mark.parametrize("name", CANONICAL)
def test_options_are_typed_keyword_arguments(name):
    """No **kwargs anywhere: an option the method does not have cannot be swallowed."""
    cls = get_method(name)
    for klass in cls.__mro__:
        if klass is not object and "__init__" in vars(klass):
            kinds = {p.kind for p in inspect.signature(klass.__init__).parameters.values()}
            assert inspect.Parameter.VAR_KEYWORD not in kinds, klass
    assert set(method_options(name)).isdisjoint({"model", "target_layers"})


def test_method_options_give_the_defaults():
    assert method_options("scorecam") == {"reshape_transform": None, "gradient_support": False,
                                          "batch_size": 16, "baseline": 0.0}
    assert method_options("gradcam") == {"reshape_transform": None, "gradient_support": False}
    assert method_options("ig") == {"baseline": "paper", "n_steps": 32, "internal_batch_size": 8,
                                    "method": "riemann_trapezoid", "reduce": "abs"}
    assert method_options("occlusion") == {"window": 16, "stride": 8, "baseline": "paper", "batch_size": 8,
                                           "region": None}
    assert list(method_options("rise")) == ["n_masks", "grid", "p_keep", "baseline", "batch_size", "region",
                                            "center", "seed"]


def test_unknown_option_names_it_and_lists_the_valid_ones():
    model = ConvReadout()
    with pytest.raises(InputError) as e:
        make_method("scorecam", model, ["act"], batchsize=4)
    assert str(e.value) == ("method 'scorecam' has no option 'batchsize' (did you mean 'batch_size'?); "
                            "its options: reshape_transform, gradient_support, batch_size, baseline")
    with pytest.raises(InputError, match="method 'integrated_gradients' has no option 'gradient_support'"):
        make_method("ig", model, ["act"], gradient_support=True)
    with pytest.raises(InputError, match="method 'rise' has no option 'nmasks' .did you mean 'n_masks'"):
        make_method("rise", model, n_masks=4, nmasks=8)


def test_make_method_builds_with_options():
    model = ConvReadout()
    cam = make_method("Score-CAM", model, ["act"], batch_size=3, gradient_support=True)
    assert isinstance(cam, ScoreCAM) and cam.batch_size == 3 and cam.gradient_support and cam.target_layers == ["act"]
    ig = make_method("ig", model, ["act"], n_steps=4)  # input methods need no layers
    assert isinstance(ig, IntegratedGradients) and ig.n_steps == 4 and ig.name == "integrated_gradients"
    occ = make_method("occlusion", lambda b: np.zeros((len(b), 3)), window=2, stride=1)
    assert isinstance(occ, Occlusion) and occ.window == (2, 2) and occ.stride == (1, 1)
    with pytest.raises(InputError, match="pass the layers"):
        make_method("gradcam", model)
