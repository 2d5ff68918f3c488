"""The package's modules import one way (issue 14): no cycle among them, imports inside functions
included, and each import inside a function says why it is there.

Pure `ast`, independent of import-linter (whose layer contracts, in pyproject.toml, `make lint`
runs): every module of locust_mlstress is read, each import resolved to the module of ours it
loads, and the graph searched for a cycle. `from x import y` counts as `x.y` when `y` is a
submodule, else as `x`. Imports under `if TYPE_CHECKING:` never run and are left out (the facade,
`locust_mlstress/__init__.py`, names every export there while `users.mluser` reads its
`__version__`); a parent package loaded on the way to a module is not counted either.
"""

from __future__ import annotations

import ast
import itertools
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "locust_mlstress"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    path: str  # its file, relative to the package
    line: int
    end_line: int
    written: str  # the module as written, resolved if relative
    names: tuple[str, ...]  # what `from written import ...` takes; empty for `import written`
    in_function: bool
    block: int  # imports next to each other in one function body share a block


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> Iterator[Import]:
    """Every import the module runs, at its top, in its classes and in its functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    relative = str(path.relative_to(ROOT))
    blocks = itertools.count()

    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, *([node.module] if node.module else [])])

    def visit(body: list[ast.stmt], in_function: bool) -> Iterator[Import]:
        block = -1
        previous_was_import = False
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                if not previous_was_import:
                    block = next(blocks)
                previous_was_import = True
                end = node.end_lineno or node.lineno
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        yield Import(name, relative, node.lineno, end, alias.name, (), in_function, block)
                else:
                    names = tuple(alias.name for alias in node.names)
                    yield Import(name, relative, node.lineno, end, resolve(node), names, in_function, block)
                continue
            previous_was_import = False
            if isinstance(node, ast.If) and is_type_checking(node.test):
                yield from visit(node.orelse, in_function)
                continue
            inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                children = getattr(node, field, [])
                statements = [c for c in children if isinstance(c, ast.stmt)]
                if statements:
                    yield from visit(statements, inner)
                for child in children:
                    if isinstance(child, ast.ExceptHandler | ast.match_case):
                        yield from visit(child.body, inner)

    yield from visit(ast.parse(path.read_text(), filename=str(path)).body, False)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def targets(found: Import, known: dict[str, Path]) -> set[str]:
    """The modules of ours an import loads (the deepest one named, not the parents on the way)."""
    if found.written != PACKAGE and not found.written.startswith(PACKAGE + "."):
        return set()
    if not found.names:
        parts = found.written.split(".")
        return {next(".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in known)}
    return {f"{found.written}.{n}" if f"{found.written}.{n}" in known else found.written for n in found.names}


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for path in known.values():
        for found in imports_of(path):
            edges[found.module] |= targets(found, known) - {found.module}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as the modules along it, first repeated at the end; None when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := walk(start)):
            return cycle
    return None


def comment_lines(path: Path) -> set[int]:
    with path.open("rb") as source:
        return {tok.start[0] for tok in tokenize.tokenize(source.readline) if tok.type == tokenize.COMMENT}


def unexplained_imports() -> list[Import]:
    """In-function imports with no `#` comment on their block's lines or the line above it."""
    missing = []
    for path in modules().values():
        inside = [found for found in imports_of(path) if found.in_function]
        comments = comment_lines(path)
        for block in {found.block for found in inside}:
            members = [found for found in inside if found.block == block]
            first = min(found.line for found in members)
            last = max(found.end_line for found in members)
            if not comments & set(range(first - 1, last + 1)):
                missing += members
    return missing


def test_the_graph_is_read() -> None:
    edges = graph()
    assert len(edges) > 100
    # a top-level import, an import inside a function, a submodule taken by `from x import y`
    assert "locust_mlstress.domain.schema" in edges["locust_mlstress.users.outcomes"]
    assert "locust_mlstress.onboard" in edges["locust_mlstress.cli"]
    assert "locust_mlstress.plugin.checks" in edges["locust_mlstress.plugin"]
    # the facade loads only the version: the rest on first use, its TYPE_CHECKING names never
    assert edges["locust_mlstress"] == {"locust_mlstress.version"}


def test_no_import_cycle() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_find_cycle_reports_one() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(edges) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_each_import_inside_a_function_says_why() -> None:
    missing = unexplained_imports()
    assert not missing, "imports inside functions without a reason comment:\n" + "\n".join(
        f"  {PACKAGE}/{found.path}:{found.line}: {(ROOT / found.path).read_text().splitlines()[found.line - 1].strip()}"
        for found in missing
    )
