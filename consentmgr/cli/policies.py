"""``flask policies ...``: publish the privacy-policy files and list what is published."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click
from flask.cli import AppGroup

from consentmgr.actors import cli_actor
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
    click.echo(
        f"Privacy policy: {len(report.published)} published, "
        f"{len(report.already_present)} already present."
    )


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
            f"sha256 {version.sha256[:12]}"
        )
    try:
        current_version()
    except PolicyNotFound:  # every published version takes effect in the future
        click.echo("No version is in effect yet.")


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    click.get_current_context().exit(1)
