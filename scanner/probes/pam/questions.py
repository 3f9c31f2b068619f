"""The questions the PAM rules ask, answered by running the stacks as libpam would.

* empty password: does ``pam_authenticate`` succeed for an account whose password field
  is empty, when the empty password is given (the caller is root, as login and sshd are)?
* su by a non-member: does ``pam_authenticate`` of ``su`` to root succeed with the right
  root password for a caller who is not in pam_wheel's group?
* lockout: after how many wrong passwords is the right one refused, and for how long?
* weak / reused password: does ``pam_chauthtok`` (both passes) as a non-root user refuse
  a new password that pam_pwquality rejects, or one pam_pwhistory remembers?

Each answer holds in every combination of what the modules the scanner cannot judge may
return (:func:`scanner.probes.pam.dispatch.explore`). When the answer turns on a module
the model does not know at all returning PAM_SUCCESS, the answer is None: unknown.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import files_only, frames_or_error
from scanner.probes.pam.config import PAM_SUCCESS, RETURN_NAMES, Handler, Service
from scanner.probes.pam.dispatch import Choose, TooManyWorlds, dispatch, explore
from scanner.probes.pam.faillock_conf import (
    FAILLOCK_CONF,
    FAILLOCK_DEFAULTS,
    faillock_option,
    read_faillock_conf,
)
from scanner.probes.pam.modules import (
    AUTHTOK_ERR,
    Knowledge,
    Situation,
    Unmodelled,
    module_result,
)
from scanner.probes.pam.stack import (
    MODULES_SNIPPET,
    PAM_FILES,
    SERVICE_NAME,
    HostPam,
    Unreadable,
    host_pam,
    service_names,
)

MAX_ATTEMPTS = 64


@dataclass(frozen=True)
class Answer:
    refused: bool | None  # None: it turns on a module the model does not know
    why: str
    trace: tuple[str, ...] = ()


@dataclass
class _Run:
    passed: bool
    unknown: set[Hashable] = field(default_factory=set)
    trace: list[str] = field(default_factory=list)


def faillock_options_for(pam: HostPam) -> Callable[[Handler], Mapping[str, Any] | None]:
    """pam_faillock's options for one line: defaults, its conf file, its arguments."""
    def options(handler: Handler) -> Mapping[str, Any] | None:
        conf = FAILLOCK_CONF
        for arg in handler.args:
            if arg.startswith("conf="):
                conf = arg[len("conf="):]
        values = dict(FAILLOCK_DEFAULTS)
        frame = pam.extra.get(conf)
        if frame is None:
            return None  # not collected: cannot be judged
        if frame.state == "missing":
            if conf != FAILLOCK_CONF:
                return {"error": True}
        elif frame.state != "ok":
            return None
        elif not read_faillock_conf(frame.content, values):
            return {"error": True}
        for arg in handler.args:
            if arg.startswith("conf=") or arg in ("preauth", "authfail", "authsucc"):
                continue
            name, sep, value = arg.partition("=")
            faillock_option(values, name, value if sep else "")
        if values.get("root_unlock_time") is None:
            values["root_unlock_time"] = values["unlock_time"]
        return values
    return options


def knowledge_for(pam: HostPam, *,
                  pwquality_refusal: Callable[[Handler], int | None] | None = None,
                  pwhistory_remember: Callable[[Handler], int] | None = None) -> Knowledge:
    return Knowledge(
        present=pam.present,
        faillock_options=faillock_options_for(pam),
        pwquality_refusal=pwquality_refusal or (lambda handler: AUTHTOK_ERR),
        pwhistory_remember=pwhistory_remember or (lambda handler: 10),
    )


def _run(service: Service, situation: Situation, knowledge: Knowledge, choose: Choose,
         run: _Run) -> bool:
    if service.load_error:
        return False
    module_type = "auth" if situation.call == "authenticate" else "password"
    stack = service.stacks.get(module_type, ())

    def result(index: int, handler: Handler) -> int:
        code = module_result(index, handler, situation, knowledge, choose, run.unknown)
        run.trace.append(f"{handler.name or handler.why} -> {RETURN_NAMES[code]}")
        return code

    if situation.call == "authenticate":
        return dispatch(stack, result) == PAM_SUCCESS
    situation.phase = "prelim"
    if dispatch(stack, result) != PAM_SUCCESS:
        return False
    situation.phase, situation.authtok = "update", False
    return dispatch(stack, result) == PAM_SUCCESS


def ask(service: Service, situation: Situation, knowledge: Knowledge) -> Answer:
    """Whether ``situation`` is refused in every world."""
    if service.load_error:
        return Answer(True, f"{service.load_error}: libpam fails every call on {service.name}")

    def one(choose: Choose) -> _Run:
        run = _Run(False)
        run.passed = _run(service, copy.deepcopy(situation), knowledge, choose, run)
        return run

    worlds = explore(one)
    through = [(world, run) for world, run in worlds if run.passed]
    if not through:
        return Answer(True, f"refused by the {service.name} stack in every case")
    certain = [(w, r) for w, r in through if all(w.get(k) != PAM_SUCCESS for k in r.unknown)]
    _, run = (certain or through)[0]
    trace = tuple(run.trace)
    if certain:
        return Answer(False, f"gets through the {service.name} stack: " + ", ".join(trace),
                      trace)
    unknown = sorted({t.split(" -> ")[0] for t in trace})
    return Answer(None, f"the {service.name} stack lets it through only if a module the "
                  f"scanner does not model succeeds ({', '.join(unknown)})", trace)


def _copied(tally: Mapping[str, list[int]]) -> dict[str, list[int]]:
    return {directory: list(failures) for directory, failures in tally.items()}


def _lockout_world(service: Service, knowledge: Knowledge, choose: Choose
                   ) -> tuple[int | None, int, set[Hashable]]:
    """(failures after which the right password is refused, seconds it stays refused
    (0: until an administrator unlocks), the unknown modules consulted)."""
    unknown: set[Hashable] = set()
    tally: dict[str, list[int]] = {}

    def attempt(credential: str, now: int, state: dict[str, list[int]]) -> bool:
        run = _Run(False, unknown)
        situation = Situation("authenticate", caller_root=True, credential=credential,
                              now=now, tally=state)
        return _run(service, situation, knowledge, choose, run)

    # An attempt is a function of the tally it finds (and the world), so the tally after
    # ``count`` wrong passwords is the one before it plus one more: each count asks the
    # right password of a copy, and the wrong ones are not asked again from nothing.
    locked_after = None
    wrongs: dict[str, list[int]] = {}
    for count in range(1, MAX_ATTEMPTS + 1):
        before = _copied(wrongs)
        attempt("wrong", 0, wrongs)
        if count > 1 and wrongs == before:
            break  # nothing counts the failures: every further count asks the same again
        tally = _copied(wrongs)
        # the right password twice: a line that resets the tally while refusing (an
        # authsucc line with a higher deny) lets the second try in
        if not attempt("right", 0, tally) and not attempt("right", 0, tally):
            locked_after = count
            break
    if locked_after is None:
        return None, 0, unknown
    candidates = sorted({int(options.get("unlock_time") or 0) + 1
                         for handler in service.stacks.get("auth", ())
                         if handler.name == "pam_faillock.so"
                         and (options := knowledge.faillock_options(handler)) is not None
                         and int(options.get("unlock_time") or 0) > 0})
    for moment in candidates:
        if attempt("right", moment, _copied(tally)):
            return locked_after, moment - 1, unknown
    return locked_after, 0, unknown


@dataclass(frozen=True)
class Lockout:
    deny: int | None  # None: never locked (or not in every case)
    unlock_time: int  # 0: never unlocks by itself
    certain: bool  # False: the weakest case needs an unmodelled module to succeed


def lockout(service: Service, knowledge: Knowledge) -> Lockout:
    if service.load_error:
        return Lockout(1, 0, True)
    worlds = explore(lambda choose: _lockout_world(service, knowledge, choose))

    def weakest(rows: list[tuple[int | None, int]]) -> tuple[int | None, int]:
        if any(deny is None for deny, _ in rows):
            return None, 0
        denies = [deny for deny, _ in rows if deny is not None]
        unlocks = [unlock for _, unlock in rows]
        finite = [u for u in unlocks if u > 0]
        return max(denies), (min(finite) if finite else 0)

    every = weakest([(deny, unlock) for _, (deny, unlock, _) in worlds])
    sure = weakest([(deny, unlock) for world, (deny, unlock, unknown) in worlds
                    if all(world.get(k) != PAM_SUCCESS for k in unknown)] or [(1, 0)])
    return Lockout(every[0], every[1], every == sure)


def decisive(service: Service, situation: Situation, knowledge: Knowledge,
             names: tuple[str, ...]) -> list[tuple[int, Handler, Answer]]:
    """The lines of modules ``names`` in the password stack whose refusal alone makes
    ``pam_chauthtok`` fail, each with that answer."""
    found = []
    for index, handler in enumerate(service.stacks.get("password", ())):
        if handler.kind != "module" or handler.name not in names:
            continue
        answer = ask(service, replace(situation, refuser=index), knowledge)
        found.append((index, handler, answer))
    return found


EMPTY_PASSWORD = Situation("authenticate", caller_root=True, credential="empty")
SU_NON_MEMBER = Situation("authenticate", caller_root=False, target_root=True,
                          credential="right", caller_in_group=False)
WEAK_PASSWORD = Situation("chauthtok", caller_root=False, change="weak")
REUSED_PASSWORD = Situation("chauthtok", caller_root=False, change="reused")
QUESTIONS = {"empty_password": (EMPTY_PASSWORD, ["login", "sshd"]),
             "su_non_member": (SU_NON_MEMBER, ["su"])}


def parse_pam_question(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    pam = host_pam(frames)
    if not service_names(pam.files):
        return ProbeResult.failed("no files under /etc/pam.d")
    situation, default_services = QUESTIONS[str(args["question"])]
    knowledge = knowledge_for(pam)
    answers: dict[str, dict[str, Any]] = {}
    for name in list(args.get("services") or default_services):
        try:
            answer = ask(pam.service(name), replace(situation), knowledge)
        except (Unreadable, Unmodelled, TooManyWorlds) as exc:
            return ProbeResult.failed(f"PAM stack of {name} cannot be judged: {exc}")
        if answer.refused is None:
            return ProbeResult.failed(f"PAM stack of {name} cannot be judged: {answer.why}")
        answers[name] = {"refused": answer.refused, "why": answer.why}
    notes = [] if pam.modules else ["module files were not listed: every module is taken "
                                    "to be installed"]
    let_through = [name for name, a in answers.items() if not a["refused"]]
    return ProbeResult.ok({
        "refused": not let_through,
        "let_through": let_through,
        "services": answers,
        "notes": notes,
    })


PROBES = (
    Probe(
        name="pam_question",
        summary="runs the PAM stacks of the given services as libpam would and answers one "
        "question: is an empty password refused (empty_password: login, sshd), is su to "
        "root refused to a caller outside pam_wheel's group (su_non_member: su)",
        snippet=files_only,
        files=lambda args: (*PAM_FILES, FAILLOCK_CONF),
        shared=(MODULES_SNIPPET,),
        parse=parse_pam_question,
        args_schema={
            "type": "object",
            "properties": {
                "question": {"enum": sorted(QUESTIONS)},
                "services": {"type": "array", "items": SERVICE_NAME, "minItems": 1,
                             "maxItems": 16},
            },
            "required": ["question"],
            "additionalProperties": False,
        },
        cap_bytes=2 * 1024 * 1024,
    ),
)
