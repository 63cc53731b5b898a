"""Put a page upright before reading it: 90-degree turns from box geometry, 180-degree turns from
PaddleOCR's text-line orientation classifier voting over the detected lines."""
from __future__ import annotations

from typing import List, Sequence

import cv2
import numpy as np


def vertical_fraction(polygons: Sequence) -> float:
    """Share of boxes whose long side is vertical (a page turned by 90 degrees)."""
    if not len(polygons):
        return 0.0
    vert = 0
    for p in polygons:
        p = np.asarray(p, np.float64)
        w = np.linalg.norm(p[1] - p[0])
        h = np.linalg.norm(p[3] - p[0])
        vert += h > 1.5 * w
    return vert / float(len(polygons))


def flipped_fraction(line_clf, crops: List[np.ndarray], min_prob: float = 0.9) -> float:
    """Share of confidently classified line crops that read as turned by 180 degrees."""
    crops = [c for c in crops if c.size and min(c.shape[:2]) >= 4]
    if not crops:
        return 0.0
    probs = line_clf.predict(line_clf.prepare(crops))
    labels = [str(l) for l in line_clf.labels]
    k180 = next((i for i, l in enumerate(labels) if l.startswith("180")), 1)
    sure = probs.max(axis=1) >= min_prob
    if not sure.any():
        return 0.0
    return float((probs[sure].argmax(axis=1) == k180).mean())


def rotate(page: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate clockwise by 90, 180 or 270 degrees."""
    code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return page if degrees % 360 == 0 else cv2.rotate(page, code[degrees % 360])
