"""A real libpam as the consumer: ``pam_authenticate`` / ``pam_chauthtok`` asked in a case's state.

:func:`pam_ask` returns an :class:`~tests.oracle._oracle.Ask` that runs a small ctypes
program under the system python against ``libpam.so.0``. The conversation answers each
password prompt (echo on or off) with the next of ``responses``; once they run out it
answers with a conversation error, so a stack that asks more than the author expected
fails instead of hanging. The program prints one JSON line: the return code of each
libpam call, its name (``pam_strerror``) and the prompts it saw. It sets PAM_FAIL_DELAY
to a function that does not sleep (an application may), so failed attempts cost no
waiting; nothing else changes.

``as_user``: run with that account's uid as the *real* uid and root as the effective
one, as a setuid-root ``passwd`` or ``su`` does (pam_unix, pam_pwquality, pam_rootok and
pam_wheel judge ``getuid()``); otherwise as root, as ``login`` and ``sshd`` do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from tests.oracle._oracle import Answer, Ask

PAM_SUCCESS = 0

_DRIVER = r"""
import ctypes, ctypes.util, json, os, pwd, sys
request = json.loads(sys.argv[1])
libpam = ctypes.CDLL("libpam.so.0")
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.calloc.restype = ctypes.c_void_p
libc.strdup.restype = ctypes.c_void_p
libc.strdup.argtypes = [ctypes.c_char_p]

class Message(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]

class Response(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]

CONV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(Message)),
                        ctypes.POINTER(ctypes.POINTER(Response)), ctypes.c_void_p)

class Conversation(ctypes.Structure):
    _fields_ = [("conv", CONV), ("appdata_ptr", ctypes.c_void_p)]

responses = list(request["responses"])
prompts = []

def converse(count, messages, replies, _data):
    array = libc.calloc(count, ctypes.sizeof(Response))
    if not array:
        return 5  # PAM_BUF_ERR
    out = ctypes.cast(array, ctypes.POINTER(Response))
    for index in range(count):
        message = messages[index].contents
        text = (message.msg or b"").decode("utf-8", "replace")
        prompts.append([message.msg_style, text])
        if message.msg_style in (1, 2):  # PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON
            if not responses:
                return 19  # PAM_CONV_ERR
            out[index].resp = libc.strdup(responses.pop(0).encode("utf-8"))
    replies[0] = out
    return 0

conversation = Conversation(CONV(converse), None)
handle = ctypes.c_void_p()
libpam.pam_strerror.restype = ctypes.c_char_p
libpam.pam_strerror.argtypes = [ctypes.c_void_p, ctypes.c_int]
if request["as_user"]:
    uid = pwd.getpwnam(request["as_user"]).pw_uid
    os.setresuid(uid, 0, 0)
result = {"calls": [], "prompts": prompts}
rc = libpam.pam_start(request["service"].encode(), request["user"].encode(),
                      ctypes.byref(conversation), ctypes.byref(handle))
result["calls"].append(["pam_start", rc, ""])
DELAY = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p)
no_delay = DELAY(lambda retval, usec, data: None)
if rc == 0:
    libpam.pam_set_item(handle, 4, b"tty1")  # PAM_TTY, as login and su set it
    # PAM_FAIL_DELAY: the application's own delay function, here one that does not wait
    libpam.pam_set_item(handle, 10, ctypes.cast(no_delay, ctypes.c_void_p))
    for name in request["calls"]:
        if name == "pam_chauthtok":
            rc = libpam.pam_chauthtok(handle, 0)
        else:
            rc = getattr(libpam, name)(handle, 0)
        result["calls"].append([name, rc, libpam.pam_strerror(handle, rc).decode()])
        if rc != 0:
            break
    libpam.pam_end(handle, rc)
print(json.dumps(result))
"""


def pam_ask(service: str, user: str, responses: Sequence[str],
            calls: Sequence[str] = ("pam_authenticate",), as_user: str | None = None,
            env: dict[str, str] | None = None, prefix: Sequence[str] = ()) -> Ask:
    """Ask the real libpam: start ``service`` for ``user`` and run ``calls`` in order.

    ``prefix`` runs the program under a wrapper (``faketime``, say)."""
    request = {"service": service, "user": user, "responses": list(responses),
               "calls": list(calls), "as_user": as_user}
    return Ask([*prefix, "/usr/bin/python3", "-c", _DRIVER, json.dumps(request)],
               env=env or {})


def pam_result(answer: Answer) -> list[tuple[str, int, str]]:
    """The (call, return code, name) list the program printed; [] when it did not run."""
    lines = [line for line in answer.stdout.split("\n") if line.startswith("{")]
    if not lines:
        return []
    return [(str(c[0]), int(c[1]), str(c[2])) for c in json.loads(lines[-1])["calls"]]


def pam_succeeded(answer: Answer) -> bool:
    """Whether every libpam call the program made returned PAM_SUCCESS."""
    calls = pam_result(answer)
    if not calls:
        raise AssertionError(f"the libpam program did not run: {answer.stderr[-800:]}")
    return all(rc == PAM_SUCCESS for _, rc, _ in calls)
