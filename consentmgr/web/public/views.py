"""Public views: the home page and the published privacy policy (no login)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import jsonify, redirect, render_template, request, url_for

from consentmgr.i18n import LANGUAGES, _, current_language, in_language, lazy_gettext
from consentmgr.policies.render import render_markdown
from consentmgr.policies.services import (
    PolicyNotFound,
    VersionComparison,
    VersionInfo,
    compare_versions,
    current_version,
    describe_version,
    get_version,
    previous_version,
    upcoming_version,
    version_history,
)
from consentmgr.web.errors import render_error
from consentmgr.web.public import bp

_JSON_ENDPOINTS = {"public.privacy_json", "public.policy_version_json", "public.gpc"}
_MAX_LABEL = 64  # the column's length; longer is never a published version
# PolicyNotFound speaks English to every audience (the API's problem details stay English);
# the page says the same in the reader's language.
_NOT_FOUND_PAGES = {
    "No published privacy-policy version with that label.":
        lazy_gettext("No published privacy-policy version with that label."),
    "No privacy-policy version is in effect yet.":
        lazy_gettext("No privacy-policy version is in effect yet."),
    "That policy version defines no purpose with that name.":
        lazy_gettext("That policy version defines no purpose with that name."),
}


@bp.get("/")
def home():
    """The landing page: where customers, staff and readers of the policy go."""
    return render_template("public/home.html")


@bp.get("/privacy")
def privacy():
    """The policy in effect today, with a notice when a new version is coming."""
    info = describe_version(current_version(), language=current_language())
    return _render_policy(info, upcoming=upcoming_version())


@bp.get("/privacy/<version>")
def policy_version(version: str):
    """One published version, whatever its status."""
    return _render_policy(describe_version(get_version(version), language=current_language()))


@bp.get("/privacy/versions")
def policy_versions():
    """Every published version with its dates, status and summary of changes."""
    return render_template("public/policy_versions.html",
                           history=version_history(language=current_language()))


@bp.get("/privacy/compare")
def policy_compare():
    """What changed between two versions (``?from=<label>&to=<label>``)."""
    old, new = request.args.get("from"), request.args.get("to")
    if old is None and new is None:
        # Without a choice, show what changed most recently: a shareable URL.
        current = current_version()
        previous = previous_version(current)
        if previous is None:
            return render_error(
                400, _("Nothing to compare"),
                _("Only one version of the privacy policy is published."),
            )
        return redirect(
            url_for("public.policy_compare", **{"from": previous.version, "to": current.version})
        )
    if not _plausible_label(old) or not _plausible_label(new):
        return render_error(
            400, _("Choose two versions"),
            _("Choose two published versions of the policy to compare."),
        )
    comparison = compare_versions(old, new, language=current_language())
    notice = _english_only_notice(comparison)  # in the page's language
    # Shown in English when either version has no text in the page's language.
    return _in_language_of(comparison, lambda: render_template(
        "public/policy_compare.html",
        comparison=comparison,
        history=version_history(language=comparison.language),
        other_language_notice=notice,
    ))


@bp.get("/privacy.json")
def privacy_json():
    """The policy in effect today, as data."""
    return jsonify(_policy_data(describe_version(current_version(), language=_json_language())))


@bp.get("/privacy/<version>.json")
def policy_version_json(version: str):
    """One published version, as data."""
    return jsonify(_policy_data(describe_version(get_version(version),
                                                 language=_json_language())))


@bp.get("/.well-known/gpc.json")
def gpc():
    """Global Privacy Control support resource: this site honours the GPC signal."""
    # lastUpdate: when the policy that says how we honour GPC last changed.
    return jsonify({"gpc": True, "lastUpdate": current_version().effective_date.isoformat()})


@bp.errorhandler(PolicyNotFound)
def policy_not_found(exc: PolicyNotFound):
    """An unknown version: the 404 page, or problem+json for the data endpoints."""
    if request.endpoint in _JSON_ENDPOINTS:
        response = jsonify(
            {"type": "about:blank", "title": exc.title, "status": exc.status, "detail": str(exc)}
        )
        response.status_code = exc.status
        response.mimetype = "application/problem+json"
        return response
    return render_error(404, message=str(_NOT_FOUND_PAGES.get(str(exc), str(exc))))


def _plausible_label(label: str | None) -> bool:
    return bool(label) and len(label) <= _MAX_LABEL


def _render_policy(info: VersionInfo, *, upcoming=None):
    notice = _english_only_notice(info)  # in the page's language
    # A version without a text in the page's language is shown, page and all, in English.
    return _in_language_of(info, lambda: render_template(
        "public/policy.html",
        info=info,
        upcoming=upcoming,
        body=render_markdown(info.document.body),
        current_page=request.endpoint == "public.privacy",
        other_language_notice=notice,
    ))


def _in_language_of(shown: VersionInfo | VersionComparison, render: Callable[[], str]) -> Any:
    """Render in the language of the document shown, so that ``<html lang>`` and
    ``Content-Language`` tell the truth."""
    if not shown.in_other_language:
        return render()
    with in_language(shown.language):
        return render(), {"Content-Language": shown.language}


def _english_only_notice(shown: VersionInfo | VersionComparison) -> tuple[str, str] | None:
    """The page-language notice that the document is shown in English, and that language."""
    if not shown.in_other_language:
        return None
    return _("This version is available in English only."), shown.requested


def _json_language() -> str:
    """``?language=de`` if given and spoken, else the request's language."""
    asked = request.args.get("language")
    return asked if asked in LANGUAGES else current_language()


def _policy_data(info: VersionInfo) -> dict[str, Any]:
    """The stored document exactly as published, plus where it stands in time."""
    version = info.version
    translation = version.translation(info.language)  # None: English, the version itself
    return {
        **(translation.document if translation is not None else version.document),
        "language": info.language,
        "languages": list(version.languages),
        "status": info.status,
        "effective_until": _iso(info.effective_until),
        "previous_version": info.previous.version if info.previous else None,
        "next_version": info.following.version if info.following else None,
        "published_at": (translation or version).published_at.isoformat(),
        "source": (translation or version).source,
        "purpose_changes": [
            {
                "slug": p.slug,
                "change_kind": p.change_kind.value,
                "changed_fields": list(p.changed_fields),
            }
            for p in version.purposes
        ],
        "links": {
            "html": url_for("public.policy_version", version=version.version, _external=True),
            "versions": url_for("public.policy_versions", _external=True),
        },
    }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None

