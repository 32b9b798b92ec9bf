"""Sealing, key derivation, key wrapping and draft encryption."""

from __future__ import annotations

import os

import nacl.exceptions
import pytest
from nacl.public import PrivateKey
from nacl.pwhash import argon2id

from tests.tips.conftest import sealed_to
from tips.crypto import (
    INTERACTIVE,
    MINIMUM_FOR_TESTS,
    DecryptionFailed,
    DeskKeyring,
    KdfLimits,
    MalformedSealed,
    NotARecipient,
    Sealed,
    WrongPassword,
    derive_secret,
    draft_box,
    open_sealed,
    seal,
    tipster_keypair,
    unwrap_private_key,
    wrap_private_key,
)
from tips.model import Category, Draft, TipValidationError

FAST = MINIMUM_FOR_TESTS
SALT = bytes(range(16))
SECRET = b"\x5e" * 32


def test_sealed_value_opens_for_each_recipient_and_nobody_else() -> None:
    desk, tipster, stranger = PrivateKey.generate(), PrivateKey.generate(), PrivateKey.generate()
    sealed = seal(b"la marchandise arrive mardi", [desk.public_key, tipster.public_key])
    assert open_sealed(sealed, desk) == b"la marchandise arrive mardi"
    assert open_sealed(sealed, tipster) == b"la marchandise arrive mardi"
    assert sealed_to(sealed, desk.public_key)
    assert not sealed_to(sealed, stranger.public_key)
    with pytest.raises(NotARecipient):
        open_sealed(sealed, stranger)
    # A public key used as if it were private opens nothing either.
    with pytest.raises(NotARecipient):
        open_sealed(sealed, PrivateKey(bytes(desk.public_key)))


def test_serialised_form_round_trips_and_hides_the_plaintext() -> None:
    desk = PrivateKey.generate()
    raw = seal(b"MARKER-plaintext", [desk.public_key]).to_bytes()
    assert raw[:2] == b"S\x01"
    assert b"MARKER" not in raw
    assert open_sealed(raw, desk) == b"MARKER-plaintext"
    assert Sealed.from_bytes(raw).to_bytes() == raw


def test_each_seal_uses_a_fresh_key() -> None:
    desk = PrivateKey.generate()
    one, two = seal(b"same", [desk.public_key]), seal(b"same", [desk.public_key])
    assert one.ciphertext != two.ciphertext


def test_duplicate_recipients_are_sealed_once_and_none_is_refused() -> None:
    desk = PrivateKey.generate()
    assert len(seal(b"x", [desk.public_key, desk.public_key]).recipients) == 1
    with pytest.raises(TipValidationError):
        seal(b"x", [])


def test_tampering_is_detected() -> None:
    desk = PrivateKey.generate()
    raw = bytearray(seal(b"le camion bleu", [desk.public_key]).to_bytes())
    raw[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        open_sealed(bytes(raw), desk)


@pytest.mark.parametrize(
    "raw", [b"", b"S", b"X\x01\x01", b"S\x02\x01" + b"0" * 200, b"S\x01\x01" + b"0" * 20]
)
def test_malformed_sealed_bytes_are_refused(raw: bytes) -> None:
    with pytest.raises(MalformedSealed):
        Sealed.from_bytes(raw)


def test_keyring_opens_values_sealed_to_retired_keys() -> None:
    old, new = PrivateKey.generate(), PrivateKey.generate()
    ring = DeskKeyring(old).rotated(new)
    assert ring.current == new
    assert ring.retired == (old,)
    sealed_before = seal(b"ancien", [old.public_key])
    assert open_sealed(sealed_before, ring) == b"ancien"
    assert DeskKeyring.from_bytes(ring.to_bytes()) == ring
    assert "PrivateKey" not in repr(ring)


def test_tipster_key_is_reproducible_from_passphrase_and_salt() -> None:
    key = tipster_keypair("7KQM2XPD4TPAWZ3CGH9N", SALT, FAST)
    assert bytes(tipster_keypair("7KQM2XPD4TPAWZ3CGH9N", SALT, FAST)) == bytes(key)
    assert bytes(tipster_keypair("7KQM2XPD4TPAWZ3CGH9M", SALT, FAST)) != bytes(key)
    assert bytes(tipster_keypair("7KQM2XPD4TPAWZ3CGH9N", bytes(16), FAST)) != bytes(key)
    with pytest.raises(TipValidationError):
        tipster_keypair("x", b"short", FAST)


def test_production_limits_are_libsodium_interactive() -> None:
    assert KdfLimits(argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE) == INTERACTIVE
    # And they work (one real derivation: 64 MiB, a fraction of a second).
    assert bytes(tipster_keypair("P", SALT)) != bytes(tipster_keypair("P", SALT, FAST))
    with pytest.raises(TipValidationError):
        KdfLimits(0, argon2id.MEMLIMIT_MIN)


def test_wrapped_private_key_needs_the_password() -> None:
    key = PrivateKey.generate()
    wrapped = wrap_private_key(key, "mot de passe solide", limits=FAST)
    assert bytes(key) not in wrapped
    assert bytes(unwrap_private_key(wrapped, "mot de passe solide")) == bytes(key)
    with pytest.raises(WrongPassword):
        unwrap_private_key(wrapped, "mot de passe faux")
    with pytest.raises(MalformedSealed):
        unwrap_private_key(b"W\x01short", "x")
    with pytest.raises(TipValidationError):
        wrap_private_key(key, "", limits=FAST)


def test_wrapping_salts_are_random_and_passwords_are_unicode_normalised() -> None:
    key = PrivateKey.generate()
    assert wrap_private_key(key, "pw", limits=FAST) != wrap_private_key(key, "pw", limits=FAST)
    composed, decomposed = "s\u00e9curit\u00e9", "se\u0301curite\u0301"
    wrapped = wrap_private_key(key, composed, SALT, FAST)
    assert bytes(unwrap_private_key(wrapped, decomposed)) == bytes(key)


def test_a_tampered_kdf_cost_is_refused_before_any_work() -> None:
    wrapped = bytearray(wrap_private_key(PrivateKey.generate(), "pw", SALT, FAST))
    wrapped[2 + 16 + 4 : 2 + 16 + 12] = (2**62).to_bytes(8, "big")  # ask for 4 EiB of memory
    with pytest.raises(MalformedSealed):
        unwrap_private_key(bytes(wrapped), "pw")


def test_drafts_are_encrypted_per_chat() -> None:
    draft = Draft().with_category(Category.DRUG_TRAFFICKING).add_text("MARKER dealer au grin")
    sealed = draft_box(SECRET, "chat-a").encrypt(draft.to_json())
    assert b"MARKER" not in sealed
    assert Draft.from_json(draft_box(SECRET, "chat-a").decrypt(sealed)) == draft
    for other in (draft_box(SECRET, "chat-b"), draft_box(os.urandom(32), "chat-a")):
        with pytest.raises(nacl.exceptions.CryptoError):
            other.decrypt(sealed)


def test_derived_secrets_are_separated_by_purpose() -> None:
    assert derive_secret(SECRET, "a") != derive_secret(SECRET, "b")
    assert len(derive_secret(SECRET, "a")) == 32
