"""The package's modules import one another one way: no import cycle, not even a deferred one.

The layers are core (`_core`, `_numeric`, `_validate`) -> the schedule families -> combinators,
horizons, replanning and budgets -> the migration namespaces and tools -> `jaxdecay/__init__.py`.
An import inside a function is an import too: it hides a cycle from Python, not from a reader.
"""

from __future__ import annotations

import ast
import functools
import pathlib

import jaxdecay

PACKAGE = pathlib.Path(jaxdecay.__file__).parent


@functools.cache
def _trees() -> dict[pathlib.Path, ast.Module]:
    """Every module of the package, parsed once for all the tests here."""
    return {p: ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path, modules: set[str]) -> set[str]:
    """The `jaxdecay` modules that `path` imports, anywhere in its code."""
    found: set[str] = set()
    for node in ast.walk(_trees()[path]):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from jaxdecay import _validate` imports the module `jaxdecay._validate`;
            # `from jaxdecay import registry` (a name, not a module) imports the package.
            subs = [f"{node.module}.{a.name}" for a in node.names]
            names = [n for n in subs if n in modules]
            if len(names) < len(subs):
                names.append(node.module)
        else:
            continue
        found.update(n for n in names if n in modules)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in _trees()}
    modules = set(files)
    return {m: _imports(p, modules) - {m} for m, p in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (a list of modules, first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_module_of_the_package_imports_itself_back():
    graph = _graph()
    assert "jaxdecay._core" in graph and graph["jaxdecay._horizon"] >= {"jaxdecay._core"}
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_core_knows_nothing_of_what_uses_it():
    graph = _graph()
    allowed = {"jaxdecay._numeric", "jaxdecay._validate"}
    assert graph["jaxdecay._core"] <= allowed, graph["jaxdecay._core"]


def test_no_module_imports_a_private_jax_module():
    # `jax._src` moves between JAX releases; importing it would make `import jaxdecay` break.
    for path, tree in _trees().items():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Attribute) and node.attr == "_src":
                names = ["jax._src"]
            bad = [n for n in names if n == "jax._src" or n.startswith("jax._src.")]
            assert not bad, f"{path.name}:{node.lineno} imports {bad}"


def test_no_module_reaches_into_another_modules_private_names():
    # A name used by another module has a public name in its home module (`_core.rebuild`,
    # `plotting.pyplot`): a private name is the module's own business.
    graph = _graph()
    for path, tree in _trees().items():
        aliases = {}  # local name -> jaxdecay module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module in graph:
                for a in node.names:
                    if f"{node.module}.{a.name}" in graph:
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                    elif a.name.startswith("_") and not a.name.startswith("__"):
                        raise AssertionError(f"{path.name}: from {node.module} import {a.name}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                raise AssertionError(
                    f"{path.name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}"
                )
