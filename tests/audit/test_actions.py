"""Every audit action name is a constant in ``consentmgr/audit/actions.py``, and only there.

The scan reads every module of the package with :mod:`ast` and collects the
string constants that look like an action name (``area.verb``, for an area
the constants use) and the f-strings that build one
(``f"consent.{action.value}"``). Route endpoints (``url_for("staff.home")``)
have the same shape and are left out; module paths (``consentmgr.outbox``)
and template names (``staff/audit.html``) do not match.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import consentmgr
from consentmgr.audit import actions

PACKAGE = Path(consentmgr.__file__).parent
ACTIONS_MODULE = PACKAGE / "audit" / "actions.py"
KNOWN_AREAS = {"staff", "customer", "consent", "policy", "keys", "portal", "api", "api-client",
               "request", "audit"}
_AREA_START = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9.-]*")


def _defined() -> dict[str, str]:
    """Constant name -> action name, for every action constant in actions.py."""
    return {name: value for name, value in vars(actions).items()
            if name.isupper() and isinstance(value, str) and "." in value
            and not name.endswith("_PREFIX")}


def _areas() -> set[str]:
    return KNOWN_AREAS | {value.split(".")[0] for value in _defined().values()}


def _action_like(source: str, *, areas: set[str], endpoints: set[str]) -> list[tuple[int, str]]:
    """``(line, text)`` for every literal action name, or f-string building one, in ``source``."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    parts_of_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                         for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            first = node.values[0] if node.values else None
            if (len(node.values) > 1 and isinstance(first, ast.Constant)
                    and isinstance(first.value, str) and _AREA_START.fullmatch(first.value)
                    and first.value.split(".")[0] in areas):
                found.append((node.lineno, ast.unparse(node)))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in parts_of_fstrings and node.value not in endpoints
              and "." in node.value and node.value.split(".")[0] in areas
              and actions.ACTION_PATTERN.match(node.value)):
            found.append((node.lineno, node.value))
    return sorted(found)


@pytest.fixture
def endpoints(app) -> set[str]:
    """The app's route endpoints (``portal.details``): the same shape, but not actions."""
    return {rule.endpoint for rule in app.url_map.iter_rules()}


def test_no_module_but_actions_py_spells_out_an_action_name(endpoints):
    areas = _areas()
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if p != ACTIONS_MODULE]
    assert len(modules) > 20  # the scan really reads the package
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {text}"
             for path in modules
             for line, text in _action_like(path.read_text(encoding="utf-8"), areas=areas,
                                            endpoints=endpoints)]
    assert found == [], "use the constants of consentmgr/audit/actions.py:\n" + "\n".join(found)


def test_the_scan_sees_every_name_actions_py_defines(endpoints):
    spelled = {text for _, text in _action_like(ACTIONS_MODULE.read_text(encoding="utf-8"),
                                                 areas=_areas(), endpoints=endpoints)}
    assert set(_defined().values()) <= spelled


def test_the_scan_catches_literals_and_fstrings_but_not_endpoints_modules_or_templates():
    source = (
        'audit.record("consent.granted", actor=actor)\n'
        'audit.record(f"consent.{action.value}", actor=actor)\n'
        'prefix = "request." + kind\n'
        'url_for("portal.details")\n'
        'logging.getLogger("consentmgr.outbox")\n'
        'render_template("staff/audit.html")\n'
        'message = f"Signed in as {name}."\n'
    )
    found = _action_like(source, areas=_areas(), endpoints={"portal.details"})
    assert found == [(1, "consent.granted"), (2, "f'consent.{action.value}'"), (3, "request.")]


def test_every_constant_is_a_valid_action_name():
    invalid = {name: value for name, value in _defined().items()
               if not actions.is_valid_action(value)}
    assert _defined() and invalid == {}


def test_no_two_constants_name_the_same_action():
    values = list(_defined().values())
    duplicates = sorted({value for value in values if values.count(value) > 1})
    assert duplicates == []


def test_every_constant_is_defined_once_in_actions_py():
    tree = ast.parse(ACTIONS_MODULE.read_text(encoding="utf-8"))
    assigned = [target.id for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)]
    assert sorted({n for n in assigned if assigned.count(n) > 1}) == []
    assert set(_defined()) <= set(assigned)


@pytest.mark.parametrize("group", ["FEED_ACTIONS", "STAFF_ACCESS_ACTIONS"])
def test_action_groups_name_only_defined_actions(group):
    members = getattr(actions, group)
    assert members and set(members) <= set(_defined().values())
    assert len(set(members)) == len(members)


def test_outcomes_are_valid_and_not_actions():
    outcomes = (actions.SUCCESS, actions.FAILURE, actions.DENIED)
    assert all(actions.OUTCOME_PATTERN.match(o) for o in outcomes)
    assert not set(outcomes) & set(_defined().values())
