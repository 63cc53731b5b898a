"""Hook life cycle, name resolution and the batch contract."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_cam import (ClassifierOutputTarget, GradCAM, HookNotFiredError, LayerHooks, LayerNotFoundError,
                        ScoreCAM, TargetError, layer_names)
from paddle_cam.hooks import active_hook_count
from toy_models import ConvReadout


def _all_layers(m):
    return [l for _, l in m.named_sublayers()] + [m]


@pytest.fixture
def model():
    m = ConvReadout()
    m.eval()
    return m


X = np.random.RandomState(0).randn(2, 3, 6, 5).astype(np.float32)


def test_wrong_name_lists_closest_valid_names(model):
    with pytest.raises(LayerNotFoundError) as e:
        GradCAM(model, ["acts"])(X, [ClassifierOutputTarget(0)] * 2)
    msg = str(e.value)
    assert "unknown layer 'acts'" in msg and "act" in msg.split("closest valid names:")[1]
    assert active_hook_count(_all_layers(model)) == 0


def test_layer_object_and_foreign_object(model):
    res = GradCAM(model, [model.act])(X, [ClassifierOutputTarget(1)] * 2)
    assert res.layers == ["act"]
    with pytest.raises(LayerNotFoundError, match="not a sublayer"):
        GradCAM(model, [nn.ReLU()])(X, [ClassifierOutputTarget(1)] * 2)


def test_hooks_removed_when_forward_raises(model):
    boom = RuntimeError("boom in forward")

    def bad_hook(layer, inp, out):
        raise boom

    h = model.fc.register_forward_post_hook(bad_hook)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            GradCAM(model, ["act", "conv"])(X, [ClassifierOutputTarget(0)] * 2)
    finally:
        h.remove()
    assert active_hook_count(_all_layers(model)) == 0


def test_hooks_removed_when_target_fails(model):
    with pytest.raises(TargetError, match="out of range"):
        GradCAM(model, ["act"])(X, [ClassifierOutputTarget(7), ClassifierOutputTarget(0)])
    assert active_hook_count(_all_layers(model)) == 0


def test_context_manager_removes_on_error(model):
    hooks = LayerHooks(model, ["act"])
    with pytest.raises(ValueError):
        with hooks:
            assert active_hook_count([model.act]) == 1
            raise ValueError("user code failed")
    assert active_hook_count([model.act]) == 0


def test_hook_that_never_fired(model):
    with pytest.raises(HookNotFiredError, match="unused"):
        GradCAM(model, ["unused"])(X, [ClassifierOutputTarget(0)] * 2)
    assert active_hook_count(_all_layers(model)) == 0


def test_target_count_must_equal_batch(model):
    with pytest.raises(TargetError, match="got 1 target.*batch of 2"):
        GradCAM(model, ["act"])(X, [ClassifierOutputTarget(0)])
    with pytest.raises(TargetError, match="got 3 target"):
        ScoreCAM(model, ["act"])(X, [ClassifierOutputTarget(0)] * 3)


def test_target_must_return_scalar(model):
    with pytest.raises(TargetError, match="one scalar"):
        GradCAM(model, ["act"])(X, [lambda out: out, lambda out: out])


def test_default_target_is_top_class(model):
    res = GradCAM(model, ["act"])(X)
    logits = model(paddle.to_tensor(X)).numpy()
    assert [t.category for t in res.targets] == list(np.argmax(logits, 1))


def test_eval_mode_kept_and_training_flag_restored():
    class WithBN(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2D(4)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(self.bn(self.conv(x)).mean(axis=[2, 3]))

    m = WithBN()
    m.train()
    before = m.bn._mean.numpy().copy()
    GradCAM(m, ["bn"])(X, [ClassifierOutputTarget(0)] * 2)
    np.testing.assert_array_equal(m.bn._mean.numpy(), before)  # eval: running stats untouched
    assert m.training and m.bn.training


def test_no_parameter_gradients_accumulate(model):
    GradCAM(model, ["act"])(X, [ClassifierOutputTarget(0)] * 2)
    assert all(p.grad is None for p in model.parameters())


def test_layer_returning_tuple_is_refused():
    class Pair(nn.Layer):
        def forward(self, x):
            return x, x

    class M(nn.Layer):
        def __init__(self):
            super().__init__()
            self.pair = Pair()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            a, _ = self.pair(x)
            return self.fc(a.mean(axis=[2, 3]))

    m = M()
    with pytest.raises(LayerNotFoundError, match="not one tensor"):
        GradCAM(m, ["pair"])(X, [ClassifierOutputTarget(0)] * 2)
    assert active_hook_count(_all_layers(m)) == 0


def test_layer_names_lists_sublayers(model):
    assert {"conv", "act", "fc", "unused"} <= set(layer_names(model))


def test_graph_from_layers_gives_the_same_gradients_and_unfreezes():
    """Recording the graph only from the hooked layers (no backbone activations kept) must not change
    any gradient: sequential hooks, a hook on a branch of its own, and the parameters' flags after."""
    import numpy as np
    import paddle

    from paddle_cam.hooks import LayerHooks

    class Net(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.stem = paddle.nn.Conv2D(3, 4, 3, padding=1)
            self.a = paddle.nn.Conv2D(4, 4, 3, padding=1)
            self.b = paddle.nn.Conv2D(4, 4, 3, padding=1)
            self.side = paddle.nn.Conv2D(4, 4, 1)

        def forward(self, x):
            s = paddle.nn.functional.relu(self.stem(x))
            return (self.b(paddle.tanh(self.a(s))) * self.side(s)).sum()

    paddle.seed(0)
    net = Net()
    net.side.weight.stop_gradient = True   # a frozen parameter stays frozen, the others trainable
    x = paddle.to_tensor(np.random.RandomState(0).rand(1, 3, 8, 8).astype("float32"))
    layers = ["a", "b", "side"]
    grads = []
    for cut in (False, True):
        with LayerHooks(net, layers, graph_from_layers=cut) as hooks:
            xin = x.detach()
            xin.stop_gradient = cut
            out = net(xin)
            grads.append({k: v.numpy() for k, v in hooks.gradients(out).items()})
    for k in layers:
        np.testing.assert_allclose(grads[0][k], grads[1][k], rtol=1e-6, atol=1e-7)
    assert net.side.weight.stop_gradient is True and net.a.weight.stop_gradient is False
