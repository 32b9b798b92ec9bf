"""Sealing and key derivation for tips, on libsodium through PyNaCl.

The scheme follows GlobaLeaks' encryption protocol, simplified to one desk:

- every sealed value gets a fresh random 256-bit key; the value is encrypted once with it
  (SecretBox: XSalsa20-Poly1305) and the key is sealed (SealedBox: X25519 + XSalsa20-
  Poly1305, anonymous sender) to each recipient — the desk's public key, and for what the
  tipster must read, the tipster's public key. Whoever holds only public keys (the bot) can
  write and never read back;
- the tipster's keypair is derived from the receipt passphrase with Argon2id, so nothing
  secret about the tipster is stored;
- staff keys are stored wrapped: SecretBox under an Argon2id key from the account password;
- drafts in the dialogue state are encrypted with a per-chat key derived from a secret only
  the bot holds, because Redis' append-only file keeps every value ever written.

Argon2id runs with libsodium's INTERACTIVE limits (64 MiB, 2 passes) in production; tests
pass `MINIMUM_FOR_TESTS` through a `KdfLimits` parameter to stay fast.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions
import nacl.utils
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.pwhash import argon2id
from nacl.secret import SecretBox

from tips.model import TipError, TipValidationError

SALT_BYTES: int = argon2id.SALTBYTES  # 16
KEY_BYTES: int = SecretBox.KEY_SIZE  # 32
FINGERPRINT_BYTES = 8
_SEALED_KEY_BYTES = KEY_BYTES + nacl.bindings.crypto_box_SEALBYTES  # 32 + 48
_SEALED_MAGIC = b"S\x01"
_WRAPPED_MAGIC = b"W\x01"
_KEYRING_MAGIC = b"K\x01"
_WRAPPED_HEADER = struct.Struct(">16sIQ")  # salt, opslimit, memlimit
_MAX_RECIPIENTS = 16


# --------------------------------------------------------------------------- errors


class SealError(TipError):
    """Root of the cryptographic errors."""


class MalformedSealed(SealError):
    """Bytes that are not a sealed value, wrapped key or keyring of a known version."""


class DecryptionFailed(SealError):
    """Authentication failed: wrong key, or the ciphertext was altered."""


class NotARecipient(DecryptionFailed):
    """The value was not sealed to any of the given private keys."""


class WrongPassword(DecryptionFailed):
    """A wrapped private key did not open with this password."""


# --------------------------------------------------------------------------- KDF


@dataclass(frozen=True)
class KdfLimits:
    """Argon2id cost. Production uses `INTERACTIVE`; lower values only make tests fast."""

    opslimit: int
    memlimit: int

    def __post_init__(self) -> None:
        if not argon2id.OPSLIMIT_MIN <= self.opslimit <= argon2id.OPSLIMIT_SENSITIVE:
            raise TipValidationError("Argon2id opslimit out of range")
        if not argon2id.MEMLIMIT_MIN <= self.memlimit <= argon2id.MEMLIMIT_SENSITIVE:
            raise TipValidationError("Argon2id memlimit out of range")


INTERACTIVE = KdfLimits(argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE)
MINIMUM_FOR_TESTS = KdfLimits(argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)


def _kdf(secret: str, salt: bytes, limits: KdfLimits) -> bytes:
    if len(salt) != SALT_BYTES:
        raise TipValidationError(f"salt must be {SALT_BYTES} bytes")
    # NFKC: the same password typed on two keyboards must give the same key.
    password = unicodedata.normalize("NFKC", secret).encode()
    return argon2id.kdf(
        KEY_BYTES, password, salt, opslimit=limits.opslimit, memlimit=limits.memlimit
    )


def derive_secret(master: bytes, purpose: str) -> bytes:
    """A 32-byte sub-key of the installation secret, one per purpose (domain separation)."""
    return hmac.new(master, f"sini:{purpose}".encode(), hashlib.sha256).digest()


# --------------------------------------------------------------------------- keys


def generate_keypair() -> PrivateKey:
    """A fresh X25519 keypair (the desk's, or a staff account's)."""
    return PrivateKey.generate()


def fingerprint(public_key: PublicKey) -> bytes:
    """A short public identifier of a key, to find one's sealed copy without trial decryption."""
    return hashlib.blake2b(
        bytes(public_key), digest_size=FINGERPRINT_BYTES, person=b"sini-recipient"
    ).digest()


def tipster_keypair(passphrase: str, salt: bytes, limits: KdfLimits = INTERACTIVE) -> PrivateKey:
    """The tipster's keypair, recomputed from the receipt passphrase whenever needed.

    Nothing secret about the tipster is stored: only the public half, to seal replies to.
    `passphrase` must already be normalised (`receipts.normalize_passphrase`).
    """
    return PrivateKey.from_seed(_kdf(passphrase, salt, limits))


@dataclass(frozen=True)
class DeskKeyring:
    """The desk private keys: the current one first, then retired ones (old tips need them)."""

    current: PrivateKey = field(repr=False)
    retired: tuple[PrivateKey, ...] = field(default=(), repr=False)

    def __iter__(self) -> Iterator[PrivateKey]:
        yield self.current
        yield from self.retired

    @property
    def public_key(self) -> PublicKey:
        return self.current.public_key

    def rotated(self, new: PrivateKey) -> DeskKeyring:
        """A keyring whose current key is `new`, keeping every older key."""
        return DeskKeyring(new, (self.current, *self.retired))

    def to_bytes(self) -> bytes:
        keys = list(self)
        return _KEYRING_MAGIC + bytes([len(keys)]) + b"".join(bytes(k) for k in keys)

    @classmethod
    def from_bytes(cls, raw: bytes) -> DeskKeyring:
        if len(raw) < 3 or raw[:2] != _KEYRING_MAGIC:
            raise MalformedSealed("not a desk keyring")
        count = raw[2]
        body = raw[3:]
        if count < 1 or len(body) != count * PrivateKey.SIZE:
            raise MalformedSealed("desk keyring has the wrong length")
        keys = [PrivateKey(body[i * 32 : (i + 1) * 32]) for i in range(count)]
        return cls(keys[0], tuple(keys[1:]))


def wrap_private_key(
    private_key: PrivateKey,
    password: str,
    salt: bytes | None = None,
    limits: KdfLimits = INTERACTIVE,
) -> bytes:
    """The private key encrypted under a key derived from `password` (staff accounts).

    Salt and Argon2id limits are stored in the result, so unwrapping needs only the password
    and limits can be raised later without breaking existing accounts. `salt` defaults to a
    random one (pass one only to make outputs reproducible).
    """
    salt = nacl.utils.random(SALT_BYTES) if salt is None else salt
    if not password:
        raise TipValidationError("empty password")
    key = _kdf(password, salt, limits)
    header = _WRAPPED_HEADER.pack(salt, limits.opslimit, limits.memlimit)
    return _WRAPPED_MAGIC + header + bytes(SecretBox(key).encrypt(bytes(private_key)))


def unwrap_private_key(wrapped: bytes, password: str) -> PrivateKey:
    """The private key inside `wrapped`; `WrongPassword` when the password does not open it."""
    head = len(_WRAPPED_MAGIC) + _WRAPPED_HEADER.size
    if len(wrapped) <= head or wrapped[: len(_WRAPPED_MAGIC)] != _WRAPPED_MAGIC:
        raise MalformedSealed("not a wrapped key")
    salt, opslimit, memlimit = _WRAPPED_HEADER.unpack(wrapped[len(_WRAPPED_MAGIC) : head])
    try:
        limits = KdfLimits(opslimit, memlimit)  # bounded: a tampered blob cannot ask for 4 GiB
    except TipValidationError as error:
        raise MalformedSealed("wrapped key has unsupported KDF limits") from error
    key = _kdf(password, salt, limits)
    try:
        raw = SecretBox(key).decrypt(wrapped[head:])
    except nacl.exceptions.CryptoError as error:
        raise WrongPassword("wrong password") from error
    return PrivateKey(raw)


# --------------------------------------------------------------------------- sealing


@dataclass(frozen=True)
class Sealed:
    """A value encrypted once, with its key sealed to each recipient.

    Serialised (`to_bytes`) as: b"S", version 1, recipient count, then per recipient the
    8-byte fingerprint of its public key and the 80-byte sealed key, then nonce+ciphertext.
    """

    recipients: tuple[tuple[bytes, bytes], ...]
    ciphertext: bytes = field(repr=False)

    def to_bytes(self) -> bytes:
        parts = [_SEALED_MAGIC, bytes([len(self.recipients)])]
        for print_, sealed_key in self.recipients:
            parts += [print_, sealed_key]
        parts.append(self.ciphertext)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Sealed:
        if len(raw) < 3 or raw[:2] != _SEALED_MAGIC:
            raise MalformedSealed("not a sealed value (or an unknown version)")
        count = raw[2]
        entry = FINGERPRINT_BYTES + _SEALED_KEY_BYTES
        start = 3 + count * entry
        if count < 1 or len(raw) < start + SecretBox.NONCE_SIZE + SecretBox.MACBYTES:
            raise MalformedSealed("sealed value is truncated")
        recipients = tuple(
            (raw[pos : pos + FINGERPRINT_BYTES], raw[pos + FINGERPRINT_BYTES : pos + entry])
            for pos in range(3, start, entry)
        )
        return cls(recipients, raw[start:])


def seal(plaintext: bytes, recipients: Sequence[PublicKey]) -> Sealed:
    """Encrypt `plaintext` once under a fresh key, and seal that key to every recipient."""
    unique = {fingerprint(pk): pk for pk in recipients}
    if not unique:
        raise TipValidationError("a sealed value needs at least one recipient")
    if len(unique) > _MAX_RECIPIENTS:
        raise TipValidationError("too many recipients")
    key = nacl.utils.random(KEY_BYTES)
    ciphertext = bytes(SecretBox(key).encrypt(plaintext))
    entries = tuple((print_, bytes(SealedBox(pk).encrypt(key))) for print_, pk in unique.items())
    return Sealed(entries, ciphertext)


def open_sealed(sealed: Sealed | bytes, private_key: PrivateKey | Iterable[PrivateKey]) -> bytes:
    """The plaintext, for a holder of one recipient's private key.

    Accepts one key or several (a `DeskKeyring`: tips sealed before a rotation are open with
    a retired key). `NotARecipient` if none of the keys is a recipient, `DecryptionFailed`
    if the value was tampered with.
    """
    value = Sealed.from_bytes(sealed) if isinstance(sealed, bytes) else sealed
    keys = [private_key] if isinstance(private_key, PrivateKey) else list(private_key)
    for key in keys:
        print_ = fingerprint(key.public_key)
        for candidate, sealed_key in value.recipients:
            if not hmac.compare_digest(print_, candidate):
                continue
            try:
                content_key = SealedBox(key).decrypt(sealed_key)
                return bytes(SecretBox(content_key).decrypt(value.ciphertext))
            except nacl.exceptions.CryptoError as error:
                raise DecryptionFailed("sealed value does not authenticate") from error
    raise NotARecipient("none of these keys can open this value")


# --------------------------------------------------------------------------- drafts


def draft_box(secret: bytes, chat_key: str) -> SecretBox:
    """The box that encrypts one chat's draft: key = HMAC-SHA256(secret, "draft:" + chat_key).

    Only the bot holds `secret`, so a copy of Redis (or of its append-only file, which keeps
    old values) does not show drafts; each chat has its own key.
    """
    key = hmac.new(secret, f"draft:{chat_key}".encode(), hashlib.sha256).digest()
    return SecretBox(key)
