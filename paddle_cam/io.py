"""Reading user images robustly and writing outputs atomically."""
from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
from typing import Any, Dict, List, Tuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")
DEFAULT_MAX_PIXELS = 120_000_000  # an A3 page at 600 dpi; larger pages are almost surely a mistake


def read_image(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An image file as BGR uint8 (H, W, 3), EXIF-rotated, alpha composited on white paper.

    Grayscale, palette, CMYK, 16-bit and float images are converted; anything that cannot be
    used raises ``InputError`` with a one-line reason and fix.
    """
    if not os.path.exists(path):
        raise InputError(f"image not found: {path}; check the path")
    if os.path.isdir(path):
        raise InputError(f"{path} is a folder, not an image file")
    if os.path.getsize(path) == 0:
        raise InputError(f"image file is empty: {path}; re-export or re-copy it")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}; check its permissions") from None
    old_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > max_pixels:
                raise InputError(f"image too large: {path} is {w}x{h} px (over {max_pixels:,} px); "
                                 f"downscale it or raise the limit (explain_ocr: -o Output.max_pixels=N)")
            im.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"image too large: {path} exceeds {max_pixels:,} px; downscale it or raise the limit "
                         f"(explain_ocr: -o Output.max_pixels=N)") from None
    except UnidentifiedImageError:
        raise InputError(f"not an image (or an unsupported format): {path}; convert it to PNG or JPEG") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"image is truncated or corrupt: {path} ({e}); re-export or re-copy it") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:
        pass  # a broken EXIF block should not lose the pixels
    if im.width < 1 or im.height < 1:
        raise InputError(f"image has no pixels: {path}")
    rgb = _to_rgb(im)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        g = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.stack([g, g, g], axis=-1)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        im = im.convert("RGBA")
        paper = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(paper, im)
    return np.asarray(im.convert("RGB"))


def _list_files(path: str, exts: Tuple[str, ...], what: str, recursive: bool = False) -> List[str]:
    if os.path.isdir(path):
        if recursive:
            files = []
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files += [os.path.join(root, f) for f in sorted(names) if f.lower().endswith(exts)]
        else:
            files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(exts))
        if not files:
            raise InputError(f"no {what} ({', '.join(exts)}) in folder {path}")
        return files
    return [path]


def list_images(path: str) -> List[str]:
    """One image, or the images of a folder (sorted, non-recursive)."""
    return _list_files(path, IMAGE_EXTS, "images")


def ensure_writable_dir(path: str) -> str:
    """Create ``path`` if needed and prove it is writable, else a one-line ``InputError``."""
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write_test_", dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise InputError(f"cannot write to output folder {path} ({e.strerror}); pass --output a writable folder") from None
    return path


def current_umask() -> int:
    """The process's umask (read without changing it), for files made private by their writer."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str, data: bytes) -> str:
    """Write to a temp file in the same folder, then rename: readers never see half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; outputs should be readable like any file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def save_json(path: str, obj: Any) -> str:
    return atomic_write_bytes(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8"))


def save_npy(path: str, arr: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr))
    return atomic_write_bytes(path, buf.getvalue())


def save_npz(path: str, arrays: Dict[str, np.ndarray]) -> str:
    """Several arrays in one compressed ``.npz``, written atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buf.getvalue())


def save_png(path: str, rgb: np.ndarray, palette: int = 0) -> str:
    """An RGB image as PNG, atomically. ``palette``: that many adaptive colours (64 takes a
    third of the bytes of a heatmap over a scan, with no banding visible at panel scale)."""
    buf = io.BytesIO()
    im = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    if palette:
        im = im.quantize(int(palette), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    im.save(buf, format="PNG", optimize=bool(palette))
    return atomic_write_bytes(path, buf.getvalue())


DOC_EXTS = IMAGE_EXTS + (".pdf",)


def list_documents(path: str) -> List[str]:
    """One file, or the images and PDFs of a folder and its sub-folders (sorted; hidden folders
    skipped): invoice archives are often filed by month or supplier."""
    if not os.path.exists(path):
        raise InputError(f"input not found: {path}; pass an image, a PDF or a folder of them")
    return _list_files(path, DOC_EXTS, "images or PDFs", recursive=True)


def _empty_page_tree(path: str) -> bool:
    """A PDF whose page tree says ``/Count 0`` and that has no ``/Type /Page`` object."""
    import re

    with open(path, "rb") as f:
        data = f.read(8 << 20)
    return (data.startswith(b"%PDF") and re.search(rb"/Count\s+0\b", data) is not None
            and re.search(rb"/Type\s*/Page(?![a-zA-Z])", data) is None)


def parse_pages(spec, n: int, path: str = "") -> List[int]:
    """0-based page indices of a 1-based range spec ``"1-3,5"`` (an int is one page; None or
    ``"all"``: every page) of a document with ``n`` pages.

    >>> parse_pages("1-3,5", 6), parse_pages(None, 2)
    ([0, 1, 2, 4], [0, 1])
    """
    if spec is None or str(spec).strip().lower() in ("", "all"):
        return list(range(n))
    out: List[int] = []
    for part in str(spec).split(","):
        a, sep, b = part.strip().partition("-")
        try:
            lo, hi = int(a), int(b) if sep else int(a)
        except ValueError:
            raise InputError(f"page range '{spec}' must look like 1-3,5 (1-based)") from None
        if lo < 1 or hi < lo:
            raise InputError(f"page range '{spec}' must look like 1-3,5 (1-based, low to high)")
        if hi > n:
            raise InputError(f"page {hi} is out of range: {path or 'the document'} has {n} page(s); "
                             f"pick pages 1-{n} (-o Global.pdf_pages=1-{n})")
        out += [i for i in range(lo - 1, hi) if i not in out]
    return out


def read_pdf_pages(path: str, dpi: int = 200, max_pixels: int = DEFAULT_MAX_PIXELS,
                   pages=None) -> List[np.ndarray]:
    """The pages of a PDF (``pages``: a range spec as :func:`parse_pages` takes, None = all)
    rendered to BGR uint8 at ``dpi``; one-line ``InputError`` otherwise."""
    return [p for _, p in _render_pdf(path, dpi, max_pixels, pages)[1]]


def _open_pdf(path: str):
    """A pypdfium2 document with at least one page; one-line ``InputError`` otherwise."""
    import pypdfium2 as pdfium

    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise InputError(f"PDF is missing or empty: {path}")
    try:
        doc = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        msg = str(e).lower()
        if "password" in msg:
            raise InputError(f"PDF is password-protected: {path}; export an unprotected copy") from None
        if _empty_page_tree(path):  # PDFium refuses a document with no pages, with a stale error code
            raise InputError(f"PDF has no pages: {path}") from None
        raise InputError(f"PDF is corrupt or not a PDF: {path} ({e}); re-export it") from None
    if len(doc) == 0:
        doc.close()
        raise InputError(f"PDF has no pages: {path}")
    return doc


def check_document(path: str, pages=None) -> None:
    """Fail early (before any model loads) on a PDF that cannot be read or lacks the ``pages``
    asked for; images are checked when read."""
    if path.lower().endswith(".pdf"):
        doc = _open_pdf(path)
        try:
            parse_pages(pages, len(doc), path)
        finally:
            doc.close()


def _render_pdf(path: str, dpi: int, max_pixels: int, pages) -> Tuple[int, List[Tuple[int, np.ndarray]]]:
    """(number of pages, [(0-based index, BGR page)])."""
    doc = _open_pdf(path)
    try:
        wanted = parse_pages(pages, len(doc), path)
        out = []
        for i in wanted:
            page = doc[i]
            w, h = page.get_size()
            scale = dpi / 72.0
            if w * h * scale * scale > max_pixels:
                scale = (max_pixels / float(w * h)) ** 0.5
            rgb = page.render(scale=scale).to_numpy()
            if rgb.ndim == 3 and rgb.shape[2] == 4:
                rgb = rgb[:, :, :3]
            # pdfium renders BGR(A) by default: keep it as OpenCV-style BGR
            out.append((i, np.ascontiguousarray(rgb)))
        return len(doc), out
    finally:
        doc.close()


def page_name(path: str, root: str, name: str) -> str:
    """The output name of page ``name`` of file ``path`` found under input ``root``: prefixed with
    the file's sub-folder of ``root``, so the same file names in two sub-folders do not collide.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> page_name(os.path.join(root, "2024-01", "a.jpg"), root, "a"), page_name(os.path.join(root, "a.jpg"), root, "a")
    ('2024-01/a', 'a')
    """
    if not os.path.isdir(root):
        return name
    sub = os.path.relpath(os.path.dirname(os.path.abspath(path)), os.path.abspath(root))
    return name if sub == "." else f"{sub}/{name}"


def read_document(path: str, dpi: int = 200, max_pixels: int = DEFAULT_MAX_PIXELS, pages=None) -> List[tuple]:
    """``[(page name, BGR page)]``: one page for an image, the pages of a PDF (``pages``: a range
    spec as :func:`parse_pages` takes; None = all). A PDF page is named ``<stem>_p<N>`` (N 1-based)
    unless the PDF has one page."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if path.lower().endswith(".pdf"):
        n, rendered = _render_pdf(path, dpi, max_pixels, pages)
        return [(stem if n == 1 else f"{stem}_p{i + 1}", p) for i, p in rendered]
    return [(stem, read_image(path, max_pixels))]
