"""Forward hooks on named sublayers of a dynamic-graph model.

Gradients are taken with ``paddle.grad`` on the captured outputs instead of tensor backward
hooks: Paddle 3 does not keep ``.grad`` on non-leaf tensors, and ``paddle.grad`` leaves
parameter gradients untouched, so explaining never disturbs a model being trained.
"""
from __future__ import annotations

import difflib
from typing import Dict, Iterable, List, Sequence, Union

import paddle

from .errors import HookNotFiredError, LayerNotFoundError

LayerRef = Union[str, paddle.nn.Layer]


def layer_names(model: paddle.nn.Layer) -> List[str]:
    """All dotted sublayer names, as ``named_sublayers()`` gives them."""
    return [name for name, _ in model.named_sublayers()]


def resolve_layer(model: paddle.nn.Layer, ref: LayerRef) -> tuple:
    """Return ``(name, layer)`` for a dotted name or a Layer object of ``model``."""
    if isinstance(ref, paddle.nn.Layer):
        for name, layer in model.named_sublayers():
            if layer is ref:
                return name, layer
        raise LayerNotFoundError(
            f"layer object {type(ref).__name__} is not a sublayer of {type(model).__name__}; "
            "pass a layer taken from this model or its dotted name"
        )
    if not isinstance(ref, str):
        raise LayerNotFoundError(f"layer must be a name or a paddle.nn.Layer, got {type(ref).__name__}")
    table = dict(model.named_sublayers())
    if ref in table:
        return ref, table[ref]
    close = difflib.get_close_matches(ref, list(table), n=5, cutoff=0.5)
    if not close:  # a bare suffix such as "conv2" often is what was meant
        close = [n for n in table if n.endswith("." + ref) or n.split(".")[-1] == ref][:5]
    hint = f"; closest valid names: {', '.join(close)}" if close else "; list names with paddle_cam.layer_names(model)"
    raise LayerNotFoundError(f"unknown layer '{ref}'{hint}")


class LayerHooks:
    """Capture the outputs of named layers during a forward pass.

    Use as a context manager; every hook is removed on exit, also when an exception flies::

        with LayerHooks(model, ["backbone.conv2"]) as hooks:
            out = model(x)
            grads = hooks.gradients(out.sum())
    """

    def __init__(self, model: paddle.nn.Layer, layers: Sequence[LayerRef], graph_from_layers: bool = False):
        """``graph_from_layers``: record the autograd graph only from the hooked layers on (the
        parameters are frozen while the hooks are on, and a hooked output computed without a graph
        - the first one, or one on a branch of its own - becomes a leaf that requires gradient).
        Gradients with respect to the hooked outputs are the same; the activations before them are
        not kept for a backward that never reaches them (the DB detector's backbone at page
        resolution: hundreds of MB)."""
        if isinstance(layers, (str, paddle.nn.Layer)):
            layers = [layers]
        if not layers:
            raise LayerNotFoundError("no target layer given; name at least one layer of the model")
        self.model = model
        resolved = [resolve_layer(model, ref) for ref in layers]
        self.names: List[str] = [n for n, _ in resolved]
        self._layers = [l for _, l in resolved]
        self._handles: list = []
        self._outputs: Dict[str, List[paddle.Tensor]] = {}
        self.graph_from_layers = bool(graph_from_layers)
        self._frozen: list = []

    def __enter__(self) -> "LayerHooks":
        self.clear()
        try:
            if self.graph_from_layers:
                self._frozen = [(p, p.stop_gradient) for p in self.model.parameters()]
                for p, _ in self._frozen:
                    p.stop_gradient = True
            for name, layer in zip(self.names, self._layers):
                self._handles.append(layer.register_forward_post_hook(self._make_hook(name)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this object registered and unfreeze what it froze; safe to call twice."""
        while self._handles:
            self._handles.pop().remove()
        while self._frozen:
            p, was = self._frozen.pop()
            p.stop_gradient = was

    def clear(self) -> None:
        """Forget captured outputs (before the next forward)."""
        self._outputs = {n: [] for n in self.names}

    def _make_hook(self, name: str):
        def hook(layer, inputs, output):
            if not isinstance(output, paddle.Tensor):
                raise LayerNotFoundError(
                    f"layer '{name}' returns {type(output).__name__}, not one tensor; "
                    "hook one of its sublayers that outputs a feature map"
                )
            if self.graph_from_layers and output.stop_gradient:
                # no graph reaches this output: it starts here
                output = output.detach()
                output.stop_gradient = False
                self._outputs[name].append(output)
                return output
            self._outputs[name].append(output)
            return None

        return hook

    @property
    def activations(self) -> Dict[str, paddle.Tensor]:
        """Output of each layer in the last forward (the last call if a layer ran twice)."""
        missing = [n for n in self.names if not self._outputs.get(n)]
        if missing:
            raise HookNotFiredError(
                f"hooked layer(s) {', '.join(missing)} did not run in the forward pass; "
                "pick layers on the path from input to output (see paddle_cam.layer_names(model))"
            )
        return {n: self._outputs[n][-1] for n in self.names}

    def gradients(self, score: paddle.Tensor, retain_graph: bool = False) -> Dict[str, paddle.Tensor]:
        """d(score)/d(layer output) for every hooked layer."""
        acts = self.activations
        grads = paddle.grad(
            outputs=[score], inputs=[acts[n] for n in self.names],
            retain_graph=retain_graph, allow_unused=True,
        )
        out = {}
        for name, g in zip(self.names, grads):
            if g is None:
                raise HookNotFiredError(
                    f"the target does not depend on layer '{name}' (no gradient reached it); "
                    "choose a layer the target's output is computed from"
                )
            out[name] = g
        return out


def active_hook_count(layers: Iterable[paddle.nn.Layer]) -> int:
    """Number of forward hooks still registered on ``layers`` (for checks and tests)."""
    return sum(len(l._forward_post_hooks) + len(l._forward_pre_hooks) for l in layers)
