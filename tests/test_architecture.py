"""The package structure docs/architecture.md promises: no import cycle among project
modules, the device never imports the laptop-side dashboard, small modules in edge/."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edge", "dashboard", "firmware_bridge", "train", "converters")
MAX_EDGE_MODULE_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, package: str) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every import, at any depth, outside TYPE_CHECKING."""
    out: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                out.extend((alias.name, []) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                out.append((base, [a.name for a in child.names]))
            visit(child)

    visit(tree)
    return out


def import_graph() -> dict[str, set[str]]:
    """module -> project modules it imports (a ``from pkg import sub`` edge goes to sub)."""
    files = {
        _module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if p.is_file()
    }
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for target, names in _imports(ast.parse(path.read_text()), package):
            if target not in files:
                continue
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in files]
            graph[module].update(subs or [target])
            if len(subs) < len(names):
                graph[module].add(target)
    for module in graph:
        graph[module].discard(module)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a list of modules, first == last), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := dfs(node)):
            return found
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    tree = ast.parse(
        textwrap.dedent(
            """
            from typing import TYPE_CHECKING
            from . import sibling
            if TYPE_CHECKING:
                from edge.daemon import Daemon
            def f():
                from ..up import thing
            """
        )
    )
    assert _imports(tree, "edge.cli") == [
        ("typing", ["TYPE_CHECKING"]),
        ("edge.cli", ["sibling"]),
        ("edge.up", ["thing"]),
    ]


def test_no_import_cycle_among_project_modules() -> None:
    graph = import_graph()
    assert "edge.cli.main" in graph and "dashboard.server" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_edge_never_imports_dashboard() -> None:
    graph = import_graph()
    bad = {m: sorted(t for t in ts if t.split(".")[0] == "dashboard") for m, ts in graph.items()}
    assert not {m: ts for m, ts in bad.items() if ts and m.split(".")[0] == "edge"}


def test_no_edge_module_over_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "edge").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_EDGE_MODULE_LINES
    }
    assert not long


@pytest.mark.parametrize("command", ["run", "simulate"])
def test_the_daemon_path_does_not_load_dashboard(tmp_path: Path, command: str) -> None:
    """``sspinn-edge run`` (config checked) and the daemon's modules load no dashboard code."""
    config = tmp_path / "edge.toml"
    sensors = "".join(
        f"[sensors.{seg}]\nmux_channel = {i}\naddress = 0x68\n"
        for i, seg in enumerate(
            ("pelvis", "femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l")
        )
    )  # --validate-config checks the sensor map as start-up does
    config.write_text(
        '[device]\nid = "belt-01"\n[participant]\nheight_m = 1.8\nmass_kg = 75\n'
        f'[recorder]\ndir = "{tmp_path / "rec"}"\n' + sensors
    )
    code = textwrap.dedent(
        f"""
        import sys
        import edge.daemon, edge.daemon.daemon, edge.daemon.simulate
        from edge.cli import main
        args = ["run", "--config", {str(config)!r}, "--validate-config"]
        if {command!r} == "simulate":
            args = ["simulate", "--help"]
        try:
            rc = main(args)
        except SystemExit as exc:
            rc = exc.code
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "dashboard")
        print("LOADED", loaded, "RC", rc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert "LOADED [] RC 0" in done.stdout, done.stdout + done.stderr
