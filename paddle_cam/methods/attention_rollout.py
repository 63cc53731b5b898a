"""Attention maps of transformer mixing blocks: rollout (Abnar & Zuidema, 2020) or
gradient-weighted rollout (Chefer et al., 2021), per query token.

The target layers are self-attention sublayers of the usual ViT form (attributes ``qkv`` - one
Linear to 3 x C -, ``num_heads``, ``scale`` and ``projection`` or ``proj``), in forward order.
Their attention matrices are recomputed from each layer's captured input with the layer's own
weights, and checked at run time: ``projection(A @ V)`` must equal the layer's captured output
(else the layer is not of that form and the call fails instead of showing a wrong map).

- ``mode="rollout"``: ``R = prod_l (0.5 * mean_heads(A_l) + 0.5 * I)`` (rows renormalised), target-free
  except for the query rows;
- ``mode="gradient"``: ``A_l`` weighted by the target's gradient,
  ``Abar_l = mean_heads(ReLU(dS/dA_l * A_l))``, ``R = R + Abar_l @ R`` from ``R = I``; ``dS/dA`` is
  exact, from the gradient at the layer's output through its linear projection.

The map of a target is the mean of the rows of R at its query tokens (a target's
``query_tokens``, e.g. a CTC character's frames; all tokens when it has none): how much each key
token feeds those queries. Tokens go to a grid through ``reshape_transform`` (sequences have no
CLS token here; pass a transform that knows the real, possibly non-square, grid).
"""
from __future__ import annotations

import contextlib
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import paddle

from ..base import BaseCAM, CAMResult, normalize_maps, resize_maps
from ..hooks import resolve_layer


def _linear_np(layer) -> tuple:
    w = layer.weight.numpy().astype(np.float64)                 # paddle Linear: (in, out)
    b = layer.bias.numpy().astype(np.float64) if layer.bias is not None else np.zeros(w.shape[1])
    return w, b


class AttentionRollout(BaseCAM):
    """Attention rollout / gradient-weighted attention of self-attention layers.

    Example:
        >>> cam = AttentionRollout(model, ["blocks.0.attn", "blocks.1.attn"], mode="gradient",
        ...                        reshape_transform=grid)                         # doctest: +SKIP
    """

    name = "attention_rollout"
    crop_paths = False

    def __init__(self, model: paddle.nn.Layer, target_layers, reshape_transform=None, mode: str = "rollout",
                 head_fusion: str = "mean", residual: float = 0.5, gradient_support: bool = False):
        if mode not in ("rollout", "gradient"):
            raise ValueError(f"mode must be rollout or gradient, not {mode!r}")
        if head_fusion not in ("mean", "max"):
            raise ValueError(f"head_fusion must be mean or max, not {head_fusion!r}")
        # gradient_support (as in BaseCAM): in gradient mode, zero key tokens where the target's
        # gradient at the last layer's output is exactly zero; rollout mode has no gradient to read
        super().__init__(model, target_layers, reshape_transform, gradient_support=gradient_support)
        self.mode = mode
        self.uses_gradients = mode == "gradient"
        self.head_fusion = head_fusion
        self.residual = float(residual)
        self._inputs: Dict[str, np.ndarray] = {}

    @contextlib.contextmanager
    def extra_hooks(self) -> Iterator[None]:
        """Capture the target layers' inputs during forwards in the block (hooks removed on exit)."""
        handles = []
        self._inputs = {}
        try:
            for ref in self.target_layers:
                name, layer = resolve_layer(self.model, ref)

                def pre(_l, inputs, name=name):
                    self._inputs[name] = inputs[0].detach().numpy().astype(np.float64)
                    return None

                handles.append(layer.register_forward_pre_hook(pre))
            yield
        finally:
            for h in handles:
                h.remove()

    def __call__(self, input_tensor, targets=None) -> CAMResult:
        with self.extra_hooks():
            return super().__call__(input_tensor, targets)

    def iter_targets(self, input_tensor, targets):
        with self.extra_hooks():
            yield from super().iter_targets(input_tensor, targets)

    # -- attention of one layer --
    def _attention(self, name: str, out_nlc: np.ndarray):
        layer = resolve_layer(self.model, name)[1]
        x = self._inputs[name]                                  # (N, L, C)
        n, length, c = x.shape
        heads = int(layer.num_heads)
        wq, bq = _linear_np(layer.qkv)
        qkv = (x @ wq + bq).reshape(n, length, 3, heads, c // heads).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                        # (N, heads, L, d)
        s = q @ k.transpose(0, 1, 3, 2) * float(layer.scale)
        s = s - s.max(axis=-1, keepdims=True)
        a = np.exp(s)
        a /= a.sum(axis=-1, keepdims=True)
        proj = getattr(layer, "projection", None) or getattr(layer, "proj")
        wp, bp = _linear_np(proj)
        z = (a @ v).transpose(0, 2, 1, 3).reshape(n, length, c)
        recon = z @ wp + bp
        err = float(np.abs(recon - out_nlc).max()) if out_nlc is not None else 0.0
        if err > 1e-3 * max(1.0, float(np.abs(out_nlc).max())):
            raise ValueError(f"layer '{name}' is not a plain qkv self-attention (recomputed output differs by "
                             f"{err:.3g}); attention_rollout cannot read its attention")
        return a, v, wp

    def maps_from_captures(self, names: Sequence[str], activations, gradients, input_tensor, targets,
                           scores) -> CAMResult:
        h_in, w_in = input_tensor.shape[2:]
        grid_hw = None
        rolled = None
        for name in names:
            act = activations[name]                             # (N, C, h, w) via reshape_transform
            n, c, gh, gw = act.shape
            grid_hw = (gh, gw)
            out_nlc = act.reshape(n, c, gh * gw).transpose(0, 2, 1)
            a, v, wp = self._attention(name, out_nlc)
            length = a.shape[-1]
            eye = np.eye(length)[None]
            if self.mode == "rollout":
                fused = a.mean(axis=1) if self.head_fusion == "mean" else a.max(axis=1)
                step = self.residual * eye + (1 - self.residual) * fused
                step = step / step.sum(axis=-1, keepdims=True)
                rolled = step if rolled is None else step @ rolled
            else:
                g = gradients[name].reshape(n, c, gh * gw).transpose(0, 2, 1)   # dS/d(layer output)
                dz = (g @ wp.T).reshape(n, length, a.shape[1], -1).transpose(0, 2, 1, 3)
                da = dz @ v.transpose(0, 1, 3, 2)               # exact dS/dA, (N, heads, L, L)
                rel = np.maximum(da * a, 0)
                fused = rel.mean(axis=1) if self.head_fusion == "mean" else rel.max(axis=1)
                rolled = eye + fused if rolled is None else rolled + fused @ rolled
        maps = []
        for i, t in enumerate(targets):
            q = getattr(t, "query_tokens", None)
            rows = rolled[i][list(q)] if q else rolled[i]
            maps.append(rows.mean(axis=0).reshape(grid_hw))
        cam = np.maximum(np.stack(maps), 0).astype(np.float32)
        if self.gradient_support and self.mode == "gradient":
            cam = cam * (np.abs(gradients[names[-1]]).sum(axis=1) > 0)
        raw = resize_maps(cam, (h_in, w_in))
        key = names[-1]
        return CAMResult(raw=raw, normalized=normalize_maps(raw), per_layer_raw={key: raw}, layer_maps={key: cam},
                         scores=scores, targets=list(targets), method=self.name, layers=list(names))
