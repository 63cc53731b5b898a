"""OCR text detection and recognition with PaddleOCR 3.x's own pre/post-processing rules, and
their explanations.

``pipeline.TextPipeline`` is the one way to detect (and read) a page: ``det_preprocess``
(DetResizeForTest + NormalizeImage) -> the DB detector -> ``db_postprocess`` (DBPostProcess) ->
``orientation`` (90/180-degree turns) -> ``rec`` (perspective crop, RecResizeImg, CTC decode).
These are clean re-implementations that give the same boxes and texts as
``paddleocr.TextDetection`` / ``TextRecognition`` on the same weights. ``explain`` explains the
detector on a pipeline's pages (with the exact fast paths of ``neck_crop`` and ``box_scorecam``);
``cls_explain`` explains a classifier decision.
"""
