"""Published privacy-policy versions and the purposes they define.

A row here is a promise made to customers: once published it never changes.
Consent events point at a version and a purpose's notice hash, so editing a
published row would rewrite what people agreed to (GDPR Art. 7(1): the
controller must be able to show what the data subject consented to). The
services only ever insert, and the ORM refuses updates and deletes outright.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentmgr.extensions import db
from consentmgr.sql import TZDateTime, utcnow


class PurposeChangeKind(enum.StrEnum):
    """How a purpose differs from the same purpose in the previous version.

    The consent ledger asks for renewed consent when a purpose is ``new`` or
    ``materially-changed`` (see :mod:`consentmgr.policies.changes`).
    """

    NEW = "new"
    UNCHANGED = "unchanged"
    MATERIALLY_CHANGED = "materially-changed"

    @property
    def needs_fresh_notice(self) -> bool:
        """True if customers must be told (and, for consent, asked) again."""
        return self is not PurposeChangeKind.UNCHANGED


class PolicyVersion(db.Model):
    """One published version of the privacy policy, immutable once stored.

    ``text`` is the policy file exactly as published and ``sha256`` its
    digest; ``document`` is the parsed file
    (:meth:`consentmgr.policies.document.PolicyDocument.to_dict`), so pages
    and the API never read or parse files at request time.
    """

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Unique: two versions in force from the same day would make "the current
    # policy" ambiguous.
    effective_date: Mapped[dt.date] = mapped_column(sa.Date, unique=True)
    summary: Mapped[str] = mapped_column(sa.Text)
    text: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    document: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    source: Mapped[str] = mapped_column(sa.String(255))
    published_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    # The actor's opaque id (``system:cli:policies publish``), never a person's email.
    published_by: Mapped[str] = mapped_column(sa.String(128))

    purposes: Mapped[list[PolicyPurpose]] = relationship(
        back_populates="policy_version", order_by="PolicyPurpose.position", lazy="selectin"
    )
    # Loaded when asked for: most readers (the ledger, the check) need English only.
    translations: Mapped[list[PolicyTranslation]] = relationship(
        back_populates="policy_version", order_by="PolicyTranslation.language"
    )

    def purpose(self, slug: str) -> PolicyPurpose | None:
        """Return this version's purpose with ``slug``, or None."""
        return next((p for p in self.purposes if p.slug == slug), None)

    def translation(self, language: str) -> PolicyTranslation | None:
        """This version's document in ``language``, or None (English is the version itself)."""
        return next((t for t in self.translations if t.language == language), None)

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language this version is published in, English first."""
        return ("en", *(t.language for t in self.translations))

    def __repr__(self) -> str:
        return f"<PolicyVersion {self.version} effective {self.effective_date}>"


class PolicyTranslation(db.Model):
    """A published version's document in another language than English, immutable once stored.

    English is the canonical text (the :class:`PolicyVersion` itself); a
    translation was checked at publication to define the same purposes,
    legal bases, data and dates (:mod:`consentmgr.policies.languages`). Its
    notices are worded in its language, so each purpose has a notice hash of
    its own here: a consent given on a German page records the German hash
    (GDPR Art. 7(1): what the person was actually shown).
    """

    __tablename__ = "policy_translations"
    __table_args__ = (sa.UniqueConstraint("policy_version_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("policy_versions.id", ondelete="RESTRICT")
    )
    language: Mapped[str] = mapped_column(sa.String(8))
    text: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    document: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # Per purpose slug, what the ledger and the portal read without the whole
    # document: {"marketing-email": {"title": ..., "notice_hash": ...}}.
    notices: Mapped[dict[str, dict[str, str]]] = mapped_column(sa.JSON)
    source: Mapped[str] = mapped_column(sa.String(255))
    published_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    published_by: Mapped[str] = mapped_column(sa.String(128))

    policy_version: Mapped[PolicyVersion] = relationship(back_populates="translations")

    def __repr__(self) -> str:
        return f"<PolicyTranslation {self.language} of version {self.policy_version_id}>"


class PolicyPurpose(db.Model):
    """A purpose as defined by one policy version: what the consent ledger points at.

    The full notice (description, recipients, transfers, ...) lives in the
    version's ``document``; this row holds what is queried: the slug, the
    legal basis, the GPC and direct-marketing flags, the ``notice_hash``
    recorded with every consent, and how the purpose changed since the
    previous version.
    """

    __tablename__ = "policy_purposes"
    __table_args__ = (sa.UniqueConstraint("policy_version_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("policy_versions.id", ondelete="RESTRICT")
    )
    position: Mapped[int] = mapped_column(sa.Integer)
    slug: Mapped[str] = mapped_column(sa.String(64), index=True)
    title: Mapped[str] = mapped_column(sa.String(255))
    legal_basis: Mapped[str] = mapped_column(sa.String(32))
    notice_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    sale_or_share: Mapped[bool] = mapped_column(sa.Boolean)
    direct_marketing: Mapped[bool] = mapped_column(sa.Boolean)
    # Days a consent lasts from the grant; None: until withdrawn (consentmgr/consent/expiry.py).
    valid_for_days: Mapped[int | None] = mapped_column(sa.Integer)
    change_kind: Mapped[PurposeChangeKind] = mapped_column(
        sa.Enum(
            PurposeChangeKind,
            native_enum=False,
            length=32,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    # The material fields that differ from the previous version (empty unless
    # materially changed), e.g. ["description", "recipients"].
    changed_fields: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    policy_version: Mapped[PolicyVersion] = relationship(back_populates="purposes")

    @property
    def version(self) -> str:
        """The label of the version that defines this purpose."""
        return self.policy_version.version

    def __repr__(self) -> str:
        return f"<PolicyPurpose {self.slug} of version {self.policy_version_id}>"


class ImmutablePolicyError(RuntimeError):
    """Code tried to change or delete a published policy row: a programming error."""


@sa.event.listens_for(PolicyVersion, "before_update")
@sa.event.listens_for(PolicyPurpose, "before_update")
@sa.event.listens_for(PolicyTranslation, "before_update")
@sa.event.listens_for(PolicyVersion, "before_delete")
@sa.event.listens_for(PolicyPurpose, "before_delete")
@sa.event.listens_for(PolicyTranslation, "before_delete")
def _refuse_changes(mapper: Any, connection: Any, target: Any) -> None:
    # A change needs a new version; consent already given points at this one.
    raise ImmutablePolicyError(f"{target!r} is published and cannot be changed or deleted")
