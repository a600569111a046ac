"""Rules about the repository's layout that a reader cannot see from one file.

- Product code (tvau_ros/, launch/, scripts/) and product tests (test/) never import the research
  probes (research/, formerly training/*.py).
- No test and no probe edits sys.path: fixtures are importable through pytest.ini's pythonpath,
  probes run as ``python -m research.<probe>``.
- The probes' tests run in the suite (research is one of pytest's testpaths).
"""
import ast
import configparser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBES = {p.stem for p in (REPO / "research").glob("*.py")} - {"__init__"}


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_probes_live_in_research_and_training_keeps_configs_and_the_reproduce_script():
    assert PROBES >= {"cached_pairs_auc", "in_type_probe", "zoom_probe", "track_probe", "oracle_tracks",
                      "learnt_tracks", "appearance_probe", "token_knn_probe"}
    assert not list((REPO / "training").glob("*.py"))
    assert (REPO / "training" / "reproduce_default.sh").is_file()
    assert list((REPO / "training" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", python_files("tvau_ros", "launch", "scripts", "test"),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_product_code_and_tests_do_not_import_research(path):
    bad = {name for name in imported(path)
           if name.split(".")[0] in {"research", "training"} or name.split(".")[0] in PROBES}
    assert not bad, f"{path.relative_to(REPO)} imports research code: {sorted(bad)}"


@pytest.mark.parametrize("path", python_files("test", "research"), ids=lambda p: str(p.relative_to(REPO)))
def test_no_test_or_probe_edits_sys_path(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses = [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "path"
            and isinstance(node.value, ast.Name) and node.value.id == "sys"]
    assert not uses, f"{path.relative_to(REPO)} uses sys.path (lines {uses}); use pytest.ini's pythonpath"


def test_the_research_tests_are_part_of_the_suite():
    ini = configparser.ConfigParser()
    ini.read(REPO / "pytest.ini")
    assert "research" in ini["pytest"]["testpaths"].split()
    assert list((REPO / "research" / "tests").glob("test_*.py"))


def _subpackage(module: str) -> str | None:
    """``tvau_ros.core.pipeline`` -> ``core``; None outside tvau_ros (or the package root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "tvau_ros" else None


def subpackage_imports() -> dict[str, set[str]]:
    """tvau_ros subpackage -> the other subpackages its modules import (anywhere in a module,
    function bodies included: a lazy import is still a dependency)."""
    graph: dict[str, set[str]] = {}
    for path in python_files("tvau_ros"):
        rel = path.relative_to(REPO).with_suffix("")
        own = _subpackage(".".join(rel.parts))
        if own is None or own == "__init__":
            continue
        targets = {_subpackage(name) for name in imported(path)} - {None, own}
        graph.setdefault(own, set()).update(targets)
    return graph


def test_no_import_cycle_between_the_subpackages_of_tvau_ros():
    graph = subpackage_imports()
    assert graph["core"] <= {"metrics"} or "export" not in graph["core"]

    def cycle_from(start: str, node: str, path: list[str]) -> list[str] | None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return path + [nxt]
            if nxt not in path:
                found = cycle_from(start, nxt, path + [nxt])
                if found:
                    return found
        return None

    cycles = [c for c in (cycle_from(p, p, [p]) for p in sorted(graph)) if c]
    assert not cycles, f"import cycles between tvau_ros subpackages: {cycles}"
