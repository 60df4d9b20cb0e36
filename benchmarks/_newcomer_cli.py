"""Checks of benchmarks/check_newcomer.py on the command line itself: help pages, install
hints, warnings, progress lines, file permissions, ask and chat (registered on import)."""

from __future__ import annotations

import re
from pathlib import Path

from _newcomer import check, cli, commands, help_text, split_data


# -- CLI help ---------------------------------------------------------------------------------
@check("help: value names, not Python types; every option described")
def _help_values(work: Path) -> tuple[bool, str]:
    import click

    bad, undescribed, pages = [], [], 0
    for path, command in commands():
        text = help_text(path)
        pages += 1
        usage = next((line for line in text.splitlines() if "Usage:" in line), "")
        for word in ("<bool>", "<list[", "<str>", "<int>", "<path>", "[[", "{"):
            if word in usage or (word.startswith("<") and word in text):
                bad.append(f"{' '.join(path) or 'synthpatient'}: {word}")
        ctx = click.Context(command, info_name="synthpatient")  # type: ignore[arg-type]
        for param in command.get_params(ctx):  # type: ignore[attr-defined]
            if param.param_type_name == "option" and not param.hidden and not param.help:
                undescribed.append(f"{' '.join(path)} {param.opts[0]}")
    ok = not bad and not undescribed
    return ok, (
        f"{pages} help pages; Python type words: {bad[:4] or 'none'}; options without a "
        f"description: {undescribed[:4] or 'none'}"
    )


@check("help: --synthesizer lists every synthesizer, its extra and whether it is installed")
def _help_synthesizers(work: Path) -> tuple[bool, str]:
    from synthpatient.synthesizers import available_synthesizers

    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", help_text(["generate"])).split())
    missing = [k for k in available_synthesizers() if not re.search(rf"\b{k} \(", text)]
    said = re.search(r"ctgan \(extra deep, (?:not )?installed\)", text)
    ok = not missing and said is not None
    return ok, f"missing: {missing or 'none'}; e.g. '{said.group() if said else '-'}'"


@check("help: arguments named alike in every command (REAL, SYNTHETIC, MODEL...)")
def _help_arguments(work: Path) -> tuple[bool, str]:
    names: dict[str, list[str]] = {}
    for path, _ in commands():
        usage = next((line for line in help_text(path).splitlines() if "Usage:" in line), "").split(
            "[OPTIONS]"
        )[-1]
        for word in re.findall(r"[\[]?([A-Za-z_{}]+)[\]]?", usage):
            if word != "COMMAND" and word not in ("ARGS",):
                names.setdefault(word, []).append(" ".join(path))
    lower = [n for n in names if not n.isupper()]
    real_commands = {"generate", "fit", "schema", "evaluate"}
    real_named = real_commands <= set(names.get("REAL", []))
    return not lower and real_named, (
        f"argument names: {sorted(names)}; lower-case or braced: {lower or 'none'}; "
        f"REAL in {sorted(set(names.get('REAL', [])) & real_commands)}"
    )


@check("help: one name per option across commands")
def _help_option_names(work: Path) -> tuple[bool, str]:
    import click

    visible: dict[str, set[str]] = {}
    for path, command in commands():
        ctx = click.Context(command, info_name="synthpatient")  # type: ignore[arg-type]
        for param in command.get_params(ctx):  # type: ignore[attr-defined]
            if param.param_type_name == "option" and not param.hidden:
                for opt in param.opts:
                    visible.setdefault(opt, set()).add(" ".join(path))
    synonyms = [
        ("--llm-key-env", "--llm-api-key-env"),
        ("--out", "--output"),
        ("--rows", "--n-rows"),
        ("--seed", "--random-seed"),
        ("--overwrite", "--force"),
        ("--llm-base-url", "--base-url"),
    ]
    clashes = [f"{a} and {b}" for a, b in synonyms if a in visible and b in visible]
    key_env = sorted(visible.get("--llm-key-env", set()))
    return not clashes, f"synonyms both visible: {clashes or 'none'}; --llm-key-env in {key_env}"


@check("help: --version")
def _version(work: Path) -> tuple[bool, str]:
    from synthpatient import __version__

    code, text = cli(work, "--version")
    return code == 0 and text.strip() == f"synthpatient {__version__}", text.strip()


@check("help: the top-level description covers every command")
def _top_level(work: Path) -> tuple[bool, str]:
    import typer

    from synthpatient.cli import app

    text = help_text([]).split("Commands")[0]
    names = list(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    missing = [n for n in names if not re.search(rf"\b{re.escape(n)}\b", text)]
    return not missing, f"{len(names)} commands; not described: {missing or 'none'}"


@check("synthesizers list: whole names and the extras installed")
def _synthesizers_list(work: Path) -> tuple[bool, str]:
    from synthpatient.synthesizers import available_synthesizers

    code, text = cli(work, "synthesizers", "list")
    cut = [k for k in available_synthesizers() if not re.search(rf"(?<![\w…]){k}(?![\w…])", text)]
    installed = "installed" in text
    return code == 0 and not cut and installed and "…" not in text, (
        f"names cut or missing: {cut or 'none'}; says 'installed': {installed}"
    )


@check("install hints: the pip command matches how synthpatient was installed")
def _install_hint(work: Path) -> tuple[bool, str]:
    from synthpatient._install import editable_checkout, install_command
    from synthpatient._optional import import_optional
    from synthpatient.errors import MissingExtraError

    try:
        import_optional("synthpatient_no_such_module_h7", extra="deep")
        return False, "no error for a missing module"
    except MissingExtraError as exc:
        message = str(exc)
    checkout = editable_checkout()
    expected = "pip install -e" if checkout is not None else "pip install 'synthpatient["
    ok = expected in message and "torch==" in message and install_command("deep") in message
    return ok, f"installed {'editable from ' + str(checkout) if checkout else 'from a wheel'}: " + (
        message.split("Install it with: ")[-1]
    )


# -- warnings, files --------------------------------------------------------------------------
@check("warnings: opacus's 'optimal order' note does not reach the user", slow=True)
def _opacus(work: Path) -> tuple[bool, str]:
    split_data(work)
    code, text = cli(
        work, "generate", "train.csv", "-s", "tvae", "--epsilon", "3", "-p", "steps=20",
        "--rows", "20", "--out", "tvae-dp.csv", "--seed", "0",
    )  # fmt: skip
    note = "Optimal order" in text
    lines = [line for line in text.splitlines() if line.startswith("Training ")]
    return code == 0 and not note, (
        f"exit {code}; 'Optimal order' shown: {note}; training lines printed without a "
        f"terminal: {len(lines)} (e.g. {lines[0].strip()[:70] if lines else '-'!r})"
    )


@check("progress: training lines when output is not a terminal", slow=True)
def _progress(work: Path) -> tuple[bool, str]:
    split_data(work)
    code, text = cli(
        work, "generate", "train.csv", "-s", "tvae", "-p", "steps=30", "--rows", "20",
        "--out", "tvae.csv", "--seed", "0",
    )  # fmt: skip
    lines = [line.strip() for line in text.splitlines() if line.startswith("Training ")]
    return code == 0 and len(lines) >= 2, f"exit {code}; {len(lines)} lines, e.g. {lines[-1:]}"


@check("warnings: MST's warning speaks to a command-line user", slow=True)
def _mst(work: Path) -> tuple[bool, str]:
    split_data(work)
    code, text = cli(work, "generate", "train.csv", "-s", "mst", "--rows", "20", "--out", "mst.csv")
    warning = next((line for line in text.splitlines() if "privacy budget" in line), "")
    python_words = [w for w in ("ColumnSpec", "minimum/maximum/categories", "schema=") if w in text]
    ok = code == 0 and bool(warning) and not python_words and "--schema" in text
    return ok, f"exit {code}; Python words: {python_words or 'none'}; '{warning[:110]}...'"


@check("files: every command writes its files with the same permissions")
def _file_modes(work: Path) -> tuple[bool, str]:
    folder = work / "modes"
    folder.mkdir(exist_ok=True)
    runs = [
        ("datasets", "split", "diabetes", "--train", "t.csv", "--holdout", "h.csv"),
        ("generate", "t.csv", "--rows", "50", "--out", "g.csv", "--seed", "1"),
        ("fit", "t.csv", "--model", "m", "--seed", "1"),
        ("sample", "m", "--rows", "50", "--out", "s.parquet", "--seed", "1"),
        ("schema", "t.csv", "--out", "schema.json"),
        ("datasets", "export", "diabetes", "--out", "d.csv"),
        ("evaluate", "t.csv", "g.csv", "--holdout", "h.csv", "--json", "e.json",
         "--rules", "diabetes", "--flags", "flags.csv"),
        ("ask", "200 type 2 diabetes patients", "--out", "cohort", "--yes", "--seed", "1"),
    ]  # fmt: skip
    failed = []
    for args in runs:
        code, text = cli(folder, *args)
        if code != 0:
            failed.append(f"{args[0]}: {text.strip().splitlines()[-1:]}")
    modes: dict[str, list[str]] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            modes.setdefault(oct(path.stat().st_mode & 0o777), []).append(
                str(path.relative_to(folder))
            )
    summary = {mode: f"{len(files)} files, e.g. {files[0]}" for mode, files in modes.items()}
    return not failed and len(modes) == 1, f"modes {summary}; failed: {failed or 'none'}"


# -- ask and chat -----------------------------------------------------------------------------
@check("ask: prints what it understood and waits for a yes (none without a terminal)")
def _ask_waits(work: Path) -> tuple[bool, str]:
    code, text = cli(work, "ask", "200 type 2 diabetes patients", "--out", "ask-cohort")
    written = (work / "ask-cohort").exists()
    said = re.search(r"--yes", text) is not None
    return not written and said, (
        f"exit {code}, folder written: {written}; says how to confirm: {said}; "
        f"'{' '.join(text.split())[-120:]}'"
    )


CHAT = """generate 200 type 2 diabetes patients over 65 as csv
yes
add eGFR
export as FHIR
export as FHIR
quit
"""
_chat_runs: dict[str, tuple[int, list[str]]] = {}


def chat_answers(work: Path) -> tuple[int, list[str]]:
    """One chat session (request, yes, add eGFR, export as FHIR twice), shared by two checks."""
    if "answers" not in _chat_runs:
        code, text = cli(work, "chat", "--out", "chat-cohort", stdin=CHAT)
        _chat_runs["answers"] = code, [" ".join(a.split()) for a in text.split("you>")[1:]]
    return _chat_runs["answers"]


@check("chat: 'add eGFR' when eGFR is already included", slow=True)
def _chat_egfr(work: Path) -> tuple[bool, str]:
    code, answers = chat_answers(work)
    reply = (answers[2:3] or ["-"])[0]
    ok = code == 0 and "already" in reply.lower() and "egfr" in reply.lower()
    return ok, f"exit {code}; 'add eGFR' -> '{reply[:90]}'"


@check("chat: 'export as FHIR' writes FHIR once, not a copy of the cohort", slow=True)
def _chat_fhir(work: Path) -> tuple[bool, str]:
    code, answers = chat_answers(work)
    folders = sorted(p for p in work.glob("chat-cohort*") if p.is_dir())
    with_fhir = [p.name for p in folders if (p / "fhir").is_dir() and any((p / "fhir").iterdir())]
    first = work / "chat-cohort"
    copies = [
        f"{p.name}/{f.name}"
        for p in folders
        if p != first
        for f in sorted(p.glob("*.csv"))
        if (first / f.name).is_file() and (first / f.name).read_bytes() == f.read_bytes()
    ]
    second = (answers[4:5] or ["-"])[0]
    ok = code == 0 and len(with_fhir) == 1 and not copies and "already" in second
    return ok, (
        f"exit {code}; folders {[p.name for p in folders]}, FHIR in {with_fhir}; byte-identical "
        f"copies of the first cohort's tables: {copies or 'none'}; the second export: "
        f"'{second[:80]}'"
    )


@check("request: 'over 65' includes 65-year-olds (65+)")
def _over_65(work: Path) -> tuple[bool, str]:
    code, text = cli(work, "ask", "200 type 2 diabetes patients over 65", "--dry-run")
    flat = " ".join(text.split())
    ages = re.search(r"aged (\d+)(?:-(\d+)| or more)", flat)
    low = int(ages.group(1)) if ages else None
    return low == 65, f"exit {code}; read as: '{ages.group() if ages else flat[:100]}'" + (
        "; the reading is stated to the user" if "read as aged" in flat else ""
    )
