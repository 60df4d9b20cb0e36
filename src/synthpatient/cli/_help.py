"""Help pages that explain: typer's command and group classes with readable value names.

Typer writes the Python type of every option as its value name (``<bool>`` after each flag,
``--help`` included, ``<list[str]>`` after repeatable options) and required arguments as
``{data}``. Here a flag shows no value name, other options show a word (``INTEGER``, ``PATH``,
``TEXT``, or the name an option declares, such as ``COLUMN=VALUE``) and arguments are written
as their names (``REAL``), as in most command-line tools. The ``--synthesizer`` option lists
the registered synthesizers, the extra each needs and whether it is installed; that list is
built only when a help page is shown, since it imports every synthesizer class.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

# typer's type labels (without the angle brackets) -> the word shown after an option
_WORDS = {"int": "INTEGER", "float": "NUMBER", "str": "TEXT", "path": "PATH", "bool": ""}

#: the options whose help lists the registered synthesizers (filled in when help is shown)
SYNTHESIZER_OPTIONS = ("synthesizer", "synthesizers")


def _value_word(param: TyperOption, ctx: Any) -> str:
    """The value name of an option that declares none: nothing for a flag, else a word."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    try:
        label = str(param.display_type(ctx)).strip("<>")
    except (AttributeError, TypeError):  # another typer release: a plain word
        return "VALUE"
    repeated = label.startswith("list[")
    label = label.removeprefix("list[").removesuffix("]")
    word = _WORDS.get(label, label.upper())
    return f"{word}..." if repeated else word


def _no_type(ctx: Any) -> None:
    """An argument's name says what it is (``REAL``, ``MODEL``): no type column beside it."""
    return None


def _name_values(params: list[Any], ctx: Any) -> None:
    for param in params:
        if isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = _value_word(param, ctx)
        elif isinstance(param, TyperArgument):
            if param.metavar is None:
                param.metavar = str(param.name).upper()
            param.display_type_rich = _no_type  # type: ignore[method-assign]  # one instance


def _describe_synthesizers(params: list[Any]) -> None:
    """Append the registered synthesizers (extra, installed or not) to --synthesizer's help."""
    for param in params:
        if param.name in SYNTHESIZER_OPTIONS and "Registered:" not in (param.help or ""):
            param.help = f"{param.help or ''} Registered: {synthesizer_choices()}."


def synthesizer_choices() -> str:
    """``copula (core), ctgan (extra deep, installed), ...`` for the registered synthesizers."""
    from synthpatient._install import extra_installed
    from synthpatient.synthesizers import available_synthesizers, get_synthesizer_class

    parts = []
    for key in available_synthesizers():
        try:
            extra = get_synthesizer_class(key).capabilities.extra
        except ImportError:  # a backend whose module itself needs the extra
            extra = "?"
        if extra is None:
            parts.append(f"{key} (core)")
        else:
            state = "installed" if extra_installed(extra) else "not installed"
            parts.append(f"{key} (extra {extra}, {state})")
    return ", ".join(parts)


def unwrap(text: str | None) -> str | None:
    """Help text with the docstring's own line breaks removed inside each paragraph.

    typer's rich help keeps single line breaks, so a docstring wrapped at 100 columns printed
    in a narrower or wider terminal breaks mid-sentence. Paragraphs stay apart.
    """
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


def _plain_usage(command: Any, ctx: Any) -> list[str]:
    """``[OPTIONS] REAL SYNTHETIC``: arguments by name, optional ones in brackets."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = param.metavar or str(param.name).upper()
            # an optional argument whose name already has its brackets ("[REAL]") gets no more
            name = name if param.required or name.startswith("[") else f"[{name}]"
            pieces.append(f"{name}..." if param.nargs != 1 else name)
    return pieces


class Command(TyperCommand):
    """A command whose help shows value names, not Python types."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = unwrap(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _name_values(params, ctx)
        return params

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _plain_usage(self, ctx)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _describe_synthesizers(self.get_params(ctx))
        super().format_help(ctx, formatter)


class Group(TyperGroup):
    """A group (``synthpatient``, ``datasets``...) whose own options show no ``<bool>``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = unwrap(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _name_values(params, ctx)
        return params


class Typer(typer.Typer):
    """``typer.Typer`` whose commands and groups use the classes above by default, so that a
    command added with a plain ``@app.command()`` gets the same help page."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", Group)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)
