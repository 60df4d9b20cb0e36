"""A fitted model on disk: a folder with ``manifest.json`` and ``arrays.npz``; never pickle.

``manifest.json`` is what a person reads, and may be shown or shared: the format, synthesizer
key and version, parameters, the number of training rows, the privacy spent, the schema
*without* observed values, and an inventory of the arrays. Nothing learned from the data is
in it. Everything learned (the full schema with observed bounds and categories, the backend's
JSON state, its arrays) is in ``arrays.npz``; the JSON parts as one UTF-8 byte array under
:data:`LEARNED`.

A model folder is untrusted input. Arrays are loaded with ``allow_pickle=False``, so a folder
from someone else cannot run code on load, and every array is checked against the manifest's
inventory (present, shape, dtype, finite where it was, checksum) before a backend sees it. A
bad folder is refused with one :class:`ModelFileError` line. :func:`build_model` checks a
model's content wherever it comes from: a folder (:func:`restore`) or another model's state
(the hybrid's base, through ``Synthesizer.from_saved``).

The checksums are SHA-256 of a random salt (the array :data:`SALT`, itself checked by its
plain SHA-256) followed by the array's bytes. Without the salt, the plain hash of a small
array (a column's bin edges, a binary column's counts) would let anyone holding only the
manifest try every plausible value until one hashes alike, and read an observed minimum off it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import secrets
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synthpatient._io import atomic_folder
from synthpatient.errors import (
    DataError,
    ModelFileError,
    SynthPatientError,
    UnknownSynthesizerError,
)

if TYPE_CHECKING:
    from synthpatient.synthesizers.base import Synthesizer

MODEL_FORMAT = "synthpatient.model/2"
OLD_FORMATS = ("synthpatient.model/1",)
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
#: Reserved array names (backends' names may not start with ``__``).
LEARNED = "__learned__"
SALT = "__salt__"
RESERVED_PREFIX = "__"
#: Manifest entries and the JSON types they must have.
_ENTRIES: dict[str, tuple[type, ...]] = {
    "format": (str,),
    "synthesizer": (str,),
    "synthpatient_version": (str,),
    "params": (dict,),
    "n_training_rows": (int,),
    "schema": (dict,),
    "privacy": (dict, type(None)),
    "arrays": (dict,),
}
_FIX = "Refit the model or restore the folder from a copy."
#: What a backend's ``_set_state`` may raise on a malformed state (JSON and numpy errors are
#: ValueErrors; torch raises RuntimeError); each becomes one ModelFileError line.
_STATE_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    IndexError,
    AttributeError,
    ArithmeticError,
    RuntimeError,
    AssertionError,
)
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,59}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class SavedModel:
    """What a model folder holds (checked, when read), or what ``Synthesizer.to_saved`` gives.

    Attributes:
        manifest: ``manifest.json`` as written (nothing learned from the data; in memory,
            without the format and the arrays' inventory, which writing adds).
        schema: The full schema as a dict, observed values included.
        state: The backend's JSON state.
        arrays: The backend's arrays (the reserved ones left out).
    """

    manifest: dict[str, Any]
    schema: dict[str, Any]
    state: dict[str, Any]
    arrays: dict[str, np.ndarray]


def nest(model: Synthesizer, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A fitted model as another model's state holds it (the hybrid's base, auto's choice, the
    sequential model's patients copula): what its own ``save`` writes, its arrays under
    ``prefix`` so that the outer folder's checks (inventory, checksums) cover them."""
    saved = model.to_saved()
    manifest = saved.manifest
    nested = {
        "key": manifest["synthesizer"],
        "params": manifest["params"],
        "schema": saved.schema,
        "n_training_rows": manifest["n_training_rows"],
        "privacy": manifest["privacy"],
        "state": saved.state,
    }
    return nested, {prefix + k: v for k, v in saved.arrays.items()}


def unnest(
    nested: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str, *, key: str | None = None
) -> SavedModel:
    """What :func:`nest` stored, as a :class:`SavedModel` for ``from_saved`` to check and build
    (``key``: the class when an older state does not name it)."""
    from synthpatient.schema import Schema

    schema = Schema.from_dict(nested["schema"])
    return SavedModel(
        {
            "synthesizer": nested.get("key", key),
            "params": nested["params"],
            "n_training_rows": nested["n_training_rows"],
            "privacy": nested.get("privacy"),
            "schema": schema.to_dict(include_observed=False),
        },
        nested["schema"],
        nested["state"],
        {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)},
    )


def expect(ok: bool, what: str) -> None:
    """Raise :class:`ModelFileError` saying ``what`` is wrong with a saved state unless ``ok``.

    For backends' ``_set_state``: ``Synthesizer.load`` adds the folder and what to do. ``what``
    names arrays, entries and columns, never a value.
    """
    if not ok:
        raise ModelFileError(what)


def check_sizes(config: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str) -> None:
    """Refuse a saved network config that no stored weight could fit, before it is built.

    Every size a network is built from is a dimension of one of its weights, and it has no
    more layers than weights; a tampered width or depth would otherwise allocate without
    bound before the weights' shapes are compared. Every entry must be a number (or a list of
    numbers) between 0 and the size of the largest weight stored under ``prefix``.
    """
    stored = [a for name, a in arrays.items() if name.startswith(prefix + ".")]
    largest = max((int(np.asarray(a).size) for a in stored), default=0)
    for key, value in config.items():
        values = value if isinstance(value, list) else [value]
        expect(
            len(values) <= len(stored)
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= largest
                for v in values
            ),
            f"the network setting '{_show(key)}' fits none of its weights",
        )


def write_model(
    path: Path,
    manifest: dict[str, Any],
    *,
    schema: dict[str, Any],
    state: dict[str, Any],
    arrays: dict[str, np.ndarray],
    overwrite: bool,
) -> None:
    """Write atomically: the folder appears complete, or not at all.

    Args:
        path: The model folder.
        manifest: What may be read by anyone (no value learned from the data).
        schema: The full schema, observed values included (stored in the arrays).
        state: The backend's JSON state (stored in the arrays).
        arrays: The backend's numeric arrays.
        overwrite: Replace an existing folder.
    """
    stored: dict[str, np.ndarray] = {}
    for name, array in arrays.items():
        if name.startswith(RESERVED_PREFIX):
            raise ValueError(f"state array '{name}' uses the reserved prefix {RESERVED_PREFIX!r}")
        stored[name] = np.asarray(array)
        if stored[name].dtype == object:
            raise TypeError(f"state array '{name}' has dtype object, which would need pickle")
    learned = json.dumps(
        {"schema": schema, "state": state}, ensure_ascii=False, default=_numpy_scalar
    )
    stored[LEARNED] = np.frombuffer(learned.encode("utf-8"), dtype=np.uint8)
    salt = secrets.token_bytes(32)
    stored[SALT] = np.frombuffer(salt, dtype=np.uint8)
    inventory = {
        name: _describe(array, salt if name != SALT else b"") for name, array in stored.items()
    }
    text = json.dumps(
        {"format": MODEL_FORMAT, **manifest, "arrays": inventory}, indent=2, default=_numpy_scalar
    )
    with atomic_folder(path, overwrite=overwrite) as tmp:
        # numpy's stub types **arrays against its keyword allow_pickle too; they are arrays
        np.savez(tmp / ARRAYS, **stored)  # type: ignore[arg-type]  # stub: **arrays vs allow_pickle
        (tmp / MANIFEST).write_text(text + "\n", encoding="utf-8")


def read_model(path: Path) -> SavedModel:
    """Read and check a model folder; anything wrong is one :class:`ModelFileError` line."""
    if not path.is_dir():
        raise ModelFileError(
            f"No saved model at '{path}': expected a folder written by "
            "`synthpatient fit` or Synthesizer.save()."
        )
    manifest = _read_manifest(path)
    arrays = _read_arrays(path, manifest["arrays"])
    learned = arrays.pop(LEARNED)
    del arrays[SALT]
    try:
        if learned.ndim != 1:
            raise ValueError("not a byte string")
        content = json.loads(learned.tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise damaged(path, f"array '{LEARNED}' is not the model's JSON") from exc
    if (
        not isinstance(content, dict)
        or not isinstance(content.get("schema"), dict)
        or not isinstance(content.get("state"), dict)
    ):
        raise damaged(path, f"array '{LEARNED}' lacks the schema or the state")
    return SavedModel(manifest, content["schema"], content["state"], arrays)


def _numpy_scalar(value: object) -> object:
    """numpy scalars (a seed given as ``np.int64(3)``) as the Python numbers they are."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def restore(
    path: Path, expected: type[Synthesizer], endpoint: dict[str, Any] | None = None
) -> Synthesizer:
    """The fitted synthesizer saved in ``path``, checked; ``expected`` is the class asked for;
    ``endpoint`` the server parameters the caller gives again (see ``Synthesizer.load``).

    Raises:
        ModelFileError: one line saying what is wrong (never a value) and what to do.
    """
    from synthpatient.synthesizers.base import Synthesizer
    from synthpatient.synthesizers.registry import available_synthesizers, get_synthesizer_class

    saved = read_model(path)
    key = saved.manifest["synthesizer"]
    try:
        klass = get_synthesizer_class(key)
    except UnknownSynthesizerError:
        raise ModelFileError(
            f"The model in '{path}' names a synthesizer '{_show(key)}' that this version of "
            f"synthpatient does not have (it has {', '.join(available_synthesizers())}). Refit "
            "the model, or load it with the synthpatient version that saved it "
            f"({_show(saved.manifest['synthpatient_version'])})."
        ) from None
    if expected is not Synthesizer and not issubclass(klass, expected):
        raise ModelFileError(f"'{path}' holds a {klass.__name__}, not a {expected.__name__}.")
    try:
        return build_model(saved, klass, endpoint or {})
    except ModelFileError as exc:  # what is wrong, without the folder: said here with it
        raise damaged(path, str(exc)) from exc


def build_model(
    saved: SavedModel, expected: type[Synthesizer], endpoint: dict[str, Any]
) -> Synthesizer:
    """The synthesizer ``saved`` describes (a folder's content, or a model nested in another
    model's state), checked against itself before it is returned.

    Raises:
        ModelFileError: what is wrong, one line, without the folder (``restore`` adds it).
        InvalidParameterError: an ``endpoint`` keyword the class does not take on load.
    """
    from synthpatient.schema import Schema
    from synthpatient.synthesizers.base import Synthesizer
    from synthpatient.synthesizers.registry import get_synthesizer_class

    manifest = saved.manifest
    for entry in ("synthesizer", "params", "n_training_rows", "schema", "privacy"):
        types = _ENTRIES[entry]
        expect(
            entry in manifest
            and isinstance(manifest[entry], types)
            and not isinstance(manifest[entry], bool),
            f"the entry '{entry}' is missing or malformed",
        )
    expect(manifest["n_training_rows"] >= 0, "the entry 'n_training_rows' is negative")
    klass: type[Synthesizer] = expected
    if getattr(expected, "key", None) != manifest["synthesizer"]:  # found by its key
        try:
            klass = get_synthesizer_class(manifest["synthesizer"])
        except UnknownSynthesizerError:
            raise ModelFileError(
                f"it names a synthesizer '{_show(manifest['synthesizer'])}' "
                "that this version of synthpatient does not have"
            ) from None
    expect(
        expected is Synthesizer or issubclass(klass, expected),
        f"it holds a {klass.__name__}, not a {expected.__name__}",
    )
    unknown = sorted(set(manifest["params"]) - set(klass._param_names()))
    expect(
        not unknown,
        f"its parameters name '{_show(unknown[0]) if unknown else ''}', which "
        f"{klass.__name__} does not take",
    )
    params, unconfirmed = _with_endpoint(klass, manifest["params"], endpoint)
    try:
        model = klass(**params)
    except (TypeError, ValueError) as exc:  # InvalidParameterError is a ValueError
        raise ModelFileError(
            f"its parameters do not fit {klass.__name__} ({_reason(exc)})"
        ) from exc
    try:
        schema = Schema.from_dict(saved.schema)
        public = Schema.from_dict(manifest["schema"]).to_dict()
    except DataError as exc:
        raise ModelFileError("its schema is not valid") from exc
    expect(
        public == schema.to_dict(include_observed=False),
        f"the schema in {MANIFEST} differs from the one saved with the model",
    )
    model.schema_ = schema
    model.n_training_rows_ = manifest["n_training_rows"]
    try:
        model._set_state(saved.state, saved.arrays)
    except ModelFileError:  # a backend's own check (see expect)
        raise
    except _STATE_ERRORS as exc:
        raise ModelFileError(
            f"its learned state does not fit a {klass.__name__} ({_reason(exc)})"
        ) from exc
    # a nested model (the hybrid's base) reports its own saved endpoints the same way
    unconfirmed += getattr(model, "unconfirmed_endpoints_", [])
    # an attribute only loaded models have (Synthesizer reads it with getattr, default none)
    model.unconfirmed_endpoints_ = unconfirmed  # type: ignore[attr-defined]  # loaded models only
    return model


def _with_endpoint(
    klass: type[Synthesizer], saved: dict[str, Any], given: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The saved parameters with the endpoint ones the caller gave, and the names of saved
    endpoint parameters nobody confirmed (a value other than the class default)."""
    from synthpatient.errors import InvalidParameterError

    allowed = klass.endpoint_params
    extra = sorted(set(given) - set(allowed))
    if extra:
        takes = ", ".join(allowed) if allowed else "no such parameters"
        raise InvalidParameterError(
            f"load() got '{extra[0]}'; a {klass.__name__} takes {takes} when loaded."
        )
    signature = inspect.signature(klass.__init__).parameters
    defaults = {name: p.default for name, p in signature.items()}
    unconfirmed = [
        name
        for name in allowed
        if name not in given and saved.get(name, defaults.get(name)) != defaults.get(name)
    ]
    return {**saved, **given}, unconfirmed


def _reason(exc: BaseException) -> str:
    """What went wrong, without quoting the file's content: our own errors say it without
    values; a missing key is named when it looks like one; for the rest, only the kind."""
    if isinstance(exc, SynthPatientError):
        return one_line(str(exc), 200)
    if (
        isinstance(exc, KeyError)
        and exc.args
        and isinstance(exc.args[0], str)
        and _PLAIN_KEY.fullmatch(exc.args[0])
    ):
        return f"the entry '{exc.args[0]}' is missing"
    return f"{type(exc).__name__} while restoring it"


def damaged(path: Path, what: str) -> ModelFileError:
    """The one-line error for a damaged folder (``what``: which part, never a value)."""
    return ModelFileError(f"The model in '{path}' is damaged: {one_line(what)}. {_FIX}")


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _show(name: object) -> str:
    """A name from the file, safe to print: escaped control characters, at most 60 chars."""
    text = repr(str(name))[1:-1]
    return text if len(text) <= 60 else text[:57] + "..."


def _read_manifest(path: Path) -> dict[str, Any]:
    where = path / MANIFEST
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ModelFileError(f"'{path}' has no {MANIFEST}; it is not a saved model.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise damaged(path, f"{MANIFEST} cannot be read as UTF-8 text") from exc
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise damaged(path, f"{MANIFEST} is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    except RecursionError as exc:  # deeply nested brackets
        raise damaged(path, f"{MANIFEST} is nested too deeply") from exc
    if not isinstance(manifest, dict):
        raise damaged(path, f"{MANIFEST} is not a JSON object")
    found = manifest.get("format")
    if found != MODEL_FORMAT:
        if found in OLD_FORMATS:
            raise ModelFileError(
                f"'{path}' was saved by an older synthpatient (model format {found!r}, which "
                f"kept real values in its manifest); this version reads {MODEL_FORMAT!r}. "
                "Refit the model."
            )
        shown = f"'{_show(found)}'" if isinstance(found, str) else "no format"
        raise ModelFileError(
            f"'{path}' holds {shown}, not a synthpatient model of format "
            f"{MODEL_FORMAT!r}. Refit the model."
        )
    for key, types in _ENTRIES.items():
        value = manifest.get(key)
        if key not in manifest or not isinstance(value, types) or isinstance(value, bool):
            need = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise damaged(path, f"{MANIFEST} entry '{key}' is missing or not a {need}")
    extra = sorted(set(manifest) - set(_ENTRIES))
    if extra:
        raise damaged(path, f"{MANIFEST} has an unexpected entry '{_show(extra[0])}'")
    if manifest["n_training_rows"] < 0:
        raise damaged(path, f"{MANIFEST} entry 'n_training_rows' is negative")
    for name, entry in manifest["arrays"].items():
        if not _valid_entry(entry):
            raise damaged(
                path, f"the inventory entry of array '{_show(name)}' in {MANIFEST} is malformed"
            )
    for name in (LEARNED, SALT):
        if name not in manifest["arrays"]:
            raise damaged(path, f"{MANIFEST} does not list the array '{name}'")
    return manifest


def _valid_entry(entry: object) -> bool:
    if not isinstance(entry, dict) or set(entry) != {"shape", "dtype", "finite", "sha256"}:
        return False
    shape, dtype = entry["shape"], entry["dtype"]
    return (
        isinstance(shape, list)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
        and isinstance(dtype, str)
        and isinstance(entry["finite"], bool)
        and isinstance(entry["sha256"], str)
        and bool(_HEX64.fullmatch(entry["sha256"]))
    )


def _read_arrays(path: Path, inventory: dict[str, dict[str, Any]]) -> dict[str, np.ndarray]:
    """Every array of the archive, each checked against its inventory entry."""
    unreadable = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)
    try:
        archive = np.load(path / ARRAYS, allow_pickle=False)
    except FileNotFoundError as exc:
        raise damaged(path, f"{ARRAYS} is missing") from exc
    except unreadable as exc:
        raise damaged(path, f"{ARRAYS} is not a readable array archive") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a bare .npy renamed (already read)
        raise damaged(path, f"{ARRAYS} is not an archive of named arrays")
    arrays: dict[str, np.ndarray] = {}
    with archive:
        missing = sorted(set(inventory) - set(archive.files))
        if missing:
            raise damaged(path, f"array '{_show(missing[0])}' is missing from {ARRAYS}")
        extra = sorted(set(archive.files) - set(inventory))
        if extra:
            raise damaged(
                path, f"{ARRAYS} holds an array '{_show(extra[0])}' that {MANIFEST} does not list"
            )
        salt = b""
        for name in sorted(inventory, key=lambda n: n != SALT):  # the salt first
            try:
                array = archive[name]
            except unreadable as exc:
                raise damaged(path, f"array '{_show(name)}' cannot be read") from exc
            problem = _check(array, inventory[name], salt)
            if problem:
                raise damaged(path, f"array '{_show(name)}' {problem}")
            if name == SALT:
                salt = array.tobytes()
            arrays[name] = array
    return arrays


def _describe(array: np.ndarray, salt: bytes) -> dict[str, Any]:
    return {
        "shape": list(array.shape),
        "dtype": array.dtype.str,
        "finite": bool(_all_finite(array)),
        "sha256": _digest(array, salt),
    }


def _check(array: np.ndarray, entry: dict[str, Any], salt: bytes) -> str | None:
    """What is wrong with ``array`` given its inventory entry, or None."""
    if list(array.shape) != entry["shape"]:
        return f"has shape {tuple(array.shape)}, the manifest says {tuple(entry['shape'])}"
    if array.dtype.str != entry["dtype"]:
        return f"has dtype {array.dtype.str}, the manifest says {_show(entry['dtype'])}"
    if entry["finite"] and not _all_finite(array):
        return "holds NaN or infinite values where the saved model had none"
    if _digest(array, salt) != entry["sha256"]:
        return "does not match its checksum (it was changed after saving)"
    return None


def _all_finite(array: np.ndarray) -> bool:
    if array.dtype.kind in "fc":
        return bool(np.isfinite(array).all())
    return True


def _digest(array: np.ndarray, salt: bytes) -> str:
    return hashlib.sha256(salt + array.tobytes(order="C")).hexdigest()
