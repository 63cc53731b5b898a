"""Invoice-field decisions: which field does a detected text line carry, and why.

- :mod:`.schema`: the fields (``FIELD_CLASSES``) and the ground-truth line -> field mapping;
- :mod:`.matching`: detected boxes against ground-truth lines (the one protocol of every score);
- :mod:`.windows`: the classifier's input, a context window around each line;
- :mod:`.classifier`: :class:`~.classifier.FieldClassifier` (PP-LCNet) and its explanations
  (:mod:`.explanation`, fills in :mod:`.baselines`);
- :mod:`.training`: the training data (with the counterfactuals of :mod:`.counterfactuals`),
  the trainer and the choice of the model's explanation method;
- :mod:`.pointing`: field-decision accuracy and explanations on held-out pages, the pointing game,
  region attribution tables and the shortcut-learning cue;
- :mod:`.qa`: the invoice QA pipeline.
"""
from .classifier import FieldClassifier, default_model_dir
from .explanation import FieldExplanation
from .matching import detector_like_polygon, match_detections, match_to_gt
from .schema import FIELD_CLASSES, FIELD_ZH, GENERATOR_TO_FIELD, field_of_line
from .windows import WindowSpec

__all__ = ["FIELD_CLASSES", "FIELD_ZH", "GENERATOR_TO_FIELD", "FieldClassifier", "FieldExplanation", "WindowSpec",
           "default_model_dir", "detector_like_polygon", "field_of_line", "match_detections", "match_to_gt"]
