"""Clients for language-model servers (optional: the ``llm`` extra)."""

from synthpatient.llm.client import ChatResult, LLMClient, LLMError

__all__ = ["ChatResult", "LLMClient", "LLMError"]
