"""Put a texts module into catalogue form: a tool, re-runnable, never imported at run time.

    python -m bot.i18n.codemod            # rewrites bot/texts.py in place
    python -m bot.i18n.codemod --check    # exit 1 if anything is left to wrap

What it does (and what ``tests/unit/test_i18n_catalogue.py`` checks, with the same rules):

* a module-level text ``X = "..."`` becomes ``X = N_("...")``; in dicts, tuples and lists
  the values (never the keys) are wrapped the same way;
* a module-level f-string becomes ``K_("... {name} ...", name=...)``;
* inside functions a literal becomes ``_("...")`` and an f-string becomes
  ``_("... {name} ...").format(name=...)``, with placeholder names taken from the expression
  (``case.reference`` gives ``{reference}``); a module-level text used inside a function is
  wrapped ``_(NAME)`` / ``_(NAMES[key])`` so the composed text is whole;
* every module-level function gets ``@localised`` (see ``bot.i18n``).

Strings that are not words for a reader are left alone: docstrings, dict keys, comparisons,
subscripts, arguments of ordinary calls (``payload.get("dash_form")``), strings without two
letters in a row ("\\n", "s", "•"), and the internal codes in ``INTERNAL_CODES``.
Already-wrapped code is left as it is, so running it twice changes nothing. Afterwards run
``ruff format bot/texts.py && ruff check --fix bot/texts.py && ruff format bot/texts.py``
(ruff turns the ``"{a}\n{b}".format(...)`` of a template without words back into an
f-string, which is fine), then the catalogue refresh, ``python -m bot.i18n.catalogue``.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

MARKERS = frozenset({"_", "N_", "K_"})
DECORATOR = "localised"
IMPORT_LINE = "from bot.i18n import K_, N_, _, localised"
# Identifier-like strings used as values in texts.py that are codes, not words.
INTERNAL_CODES = frozenset({"safelives", "dara", "acpo_2009"})
_WORDS = re.compile(r"[A-Za-z]{2,}")
_CODE = re.compile(r"[a-z][a-z0-9_]*")
# Calls whose string arguments are words for a reader.
_TEXT_METHODS = frozenset({"append", "extend", "insert"})


def is_words(value: object) -> bool:
    return isinstance(value, str) and bool(_WORDS.search(value)) and value not in INTERNAL_CODES


def _is_marker_call(node: ast.AST | None) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS
    )


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    found: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            found[child] = node
    return found


def _docstrings(tree: ast.Module) -> set[ast.AST]:
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(body[0].value)
    return found


def needs_wrapping(node: ast.AST, parent: ast.AST | None) -> bool:
    """Whether a string node (literal or f-string) is words for a reader not yet wrapped."""
    if isinstance(node, ast.Constant):
        if not is_words(node.value):
            return False
    elif isinstance(node, ast.JoinedStr):
        words = "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
        if not _WORDS.search(words) and len(node.values) > 1:
            return False
        if not _WORDS.search(words) and not any(
            isinstance(v, ast.FormattedValue) for v in node.values
        ):
            return False
    else:
        return False
    if parent is None or _is_marker_call(parent):
        return False
    if isinstance(parent, ast.Compare | ast.Subscript | ast.JoinedStr | ast.FormattedValue):
        return False
    if isinstance(parent, ast.Dict) and node in parent.keys:
        return False
    if isinstance(parent, ast.Attribute):  # "\n".join, "...".format: the receiver
        return False
    if isinstance(parent, ast.keyword):
        return False
    if isinstance(parent, ast.Call):
        func = parent.func
        if isinstance(func, ast.Attribute) and func.attr in _TEXT_METHODS:
            return True
        # dict.get(key, "default shown to the reader"): the default only
        return (
            isinstance(func, ast.Attribute)
            and func.attr == "get"
            and len(parent.args) > 1
            and parent.args[1] is node
        )
    if isinstance(parent, ast.BoolOp | ast.IfExp) and isinstance(node, ast.Constant):
        return not (_CODE.fullmatch(str(node.value)) and str(node.value) in INTERNAL_CODES)
    return True


class _Module:
    """What the codemod knows about one texts module."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.parents = parents(tree)
        self.docstrings = _docstrings(tree)
        self.text_names: set[str] = set()  # module-level names holding a text
        self.table_names: set[str] = set()  # module-level dicts/tuples of texts
        self.functions: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                self.functions.add(node.name)
                continue
            target, value = _assignment(node)
            if target is None or value is None:
                continue
            if isinstance(value, ast.Dict | ast.Tuple | ast.List):
                items = value.values if isinstance(value, ast.Dict) else value.elts
                if any(_is_text_value(v) for v in items):
                    self.table_names.add(target)
            elif _is_text_value(value) or (
                isinstance(value, ast.Name) and value.id in self.text_names
            ):
                self.text_names.add(target)


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id if isinstance(target, ast.Name) else None), node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _is_text_value(value: ast.expr) -> bool:
    if isinstance(value, ast.Constant):
        return is_words(value.value)
    if isinstance(value, ast.JoinedStr):
        return True
    if _is_marker_call(value):
        return True
    if isinstance(value, ast.BinOp):
        return _is_text_value(value.left) or _is_text_value(value.right)
    return False


# --- building the replacement source -------------------------------------------------------


def pystr(text: str) -> str:
    """A double-quoted literal, split over lines for long texts (ruff format tidies it)."""
    pieces: list[str] = []
    current = ""
    for token in re.split(r"(?<=\n)|(?<= )", text):
        if current and len(current) + len(token) > 72:
            pieces.append(current)
            current = ""
        current += token
    if current or not pieces:
        pieces.append(current)
    # Adjacent literals inside the call's parentheses: one msgid, over several lines.
    return "\n".join(_one(piece) for piece in pieces)


def _one(text: str) -> str:
    out = ['"']
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif not char.isprintable():
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _name_for(expr: ast.expr) -> str:
    """A readable placeholder name for an f-string expression."""
    node: ast.expr = expr
    while True:
        if isinstance(node, ast.Call):
            if _is_marker_call(node) and node.args:
                node = node.args[0]
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ("format", "join", "get"):
                if func.attr == "get" and node.args:
                    key = node.args[0]
                    if isinstance(key, ast.Constant) and _CODE.fullmatch(str(key.value)):
                        return str(key.value)  # victim.get("address") gives {address}
                    node = key
                    continue
                if func.attr == "join" and node.args:
                    node = node.args[0]
                    continue
            if isinstance(func, ast.Name) and func.id in ("str", "len", "int", "abs") and node.args:
                if func.id == "len":
                    inner = _name_for(node.args[0])
                    return f"{inner}_count" if inner != "value" else "count"
                node = node.args[0]
                continue
            if isinstance(func, ast.Name):
                return func.id.lstrip("_") or "value"
            if isinstance(func, ast.Attribute):
                return func.attr.lstrip("_") or "value"
            return "value"
        if isinstance(node, ast.Subscript):
            if isinstance(node.slice, ast.Slice):  # link[-2:] gives {link}
                node = node.value
                continue
            if isinstance(node.slice, ast.Constant) and _CODE.fullmatch(str(node.slice.value)):
                return str(node.slice.value)
            node = node.slice
            continue
        if isinstance(node, ast.BoolOp):  # name or "not given" gives {name}
            node = node.values[0]
            continue
        if isinstance(node, ast.IfExp):
            branches = (node.body, node.orelse)
            if any(isinstance(b, ast.Constant) and b.value in ("s", "es") for b in branches):
                return "s"
            return "choice"
        if isinstance(node, ast.Attribute):
            return node.attr.lstrip("_") or "value"
        if isinstance(node, ast.Name):
            return node.id.lstrip("_").lower() or "value"
        return "value"


class _Wrapper(ast.NodeTransformer):
    """Wraps words inside an f-string's expressions (those are rebuilt from the AST)."""

    def __init__(self, module: _Module) -> None:
        self.module = module
        self.parent: list[ast.AST] = []

    def generic_visit(self, node: ast.AST) -> ast.AST:
        self.parent.append(node)
        try:
            return super().generic_visit(node)
        finally:
            self.parent.pop()

    def _up(self) -> ast.AST | None:
        return self.parent[-1] if self.parent else None

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if _is_marker_call(node):
            return node
        return self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if needs_wrapping(node, self._up()):
            return _call("_", node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        if needs_wrapping(node, self._up()):
            return ast.parse(_fstring(node, self.module, "_"), mode="eval").body
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if _wraps_name(node, self._up(), self.module):
            return _call("_", node)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if _wraps_table(node, self._up(), self.module):
            return _call("_", node)
        return self.generic_visit(node)


def _call(name: str, node: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=[node], keywords=[])


def _wraps_name(node: ast.Name, parent: ast.AST | None, module: _Module) -> bool:
    return (
        isinstance(node.ctx, ast.Load)
        and node.id in module.text_names
        and not _is_marker_call(parent)
        and not isinstance(parent, ast.Attribute)
    )


def _wraps_table(node: ast.Subscript, parent: ast.AST | None, module: _Module) -> bool:
    return (
        isinstance(node.ctx, ast.Load)
        and isinstance(node.value, ast.Name)
        and node.value.id in module.table_names
        and not _is_marker_call(parent)
        and not isinstance(parent, ast.Attribute)
    )


def _fstring(node: ast.JoinedStr, module: _Module, marker: str) -> str:
    """``_("... {name} ...").format(name=...)`` (or ``K_("...", name=...)``) for an f-string."""
    template: list[str] = []
    names: dict[str, str] = {}  # expression source -> placeholder name
    values: dict[str, str] = {}  # placeholder name -> expression source
    for part in node.values:
        if isinstance(part, ast.Constant):
            template.append(str(part.value).replace("{", "{{").replace("}", "}}"))
            continue
        assert isinstance(part, ast.FormattedValue)
        original = ast.unparse(part.value)
        if marker in ("_", ""):
            expr = _Wrapper(module).visit(ast.parse(original, mode="eval").body)
            source = ast.unparse(expr)
        else:
            source = original
        name = names.get(source)
        if name is None:
            base = _name_for(part.value)
            name, n = base, 2
            while name in values:
                name, n = f"{base}{n}", n + 1
            names[source] = name
            values[name] = source
        field = name
        if part.conversion != -1:
            field += "!" + chr(part.conversion)
        if part.format_spec is not None:
            spec = part.format_spec
            assert isinstance(spec, ast.JoinedStr)
            if all(isinstance(v, ast.Constant) for v in spec.values):
                field += ":" + "".join(
                    str(v.value) for v in spec.values if isinstance(v, ast.Constant)
                )
            else:  # a computed spec: format it into the value instead
                values[name] = f"format({source}, {ast.unparse(spec)})"
        template.append("{" + field + "}")
    literal = pystr("".join(template))
    arguments = ", ".join(f"{name}={source}" for name, source in values.items())
    if marker == "=":  # the same, unwrapped: to see whether wrapping changes anything
        marker = ""
    if marker == "K_":
        return f"K_({literal}, {arguments})" if arguments else f"N_({literal})"
    if marker == "":  # no words of its own: only the texts inside it are wrapped
        return f"({literal}).format({arguments})"
    return f"_({literal}).format({arguments})" if arguments else f"_({literal})"


# --- the rewrite -------------------------------------------------------------------------------


class _Edits:
    def __init__(self, source: str) -> None:
        self.lines = source.splitlines(keepends=True)
        self.offsets = [0]
        for line in self.lines:
            self.offsets.append(self.offsets[-1] + len(line.encode()))
        self.data = source.encode()
        self.changes: list[tuple[int, int, str]] = []

    def at(self, line: int, col: int) -> int:
        return self.offsets[line - 1] + col

    def replace(self, node: ast.expr, text: str) -> None:
        assert node.end_lineno is not None and node.end_col_offset is not None
        self.changes.append(
            (
                self.at(node.lineno, node.col_offset),
                self.at(node.end_lineno, node.end_col_offset),
                text,
            )
        )

    def source_of(self, node: ast.expr) -> str:
        assert node.end_lineno is not None and node.end_col_offset is not None
        start = self.at(node.lineno, node.col_offset)
        return self.data[start : self.at(node.end_lineno, node.end_col_offset)].decode()

    def insert(self, line: int, col: int, text: str) -> None:
        offset = self.at(line, col)
        self.changes.append((offset, offset, text))

    def apply(self) -> str:
        data = self.data
        for start, end, text in sorted(self.changes, key=lambda c: (c[0], c[1]), reverse=True):
            data = data[:start] + text.encode() + data[end:]
        return data.decode()


def _module_value(value: ast.expr, module: _Module, edits: _Edits) -> None:
    if _is_marker_call(value):
        return
    if isinstance(value, ast.Constant):
        if is_words(value.value):
            edits.replace(value, f"N_({edits.source_of(value)})")
    elif isinstance(value, ast.JoinedStr):
        edits.replace(value, _fstring(value, module, "K_"))
    elif isinstance(value, ast.BinOp):
        _module_value(value.left, module, edits)
        _module_value(value.right, module, edits)
    elif isinstance(value, ast.Dict):
        for item in value.values:
            _module_value(item, module, edits)
    elif isinstance(value, ast.Tuple | ast.List):
        for item in value.elts:
            _module_value(item, module, edits)


def _function(func: ast.FunctionDef, module: _Module, edits: _Edits) -> None:
    if not any(isinstance(d, ast.Name) and d.id == DECORATOR for d in func.decorator_list):
        line = func.decorator_list[0].lineno if func.decorator_list else func.lineno
        col = func.decorator_list[0].col_offset - 1 if func.decorator_list else func.col_offset
        edits.insert(line, col, f"@{DECORATOR}\n" + " " * col)
    stack: list[ast.AST] = [*func.body]
    while stack:
        node = stack.pop()
        parent = module.parents.get(node)
        if node in module.docstrings:
            continue
        if _is_marker_call(node):
            # Already in catalogue form; its .format(...) arguments are looked at by the parent.
            continue
        if isinstance(node, ast.Constant | ast.JoinedStr) and needs_wrapping(node, parent):
            if isinstance(node, ast.Constant):
                edits.replace(node, f"_({edits.source_of(node)})")
            else:
                edits.replace(node, _fstring(node, module, "_"))
            continue
        if isinstance(node, ast.JoinedStr):
            # No words of its own ("{a}\n{b}"): rebuilt only if a text inside needs wrapping.
            rebuilt = _fstring(node, module, "")
            if _fstring(node, module, "=") != rebuilt:
                edits.replace(node, rebuilt)
            continue
        if isinstance(node, ast.Name) and _wraps_name(node, parent, module):
            edits.replace(node, f"_({node.id})")
            continue
        if isinstance(node, ast.Subscript) and _wraps_table(node, parent, module):
            edits.replace(node, f"_({edits.source_of(node)})")
            continue
        stack.extend(ast.iter_child_nodes(node))


def rewrite(source: str) -> str:
    tree = ast.parse(source)
    module = _Module(tree)
    edits = _Edits(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            _function(node, module, edits)
            continue
        _target, value = _assignment(node)
        if value is not None:
            _module_value(value, module, edits)
    result = edits.apply()
    if IMPORT_LINE not in result:
        result = _add_import(result)
    return result


def _add_import(source: str) -> str:
    tree = ast.parse(source)
    last = max(
        (n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)),
        key=lambda n: n.end_lineno or 0,
        default=None,
    )
    lines = source.splitlines(keepends=True)
    at = last.end_lineno if last is not None and last.end_lineno is not None else 0
    lines.insert(at, IMPORT_LINE + "\n")
    return "".join(lines)


def leftovers(source: str) -> list[tuple[int, str]]:
    """Words a reader would see that are not in catalogue form: (line, text); [] when done."""
    tree = ast.parse(source)
    module = _Module(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if node in module.docstrings or not isinstance(node, ast.Constant | ast.JoinedStr):
            continue
        parent = module.parents.get(node)
        inside_function = _enclosing_function(node, module.parents) is not None
        if inside_function:
            if needs_wrapping(node, parent) and not _inside_marker(node, module.parents):
                found.append((node.lineno, ast.unparse(node)[:60]))
        elif (
            (isinstance(node, ast.JoinedStr) or is_words(node.value))
            and not _inside_marker(node, module.parents)
            and _module_text(node, module.parents)
        ):
            found.append((node.lineno, ast.unparse(node)[:60]))
    return found


def _enclosing_function(node: ast.AST, parents_of: dict[ast.AST, ast.AST]) -> ast.AST | None:
    current: ast.AST | None = parents_of.get(node)
    while current is not None:
        if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return current
        current = parents_of.get(current)
    return None


def _inside_marker(node: ast.AST, parents_of: dict[ast.AST, ast.AST]) -> bool:
    current: ast.AST | None = parents_of.get(node)
    while current is not None:
        if _is_marker_call(current):
            return True
        if isinstance(current, ast.stmt):
            return False
        current = parents_of.get(current)
    return False


def _module_text(node: ast.AST, parents_of: dict[ast.AST, ast.AST]) -> bool:
    """A module-level string that is a value (not a dict key, import or annotation)."""
    parent = parents_of.get(node)
    if isinstance(parent, ast.Dict) and node in parent.keys:
        return False
    if isinstance(parent, ast.JoinedStr | ast.FormattedValue):
        return False
    return isinstance(
        parent, ast.Assign | ast.AnnAssign | ast.Dict | ast.Tuple | ast.List | ast.BinOp
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("paths", nargs="*", default=["bot/texts.py"])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if not done")
    args = parser.parse_args(argv)
    status = 0
    for name in args.paths:
        path = Path(name)
        source = path.read_text(encoding="utf-8")
        if args.check:
            for line, text in leftovers(source):
                print(f"{path}:{line}: not in the catalogue: {text}")
                status = 1
            continue
        result = rewrite(source)
        if result != source:
            path.write_text(result, encoding="utf-8")
            print(f"rewrote {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
