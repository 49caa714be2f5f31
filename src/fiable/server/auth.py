"""API keys: random tokens shown once, stored as SHA-256 hashes (``fiable keys``).

Keys are 256-bit random, so a fast hash is enough (nothing to brute-force); comparison
happens in the store by hash, never on the key itself.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["KEY_PREFIX", "hash_key", "new_key"]

KEY_PREFIX = "fk-"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.strip().encode("utf-8")).hexdigest()
