"""Synthetic documents with ground truth, and reading that ground truth back.

- :mod:`.invoices`: Chinese VAT invoice pages with line-level ground truth (``render_invoice``);
- :mod:`.lines`: single degraded text lines, upright and turned (orientation classifier);
- :mod:`.ground_truth`: the generator's JSON beside an image, and finding labelled pages.

Datasets depend on core modules only (fonts, errors, geometry, io), never on models or explainers.
"""
