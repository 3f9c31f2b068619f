"""Shell text as bash 5.2 and dash 0.5.12 split it into commands (the subset start-up files use).

Parsing follows the shells' own grammar (bash ``parse.y``/``shell_getc``, POSIX XCU 2.3
token recognition), not a line model, because the consumers do not read lines:

* words end at an unquoted blank (space or tab only: a ``\\r`` is part of the word, so
  ``TMOUT=600\\r`` assigns ``600\\r``), newline or operator ``; & | ( ) < >``;
* ``'…'``, ``"…"``, ``\\x`` quote; backslash-newline joins lines; ``$(…)``, ``${…}`` and
  backquotes are part of the word they start in;
* ``#`` starts a comment only at the start of a word; a comment runs to the newline;
* reserved words (``if then elif else fi for in do done while until case esac { }``)
  count only where a command starts, spelled exactly.

Words carry their literal value when they contain no expansion, so that callers can
tell ``umask 027`` from ``umask $U``.
"""

from __future__ import annotations

from dataclasses import dataclass

BLANK = " \t"  # bash's ``whitespace()`` and dash's word separators in the grammar
_OPERATOR_START = ";&|()<>"
_OPERATORS = (";;", "&&", "||", ">>", "<<", ">&", "<&", ">|", "<>", ";", "&", "|", "(", ")",
              "<", ">")
RESERVED = frozenset({"if", "then", "elif", "else", "fi", "for", "in", "do", "done", "while",
                      "until", "case", "esac", "{", "}", "!", "function", "select"})


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "op", "newline"
    text: str  # the word as written (quotes kept), or the operator
    line: int
    literal: str | None = None  # the value after quote removal; None when it expands
    glob: bool = False  # holds an unquoted * ? or [


def _skip_paren_group(text: str, index: int, opener: str, closer: str) -> int:
    """Index just past the ``closer`` matching the ``opener`` at ``index``."""
    depth = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "'" and opener == "(":
            end = text.find("'", index + 1)
            index = len(text) if end < 0 else end + 1
            continue
        if char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return index


def tokenize(text: str) -> list[Token]:
    """The tokens of a whole file (a word may span lines inside quotes)."""
    tokens: list[Token] = []
    index, line = 0, 1
    length = len(text)
    while index < length:
        char = text[index]
        if char in BLANK:
            index += 1
            continue
        if char == "\\" and text.startswith("\\\n", index):
            index += 2
            line += 1
            continue
        if char == "\n":
            tokens.append(Token("newline", "\n", line))
            index += 1
            line += 1
            continue
        if char == "#":
            end = text.find("\n", index)
            index = length if end < 0 else end
            continue
        if char in _OPERATOR_START:
            operator = next(op for op in _OPERATORS if text.startswith(op, index))
            tokens.append(Token("op", operator, line))
            index += len(operator)
            continue
        start, start_line = index, line
        literal: list[str] | None = []
        glob = False
        while index < length:
            char = text[index]
            if char in BLANK or char == "\n" or char in _OPERATOR_START:
                break
            if char == "\\":
                if text.startswith("\\\n", index):
                    index += 2
                    line += 1
                    continue
                if literal is not None and index + 1 < length:
                    literal.append(text[index + 1])
                index += 2
                continue
            if char == "'":
                end = text.find("'", index + 1)
                end = length if end < 0 else end
                if literal is not None:
                    literal.append(text[index + 1:end])
                line += text.count("\n", index, end)
                index = end + 1
                continue
            if char == '"':
                cursor = index + 1
                part: list[str] = []
                while cursor < length and text[cursor] != '"':
                    if text[cursor] == "\\" and cursor + 1 < length:
                        nxt = text[cursor + 1]
                        if nxt == "\n":
                            cursor += 2
                            continue
                        part.append(nxt if nxt in '$`"\\' else "\\" + nxt)
                        cursor += 2
                        continue
                    if text[cursor] in "$`":
                        literal = None
                    if text[cursor] == "$" and text.startswith("$(", cursor):
                        cursor = _skip_paren_group(text, cursor + 1, "(", ")")
                        continue
                    part.append(text[cursor])
                    cursor += 1
                if literal is not None:
                    literal.append("".join(part))
                line += text.count("\n", index, cursor)
                index = cursor + 1
                continue
            if char == "$":
                literal = None
                if text.startswith("$(", index):
                    end = _skip_paren_group(text, index + 1, "(", ")")
                    line += text.count("\n", index, end)
                    index = end
                    continue
                if text.startswith("${", index):
                    end = _skip_paren_group(text, index + 1, "{", "}")
                    index = end
                    continue
                index += 1
                continue
            if char == "`":
                literal = None
                end = text.find("`", index + 1)
                end = length if end < 0 else end
                line += text.count("\n", index, end)
                index = end + 1
                continue
            if char in "*?[":
                glob = True
            if literal is not None:
                literal.append(char)
            index += 1
        tokens.append(Token("word", text[start:index], start_line,
                            None if literal is None else "".join(literal), glob))
    return tokens
