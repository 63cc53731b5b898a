"""Explain one classifier decision on one image: prediction, CAM, map on the original image."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..base import CAMResult
from ..errors import TargetError
from ..methods import make_method
from ..models.cls import Classifier
from ..targets import ClassifierOutputTarget


@dataclass
class ClsExplanation:
    """One classifier decision on one image and its CAM."""

    probs: np.ndarray          # (classes,)
    class_id: int              # the explained class
    cam: CAMResult             # maps on the model input
    image_raw: np.ndarray      # (H, W) raw map on the original image
    image_norm: np.ndarray     # (H, W) in [0, 1]


def explain_image(clf: Classifier, image_bgr: np.ndarray, method: str = "gradcam",
                  layers: Optional[Sequence[str]] = None, class_id: Optional[int] = None,
                  **method_kwargs) -> ClsExplanation:
    """CAM of ``class_id`` (default: the predicted class) for one BGR image."""
    batch = clf.prepare([image_bgr])
    probs = clf.predict(batch)[0]
    n = probs.shape[0]
    if class_id is None:
        class_id = int(np.argmax(probs))
    elif not 0 <= int(class_id) < n:
        raise TargetError(f"--class_id {class_id} is out of range: the model has {n} classes (0..{n - 1}: "
                          f"{', '.join(clf.labels)})")
    cam = make_method(method, clf.model, list(layers or [clf.default_layer]), **method_kwargs)(
        batch, targets=[ClassifierOutputTarget(int(class_id))])
    raw = clf.preprocess.back_to_image(cam.raw[0], image_bgr.shape[:2])
    norm = clf.preprocess.back_to_image(cam.normalized[0], image_bgr.shape[:2])
    return ClsExplanation(probs, int(class_id), cam, np.maximum(raw, 0), np.clip(norm, 0, 1))
