"""The generator's original entry point: one machine-printed VAT invoice page from one seed."""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .families import render_paper_invoice


def render_invoice(seed: int) -> Tuple[np.ndarray, dict]:
    """A scanned or photographed paper VAT invoice (增值税专用发票 / 增值税普通发票; BGR uint8) and its
    ground truth, fully determined by ``seed``.

    This is :func:`.families.render_document` restricted to the paper families ``vat_special`` and
    ``vat_normal`` (the seed picks one); use ``render_document`` for every family.

    Ground truth: ``{"seed", "size": [w, h], "kind", "family", "capture", "medium", "lines": [{"id",
    "polygon", "text", "field", "role"[, "value_span"]}]}``; polygons are 4 points, clockwise from
    the top-left corner, in final page pixels (mapped with the same matrix as the image).

    >>> img, gt = render_invoice(7)
    >>> gt["family"] in ("vat_special", "vat_normal") and list(img.shape[1::-1]) == gt["size"]
    True
    """
    return render_paper_invoice(seed)
