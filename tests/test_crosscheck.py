"""Cross-checks of a page reading: capitals vs figures, 金额 + 税额 = 价税合计, tax ids (length,
characters, the GB 32100-2015 check digit), dates, number and code lengths."""
import datetime as dt

import numpy as np
import pytest

from paddle_cam.datasets.invoices import amount_to_capital
from paddle_cam.invoice.crosscheck import (CHECKS, USCC_ALPHABET, cross_check, tax_id_problem, uscc_check_digit,
                                           valid_resident_id, valid_uscc)

# 统一社会信用代码 printed on real invoices and business licences (public records), and the one
# the issue quotes from a real invoice
REAL_USCC = ("91440300708461136T", "91330100799655058B", "91440300MA5F5KP94F")


def random_uscc(rng):
    body = "9" + "1" + "".join(str(rng.randint(10)) for _ in range(6)) + \
        "".join(USCC_ALPHABET[rng.randint(len(USCC_ALPHABET))] for _ in range(9))
    return body + uscc_check_digit(body)


def test_uscc_check_digit_on_published_ids():
    for code in REAL_USCC:
        assert valid_uscc(code), code


def test_every_one_character_corruption_is_caught():
    rng = np.random.RandomState(0)
    for _ in range(40):
        code = random_uscc(rng)
        assert valid_uscc(code) and tax_id_problem(code) is None
        for pos in range(18):
            for c in USCC_ALPHABET:
                if c == code[pos]:
                    continue
                bad = code[:pos] + c + code[pos + 1:]
                assert not valid_uscc(bad), (code, bad)


def test_tax_id_problems_name_the_reason():
    assert "check digit" in tax_id_problem("91440300708461136U")
    assert "characters (tax ids have" in tax_id_problem("9144030070846113")
    assert "outside 0-9A-Z" in tax_id_problem("440300-0846113612")
    assert "alphabet" in tax_id_problem("91440300708461I36T")
    assert tax_id_problem("440300708461136") is None and tax_id_problem("44030070846113612345") is None
    assert valid_resident_id("11010519491231002X") and tax_id_problem("11010519491231002X") is None


def by_name(results):
    assert [r.check for r in results] == list(CHECKS)
    return {r.check: r for r in results}


def test_capitals_against_figures_show_both_readings():
    r = by_name(cross_check({"total": "2196.00"}, capitals="⊗贰仟壹佰陆拾玖元整"))
    c = r["capitals_vs_figures"]
    assert c.ok is False and c.readings == {"capitals": "2169.00", "figures": "2196.00"}
    assert "2169.00" in c.message and "2196.00" in c.message
    rng = np.random.RandomState(1)
    for _ in range(200):
        v = f"{rng.randint(0, 10 ** 8) / 100:.2f}"
        assert by_name(cross_check({"total": v}, capitals=amount_to_capital(v)))["capitals_vs_figures"].ok is True


def test_amount_plus_tax_to_the_cent():
    ok = by_name(cross_check({"amount": "1000.00", "tax": "130.00", "total": "1130.00"}))["amount_plus_tax"]
    bad = by_name(cross_check({"amount": "1000.00", "tax": "130.00", "total": "1130.01"}))["amount_plus_tax"]
    assert ok.ok is True and bad.ok is False and bad.readings == {"amount+tax": "1130.00", "total": "1130.01"}
    assert by_name(cross_check({"amount": "1000.00", "total": "1130.00"}))["amount_plus_tax"].ok is None


@pytest.mark.parametrize("date,ok", [("2024-01-11", True), ("2024-06-02", False), ("1993-12-31", False),
                                     ("1994-01-01", True)])
def test_date_is_plausible(date, ok):
    r = by_name(cross_check({"date": date}, today=dt.date(2024, 6, 1)))["date"]
    assert r.ok is ok


def test_number_and_code_lengths():
    r = by_name(cross_check({"invoice_number": "1234567", "invoice_code": "12345678901"}))
    assert r["invoice_number"].ok is False and r["invoice_code"].ok is False
    r = by_name(cross_check({"invoice_number": "25442000000123456789"}))
    assert r["invoice_number"].ok is True and r["invoice_code"].ok is None
    r = by_name(cross_check({"invoice_number": "25442000000123456789", "invoice_code": "044032100111"}))
    assert r["invoice_number"].ok is False and "数电票" in r["invoice_number"].message
    r = by_name(cross_check({}))
    assert all(x.ok is None for x in r.values())
