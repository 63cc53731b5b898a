"""The field classifier's input: a context window around one text line, and maps back onto the page.

A context window around the line, fixed aspect 2:1, in units of the line's height ``h`` (short
side of the box's minimum-area rectangle, so a slightly rotated scan does not inflate it):
8 h to the left of the line's start and 12 h to the right, 7 h above and 2 h below the box.
Invoice labels sit to the left (名称： … before the value) or above (金额 / 税额 column headers up to
~9 glyph heights over the last item row), so the window extends mostly left and up; right and
below only enough to see column borders and the next row. Scaling by ``h`` makes the input
independent of scan resolution. 80 x 160 px, 8 px per line height, so one cell of the stride-8
grid explained by default (``encoder.blocks.2``, 10 x 20 cells) is one line height: the deepest
PP-LCNet stage that still resolves a single text line. The line's centre lies on a row of cell
centres of that grid (input row 60 = 8 * 7 + 4): a bilinearly upsampled CAM peaks on grid nodes
only, so with the line between two node rows no map could ever peak on the line itself.
Channels:

0. luminance of the page;
1. chroma (max - min of B, G, R): the pre-printed form ink is brown, stamps red, printer ink
   black/blue, which tells labels from values on colour scans (zero on grey ones);
2. the marker: the line's own polygon filled, so the network knows which line of the window is
   asked about (several values share one window);
3. ... with ``WindowSpec.text_channels``: one plane per label kind, the labels the recogniser read
   painted where they are (:mod:`.label_context`), for the labels the image cannot resolve.

Everything off the page is 0 in all channels (black, no marker), which also tells the network
where the page edge is. Values are scaled to [-1, 1] as ``u8 / 127.5 - 1``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from ..errors import InputError
from ..geometry import box_height

Polygon = Sequence[Sequence[float]]
Window = Tuple[int, int, int, int]


@dataclass(frozen=True)
class WindowSpec:
    """Context window around a line, in line heights, and the model input size (H, W)."""

    left: float = 8.0
    right: float = 12.0
    up: float = 7.0
    down: float = 2.0
    input_hw: Tuple[int, int] = (80, 160)
    text_channels: Tuple[str, ...] = ()

    @property
    def channels(self) -> int:
        """Input channels: luminance, chroma, marker and the label planes."""
        return 3 + len(self.text_channels)

    def __post_init__(self):
        aspect = (self.up + 1.0 + self.down) / (self.left + self.right)
        if abs(aspect - self.input_hw[0] / self.input_hw[1]) > 1e-6:
            raise ValueError(f"window {self} is {aspect:.3f} high per unit width but the input is "
                             f"{self.input_hw[0]}x{self.input_hw[1]}; the aspects must agree")

    def to_yml(self) -> dict:
        """The ``FieldWindow`` preprocessing op of an ``inference.yml``."""
        d = asdict(self)
        d["input_hw"] = list(self.input_hw)
        d["text_channels"] = list(self.text_channels)
        d.update({"unit": "line height = short side of the box's minimum-area rectangle",
                  "anchor": "left end of the box (min x, mean y of the two leftmost corners)",
                  "channels": ["luminance", "chroma (max-min of BGR)", "line marker (box filled)"]
                  + [f"label plane: {k} (recognised label text, paddle_cam.invoice.label_context)"
                     for k in self.text_channels],
                  "scale": "u8 / 127.5 - 1", "outside_page": 0, "resize": "cv2.INTER_AREA"})
        return d

    @classmethod
    def from_yml(cls, d: dict) -> "WindowSpec":
        """The spec of a ``FieldWindow`` op written by :meth:`to_yml`."""
        return cls(float(d["left"]), float(d["right"]), float(d["up"]), float(d["down"]),
                   tuple(int(v) for v in d["input_hw"]), tuple(str(k) for k in d.get("text_channels") or ()))


def page_planes(page_bgr: np.ndarray) -> np.ndarray:
    """(H, W, 2) uint8: luminance and chroma of a BGR page, computed once per page."""
    if page_bgr.ndim == 2:
        page_bgr = cv2.cvtColor(page_bgr, cv2.COLOR_GRAY2BGR)
    page_bgr = np.ascontiguousarray(page_bgr[:, :, :3], dtype=np.uint8)
    gray = cv2.cvtColor(page_bgr, cv2.COLOR_BGR2GRAY)
    b, g, r = cv2.split(page_bgr)
    chroma = cv2.subtract(cv2.max(cv2.max(b, g), r), cv2.min(cv2.min(b, g), r))
    return np.dstack([gray, chroma])


def compute_window(polygon: Polygon, spec: WindowSpec) -> Window:
    """Integer page-pixel window (x0, y0, x1, y1) of a line (x1, y1 exclusive); may leave the page."""
    p = np.asarray(polygon, np.float64).reshape(-1, 2)
    if p.shape[0] < 3 or not np.isfinite(p).all():
        raise InputError(f"a line polygon needs 3+ finite points, got {p.tolist()}")
    h = max(box_height(p), 2.0)
    xl = float(p[:, 0].min())
    cy = float(p[np.argsort(p[:, 0], kind="stable")[:2], 1].mean())
    in_h, in_w = spec.input_hw
    w = max(in_w // 8, int(round(h * (spec.left + spec.right))))
    hh = max(1, int(round(w * in_h / in_w)))
    x0 = int(math.floor(xl - spec.left * h + 0.5))
    y0 = int(math.floor(cy - (0.5 + spec.up) * h + 0.5))
    return x0, y0, x0 + w, y0 + hh


def overlaps(polygon: Polygon, win: Window) -> bool:
    """Whether a polygon's bounding box meets a window (x0, y0, x1, y1; x1, y1 exclusive)."""
    p = np.asarray(polygon, np.float64).reshape(-1, 2)
    x0, y0, x1, y1 = win
    return not (p[:, 0].max() < x0 or p[:, 0].min() >= x1 or p[:, 1].max() < y0 or p[:, 1].min() >= y1)


def _fill(plane: np.ndarray, polygon: Polygon, x0: int, y0: int) -> None:
    pts = np.round((np.asarray(polygon, np.float64).reshape(-1, 2) - (x0, y0)) * 16).astype(np.int32)
    cv2.fillPoly(plane, [pts.reshape(-1, 1, 2)], 255, lineType=cv2.LINE_8, shift=4)


def _resized(canvas: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """(h, w, C) window canvas -> (C, H_in, W_in) (area resize, per channel)."""
    in_h, in_w = spec.input_hw
    # OpenCV's area resize takes at most 4 channels at once
    out = [cv2.resize(canvas[:, :, c:c + 4], (in_w, in_h), interpolation=cv2.INTER_AREA).reshape(in_h, in_w, -1)
           for c in range(0, canvas.shape[2], 4)]
    return np.ascontiguousarray(np.concatenate(out, axis=2).transpose(2, 0, 1))


def image_u8(planes: np.ndarray, polygon: Polygon, spec: WindowSpec, win: Optional[Window] = None) -> np.ndarray:
    """(3, H, W) uint8: luminance, chroma and the line's marker of one line's window."""
    x0, y0, x1, y1 = win or compute_window(polygon, spec)
    H, W = planes.shape[:2]
    canvas = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if ax0 < ax1 and ay0 < ay1:
        canvas[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0, :2] = planes[ay0:ay1, ax0:ax1]
    marker = np.zeros((y1 - y0, x1 - x0), np.uint8)
    _fill(marker, polygon, x0, y0)
    canvas[:, :, 2] = marker
    return _resized(canvas, spec)


def label_planes_u8(spec: WindowSpec, win: Window, regions: Optional[Sequence[Tuple[int, Polygon]]]) -> np.ndarray:
    """(len(spec.text_channels), H, W) uint8 label planes of a window: each ``(plane, polygon)``
    of ``regions`` that meets the window filled in its plane."""
    x0, y0, x1, y1 = win
    layers = [np.zeros((y1 - y0, x1 - x0), np.uint8) for _ in spec.text_channels]   # fillPoly: contiguous planes
    for c, poly in regions or ():
        if overlaps(poly, win):
            _fill(layers[c], poly, x0, y0)
    return _resized(np.stack(layers, axis=2), spec)


def window_u8(planes: np.ndarray, polygon: Polygon, spec: WindowSpec, win: Optional[Window] = None,
              regions: Optional[Sequence[Tuple[int, Polygon]]] = None) -> np.ndarray:
    """(C, H, W) uint8 model input of one line from the page planes (see the module docstring);
    ``regions``: the page's ``(label plane, polygon)`` (:func:`.label_context.label_regions`),
    drawn when the spec has label planes (none given: all label planes empty)."""
    win = win or compute_window(polygon, spec)
    image = image_u8(planes, polygon, spec, win)
    if not spec.text_channels:
        return image
    return np.concatenate([image, label_planes_u8(spec, win, regions)])


def normalize_u8(batch_u8: np.ndarray) -> np.ndarray:
    """uint8 windows -> float32 model input in [-1, 1]."""
    return batch_u8.astype(np.float32) / 127.5 - 1.0


def paste_to_page(input_map: np.ndarray, win: Window, page_hw: Sequence[int]) -> np.ndarray:
    """An (H_in, W_in) map on the model input resized onto its window of an all-zero page map."""
    x0, y0, x1, y1 = win
    H, W = int(page_hw[0]), int(page_hw[1])
    out = np.zeros((H, W), np.float32)
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if ax0 >= ax1 or ay0 >= ay1:
        return out
    big = cv2.resize(np.asarray(input_map, np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    out[ay0:ay1, ax0:ax1] = big[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    return out
