"""Replay benchmark data through the production router and policy; metrics; plots.

`dispatch eval outcomes` and `dispatch eval capability` are thin CLI wrappers
over `evaluate_outcomes` and `evaluate_capability`.
"""

from __future__ import annotations
