"""graph-dispatch inside LangChain.

* `DispatchMiddleware`: agent middleware for ``langchain.agents.create_agent``;
  every model call of the agent is a routed, budgeted, traced hop, and the
  agent keeps binding tools and parsing structured output (the first way in).
* `RoutedChatModel`: a chat model whose every call is a routed hop, for code
  that takes a ``model=`` and cannot use middleware.
"""

from __future__ import annotations

from dispatch.langchain.chat_model import RoutedChatModel, hops_from_messages
from dispatch.langchain.middleware import (
    DispatchAgentState,
    DispatchMiddleware,
    OnFailure,
)

__all__ = (
    "DispatchAgentState",
    "DispatchMiddleware",
    "OnFailure",
    "RoutedChatModel",
    "hops_from_messages",
)
