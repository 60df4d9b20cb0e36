"""``synthpatient ask`` and ``synthpatient chat``: the conversation engine in a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from synthpatient.cli._cohort_partitions import (
    EngineOption,
    PartitionSize,
    check_engine,
    generate_partitioned,
)
from synthpatient.cli._errors import BAD_INPUT, err, handled
from synthpatient.cli.app import LlmKeyEnv, LlmModel, Scheduler, app, out
from synthpatient.errors import InvalidParameterError

if TYPE_CHECKING:
    from synthpatient.knowledge.conversation import Conversation, Reply

OutDir = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        help="Folder for the cohort's files (follow-ups in a chat go to <out>-2, <out>-3, ...).",
    ),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing folder.")]
LlmUrl = Annotated[
    str | None,
    typer.Option(
        "--llm-base-url",
        metavar="URL",
        help="Parse requests with an OpenAI-compatible LLM at this URL (e.g. "
        "http://localhost:11434/v1 for Ollama). Off by default: the offline parser is used.",
    ),
]


def _conversation(
    out_dir: Path,
    overwrite: bool,
    llm_base_url: str | None,
    llm_model: str | None,
    llm_key_env: str,
) -> Conversation:
    from synthpatient.knowledge.conversation import Conversation

    parser = None
    if llm_base_url:
        from synthpatient.knowledge.llm_parser import LLMRequestParser

        parser = LLMRequestParser.from_settings(
            base_url=llm_base_url, model=llm_model, key_env=llm_key_env
        )
    return Conversation(out_dir=out_dir, overwrite=overwrite, parser=parser)


def _show(reply: Reply) -> None:
    style = {"clarify": "yellow", "generated": "green", "exported": "green"}.get(reply.kind)
    from rich.markup import escape

    text = escape(reply.text)
    out.print(f"[{style}]{text}[/]" if style else text)
    for name, path in reply.files.items():
        out.print(f"  {name:<13} {escape(str(path))}")


@app.command()
def ask(
    text: Annotated[
        str,
        typer.Argument(
            metavar="REQUEST",
            help="A request ('generate 2000 type 2 diabetes "
            "patients with 20 observations') or a question "
            "('which sources did you use?').",
        ),
    ],
    out_dir: OutDir = Path("cohort"),
    overwrite: Overwrite = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the parsed request only.")
    ] = False,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="Seed of the cohort (default: random, recorded in the provenance)."
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Generate without asking for confirmation (needed when the input is not a "
            "terminal, as in scripts).",
        ),
    ] = False,
    llm_base_url: LlmUrl = None,
    llm_model: LlmModel = None,
    llm_key_env: LlmKeyEnv = "SYNTHPATIENT_LLM_API_KEY",
    engine: EngineOption = None,
    partition_size: PartitionSize = None,
    scheduler: Scheduler = None,
) -> None:
    """Make a cohort from a plain-English request, or answer a question about the sources.

    What was understood is printed first, and the cohort is generated once you confirm (or
    at once with --yes). Questions are answered from the cited knowledge base."""
    with handled():
        check_engine(engine, partition_size, scheduler)
        chat = _conversation(out_dir, overwrite, llm_base_url, llm_model, llm_key_env)
        chat.partitioned = engine is not None

        def generate() -> None:
            if engine is not None:  # partitions, written as they are drawn
                generate_partitioned(
                    chat,
                    out_dir,
                    engine=engine,
                    partition_size=partition_size,
                    scheduler=scheduler,
                    overwrite=overwrite,
                )
                return
            with err.status("Generating..."):
                _show_or_fail(chat.confirm())

        reply = chat.send(text)
        if reply.kind == "confirm":
            if seed is not None and reply.request is not None and reply.request.seed is None:
                chat.pending = reply.request.model_copy(update={"seed": seed})
                reply.text = f"I understood: {chat.pending.describe(chat.kb)}."
            # the question is asked below (or skipped with --yes), not inside the answer
            reply.text = reply.text.removesuffix("Generate it?").rstrip()
        if reply.kind == "clarify" and chat.pending is not None and not (yes or dry_run):
            if _without_unread_parts(reply):  # the parts left out were named at the terminal
                generate()
            return
        _show_or_fail(reply)
        if reply.kind == "confirm" and not dry_run and (yes or _confirmed()):
            generate()


def _without_unread_parts(reply: Reply) -> bool:
    """A request with parts that were not understood: at a terminal they are shown and the
    user may generate the rest; a script (no terminal, or --yes) gets the error and exit 2,
    so a cohort missing part of its request is never made unseen."""
    import sys

    if not sys.stdin.isatty():
        _show_or_fail(reply)
    _show(reply)
    if typer.confirm("Generate it without those parts?", default=False):
        return True
    out.print("Not generated.")
    return False


def _confirmed() -> bool:
    """Ask at the terminal; without one there is nobody to ask: say how to go on."""
    import sys

    if not sys.stdin.isatty():
        raise InvalidParameterError(
            "Not generated: confirmation is needed and the input is not a terminal. Add "
            "--yes to generate without asking (or --dry-run to only show the request)."
        )
    if typer.confirm("Generate it?", default=True):
        return True
    out.print("Not generated.")
    return False


def _show_or_fail(reply: Reply) -> None:
    """A one-shot ``ask`` that could not be done is an error: one line on stderr, exit 2, so
    that scripts reading stdout never take the message for a result."""
    if reply.kind != "clarify":
        _show(reply)
        return
    from rich.markup import escape

    text = " ".join(reply.text.split())  # one line, whatever the reply's layout
    err.print(f"[red]Error:[/] {escape(text)}", markup=True)
    raise typer.Exit(BAD_INPUT)


@app.command()
def chat(
    out_dir: OutDir = Path("cohort"),
    overwrite: Overwrite = False,
    llm_base_url: LlmUrl = None,
    llm_model: LlmModel = None,
    llm_key_env: LlmKeyEnv = "SYNTHPATIENT_LLM_API_KEY",
) -> None:
    """A conversation in the terminal that keeps context between requests.

    Ask for a cohort, confirm it, then refine it: 'now make them all over 65', 'add eGFR',
    'export as FHIR', 'which sources did you use?'. Type 'quit' to leave."""
    with handled():
        conversation = _conversation(out_dir, overwrite, llm_base_url, llm_model, llm_key_env)
        out.print("synthpatient chat: ask for a cohort or a source; 'quit' to leave.")
        while True:
            try:
                text = input("you> ")
            except EOFError:
                break
            if text.strip().lower() in {"quit", "exit", "bye", "q"}:
                break
            reply = conversation.send(text)
            if reply.kind == "confirm":
                _show(reply)
                out.print("(answer 'yes' to generate, or change the request)")
                continue
            _show(reply)
