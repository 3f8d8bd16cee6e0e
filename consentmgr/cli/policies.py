"""``flask policies ...``: publish the privacy-policy files and list what is published."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app
from flask.cli import AppGroup

from consentmgr.actors import cli_actor
from consentmgr.extensions import db
from consentmgr.mail import send_mail_after_commit
from consentmgr.notices import services as notices
from consentmgr.policies.services import (
    PolicyChanged,
    PolicyInvalid,
    PolicyNotFound,
    current_version,
    list_versions,
    publish_policies,
    status_of,
)
from consentmgr.runtime import runtime
from consentmgr.sql import utcnow
from consentmgr.unit_of_work import unit_of_work

policies = AppGroup("policies", help="The published privacy policy.")


@policies.command("publish")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory of policy files (default: CONSENTMGR_POLICIES_DIR, or policies/).",
)
def publish(directory: Path | None) -> None:
    """Validate every policy file and publish the new versions (idempotent).

    Exits 1, publishing nothing, when a file is invalid or an already
    published version's file was edited or removed.
    """
    directory = directory or runtime().settings.policies_dir
    try:
        with unit_of_work():
            report = publish_policies(directory, actor=cli_actor("policies publish"))
            # A future material change: the worker tells the customers it concerns.
            noticed = notices.enqueue_notices(db.session, report.published, now=utcnow())
    except PolicyInvalid as exc:
        _fail(str(exc))
    except PolicyChanged as exc:
        _fail(str(exc) + "\nA change to a published policy needs a new version file.")
    new = {v.version for v in report.published}
    for version in report.versions:
        what = "published" if version.version in new else "already published"
        click.echo(
            f"{version.version} (effective {version.effective_date.isoformat()}, "
            f"{version.source}): {what}"
        )
    for translation in report.translations:
        click.echo(f"{translation.policy_version.version} in {translation.language} "
                   f"({translation.source}): published")
    click.echo(
        f"Privacy policy: {len(report.published)} published, "
        f"{len(report.already_present)} already present"
        + (f", {len(report.translations)} translation(s) published." if report.translations
           else ".")
    )
    for version in noticed:
        click.echo(f"{version.version} changes something material: the worker will mail the "
                   "customers concerned (see: flask policies notify --dry-run).")


@policies.command("list")
def list_() -> None:
    """List the published versions, oldest first, with their status today."""
    versions = list_versions()
    if not versions:
        click.echo("No privacy-policy version is published. Run: flask policies publish")
        return
    for version in versions:
        purposes = version.purposes
        fresh = sum(1 for p in purposes if p.change_kind.needs_fresh_notice)
        click.echo(
            f"{version.version:<12} effective {version.effective_date.isoformat()}  "
            f"{status_of(version):<10}  {len(purposes)} purposes ({fresh} new or changed)  "
            f"sha256 {version.sha256[:12]}  languages {', '.join(version.languages)}"
        )
    try:
        current_version()
    except PolicyNotFound:  # every published version takes effect in the future
        click.echo("No version is in effect yet.")


@policies.command("notify")
@click.argument("version")
@click.option("--dry-run", is_flag=True,
              help="Only count the customers the notice concerns (in all and per purpose).")
def notify(version: str, dry_run: bool) -> None:
    """Mail VERSION's notice of a material change to the customers it concerns.

    The same batches as the worker's job (one commit each, paced to
    CONSENTMGR_POLICY_NOTICE_RATE a minute); customers told before about
    VERSION are skipped. Exits 1, sending nothing, for an unknown version, one
    already in effect, the first version, or one without a material change.
    """
    try:
        scope = notices.notice_scope(version)
    except PolicyNotFound:
        _fail(f"No published privacy-policy version {version!r}; nothing was sent. "
              "See: flask policies list")
    except notices.NoNoticeNeeded as exc:
        _fail(str(exc))
    counts = notices.count_affected(db.session, scope)
    click.echo(f"Version {scope.version.version} (effective "
               f"{scope.version.effective_date.isoformat()}, replacing {scope.previous.version}): "
               f"{counts.affected:,} active customer(s) concerned, {counts.untold:,} not told yet.")
    for purpose in scope.purposes:
        whom = "consent given" if purpose.by_consent else "not objected"
        click.echo(f"  {purpose.slug:<24} {counts.per_purpose[purpose.slug]:>8,}  "
                   f"({whom}; {purpose.what_changes})")
    if dry_run:
        click.echo("Dry run: nothing was sent.")
        return
    rate = int(current_app.config.get("POLICY_NOTICE_RATE", notices.DEFAULT_RATE))
    actor = cli_actor("policies notify")
    mailed = unreachable = 0
    with click.progressbar(length=counts.untold, label="Queueing notices",
                           file=sys.stderr) as bar:
        while True:
            with unit_of_work():
                result = notices.notice_batch(db.session, scope, size=notices.batch_size(rate),
                                              send=send_mail_after_commit, actor=actor)
            mailed, unreachable = mailed + result.mailed, unreachable + result.unreachable
            bar.update(result.handled)
            if not result.more:
                break
            time.sleep(notices.pause_after(result.handled, rate).total_seconds())
    click.echo(f"Queued {mailed:,} notice(s) for the worker to send"
               f"{f'; {unreachable:,} customer(s) without an address' if unreachable else ''}.")


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    click.get_current_context().exit(1)
