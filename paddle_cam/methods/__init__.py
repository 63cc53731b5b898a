"""Explanation methods, one file each, and their registry (``get_method``, ``make_method``)."""
from .attention_rollout import AttentionRollout
from .eigen_cam import EigenCAM
from .feature_occlusion import FeatureOcclusion
from .grad_cam import GradCAM
from .grad_cam_plusplus import GradCAMPlusPlus
from .hires_cam import HiResCAM
from .integrated_gradients import IntegratedGradients
from .layer_cam import LayerCAM
from .occlusion import Occlusion
from .registry import (KINDS, METHODS, check_method_for, get_method, make_method, method_names, method_options,
                       methods_for)
from .rise import RISE
from .score_cam import ScoreCAM
from .smooth_grad import SmoothGrad
from .xgrad_cam import XGradCAM

__all__ = ["GradCAM", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "HiResCAM", "EigenCAM", "ScoreCAM",
           "IntegratedGradients", "SmoothGrad", "Occlusion", "FeatureOcclusion", "RISE", "AttentionRollout", "KINDS",
           "METHODS", "check_method_for", "get_method", "make_method", "method_names", "method_options", "methods_for"]
