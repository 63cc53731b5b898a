"""Model compression with PaddleSlim, and what it does to explanations.

- :mod:`.prune`: PaddleSlim's dygraph filter pruners (L1-norm, FPGM) on Paddle 3, FLOPs/params,
  export to inference folders that ``load_detector`` reloads;
- :mod:`.finetune`: short recovery fine-tuning of a pruned DB detector on generated invoices;
- :mod:`.metrics`: detection precision/recall/hmean (ICDAR IoU matching) and map drift
  (Spearman, SSIM, top-k IoU).
"""
from .prune import (DET_PROTECTED, PRUNERS, PruneResult, check_ratio, count_flops, count_params, prune_detector,
                    prune_model, save_inference, slim_compat)

__all__ = ["DET_PROTECTED", "PRUNERS", "PruneResult", "check_ratio", "count_flops", "count_params",
           "prune_detector", "prune_model", "save_inference", "slim_compat"]
