"""The shape of the code, read from the source tree with ``ast``: what a maintainer relies on
when reading one module at a time.

- no import cycle among the project's modules (imports made only for type hints, under
  ``if TYPE_CHECKING:``, are left out: they never run);
- one module of the PubNub backend imports the PubNub SDK (the local server and the customer
  tools aside); the others use the types it re-exports;
- no runtime module reads another object's private attributes;
- no runtime module is over 500 lines (the local server and the customer tools aside).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "errbot_pubnub": ROOT / "backends" / "pubnub",
    "errbot_bridge": ROOT / "backends" / "bridge",
    "errbot_support": ROOT / "plugins" / "support",
    "errbot_support_demo": ROOT / "demo",
    "errbot_common": ROOT / "common",
    "errbot_instances": ROOT / "instances",
    "benchmarks": ROOT / "benchmarks",
}
RUNTIME = (
    "errbot_pubnub",
    "errbot_bridge",
    "errbot_support",
    "errbot_support_demo",
    "errbot_common",
)
SDK_OWNER = "errbot_pubnub.sdk"
#: Modules that use the SDK as a customer's app would: the local server and the customer tools.
SDK_AS_A_CUSTOMER = {"errbot_pubnub.customer_client", "errbot_pubnub.customer_session"}
EMULATOR = "errbot_pubnub.emulator"
MAX_MODULE_LINES = 500
#: The packages whose modules run in a bot, held to :data:`MAX_MODULE_LINES`.
SIZED = (*RUNTIME, "errbot_instances")


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that runs (at import or in a function), not type-only ones."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in runtime_imports_of(child))
            continue
        yield from runtime_imports_of(node)


def runtime_imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from runtime_imports(node)


def imported_modules(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules that ``name`` imports when it runs."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:  # ``import a.b.c`` runs a, a.b and a.b.c
                parts = alias.name.split(".")
                found.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        submodules = {f"{base}.{alias.name}" for alias in node.names} & known.keys()
        found.update(submodules or {base})
    return {target for target in found if target in known and target != name}


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_import_graph_is_read_from_the_source() -> None:
    graph = import_graph()
    assert "errbot_bridge.errors" in graph["errbot_bridge.backend"]
    assert "errbot_pubnub.sdk" in graph["errbot_pubnub.subscription"]
    assert "benchmarks.scenarios" in graph["benchmarks.pipeline"]


def test_no_import_cycle_among_the_projects_modules() -> None:
    assert cycles(import_graph()) == []


def test_one_module_imports_the_pubnub_sdk() -> None:
    importers = set()
    for name, path in modules().items():
        if not name.startswith(RUNTIME) or name.startswith(EMULATOR) or name in SDK_AS_A_CUSTOMER:
            continue
        for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            if any(n == "pubnub" or n.startswith("pubnub.") for n in names):
                importers.add(name)
    assert importers == {SDK_OWNER}


def private_reads_in(source: str) -> list[str]:
    """``x._name`` read where ``x`` is not ``self``, ``cls`` or ``super()``: ``line: x._name``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Load)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "super":
            continue
        found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def private_reads() -> list[str]:
    """The private reads of the modules that run in a bot, each as ``module:line: x._name``."""
    return [
        f"{name}:{read}"
        for name, path in modules().items()
        if name.startswith(SIZED)
        for read in private_reads_in(path.read_text(encoding="utf-8"))
    ]


def test_the_private_reads_finder_finds_what_a_module_reads_of_another_object() -> None:
    source = (
        "class A:\n"
        "    def f(self, other):\n"
        "        self._mine = super()._setup(cls._table)\n"
        "        other._theirs = 1\n"  # written, not read
        "        return other._key(), page._sessions.open(), self.__dict__, A._call\n"
    )
    assert sorted(private_reads_in(source)) == ["5: A._call", "5: other._key", "5: page._sessions"]


def test_no_module_reads_another_objects_private_attributes() -> None:
    assert private_reads() == []


def long_modules(limit: int = MAX_MODULE_LINES) -> dict[str, int]:
    """The runtime modules over ``limit`` lines, with their line counts."""
    found = {}
    for name, path in modules().items():
        if not name.startswith(SIZED) or name.startswith(EMULATOR) or name in SDK_AS_A_CUSTOMER:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found[name] = lines
    return found


def test_module_sizes_are_read_leaving_out_the_emulator_and_customer_tools() -> None:
    long = long_modules(limit=200)
    assert long["errbot_pubnub.backend"] > 200
    assert long["errbot_instances.election"] > 200
    assert not [name for name in long if name.startswith(EMULATOR) or name in SDK_AS_A_CUSTOMER]


def test_no_runtime_module_is_over_500_lines() -> None:
    long = long_modules()
    assert not long, "over 500 lines: " + ", ".join(f"{n} ({c})" for n, c in sorted(long.items()))
