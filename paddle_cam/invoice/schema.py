"""The invoice field schema: which fields a QA tool reads off a Chinese VAT invoice.

``FIELD_CLASSES`` are those fields plus ``other``. The generator's
(:mod:`paddle_cam.datasets.invoices`) finer fields map onto them: the 金额 column and the ¥
amount of the 合计 row are ``amount``; the 税额 column and the 合计 row's ¥ tax are ``tax``; the
价税合计 capitals and the （小写） figures are ``total``; both printings of the code and of the number
(top left / top right, and the 发票代码/发票号码 block) are ``invoice_code`` / ``invoice_number``.

**Only value lines carry a field; label lines are ``other``.** The question the QA tool asks is
"which field does this detected value line carry", so "发票代码：" must not come out as an
invoice code. Labels are what the classifier *looks at* (through the context window) to decide
about a value, not what it labels. Titles, stamps (whose arc repeats the seller's name and tax
id), addresses, banks, item names/specs/units/quantities/prices, 密码区, 备注 and signatures are
``other`` as well.

The page-level answer, one value per field read with the labels and the layout, is
:func:`paddle_cam.invoice.reading.read_fields`; its truth on a generated page is
:func:`paddle_cam.invoice.reading.page_truth`.
"""
from __future__ import annotations

from typing import Dict, Tuple

FIELD_CLASSES: Tuple[str, ...] = (
    "invoice_code", "invoice_number", "date", "check_code", "buyer_name", "buyer_tax_id", "seller_name",
    "seller_tax_id", "amount", "tax_rate", "tax", "total", "other",
)
FIELD_ZH: Dict[str, str] = {
    "invoice_code": "发票代码", "invoice_number": "发票号码", "date": "开票日期", "check_code": "校验码",
    "buyer_name": "购买方名称", "buyer_tax_id": "购买方纳税人识别号", "seller_name": "销售方名称",
    "seller_tax_id": "销售方纳税人识别号", "amount": "金额", "tax_rate": "税率", "tax": "税额", "total": "价税合计",
    "other": "其他",
}
# generator field (paddle_cam.datasets.invoices.FIELDS) of a *value* line -> schema field; all else is other
GENERATOR_TO_FIELD: Dict[str, str] = {
    "invoice_code": "invoice_code", "invoice_number": "invoice_number", "date": "date", "check_code": "check_code",
    "buyer_name": "buyer_name", "buyer_tax_id": "buyer_tax_id", "seller_name": "seller_name",
    "seller_tax_id": "seller_tax_id", "item_amount": "amount", "amount_total": "amount",
    "item_tax_rate": "tax_rate", "item_tax": "tax", "tax_total": "tax", "total_capital": "total",
    "total_figures": "total",
}


def field_of_line(line: dict) -> str:
    """Schema field of a ground-truth line: the mapped field for value lines, ``other`` otherwise."""
    if line.get("role") != "value":
        return "other"
    return GENERATOR_TO_FIELD.get(line.get("field", ""), "other")
