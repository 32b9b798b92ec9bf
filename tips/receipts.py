"""Receipts: the reference code and passphrase a tipster gets once, and how input is read.

Both are Crockford base32 (digits and letters without I, L, O, U), so they can be read
aloud, copied by hand and typed on a basic phone keyboard: case does not matter, spaces and
dashes are ignored, and the letters people confuse with digits are read as those digits
(O → 0, I/L → 1).

- The **code** (8 symbols, 40 bits, shown as "K7QM-2XPD") names the tip. The store never
  holds it: it holds `lookup_id(code)`, an HMAC under a server-side pepper, so a copy of
  Redis does not let anyone test codes offline.
- The **passphrase** (20 symbols, 100 bits, shown as "7kqm 2xpd 4tpa wz3c gh9n") is what
  proves the tipster; the tipster keypair is derived from it with Argon2id, salted with a
  value derived from the lookup id (so each tip has its own salt without storing one).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from tips.model import TipValidationError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
CODE_SYMBOLS = 8  # 40 bits
PASSPHRASE_SYMBOLS = 20  # 100 bits
GROUP = 4
_ALIASES = {"O": "0", "I": "1", "L": "1"}
_IGNORED = frozenset(" -_.\t\r\n\u00a0")
SALT_BYTES = 16


class MalformedReceipt(TipValidationError):
    """Input that cannot be a code or passphrase (wrong length or a symbol outside base32).

    Saying so reveals nothing about which tips exist, so the bot may tell the tipster to
    check what they typed; the store turns it into `ReceiptInvalid` anyway.
    """


@dataclass(frozen=True)
class Receipt:
    """What the tipster is shown once after submitting. The passphrase never appears in
    a repr, so a stray log line cannot leak it."""

    code: str
    passphrase: str = field(repr=False)


def _random_symbols(count: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(count))


def _group(symbols: str, separator: str) -> str:
    return separator.join(symbols[i : i + GROUP] for i in range(0, len(symbols), GROUP))


def new_receipt() -> Receipt:
    """A fresh random code and passphrase (from the OS's CSPRNG)."""
    code = _random_symbols(CODE_SYMBOLS)
    passphrase = _random_symbols(PASSPHRASE_SYMBOLS)
    return Receipt(code=_group(code, "-"), passphrase=_group(passphrase.lower(), " "))


def _normalize(text: str, length: int, what: str) -> str:
    symbols = []
    for char in text.upper():
        if char in _IGNORED:
            continue
        char = _ALIASES.get(char, char)
        if char not in ALPHABET:
            raise MalformedReceipt(f"{what}: {char!r} is not a valid symbol")
        symbols.append(char)
    if len(symbols) != length:
        raise MalformedReceipt(f"{what}: expected {length} symbols, got {len(symbols)}")
    return "".join(symbols)


def normalize_code(text: str) -> str:
    """The canonical form of a typed code ("k7qm 2xpd" → "K7QM2XPD")."""
    return _normalize(text, CODE_SYMBOLS, "code")


def normalize_passphrase(text: str) -> str:
    """The canonical form of a typed passphrase (upper case, no separators)."""
    return _normalize(text, PASSPHRASE_SYMBOLS, "passphrase")


def lookup_id(code: str, pepper: bytes) -> str:
    """The store's name for a tip: HMAC-SHA256(pepper, normalised code), 128 bits in hex.

    Keyed so that the 40-bit code space cannot be enumerated against a copied database.
    """
    canonical = normalize_code(code)
    return hmac.new(pepper, f"receipt:{canonical}".encode(), hashlib.sha256).hexdigest()[:32]


def tipster_salt(lookup: str) -> bytes:
    """The Argon2id salt of a tip's tipster key, derived from its lookup id (nothing stored)."""
    return hashlib.blake2b(lookup.encode(), digest_size=SALT_BYTES, person=b"sini-tipster").digest()
