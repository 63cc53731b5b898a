"""One synthetic invoice page from one seed: content, form layout, stamps, printing and scan."""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .content import invoice_content
from .layout import PAGE_MM, Page, cjk_faces, draw_form
from .scan import print_page, scan_page
from .stamps import stamp_invoice


def render_invoice(seed: int) -> Tuple[np.ndarray, dict]:
    """A scanned-looking VAT invoice page (BGR uint8) and its ground truth, fully determined by ``seed``.

    Ground truth: ``{"seed", "size": [w, h], "kind", "lines": [{"id", "polygon", "text", "field", "role"}]}``;
    polygons are 4 points, clockwise from the top-left corner, in final page pixels (after the scan's
    rotation and shift, which are applied to image and points with the same affine matrix).
    """
    rng = np.random.RandomState(seed)
    content = invoice_content(rng)
    W = int(rng.randint(1400, 1801))
    H = int(round(W * PAGE_MM[1] / PAGE_MM[0]))
    props, monos = cjk_faces()
    faces = {"sans": props[int(rng.randint(len(props)))], "mono": monos[int(rng.randint(len(monos)))]}
    page = Page(W, H, faces)
    writer = draw_form(page, content, rng)
    seal_layer, stamp_layer = stamp_invoice(writer, content)
    out, M = scan_page(print_page(page, seal_layer, stamp_layer, rng), rng)

    lines = []
    for ln in page.lines:
        p = ln["polygon"] @ M[:, :2].T + M[:, 2]
        p[:, 0] = np.clip(p[:, 0], 0, W - 1)
        p[:, 1] = np.clip(p[:, 1], 0, H - 1)
        lines.append({"id": ln["id"], "polygon": [[round(float(x), 1), round(float(y), 1)] for x, y in p],
                      "text": ln["text"], "field": ln["field"], "role": ln["role"]})
    return out, {"seed": int(seed), "size": [W, H], "kind": content["kind"], "lines": lines}
