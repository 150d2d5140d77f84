"""Configuration errors: ConfigError, pydantic errors as "key path: problem. Fix: …" lines, checks across tables."""
from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
import reprlib
import typing
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import AfterValidator, BaseModel, ValidationError
from pydantic_core import PydanticCustomError, PydanticUndefined

# Natural keys: how a table in an array of tables is named in a key path (halls[XS].windows[5]).
HALL_CODE = re.compile(r"[A-Z][A-Z0-9]{0,7}")
PREFIX = re.compile(r"[A-Z]{1,2}")
LOGIN = re.compile(r"[a-z0-9_.-]{2,32}")
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


def _matches(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None


NATURAL_KEYS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "halls": ("code", _matches(HALL_CODE)),
    "departments": ("code", _matches(CODE)),
    "matters": ("code", _matches(CODE)),
    "queues": ("prefix", _matches(PREFIX)),
    "windows": ("number", lambda v: type(v) is int and v >= 1),
    "staff": ("login", _matches(LOGIN)),
    "bundles": ("code", _matches(CODE)),
    "devices": ("name", lambda v: isinstance(v, str) and v.strip() != ""),
    "reasons": ("code", _matches(CODE)),
    "extra_sessions": ("date", lambda v: isinstance(v, dt.date)),
}

_repr = reprlib.Repr()
_repr.maxstring, _repr.maxother, _repr.maxlist, _repr.maxdict = 60, 60, 8, 4


class ConfigError(Exception):
    """The configuration cannot be used; `errors` lists every problem found, each with its fix."""

    def __init__(self, source: str, errors: Iterable[str], summary: str = "is not valid") -> None:
        self.source = str(source)
        self.errors = list(dict.fromkeys(errors))
        self.summary = summary
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.source} {self.summary}:\n" + "\n".join(f"  - {e}" for e in self.errors)


def problem(text: str, fix: str, sub: str = "") -> PydanticCustomError:
    """An error for a validator to raise: what is wrong, how to fix it, and a key below the field (".B", "[1]")."""
    return PydanticCustomError("hall_config", "{text}", {"text": text, "fix": fix, "sub": sub})


def error_line(path: str, text: str, fix: str) -> str:
    return f"{path}: {text.rstrip('.')}. Fix: {fix.rstrip('.')}."


def show(value: Any) -> str:
    """A value as the person wrote it, shortened."""
    if isinstance(value, dict):
        return "a table {" + ", ".join(map(str, list(value)[:6])) + "}"
    return _repr.repr(value)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def listing(values: Iterable[Any], limit: int = 16) -> str:
    """'A, B, C' — integers as ranges ('1–14, 47'), long lists cut short."""
    values = list(dict.fromkeys(values))
    if not values:
        return "none"
    if all(type(v) is int for v in values):
        runs: list[list[int]] = []
        for v in sorted(values):
            if runs and v == runs[-1][-1] + 1:
                runs[-1].append(v)
            else:
                runs.append([v])
        return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def key_path(loc: tuple[int | str, ...], data: Any) -> str:
    """halls[XS].windows[5].queues[1] for a pydantic location, using natural keys where they are valid."""
    out, node, parent = "", data, ""
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, (list, tuple)) and 0 <= part < len(node) else None
            natural = NATURAL_KEYS.get(parent)
            if natural and isinstance(item, dict) and natural[1](item.get(natural[0])):
                out += f"[{item[natural[0]]}]"
            else:
                out += f"[{part}]"
            node = item
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
            parent = str(part)
    return out or "(top level)"


def table_name(loc: tuple[int | str, ...]) -> str:
    """The TOML header of the table at loc: [[halls.queues]], [halls.hours] or the top level."""
    name = ".".join(str(p) for p in loc if isinstance(p, str))
    if not name:
        return "the top level of the file"
    return f"[[{name}]]" if isinstance(loc[-1], int) else f"[{name}]"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        model = _model_in(field.annotation)
    return model


def _example(root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """name = value, with a value from the field's examples or default, for a fix."""
    name = next((p for p in reversed(loc) if isinstance(p, str)), "value")
    model = model_at(root, loc[: max(i for i, p in enumerate(loc) if isinstance(p, str))]) if name != "value" else None
    field = model.model_fields.get(name) if model else None
    value: Any = "…"
    if field is not None and field.examples:
        value = field.examples[0]
    elif field is not None and field.default not in (PydanticUndefined, None, ()):
        value = field.default
    return f"{name} = {toml_value(value) if value != '…' else value}"


_KINDS = {  # pydantic error type prefix -> (what it should be, how to write it)
    "int": ("a whole number", "write a number without quotes, e.g. {example}"),
    "float": ("a number", "write a number without quotes, e.g. {example}"),
    "string": ("text", 'put text in double quotes, e.g. {example}'),
    "bool": ("true or false", "write true or false without quotes"),
    "tuple": ("an array", "write an array in square brackets, e.g. {example}"),
    "list": ("an array", "write an array in square brackets, e.g. {example}"),
    "iterable": ("an array", "write an array in square brackets, e.g. {example}"),
    "model": ("a table", "write it as a table: a [header] or {{ key = value, … }}"),
    "dict": ("a table", "write it as a table: a [header] or {{ key = value, … }}"),
    "date": ("a date", "write a date as YYYY-MM-DD without quotes, e.g. 2025-10-01"),
    "time": ("a time", 'write a time as "HH:MM", e.g. "08:30"'),
}


def describe(err: Any, data: Any, root: type[BaseModel]) -> str:
    """One pydantic error as 'path: problem — context. Fix: …'."""
    loc, kind, value, ctx = tuple(err["loc"]), err["type"], err.get("input"), err.get("ctx") or {}
    path = key_path(loc, data)
    if kind == "hall_config":
        return error_line(path + ctx.get("sub", ""), ctx["text"], ctx["fix"])
    name = str(loc[-1]) if loc else "value"
    if kind == "extra_forbidden":
        model = model_at(root, loc[:-1])
        allowed = list(model.model_fields) if model else []
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        fix = f"rename it to '{close[0]}' (a typo?)" if close else "remove it or rename it to one of the allowed keys"
        return error_line(path, f"unknown key '{name}' in {table_name(loc[:-1])} — the allowed keys are "
                          f"{', '.join(allowed)}", fix)
    if kind == "missing":
        if model_at(root, loc) is not None:  # a table, or an array of tables
            header = ".".join(str(p) for p in loc if isinstance(p, str))
            parent = model_at(root, loc[:-1])
            many = parent is not None and typing.get_origin(parent.model_fields[name].annotation) is tuple
            text = f"no [[{header}]] table — at least one is required" if many else f"the [{header}] table is missing"
            return error_line(path, text, f"add {'a [[' + header + ']]' if many else 'a [' + header + ']'} table")
        return error_line(path, f"required key '{name}' is missing from {table_name(loc[:-1])}",
                          f"add {_example(root, loc)} to that table")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return error_line(path, f"{show(value)} is out of range — it must be {sign} {bound}",
                          f"use a value {sign} {bound}, e.g. {_example(root, loc)}")
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        limit = ctx.get("min_length", ctx.get("max_length"))
        what = "character(s)" if kind.startswith("string") else "item(s)"
        text = "is empty" if kind == "string_too_short" and value == "" else f"has the wrong length ({show(value)})"
        return error_line(path, f"{text} — it needs {'at least' if 'short' in kind else 'at most'} {limit} {what}",
                          f"write e.g. {_example(root, loc)}")
    if kind == "literal_error":
        return error_line(path, f"{show(value)} is not allowed here — the choices are {ctx.get('expected')}",
                          f"set {name} to one of {ctx.get('expected')}")
    if kind == "string_pattern_mismatch":
        return error_line(path, f"{show(value)} does not match the pattern {ctx.get('pattern')}",
                          f"write e.g. {_example(root, loc)}")
    prefix = kind.split("_")[0]
    if prefix in _KINDS and (kind.endswith(("_type", "_parsing")) or kind.startswith("int_from")):
        what, fix = _KINDS[prefix]
        return error_line(path, f"{show(value)} is not {what}", fix.format(example=_example(root, loc)))
    text = str(err.get("msg", kind)).removeprefix("Value error, ")
    return error_line(path, f"{show(value)}: {text}", "see the comments at the top of the shipped config.toml")


def describe_all(exc: ValidationError, data: Any, root: type[BaseModel]) -> list[str]:
    return [describe(err, data, root) for err in exc.errors()]


# ---- validators shared by the models --------------------------------------------------------------------

def pattern_check(regex: re.Pattern[str], what: str, rule: str) -> AfterValidator:
    """A validator of a key (code, prefix, login) with a readable error."""
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise problem(f"{value!r} is not a valid {what}", f"use {rule}")
        return value
    return AfterValidator(check)


def parse_hhmm(value: Any) -> dt.time:
    """'08:30' → time(8, 30)."""
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str) and (m := re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)):
        if int(m[1]) < 24 and int(m[2]) < 60:
            return dt.time(int(m[1]), int(m[2]))
        raise problem(f"{value!r} is not a time of day — hours run 00–23 and minutes 00–59",
                      'use a time from "00:00" to "23:59"')
    raise problem(f"{value!r} is not a time", 'write it as "HH:MM" with a colon, e.g. "08:30"')


# ---- checks across tables: references, duplicates, parents -------------------------------------------
# They read the raw rows, so that a reference is checked even in a row that has other errors.

TABLES = ("departments", "matters", "queues", "windows", "staff", "bundles", "devices")
_REFERENCES = (  # table, field, the table it refers to, what a row of the table is called
    ("matters", "department", "departments", "matter"), ("queues", "department", "departments", "queue"),
    ("queues", "matters", "matters", "queue"), ("windows", "queues", "queues", "window"),
    ("staff", "windows", "windows", "staff member"), ("bundles", "queues", "queues", "bundle"),
    ("devices", "windows", "windows", "device"))


def _rows(raw: dict[str, Any], table: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, row) for each table of an array: label is the natural key, or the index when that is invalid."""
    rows = raw.get(table)
    field, valid = NATURAL_KEYS[table]
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        if isinstance(row, dict):
            yield (str(row[field]) if valid(row.get(field)) else str(i)), row


def _keys(raw: dict[str, Any], table: str) -> list[Any]:
    field, valid = NATURAL_KEYS[table]
    return [row[field] for _, row in _rows(raw, table) if valid(row.get(field))]


def _duplicates(path: str, rows: Any, table: str, toml_table: str) -> Iterator[str]:
    field, valid = NATURAL_KEYS[table]
    first: dict[Any, int] = {}
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        key = row.get(field) if isinstance(row, dict) else None
        if not valid(key):
            continue
        if key in first:
            yield error_line(f"{path}[{key}]", f"duplicate {field} {key!r} — the {ordinal(first[key] + 1)} and "
                             f"{ordinal(i + 1)} [[{toml_table}]] both use it",
                             f"give each [[{toml_table}]] its own {field}")
        first.setdefault(key, i)


def _check_hall(path: str, code: str, raw: dict[str, Any]) -> Iterator[str]:
    for table in TABLES:
        yield from _duplicates(f"{path}.{table}", raw.get(table), table, f"halls.{table}")
    known = {table: _keys(raw, table) for table in TABLES}
    # while a row's own key is invalid (reported already), references to that table are not judged
    incomplete = {table for table in TABLES if len(known[table]) < len(list(_rows(raw, table)))}
    incomplete |= {table for table in ("queues", "windows") if not known[table]}  # reported as required
    for table, field, target, owner in _REFERENCES:
        key_field, valid = NATURAL_KEYS[target]
        if target in incomplete:
            continue
        for label, row in _rows(raw, table):
            value = row.get(field)
            refs = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for i, ref in refs:
                if not valid(ref) or ref in known[target]:
                    continue  # a malformed reference is reported by the field validation
                at = f"{path}.{table}[{label}].{field}" + ("" if i is None else f"[{i}]")
                has = f"has {target} {listing(known[target])}" if known[target] else f"has no {target}"
                yield error_line(at, f"unknown {target.rstrip('s')} {ref!r} — hall {code} {has}",
                                 f"add a [[halls.{target}]] with {key_field} = "
                                 f"{toml_value(ref)}, or remove {ref!r} from this {owner}")
    served = {p for _, row in _rows(raw, "windows") if isinstance(row.get("queues"), list) for p in row["queues"]
              if isinstance(p, str)}
    for prefix in known["queues"]:
        if prefix not in served and "windows" not in incomplete:
            yield error_line(f"{path}.queues[{prefix}]", f"no window serves queue {prefix!r} — its tickets could never "
                             "be called", f'add "{prefix}" to the queues of a [[halls.windows]], or remove this queue')


def check_halls(halls: list[Any]) -> list[str]:
    """Problems across tables and halls: duplicate keys, unknown references, parents."""
    return list(_check_halls(halls))


def _check_halls(halls: list[Any]) -> Iterator[str]:
    yield from _duplicates("halls", halls, "halls", "halls")
    is_code = NATURAL_KEYS["halls"][1]
    parents = {row["code"]: row.get("parent") for row in halls if isinstance(row, dict) and is_code(row.get("code"))}
    in_cycle: set[str] = set()
    for i, row in enumerate(halls):
        if not isinstance(row, dict):
            continue
        code = row.get("code")
        path = f"halls[{code}]" if is_code(code) else f"halls[{i}]"
        yield from _check_hall(path, code if is_code(code) else f"#{i}", row)
        parent = row.get("parent")
        if not is_code(parent) or not is_code(code):
            continue  # a malformed parent is reported by the field validation
        if parent not in parents:
            yield error_line(f"{path}.parent", f"unknown parent hall {parent!r} — the halls are {listing(parents)}",
                             f'set parent to one of those codes, or add a [[halls]] with code = "{parent}"')
            continue
        chain = [code]
        while (up := parents.get(chain[-1])) in parents and up not in chain:
            chain.append(up)
        if up == code and code not in in_cycle:
            in_cycle.update(chain)
            yield error_line(f"{path}.parent", f"parent cycle {' → '.join(chain + [code])}",
                             "remove parent from the top hall of the chain (the city hall has none)")


def toml_error(message: str, text: str) -> str:
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    reason = message[: m.start()] if m else re.sub(r"\s*\(at end of document\)$", "", message)
    where = f"line {m[1]}, column {m[2]}" if m else "at the end of the file"
    lines = text.splitlines()
    quoted = f" in: {lines[int(m[1]) - 1].strip()}" if m and 0 < int(m[1]) <= len(lines) else ""
    return error_line(where, f"{reason}{quoted}", 'correct the TOML syntax there — text needs double quotes '
                      '(name = "综合受理", hours "08:30-12:00"), tables are [name], arrays of tables [[name]]')


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed file, or a ConfigError saying why it cannot be read."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [f"no such file (looked for {path.absolute()}). Fix: pass --config PATH or "
                                      "set HALL_CONFIG=PATH to the hall's config.toml (the repository root has a "
                                      "demo one)."],
                          summary="cannot be read") from None
    except OSError as exc:
        raise ConfigError(str(path), [f"{exc.strerror or exc}. Fix: check the path and its permissions, or pass "
                                      "--config PATH / set HALL_CONFIG=PATH."], summary="cannot be read") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"byte {exc.start} is not UTF-8. Fix: save the file as UTF-8."],
                          summary="cannot be read") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [toml_error(str(exc), text)], summary="is not valid TOML") from None
    return data
