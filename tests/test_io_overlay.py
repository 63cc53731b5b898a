"""Image reading edge cases, atomic outputs, CJK captions and overlays."""
import io
import os

import numpy as np
import pytest
from PIL import Image

from paddle_cam import FontNotFoundError, InputError
from paddle_cam.io import ensure_writable_dir, read_image, save_json
from paddle_cam import fonts
from paddle_cam.sinks.overlay import caption, overlay, side_by_side


def _png(path, arr, mode=None):
    Image.fromarray(arr, mode=mode).save(path)
    return str(path)


def test_grayscale_rgba_16bit(tmp_path):
    g = _png(tmp_path / "g.png", np.full((5, 7), 100, np.uint8))
    assert read_image(g).shape == (5, 7, 3) and read_image(g)[0, 0, 0] == 100
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[0, 0, 3] = 255  # one opaque red pixel; the rest transparent -> white paper
    p = _png(tmp_path / "a.png", rgba, "RGBA")
    im = read_image(p)
    assert tuple(im[0, 0]) == (0, 0, 255) and tuple(im[1, 1]) == (255, 255, 255)
    deep = np.full((3, 3), 65535, np.uint16)
    deep[0, 0] = 0
    p16 = tmp_path / "d.png"
    Image.fromarray(deep).save(p16)
    im16 = read_image(str(p16))
    assert im16[1, 1, 0] == 255 and im16[0, 0, 0] == 0


def test_exif_rotation_applied(tmp_path):
    arr = np.zeros((10, 30, 3), np.uint8)
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    p = tmp_path / "r.jpg"
    im.save(p, exif=exif)
    assert read_image(str(p)).shape[:2] == (30, 10)


def test_non_ascii_path(tmp_path):
    p = _png(tmp_path / "发票_样例.png", np.zeros((4, 4, 3), np.uint8))
    assert read_image(p).shape == (4, 4, 3)


@pytest.mark.parametrize("content,match", [(b"", "empty"), (b"not an image at all", "not an image"),
                                           (None, "truncated or corrupt")])
def test_bad_files(tmp_path, content, match):
    p = tmp_path / "x.png"
    if content is None:
        buf = io.BytesIO()
        Image.fromarray(np.random.RandomState(0).randint(0, 255, (64, 64, 3), np.uint8)).save(buf, "PNG")
        content = buf.getvalue()[:200]
    p.write_bytes(content)
    with pytest.raises(InputError, match=match):
        read_image(str(p))


def test_missing_and_huge(tmp_path):
    with pytest.raises(InputError, match="image not found"):
        read_image(str(tmp_path / "none.png"))
    p = _png(tmp_path / "big.png", np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(InputError, match=r"too large.*-o Output\.max_pixels=N"):
        read_image(p, max_pixels=5000)


def test_unwritable_output(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="cannot write to output folder"):
        ensure_writable_dir(str(f / "sub"))


def test_atomic_json_leaves_no_temp(tmp_path):
    save_json(str(tmp_path / "r.json"), {"发票": 1})
    assert os.listdir(tmp_path) == ["r.json"]


def test_cjk_font_draws_real_glyphs():
    font = fonts.cjk_font(24)
    assert fonts.draws_cjk(font)
    from PIL import ImageFont

    assert not fonts.draws_cjk(ImageFont.load_default())  # the check catches tofu


def test_bad_font_env(monkeypatch, tmp_path):
    fonts.find_cjk_font_path.cache_clear()
    bogus = tmp_path / "x.ttf"
    bogus.write_bytes(b"nope")
    monkeypatch.setenv("PADDLE_CAM_FONT", str(bogus))
    try:
        with pytest.raises(FontNotFoundError, match="PADDLE_CAM_FONT"):
            fonts.find_cjk_font_path()
    finally:
        monkeypatch.delenv("PADDLE_CAM_FONT")
        fonts.find_cjk_font_path.cache_clear()


def test_caption_draws_chinese():
    img = np.full((20, 200, 3), 255, np.uint8)
    out = caption(img, ["价税合计"], font_size=20)
    band = out[: out.shape[0] - 20]
    assert (band < 128).any()  # ink in the caption band
    a = caption(img, ["增"], font_size=20)
    b = caption(img, ["值"], font_size=20)
    assert not np.array_equal(a, b)


def test_overlay_hot_spot_where_the_map_peaks():
    img = np.full((40, 60, 3), 255, np.uint8)
    cam = np.zeros((40, 60), np.float32)
    cam[30:36, 5:12] = 1.0
    out = overlay(img, cam, alpha=0.6).astype(int)
    redness = out[..., 0] - out[..., 2]
    y, x = np.unravel_index(np.argmax(redness), redness.shape)
    assert 30 <= y < 36 and 5 <= x < 12


def test_side_by_side_scales_panels():
    a = np.zeros((10, 20, 3), np.uint8)
    b = np.zeros((20, 20, 3), np.uint8)
    out = side_by_side([a, b], height=40, gap=4)
    assert out.shape == (40, 80 + 4 + 40, 3)
