"""Numpy predictors: one call convention for a dynamic-graph Layer and an exported model.

Black-box methods (occlusion, RISE) and the deletion/insertion curves only need
``predict(batch (N, C, H, W) float32) -> first output as numpy``; ``as_predict`` gives that for a
``paddle.nn.Layer`` or any callable such as ``paddle_cam.models.static.StaticPredictor``, so they
explain what PP-OCR users deploy without a dynamic graph.
"""
from __future__ import annotations

from typing import Any, Callable, Union

import numpy as np
import paddle

from .modes import eval_mode
from .targets import first_leaf

Predict = Callable[[np.ndarray], Any]


def first_array(output: Any) -> np.ndarray:
    """The first array of a (possibly nested) model output, as numpy."""
    leaf = first_leaf(output, (paddle.Tensor, np.ndarray))
    if leaf is None:
        return np.asarray(output)
    return leaf.numpy() if isinstance(leaf, paddle.Tensor) else leaf


def as_predict(model: Union[paddle.nn.Layer, Predict]) -> Callable[[np.ndarray], np.ndarray]:
    """``batch (N, C, H, W) float32 -> first output as numpy`` for a dynamic Layer (run in
    ``eval()`` under ``no_grad``, training flag restored) or any callable such as
    ``paddle_cam.models.static.StaticPredictor``."""
    if isinstance(model, paddle.nn.Layer):
        def predict(batch: np.ndarray) -> np.ndarray:
            with eval_mode(model), paddle.no_grad():
                return first_array(model(paddle.to_tensor(np.ascontiguousarray(batch, np.float32))))
        return predict
    if not callable(model):
        raise TypeError(f"expected a paddle.nn.Layer or a callable predict(batch), got {type(model).__name__}")

    def predict_np(batch: np.ndarray) -> np.ndarray:
        return first_array(model(np.ascontiguousarray(batch, np.float32)))
    return predict_np
