"""A conformance kit for connector authors: the seed's rows, exactly-once under crashes, no
ping-pong, shipments partial then complete, conflicts shown, all end to end through the real
`rulesync` command against the sandbox store (docs/conformance.md).

Subclass `Conformance` in a pytest module as `Test...`, naming the OMS connector (or the state
database) to check. The kit needs pytest (the `conformance` extra).
"""
from __future__ import annotations

from engine.conformance.oms_side import LedgerUser, OmsUser
from engine.conformance.suite import Conformance
from engine.conformance.world import World

__all__ = ["Conformance", "LedgerUser", "OmsUser", "World"]
