"""Expressions in a model's configuration (params.yaml `evaluate.rule`, `slices.expressions`): a small
grammar over the columns, parsed with Python's `ast` and evaluated element-wise with numpy. Configuration
is data: nothing in an expression can call code, read an attribute, index or import; anything outside the
grammar is refused when the config is checked, naming the token and where it is.

`parse(text)` gives an `Expression` (`.columns` it reads, `.evaluate(frame)` its values per row). The
text means what it meant under pandas' `DataFrame.eval`: `&` and `|` join whole comparisons like `and`
and `or` (`a < 1 & b > 2` is `(a < 1) & (b > 2)`), and every operator works row by row."""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from retrainer.core.errors import ConfigError

if TYPE_CHECKING:  # numpy and pandas are imported when an expression is evaluated, not when config is read
    import numpy as np
    import pandas as pd

# name: (arguments, numpy function)
FUNCTIONS = {
    "log1p": (1, "log1p"),
    "log": (1, "log"),
    "exp": (1, "exp"),
    "sqrt": (1, "sqrt"),
    "abs": (1, "abs"),
    "clip": (3, "clip"),  # clip(x, lo, hi)
    "where": (3, "where"),  # where(condition, value if true, value if false)
    "minimum": (2, "minimum"),
    "maximum": (2, "maximum"),
}
GRAMMAR = (
    "column names, numbers, True/False, + - * / // % ** and unary -, comparisons (< <= > >= == !=, "
    "chained too), & | ~ and or not, parentheses, and the functions log1p(x), log(x), exp(x), sqrt(x), "
    "abs(x), clip(x, lo, hi), where(condition, a, b), minimum(a, b), maximum(a, b)"
)
_ARITHMETIC = {
    ast.Add: "add",
    ast.Sub: "subtract",
    ast.Mult: "multiply",
    ast.Div: "true_divide",
    ast.FloorDiv: "floor_divide",
    ast.Mod: "mod",
    ast.Pow: "power",
}
_COMPARISONS = {
    ast.Lt: "less",
    ast.LtE: "less_equal",
    ast.Gt: "greater",
    ast.GtE: "greater_equal",
    ast.Eq: "equal",
    ast.NotEq: "not_equal",
}
_REFUSED = {  # what to call a construct outside the grammar, in the message that refuses it
    "Attribute": "reading an attribute",
    "Subscript": "indexing",
    "Lambda": "a lambda",
    "ListComp": "a comprehension",
    "SetComp": "a comprehension",
    "DictComp": "a comprehension",
    "GeneratorExp": "a comprehension",
    "IfExp": "an if-else (write where(condition, a, b))",
    "NamedExpr": "an assignment",
    "List": "a list",
    "Tuple": "a tuple",
    "Set": "a set",
    "Dict": "a dict",
    "JoinedStr": "an f-string",
    "Starred": "unpacking (*)",
}
Kind = Literal["bool", "number", "any"]  # what an expression gives per row, as far as the text tells


class ExpressionError(ConfigError):
    """An expression is outside the grammar, or cannot be computed on a frame (a missing column, text)."""


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, the columns it reads (in order of appearance) and what it gives."""

    text: str
    columns: tuple[str, ...]
    kind: Kind
    tree: ast.expr = field(repr=False, compare=False)

    def evaluate(self, frame: pd.DataFrame) -> np.ndarray:
        """The expression's value on every row of `frame`: an array of len(frame) (bool for a condition,
        numbers otherwise). Raises ExpressionError naming a column missing from `frame` or one that holds
        neither numbers nor true/false, or a value numpy cannot compute."""
        import numpy as np
        import pandas as pd

        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise ExpressionError(
                f"{self.text!r} reads column {missing[0]!r}, which is not in the data; "
                f"columns: {sorted(map(str, frame.columns))}"
            )
        values = {}
        for name in self.columns:
            series = frame[name]
            if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
                raise ExpressionError(
                    f"{self.text!r} reads column {name!r}, which holds {series.dtype} values, not numbers or "
                    "true/false (cut a categorical column into slices with slices.levels)"
                )
            if isinstance(series.dtype, np.dtype):
                values[name] = series.to_numpy()
            elif series.hasnans:  # a nullable extension dtype: its missing values become NaN, as in pandas
                values[name] = series.to_numpy(dtype=float, na_value=np.nan)
            else:
                values[name] = series.to_numpy(dtype=bool if pd.api.types.is_bool_dtype(series) else None)
        try:
            with np.errstate(all="ignore"):  # x / 0 is inf and log(0) is -inf, silently, as under pandas
                result = _Evaluator(self.text, values).visit(self.tree)
        except ExpressionError:
            raise
        except (ArithmeticError, TypeError, ValueError) as error:
            raise ExpressionError(f"{self.text!r} cannot be computed: {error}") from error
        return np.broadcast_to(np.asarray(result), (len(frame),)).copy()  # a constant: one value per row


def parse(text: str) -> Expression:
    """`text` parsed in the grammar (GRAMMAR). Raises ExpressionError naming the first token outside it
    and its position (column, and line when the text has several)."""
    return _parse(text)


@lru_cache(maxsize=256)
def _parse(text: str) -> Expression:
    source, origin = _with_pandas_booleans(text)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        line, offset = error.lineno or 1, max((error.offset or 1) - 1, 0)
        at = _char_offset(source, line, offset, in_bytes=False)
        raise ExpressionError(
            f"{text!r} is not an expression ({error.msg}) {_where(text, origin[min(at, len(source))])}; "
            f"an expression may use {GRAMMAR}"
        ) from None
    except (ValueError, RecursionError, MemoryError) as error:  # a NUL byte; nesting too deep to parse
        raise ExpressionError(f"{text!r} is not an expression ({error})") from None
    checker = _Checker(text, source, origin)
    kind = checker.visit(tree.body)
    return Expression(text=text, columns=tuple(dict.fromkeys(checker.columns)), kind=kind, tree=tree.body)


def _with_pandas_booleans(text: str) -> tuple[str, list[int]]:
    """`text` with each `&` and `|` operator written `and` and `or`, as pandas' eval rewrites them (so they
    bind looser than comparisons), and for each character of the result (and its end) the offset in
    `text` it comes from, so that an error points into the text as written."""
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    copied = len(text) - len(text.lstrip())  # leading blanks would read as an indented block
    pieces: list[str] = []
    origin: list[int] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.OP and token.string in ("&", "|"):
                at = starts[token.start[0] - 1] + token.start[1]
                word = " and " if token.string == "&" else " or "
                pieces += [text[copied:at], word]
                origin += [*range(copied, at), *[at] * len(word)]
                copied = at + 1
    except (tokenize.TokenError, SyntaxError):
        pass  # an unfinished text: ast.parse below names the problem and where
    pieces.append(text[copied:])
    origin += [*range(copied, len(text)), len(text)]
    return "".join(pieces), origin


def _char_offset(source: str, line: int, column: int, in_bytes: bool = True) -> int:
    """The offset in `source` of (line from 1, column from 0); ast counts columns in UTF-8 bytes."""
    lines = source.split("\n")
    line = min(max(line, 1), len(lines))
    text = lines[line - 1]
    if in_bytes:
        column = len(text.encode()[:column].decode(errors="ignore"))
    return sum(len(earlier) + 1 for earlier in lines[: line - 1]) + min(column, len(text))


def _where(text: str, offset: int) -> str:
    """'at column C' (or 'at line L, column C' in a text of several lines) of an offset in `text`."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"at line {line}, column {column}" if "\n" in text else f"at column {column}"


class _Checker(ast.NodeVisitor):
    """Walks a parsed expression and refuses every node outside the grammar; gives each node's kind."""

    def __init__(self, text: str, source: str, origin: list[int]) -> None:
        self.text, self.source, self.origin = text, source, origin
        self.columns: list[str] = []

    def _span(self, node: ast.AST) -> tuple[int, int]:
        start = _char_offset(self.source, node.lineno, node.col_offset)
        end = _char_offset(self.source, node.end_lineno or node.lineno, node.end_col_offset or 0)
        return self.origin[start], self.origin[max(end - 1, start)] + 1

    def refuse(self, node: ast.AST, why: str, token: str | None = None, at: int | None = None) -> NoReturn:
        """Raise ExpressionError naming `token` (default: the node's text) and where it is, and why."""
        start, end = self._span(node)
        token = token if token is not None else self.text[start:end]
        raise ExpressionError(
            f"{token!r} {_where(self.text, start if at is None else at)} of {self.text!r}: {why}; "
            f"an expression may use {GRAMMAR}"
        )

    def refuse_operator(self, left: ast.AST, right: ast.AST, symbol: str, why: str) -> NoReturn:
        """Refuse the operator `symbol` written between the nodes `left` and `right`."""
        after, before = self._span(left)[1], self._span(right)[0]
        at = self.text.find(symbol.split()[0], after, before)
        self.refuse(left, why, token=symbol, at=at if at >= 0 else after)

    def generic_visit(self, node: ast.AST) -> Kind:
        self.refuse(node, f"{_REFUSED.get(type(node).__name__, 'this')} is not allowed")

    def visit_Name(self, node: ast.Name) -> Kind:
        if node.id.startswith("__"):
            self.refuse(node, "a name starting with __ is not allowed")
        self.columns.append(node.id)
        return "any"

    def visit_Constant(self, node: ast.Constant) -> Kind:
        if isinstance(node.value, bool):
            return "bool"
        if isinstance(node.value, int | float):
            return "number"
        what = "text" if isinstance(node.value, str | bytes) else f"the constant {node.value!r}"
        self.refuse(node, f"{what} is not allowed")

    def visit_Attribute(self, node: ast.Attribute) -> Kind:
        self.visit(
            node.value
        )  # the leftmost refused token is named first: a.__class__.__mro__ names .__class__
        _, end = self._span(node)  # the attribute's name ends the node
        self.refuse(
            node, "reading an attribute is not allowed", token=f".{node.attr}", at=end - len(node.attr) - 1
        )

    def visit_Subscript(self, node: ast.Subscript) -> Kind:
        self.visit(node.value)
        end = self._span(node)[1]
        at = self.text.find("[", self._span(node.value)[1], end)
        self.refuse(node, "indexing is not allowed", token=self.text[at:end] if at >= 0 else None, at=at)

    def visit_BinOp(self, node: ast.BinOp) -> Kind:
        if type(node.op) not in _ARITHMETIC:
            symbol = _symbol(node.op)
            self.refuse_operator(node.left, node.right, symbol, f"the operator {symbol!r} is not allowed")
        self.visit(node.left)
        self.visit(node.right)
        return "number"

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Kind:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.USub | ast.UAdd):
            return "number"
        self._condition(node.operand, operand, "~" if isinstance(node.op, ast.Invert) else "not")
        return "bool"

    def visit_BoolOp(self, node: ast.BoolOp) -> Kind:
        for value in node.values:
            self._condition(value, self.visit(value), "&" if isinstance(node.op, ast.And) else "|")
        return "bool"

    def visit_Compare(self, node: ast.Compare) -> Kind:
        operands = (node.left, *node.comparators)
        for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
            if type(op) not in _COMPARISONS:
                symbol = _symbol(op)
                self.refuse_operator(left, right, symbol, f"the comparison {symbol!r} is not allowed")
        for operand in operands:
            self.visit(operand)
        return "bool"

    def visit_Call(self, node: ast.Call) -> Kind:
        if not isinstance(node.func, ast.Name):
            self.visit(node.func)  # an attribute, an index...: refused with its own name
            self.refuse(node, "calling something that is not one of the functions is not allowed")
        name = node.func.id
        if name not in FUNCTIONS:
            self.refuse(
                node.func, "calling a function other than the ones listed is not allowed", token=f"{name}("
            )
        if node.keywords:
            keyword = node.keywords[0]
            self.refuse(keyword, "a keyword argument is not allowed", token=f"{keyword.arg or '**'}=")
        arity = FUNCTIONS[name][0]
        if len(node.args) != arity:
            self.refuse(node, f"{name} takes {arity} argument{'s' * (arity > 1)}, not {len(node.args)}")
        kinds = [self.visit(arg) for arg in node.args]
        if name == "where":
            self._condition(node.args[0], kinds[0], "where's first argument")
            return kinds[1] if kinds[1] == kinds[2] else "any"
        return "number"

    def _condition(self, node: ast.AST, kind: Kind, operator: str) -> None:
        if kind == "number":
            self.refuse(node, f"a number where {operator} needs a true/false condition (compare it: x > 0)")


def _symbol(op: ast.AST) -> str:
    symbols = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
    symbols |= {ast.MatMult: "@", ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
    return symbols.get(type(op), type(op).__name__)


class _Evaluator(ast.NodeVisitor):
    """Computes a checked expression over column arrays with numpy, element-wise."""

    def __init__(self, text: str, values: dict[str, Any]) -> None:
        import numpy as np

        self.np, self.text, self.values = np, text, values

    def visit_Name(self, node: ast.Name) -> Any:
        return self.values[node.id]

    def visit_Constant(self, node: ast.Constant) -> Any:
        np = self.np
        if isinstance(node.value, bool):
            return np.bool_(node.value)
        if isinstance(node.value, int) and abs(node.value) < 2**63:
            return np.int64(node.value)  # numpy's integers: 10 ** 10 ** 10 overflows instead of running
        return np.float64(node.value)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        return getattr(self.np, _ARITHMETIC[type(node.op)])(self.visit(node.left), self.visit(node.right))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return self.np.negative(operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        return self.np.logical_not(self._truth(node.operand, operand))

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        combine = self.np.logical_and if isinstance(node.op, ast.And) else self.np.logical_or
        result = self._truth(node.values[0], self.visit(node.values[0]))
        for value in node.values[1:]:
            result = combine(result, self._truth(value, self.visit(value)))
        return result

    def visit_Compare(self, node: ast.Compare) -> Any:
        left, result = self.visit(node.left), None
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.visit(comparator)  # each operand computed once, as in Python's a < b < c
            step = getattr(self.np, _COMPARISONS[type(op)])(left, right)
            result = step if result is None else self.np.logical_and(result, step)
            left = right
        return result

    def visit_Call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)  # the checker refused anything else
        args = [self.visit(arg) for arg in node.args]
        if node.func.id == "where":
            args[0] = self._truth(node.args[0], args[0])
        return getattr(self.np, FUNCTIONS[node.func.id][1])(*args)

    def _truth(self, node: ast.AST, value: Any) -> Any:
        """`value` if it is true/false per row; a column of numbers is refused (pandas would take `~`, `&`
        and `|` on integers bit by bit, which no condition means)."""
        dtype = self.np.asarray(value).dtype
        if dtype.kind != "b":
            raise ExpressionError(
                f"{ast.unparse(node)!r} in {self.text!r} holds {dtype} values where a true/false condition "
                f"is needed: compare it (for example {ast.unparse(node)} == 1)"
            )
        return value

    def generic_visit(self, node: ast.AST) -> Any:
        raise ExpressionError(f"{self.text!r}: {type(node).__name__} cannot be evaluated")  # checked before
