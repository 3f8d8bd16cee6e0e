"""``consentmgr.staff.services`` is the staff area's public face over its modules."""

from __future__ import annotations

import inspect

import pytest

from consentmgr.staff import accounts, directory, services, signin


def _public(module) -> dict[str, object]:
    return {name: value for name, value in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module.__name__}


@pytest.mark.parametrize("module", [accounts, signin, directory], ids=lambda m: m.__name__)
def test_every_public_function_and_class_is_reachable_through_services(module):
    public = _public(module)

    assert public
    assert {name: getattr(services, name, None) for name in public} == public


def test_services_defines_nothing_of_its_own():
    assert _public(services) == {}
