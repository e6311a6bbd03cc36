"""Router layers: each decides a hop's capability and tier behind one `Router` protocol."""

from __future__ import annotations

from dispatch.routing.protocol import FixedRouter, Router
from dispatch.routing.rules import RulesRouter

__all__ = ("FixedRouter", "Router", "RulesRouter")
