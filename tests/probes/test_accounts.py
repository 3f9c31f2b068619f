"""The `accounts` probe parser: passwd plus shadow flags reduced on the host."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import FIXTURES, interpret


def _captured(rule: str, case: str) -> dict[str, Any]:
    document = yaml.safe_load((FIXTURES / "rules" / f"{rule}.yaml").read_text(encoding="utf-8"))
    output: dict[str, Any] = next(c for c in document["cases"] if c["name"] == case)["outputs"][0]
    return output


def _users(payload: str) -> dict[str, dict[str, Any]]:
    return {user["name"]: user for user in interpret("accounts", payload).data["users"]}


def test_captured_base_accounts() -> None:
    data = interpret("accounts", _captured("accounts.single-uid0", "debian12-base")["stdout"]).data
    users = {user["name"]: user for user in data["users"]}
    assert data["uid_min"] == 1000
    assert users["root"]["uid"] == 0 and users["root"]["system"] is False
    assert users["root"]["password"] == "set"
    assert users["daemon"]["system"] is True and users["daemon"]["login_shell"] is False
    assert users["daemon"]["password"] == "locked"
    assert users["admin"]["max_days"] == 90 and users["admin"]["system"] is False
    assert "unobservable" not in data


def test_captured_unreadable_shadow_marks_fields_unobservable() -> None:
    output = _captured("accounts.no-empty-passwords", "shadow-unreadable")
    data = interpret("accounts", output["stdout"]).data
    assert "password" not in data["users"][0]
    assert "not readable" in data["unobservable"]["password"]


def test_password_flags_and_legacy_passwd_fields() -> None:
    payload = ("P:root:0:0:/root:/bin/bash:shadow\nP:old:1001:1001:/home/old:/bin/sh:set\n"
               "P:nosh:1002:1002:/home/nosh:/bin/sh:shadow\n"
               "S:root:empty:19700:0:99999:7::\n")
    users = _users(payload)
    assert users["root"]["password"] == "empty"
    assert users["old"]["password"] == "set"
    assert users["nosh"]["password"] == "no_shadow_entry"


def test_duplicate_names_stay_visible_and_odd_numbers_are_none() -> None:
    payload = ("P:root:0:0:/root:/bin/bash:shadow\nP:root:0:0:/root:/bin/sh:shadow\n"
               "P:x:abc:1:/:/bin/sh:shadow\nS:root:set:19700:0:99999:7:::\n"
               "S:x:set::::::\n")
    users = interpret("accounts", payload).data["users"]
    assert [u["name"] for u in users] == ["root", "root", "x"]
    assert users[2]["uid"] is None and users[2]["system"] is False
    assert users[2]["max_days"] is None


def test_uid_min_from_login_defs_and_nologin_shells() -> None:
    payload = ("P:svc:600:600:/srv:/usr/sbin/nologin:shadow\nP:app:700:700:/app:/bin/bash:"
               "shadow\nD:UID_MIN:500\nD:UID_MIN:x\n")
    data = interpret("accounts", payload).data
    users = {u["name"]: u for u in data["users"]}
    assert data["uid_min"] == 500
    assert users["svc"]["system"] is False  # 600 ≥ UID_MIN 500
    assert users["app"]["login_shell"] is True


def test_missing_shadow_and_gbk_bytes() -> None:
    payload = b"P:root:0:0:/root:/bin/bash:shadow\n" + \
        "P:用户:1000:1000:/home/u:/bin/bash:shadow\n".encode("gbk") + b"X:missing\n"
    data = interpret("accounts", payload).data
    assert len(data["users"]) == 2
    assert data["unobservable"]["password"] == "/etc/shadow does not exist"


def test_unreadable_passwd_empty_and_truncated_are_errors() -> None:
    assert interpret("accounts", "", exit_status=3).status == "error"
    assert interpret("accounts", "").status == "error"
    assert interpret("accounts", "garbage\n::::\n").status == "error"
    assert interpret("accounts", "P:root:0:0:/root:/bin/bash:shadow\n",
                     exit_status=None).status == "error"
