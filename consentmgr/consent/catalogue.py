"""The purposes in effect on a day, as the ledger and the check need them (cached).

Published policy versions are immutable, so the catalogue for a day only
changes when a version is published: it is kept in the app's shared
``policy-catalogues`` cache for :data:`CATALOGUE_TTL` seconds (other
processes see a new policy within that time) and dropped at once in the
process that publishes one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, object_session

from consentmgr.errors import NotFound
from consentmgr.extensions import db
from consentmgr.policies.models import (
    PolicyPurpose,
    PolicyTranslation,
    PolicyVersion,
    PurposeChangeKind,
)
from consentmgr.runtime import Runtime, SharedCache, of_session, runtime

CACHE_NAME = "policy-catalogues"
CATALOGUE_TTL = 30.0  # seconds


class UnknownPurpose(NotFound):
    """The current policy defines no purpose with that slug."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__("The current privacy policy defines no purpose with that name.")


class NoPolicyPublished(NotFound):
    """No policy version is in effect yet: nothing can be consented to."""

    def __init__(self) -> None:
        super().__init__("No privacy policy is in effect yet.")


@dataclass(frozen=True)
class PurposeInfo:
    """What the ledger needs to know of a purpose in the policy now in effect."""

    slug: str
    title: str
    legal_basis: str
    notice_hash: str
    sale_or_share: bool
    direct_marketing: bool
    version: str
    # Effective date of the version that introduced the purpose or last changed
    # it materially: consent given under an older version must be renewed.
    material_since: dt.date
    # How long a consent lasts from the grant; None: until withdrawn.
    valid_for: dt.timedelta | None = None
    # The notice in the policy's other languages: language -> {"title", "notice_hash"}.
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def notice_in(self, language: str | None) -> tuple[str, str]:
        """The language the notice is shown in for ``language``, and its hash in it.

        English (the canonical notice) when the policy has no text in ``language``.
        """
        shown = self.translations.get(language) if language else None
        if shown is None:
            return "en", self.notice_hash
        return language, shown["notice_hash"]

    def title_in(self, language: str | None) -> str:
        """The purpose's title in ``language``, or in English when the policy has none in it."""
        shown = self.translations.get(language) if language else None
        return shown["title"] if shown is not None else self.title


@dataclass(frozen=True)
class Catalogue:
    """The purposes in effect on one day, and every version's effective date."""

    version: str
    effective_date: dt.date
    purposes: dict[str, PurposeInfo]
    effective_dates: dict[str, dt.date]


def _cache(state: Runtime) -> SharedCache:
    return state.cache(CACHE_NAME, maxsize=16, ttl=CATALOGUE_TTL)


def forget_catalogues(app: Flask | None = None) -> None:
    """Drop the cached catalogues of ``app`` (default: the current app).

    Publishing a policy does this by itself (below); tests call it when
    they reset the data.
    """
    _cache(runtime(app)).clear()


def _forget_for_session(session: Session | None) -> None:
    if session is not None:
        _cache(of_session(session)).clear()


@sa.event.listens_for(PolicyVersion, "after_insert")
@sa.event.listens_for(PolicyTranslation, "after_insert")
def _policy_published(mapper: Any, connection: Any, target: PolicyVersion | PolicyTranslation
                      ) -> None:
    _forget_for_session(object_session(target))


def _today(today: dt.date | None) -> dt.date:
    return today or dt.datetime.now(dt.timezone.utc).date()


def catalogue(today: dt.date | None = None) -> Catalogue:
    """The purposes in effect ``today`` (cached: policies are immutable).

    Raises :class:`NoPolicyPublished` before the first version takes effect.
    """
    day = _today(today)
    # A day without a policy is cached too (as None): the hot path stays one query.
    result = _cache(of_session(db.session)).get_or_build(day, lambda: _build_catalogue(day))
    if result is None:
        raise NoPolicyPublished()
    return result


def _build_catalogue(day: dt.date) -> Catalogue | None:
    versions = db.session.execute(
        sa.select(PolicyVersion.id, PolicyVersion.version, PolicyVersion.effective_date)
        .order_by(PolicyVersion.effective_date)
    ).all()
    in_effect = [v for v in versions if v.effective_date <= day]
    if not in_effect:
        return None
    current = in_effect[-1]
    rows = db.session.execute(
        sa.select(PolicyPurpose, PolicyVersion.effective_date)
        .join(PolicyVersion)
        .where(PolicyVersion.effective_date <= day)
        .order_by(PolicyVersion.effective_date, PolicyPurpose.position)
    ).all()
    material_since: dict[str, dt.date] = {}
    for purpose, effective in rows:
        if purpose.change_kind != PurposeChangeKind.UNCHANGED or purpose.slug not in material_since:
            material_since[purpose.slug] = effective
    translated: dict[str, dict[str, Mapping[str, str]]] = {}
    for language, notices in db.session.execute(
        sa.select(PolicyTranslation.language, PolicyTranslation.notices)
        .where(PolicyTranslation.policy_version_id == current.id)
    ):
        for slug, notice in notices.items():
            translated.setdefault(slug, {})[language] = notice
    purposes = {
        purpose.slug: PurposeInfo(
            slug=purpose.slug, title=purpose.title, legal_basis=purpose.legal_basis,
            notice_hash=purpose.notice_hash, sale_or_share=purpose.sale_or_share,
            direct_marketing=purpose.direct_marketing, version=current.version,
            material_since=material_since[purpose.slug],
            valid_for=(dt.timedelta(days=purpose.valid_for_days)
                       if purpose.valid_for_days is not None else None),
            translations=translated.get(purpose.slug, {}),
        )
        for purpose, _ in rows
        if purpose.policy_version_id == current.id
    }
    return Catalogue(
        version=current.version,
        effective_date=current.effective_date,
        purposes=purposes,
        effective_dates={v.version: v.effective_date for v in versions},
    )


def purpose_info(slug: str, *, today: dt.date | None = None) -> PurposeInfo:
    """The purpose in effect now; raises :class:`UnknownPurpose`."""
    info = catalogue(today).purposes.get(slug)
    if info is None:
        raise UnknownPurpose(slug)
    return info
