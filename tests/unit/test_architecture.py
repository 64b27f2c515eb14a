"""The shape docs/architecture.md describes, checked on the source.

- The import graph of `tap_gitlab` runs one way: no cycle, counting every import (module level, under
  `TYPE_CHECKING` and inside functions alike: a lazy import hides a cycle, it does not remove it).
- singer-sdk's private names are used in one module only, `tap_gitlab/sdk_adapter.py`: no import from a private
  singer-sdk module (`singer_sdk.helpers._typing`), no override or call of a private method of the SDK's `Stream`,
  `Tap` or `PluginBase`, and no read of a private attribute those classes set, anywhere else. An upgrade of
  singer-sdk then has one file to check (and tests/unit/test_sdk_adapter.py pins what that file relies on).
"""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import typing as t
from pathlib import Path

from singer_sdk import Stream, Tap
from singer_sdk.plugin_base import PluginBase

PACKAGE = Path(__file__).resolve().parents[2] / "tap_gitlab"
ADAPTER = "tap_gitlab.sdk_adapter"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(), filename=str(path)) for name, path in MODULES.items()}


def _imports(name: str) -> set[str]:
    """The tap_gitlab modules `name` imports, anywhere in its source."""
    found: set[str] = set()
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from tap_gitlab.flow import spec` imports the module tap_gitlab.flow.spec.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in MODULES and target != name)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _cycles(graph: t.Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_cycle_finder_finds_a_cycle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_of_tap_gitlab_has_no_cycle():
    assert GRAPH["tap_gitlab.cli"], "the import scanner found nothing: it is broken"
    assert _cycles(GRAPH) == []


def test_streams_and_readers_never_import_the_tap():
    below = [name for name in MODULES if name.startswith(("tap_gitlab.streams", "tap_gitlab.readers"))]
    assert below
    offenders = {name: sorted(GRAPH[name] & {"tap_gitlab.tap", "tap_gitlab.cli"}) for name in below}
    assert {name: found for name, found in offenders.items() if found} == {}


# -- singer-sdk's private names ------------------------------------------------------------------------------


def _sdk_private_methods() -> set[str]:
    names = set()
    for cls in (Stream, Tap, PluginBase):
        for name, member in inspect.getmembers(cls):
            if name.startswith("_") and not name.startswith("__") and callable(member):
                names.add(name)
    return names


def _sdk_private_attributes() -> set[str]:
    """Private instance attributes the SDK's Stream, Tap and PluginBase set (`self._x = …` in their source)."""
    names = set()
    for cls in (Stream, Tap, PluginBase):
        tree = ast.parse(Path(inspect.getfile(cls)).read_text())
        for node in ast.walk(tree):
            stored = isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
            on_self = stored and isinstance(node.value, ast.Name) and node.value.id == "self"
            if on_self and node.attr.startswith("_") and not node.attr.startswith("__"):
                names.add(node.attr)
    return names


SDK_METHODS = _sdk_private_methods()
SDK_ATTRIBUTES = _sdk_private_attributes()


def _own_attributes() -> set[str]:
    """Private attributes and methods tap_gitlab's own (non-SDK) classes define: the same name there is not the SDK's."""
    names = set()
    for tree in TREES.values():
        for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
            if any(isinstance(base, ast.Name) and base.id in ("Stream", "Tap", "GitLabStream") for base in cls.bases):
                continue
            for node in ast.walk(cls):
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr.startswith("_"):
                    names.add(node.attr)
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("_"):
                    names.add(node.name)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
    return names


def _private_uses(name: str) -> list[str]:
    """Where module `name` reaches into singer-sdk's privates."""
    own = _own_attributes()
    uses = []
    for node in ast.walk(TREES[name]):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            if any(part.startswith("_") for part in (node.module or "").split(".")):
                uses.append(f"{line}: from {node.module} import …")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("singer_sdk") and any(p.startswith("_") for p in alias.name.split(".")):
                    uses.append(f"{line}: import {alias.name}")
        elif isinstance(node, ast.FunctionDef) and node.name in SDK_METHODS:
            uses.append(f"{line}: def {node.name} (overrides a private singer-sdk method)")
        elif isinstance(node, ast.Attribute) and node.attr not in own and node.attr in SDK_METHODS | SDK_ATTRIBUTES:
            uses.append(f"{line}: .{node.attr}")
    return uses


def test_the_private_name_finder_sees_the_sdks_privates():
    assert {"_increment_stream_state", "_write_state_message", "_sync_records"} <= SDK_METHODS
    assert "_state_writer" in SDK_ATTRIBUTES or "_state_writer" in SDK_METHODS
    assert importlib.metadata.version("singer-sdk")


def test_singer_sdk_private_names_are_used_only_in_the_adapter():
    assert ADAPTER in MODULES, "tap_gitlab/sdk_adapter.py holds every use of singer-sdk's private names"
    uses = {name: _private_uses(name) for name in MODULES if name != ADAPTER}
    assert {name: found for name, found in uses.items() if found} == {}
