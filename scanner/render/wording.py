"""Result wording: a result's message and expectation, worded in a report's language.

Evaluation records *what* it found as data (a reason code with its operands and the
observed values, see the ``wording`` object of findings.schema.json); this module alone
turns that into words, in English or Chinese, when a report is rendered. Values, field
names, patterns, labels and a probe's own text are *literals*: shown the same in every
language, in a neutral form (``true``, ``"none"``, ``/^root$/``), never translated and
never as Python reprs. A result without a ``wording`` object (an older document) is
shown by its English ``message`` and ``expected``.

A leaf module (imports nothing from the scanner), so the evaluator can word the English
``message`` of the findings and every renderer can call it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

Segment = tuple[str, bool]  # (text, is a literal)

# code -> argument names, in the order evaluation records them (scanner/expect.py)
ARGS: Mapping[str, tuple[str, ...]] = {
    "said": ("text",), "why": ("text",), "note": ("text",),
    "reported": (), "not_reported": (), "value_not_reported": (), "item_not_reported": (),
    "field_not_reported": ("field",), "key_not_reported": ("key",),
    "nested_too_deep": (), "forbidden_holds": (), "negation_failed": ("expect",),
    "is_not": ("value", "operand"), "is": ("value", "operand"),
    "not_one_of": ("value", "operands"), "one_of": ("value", "operands"),
    "not_text": ("value",), "too_long_to_match": ("limit",),
    "no_match": ("value", "pattern"), "matches": ("value", "pattern"),
    "not_number": ("value",), "not_compared": ("value", "comparator", "operand"),
    "not_version": ("value",), "version_fails": ("value", "comparator", "operand"),
    "neither_list_nor_text": ("value",), "lacks": ("value", "operand"),
    "has": ("value", "operand"), "is_empty": ("value",), "is_not_empty": ("value",),
    "not_file_metadata": (), "file_missing": (), "bad_mode": ("mode",),
    "mode_too_open": ("mode", "allowed", "extra"), "attribute_not_reported": ("attribute",),
    "wrong_attribute": ("attribute", "actual", "allowed"), "cannot_apply": ("op",),
    "not_a_list": ("value",), "count_is": ("count", "comparator", "number"),
    "items_do_not_match": ("count", "labels", "more"), "no_item_matches": (),
    "items_match": ("count", "labels", "more"), "no_fields": ("value",),
    "os_unknown": ("applies_to",), "not_this_os": ("applies_to", "family"),
    "needs_judgement": (), "manual_evidence": (), "manual_evidence_partial": ("reasons",),
    "probe_not_collected": ("probe",), "not_present": (), "probe_failed": (),
    "judged": ("verdict", "assessor", "date"),
    "waiver_expired": ("source", "date"),
    "waiver_evidence_changed": ("source", "bound", "actual"),
    "judgement_evidence_changed": ("source", "bound", "actual"),
}

_T: Mapping[str, tuple[str, str]] = {  # code -> (en, zh); {name} is an argument
    "said": ("{text}", "探针报告：{text}"),
    "why": ("{text}", "探针说明：{text}"),
    "note": ("{text}", "{text}"),
    "reported": ("the value is reported", "该值已报告"),
    "not_reported": ("the value is not reported", "该值未报告"),
    "value_not_reported": ("the probe did not report the value", "探针未报告该值"),
    "item_not_reported": ("an item is not reported", "某一项未报告"),
    "field_not_reported": ("field {field} is not reported", "字段 {field} 未报告"),
    "key_not_reported": ("the host did not report {key}", "主机未报告 {key}"),
    "nested_too_deep": ("the value is nested too deeply to evaluate", "该值嵌套过深，无法评估"),
    "forbidden_holds": ("a forbidden condition holds", "存在禁止的情形"),
    "negation_failed": ("this holds, but must not: {expect}", "不应成立的条件成立：{expect}"),
    "is_not": ("{value} is not {operand}", "实际为 {value}，应为 {operand}"),
    "is": ("the value is {operand}", "实际值为 {operand}，不应为此值"),
    "not_one_of": ("{value} is not one of {operands}", "实际为 {value}，不属于 {operands}"),
    "one_of": ("{value} is one of {operands}", "实际为 {value}，属于 {operands}"),
    "not_text": ("{value} is not text", "{value} 不是文本"),
    "too_long_to_match": ("a value of {limit} characters or more is not matched against a "
                          "pattern; not evaluated",
                          "值长度达到 {limit} 个字符，不做模式匹配，未评估"),
    "no_match": ("{value} does not match {pattern}", "{value} 不匹配 {pattern}"),
    "matches": ("{value} matches {pattern}", "{value} 匹配 {pattern}"),
    "not_number": ("{value} is not a number", "{value} 不是数字"),
    "not_compared": ("{value} is not {comparator} {operand}",
                     "实际为 {value}，应{comparator} {operand}"),
    "not_version": ("{value} is not a version", "{value} 不是版本号"),
    "version_fails": ("version {value} is not {comparator} {operand}",
                      "版本 {value} 应{comparator} {operand}"),
    "neither_list_nor_text": ("{value} is neither a list nor text", "{value} 既不是列表也不是文本"),
    "lacks": ("{value} does not contain {operand}", "{value} 不包含 {operand}"),
    "has": ("{value} contains {operand}", "{value} 包含 {operand}"),
    "is_empty": ("{value} is empty", "{value} 为空"),
    "is_not_empty": ("{value} is not empty", "{value} 不为空"),
    "not_file_metadata": ("the value is not a file's metadata", "该值不是文件元数据"),
    "file_missing": ("the file does not exist", "文件不存在"),
    "bad_mode": ("mode {mode} is not an octal mode", "权限 {mode} 不是八进制权限"),
    "mode_too_open": ("mode {mode} grants more than {allowed} (extra bits {extra})",
                      "权限 {mode} 超出 {allowed}（多出 {extra}）"),
    "attribute_not_reported": ("the {attribute} is not reported", "未报告{attribute}"),
    "wrong_attribute": ("the {attribute} is {actual}, expected {allowed}",
                        "{attribute}为 {actual}，应为 {allowed}"),
    "cannot_apply": ("operator {op} cannot be applied", "无法应用运算符 {op}"),
    "not_a_list": ("{value} is not a list", "{value} 不是列表"),
    "count_is": ("{count} matching items; expected {comparator} {number}",
                 "符合的项数为 {count}，应{comparator} {number}"),
    "items_do_not_match": ("{count} {items} not match: {labels}", "共 {count} 项不符合：{labels}"),
    "no_item_matches": ("no item matches", "没有符合的项"),
    "items_match": ("{count} {items}: {labels}", "共 {count} 项符合：{labels}"),
    "no_fields": ("{value} has no fields", "{value} 没有字段"),
    "os_unknown": ("the host's OS family could not be determined; this rule applies to "
                   "{applies_to}", "无法确定主机的操作系统类型；本规则适用于 {applies_to}"),
    "not_this_os": ("applies to {applies_to}; this host is {family}",
                    "适用于 {applies_to}；本主机为 {family}"),
    "needs_judgement": ("needs an assessor's judgement", "需要测评人员判定"),
    "manual_evidence": ("needs an assessor's judgement; the evidence shown was collected "
                        "from the host", "需要测评人员判定；所示证据采集自主机"),
    "manual_evidence_partial": ("needs an assessor's judgement; the evidence shown was "
                                "collected from the host (part could not be collected: "
                                "{reasons})",
                                "需要测评人员判定；所示证据采集自主机（部分未能采集：{reasons}）"),
    "probe_not_collected": ("probe {probe} was not collected for this host (facts from "
                            "another baseline?)",
                            "本主机未采集探针 {probe}（事实数据是否来自其他基线？）"),
    "not_present": ("not present on this host", "本主机上不存在"),
    "probe_failed": ("the probe failed", "探针执行失败"),
    "judged": ("judged {verdict} by {assessor} on {date}", "{date} 由 {assessor} 判定为{verdict}"),
    "waiver_expired": ("waiver {source} expired on {date}; not applied",
                       "豁免 {source} 已于 {date} 过期，未应用"),
    "waiver_evidence_changed": ("waiver {source} is bound to evidence {bound}, but the "
                                "evidence is now {actual}; not applied",
                                "豁免 {source} 绑定的证据为 {bound}，"
                                "但现在的证据为 {actual}，未应用"),
    "judgement_evidence_changed": ("judgement {source} was made on evidence {bound}, but the "
                                   "evidence is now {actual}; not applied",
                                   "人工判定 {source} 基于证据 {bound}，"
                                   "但现在的证据为 {actual}，未应用"),
}

_WORDS: Mapping[str, tuple[str, str]] = {
    "true": ("true", "是"), "false": ("false", "否"), "or": (" or ", " 或 "),
    "and": (" and ", "且"), "list_sep": (", ", "，"), "empty_list": ("an empty list", "空列表"),
    "more": (" and {n} more", " 等，另有 {n} 项"), "parts": ("; ", "；"), "why": (": ", "："),
    "owner": ("owner", "属主"), "group": ("group", "属组"),
    "lt": ("below", "小于"), "le": ("at most", "不大于"), "gt": ("above", "大于"),
    "ge": ("at least", "不小于"), "equals": ("exactly", "等于"),
    "pass": ("pass", "通过"), "fail": ("fail", "不通过"),
    "not_applicable": ("not applicable", "不适用"),
    "check_all": (" AND ", "；并且 "), "check_any": (" OR ", "；或者 "),
}


@cache
def _pieces(template: str) -> tuple[str, ...]:
    """A template split into text (even places) and argument names (odd), once."""
    return tuple(re.split(r"\{(\w+)\}", template))


def _lang(lang: str) -> int:
    return 1 if lang == "zh" else 0


def _word(key: str, lang: str) -> str:
    return _WORDS[key][_lang(lang)]


def literal(value: Any) -> str:
    """A value in the neutral form every language shows: JSON-like, never a Python repr."""
    kind = type(value)
    if kind is str:
        if '"' not in value and "\\" not in value and value.isprintable():
            return f'"{value}"'  # what json.dumps gives, without its call
        return json.dumps(value, ensure_ascii=False)
    if kind is int:
        return str(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(literal(item) for item in value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


# ---------------------------------------------------------------------------- messages


def _value(value: Any, lang: str) -> list[Segment]:
    if isinstance(value, list) and not value:
        return [(_word("empty_list", lang), False)]
    return [(literal(value), True)]


def _names(values: Any, lang: str, joiner: str = "list_sep") -> list[Segment]:
    names = values if isinstance(values, list) else [values]
    out: list[Segment] = []
    for i, name in enumerate(names):
        if i:
            out.append((_word(joiner, lang), False))
        out.append((str(name), True))
    return out


def _reason_segments(reason: Mapping[str, Any], lang: str) -> list[Segment]:
    code = reason.get("code")
    args = reason.get("args") or {}
    template = _T.get(str(code))
    if template is None:  # a code from a newer scanner: its arguments, plainly
        return [(f"{code} {literal(args)}", True)]
    out: list[Segment] = []
    for i, piece in enumerate(_pieces(template[_lang(lang)])):
        if i % 2 == 0:
            if piece:
                out.append((piece, False))
        else:
            shown = _argument(code, piece, args, lang)
            if lang == "zh" and shown and not shown[0][1] and out and out[-1][0].endswith(" "):
                out[-1] = (out[-1][0].rstrip(), False)  # 应为是: no space before a word
            out.extend(shown)
    return out


def _argument(code: Any, name: str, args: Mapping[str, Any], lang: str) -> list[Segment]:
    if name == "items":  # English agreement: "1 item matches", "2 items match"
        one = args.get("count") == 1
        if code == "items_do_not_match":
            return [("item does" if one else "items do", False)]
        return [("item matches" if one else "items match", False)]
    value = args.get(name)
    if name in ("comparator",):
        return [(_word(str(value), lang), False)]
    if name == "attribute":
        return [(_word(str(value), lang) if value in ("owner", "group") else str(value), False)]
    if name == "verdict":
        return [(_word(str(value), lang) if str(value) in _WORDS else str(value), False)]
    if name == "expect":
        return expectation_segments(value, lang) if isinstance(value, Mapping) else []
    if name == "reasons":
        return _message_segments(value if isinstance(value, list) else [], lang)
    if name == "labels":
        out = _names(value or [], lang)
        if args.get("more"):
            out.append((_word("more", lang).format(n=args["more"]), False))
        return out
    if name == "pattern":
        return [(f"/{value}/", True)]
    if name in ("operands",):
        return _value(list(value) if isinstance(value, (list, tuple)) else value, lang)
    if name in ("allowed",) and isinstance(value, list):
        return _names(value, lang, "or")
    if name in ("applies_to",):
        return _names(value or [], lang)
    if name in ("value", "operand"):
        if name == "operand" and isinstance(value, bool):
            return [(_word("true" if value else "false", lang), False)]
        return _value(value, lang)
    if name in ("text", "field", "key", "probe", "mode", "allowed", "extra", "actual",
                "op", "source", "bound", "assessor", "date", "family"):
        return [(str(value), True)]
    return [(literal(value) if not isinstance(value, (int, float)) else str(value), True)]


def _message_segments(reasons: Sequence[Any], lang: str) -> list[Segment]:
    out: list[Segment] = []
    for reason in reasons:
        if not isinstance(reason, Mapping):
            continue
        if out:
            out.append((_word("why" if reason.get("code") == "why" else "parts", lang), False))
        out.extend(_reason_segments(reason, lang))
    return out


# ---------------------------------------------------------------------------- expectations

_PREDICATES: Mapping[str, tuple[str, str]] = {
    "equals": ("is {operand}", "为 {operand}"),
    "not_equals": ("is not {operand}", "不为 {operand}"),
    "in": ("is one of {operand}", "为 {operand} 之一"),
    "not_in": ("is none of {operand}", "不为 {operand} 中的任何一个"),
    "matches": ("matches {pattern}", "匹配 {pattern}"),
    "not_matches": ("does not match {pattern}", "不匹配 {pattern}"),
    "lt": ("is below {operand}", "小于 {operand}"),
    "le": ("is at most {operand}", "不大于 {operand}"),
    "gt": ("is above {operand}", "大于 {operand}"),
    "ge": ("is at least {operand}", "不小于 {operand}"),
    "version_lt": ("is a version below {operand}", "版本低于 {operand}"),
    "version_le": ("is a version at most {operand}", "版本不高于 {operand}"),
    "version_gt": ("is a version above {operand}", "版本高于 {operand}"),
    "version_ge": ("is a version at least {operand}", "版本不低于 {operand}"),
    "contains": ("contains {operand}", "包含 {operand}"),
    "not_contains": ("does not contain {operand}", "不包含 {operand}"),
    "mode_at_most": ("has mode at most {operand}", "权限不超过 {operand}"),
    "owner": ("is owned by {names}", "属主为 {names}"),
    "group": ("has group {names}", "属组为 {names}"),
    "reported": ("is reported", "已报告"), "not_reported": ("is not reported", "未报告"),
    "empty": ("is empty", "为空"), "not_empty": ("is not empty", "不为空"),
    "not": ("does not satisfy: {inner}", "不满足：{inner}"),
    "none": ("satisfies none of: {inner}", "以下均不满足：{inner}"),
    "all_items": ("every item{match}", "每一项都{match}"),
    "any_item": ("some item{match}", "至少有一项{match}"),
    "no_item": ("no item{match}", "没有任何一项{match}"),
    "count": ("the number of items{where} is {comparator} {number}",
              "{where}项数{comparator} {number}"),
}


def _fill(template: str, parts: Mapping[str, list[Segment]]) -> list[Segment]:
    out: list[Segment] = []
    for i, piece in enumerate(_pieces(template)):
        if i % 2 == 0:
            if piece:
                out.append((piece, False))
        else:
            out.extend(parts.get(piece, []))
    return out


def expectation_segments(node: Mapping[str, Any], lang: str) -> list[Segment]:
    """An expectation (the ``wording.expected`` tree's ``expect``) as a predicate."""
    op = str(node.get("op"))
    operand = node.get("operand")
    at = _lang(lang)
    if op in ("all", "any"):
        out: list[Segment] = []
        for i, part in enumerate(node.get("parts") or []):
            if i:
                out.append((_word("and" if op == "all" else "or", lang), False))
            out.extend(expectation_segments(part, lang))
        return out
    if op in ("exists", "absent"):
        shown = bool(operand) == (op == "exists")
        return [(_PREDICATES["reported" if shown else "not_reported"][at], False)]
    if op == "empty":
        return [(_PREDICATES["empty" if operand else "not_empty"][at], False)]
    if op in ("not", "none"):
        inner: list[Segment] = []
        for i, part in enumerate(node.get("parts") or []):
            if i:
                inner.append((_word("parts", lang), False))
            inner.extend(expectation_segments(part, lang))
        return _fill(_PREDICATES[op][at], {"inner": inner})
    if op in ("all_items", "any_item", "no_item"):
        return _fill(_PREDICATES[op][at], {"match": _match_segments(node.get("match"), lang)})
    if op == "count":
        where = node.get("where")
        where_parts: list[Segment] = []
        if where:
            where_parts = ([(" where", False), *_match_segments(where, lang)] if at == 0 else
                           [("满足“", False), *_match_segments(where, lang), ("”的", False)])
        return _fill(_PREDICATES["count"][at], {
            "where": where_parts, "comparator": [(_word(str(node.get("comparator")), lang),
                                                  False)],
            "number": [(str(node.get("number")), True)]})
    template = _PREDICATES.get(op)
    if template is None:
        return [(f"{op} {literal(operand)}", True)]
    if isinstance(operand, bool):
        shown_operand: list[Segment] = [(_word("true" if operand else "false", lang), False)]
    elif op == "mode_at_most":
        shown_operand = [(str(operand), True)]
    else:
        shown_operand = [(literal(operand), True)]
    text = template[at].replace(" {operand}", "{operand}") if at and isinstance(
        operand, bool) else template[at]  # 为是, not 为 是
    return _fill(text, {"operand": shown_operand, "pattern": [(f"/{operand}/", True)],
                                "names": _names(operand, lang, "or")})


def _match_segments(match: Any, lang: str) -> list[Segment]:
    if not isinstance(match, Mapping):
        return []
    if match.get("whole") is not None:
        return [(" " if lang != "zh" else "", False), *expectation_segments(match["whole"], lang)]
    out: list[Segment] = [(": " if lang != "zh" else "：", False)]
    for i, field in enumerate(match.get("fields") or []):
        if i:
            out.append((_word("list_sep", lang), False))
        out.extend([(str(field.get("name")), True), (" ", False),
                    *expectation_segments(field.get("expect") or {}, lang)])
    return out


def check_segments(check: Mapping[str, Any], lang: str) -> list[Segment]:
    """A check (the ``wording.expected`` tree): a probe check or several combined."""
    if "parts" in check:
        out: list[Segment] = []
        for i, part in enumerate(check["parts"]):
            if i:
                out.append((_word("check_" + str(check.get("mode")), lang), False))
            nested = "parts" in part
            out.extend([("(", False)] if nested else [])
            out.extend(check_segments(part, lang))
            out.extend([(")", False)] if nested else [])
        return out
    out = [(str(check.get("subject")), True)]
    args = check.get("args") or {}
    if args:
        out.append((" (" if lang != "zh" else "（", False))
        out.append((", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                              for k, v in sorted(args.items())), True))
        out.append((")" if lang != "zh" else "）", False))
    out.append((": " if lang != "zh" else "：", False))
    out.extend(expectation_segments(check.get("expect") or {}, lang))
    return out


# ---------------------------------------------------------------------------- the seam


def _wording(result: Mapping[str, Any]) -> Mapping[str, Any] | None:
    wording = result.get("wording")
    return wording if isinstance(wording, Mapping) else None


def message_segments(result: Mapping[str, Any], lang: str) -> list[Segment]:
    """The message as (text, is a literal) pieces; an older document's English text."""
    wording = _wording(result)
    if wording is None:
        return [(str(result.get("message") or ""), False)]
    return _message_segments(wording.get("message") or [], lang)


def expected_segments(result: Mapping[str, Any], lang: str) -> list[Segment]:
    """The expectation as (text, is a literal) pieces; an older document's English text."""
    wording = _wording(result)
    if wording is None or not isinstance(wording.get("expected"), Mapping):
        return [(str(result.get("expected") or ""), False)]
    return check_segments(wording["expected"], lang)


def result_message(result: Mapping[str, Any], lang: str) -> str:
    """Why a result is what it is, in ``lang`` (en, zh), as plain text."""
    return "".join(text for text, _ in message_segments(result, lang))


def result_expected(result: Mapping[str, Any], lang: str) -> str:
    """What a result's rule expects, in ``lang`` (en, zh), as plain text."""
    return "".join(text for text, _ in expected_segments(result, lang))


def as_html(segments: Sequence[Segment]) -> str:
    """Escaped HTML: literals in ``<code>``, prose as text."""
    return "".join(f"<code>{html.escape(text)}</code>" if is_literal else html.escape(text)
                   for text, is_literal in segments)


def english_message(reasons: Sequence[Mapping[str, Any]]) -> str:
    """The findings' ``message``: the structured reasons worded in plain English."""
    return "".join(text for text, _ in _message_segments(reasons, "en"))


def english_expected(check: Mapping[str, Any]) -> str:
    """The findings' ``expected``: the structured check worded in plain English."""
    return "".join(text for text, _ in check_segments(check, "en"))


def reason_json(reason: Sequence[Any]) -> dict[str, Any]:
    """A reason tuple ``(code, *args)`` as the findings' ``{"code", "args"}`` object."""
    code, *values = reason
    names = ARGS.get(code, ())
    args: dict[str, Any] = {}
    for name, value in zip(names, values, strict=False):
        if isinstance(value, tuple) and value and isinstance(value[0], tuple):
            args[name] = [reason_json(v) for v in value]  # nested reasons
        elif isinstance(value, tuple):
            args[name] = list(value)
        else:
            args[name] = value
    return {"code": code, "args": args}
