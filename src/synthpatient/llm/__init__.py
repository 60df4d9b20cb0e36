"""Clients for language-model servers (optional: the ``llm`` extra).

``client`` talks to any OpenAI-compatible chat API; ``prompts`` builds the row-generation
prompts (levels after SynLLM); ``parsing`` reads rows out of imperfect answers; ``costs``
counts what a run cost and yielded. A local test double of such a server is in the tests
(``tests/fake_llm_server.py``), outside the package.
"""

from synthpatient.llm.client import ChatResult, LLMClient, LLMError
from synthpatient.llm.costs import GenerationReport

__all__ = ["ChatResult", "GenerationReport", "LLMClient", "LLMError"]
