"""Invoice-field decisions: which field does a detected text line carry, and why.

- :mod:`.fields`: the field schema, ground-truth mapping, detector-to-GT matching and
  :class:`~.fields.FieldClassifier` (PP-LCNet on a context window around each line);
- :mod:`.pointing`: field-decision explanations on the page, the pointing game, region
  attribution tables and the shortcut-learning cue.
"""
from .fields import (FIELD_CLASSES, FIELD_ZH, FieldClassifier, FieldExplanation, WindowSpec, default_model_dir,
                     field_of_line, gt_class, match_detections, match_to_gt)

__all__ = ["FIELD_CLASSES", "FIELD_ZH", "FieldClassifier", "FieldExplanation", "WindowSpec", "default_model_dir",
           "field_of_line", "gt_class", "match_detections", "match_to_gt"]
