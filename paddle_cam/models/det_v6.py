"""PP-OCRv6 DB detectors on PaddleX's own classes (``PPOCRV6SmallDet`` serves PP-OCRv6 tiny and
small det, ``PPOCRV6MediumDet`` medium det; both PP-LCNetV4 backbones).

PaddleX's ``forward`` takes a list and returns numpy (inference only); the subclasses here take a
tensor and return the DB shrink map ``(N, 1, H, W)``, so gradients reach the input. Module names,
the state dict and ``from_pretrained`` are PaddleX's, untouched.

Example:
    >>> model = build_v6_det("v6_small")                       # doctest: +SKIP
    >>> model(paddle.zeros([1, 3, 64, 64])).shape              # doctest: +SKIP
    [1, 1, 64, 64]
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import paddle.nn as nn


@lru_cache(maxsize=None)
def v6_det_class(key: str):
    """The tensor-in, map-out subclass of PaddleX's class for family ``v6_small``/``v6_medium``."""
    if key == "v6_small":
        from paddlex.inference.models.text_detection.modeling.pp_ocrv6_small_det import PPOCRV6SmallDet as Base
    elif key == "v6_medium":
        from paddlex.inference.models.text_detection.modeling.pp_ocrv6_medium_det import PPOCRV6MediumDet as Base
    else:
        raise ValueError(f"not a PP-OCRv6 det family: {key}")

    class V6DBDetector(Base):
        """PP-OCRv6 DB detector: tensor in, shrink map out (eval-mode DB head)."""

        def forward(self, x):
            return self.head(self.model(x))

    V6DBDetector.__name__ = V6DBDetector.__qualname__ = Base.__name__ + "Explained"
    return V6DBDetector


def v6_det_config(key: str, config: Optional[dict] = None):
    """PaddleX's config object of the family, from a ``config.json`` mapping (None: PaddleX's
    defaults, which mirror the released model)."""
    if key == "v6_small":
        from paddlex.inference.models.text_detection.modeling._config_pp_ocrv6_small_det import \
            PPOCRV6SmallDetConfig as Config
    else:
        from paddlex.inference.models.text_detection.modeling._config_pp_ocrv6_medium_det import \
            PPOCRV6MediumDetConfig as Config
    return Config(**(config or {}))


def build_v6_det(key: str, config: Optional[dict] = None) -> nn.Layer:
    """A PP-OCRv6 det of family ``key`` with random weights, in eval mode."""
    model = v6_det_class(key)(v6_det_config(key, config))
    model.eval()
    return model
