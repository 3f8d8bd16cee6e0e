"""The portal's banner for a material policy change to come, in a real browser (axe included).

The live server is shared by the whole session, so the test publishes its
upcoming version through the service (the CLI would also enqueue the
notice job, and the worker would then mail the demo customers into the
shared inbox) and removes it again afterwards.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from playwright.sync_api import expect

from consentmgr.consent.catalogue import forget_catalogues
from consentmgr.extensions import db
from consentmgr.policies.models import PolicyPurpose, PolicyVersion
from consentmgr.policies.services import publish_policies
from consentmgr.sql import utcnow
from tests.conftest import SHIPPED_POLICIES_DIR, TEST_ACTOR
from tests.e2e import assert_no_axe_violations

pytestmark = pytest.mark.browser

LABEL = "2099-upcoming"
CHANGE_DAY = utcnow().date() + dt.timedelta(days=30)


def _upcoming_policy(directory) -> None:
    """The shipped policies, plus a version in 30 days that shares email data with a new mailer."""
    for path in sorted(Path(SHIPPED_POLICIES_DIR).glob("*.md")):
        shutil.copy(path, directory / path.name)
    text = (directory / "2026-03.md").read_text(encoding="utf-8")
    _, header, body = text.split("---\n", 2)
    data = yaml.safe_load(header)
    data.update(version=LABEL, effective_date=CHANGE_DAY.isoformat(),
                summary="Our newsletter is now sent by a second mailing company.")
    marketing = next(p for p in data["purposes"] if p["slug"] == "marketing-email")
    marketing["recipients"] = [*marketing.get("recipients", []), "Second Mailer Ltd."]
    header = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    (directory / f"{LABEL}.md").write_text(f"---\n{header}---\n{body}", encoding="utf-8")


@pytest.fixture
def upcoming_change(live_server, tmp_path) -> Iterator[None]:
    """A published version with a material change in 30 days; removed after the test."""
    _upcoming_policy(tmp_path)
    app = live_server.app
    with app.app_context():
        publish_policies(tmp_path, actor=TEST_ACTOR)
        db.session.commit()
    try:
        yield
    finally:
        with app.app_context():
            version_id = db.session.scalar(sa.select(PolicyVersion.id).where(
                PolicyVersion.version == LABEL))
            # Core deletes: the ORM refuses to delete a published version, as it should.
            db.session.execute(sa.delete(PolicyPurpose.__table__).where(
                PolicyPurpose.__table__.c.policy_version_id == version_id))
            db.session.execute(sa.delete(PolicyVersion.__table__).where(
                PolicyVersion.__table__.c.id == version_id))
            db.session.commit()
            forget_catalogues(app)


def test_the_portal_announces_the_change_and_links_to_the_comparison(page, live_server,
                                                                      upcoming_change):
    page.goto(live_server.url_for("/portal/sign-in"))

    banner = page.get_by_role("note").filter(has_text="Our privacy policy changes on")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"{CHANGE_DAY.day} {CHANGE_DAY:%B %Y}")
    expect(banner).to_contain_text("changes to who receives the data")
    assert_no_axe_violations(page)

    banner.get_by_role("link", name="See what changes").click()
    page.wait_for_load_state()

    assert f"to={LABEL}" in page.url
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert_no_axe_violations(page)
