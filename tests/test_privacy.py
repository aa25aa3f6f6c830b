"""Pseudonymisation and detection of personal identifiers."""
from __future__ import annotations

import pytest

from thb_reporting.privacy import PseudonymisationKeyMissing, identifier_kind, is_valid_jmbg, pseudonymiser


@pytest.mark.parametrize("jmbg", ["0101100710006", "0101006500006"])
def test_valid_jmbg_examples(jmbg):
    assert is_valid_jmbg(jmbg)


@pytest.mark.parametrize("jmbg", ["0101100710007", "0101006500001", "010110071000", "01011007100066", "abcdefghijklm"])
def test_invalid_jmbg(jmbg):
    assert not is_valid_jmbg(jmbg)


def test_jmbg_check_digit_zero_when_m_is_10_or_11():
    # Brute force over the last digit: exactly one completes any 12-digit prefix.
    for prefix in ("010110071000", "150398571001", "311299950000"):
        assert sum(is_valid_jmbg(prefix + str(k)) for k in range(10)) <= 1


@pytest.mark.parametrize("text,kind", [
    ("0101100710006", "jmbg"), ("JMBG: 0101006500006.", "jmbg"), ("ana.petrovic@example.org", "email"),
    ("+381 64 123 4567", "phone"), ("064/123-4567", "phone"), ("011 2345678", "phone"), ("00381641234567", "phone"),
])
def test_identifiers_found(text, kind):
    assert identifier_kind(text) == kind


@pytest.mark.parametrize("text", [
    "SU-2026-0017", "CZŽTL-2026/00123", "CZŽTL-2026/0123456789", "CZŽTL-2026/0012345678", "NI-2026-0123456", "2026-01-15", "15.01.2026", "0101100710007", "labour;sexual", "130",
])
def test_ordinary_values_are_not_identifiers(text):
    assert identifier_kind(text) is None


def test_column_screen_catches_every_identifier():
    import pandas as pd

    from thb_reporting.privacy import suspect_cells

    texts = ["0101100710006", "a@b.rs", "+381 64 123 4567", "064/123-4567", "011 2345678", "00381641234567",
             "Žtel 064/123-4567", "тел.0641234567", "beleška\n011 2345678", "٠١٠١١٠٠٧١٠٠٠٦", "ЈМБГ 0101100710006"]
    assert all(identifier_kind(t) for t in texts)
    assert suspect_cells(pd.Series(texts, dtype="str")).all()
    references = pd.Series(["SU-2026-000123", "CZŽTL-2026/0123456789", None], dtype="str")
    assert not suspect_cells(references).any()  # not identifiers, and not examined one by one


def test_same_reference_and_key_give_the_same_token():
    token = pseudonymiser(b"key-one")
    assert token("cptv_ref", "CZŽTL-2026/00017") == token("cptv_ref", " czžtl-2026/00017 ")
    assert token("cptv_ref", "CZŽTL-2026/00017") != token("cptv_ref", "CZŽTL-2026/00018")
    assert token("cptv_ref", "A-1") != token("case_ref", "A-1")
    assert pseudonymiser(b"key-two")("cptv_ref", "CZŽTL-2026/00017") != token("cptv_ref", "CZŽTL-2026/00017")
    assert token("cptv_ref", None) is None and token("cptv_ref", "  ") is None
    assert "CZŽTL" not in token("cptv_ref", "CZŽTL-2026/00017") and len(token("case_ref", "x")) == 32


def test_no_key_no_pseudonymisation():
    with pytest.raises(PseudonymisationKeyMissing, match="thb_pseudonymisation_key"):
        pseudonymiser(b"")
