"""The hash chain of the audit trail: how a record is sealed and checked.

A record is ``seq, at, actor, action, payload, content, prev, hash``:

- ``payload``: what happened, without personal content (ids, hashes, models, scores,
  decisions), as canonical JSON;
- ``content``: the personal part (question, answer text) with a random salt, as canonical
  JSON, or NULL once erased; ``payload["content_digest"]`` is its SHA-256;
- ``hash = SHA-256(prev, seq, at, actor, action, payload)``; ``prev`` is the hash of the
  record before (or of the retention checkpoint, or ``GENESIS``).

The chain covers the content's digest, not the content, so erasing a subject's words
(``fiable erase``) blanks ``content`` and the chain still verifies, while any edit of the
content, the payload or the order is caught. The salt makes the digest of an erased
question impossible to confirm by guessing it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timezone
from typing import Any, Mapping

__all__ = ["GENESIS", "canonical", "content_digest", "record_hash", "seal"]

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """The one JSON text of ``value`` that is hashed (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def content_digest(content_json: str) -> str:
    return hashlib.sha256(content_json.encode("utf-8")).hexdigest()


def record_hash(prev: str, seq: int, at: str, actor: str, action: str, payload_json: str) -> str:
    h = hashlib.sha256()
    h.update(f"{prev}\n{seq}\n{at}\n{actor}\n{action}\n".encode("utf-8"))
    h.update(payload_json.encode("utf-8"))
    return h.hexdigest()


def _clean(name: str, what: str) -> str:
    name = str(name)
    if not name or any(c in name for c in "\n\r"):
        raise ValueError(f"audit {what} must be one non-empty line")
    return name


def seal(prev_seq: int, prev_hash: str, actor: str, action: str, payload: Mapping[str, Any],
         content: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The row to append after ``(prev_seq, prev_hash)``."""
    seq = prev_seq + 1
    at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    body = dict(payload)
    content_json = None
    if content:
        content_json = canonical({**content, "salt": secrets.token_hex(16)})
        body["content_digest"] = content_digest(content_json)
    payload_json = canonical(body)
    actor, action = _clean(actor, "actor"), _clean(action, "action")
    return {"seq": seq, "at": at, "actor": actor, "action": action, "payload": payload_json,
            "content": content_json, "prev": prev_hash,
            "hash": record_hash(prev_hash, seq, at, actor, action, payload_json)}
