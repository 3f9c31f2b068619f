"""What each PAM module returns in the situations the rules ask about (Linux-PAM 1.5.2,
libpwquality 1.4.5), for :mod:`scanner.probes.pam.dispatch`.

Modelled from the modules' sources: pam_unix (an argument *starting* with ``nullok`` turns
nullok on: ``_set_ctrl`` matches option tokens by prefix, so ``nullok_secure`` and
``nullok<CR>`` count), pam_faillock (``check_tally``: locked when ``deny`` failures
within ``fail_interval`` and ``unlock_time`` not yet over; ``authfail`` records a failure
and returns PAM_IGNORE, and a locked account makes preauth, authfail and authsucc return
PAM_AUTH_ERR), pam_wheel (``perform_check``), pam_rootok, pam_permit, pam_deny,
pam_pwhistory (``remember=0`` is PAM_IGNORE; a reused password ends in PAM_MAXTRIES),
pam_pwquality (a rejected password ends in PAM_MAXTRIES when retry > 1, else
PAM_AUTHTOK_ERR, and is not left as PAM_AUTHTOK; ``enforcing=0`` only warns;
root is only warned unless ``enforce_for_root``).

A module the model does not know, or one whose answer depends on what the scanner cannot
see (pam_succeed_if, pam_access, ...), may return anything: every action its control
gives is explored. The accounts in question are local (pam_localuser succeeds) and
regular ones (uid >= 1000), or root for su (pam_usertype). Modules that check a
credential of their own kind (pam_sss, pam_krb5, pam_ldap, OTP and key modules, ...) are
taken not to accept the local account's credential the question is about (an empty,
wrong, or another user's password), so they may return anything but PAM_SUCCESS (or
PAM_NEW_AUTHTOK_REQD). A module whose file is missing returns
PAM_MODULE_UNKNOWN, as libpam's faulty-module handler does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.probes.pam.config import (
    CODE,
    PAM_IGNORE,
    PAM_MODULE_UNKNOWN,
    PAM_PERM_DENIED,
    PAM_SUCCESS,
    Handler,
)
from scanner.probes.pam.dispatch import Choose

AUTH_ERR, AUTHTOK_ERR, MAXTRIES = CODE["auth_err"], CODE["authtok_err"], CODE["maxtries"]
SERVICE_ERR, USER_UNKNOWN = CODE["service_err"], CODE["user_unknown"]
TYPE_FAILURE = {"auth": AUTH_ERR, "account": PAM_PERM_DENIED, "password": AUTHTOK_ERR,
                "session": CODE["session_err"]}

# Modules whose answer does not depend on the question (environment, limits, logging).
HARMLESS = frozenset({
    "pam_env.so", "pam_faildelay.so", "pam_cap.so", "pam_keyinit.so", "pam_lastlog.so",
    "pam_limits.so", "pam_loginuid.so", "pam_mail.so", "pam_motd.so", "pam_umask.so",
    "pam_warn.so", "pam_echo.so", "pam_systemd.so", "pam_selinux.so", "pam_namespace.so",
    "pam_mkhomedir.so", "pam_xauth.so", "pam_tty_audit.so", "pam_gnome_keyring.so",
    "pam_kwallet5.so", "pam_debug.so", "pam_issue.so", "pam_fprintd.so",
})
# Modules that check a credential of their own, not the local password in question.
OTHER_VERIFIERS = frozenset({
    "pam_sss.so", "pam_ldap.so", "pam_krb5.so", "pam_winbind.so", "pam_radius_auth.so",
    "pam_oath.so", "pam_google_authenticator.so", "pam_u2f.so", "pam_yubico.so",
    "pam_pkcs11.so", "pam_sss_gss.so", "pam_systemd_home.so", "pam_userdb.so",
    "pam_unix2.so", "pam_duo.so", "pam_sepermit.so",
})
# Modules whose answer turns on the user, the host or the time: any of their results.
CONDITIONAL = frozenset({
    "pam_succeed_if.so", "pam_access.so", "pam_time.so", "pam_listfile.so", "pam_shells.so",
    "pam_nologin.so", "pam_securetty.so", "pam_group.so", "pam_exec.so",
})
# The types each modelled module has a function for; other types are PAM_MODULE_UNKNOWN.
TYPES = {
    "pam_unix.so": {"auth", "account", "password", "session"},
    "pam_permit.so": {"auth", "account", "password", "session"},
    "pam_deny.so": {"auth", "account", "password", "session"},
    "pam_faillock.so": {"auth", "account"},
    "pam_wheel.so": {"auth", "account"},
    "pam_rootok.so": {"auth", "account", "password"},
    "pam_pwquality.so": {"password"},
    "pam_cracklib.so": {"password"},
    "pam_pwhistory.so": {"password"},
}
FAILLOCK_DIR = "/var/run/faillock"


@dataclass
class Situation:
    """The question one dispatch answers: who asks, for whom, with what."""

    call: str  # "authenticate" | "chauthtok"
    caller_root: bool  # getuid() == 0 (login, sshd) or not (su, passwd run by a user)
    target_root: bool = False  # the account authenticated is root
    credential: str = "right"  # "empty" (empty shadow field, empty answer) | "right" | "wrong"
    caller_in_group: bool | None = False  # for pam_wheel; None: not known
    change: str = "fresh"  # "weak" | "reused" | "fresh"
    phase: str = ""  # "prelim" | "update" for chauthtok
    now: int = 0
    refuser: int | None = None  # only the quality/history line at this index refuses
    authtok: bool = False  # PAM_AUTHTOK holds the new password (update phase)
    tally: dict[str, list[int]] = field(default_factory=dict)  # faillock dir -> failures


@dataclass(frozen=True)
class Knowledge:
    """What the scanner read that modules depend on."""

    present: Callable[[Handler], bool | None]  # the module file exists (None: not known)
    faillock_options: Callable[[Handler], Mapping[str, Any] | None]  # None: unreadable conf
    # what a pam_pwquality line returns for a rejected password; None: it only warns
    pwquality_refusal: Callable[[Handler], int | None]
    pwhistory_remember: Callable[[Handler], int]


class Unmodelled(Exception):
    """A module's behaviour depends on something the scanner could not read."""


def _representatives(handler: Handler, allow_success: bool) -> list[int]:
    """One return code per distinct action the handler's control gives (without success,
    or PAM_NEW_AUTHTOK_REQD, a right but expired password, when ``allow_success`` is off)."""
    preferred = [PAM_SUCCESS, PAM_IGNORE, TYPE_FAILURE.get(handler.type, AUTH_ERR),
                 *range(len(handler.actions))]
    seen: dict[int, int] = {}
    for code in preferred:
        if code in (PAM_SUCCESS, CODE["new_authtok_reqd"]) and not allow_success:
            continue
        seen.setdefault(handler.actions[code], code)
    return sorted(set(seen.values()))


def module_result(index: int, handler: Handler, situation: Situation, knowledge: Knowledge,
                  choose: Choose, unknown: set[Hashable]) -> int:
    """The code ``handler`` returns in ``situation``; ``choose`` picks among possibilities.

    Keys of choices that stand for a module the model does not know go into ``unknown``."""
    name, module_type = handler.name, handler.type
    key = (situation.phase, index)
    present = knowledge.present(handler)
    if present is False:
        return PAM_MODULE_UNKNOWN
    if name in TYPES and module_type not in TYPES[name]:
        return PAM_MODULE_UNKNOWN
    if name == "pam_permit.so":
        return PAM_SUCCESS
    if name == "pam_deny.so":
        return {"auth": AUTH_ERR, "account": AUTH_ERR, "password": AUTHTOK_ERR}.get(
            module_type, CODE["session_err"])
    if name == "pam_unix.so":
        return _unix(index, handler, situation)
    if name == "pam_faillock.so":
        return _faillock(handler, situation, knowledge)
    if name == "pam_wheel.so":
        return _wheel(handler, situation, choose, key)
    if name == "pam_rootok.so":
        return PAM_SUCCESS if situation.caller_root else AUTH_ERR
    if name in ("pam_pwquality.so", "pam_cracklib.so"):
        if situation.phase != "update" or situation.change != "weak":
            return PAM_SUCCESS
        code = knowledge.pwquality_refusal(handler)
        if situation.refuser is not None:
            refused = situation.refuser == index
        else:
            refused = code is not None and not (
                situation.caller_root and "enforce_for_root" not in handler.args)
        if refused:
            return code or AUTHTOK_ERR  # and PAM_AUTHTOK stays unset
        situation.authtok = True
        return PAM_SUCCESS
    if name == "pam_pwhistory.so":
        if knowledge.pwhistory_remember(handler) == 0:
            return PAM_IGNORE
        if situation.phase == "update" and not _new_authtok(handler, situation):
            return AUTHTOK_ERR
        if situation.phase != "update" or situation.change != "reused":
            return PAM_SUCCESS
        if situation.refuser is not None:
            refused = situation.refuser == index
        else:
            refused = not situation.caller_root or any(
                a.lower() == "enforce_for_root" for a in handler.args)
        if refused:
            situation.authtok = False  # the refused password is not left as PAM_AUTHTOK
            return MAXTRIES
        return PAM_SUCCESS
    if name in HARMLESS:
        return choose(key, [PAM_SUCCESS, PAM_IGNORE])
    if name == "pam_localuser.so":
        return PAM_SUCCESS  # the accounts in question are in /etc/passwd
    if name == "pam_usertype.so":
        regular = not situation.target_root  # a regular account, or root (a system one)
        wants_regular = "isregular" in handler.args
        wants_system = "issystem" in handler.args
        if wants_regular == wants_system:
            return PAM_SUCCESS if not (wants_regular or wants_system) else AUTH_ERR
        return PAM_SUCCESS if regular == wants_regular else AUTH_ERR
    if name in CONDITIONAL:
        return choose(key, _representatives(handler, allow_success=True))
    if name in OTHER_VERIFIERS and module_type == "auth":
        return choose(key, _representatives(handler, allow_success=False))
    unknown.add(key)
    return choose(key, _representatives(handler, allow_success=True))


def _new_authtok(handler: Handler, situation: Situation) -> bool:
    """``pam_get_authtok`` for the new password: with ``use_authtok`` only what an earlier
    module set (a rejected password is not set), otherwise the module asks for it."""
    if "use_authtok" in handler.args and not situation.authtok:
        return False
    situation.authtok = True
    return True


def _unix(index: int, handler: Handler, situation: Situation) -> int:
    if handler.type == "password" and situation.phase == "update" \
            and not _new_authtok(handler, situation):
        return AUTHTOK_ERR
    if handler.type == "auth":
        if situation.credential == "empty":
            return PAM_SUCCESS if any(a.startswith("nullok") for a in handler.args) else AUTH_ERR
        return PAM_SUCCESS if situation.credential == "right" else AUTH_ERR
    if handler.type == "password" and situation.phase == "update" \
            and situation.change == "reused":
        if situation.refuser is not None:
            return AUTHTOK_ERR if situation.refuser == index else PAM_SUCCESS
        if unix_remember(handler):
            return AUTHTOK_ERR
    return PAM_SUCCESS


def unix_remember(handler: Handler) -> int:
    """pam_unix ``remember=N`` (``strtol``; the last one wins), 0 when absent."""
    remember = 0
    for arg in handler.args:
        if arg.startswith("remember="):
            digits = arg[len("remember="):].lstrip(" \t\n\v\f\r")
            sign = -1 if digits.startswith("-") else 1
            digits = digits.lstrip("+-")
            number = ""
            for char in digits:
                if not ("0" <= char <= "9"):
                    break
                number += char
            remember = sign * int(number) if number else 0
    return max(remember, 0)


def faillock_action(handler: Handler) -> str:
    """The action word of a pam_faillock line; the last one given wins, preauth by default."""
    action = "preauth"
    for arg in handler.args:
        if arg in ("preauth", "authfail", "authsucc"):
            action = arg
    return action


def _faillock(handler: Handler, situation: Situation, knowledge: Knowledge) -> int:
    if handler.type == "account":
        return PAM_SUCCESS
    options = knowledge.faillock_options(handler)
    if options is None:
        raise Unmodelled(f"the configuration pam_faillock reads for {handler.text.strip()!r} "
                         "could not be read")
    if options.get("error"):
        return SERVICE_ERR  # conf= names a missing file, or a line is too long
    if situation.target_root and not options.get("even_deny_root"):
        return PAM_SUCCESS if faillock_action(handler) != "authfail" else PAM_IGNORE
    directory = str(options.get("dir") or FAILLOCK_DIR)
    failures = situation.tally.setdefault(directory, [])
    deny = int(options.get("deny") or 0)
    unlock = int(options.get("unlock_time") or 0)
    interval = int(options.get("fail_interval") or 0)
    latest = max(failures, default=0)
    counted = sum(1 for when in failures if latest - when < interval)
    locked = bool(deny) and counted >= deny and not (unlock and latest + unlock < situation.now)
    action = faillock_action(handler)
    if locked:
        return AUTH_ERR
    if action == "authfail":
        failures.append(situation.now)
        return PAM_IGNORE
    if action == "authsucc":
        failures.clear()
    return PAM_SUCCESS


def _wheel(handler: Handler, situation: Situation, choose: Choose, key: Hashable) -> int:
    args = handler.args
    if "root_only" in args and not situation.target_root:
        return PAM_IGNORE
    member = situation.caller_in_group
    deny, trust = "deny" in args, "trust" in args
    if member is None:
        return choose(key, [PAM_SUCCESS, PAM_IGNORE, PAM_PERM_DENIED, AUTH_ERR, SERVICE_ERR])
    options: list[int] = []
    if "use_uid" not in args:
        options.append(SERVICE_ERR)  # getlogin() and PAM_RUSER may name nobody
    if member:
        options.append(PAM_PERM_DENIED if deny else PAM_SUCCESS if trust else PAM_IGNORE)
    elif deny:  # a missing group lets everyone through a deny line
        options += [PAM_SUCCESS if trust else PAM_IGNORE, PAM_IGNORE]
    else:  # not a member, or no such group
        options += [PAM_PERM_DENIED, AUTH_ERR]
    return choose(key, options)
