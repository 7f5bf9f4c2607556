"""The spec's small expression language: parse, evaluate, fold and print as Python.

Expressions appear wherever a spec attribute expects a number or a truth value,
for example ``out: width * 4`` or ``stride: 2 if i == 0 else 1``. The grammar is
a subset of Python's expression grammar::

    expr     := or_expr ['if' or_expr 'else' expr]
    or_expr  := and_expr ('or' and_expr)*
    and_expr := not_expr ('and' not_expr)*
    not_expr := 'not' not_expr | compare
    compare  := sum (('=='|'!='|'<'|'<='|'>'|'>=') sum)*
    sum      := term (('+'|'-') term)*
    term     := unary (('*'|'/'|'//'|'%') unary)*
    unary    := ('-'|'+') unary | power
    power    := postfix ['**' unary]
    postfix  := atom ('[' expr ']' | '(' args ')')*
    atom     := NUMBER | STRING | NAME | 'true' | 'false' | '(' expr ')' | '[' [expr (',' expr)*] ']'

It is parsed by hand here, never by Python's ``eval``: only the node kinds
below exist, names resolve only to spec parameters, and the only callables are
those in FUNCTIONS. Numbers are exact (int, or a Fraction from ``/``, kept
whole as an int) until a float enters; every result is bounded (10^40 in size,
numerator and denominator alike) before it can grow. `to_python` prints an
expression as Python that computes the same values.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping, Optional

MAX_LENGTH = 2000
MAX_DEPTH = 40
MAX_MAGNITUDE = 10**40
MAX_EXPONENT = 256
_MAX_BITS = MAX_MAGNITUDE.bit_length()


class ExprError(Exception):
    """A problem in an expression; `offset` is the 0-based column inside the expression text."""

    def __init__(self, message: str, offset: int = 0, hint: str | None = None, length: int = 1):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint
        self.length = length


# ---------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\.\d+(?:[eE][-+]?\d+)?|\d+)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<string>'[^'\\]*'|"[^"\\]*")
  | (?P<op>\*\*|//|==|!=|<=|>=|[-+*/%<>()\[\],])
    """,
    re.VERBOSE,
)

_KEYWORDS = {"and", "or", "not", "if", "else", "true", "false", "True", "False"}


@dataclass(frozen=True)
class Token:
    kind: str  # number | name | string | op | keyword | end
    text: str
    offset: int


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is longer than {MAX_LENGTH} characters")
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExprError(f"unexpected character {text[pos]!r} in expression", pos)
        kind = match.lastgroup or ""
        if kind != "ws":
            word = match.group()
            if kind == "name" and word in _KEYWORDS:
                kind = "keyword"
            tokens.append(Token(kind, word, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# ---------------------------------------------------------------- nodes


@dataclass(frozen=True)
class Expr:
    offset: int


@dataclass(frozen=True)
class Const(Expr):
    value: Any


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class Unary(Expr):
    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Compare(Expr):
    ops: tuple[str, ...]
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class BoolOp(Expr):
    op: str
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class IfElse(Expr):
    condition: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True)
class Call(Expr):
    function: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Index(Expr):
    target: Expr
    index: Expr


@dataclass(frozen=True)
class ListExpr(Expr):
    items: tuple[Expr, ...]


# ---------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def accept(self, *texts: str) -> Token | None:
        if self.token.kind in ("op", "keyword") and self.token.text in texts:
            return self.take()
        return None

    def expect(self, text: str) -> Token:
        token = self.accept(text)
        if token is None:
            found = self.token.text or "end of expression"
            raise ExprError(f"expected '{text}' but found '{found}'", self.token.offset)
        return token

    def parse(self) -> Expr:
        expr = self.expr()
        if self.token.kind != "end":
            raise ExprError(f"unexpected '{self.token.text}' in expression", self.token.offset)
        return expr

    def deeper(self, offset: int) -> None:
        """Count one more level of the tree being built: brackets, and each operator of a chain alike,
        since evaluating and printing recurse once per level."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression is nested too deeply (more than {MAX_DEPTH} levels of brackets "
                            "and operators)", offset)

    def expr(self) -> Expr:
        self.deeper(self.token.offset)
        try:
            start = self.token.offset
            value = self.or_expr()
            if self.accept("if"):
                condition = self.or_expr()
                self.expect("else")
                otherwise = self.expr()
                return IfElse(start, condition, value, otherwise)
            return value
        finally:
            self.depth -= 1

    def or_expr(self) -> Expr:
        return self._bool("or", self.and_expr)

    def and_expr(self) -> Expr:
        return self._bool("and", self.not_expr)

    def _bool(self, op: str, operand: Callable[[], Expr]) -> Expr:
        start = self.token.offset
        items = [operand()]
        while self.accept(op):
            items.append(operand())
        return items[0] if len(items) == 1 else BoolOp(start, op, tuple(items))

    def not_expr(self) -> Expr:
        token = self.accept("not")
        if token:
            self.deeper(token.offset)
            try:
                return Unary(token.offset, "not", self.not_expr())
            finally:
                self.depth -= 1
        return self.compare()

    def compare(self) -> Expr:
        start = self.token.offset
        operands = [self.sum()]
        ops = []
        while (token := self.accept("==", "!=", "<", "<=", ">", ">=")) is not None:
            ops.append(token.text)
            operands.append(self.sum())
        return operands[0] if not ops else Compare(start, tuple(ops), tuple(operands))

    def sum(self) -> Expr:
        return self._binary(("+", "-"), self.term)

    def term(self) -> Expr:
        return self._binary(("*", "/", "//", "%"), self.unary)

    def _binary(self, ops: tuple[str, ...], operand: Callable[[], Expr]) -> Expr:
        depth = self.depth
        try:
            left = operand()
            while (token := self.accept(*ops)) is not None:
                self.deeper(token.offset)  # a chain `a + b + c` nests to the left
                left = Binary(token.offset, token.text, left, operand())
            return left
        finally:
            self.depth = depth

    def unary(self) -> Expr:
        token = self.accept("-", "+")
        if token:
            self.deeper(token.offset)
            try:
                return Unary(token.offset, token.text, self.unary())
            finally:
                self.depth -= 1
        return self.power()

    def power(self) -> Expr:
        base = self.postfix()
        token = self.accept("**")
        if token:
            self.deeper(token.offset)
            try:
                return Binary(token.offset, "**", base, self.unary())
            finally:
                self.depth -= 1
        return base

    def postfix(self) -> Expr:
        depth = self.depth
        try:
            return self._postfix()
        finally:
            self.depth = depth

    def _postfix(self) -> Expr:
        node = self.atom()
        while True:
            if (token := self.accept("[")) is not None:
                self.deeper(token.offset)  # `xs[0][1]` nests to the left
                index = self.expr()
                self.expect("]")
                node = Index(token.offset, node, index)
            elif self.token.text == "(" and isinstance(node, Name):
                self.take()
                args = self.items(")")
                node = Call(node.offset, node.name, args)
            else:
                return node

    def items(self, closing: str) -> tuple[Expr, ...]:
        items: list[Expr] = []
        if not self.accept(closing):
            items.append(self.expr())
            while self.accept(","):
                if self.token.text == closing:
                    break
                items.append(self.expr())
            self.expect(closing)
        return tuple(items)

    def atom(self) -> Expr:
        token = self.token
        if token.kind == "number":
            self.take()
            text = token.text
            is_float = any(c in text for c in ".eE")
            return Const(token.offset, float(text) if is_float else int(text))
        if token.kind == "string":
            self.take()
            return Const(token.offset, token.text[1:-1])
        if token.kind == "name":
            self.take()
            return Name(token.offset, token.text)
        if token.kind == "keyword" and token.text in ("true", "True", "false", "False"):
            self.take()
            return Const(token.offset, token.text in ("true", "True"))
        if self.accept("("):
            inner = self.expr()
            self.expect(")")
            return inner
        if self.accept("["):
            return ListExpr(token.offset, self.items("]"))
        found = token.text or "end of expression"
        raise ExprError(f"expected a value but found '{found}'", token.offset)


_PARSE_CACHE: dict[str, Expr] = {}


def parse(text: str) -> Expr:
    """Parse expression text into an Expr tree (raises ExprError with an offset)."""
    cached = _PARSE_CACHE.get(text)
    if cached is None:
        cached = _Parser(text).parse()
        if len(_PARSE_CACHE) < 10_000:
            _PARSE_CACHE[text] = cached
    return cached


# ---------------------------------------------------------------- evaluation


def _several(name: str, args: tuple[Any, ...]) -> list[Any]:
    """The arguments of `min`/`max`: several values, or one list of them (Python's `min('ab')` is `'a'`, and
    `min(3)` an error: a single value that is not a list is refused, so the emitted call computes the same)."""
    if len(args) == 1 and not isinstance(args[0], list):
        raise ValueError(f"{name}() needs several values or one list, got {_shown(args[0])}")
    values = args[0] if len(args) == 1 else list(args)
    if not values:
        raise ValueError(f"{name}() of nothing")
    return values


def _int(value: Any) -> int:
    _require("int", value, _number)
    return int(value)


def _round(value: Any, digits: Any = None) -> Any:
    """Python's round: halves go to the even neighbour (`round(2.5)` is 2), as in the emitted code."""
    _require("round", value, _number)
    if digits is None:
        return round(value)
    _require("round", digits, _integer, "an integer number of digits")
    if abs(digits) > 40:
        raise ValueError("round() to more than 40 digits")
    return round(value, digits)


def _sum(values: Any) -> Any:
    _require("sum", values, lambda v: isinstance(v, list) and all(_number(x) for x in v), "a list of numbers")
    return sum(values)


def _str(value: Any) -> str:
    _require("str", value, lambda v: isinstance(v, (str, bool)) or _number(v), "a number, string or boolean")
    return str(value)


# `format(i, "02d")`: the format mini-language with widths and precisions of at most two digits.
_FORMAT_SPEC = re.compile(r"([^{}]?[<>=^])?[-+ ]?#?0?\d{0,2}[,_]?(\.\d{1,2})?[bcdeEfFgGnosxX%]?")


def _format(value: Any, spec: Any = "") -> str:
    _require("format", value, lambda v: isinstance(v, (str, bool, int, float)), "a number, string or boolean "
             "(make a fraction a float or an integer first: float(), int(), round())")
    if not isinstance(spec, str) or not _FORMAT_SPEC.fullmatch(spec):
        raise ValueError(f"format() needs a format such as '03d' or '.2f' (widths of at most 2 digits), "
                         f"got {spec!r}")
    return format(value, spec)


def _make_divisible(v: float, divisor: int, min_value: Optional[int] = None) -> int:
    """Round `v` to the nearest multiple of `divisor`, never below `min_value` nor 10% below `v`."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that rounding down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _checked_make_divisible(value: Any, divisor: Any, min_value: Any = None) -> int:
    _require("make_divisible", value, _number)
    _require("make_divisible", divisor, lambda v: _integer(v) and v >= 1, "a positive integer divisor")
    if min_value is not None:
        _require("make_divisible", min_value, _integer, "an integer minimum")
    return _make_divisible(value, divisor, min_value)


def _require(function: str, value: Any, test: Callable[[Any], bool], what: str = "a number") -> None:
    if not test(value):
        raise ValueError(f"{function}() needs {what}, got {_shown(value)}")


def _shown(value: Any) -> str:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    return repr(value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": lambda *args: min(_several("min", args)),
    "max": lambda *args: max(_several("max", args)),
    "sum": _sum,
    "len": lambda value: len(value),
    "abs": lambda value: abs(_number_arg("abs", value)),
    "int": _int,
    "float": lambda value: float(_number_arg("float", value)),
    "round": _round,
    "floor": lambda value: math.floor(_number_arg("floor", value)),
    "ceil": lambda value: math.ceil(_number_arg("ceil", value)),
    "str": _str,
    "format": _format,
    "make_divisible": _checked_make_divisible,
}


def _number_arg(function: str, value: Any) -> Any:
    _require(function, value, _number)
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float, Fraction)) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _exact(value: Any) -> bool:
    return isinstance(value, (int, Fraction)) and not isinstance(value, bool)


def _whole(value: Any) -> Any:
    """A fraction that is whole is an integer: one value, one type, whichever way it was computed."""
    return value.numerator if isinstance(value, Fraction) and value.denominator == 1 else value


def _divide(left: Any, right: Any) -> Any:
    if isinstance(left, float) or isinstance(right, float):
        return left / right
    return Fraction(left) / Fraction(right)


def _power(left: Any, right: Any) -> Any:
    """`**` as Python computes it on the same values, except that an integer to a negative integer power
    is the exact fraction (Python gives a float); sizes are bounded before anything is computed."""
    if abs(right) > MAX_EXPONENT:
        raise ValueError(f"exponent is too large (more than {MAX_EXPONENT} in size)")
    if _exact(left) and _integer(right):
        base = Fraction(left)
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if (bits - 1) * abs(right) > _MAX_BITS:
            raise ValueError("the result of '**' would have more than 40 digits above or below the point")
        return base**right
    result = left**right
    if isinstance(result, complex):
        raise ValueError("a negative number to a fractional power is not a real number")
    return result


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
    "**": _power,
}

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _check_magnitude(value: Any, offset: int) -> Any:
    if _number(value) and not abs(value) <= MAX_MAGNITUDE:  # `not <=` also catches NaN
        raise ExprError("value is too large (more than 10^40)" if value == value else "value is not a number",
                        offset)
    if isinstance(value, Fraction) and value.denominator > MAX_MAGNITUDE:
        raise ExprError("value is too fine (a fraction whose denominator is more than 10^40)", offset)
    if isinstance(value, (list, str)) and len(value) > 100_000:
        raise ExprError(f"{type(value).__name__} is too long", offset)
    return value


def evaluate(expr: Expr, env: Mapping[str, Any]) -> Any:
    """Evaluate an expression; names come only from `env`."""
    try:
        return _check_magnitude(_evaluate(expr, env), expr.offset)
    except ExprError:
        raise
    except ZeroDivisionError:
        raise ExprError("division by zero", expr.offset) from None
    except OverflowError:
        raise ExprError("value is too large (more than 10^40)", expr.offset) from None
    except (TypeError, ValueError, IndexError) as exc:
        raise ExprError(str(exc), expr.offset) from None


def _evaluate(expr: Expr, env: Mapping[str, Any]) -> Any:
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Name):
        if expr.name not in env:
            from ..errors import did_you_mean

            raise ExprError(f"unknown name '{expr.name}'", expr.offset, did_you_mean(expr.name, env),
                            length=len(expr.name))
        return env[expr.name]
    if isinstance(expr, Unary):
        value = evaluate(expr.operand, env)
        if expr.op == "not":
            return not value
        _require_number(value, expr)
        return -value if expr.op == "-" else +value
    if isinstance(expr, Binary):
        left, right = evaluate(expr.left, env), evaluate(expr.right, env)
        if expr.op != "+" or not (isinstance(left, (str, list)) and type(left) is type(right)):
            _require_number(left, expr.left)
            _require_number(right, expr.right)
        return _whole(_BINARY[expr.op](left, right))
    if isinstance(expr, Compare):
        left = evaluate(expr.operands[0], env)
        for op, operand in zip(expr.ops, expr.operands[1:]):
            right = evaluate(operand, env)
            if not _COMPARE[op](left, right):
                return False
            left = right
        return True
    if isinstance(expr, BoolOp):
        value = None
        for operand in expr.operands:
            value = evaluate(operand, env)
            if (expr.op == "and") != bool(value):
                return value
        return value
    if isinstance(expr, IfElse):
        branch = expr.then if evaluate(expr.condition, env) else expr.otherwise
        return evaluate(branch, env)
    if isinstance(expr, Call):
        function = FUNCTIONS.get(expr.function)
        if function is None:
            from ..errors import did_you_mean

            raise ExprError(f"unknown function '{expr.function}'", expr.offset,
                            did_you_mean(expr.function, FUNCTIONS) or "available: " + ", ".join(FUNCTIONS))
        return _whole(function(*(evaluate(arg, env) for arg in expr.args)))
    if isinstance(expr, Index):
        target, index = evaluate(expr.target, env), evaluate(expr.index, env)
        if not isinstance(target, (list, str)):
            raise ExprError("only lists and strings can be indexed", expr.offset)
        if not isinstance(index, int) or isinstance(index, bool):
            raise ExprError("a list index must be an integer", expr.index.offset)
        if not -len(target) <= index < len(target):
            what = "a list" if isinstance(target, list) else "a string"
            raise ExprError(f"index {index} is out of range for {what} of {len(target)}", expr.index.offset)
        return target[index]
    if isinstance(expr, ListExpr):
        return [evaluate(item, env) for item in expr.items]
    raise AssertionError(f"unhandled expression node {type(expr).__name__}")


def _require_number(value: Any, expr: Expr) -> None:
    if not _number(value):
        raise ExprError(f"expected a number, got {value!r}", expr.offset)


def names_in(expr: Expr) -> set[str]:
    """Every parameter name an expression reads."""
    if isinstance(expr, Name):
        return {expr.name}
    found: set[str] = set()
    for child in _children(expr):
        found |= names_in(child)
    return found


def _children(expr: Expr) -> tuple[Expr, ...]:
    if isinstance(expr, Unary):
        return (expr.operand,)
    if isinstance(expr, Binary):
        return (expr.left, expr.right)
    if isinstance(expr, (Compare, BoolOp)):
        return expr.operands
    if isinstance(expr, IfElse):
        return (expr.condition, expr.then, expr.otherwise)
    if isinstance(expr, Call):
        return expr.args
    if isinstance(expr, Index):
        return (expr.target, expr.index)
    if isinstance(expr, ListExpr):
        return expr.items
    return ()


# ---------------------------------------------------------------- partial evaluation and printing


def fold(expr: Expr, env: Mapping[str, Any]) -> Expr:
    """Evaluate every sub-expression whose names are all bound in `env`.

    What remains refers only to unbound names (a block's constructor
    arguments), which is what code generation prints as Python.
    """
    if not names_in(expr) - env.keys():
        return Const(expr.offset, evaluate(expr, env))
    if isinstance(expr, Unary):
        return Unary(expr.offset, expr.op, fold(expr.operand, env))
    if isinstance(expr, Binary):
        return Binary(expr.offset, expr.op, fold(expr.left, env), fold(expr.right, env))
    if isinstance(expr, Compare):
        return Compare(expr.offset, expr.ops, tuple(fold(e, env) for e in expr.operands))
    if isinstance(expr, BoolOp):
        return BoolOp(expr.offset, expr.op, tuple(fold(e, env) for e in expr.operands))
    if isinstance(expr, IfElse):
        condition = fold(expr.condition, env)
        if isinstance(condition, Const):
            return fold(expr.then if condition.value else expr.otherwise, env)
        return IfElse(expr.offset, condition, fold(expr.then, env), fold(expr.otherwise, env))
    if isinstance(expr, Call):
        return Call(expr.offset, expr.function, tuple(fold(e, env) for e in expr.args))
    if isinstance(expr, Index):
        return Index(expr.offset, fold(expr.target, env), fold(expr.index, env))
    if isinstance(expr, ListExpr):
        return ListExpr(expr.offset, tuple(fold(e, env) for e in expr.items))
    return expr


# Binding strength, loosest first, as in Python's grammar.
_PRECEDENCE = {"ifelse": 1, "or": 2, "and": 3, "not": 4, "compare": 5, "+": 6, "-": 6,
               "*": 7, "/": 7, "//": 7, "%": 7, "unary": 8, "**": 9, "atom": 10}


def _precedence(expr: Expr) -> int:
    if isinstance(expr, IfElse):
        return _PRECEDENCE["ifelse"]
    if isinstance(expr, BoolOp):
        return _PRECEDENCE[expr.op]
    if isinstance(expr, Unary):
        return _PRECEDENCE["not" if expr.op == "not" else "unary"]
    if isinstance(expr, Compare):
        return _PRECEDENCE["compare"]
    if isinstance(expr, Binary):
        return _PRECEDENCE[expr.op]
    if isinstance(expr, Const) and isinstance(expr.value, (int, float)) and _number(expr.value) and expr.value < 0:
        return _PRECEDENCE["unary"]
    return _PRECEDENCE["atom"]


# What printed code may need besides builtins: an import, or a helper function defined in the file.
PYTHON_IMPORTS = {"Fraction": "from fractions import Fraction", "math": "import math"}
PYTHON_HELPERS = {"_make_divisible": _make_divisible}


def python_literal(value: Any, needs: set[str] | None = None) -> str:
    """The Python source of a spec value: only numbers, strings, bools, None and lists of them.

    A fraction prints as ``Fraction(1, 3)`` (and `needs` gets "Fraction"): ``1 / 3`` would be a float
    wherever it is used in further arithmetic.
    """
    if isinstance(value, str):  # double-quoted, as the emitted code writes every string
        text = repr(value)
        return text if text.startswith('"') else '"' + text[1:-1].replace("\\'", "'").replace('"', '\\"') + '"'
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Fraction):
        _need(needs, "Fraction")
        return f"Fraction({value.numerator}, {value.denominator})"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(python_literal(v, needs) for v in value)
        return f"({inner},)" if isinstance(value, tuple) and len(value) == 1 else (
            f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
    raise TypeError(f"cannot write {type(value).__name__} into generated code")


def _need(needs: set[str] | None, what: str) -> None:
    if needs is not None:
        needs.add(what)


# ---------------------------------------------------------------- printing as Python with the same meaning

# The Python type a printed expression has at run time: "int", "frac" (fractions.Fraction), "float",
# "bool", "str", "list", "list[int]", or None where it cannot be told from the parameters' types.
Kind = Optional[str]

_NUMERIC = {"int", "frac", "float"}


class _Printer:
    """Prints an expression as Python that computes what `evaluate` computes, for every argument.

    Where the two languages differ the printer writes the spec's meaning out: the exact `/` of two
    integers as ``Fraction(a, b)``, an integer to a possibly negative power as ``Fraction(a) ** n``,
    `floor`/`ceil` through `math`, `make_divisible` through the file's ``_make_divisible`` helper; where
    it cannot (a `/` of values whose types it does not know) it raises ExprError at the operator.
    """

    def __init__(self, rename: Callable[[str], str], kinds: Mapping[str, str], needs: set[str] | None):
        self.rename = rename
        self.kinds = kinds
        self.needs = needs

    def print(self, expr: Expr, want: str | None = None) -> str:
        """Source of `expr`; `want` ("int", "float") converts a value of another type the spec accepted
        there (the whole fraction 3/1 where an integer is expected, a fraction where a float is)."""
        if want in ("int", "float") and isinstance(expr, ListExpr):
            return f"[{', '.join(self.print(item, want) for item in expr.items)}]"
        if want == "float" and isinstance(expr, Const) and isinstance(expr.value, Fraction):
            return repr(float(expr.value))  # the float the analysis uses, written out
        text, kind = self.source(expr)
        if kind is None and not names_in(expr) <= self.kinds.keys():
            return text  # a name of unknown type: the caller vouches for it
        if want == "int" and kind not in ("int", "bool", "float"):  # a float there is refused by the analysis
            return f"int({text})"
        if want == "float" and kind not in ("int", "float", "bool"):
            return f"float({text})"
        return text

    def source(self, expr: Expr) -> tuple[str, Kind]:
        if isinstance(expr, Const):
            return python_literal(expr.value, self.needs), _kind_of_value(expr.value)
        if isinstance(expr, Name):
            return self.rename(expr.name), self.kinds.get(expr.name)
        if isinstance(expr, Unary):
            inner, kind = self.wrapped(expr.operand, _precedence(expr), strict=False)
            return (f"not {inner}", "bool") if expr.op == "not" else (f"{expr.op}{inner}", kind)
        if isinstance(expr, Binary):
            return self.binary(expr)
        if isinstance(expr, Compare):
            parts = [self.wrapped(expr.operands[0], _precedence(expr), strict=True)[0]]
            for op, operand in zip(expr.ops, expr.operands[1:]):
                parts += [op, self.wrapped(operand, _precedence(expr), strict=True)[0]]
            return " ".join(parts), "bool"
        if isinstance(expr, BoolOp):
            printed = [self.wrapped(e, _precedence(expr), strict=True) for e in expr.operands]
            return f" {expr.op} ".join(text for text, _ in printed), _common(kind for _, kind in printed)
        if isinstance(expr, IfElse):
            p = _precedence(expr)
            then, then_kind = self.wrapped(expr.then, p, strict=True)
            condition = self.wrapped(expr.condition, p, strict=True)[0]
            otherwise, otherwise_kind = self.wrapped(expr.otherwise, p, strict=False)
            return f"{then} if {condition} else {otherwise}", _common([then_kind, otherwise_kind])
        if isinstance(expr, Call):
            return self.call(expr)
        if isinstance(expr, Index):
            target, kind = self.wrapped(expr.target, _PRECEDENCE["atom"], strict=False)
            item = "str" if kind == "str" else (kind[5:-1] if kind and kind.startswith("list[") else None)
            return f"{target}[{self.print(expr.index, 'int')}]", item
        if isinstance(expr, ListExpr):
            printed = [self.source(e) for e in expr.items]
            kinds = {kind for _, kind in printed}
            return f"[{', '.join(text for text, _ in printed)}]", "list[int]" if kinds == {"int"} else "list"
        raise AssertionError(f"unhandled expression node {type(expr).__name__}")

    def wrapped(self, expr: Expr, outer: int, strict: bool) -> tuple[str, Kind]:
        text, kind = self.source(expr)
        # A spec operator printed as a call (`Fraction(a, b)`) binds as tightly as any call.
        inner = _PRECEDENCE["atom"] if text.startswith("Fraction(") and text.endswith(")") and \
            _balanced(text[9:-1]) else _precedence(expr)
        return (f"({text})" if inner < outer or (strict and inner == outer) else text), kind

    def binary(self, expr: Binary) -> tuple[str, Kind]:
        right_assoc = expr.op == "**"
        left, left_kind = self.wrapped(expr.left, _precedence(expr), strict=right_assoc)
        right, right_kind = self.wrapped(expr.right, _precedence(expr), strict=not right_assoc)
        kinds = {left_kind, right_kind}
        if expr.op == "/":
            if "float" in kinds or "frac" in kinds and kinds <= _NUMERIC:
                return f"{left} / {right}", "float" if "float" in kinds else "frac"
            if kinds == {"int"}:
                _need(self.needs, "Fraction")
                return f"Fraction({self.source(expr.left)[0]}, {self.source(expr.right)[0]})", "frac"
            raise ExprError("cannot print this exact '/' as Python: the types of its operands are not known "
                            "here", expr.offset, hint="convert the operands with int() or float()", length=1)
        if expr.op == "**":
            exponent_natural = isinstance(expr.right, Const) and _integer(expr.right.value) and expr.right.value >= 0
            if left_kind == "int" and right_kind == "int" and not exponent_natural:
                _need(self.needs, "Fraction")
                return f"Fraction({self.source(expr.left)[0]}) ** {right}", "frac"
            if "float" in kinds:
                return f"{left} ** {right}", "float"
            return f"{left} ** {right}", left_kind if right_kind == "int" else None
        kind: Kind = None
        if kinds <= _NUMERIC:
            kind = "float" if "float" in kinds else ("frac" if "frac" in kinds else "int")
            if expr.op == "//" and kind == "frac":
                kind = "int"
        elif expr.op == "+" and len(kinds) == 1 and left_kind in ("str", "list", "list[int]"):
            kind = left_kind
        elif expr.op == "+" and kinds <= {"list", "list[int]"}:
            kind = "list"
        return f"{left} {expr.op} {right}", kind

    def call(self, expr: Call) -> tuple[str, Kind]:
        printed = [self.source(a) for a in expr.args]
        args = ", ".join(text for text, _ in printed)
        kinds = [kind for _, kind in printed]
        name = expr.function
        if name in ("floor", "ceil"):
            _need(self.needs, "math")
            return f"math.{name}({args})", "int"
        if name == "make_divisible":
            _need(self.needs, "_make_divisible")
            return f"_make_divisible({args})", "int"
        if name == "format" and kinds and kinds[0] not in ("int", "float", "str", "bool"):
            raise ExprError("format() of a value that may be a fraction in the emitted code", expr.offset,
                            hint="convert it first: format(int(x), ...), format(float(x), ...)")
        if name == "round":
            return f"round({args})", "int" if len(kinds) == 1 else kinds[0]
        result: Kind = {"int": "int", "float": "float", "len": "int", "str": "str", "format": "str"}.get(name)
        if name in ("min", "max", "abs"):
            result = _common(kinds) if len(kinds) > 1 or name == "abs" else None
            if len(kinds) == 1 and kinds[0] == "list[int]":
                result = "int"
        return f"{name}({args})", result


def _balanced(text: str) -> bool:
    """Whether the brackets of `text` close in order, so that `Fraction(` + text + `)` is one call."""
    depth = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return depth == 0


def _kind_of_value(value: Any) -> Kind:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Fraction):
        return "frac"
    if isinstance(value, (int, float, str)):
        return type(value).__name__
    if isinstance(value, list):
        return "list[int]" if value and all(_integer(v) for v in value) else "list"
    return None


def _common(kinds: Any) -> Kind:
    """The type of a value that is one of several (a conditional's branches), if they all have it."""
    found = set(kinds)
    return found.pop() if len(found) == 1 else None


def to_python(expr: Expr, rename: Callable[[str], str] = lambda name: name, kinds: Mapping[str, str] | None = None,
              want: str | None = None, needs: set[str] | None = None) -> str:
    """Print an expression as Python source that computes what `evaluate` computes.

    `kinds` gives the Python type of each name at run time ("int", "float", "bool", "str", "list",
    "list[int]"); `want` is the type the value is used as ("int", "float"), which converts a whole
    fraction to its integer; `needs` collects the imports and helpers the source uses (keys of
    PYTHON_IMPORTS and PYTHON_HELPERS). Raises ExprError where the meaning cannot be kept::

        >>> to_python(parse("planes / 2 > 1"), kinds={"planes": "int"})
        'Fraction(planes, 2) > 1'
    """
    return _Printer(rename, kinds or {}, needs).print(expr, want)


def helper_source(name: str) -> str:
    """The source of a helper function for the emitted file: the very function the evaluator calls."""
    import inspect

    return inspect.getsource(PYTHON_HELPERS[name]).rstrip("\n")


def is_identifier(name: str) -> bool:
    return name.isidentifier() and name.isascii() and not keyword.iskeyword(name)
