"""The anonymous-tip domain, shared by the bot (which writes tips) and the staff dashboard
(which reads them).

Security model (after GlobaLeaks, see ``shared/DESIGN.md``): tip content is sealed to the
desk's public key and to a key derived from the tipster's receipt, so the bot can write a
tip but cannot read it back; Redis only ever holds sealed content, hour-rounded times and
keyed hashes — never a Telegram id, a name, a receipt code or plaintext.

Modules: ``model`` (pure values and rules), ``crypto`` (sealing, key derivation),
``receipts`` (reference codes and passphrases), ``media`` (metadata stripping), and the
modules that talk to Redis: ``intake`` (the bot's side: submit, receipts, follow-up, with the
desk public key only), ``desk`` (the staff side: queue, opening, changes), ``stored`` (the
layout both share) and ``keys`` (the desk keys).
"""
