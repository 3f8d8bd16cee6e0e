"""The package's shape, as docs/architecture.md draws it: areas talk one way, one boundary commits."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import consentmgr

PACKAGE = Path(consentmgr.__file__).parent

# Area -> the areas it may import. Audiences (web/, cli/) may import any area;
# no area imports an audience.
ALLOWED = {
    "crypto": set(),
    "keys": {"crypto", "audit"},
    "audit": {"crypto"},
    "policies": {"audit"},
    "customers": {"crypto", "keys", "audit", "mail"},
    "consent": {"crypto", "keys", "audit", "customers", "policies"},
    "staff": {"crypto", "keys", "audit", "customers"},
    "apiclients": {"crypto", "keys", "audit", "customers", "consent"},
    "requests": {"crypto", "keys", "audit", "customers", "consent", "policies", "staff", "apiclients",
                 "mail"},
    "sessions": {"audit", "customers", "staff"},
    # The queue knows no other area, so any area may enqueue; handlers are wired by the worker (cli/).
    "jobs": set(),
    # Mail is queued in the caller's unit of work as a job, sealed like customer data.
    "mail": {"crypto", "jobs"},
    # The breach register (Art. 33/34) selects customers from the audit trail and mails them.
    "breaches": {"crypto", "keys", "audit", "customers", "policies", "staff", "mail",
                 "jobs"},  # the worker mails a notification run: the request enqueues it
    # The Art. 30 record: the published policy, the encrypted columns, the role matrix.
    "processing": {"crypto", "keys", "audit", "policies", "staff"},
    # Webhooks read the change feed in the worker: no area calls them, so none has to sit above them.
    "webhooks": {"crypto", "keys", "audit", "consent", "apiclients"},
    # The DPO dashboard counts what the other areas recorded; only audiences (web, cli) use it.
    "dashboard": {"audit", "consent", "requests", "apiclients", "policies", "customers", "staff"},
    # Notices before a material policy change: customers by their consent, mailed by the worker.
    "notices": {"audit", "customers", "consent", "policies", "jobs"},
}
AUDIENCES = {"web", "cli"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_modules(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "consentmgr":
                yield from (f"consentmgr.{alias.name}" for alias in node.names)
            else:
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_areas_import_only_the_areas_below_them():
    wrong = []
    for path, tree in _modules():
        parts = path.relative_to(PACKAGE).parts
        area = parts[0] if len(parts) > 1 else None
        if area not in ALLOWED:
            continue
        for module in _imported_modules(tree):
            names = module.split(".")
            if names[0] != "consentmgr" or len(names) < 2 or names[1] == area:
                continue
            other = names[1]
            if other in AUDIENCES or (other in ALLOWED and other not in ALLOWED[area]):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert wrong == []


def test_customers_know_nothing_of_staff():
    for path, tree in _modules():
        if path.relative_to(PACKAGE).parts[0] == "customers":
            assert not any(m.startswith("consentmgr.staff") for m in _imported_modules(tree)), path


def test_no_module_imports_inside_a_function():
    # A function-local import is how a cycle gets hidden; the package has none.
    local = []
    for path, tree in _modules():
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                local += [f"{path.relative_to(PACKAGE)}:{node.lineno}" for node in ast.walk(function)
                          if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert local == []


def test_only_the_unit_of_work_commits():
    calls = re.compile(r"\.(commit|rollback)\(\)")
    found = [f"{path.relative_to(PACKAGE)}:{number}"
             for path in sorted(PACKAGE.rglob("*.py")) if path.name != "unit_of_work.py"
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if calls.search(line) and not line.lstrip().startswith("#")]
    assert found == []


def test_only_the_runtime_module_reads_the_app_state():
    found = [str(path.relative_to(PACKAGE)) for path in sorted(PACKAGE.rglob("*.py"))
             if path.name != "runtime.py" and 'extensions["consentmgr"]' in path.read_text(
                 encoding="utf-8")]
    assert found == []


def test_areas_never_read_the_current_app():
    found = []
    for path, tree in _modules():
        parts = path.relative_to(PACKAGE).parts
        if len(parts) > 1 and parts[0] in ALLOWED:
            found += [str(path.relative_to(PACKAGE)) for module in _imported_modules(tree)
                      if module == "flask" and "current_app" in path.read_text(encoding="utf-8")]
    assert found == []
