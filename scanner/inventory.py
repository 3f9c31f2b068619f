"""Hosts to scan: CLI targets, a YAML inventory, or an Ansible INI inventory; then --limit.

Everything here is parsing; nothing connects. A malformed inventory is an
InputError naming file and line (exit 2) before any host is touched.
Passwords are refused wherever they appear: a scanner of critical hosts
authenticates with keys or an ssh-agent only.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

from scanner.errors import InputError
from scanner.facts import HostIdentity
from scanner.lines import split_lines
from scanner.resources import schema_path
from scanner.yamlio import MAX_FILE_BYTES, Document, load_file, load_text

_USER = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"
_HOSTNAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}"
_TARGET = re.compile(
    rf"^(?:(?P<user>{_USER})@)?"
    rf"(?:\[(?P<v6>[0-9A-Fa-f:.%A-Za-z]+)\]|(?P<host>{_HOSTNAME}))"
    r"(?::(?P<port>[0-9]{1,5}))?$"
)
_BARE_IPV6 = re.compile(r"^(?:(?P<user>" + _USER + r")@)?(?P<v6>[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$")
_RANGE = re.compile(r"\[([0-9]+):([0-9]+)\]")
MAX_RANGE_HOSTS = 10_000

# Keys that would carry a password; refused in any inventory, at any depth.
_PASSWORD_KEYS = frozenset({
    "password", "passwd", "ansible_password", "ansible_ssh_pass", "ansible_ssh_password",
    "ansible_become_pass", "ansible_become_password", "ansible_sudo_pass",
    "ansible_sudo_password",
})


@dataclass(frozen=True)
class Target:
    """One host to scan, as the user named it (the SSH layer resolves the rest)."""

    name: str
    address: str
    port: int | None = None
    user: str | None = None
    jump: str | None = None
    sudo: bool | None = None
    groups: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """Stable identity of the target within a run (journal and resume use it)."""
        return f"{self.name}|{self.address}|{self.port or ''}"

    def identity(self, port: int | None = None, address: str | None = None) -> HostIdentity:
        return HostIdentity(name=self.name, address=address or self.address,
                            port=port if port is not None else self.port,
                            transport="ssh", groups=tuple(sorted(self.groups)))


def _is_password_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in _PASSWORD_KEYS or lowered.endswith(("_password", "_pass"))


def parse_target(text: str, source: str = "target") -> Target:
    """``[user@]host[:port]`` with IPv6 in brackets (``user@[2001:db8::1]:2222``)."""
    spec = text.strip()
    match = _TARGET.match(spec)
    if match is None:
        bare = _BARE_IPV6.match(spec)
        if bare is not None and spec.count(":") >= 2:
            return Target(name=bare.group("v6"), address=bare.group("v6"),
                          user=bare.group("user"))
        raise InputError(source, f"{text!r} is not [user@]host[:port] (IPv6 goes in brackets)")
    host = match.group("v6") or match.group("host")
    port_text = match.group("port")
    port = int(port_text) if port_text else None
    if port is not None and not 1 <= port <= 65535:
        raise InputError(source, f"{text!r}: port {port} is out of range 1-65535")
    return Target(name=host, address=host, port=port, user=match.group("user"))


def targets_from_cli(specs: Sequence[str]) -> list[Target]:
    """Targets named on the command line; duplicates are scanned once."""
    found: dict[str, Target] = {}
    for spec in specs:
        target = parse_target(spec, f"target {spec!r}")
        found.setdefault(target.key, target)
    return list(found.values())


def _refuse_passwords(value: Any, where: str, line: int | None) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _is_password_key(str(key)):
                raise InputError(where, f"{key!r}: passwords are not accepted in inventories; "
                                 "use SSH keys or ssh-agent (and sudo NOPASSWD for --sudo)",
                                 line)
            _refuse_passwords(item, where, line)
    elif isinstance(value, list):
        for item in value:
            _refuse_passwords(item, where, line)


# --------------------------------------------------------------------------- YAML inventory


@cache
def _inventory_validator() -> jsonschema.protocols.Validator:
    import jsonschema  # imported when a document is validated, not by every command

    schema = json.loads(schema_path("inventory.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _check_yaml_passwords(doc: Document, value: Any, path: tuple[str | int, ...]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _is_password_key(str(key)):
                raise doc.error((*path, key), "passwords are not accepted in inventories; "
                                "use SSH keys or ssh-agent (and sudo NOPASSWD for --sudo)")
            _check_yaml_passwords(doc, item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_yaml_passwords(doc, item, (*path, index))


def load_yaml_inventory(doc: Document) -> list[Target]:
    """Hosts from a validated YAML inventory (``defaults``, ``groups``, ``hosts``)."""
    data = doc.data
    if data is None:
        raise InputError(doc.source, "the inventory is empty")
    _check_yaml_passwords(doc, data, ())
    errors = sorted(_inventory_validator().iter_errors(data),
                    key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        error = errors[0]
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict) \
                and isinstance(error.schema, Mapping):
            known = error.schema.get("properties", {})
            extra = [k for k in error.instance if k not in known]
            message = f"unknown key {extra[0]!r}" if extra else error.message
            if extra:
                path = (*path, extra[0])
        else:
            message = error.message
        raise doc.error(path, message)
    defaults: Mapping[str, Any] = data.get("defaults", {})
    groups: Mapping[str, Any] = data.get("groups", {})
    names = [str(h["name"]) for h in data["hosts"]]
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise doc.error(("hosts", index, "name"), f"host {name!r} is listed twice")
        seen.add(name)
    membership: dict[str, set[str]] = {name: set() for name in names}
    for group, spec in groups.items():
        for index, host in enumerate(spec.get("hosts", [])):
            if host not in membership:
                raise doc.error(("groups", group, "hosts", index),
                                f"group {group!r} names unknown host {host!r}")
            membership[host].add(group)
        for index, child in enumerate(spec.get("children", [])):
            if child not in groups:
                raise doc.error(("groups", group, "children", index),
                                f"group {group!r} names unknown child group {child!r}")
    parents = _parent_map({g: list(s.get("children", [])) for g, s in groups.items()})
    targets = []
    for index, host in enumerate(data["hosts"]):
        name = str(host["name"])
        direct = set(host.get("groups", [])) | membership[name]
        all_groups = _with_ancestors(direct, parents)
        variables: dict[str, Any] = dict(defaults.get("vars", {}))
        for group in sorted(all_groups):
            variables.update(groups.get(group, {}).get("vars", {}))
        variables.update(host.get("vars", {}))
        address = str(host.get("address", name))
        if address.startswith("[") and address.endswith("]"):
            address = address[1:-1]
        jump = host.get("jump", defaults.get("jump"))
        if jump is not None:
            parse_target(str(jump), f"{doc.source}:{doc.line_of(('hosts', index))}: jump")
        targets.append(Target(
            name=name,
            address=address,
            port=host.get("port", defaults.get("port")),
            user=host.get("user", defaults.get("user")),
            jump=jump,
            sudo=host.get("sudo", defaults.get("sudo")),
            groups=tuple(sorted(all_groups)),
            vars=variables,
        ))
    return targets


def _parent_map(children: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = {}
    for group, kids in children.items():
        for kid in kids:
            parents.setdefault(kid, set()).add(group)
    return parents


def _with_ancestors(groups: Iterable[str], parents: Mapping[str, set[str]]) -> set[str]:
    result: set[str] = set()
    pending = list(groups)
    while pending:
        group = pending.pop()
        if group in result:
            continue  # cycles in children end here instead of looping
        result.add(group)
        pending.extend(parents.get(group, ()))
    return result


# --------------------------------------------------------------------------- Ansible INI


@dataclass
class _IniHost:
    alias: str
    line: int
    variables: dict[str, tuple[str, int]] = field(default_factory=dict)
    groups: set[str] = field(default_factory=set)


def _expand_ranges(alias: str, source: str, line: int) -> list[str]:
    """Ansible's numeric host ranges: ``web[01:03]`` is web01, web02, web03."""
    match = _RANGE.search(alias)
    if match is None:
        return [alias]
    start_text, end_text = match.group(1), match.group(2)
    start, end = int(start_text), int(end_text)
    if end < start or end - start >= MAX_RANGE_HOSTS:
        raise InputError(source, f"host range {match.group(0)} is empty or too large", line)
    width = len(start_text) if start_text.startswith("0") else 0
    head, tail = alias[:match.start()], alias[match.end():]
    expanded: list[str] = []
    for number in range(start, end + 1):
        expanded.extend(_expand_ranges(f"{head}{number:0{width}d}{tail}", source, line))
    return expanded


def _split_assignments(words: Iterable[str], source: str,
                       line: int) -> dict[str, tuple[str, int]]:
    variables: dict[str, tuple[str, int]] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InputError(source, f"expected key=value, got {word!r}", line)
        if _is_password_key(key):
            raise InputError(source, f"{key!r}: passwords are not accepted in inventories; "
                             "use SSH keys or ssh-agent (and sudo NOPASSWD for --sudo)", line)
        variables[key] = (value, line)
    return variables


def load_ini_inventory(text: str, source: str) -> list[Target]:
    """Hosts from an Ansible INI inventory: groups, ``:vars``, ``:children``, host ranges."""
    hosts: dict[str, _IniHost] = {}
    group_vars: dict[str, dict[str, tuple[str, int]]] = {}
    children: dict[str, list[str]] = {}
    child_lines: dict[tuple[str, str], int] = {}
    section, kind = "ungrouped", "hosts"
    for number, raw_line in enumerate(split_lines(text), start=1):
        line = raw_line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise InputError(source, f"section header {line!r} is missing ']'", number)
            name, _, suffix = line[1:-1].strip().partition(":")
            if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
                raise InputError(source, f"invalid group name {name!r}", number)
            if suffix not in ("", "vars", "children"):
                raise InputError(source, f"unknown section kind ':{suffix}' (expected :vars or "
                                 ":children)", number)
            section, kind = name, suffix or "hosts"
            group_vars.setdefault(section, {})
            children.setdefault(section, [])
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise InputError(source, f"cannot split line: {exc}", number) from None
        if not words:
            continue
        if kind == "vars":
            group_vars.setdefault(section, {}).update(_split_assignments(words, source, number))
        elif kind == "children":
            if len(words) != 1:
                raise InputError(source, "a :children section lists one group per line",
                                 number)
            children.setdefault(section, []).append(words[0])
            child_lines[(section, words[0])] = number
        else:
            variables = _split_assignments(words[1:], source, number)
            for alias in _expand_ranges(words[0], source, number):
                host = hosts.setdefault(alias, _IniHost(alias, number))
                host.variables.update(variables)
                if section != "ungrouped":
                    host.groups.add(section)
    for (parent, child), number in child_lines.items():
        if child not in children and child not in group_vars:
            raise InputError(source, f"group {parent!r} names unknown child group {child!r}",
                             number)
    parents = _parent_map(children)
    targets = []
    for host in hosts.values():
        groups = _with_ancestors(host.groups, parents)
        merged: dict[str, tuple[str, int]] = dict(group_vars.get("all", {}))
        for group in sorted(groups):
            merged.update(group_vars.get(group, {}))
        merged.update(host.variables)
        targets.append(_ini_target(host, groups, merged, source))
    return targets


def _ini_target(host: _IniHost, groups: set[str], merged: Mapping[str, tuple[str, int]],
                source: str) -> Target:
    def text(*keys: str) -> tuple[str, int] | None:
        for key in keys:
            if key in merged:
                return merged[key]
        return None

    address = text("ansible_host", "ansible_ssh_host")
    port_value = text("ansible_port", "ansible_ssh_port")
    user = text("ansible_user", "ansible_ssh_user")
    become = text("ansible_become")
    port: int | None = None
    if port_value is not None:
        if not port_value[0].isdigit() or not 1 <= int(port_value[0]) <= 65535:
            raise InputError(source, f"host {host.alias!r}: ansible_port {port_value[0]!r} is "
                             "not a port number", port_value[1])
        port = int(port_value[0])
    checked = parse_target(address[0] if address else host.alias,
                           f"{source}:{address[1] if address else host.line}")
    if user is not None and not re.fullmatch(_USER, user[0]):
        raise InputError(source, f"host {host.alias!r}: invalid ansible_user {user[0]!r}",
                         user[1])
    sudo = None
    if become is not None:
        sudo = become[0].lower() in ("true", "yes", "1")
    return Target(
        name=host.alias,
        address=checked.address,
        port=port if port is not None else checked.port,
        user=user[0] if user else None,
        sudo=sudo,
        groups=tuple(sorted(groups)),
        vars={key: value for key, (value, _) in merged.items()},
    )


def load_inventory(path: Path) -> list[Target]:
    """A YAML (``.yaml``/``.yml``) or Ansible INI inventory; InputError (file:line) if bad.
    An inventory without hosts is an error too: a scan of nothing must not look clean."""
    targets = _load_inventory(path)
    if not targets:
        raise InputError(str(path), "the inventory lists no hosts")
    return targets


def _load_inventory(path: Path) -> list[Target]:
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        return load_yaml_inventory(load_file(path, "inventory"))
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(source, f"inventory is {size} bytes; the limit is {MAX_FILE_BYTES}")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputError(source, "inventory not found") from None
    except UnicodeDecodeError:
        raise InputError(source, "inventory is not valid UTF-8") from None
    except OSError as exc:
        raise InputError(source, f"cannot read inventory: {exc.strerror or exc}") from None
    first = next((ln.strip() for ln in split_lines(text)
                  if ln.strip() and not ln.strip().startswith(("#", ";"))), "")
    if first.startswith("hosts:") or first.startswith("defaults:") or first.startswith("groups:"):
        return load_yaml_inventory(load_text(text, source))
    return load_ini_inventory(text, source)


def apply_limit(targets: Sequence[Target], pattern: str | None) -> list[Target]:
    """Ansible-like ``--limit``: comma-separated fnmatch patterns on names, addresses and
    groups; ``!pattern`` excludes. An empty selection is an input error, not a silent no-op."""
    if not pattern:
        return list(targets)
    parts = [p.strip() for p in pattern.split(",") if p.strip()]
    include = [p for p in parts if not p.startswith("!")]
    exclude = [p[1:] for p in parts if p.startswith("!")]

    def matches(target: Target, patterns: Iterable[str]) -> bool:
        subjects = (target.name, target.address, *target.groups, "all")
        return any(fnmatch.fnmatchcase(s, p) for p in patterns for s in subjects)

    chosen = [t for t in targets
              if (not include or matches(t, include)) and not matches(t, exclude)]
    if not chosen:
        raise InputError("--limit", f"{pattern!r} matches no host in the inventory")
    return chosen


def with_defaults(targets: Sequence[Target], user: str | None, port: int | None,
                  jump: str | None, sudo: bool) -> list[Target]:
    """Fill what the inventory left open from the command line (the inventory wins)."""
    return [replace(t, user=t.user or user, port=t.port or port, jump=t.jump or jump,
                    sudo=t.sudo if t.sudo is not None else sudo) for t in targets]
