"""Synthetic Chinese VAT invoices (增值税专用发票 / 增值税普通发票) with line-level ground truth.

The pages are meant to be as awkward as real scans, not a clean showcase: the pre-printed form
(brown grid and labels) and the printer's values are separate ink layers, and the printer is
misregistered against the form, so values drift across grid lines; a semi-transparent red
发票专用章 covers seller text, the 监制章 covers the title; faded or dot-matrix ribbons, low-DPI
resampling, rotation, blur, noise, JPEG, folds and scanner shading come on top. Everything is drawn
from one ``numpy.random.RandomState(seed)``, so a seed always gives the same page on one machine.

- :mod:`.content`: what the invoice says (amounts, companies, tax ids, items, codes);
- :mod:`.layout`: fonts, the page's ink layers and ground-truth lines, the form and its values;
- :mod:`.stamps`: the 监制章 and the seller's 发票专用章;
- :mod:`.scan`: paper, inks and the scanner's degradations;
- :mod:`.render`: :func:`render_invoice`, all of the above for one seed.
"""
from .content import KINDS, amount_to_capital, format_figures, money
from .layout import FIELDS, PAGE_MM, ROLES
from .render import render_invoice

__all__ = ["FIELDS", "KINDS", "PAGE_MM", "ROLES", "amount_to_capital", "format_figures", "money", "render_invoice"]
