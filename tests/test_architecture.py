"""The layout of docs/architecture.md, held by reading the imports of idm/.

Views (the modules of idm/api, idm/web and idm/cli) stand side by side:
each imports only from below it, never another view module. Nothing below
the views imports a view. A package's __init__ may import its own modules
to register them.
"""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "idm"
VIEW_PACKAGES = ("idm.api", "idm.web", "idm.cli")


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path):
    """Every module *path* imports, as absolute names (``from . import x`` gives pkg.x)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = f"{base}.{node.module}" if node.level and node.module else base
            base = base if node.level else node.module
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def is_view(name):
    return any(name.startswith(package + ".") for package in VIEW_PACKAGES)


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_views_import_no_other_view_and_nothing_below_imports_a_view(path):
    name = module_name(path)
    views = {module for module in imported_modules(path) if is_view(module)}
    if path.name == "__init__.py" and name in VIEW_PACKAGES:
        views = {module for module in views if not module.startswith(name + ".")}
    assert not views, f"{name} imports the view module(s) {sorted(views)}"


def test_the_checker_sees_relative_imports():
    web_init = PACKAGE / "web" / "__init__.py"
    assert "idm.web.admin" in imported_modules(web_init)
    assert "idm.sessions" in imported_modules(web_init)


def tree_paths(doc):
    """The paths of the first code block of *doc*, a tree indented by two spaces."""
    tree = doc.split("```")[1].splitlines()[1:]
    stack, paths = [], set()
    for line in tree:
        match = re.match(r"( *)(\S+)", line)
        if not match:
            continue
        depth = len(match.group(1)) // 2
        stack[depth:] = [match.group(2)]
        paths.add("".join(stack))
    return paths


def test_architecture_md_shows_the_tree_of_idm():
    """docs/architecture.md lists every module of idm/, and nothing that is gone."""
    listed = {
        path for path in tree_paths((PACKAGE.parent / "docs" / "architecture.md").read_text())
    }
    listed = {path for path in listed if path.startswith("idm/")}
    present = {str(path.relative_to(PACKAGE.parent)) for path in MODULES}
    present = {path for path in present if not path.endswith("/__init__.py")} | {
        str(path.parent.relative_to(PACKAGE.parent)) + "/" for path in PACKAGE.rglob("__init__.py")
    }
    assert present <= listed, f"missing from docs/architecture.md: {sorted(present - listed)}"
    gone = {path for path in listed - present if not path.endswith("/__init__.py")}
    assert not gone, f"docs/architecture.md lists what idm/ does not have: {sorted(gone)}"
