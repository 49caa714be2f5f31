"""Governance: who may read what (access), what happened (audit), erasure on request.

See :mod:`fiable.governance.access`, :mod:`fiable.governance.audit`,
:mod:`fiable.governance.erase` and docs/governance.md.
"""
