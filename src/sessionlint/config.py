"""Configuration: the ``[tool.sessionlint]`` table of ``pyproject.toml``.

:func:`load_config` finds and reads the configuration, validating every key (an unknown key or
a value of the wrong type is a :class:`ConfigError` naming the key and the file).
:class:`Config` is the immutable result; :meth:`Config.merged` applies command-line overrides.

Rule selection follows ruff: ``select``, ``extend-select`` and ``ignore`` take rule codes or
prefixes (``SL``, ``SL1``, ``SL10``, ``SL101``) or ``ALL``, and for each rule the most specific
matching selector decides (an ``ignore`` wins a tie).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from sessionlint.globs import GlobError, compile_glob

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "ALWAYS_ON",
    "CONFIG_KEYS",
    "STANDALONE_CONFIG_NAMES",
    "Config",
    "ConfigError",
    "is_foreign_code",
    "is_valid_selector",
    "load_config",
]

#: Every key of ``[tool.sessionlint]`` (kebab-case, as written in TOML) -> what it does.
CONFIG_KEYS: dict[str, str] = {
    "select": "Rule codes or prefixes to enable, replacing the default selection.",
    "ignore": "Rule codes or prefixes to disable.",
    "extend-ignore": "Rule codes or prefixes to disable, added to `ignore` (as in ruff).",
    "extend-select": "Rule codes or prefixes to enable on top of `select` or the default.",
    "per-file-ignores": "Table mapping file globs to rule codes or prefixes ignored in them.",
    "exclude": "Gitignore-style patterns of files and folders to skip, replacing the defaults.",
    "extend-exclude": "Gitignore-style patterns to skip on top of `exclude` or the defaults.",
    "target-fastapi": 'The FastAPI version the project runs on (for example "0.115").',
    "target-sqlalchemy": 'The SQLAlchemy version the project runs on (for example "2.0").',
    "sql-interpolation": 'SL501: "default" reports SQL built from values proven to come from '
    'outside the program; "strict" also warns on every non-constant value.',
    "session-factories": "Qualified names of callables or objects that create sync sessions.",
    "async-session-factories": "Qualified names of callables or objects that create async "
    "sessions.",
    "session-dependencies": "Qualified names of FastAPI dependencies that yield a sync session.",
    "async-session-dependencies": "Qualified names of FastAPI dependencies that yield an async "
    "session.",
}

#: Names of standalone configuration files, whose top level is the sessionlint table.
#: Standalone configuration files, in the order they win within one folder.
STANDALONE_CONFIG_NAMES = (".sessionlint.toml", "sessionlint.toml")

_SELECTOR = re.compile(r"^(?:ALL|SL[0-9]{0,3})$")
#: A code or prefix of some tool (``E501``, ``W``, ``B008``, ``PLR0913``, ``SL101``) ...
_CODE_LIKE = re.compile(r"^[A-Z]+[0-9]*$")
#: ... and sessionlint's own: ``SL`` followed by digits only (``SLF001`` is ruff's).
_OWN_CODE = re.compile(r"^SL[0-9]*$")

#: Rules that ``select`` and prefixes never turn off: only their full code in ``ignore`` (or
#: in ``per-file-ignores``) does. ``SL001``: a file that cannot be parsed is never skipped
#: without a word, like ruff's syntax errors.
ALWAYS_ON: frozenset[str] = frozenset({"SL001"})
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_QUALIFIED_NAME = re.compile(rf"^{_IDENTIFIER}(?:\.{_IDENTIFIER})+$")


class ConfigError(Exception):
    """An invalid configuration: unreadable file, TOML syntax error, unknown key, bad value.

    ``path`` is the file at fault (``None`` for command-line values) and ``key`` the key.
    """

    def __init__(self, message: str, *, path: Path | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.key = key


# -- rule selectors -------------------------------------------------------------------------


def is_foreign_code(selector: str) -> bool:
    """Whether ``selector`` is another tool's rule code or prefix (``E501``, ``W``, ``B008``,
    ``PLR0913``, ruff's ``SLF001``): ignored silently wherever sessionlint takes selectors, so
    one list can be shared with flake8 and ruff. ``SL`` followed by digits is sessionlint's
    own, and stays an error when it names no rule."""
    return selector != "ALL" and bool(_CODE_LIKE.match(selector)) and not _OWN_CODE.match(selector)


def is_valid_selector(selector: str) -> bool:
    """Whether ``selector`` is ``ALL``, ``SL`` or a rule code prefix such as ``SL1``/``SL101``."""
    return bool(_SELECTOR.match(selector))


def _specificity(selector: str) -> int:
    # ALL < SL < SL1 < SL10 < SL101, as in ruff.
    return 0 if selector == "ALL" else len(selector)


def _matches(selector: str, code: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def _within(inner: str, outer: str) -> bool:
    """Whether every code ``inner`` matches is also matched by ``outer``."""
    return outer == "ALL" or (inner != "ALL" and inner.startswith(outer))


def _selector_error(selector: object, where: str, path: Path | None, key: str) -> ConfigError:
    hint = ""
    if isinstance(selector, str):
        candidate = selector.strip().upper()
        if candidate != selector and is_valid_selector(candidate):
            hint = f" (did you mean {candidate!r}?)"
    return ConfigError(
        f"{where}invalid rule selector {selector!r} in {key!r}: expected 'ALL', 'SL' or a rule "
        f"code or prefix such as 'SL1' or 'SL101'{hint}",
        path=path,
        key=key,
    )


# -- per-file-ignores globs -----------------------------------------------------------------


def _normal_glob(pattern: str) -> str:
    return pattern.strip().replace("\\", "/").removeprefix("./").rstrip("/")


def _absolute(path: Path) -> Path:
    """``path`` made absolute and normalised (``..`` removed) without resolving symlinks."""
    return Path(os.path.abspath(path))


def _glob_matches(pattern: str, path: Path, root: Path) -> bool:
    """Whether a per-file-ignores glob matches ``path`` (absolute), with ``root`` the base.

    Like ruff, a pattern matches the file's path relative to ``root`` or, when it has no
    ``/``, the bare file name; a pattern also matches every file below a folder it matches
    (so a bare name such as ``migrations`` applies to every ``migrations`` folder).
    """
    pattern = _normal_glob(pattern)
    regex = compile_glob(pattern)
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = ()
    if "/" not in pattern:
        # A bare name matches the file name, or the name of any folder it is in (below root).
        names = (path.name, *parts[:-1])
        return any(regex.match(name) for name in names)
    return any(regex.match("/".join(parts[:k])) for k in range(len(parts), 0, -1))


# -- the configuration ----------------------------------------------------------------------


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class Config:
    """The resolved settings of a run (TOML keys in snake_case)."""

    select: tuple[str, ...] | None = None
    """``None``: the default selection (every rule whose ``default_enabled`` is true)."""
    ignore: tuple[str, ...] = ()
    extend_ignore: tuple[str, ...] = ()
    """Added to ``ignore`` (ruff's and flake8's spelling, for a shared list)."""
    extend_select: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] | None = None
    """``None``: the default excludes (:data:`sessionlint.files.DEFAULT_EXCLUDES`)."""
    extend_exclude: tuple[str, ...] = ()
    target_fastapi: str | None = None
    target_sqlalchemy: str | None = None
    sql_interpolation: str = "default"
    """SL501's mode: ``"default"`` (proven outside input only) or ``"strict"``."""
    session_factories: tuple[str, ...] = ()
    async_session_factories: tuple[str, ...] = ()
    session_dependencies: tuple[str, ...] = ()
    async_session_dependencies: tuple[str, ...] = ()
    root: Path | None = None
    """The directory of the file the configuration came from; patterns are relative to it."""
    source: Path | None = None
    """The file the configuration was read from (``None``: defaults)."""

    # -- rule selection ---------------------------------------------------------------------

    def is_selected(self, code: str, *, default_enabled: bool = True) -> bool:
        """Whether the rule ``code`` is enabled by ``select``/``extend-select``/``ignore``.

        The most specific matching selector wins (``ALL`` < ``SL`` < ``SL1`` < ``SL10`` <
        ``SL101``); when an enabling and an ignoring selector are equally specific, the ignore
        wins. Without ``select``, the rules with ``default_enabled`` are implicitly selected
        (less specific than any selector, so ``ignore = ["ALL"]`` turns them off too).
        A rule of :data:`ALWAYS_ON` is enabled unless ``ignore`` names its full code.
        """
        ignore = (*self.ignore, *self.extend_ignore)
        if code in ALWAYS_ON:
            return code not in ignore
        best = -2
        enabled = False
        if self.select is None and default_enabled:
            best, enabled = -1, True
        for selector in (*(self.select or ()), *self.extend_select):
            if _matches(selector, code) and _specificity(selector) > best:
                best, enabled = _specificity(selector), True
        for selector in ignore:
            if _matches(selector, code) and _specificity(selector) >= best:
                best, enabled = _specificity(selector), False
        return enabled

    def ignored_for_path(self, path: Path) -> frozenset[str]:
        """The selectors ``per-file-ignores`` turns off for ``path``.

        Globs are matched against the path relative to :attr:`root` (the current directory
        when there is none); a glob without ``/`` is matched against the file name and the
        names of the folders it is in. ``*`` also matches ``/`` (as in ruff) and a glob that
        matches a folder applies to every file below it. A glob starting with ``!`` applies to
        the files it does *not* match.
        """
        if not self.per_file_ignores:
            return frozenset()
        absolute = _absolute(path)
        root = _absolute(self.root) if self.root is not None else _absolute(Path.cwd())
        found: set[str] = set()
        for pattern, selectors in self.per_file_ignores:
            negated = pattern.startswith("!")
            matched = _glob_matches(pattern[1:] if negated else pattern, absolute, root)
            if matched != negated:
                found.update(selectors)
        return frozenset(found)

    def is_ignored_for(self, code: str, path: Path) -> bool:
        """Whether ``per-file-ignores`` turns the rule ``code`` off in ``path`` (a rule of
        :data:`ALWAYS_ON` only when its full code is listed)."""
        ignored = self.ignored_for_path(path)
        if code in ALWAYS_ON:
            return code in ignored
        return any(_matches(s, code) for s in ignored)

    def is_enabled_for(self, code: str, path: Path, *, default_enabled: bool = True) -> bool:
        """:meth:`is_selected` and not :meth:`is_ignored_for` ``path``."""
        return self.is_selected(code, default_enabled=default_enabled) and not (
            self.is_ignored_for(code, path)
        )

    # -- versions ---------------------------------------------------------------------------

    @property
    def fastapi_version(self) -> Version | None:
        """:attr:`target_fastapi` parsed, or ``None``."""
        return Version(self.target_fastapi) if self.target_fastapi is not None else None

    @property
    def sqlalchemy_version(self) -> Version | None:
        """:attr:`target_sqlalchemy` parsed, or ``None``."""
        return Version(self.target_sqlalchemy) if self.target_sqlalchemy is not None else None

    # -- command-line overrides -------------------------------------------------------------

    def merged(self, **overrides: Any) -> Config:
        """A copy with command-line overrides applied; an override that is ``None`` is ignored.

        Rule selection is layered like ruff's: the overrides form a new layer on top of the
        configuration. ``select`` replaces the whole selection (the configuration's
        ``select``, ``extend-select``, ``ignore`` and ``extend-ignore`` are dropped);
        ``extend_select`` and ``ignore`` (or ``extend_ignore``, the same) take precedence
        over every configured selector they cover (so
        ``ignore=["SL1"]`` turns off ``SL101`` even if the file selects ``SL101``).
        ``exclude``, ``target_*``, ``root`` and ``source`` replace; ``extend_exclude``,
        ``per_file_ignores`` (a mapping or pairs) and the session names extend.
        Invalid values raise :class:`ConfigError`.
        """
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise TypeError(f"Config.merged() got unknown overrides: {', '.join(unknown)}")
        given = {k: v for k, v in overrides.items() if v is not None}
        changes: dict[str, Any] = {}

        cli_select = _cli_selectors(given, "select")
        cli_extend = _cli_selectors(given, "extend_select")
        cli_ignore = _cli_selectors(given, "ignore")
        cli_extend_ignore = _cli_selectors(given, "extend_ignore")
        if cli_extend_ignore is not None:  # the same as ``ignore`` on the command line
            cli_ignore = _dedupe((*(cli_ignore or ()), *cli_extend_ignore))
        if cli_select is not None:
            changes["select"] = cli_select
            changes["extend_select"] = cli_extend or ()
            changes["ignore"] = cli_ignore or ()
            changes["extend_ignore"] = ()
        elif cli_extend is not None or cli_ignore is not None:
            layer = (*(cli_extend or ()), *(cli_ignore or ()))

            def keep(selectors: Iterable[str]) -> tuple[str, ...]:
                return tuple(s for s in selectors if not any(_within(s, c) for c in layer))

            if self.select is not None:
                changes["select"] = keep(self.select)
            changes["extend_select"] = _dedupe((*keep(self.extend_select), *(cli_extend or ())))
            changes["ignore"] = _dedupe((*keep(self.ignore), *(cli_ignore or ())))
            changes["extend_ignore"] = keep(self.extend_ignore)

        if "per_file_ignores" in given:
            value = given["per_file_ignores"]
            pairs = value.items() if isinstance(value, Mapping) else value
            extra = _parse_per_file_ignores(dict(pairs), "", None, _flag("per_file_ignores"))
            changes["per_file_ignores"] = (*self.per_file_ignores, *extra)
        if "exclude" in given:
            changes["exclude"] = _str_list(given["exclude"], "", None, _flag("exclude"))
        if "extend_exclude" in given:
            extra_patterns = _str_list(given["extend_exclude"], "", None, _flag("extend_exclude"))
            changes["extend_exclude"] = (*self.extend_exclude, *extra_patterns)
        for name in ("target_fastapi", "target_sqlalchemy"):
            if name in given:
                changes[name] = _version(given[name], "", None, _flag(name))
        if "sql_interpolation" in given:
            changes["sql_interpolation"] = _sql_mode(
                given["sql_interpolation"], "", None, _flag("sql_interpolation")
            )
        for name in (
            "session_factories",
            "async_session_factories",
            "session_dependencies",
            "async_session_dependencies",
        ):
            if name in given:
                names = _qualified_names(given[name], "", None, _flag(name))
                changes[name] = _dedupe((*getattr(self, name), *names))
        for name in ("root", "source"):
            if name in given:
                changes[name] = Path(given[name])
        return dataclasses.replace(self, **changes)


def _cli_selectors(given: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    if name not in given:
        return None
    value = given[name]
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    return _selectors(value, "", None, _flag(name))


def _flag(name: str) -> str:
    """The command-line spelling of a :class:`Config` field, used in error messages."""
    return "--" + name.replace("_", "-")


# -- value validation -----------------------------------------------------------------------


def _type_name(value: object) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a float",
        bool: "a boolean",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _str_list(value: object, where: str, path: Path | None, key: str) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ConfigError(
            f"{where}{key!r} must be an array of strings, got {_type_name(value)}",
            path=path,
            key=key,
        )
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(
                f"{where}{key!r} must be an array of strings, but contains {_type_name(item)} "
                f"({item!r})",
                path=path,
                key=key,
            )
        if not item.strip():
            raise ConfigError(f"{where}{key!r} contains an empty string", path=path, key=key)
    return tuple(value)


def _selectors(value: object, where: str, path: Path | None, key: str) -> tuple[str, ...]:
    """The sessionlint selectors of a list; other tools' codes are dropped (a shared list)."""
    items = tuple(i for i in _str_list(value, where, path, key) if not is_foreign_code(i))
    for item in items:
        if not is_valid_selector(item):
            raise _selector_error(item, where, path, key)
    return items


def _parse_per_file_ignores(
    value: object, where: str, path: Path | None, key: str
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}{key!r} must be a table of glob = [codes], got {_type_name(value)}",
            path=path,
            key=key,
        )
    result: list[tuple[str, tuple[str, ...]]] = []
    for pattern, selectors in value.items():
        if not isinstance(pattern, str) or not pattern.strip().lstrip("!"):
            raise ConfigError(f"{where}{key!r} has an empty glob", path=path, key=key)
        try:
            compile_glob(_normal_glob(pattern.removeprefix("!")))
        except GlobError as exc:
            raise ConfigError(
                f"{where}{key!r}: invalid glob {pattern!r}: {exc}",
                path=path,
                key=f"{key}.{pattern}",
            ) from None
        result.append((pattern, _selectors(selectors, where, path, f"{key}.{pattern}")))
    return tuple(result)


def _version(value: object, where: str, path: Path | None, key: str) -> str:
    if not isinstance(value, str):
        hint = f' (write it as a string: "{value}")' if isinstance(value, (int, float)) else ""
        raise ConfigError(
            f"{where}{key!r} must be a version string, got {_type_name(value)}{hint}",
            path=path,
            key=key,
        )
    try:
        Version(value)
    except InvalidVersion:
        raise ConfigError(
            f'{where}{key!r}: {value!r} is not a valid version (expected e.g. "2.0")',
            path=path,
            key=key,
        ) from None
    return value.strip()


def _qualified_names(value: object, where: str, path: Path | None, key: str) -> tuple[str, ...]:
    names: list[str] = []
    for item in _str_list(value, where, path, key):
        # Accept the entry-point spelling "module:attr" as well as "module.attr".
        name = item.strip().replace(":", ".", 1) if item.count(":") == 1 else item.strip()
        if not _QUALIFIED_NAME.match(name):
            raise ConfigError(
                f"{where}{key!r}: {item!r} is not a qualified name such as 'myapp.db.get_session'",
                path=path,
                key=key,
            )
        names.append(name)
    return tuple(names)


SQL_INTERPOLATION_MODES = ("default", "strict")


def _sql_mode(value: object, where: str, path: Path | None, key: str) -> str:
    if value not in SQL_INTERPOLATION_MODES:
        raise ConfigError(
            f"{where}{key!r} must be one of {', '.join(map(repr, SQL_INTERPOLATION_MODES))}, "
            f"not {value!r}",
            path=path,
            key=key,
        )
    return str(value)


def _suggest(key: str) -> str:
    candidates = [key.replace("_", "-").lower(), key]
    for candidate in candidates:
        if candidate in CONFIG_KEYS:
            return f" (did you mean {candidate!r}?)"
    close = difflib.get_close_matches(candidates[0], list(CONFIG_KEYS), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _parse_table(table: Mapping[str, Any], where: str, path: Path | None) -> dict[str, Any]:
    """Validate a ``[tool.sessionlint]`` table; return :class:`Config` keyword arguments."""
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in CONFIG_KEYS:
            raise ConfigError(f"{where}unknown key {key!r}{_suggest(key)}", path=path, key=key)
        field = key.replace("-", "_")
        if key in ("select", "ignore", "extend-select", "extend-ignore"):
            kwargs[field] = _selectors(value, where, path, key)
        elif key == "per-file-ignores":
            kwargs[field] = _parse_per_file_ignores(value, where, path, key)
        elif key in ("exclude", "extend-exclude"):
            kwargs[field] = _str_list(value, where, path, key)
        elif key.startswith("target-"):
            kwargs[field] = _version(value, where, path, key)
        elif key == "sql-interpolation":
            kwargs[field] = _sql_mode(value, where, path, key)
        else:
            kwargs[field] = _qualified_names(value, where, path, key)
    return kwargs


# -- loading --------------------------------------------------------------------------------


def _display(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, else absolute."""
    try:
        return str(path.relative_to(_absolute(Path.cwd())))
    except ValueError:
        return str(path)


_TOML_KEY = re.compile(r"^[ \t]*([A-Za-z0-9_.\"'-]+)[ \t]*=", re.MULTILINE)


def _deep_key(path: Path) -> str | None:
    """The key whose value nests too deeply for the TOML reader (a best effort)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    depth = 0
    for i, char in enumerate(text):
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
        if depth > 64:
            keys = _TOML_KEY.findall(text, 0, i)
            return keys[-1].strip("\"'") if keys else None
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{_display(path)}: invalid TOML: {exc}", path=path) from None
    except RecursionError:
        key = _deep_key(path)
        at = f" (at {key!r})" if key else ""
        raise ConfigError(
            f"{_display(path)}: invalid TOML: arrays or tables nested too deeply to be read{at}",
            path=path,
            key=key,
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{_display(path)}: invalid TOML: not UTF-8 ({exc.reason})", path=path
        ) from None
    except OSError as exc:
        raise ConfigError(f"{_display(path)}: cannot read: {exc.strerror}", path=path) from None
    return data


def _tool_table(data: Mapping[str, Any], path: Path) -> Mapping[str, Any] | None:
    """The ``[tool.sessionlint]`` table of a parsed pyproject.toml, if any."""
    tool = data.get("tool")
    if not isinstance(tool, dict) or "sessionlint" not in tool:
        return None
    table = tool["sessionlint"]
    if not isinstance(table, dict):
        raise ConfigError(
            f"{_display(path)}: [tool.sessionlint] must be a table, got {_type_name(table)}",
            path=path,
        )
    return table


def _config_from(path: Path, table: Mapping[str, Any], where: str) -> Config:
    kwargs = _parse_table(table, where, path)
    return Config(**kwargs, root=path.parent, source=path)


def _read_config_file(path: Path) -> Config:
    path = _absolute(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {_display(path)}", path=path)
    if not path.is_file():
        raise ConfigError(f"config file is not a file: {_display(path)}", path=path)
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        table = _tool_table(data, path)
        if table is None:
            return Config(root=path.parent, source=path)
        return _config_from(path, table, f"{_display(path)}: [tool.sessionlint] ")
    return _config_from(path, data, f"{_display(path)}: ")


def load_config(start: Path, *, config_file: Path | None = None, isolated: bool = False) -> Config:
    """The configuration that applies to ``start`` (a file or a folder).

    ``isolated``: the defaults, no file is read. ``config_file``: that file, either a
    ``pyproject.toml`` (its ``[tool.sessionlint]`` table; defaults if it has none) or a
    standalone file such as ``sessionlint.toml`` whose top level is the table. Otherwise the
    nearest folder at or above ``start`` with a configuration, as in ruff: in each folder,
    ``.sessionlint.toml``, then ``sessionlint.toml`` (either is used even when empty), then a
    ``pyproject.toml`` that has a ``[tool.sessionlint]`` table (one without the table is
    skipped); if there is none, the defaults with ``root=None``. Raises :class:`ConfigError`.
    """
    if isolated:
        return Config()
    if config_file is not None:
        return _read_config_file(config_file)
    here = _absolute(start)
    if not here.is_dir():
        here = here.parent
    for directory in (here, *here.parents):
        for name in STANDALONE_CONFIG_NAMES:
            standalone = directory / name
            if standalone.is_file():
                return _config_from(standalone, _read_toml(standalone), f"{_display(standalone)}: ")
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            table = _tool_table(_read_toml(candidate), candidate)
            if table is not None:
                return _config_from(candidate, table, f"{_display(candidate)}: [tool.sessionlint] ")
    return Config()
