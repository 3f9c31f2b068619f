"""The command tree of a start-up file, as bash 5.2 / dash 0.5.12 group tokens into commands.

Only what start-up files use is built: simple commands, ``&&``/``||`` lists, pipelines,
``if``/``for``/``while``/``until``/``case``, ``{ }`` and ``( )`` groups and function
definitions. Like bash (``parse_and_execute`` reads and runs one complete command at a
time), a syntax error ends the file there: :func:`parse_file` returns the complete
commands before it and the line of the error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scanner.probes.shell_lex import RESERVED, Token, tokenize


@dataclass
class Simple:
    words: list[Token]
    line: int


@dataclass
class Pipeline:
    commands: list[Node]
    negated: bool = False


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]] = field(default_factory=list)


@dataclass
class If:
    branches: list[tuple[list[AndOr], list[AndOr]]]
    otherwise: list[AndOr] | None


@dataclass
class Loop:
    kind: str  # for, while, until
    body: list[AndOr]
    variable: str = ""
    items: list[Token] | None = None  # for: None when it loops over "$@"
    condition: list[AndOr] = field(default_factory=list)


@dataclass
class Case:
    subject: Token
    arms: list[tuple[list[Token], list[AndOr]]]


@dataclass
class Group:
    body: list[AndOr]
    subshell: bool


@dataclass
class Function:
    name: str
    body: Node


Node = Simple | If | Loop | Case | Group | Function


class ShellSyntaxError(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def line(self) -> int:
        token = self.peek()
        return token.line if token else (self.tokens[-1].line if self.tokens else 1)

    def is_reserved(self, *names: str) -> bool:
        token = self.peek()
        return bool(token and token.kind == "word" and token.text in names)

    def expect_reserved(self, name: str) -> None:
        if not self.is_reserved(name):
            raise ShellSyntaxError(self.line(), f"expected {name!r}")
        self.index += 1

    def skip_newlines(self) -> None:
        while (token := self.peek()) is not None and token.kind == "newline":
            self.index += 1

    def compound_list(self, *enders: str) -> list[AndOr]:
        """Commands up to (not including) one of the reserved words ``enders``; bash and
        dash refuse an empty list there (``if then``), except before ``;;``/``esac``."""
        commands: list[AndOr] = []
        while True:
            self.skip_newlines()
            token = self.peek()
            if token is None:
                raise ShellSyntaxError(self.line(), "unexpected end of file")
            if (token.kind == "word" and token.text in enders) or (
                    token.kind == "op" and token.text in enders):
                if not commands and not {";;", "esac"} & set(enders):
                    raise ShellSyntaxError(token.line, f"unexpected {token.text!r}")
                return commands
            commands.append(self.and_or())
            token = self.peek()
            if token is not None and token.kind == "op" and token.text in (";", "&"):
                self.index += 1

    def and_or(self) -> AndOr:
        result = AndOr(self.pipeline())
        while (token := self.peek()) is not None and token.kind == "op" \
                and token.text in ("&&", "||"):
            self.index += 1
            self.skip_newlines()
            result.rest.append((token.text, self.pipeline()))
        return result

    def pipeline(self) -> Pipeline:
        negated = False
        if self.is_reserved("!"):
            self.index += 1
            negated = True
        commands = [self.command()]
        while (token := self.peek()) is not None and token.kind == "op" and token.text == "|":
            self.index += 1
            self.skip_newlines()
            commands.append(self.command())
        return Pipeline(commands, negated)

    def command(self) -> Node:
        token = self.peek()
        if token is None:
            raise ShellSyntaxError(self.line(), "unexpected end of file")
        node: Node
        if token.kind == "op" and token.text == "(":
            self.index += 1
            node = Group(self.compound_list(")"), subshell=True)
            self.index += 1
        elif token.kind == "word" and token.text in RESERVED:
            node = self.reserved_command(token)
        elif token.kind == "word" and self._function_ahead():
            self.index += 3
            self.skip_newlines()
            node = Function(token.text, self.command())
        elif token.kind == "word" or (token.kind == "op" and token.text[0] in "<>"):
            node = self.simple()
        else:
            raise ShellSyntaxError(token.line, f"unexpected {token.text!r}")
        self.redirections()
        return node

    def _function_ahead(self) -> bool:
        following = self.tokens[self.index + 1:self.index + 3]
        return [t.text for t in following] == ["(", ")"] and all(
            t.kind == "op" for t in following)

    def redirections(self) -> None:
        while (token := self.peek()) is not None and token.kind == "op" \
                and token.text[0] in "<>":
            self.index += 2

    def simple(self) -> Simple:
        words: list[Token] = []
        line = self.line()
        while (token := self.peek()) is not None:
            if token.kind == "word":
                nxt = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else None
                if token.text.isdigit() and nxt is not None and nxt.kind == "op" \
                        and nxt.text[0] in "<>":
                    self.index += 1  # the fd number of a redirection: 2>/dev/null
                    continue
                words.append(token)
                self.index += 1
            elif token.kind == "op" and token.text[0] in "<>":
                self.index += 2
            else:
                break
        return Simple(words, line)

    def reserved_command(self, token: Token) -> Node:
        name = token.text
        self.index += 1
        if name == "if":
            branches = []
            condition = self.compound_list("then")
            self.index += 1
            body = self.compound_list("elif", "else", "fi")
            branches.append((condition, body))
            otherwise = None
            while True:
                ender = self.peek()
                assert ender is not None
                self.index += 1
                if ender.text == "elif":
                    condition = self.compound_list("then")
                    self.index += 1
                    branches.append((condition, self.compound_list("elif", "else", "fi")))
                elif ender.text == "else":
                    otherwise = self.compound_list("fi")
                    self.index += 1
                    break
                else:
                    break
            return If(branches, otherwise)
        if name in ("while", "until"):
            condition = self.compound_list("do")
            self.index += 1
            body = self.compound_list("done")
            self.index += 1
            return Loop(name, body, condition=condition)
        if name in ("for", "select"):
            variable = self.peek()
            if variable is None or variable.kind != "word":
                raise ShellSyntaxError(self.line(), "for without a name")
            self.index += 1
            items: list[Token] | None = None
            self.skip_newlines()
            if self.is_reserved("in"):
                self.index += 1
                items = []
                while (item := self.peek()) is not None and item.kind == "word":
                    items.append(item)
                    self.index += 1
            token_after = self.peek()
            if token_after is not None and token_after.kind == "op" and token_after.text == ";":
                self.index += 1
            self.skip_newlines()
            self.expect_reserved("do")
            body = self.compound_list("done")
            self.index += 1
            return Loop("for", body, variable=variable.text, items=items)
        if name == "case":
            return self.case()
        if name == "{":
            body = self.compound_list("}")
            self.index += 1
            return Group(body, subshell=False)
        if name == "function":
            function = self.peek()
            if function is None:
                raise ShellSyntaxError(self.line(), "function without a name")
            self.index += 1
            if self._next_is_parens():
                self.index += 2
            self.skip_newlines()
            return Function(function.text, self.command())
        raise ShellSyntaxError(token.line, f"unexpected {name!r}")

    def _next_is_parens(self) -> bool:
        return [t.text for t in self.tokens[self.index:self.index + 2]] == ["(", ")"]

    def case(self) -> Case:
        subject = self.peek()
        if subject is None or subject.kind != "word":
            raise ShellSyntaxError(self.line(), "case without a word")
        self.index += 1
        self.skip_newlines()
        self.expect_reserved("in")
        arms: list[tuple[list[Token], list[AndOr]]] = []
        while True:
            self.skip_newlines()
            if self.is_reserved("esac"):
                self.index += 1
                return Case(subject, arms)
            patterns: list[Token] = []
            token = self.peek()
            if token is not None and token.kind == "op" and token.text == "(":
                self.index += 1
            while (token := self.peek()) is not None and not (
                    token.kind == "op" and token.text == ")"):
                if token.kind == "word":
                    patterns.append(token)
                self.index += 1
            if token is None:
                raise ShellSyntaxError(self.line(), "unexpected end of file in case")
            self.index += 1
            body = self.compound_list(";;", "esac")
            if self.peek() is not None and self.peek().text == ";;":  # type: ignore[union-attr]
                self.index += 1
            arms.append((patterns, body))


def parse_file(text: str) -> tuple[list[AndOr], ShellSyntaxError | None]:
    """The complete commands of a file, in order, up to the first syntax error."""
    parser = _Parser(tokenize(text))
    commands: list[AndOr] = []
    while True:
        parser.skip_newlines()
        if parser.peek() is None:
            return commands, None
        start = parser.index
        try:
            command = parser.and_or()
            token = parser.peek()
            if token is not None and token.kind == "op" and token.text in (";", "&"):
                parser.index += 1
            token = parser.peek()
            if token is not None and token.kind not in ("newline",) and not (
                    parser.index > start):
                raise ShellSyntaxError(token.line, f"unexpected {token.text!r}")
        except ShellSyntaxError as error:
            return commands, error
        commands.append(command)
