"""A module stack run as Linux-PAM 1.5.2's ``_pam_dispatch_aux`` (libpam/pam_dispatch.c) runs it.

The dispatcher is exact: ``ok``/``done``/``bad``/``die``/``ignore``/``reset`` and jumps
(a jump counts a substack as one entry), the impression and status libpam keeps, the
substack rule (``done`` and ``die`` inside a substack end only the substack), must-fail
handlers returning PAM_PERM_DENIED, and the final sanity check (a success without a
positive impression is PAM_PERM_DENIED). ``pam_chauthtok`` dispatches the password stack
twice, PAM_PRELIM_CHECK then PAM_UPDATE_AUTHTOK, each a plain run (libpam/pam_password.c).

What a module returns comes from :mod:`scanner.probes.pam.modules`. Where it depends on
something the scanner does not know, the module offers several results and
:func:`explore` runs every combination ("world"): a verdict holds only when it holds in
every world.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from scanner.probes.pam.config import (
    BAD,
    DIE,
    DONE,
    IGNORE,
    OK,
    PAM_IGNORE,
    PAM_PERM_DENIED,
    PAM_SUCCESS,
    RESET,
    RETURN_VALUES,
    Handler,
)

_UNDEF, _POSITIVE, _NEGATIVE = 0, 1, 2
MAX_WORLDS = 4096

T = TypeVar("T")
ModuleResult = Callable[[int, Handler], int]


def dispatch(stack: Sequence[Handler], result: ModuleResult) -> int:
    """The return code libpam gives for ``stack``; ``result(index, handler)`` runs a module."""
    if not stack:
        return PAM_PERM_DENIED  # "no modules loaded": PAM_MUST_FAIL_CODE
    impression, status = _UNDEF, PAM_PERM_DENIED
    saved: dict[int, tuple[int, int]] = {0: (impression, status)}
    prev_level = 0
    index = 0
    while index < len(stack):
        handler = stack[index]
        level = handler.level
        if prev_level < level:
            saved[level] = (impression, status)
        if handler.kind == "substack":
            prev_level = level
            index += 1
            continue
        retval = PAM_PERM_DENIED if handler.kind == "must_fail" else result(index, handler)
        if not 0 <= retval < RETURN_VALUES:
            retval, action = PAM_PERM_DENIED, BAD
        else:
            action = handler.actions[retval]
        decided = False
        if action == RESET:
            impression, status = saved.get(level, (_UNDEF, PAM_PERM_DENIED))
        elif action in (OK, DONE):
            if impression == _UNDEF or (impression == _POSITIVE and status == PAM_SUCCESS):
                impression, status = _POSITIVE, retval
            decided = impression == _POSITIVE and action == DONE
        elif action in (BAD, DIE):
            if impression != _NEGATIVE:
                impression = _NEGATIVE
                status = PAM_PERM_DENIED if retval == PAM_IGNORE else retval
            decided = action == DIE
        elif action > 0:
            jump = action
            while index + 1 < len(stack) and stack[index + 1].level >= level and jump > 0:
                index += 1
                while index + 1 < len(stack) and stack[index + 1].level > level:
                    index += 1
                jump -= 1
            if jump:
                impression, status = _NEGATIVE, PAM_PERM_DENIED
        elif action != IGNORE:
            impression, status = _NEGATIVE, PAM_PERM_DENIED
        if decided:
            while index + 1 < len(stack) and stack[index + 1].level >= level:
                index += 1
        prev_level = level
        index += 1
    if status == PAM_SUCCESS and impression != _POSITIVE:
        status = PAM_PERM_DENIED
    return status


class _Need(Exception):
    def __init__(self, key: Hashable, options: tuple[int, ...]) -> None:
        super().__init__(key)
        self.key = key
        self.options = options


class TooManyWorlds(Exception):
    """More combinations of unknown module results than :data:`MAX_WORLDS`."""


Choose = Callable[[Hashable, Sequence[int]], int]


@dataclass(frozen=True)
class World:
    choices: tuple[tuple[Any, int], ...]
    value: Any


def explore(run: Callable[[Choose], T]) -> list[tuple[dict[Hashable, int], T]]:
    """``run`` once per combination of the choices it asks for (``choose(key, options)``
    returns the same option for a key throughout one run)."""
    pending: list[dict[Hashable, int]] = [{}]
    done: list[tuple[dict[Hashable, int], T]] = []
    while pending:
        world = pending.pop()

        def choose(key: Hashable, options: Sequence[int], world: dict[Hashable, int] = world
                   ) -> int:
            if key in world:
                return world[key]
            unique = tuple(dict.fromkeys(options))
            if len(unique) == 1:
                world[key] = unique[0]
                return unique[0]
            raise _Need(key, unique)

        try:
            done.append((world, run(choose)))
        except _Need as need:
            pending += [{**world, need.key: option} for option in need.options]
        if len(done) + len(pending) > MAX_WORLDS:
            raise TooManyWorlds(f"more than {MAX_WORLDS} combinations of module results")
    return done
