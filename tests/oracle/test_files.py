"""Account files: the kernel's permission check, asked by a read attempt as another user."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case


def _nobody_cannot_read(path: str) -> Consumer:
    def decide(answers: list[Answer], parameters: object) -> bool:
        return not answers[0].ok
    return Consumer("read attempt as another user (kernel DAC)",
                    [Ask(["cat", "--", path], user="nobody")], decide)


CASES = [
    Case("files.shadow-permissions", "stock", State(setup=["chmod 0640 /etc/shadow"],
         overlays=["/etc"]), _nobody_cannot_read("/etc/shadow"), "pass"),
    Case("files.shadow-permissions", "world-readable",
         State(setup=["chmod 0644 /etc/shadow"], overlays=["/etc"]),
         _nobody_cannot_read("/etc/shadow"), "fail"),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
