"""Every automated rule of the shipped baseline has oracle states: one its consumer finds
compliant and one it does not (tests/oracle/_oracle.py says how a state is judged)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from scanner.baseline import load_baseline
from tests.oracle._oracle import Ask, Case, Consumer, State, check_case

HERE = Path(__file__).parent


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(HERE.glob("test_*.py")):
        if path.stem == "test_coverage":
            continue
        module = importlib.import_module(f"tests.oracle.{path.stem}")
        cases.extend(getattr(module, "CASES", []))
    return cases


def test_every_automated_rule_has_a_consumer_decided_pass_and_fail_state() -> None:
    automated = {rule.id for rule in load_baseline().rules
                 if rule.check is not None and rule.manual is None}
    intents: dict[str, set[str]] = {}
    for case in all_cases():
        intents.setdefault(case.rule, set()).add(case.intent)
    unknown = sorted(set(intents) - {rule.id for rule in load_baseline().rules})
    assert not unknown, f"oracle cases for rules the baseline does not have: {unknown}"
    missing = sorted(f"{rule} (has {sorted(intents.get(rule, set())) or 'nothing'})"
                     for rule in automated if intents.get(rule, set()) != {"pass", "fail"})
    assert not missing, "automated rules without both oracle states: " + ", ".join(missing)


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in all_cases()]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_a_question_that_times_out_is_asked_again_and_never_read_as_an_answer(
        tmp_path: Path) -> None:
    """A login that hangs past its limit must not read as a refused one: the harness asks
    once more, and fails naming the question when it times out again."""
    hangs = Consumer("a consumer that never answers", [Ask(["sleep", "30"], timeout=1)],
                     lambda answers, parameters: not answers[0].ok)
    case = Case("ssh.root-login-disabled", "hangs", State(), hangs, "pass")
    with pytest.raises(pytest.fail.Exception, match=r"could not be asked: question 0 "
                                                    r"\(sleep 30\) timed out after 1 s, twice"):
        check_case(case, tmp_path)
    assert (tmp_path / "again").is_dir()  # the case was built and asked a second time
