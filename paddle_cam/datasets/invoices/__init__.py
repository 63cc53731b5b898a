"""Synthetic Chinese invoices and invoice-like documents, in layout families, with line-level ground truth.

The pages are meant to be as awkward as real ones, not a clean showcase. Paper VAT invoices: the
pre-printed form and the printer's values are separate ink layers, the printer is misregistered
against the form, so values drift across grid lines; dot-matrix, faded or bleeding ribbons in
black, blue or purple; pin-feed strips; 代开 invoices; a semi-transparent red 发票专用章 covers
seller text. Electronic documents are rendered as PDFs. Any page then goes through a capture
stage: a scanner, a phone camera on a desk, a PDF viewer's screenshot, or a plain render.
Everything is drawn from ``numpy.random.RandomState`` streams of one seed, so a seed always gives
the same page on one machine.

- :mod:`.families`: the registry (:data:`FAMILIES`) and :func:`render_document`;
- :mod:`.capture`: scan, photo, screenshot and pdf capture, ground truth mapped with the image;
- :mod:`.paper`: the 机打 paper families (inks, ribbons, faces, pin-feed, 代开);
- :mod:`.content`: what an invoice says (amounts, companies, tax ids, items, codes);
- :mod:`.wording`: label wording, spacing and colons, labels merged with their values;
- :mod:`.layout`: fonts, the page's ink layers and ground-truth lines, the form and its values;
- :mod:`.stamps`: the 监制章 and the seller's 发票专用章;
- :mod:`.scan`: paper, inks and the scanner's degradations;
- :mod:`.render`: :func:`render_invoice`, the paper families only (the original entry point).
"""
from .capture import STYLES
from .content import KINDS, amount_to_capital, format_figures, money
from .families import FAMILIES, PAPER_FAMILIES, check_family, render_document
from .layout import FIELDS, PAGE_MM, ROLES
from .render import render_invoice

__all__ = ["FAMILIES", "FIELDS", "KINDS", "PAGE_MM", "PAPER_FAMILIES", "ROLES", "STYLES", "amount_to_capital",
           "check_family", "format_figures", "money", "render_document", "render_invoice"]
