"""Evaluation protocols for explanation methods: localisation, faithfulness and a sanity check.

- :mod:`.scoring`: one method on one line (map, deletion/insertion curves, cascading
  randomisation) and the ``random`` baseline map;
- :mod:`.det`: the DB text detector on labelled invoices;
- :mod:`.field`: the invoice field classifier on held-out generated invoices;
- :mod:`.report`: per-method means and the printed table.

``tools/evaluate_explanations.py`` runs them with ``configs/eval/evaluate_explanations.yml``.
"""
from .report import format_table, summarize
from .scoring import METRICS, RANDOM, REQUIRED

__all__ = ["METRICS", "RANDOM", "REQUIRED", "format_table", "summarize"]
