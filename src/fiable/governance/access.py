"""Principals and rights: who may read, write or administer which collection.

The policy lives in the store (one JSON document, so every replica of a server sees the
same rights) and is changed only through :func:`grant`, :func:`revoke`, :func:`join`,
:func:`leave` and :func:`set_enforced`, each one read-modify-write inside a store
transaction. Shape::

    {"enforced": true,
     "members": {"alice": ["hr"]},                      # user -> groups
     "grants": [{"subject": "group:hr", "collection": "hr", "right": "read"},
                {"subject": "user:root", "collection": "*", "right": "admin"}]}

Rights are ordered: ``read`` < ``write`` (ingest, delete) < ``admin`` (also: other
principals' traces, rights, audit, erasure; ``admin`` on ``*`` is a workspace admin).

**Single-user mode**: while the policy is not ``enforced`` (a new workspace), every
authenticated caller is the owner and reads everything, as before governance existed. The
first grant enforces it. The local command line acts as the owner (it has the files
anyway) unless ``--as NAME`` asks to see what NAME would see.

What a principal may read becomes a :class:`ReadScope`, the list of collections the store
queries filter on in SQL (``collections IN (...)``): no path (ask, citations, passages,
traces, the OpenAI-compatible API, the experts router, evaluation, exports) searches or
returns a chunk outside it. Names outside the scope are answered exactly like names that
do not exist, so a caller cannot probe which collections exist.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Protocol, Sequence

from ..errors import AccessDeniedError, UnknownCollectionError, UserError

__all__ = ["OWNER", "Principal", "ReadScope", "RIGHTS", "Right", "can", "check", "describe",
           "grant", "join", "leave", "principal_for", "read_scope", "revoke", "set_enforced"]

Right = Literal["read", "write", "admin"]
RIGHTS: tuple[Right, ...] = ("read", "write", "admin")
_RANK = {r: i for i, r in enumerate(RIGHTS)}
EMPTY_POLICY: dict[str, Any] = {"enforced": False, "members": {}, "grants": []}


class PolicyStore(Protocol):
    def access_policy(self) -> dict[str, Any]: ...

    def update_access_policy(self, change: Any) -> dict[str, Any]: ...

    def collections(self) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: a user or service account (an API key's name), its groups, and whether it
    is the workspace owner (single-user mode, the local command line)."""

    name: str
    groups: frozenset[str] = frozenset()
    owner: bool = False

    @property
    def subjects(self) -> tuple[str, ...]:
        return (f"user:{self.name}", *(f"group:{g}" for g in sorted(self.groups)))


OWNER = Principal("local", owner=True)


@dataclass(frozen=True, slots=True)
class ReadScope:
    """The collections a principal may read; ``None``: every collection (owner, admin)."""

    collections: frozenset[str] | None

    def restrict(self, requested: Sequence[str] | None, known: Iterable[str]) -> list[str] | None:
        """The collections a search on ``requested`` (None: all) may touch. A requested name
        outside the scope raises UnknownCollectionError listing only readable names, the same
        error as a name that does not exist."""
        if self.collections is None:
            return list(requested) if requested is not None else None
        readable = sorted(self.collections & set(known))
        if requested is None:
            return readable
        hidden = [n for n in requested if n not in readable]
        if hidden:
            raise UnknownCollectionError(
                f"unknown collection {', '.join(map(repr, hidden))}",
                hint=f"collections you can search: {', '.join(readable) or 'none'}")
        return list(requested)

    def allows(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections


def _normalised(policy: dict[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(EMPTY_POLICY)
    out.update(copy.deepcopy(policy or {}))
    return out


def principal_for(store: PolicyStore, name: str, *, owner: bool = False) -> Principal:
    """The principal ``name`` (an API key's name) with its groups; the owner while the
    policy is not enforced."""
    policy = _normalised(store.access_policy())
    groups = frozenset(policy["members"].get(name, ()))
    return Principal(name, groups, owner=owner or not policy["enforced"])


def _granted(policy: dict[str, Any], who: Principal, right: Right) -> set[str]:
    subjects = set(who.subjects)
    return {g["collection"] for g in policy["grants"]
            if g["subject"] in subjects and _RANK[g["right"]] >= _RANK[right]}


def read_scope(store: PolicyStore, who: Principal) -> ReadScope:
    """What ``who`` may read (the filter every store query of this caller applies)."""
    if who.owner:
        return ReadScope(None)
    policy = _normalised(store.access_policy())
    if not policy["enforced"]:
        return ReadScope(None)
    granted = _granted(policy, who, "read")
    if "*" in granted:
        return ReadScope(None)
    return ReadScope(frozenset(granted))


def can(store: PolicyStore, who: Principal, right: Right, collection: str = "*") -> bool:
    """Whether ``who`` holds ``right`` on ``collection`` (``*``: on the whole workspace)."""
    if who.owner:
        return True
    policy = _normalised(store.access_policy())
    if not policy["enforced"]:
        return True
    granted = _granted(policy, who, right)
    return "*" in granted or collection in granted


def check(store: PolicyStore, who: Principal, right: Right, collection: str = "*") -> None:
    """AccessDeniedError unless ``who`` holds ``right`` on ``collection``. A collection it
    cannot even read is reported as unknown (no probing of names)."""
    if can(store, who, right, collection):
        return
    if collection != "*" and not can(store, who, "read", collection):
        raise UnknownCollectionError(f"unknown collection {collection!r}",
                                     hint="list the collections you can use with "
                                     "GET /v1/collections")
    where = "this workspace" if collection == "*" else f"collection {collection!r}"
    raise AccessDeniedError(f"{who.name!r} has no {right} right on {where}",
                            hint=f"an admin can grant it: fiable access grant --user {who.name} "
                            f"--collection {collection} --right {right}")


def _subject(user: str | None, group: str | None) -> str:
    if bool(user) == bool(group):
        raise UserError("name exactly one of a user or a group",
                        hint="e.g. --user alice or --group hr")
    kind, name = ("user", user) if user else ("group", group)
    assert name is not None
    if not name.strip() or any(c in name for c in ":\n\t"):
        raise UserError(f"invalid {kind} name {name!r}", hint="use letters, digits, - _ .")
    return f"{kind}:{name.strip()}"


def _right(right: str) -> Right:
    if right not in _RANK:
        raise UserError(f"unknown right {right!r}", hint=f"use one of: {', '.join(RIGHTS)}")
    return right  # type: ignore[return-value]


def grant(store: PolicyStore, *, collection: str, right: str, user: str | None = None,
          group: str | None = None) -> dict[str, Any]:
    """Give ``right`` on ``collection`` (``*``: all) to a user or group; enforces the policy.
    Returns the change made (for the audit trail)."""
    subject, right = _subject(user, group), _right(right)
    if collection != "*" and collection not in {c.name for c in store.collections()}:
        raise UnknownCollectionError(f"unknown collection {collection!r}",
                                     hint="create it by ingesting into it, or use * for all")
    entry = {"subject": subject, "collection": collection, "right": right}

    def change(policy: dict[str, Any]) -> dict[str, Any]:
        policy = _normalised(policy)
        if entry not in policy["grants"]:
            policy["grants"].append(entry)
        policy["enforced"] = True
        return policy

    store.update_access_policy(change)
    return {"grant": entry}


def revoke(store: PolicyStore, *, collection: str, right: str, user: str | None = None,
           group: str | None = None) -> dict[str, Any]:
    """Remove one grant; UserError when there is no such grant."""
    entry = {"subject": _subject(user, group), "collection": collection, "right": _right(right)}
    found = False

    def change(policy: dict[str, Any]) -> dict[str, Any]:
        nonlocal found
        policy = _normalised(policy)
        found = entry in policy["grants"]
        policy["grants"] = [g for g in policy["grants"] if g != entry]
        return policy

    store.update_access_policy(change)
    if not found:
        raise UserError(f"no such grant: {entry['subject']} {entry['right']} on {collection}",
                        hint="see the grants with `fiable access list`")
    return {"revoke": entry}


def join(store: PolicyStore, user: str, group: str) -> dict[str, Any]:
    """Make ``user`` a member of ``group``."""
    _subject(user, None), _subject(None, group)

    def change(policy: dict[str, Any]) -> dict[str, Any]:
        policy = _normalised(policy)
        groups = set(policy["members"].get(user, ())) | {group}
        policy["members"][user] = sorted(groups)
        return policy

    store.update_access_policy(change)
    return {"join": {"user": user, "group": group}}


def leave(store: PolicyStore, user: str, group: str) -> dict[str, Any]:
    """Remove ``user`` from ``group``."""
    def change(policy: dict[str, Any]) -> dict[str, Any]:
        policy = _normalised(policy)
        groups = [g for g in policy["members"].get(user, ()) if g != group]
        if groups:
            policy["members"][user] = groups
        else:
            policy["members"].pop(user, None)
        return policy

    store.update_access_policy(change)
    return {"leave": {"user": user, "group": group}}


def set_enforced(store: PolicyStore, enforced: bool) -> dict[str, Any]:
    """Turn enforcement on, or back to single-user mode (everyone authenticated reads all)."""
    def change(policy: dict[str, Any]) -> dict[str, Any]:
        policy = _normalised(policy)
        policy["enforced"] = enforced
        return policy

    store.update_access_policy(change)
    return {"enforced": enforced}


def describe(store: PolicyStore) -> dict[str, Any]:
    """The policy as stored (for ``fiable access list`` and the admin page)."""
    return _normalised(store.access_policy())
