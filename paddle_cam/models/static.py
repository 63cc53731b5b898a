"""Paddle Inference predictors: the reference for parity checks and the fast path for recognition."""
from __future__ import annotations

import numpy as np
import paddle

from .paddle_format import find_model_files


class StaticPredictor:
    """Paddle Inference on an inference folder: the reference for parity checks."""

    def __init__(self, model_dir: str, ir_optim: bool = False, threads: int = 1, device: str = "cpu",
                 mkldnn: bool = False, shrink: bool = False):
        prog, params = find_model_files(model_dir)
        cfg = paddle.inference.Config(prog, params)
        if device.startswith("gpu"):
            cfg.enable_use_gpu(256, int(device.split(":")[1]) if ":" in device else 0)
        else:
            cfg.disable_gpu()
        if mkldnn and not device.startswith("gpu"):
            cfg.enable_mkldnn()
            cfg.set_mkldnn_cache_capacity(4)  # oneDNN keeps kernels per input shape; bound it
        else:
            cfg.disable_mkldnn()  # oneDNN breaks PP-OCR det on CPU (nearest_interp scale attribute)
        cfg.switch_ir_optim(ir_optim)  # off: the same kernels as dygraph, bit-comparable outputs
        if shrink:
            # buffers reused across the graph: reading a page's 111 lines peaks 100 MB above the
            # loaded models instead of 630 MB, and is faster (BENCHMARKS.md peak_rss_over_paddleocr)
            cfg.enable_memory_optim()
        cfg.set_cpu_math_library_num_threads(threads)
        cfg.disable_glog_info()
        self.predictor = paddle.inference.create_predictor(cfg)
        self.shrink = shrink

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        name = self.predictor.get_input_names()[0]
        h = self.predictor.get_input_handle(name)
        h.reshape(batch.shape)
        h.copy_from_cpu(np.ascontiguousarray(batch, dtype=np.float32))
        self.predictor.run()
        out = self.predictor.get_output_handle(self.predictor.get_output_names()[0]).copy_to_cpu()
        if self.shrink:
            self.predictor.try_shrink_memory()  # variable-size inputs otherwise keep every peak buffer
        return out


def diff_to_static(model: paddle.nn.Layer, source: str, shape, span: float = 2.0) -> float:
    """Max abs difference between a dynamic-graph model and Paddle Inference on ``source`` for one
    fixed random input of ``shape`` in [-span, span] (inf when the output shapes differ): the
    load-time check that weights placed by name or program order really rebuild the exported network."""
    x = np.random.RandomState(0).uniform(-span, span, tuple(shape)).astype(np.float32)
    ref = StaticPredictor(source)(x)
    with paddle.no_grad():
        out = model(paddle.to_tensor(x)).numpy()
    return float(np.abs(out - ref).max()) if out.shape == ref.shape else float("inf")
