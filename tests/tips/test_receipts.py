"""Reference codes and passphrases: format, entropy, forgiving input, keyed lookup."""

from __future__ import annotations

import re

import pytest

from tips.receipts import (
    ALPHABET,
    MalformedReceipt,
    lookup_id,
    new_receipt,
    normalize_code,
    normalize_passphrase,
    tipster_salt,
)

PEPPER = b"p" * 32


def test_receipt_format() -> None:
    receipt = new_receipt()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", receipt.code)
    assert re.fullmatch(r"([0-9a-hjkmnp-tv-z]{4} ){4}[0-9a-hjkmnp-tv-z]{4}", receipt.passphrase)
    assert len(ALPHABET) == 32  # 5 bits a symbol: code 40 bits, passphrase 100 bits


def test_receipts_are_random() -> None:
    receipts = [new_receipt() for _ in range(2000)]
    assert len({r.code for r in receipts}) == 2000
    assert len({r.passphrase for r in receipts}) == 2000
    symbols = "".join(r.code.replace("-", "") for r in receipts)
    assert set(symbols) == set(ALPHABET)  # every symbol is used


def test_the_passphrase_never_appears_in_a_repr() -> None:
    receipt = new_receipt()
    assert receipt.passphrase not in repr(receipt)
    assert receipt.code in repr(receipt)


@pytest.mark.parametrize(
    "typed",
    ["K7QM-2XPD", "k7qm2xpd", " k7qm 2xpd ", "K7QM_2XPD", "k7qm-2xpd\n"],
)
def test_code_input_is_forgiving(typed: str) -> None:
    assert normalize_code(typed) == "K7QM2XPD"


def test_confusable_letters_are_read_as_digits() -> None:
    assert normalize_code("OIL0-1ABC") == "01101ABC"
    assert normalize_passphrase("oooo iiii llll 2xpd 4tpa") == "00001111111" + "12XPD4TPA"


@pytest.mark.parametrize("typed", ["K7QM-2XP", "K7QM-2XPDA", "K7QM-2XPU", "K7QM-2XP#", ""])
def test_malformed_codes_are_refused(typed: str) -> None:
    with pytest.raises(MalformedReceipt):
        normalize_code(typed)


def test_lookup_is_a_keyed_hash_of_the_normalised_code() -> None:
    lookup = lookup_id("K7QM-2XPD", PEPPER)
    assert re.fullmatch(r"[0-9a-f]{32}", lookup)
    assert lookup_id("k7qm 2xpd", PEPPER) == lookup
    assert lookup_id("K7QM-2XPD", b"q" * 32) != lookup
    assert "K7QM" not in lookup.upper()


def test_tipster_salt_is_derived_from_the_lookup() -> None:
    salt = tipster_salt("ab" * 16)
    assert len(salt) == 16
    assert tipster_salt("ab" * 16) == salt
    assert tipster_salt("cd" * 16) != salt


def test_a_new_receipt_normalises_to_itself() -> None:
    receipt = new_receipt()
    assert normalize_passphrase(receipt.passphrase) == receipt.passphrase.replace(" ", "").upper()
