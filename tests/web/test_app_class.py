"""The application class: Flask, with the coroutine question answered once per function."""

from __future__ import annotations

from consentmgr import ConsentApp


class _View:
    def get(self) -> str:
        return "ok"


def test_a_plain_function_is_returned_as_is_and_asked_about_once(app):
    assert isinstance(app, ConsentApp)

    def hook() -> None:
        return None

    assert app.ensure_sync(hook) is hook
    assert app.ensure_sync(hook) is hook
    assert app._coroutine[hook] is False


def test_bound_methods_of_new_instances_add_no_entry(app):
    before = len(app._coroutine)
    methods = [_View().get for _ in range(50)]
    assert all(app.ensure_sync(method) is method for method in methods)
    assert len(app._coroutine) == before + 1  # one entry: the underlying function


def test_a_coroutine_function_is_always_wrapped(app, monkeypatch):
    wrapped: list[object] = []

    def to_sync(func):
        wrapped.append(func)
        return lambda: "ran"

    monkeypatch.setattr(app, "async_to_sync", to_sync)

    async def view() -> str:
        return "ok"

    assert app.ensure_sync(view)() == "ran"
    assert app.ensure_sync(view)() == "ran"  # the second time from what was learnt
    assert app._coroutine[view] is True
    assert wrapped[-1] is view
