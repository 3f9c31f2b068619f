"""PAM stacks as Linux-PAM (libpam 1.5.2) loads them from /etc/pam.d and /usr/lib/pam.d.

Loading follows :mod:`scanner.probes.pam.config` (libpam's own line assembly, tokens,
controls, includes and the ``other`` fallback). The ``pam`` probe shows each service's
stacks; ``pam_module`` one module's first line in one stack. Verdicts that depend on
what the stack *does* (does an empty password get in?) are not taken from these: they
run the stack (:mod:`scanner.probes.pam.questions`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import (
    FileFrame,
    files_only,
    frames_or_error,
    unreadable_paths,
)
from scanner.probes._sections import SECTION_PREFIX, section
from scanner.probes.pam.config import (
    ALL_BAD,
    CONFIG_DIRS,
    KEYWORD_ACTIONS,
    PAM_TYPES,
    RETURN_NAMES,
    Handler,
    Service,
    load_service,
    parse_control,
)

PAM_DIR = "/etc/pam.d/"
SERVICE_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_.+-]{1,64}$"}
PAM_FILES = ("/etc/pam.d/*", "/usr/lib/pam.d/*")
SERVICES_ARGS = {
    "type": "object",
    "properties": {"services": {"type": "array", "items": SERVICE_NAME, "minItems": 1,
                                "maxItems": 16}},
    "additionalProperties": False,
}
# Where distributions put PAM modules (libpam's DEFAULT_MODULE_PATH is one of them).
MODULE_DIRS = ("/lib/security", "/lib64/security", "/usr/lib/security", "/usr/lib64/security",
               "/lib/*-linux-gnu*/security", "/usr/lib/*-linux-gnu*/security")
MODULES_SECTION = "pam-modules"
# Every module file present, and which pam_pwhistory builds read pwhistory.conf (1.5.3+).
MODULES_SNIPPET = section(MODULES_SECTION, (
    f"for d in {' '.join(MODULE_DIRS)}; do [ -d \"$d\" ] || continue; "
    'for m in "$d"/*.so; do [ -f "$m" ] && printf \'module %s\\n\' "$m"; done; '
    'm="$d/pam_pwhistory.so"; [ -f "$m" ] && grep -q -a -F /etc/security/pwhistory.conf '
    '-- "$m" && printf \'reads-conf %s\\n\' "$m"; done; true'))


class Unreadable(Exception):
    """A configuration file libpam would read cannot be read by the collector."""


@dataclass(frozen=True)
class HostPam:
    """The PAM configuration and module files of one host, as the collector saw them."""

    files: Mapping[str, FileFrame]
    modules: frozenset[str] | None  # module file paths; None: not listed
    pwhistory_reads_conf: frozenset[str]
    extra: Mapping[str, FileFrame] = field(default_factory=dict)  # other files read

    def read(self, path: str) -> str | None:
        frame = self.files.get(path)
        if frame is None or frame.state == "missing":
            return None
        if frame.state != "ok":
            raise Unreadable(f"{path} is not readable by the collector")
        return frame.content

    def service(self, name: str) -> Service:
        return load_service(name, self.read)

    def module_path(self, handler: Handler) -> list[str]:
        if handler.module.startswith("/"):
            return [handler.module]
        return [directory + "/" + handler.module for directory in self.module_dirs()]

    def module_dirs(self) -> list[str]:
        return list(self._module_dirs)

    @functools.cached_property
    def _module_dirs(self) -> tuple[str, ...]:
        # once per host: the PAM model asks for every module of every simulated attempt
        return tuple(sorted({path.rsplit("/", 1)[0] for path in self.modules or ()}))

    def present(self, handler: Handler) -> bool | None:
        """Whether libpam finds the module's file; None when the files were not listed."""
        if self.modules is None or not self.modules:
            return None
        return any(path in self.modules for path in self.module_path(handler))


def host_pam(frames: Iterable[FileFrame]) -> HostPam:
    frames = list(frames)
    files = {f.path: f for f in frames if f.path.startswith(CONFIG_DIRS)}
    modules: set[str] | None = None
    reads_conf: set[str] = set()
    for frame in frames:
        if frame.path != SECTION_PREFIX + MODULES_SECTION:
            continue
        modules = set()
        for line in frame.content.split("\n"):
            word, _, path = line.partition(" ")
            if word == "module":
                modules.add(path)
            elif word == "reads-conf":
                reads_conf.add(path)
    extra = {f.path: f for f in frames if not f.path.startswith((*CONFIG_DIRS, SECTION_PREFIX))}
    return HostPam(files, None if modules is None else frozenset(modules),
                   frozenset(reads_conf), extra)


def service_names(files: Mapping[str, FileFrame]) -> list[str]:
    names = set()
    for path, frame in files.items():
        for directory in CONFIG_DIRS:
            rest = path[len(directory):]
            if path.startswith(directory) and frame.state != "missing" and "/" not in rest:
                names.add(rest)
    return sorted(names)


def pam_files(frames: Iterable[FileFrame]) -> dict[str, FileFrame]:
    return {f.path: f for f in frames if f.path.startswith(CONFIG_DIRS)}


def pam_args(words: Iterable[str]) -> dict[str, Any]:
    """Module arguments as a mapping: ``deny=5`` → {"deny": "5"}, a bare word → True."""
    result: dict[str, Any] = {}
    for word in words:
        name, sep, value = word.partition("=")
        result[name] = value if sep else True
    return result


def control_text(handler: Handler) -> str:
    """The handler's control as written (keywords in lower case, ``[...]`` around the rest)."""
    if handler.control:
        return handler.control if handler.control in KEYWORD_ACTIONS or \
            handler.control in ("include", "substack") else f"[{handler.control}]"
    for word, actions in KEYWORD_ACTIONS.items():
        if handler.actions == actions:
            return word
    if handler.actions == ALL_BAD:
        return "[default=bad]"
    pairs = []
    for code, action in enumerate(handler.actions):
        if action != -3:
            name = {0: "ignore", -1: "ok", -2: "done", -4: "die", -5: "reset"}.get(
                action, str(action))
            pairs.append(f"{RETURN_NAMES[code]}={name}")
    return "[" + " ".join([*pairs, "default=bad"]) + "]"


def control_fails_closed(control: str, failure: str) -> bool:
    """Whether a module returning ``failure`` (e.g. "auth_err") makes the stack fail,
    wherever it is: ``bad`` or ``die`` for that value. ``[...]`` as written or unwrapped."""
    word = control[1:-1] if control.startswith("[") and control.endswith("]") else control
    actions = KEYWORD_ACTIONS.get(word.lower()) or parse_control(word)
    return actions[RETURN_NAMES.index(failure)] in (-3, -4)


def handler_view(handler: Handler) -> dict[str, Any]:
    return {
        "type": handler.type,
        "control": control_text(handler),
        "module": handler.name if handler.kind == "module" else f"<{handler.kind}>",
        "args": pam_args(handler.args),
        "optional": handler.silent,
        "substack": handler.level > 0,
        "file": handler.file,
        **({"why": handler.why} if handler.why else {}),
    }


def resolve_service(service: str, files: Mapping[str, FileFrame]) -> dict[str, Any]:
    """A service's effective lines per libpam, with what makes it unreliable."""
    pam = HostPam(files, None, frozenset())
    try:
        loaded = pam.service(service)
    except Unreadable as exc:
        return {"lines": [], "problems": [str(exc)], "via_other": False}
    if loaded.load_error:
        return {"lines": [], "problems": [loaded.load_error + "; libpam fails every call"],
                "via_other": loaded.via_other}
    lines = [handler_view(h) for h in loaded.ordered if h.kind != "substack"]
    problems = [f"{h.file}: {h.why}; libpam makes this line fail" for h in loaded.ordered
                if h.kind == "must_fail"]
    return {"lines": lines, "problems": problems, "via_other": loaded.via_other}


def parse_pam(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    files = pam_files(frames)
    names = service_names(files)
    if not names:
        return ProbeResult.failed("no files under /etc/pam.d")
    services = {name: resolve_service(name, files) for name in names}
    return ProbeResult.ok({"services": services, "unreadable": unreadable_paths(files.values())})


FAILURE_RETURN = {"auth": "auth_err", "account": "perm_denied", "password": "authtok_err",
                  "session": "session_err"}


def parse_pam_module(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    """One module in one service's stack of one type: present, enforcing, its arguments."""
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    files = pam_files(frames)
    if not service_names(files):
        return ProbeResult.failed("no files under /etc/pam.d")
    service, module_type, module = str(args["service"]), str(args["type"]), str(args["module"])
    resolved = resolve_service(service, files)
    if resolved["problems"]:
        return ProbeResult.failed(f"PAM stack of {service} cannot be judged: "
                                  f"{resolved['problems'][0]}")
    lines = [line for line in resolved["lines"]
             if line["type"] == module_type and line["module"] == module]
    first = lines[0] if lines else None
    return ProbeResult.ok({
        "service": service,
        "present": first is not None,
        "count": len(lines),
        "control": first["control"] if first else None,
        "fails_closed": bool(first and control_fails_closed(
            first["control"], FAILURE_RETURN.get(module_type, "auth_err"))),
        "args": dict(first["args"]) if first else {},
        "file": first["file"] if first else None,
        "via_other": resolved["via_other"],
    })


PROBES = (
    Probe(
        name="pam",
        summary="every PAM service's stacks as libpam loads them (includes, substacks and "
        "@include expanded; 'other' filling unconfigured types)",
        snippet=files_only,
        files=lambda args: PAM_FILES,
        parse=parse_pam,
        keyed="services",
        cap_bytes=2 * 1024 * 1024,
    ),
    Probe(
        name="pam_module",
        summary="one module's first line in one service's stack of one type: present, "
        "whether its control makes a failure fail the stack, and its arguments",
        snippet=files_only,
        files=lambda args: PAM_FILES,
        parse=parse_pam_module,
        args_schema={
            "type": "object",
            "properties": {"service": SERVICE_NAME, "type": {"enum": list(PAM_TYPES)},
                           "module": {"type": "string", "pattern": "^pam_[a-z0-9_]{1,40}\\.so$"}},
            "required": ["service", "type", "module"],
            "additionalProperties": False,
        },
        cap_bytes=2 * 1024 * 1024,
    ),
)


def weakest_service(results: Mapping[str, dict[str, Any]], what: str,
                    strength: Callable[[dict[str, Any]], Any]) -> ProbeResult:
    """One setting judged per service: an error naming the first service that cannot be
    judged, else the weakest service's values with every service's beside them."""
    broken = [r for r in results.values() if r["problems"]]
    if broken:
        return ProbeResult.failed(f"{what} for {broken[0]['service']} cannot be judged: "
                                  f"{broken[0]['problems'][0]}")
    weakest = min(results.values(), key=strength)
    data = {key: value for key, value in weakest.items() if key != "problems"}
    data["services"] = {name: {k: v for k, v in r.items() if k != "problems"}
                        for name, r in results.items()}
    return ProbeResult.ok(data)
