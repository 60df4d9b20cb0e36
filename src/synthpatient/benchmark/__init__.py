"""Benchmarks: every generator on the same data, with quality, speed and cost side by side."""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synthpatient.benchmark._candidates import (
    SDV_MODELS,
    Candidate,
    sdv_available,
    sdv_candidate,
    synthpatient_candidate,
)
from synthpatient.benchmark._output import (
    check_readme,
    compare_with_sdv,
    to_html,
    to_json,
    to_markdown,
    update_readme,
)
from synthpatient.benchmark._peers import (
    FOREST_FLOW_QUICK,
    TREE_PEERS,
    forest_flow_candidate,
    peer_available,
    peer_candidate,
    peer_note,
)
from synthpatient.benchmark._runner import BenchmarkResult, DeclaredSchema, run_benchmark

if TYPE_CHECKING:
    from synthpatient.synthesizers import Synthesizer

__all__ = [
    "BenchmarkResult",
    "Candidate",
    "DeclaredSchema",
    "check_readme",
    "compare_with_sdv",
    "default_candidates",
    "peer_candidate",
    "run_benchmark",
    "update_readme",
    "sdv_available",
    "sdv_candidate",
    "synthpatient_candidate",
    "to_html",
    "to_json",
    "to_markdown",
]


def default_candidates(
    keys: Sequence[str] | None = None,
    *,
    epsilons: Sequence[float] = (),
    include_sdv: bool = True,
    lm_checkpoint: str | None = None,
    llm: Mapping[str, Any] | None = None,
) -> tuple[list[Candidate], list[str]]:
    """Registered synthesizers (all, or ``keys``) whose extras are installed; those that
    accept a privacy budget again at each of ``epsilons`` (those private by construction only
    at the budgets, or at their default one); SDV's three when the `compare` extra is
    installed. Which is which comes from each class's ``capabilities``, never its name.

    ``lm_checkpoint`` (a local pretrained checkpoint folder) adds each synthesizer that can
    fine-tune one (the tabular LM) fine-tuned from it, beside the one trained from scratch.
    A synthesizer that only writes text for its base model's rows (the hybrid), or that
    learns tables with several rows per patient (the sequential one), is included only when
    asked for by name. ``llm`` (``base_url``, ``model`` and any other
    :class:`LLMSynthesizer` settings) includes the prompted LLM, which is skipped otherwise:
    nothing is sent over a network the user did not name.

    Returns the candidates and a note for each one that could not be included.
    """
    from synthpatient.errors import MissingExtraError
    from synthpatient.synthesizers import available_synthesizers

    candidates, skipped = [], []
    for key in keys or available_synthesizers():
        try:
            klass = _installed_class(key)
        except MissingExtraError as exc:
            skipped.append(f"{key}: {exc}")
            continue
        if klass.capabilities.needs_network:
            if llm is None:
                skipped.append(
                    f"{key}: needs a configured LLM server (--llm-base-url, --llm-model)"
                )
            else:
                candidates.append(
                    synthpatient_candidate(key, label=f"{key} ({llm.get('model')})", **dict(llm))
                )
            continue
        caps = klass.capabilities
        if caps.writes_text and not keys:  # its numbers are its base model's rows
            skipped.append(f"{key}: its structured columns are its base model's; it adds text")
            continue
        if caps.longitudinal and not keys:  # the benchmark's tables have a row per patient
            skipped.append(
                f"{key}: learns tables with several rows per patient "
                "(compared on pbcseq by benchmarks/check_timelines.py)"
            )
            continue
        if caps.differentially_private:  # private by construction: always at an epsilon
            budgets = epsilons or (inspect.signature(klass.__init__).parameters["epsilon"].default,)
            candidates += [
                synthpatient_candidate(key, label=f"{key} (eps={e:g})", epsilon=e) for e in budgets
            ]
            continue
        candidates.append(synthpatient_candidate(key))
        if caps.fine_tunes and lm_checkpoint is not None:
            # a pretrained model decodes token by token: its 100,000-row timing is left out
            candidates.append(
                dataclasses.replace(
                    synthpatient_candidate(
                        key, label=f"{key} (fine-tuned)", base_model=str(lm_checkpoint)
                    ),
                    large_sample=False,
                )
            )
        if caps.accepts_epsilon:
            candidates += [
                synthpatient_candidate(key, label=f"{key} (eps={e:g})", epsilon=e) for e in epsilons
            ]
    if include_sdv:
        if sdv_available():
            candidates += [sdv_candidate(name) for name in SDV_MODELS]
        else:
            skipped.append(f"SDV: {peer_note('sdv_gaussiancopula').split(': ', 1)[1]}")
        # the tree-based peers of issue 18 come with the same extra; a missing one is named
        for name in TREE_PEERS:
            if peer_available(name) and name == "forest_flow":
                # its authors' settings take ~24 min a fit on 2 cores: named in its label
                candidates.append(forest_flow_candidate(**FOREST_FLOW_QUICK))
            elif peer_available(name):
                candidates.append(peer_candidate(name))
            else:
                skipped.append(peer_note(name))
    return candidates, skipped


def _installed_class(key: str) -> type[Synthesizer]:
    """The synthesizer class registered as ``key``, once its extra is importable (raises
    :class:`MissingExtraError`, which names the extra to install, when it is not)."""
    from synthpatient.synthesizers import get_synthesizer_class

    klass = get_synthesizer_class(key)
    if klass.capabilities.extra:
        from synthpatient._optional import extra_module, import_optional

        with warnings.catch_warnings():  # mbi advises on JAX settings at import
            warnings.simplefilter("ignore")
            import_optional(extra_module(klass.capabilities.extra), extra=klass.capabilities.extra)
    return klass
