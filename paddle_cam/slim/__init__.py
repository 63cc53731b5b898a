"""Model compression with PaddleSlim, and what it does to explanations.

- :mod:`.prune`: PaddleSlim's dygraph filter pruners (L1-norm, FPGM) on Paddle 3, FLOPs/params,
  export to inference folders (:func:`paddle_cam.models.export.save_inference`) that
  ``load_detector`` reloads;
- :mod:`.finetune`: short recovery fine-tuning on generated invoices: a pruned DB detector with
  the full DB loss (shrink, threshold and binary maps), a pruned classifier with its recipe;
- :mod:`.metrics`: detection precision/recall/hmean (ICDAR 2015 IoU matching and ICDAR 2013
  DetEval) and map drift (Spearman, SSIM, top-k IoU, from :mod:`paddle_cam.metrics.similarity`);
- :mod:`.drift`: explanations of fixed targets across detector variants;
- :mod:`.compare`: what a before/after comparison shares (settings, pages, variants, latency,
  the report); :mod:`.det_compare` and :mod:`.field_compare` run it for the DB detector and the
  invoice field classifier, :mod:`.plots` draws it.
"""
from .prune import (DET_PROTECTED, PRUNERS, PruneResult, check_ratio, count_flops, count_params, prune_detector,
                    prune_model, slim_compat)

__all__ = ["DET_PROTECTED", "PRUNERS", "PruneResult", "check_ratio", "count_flops", "count_params",
           "prune_detector", "prune_model", "slim_compat"]
