"""graph-dispatch inside LangChain: `RoutedChatModel`, a chat model whose every
call is a routed, budgeted, traced hop (for code that takes a ``model=``)."""

from __future__ import annotations

from dispatch.langchain.chat_model import RoutedChatModel, hops_from_messages

__all__ = ("RoutedChatModel", "hops_from_messages")
