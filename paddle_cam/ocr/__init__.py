"""OCR text detection and recognition with PaddleOCR 3.x's own pre/post-processing rules.

``det_preprocess`` (DetResizeForTest + NormalizeImage), ``db_postprocess`` (DBPostProcess) and
``rec`` (perspective crop, RecResizeImg, CTC decode) are clean re-implementations that give the
same boxes and texts as ``paddleocr.TextDetection`` / ``TextRecognition`` on the same weights.
"""
