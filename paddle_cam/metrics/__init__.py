"""Metrics of explanations: localisation on text polygons, faithfulness (deletion/insertion),
sanity (cascading parameter randomisation) and map similarity."""
from .faithfulness import (Curve, auc, class_score_fn, deletion, deletion_insertion, endpoint_scores, insertion,
                           road_impute, saliency_order, target_score_fn)
from .localization import (energy_pointing_game, localization_scores, pointing_game, relevance_rank_accuracy)
from .sanity import (RandomizationResult, cascading_randomization, claim_region, claim_spearman, claim_ssim,
                     default_cascade, nonzero_iou, randomize_layer, saved_parameters)
from .similarity import compare_maps, rankdata, spearman, ssim, topk_iou, topk_mask

__all__ = [
    "Curve", "auc", "class_score_fn", "deletion", "deletion_insertion", "endpoint_scores", "insertion",
    "road_impute", "saliency_order", "target_score_fn",
    "energy_pointing_game", "localization_scores", "pointing_game", "relevance_rank_accuracy",
    "RandomizationResult", "cascading_randomization", "claim_region", "claim_spearman", "claim_ssim",
    "default_cascade", "nonzero_iou", "randomize_layer", "saved_parameters",
    "compare_maps", "rankdata", "spearman", "ssim", "topk_iou", "topk_mask",
]
