"""A data-subject request end to end, in a real browser, with mail through a real SMTP server.

A customer signs in, downloads their data (the ZIP holds their values),
asks for erasure and sees the date of the answer; the DPO signs in,
finds the request in the queue and approves it; afterwards the customer's
data cannot be read, and every mail arrived at the SMTP server.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from consentmgr.consent.services import check_consent
from consentmgr.customers import services as customers
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.extensions import db
from consentmgr.requests.models import DataSubjectRequest, RequestStatus, RequestType
from consentmgr.staff import services as staff
from tests.conftest import TEST_ACTOR
from tests.e2e import assert_no_axe_violations
from tests.e2e.test_portal import go_to, sign_in

pytestmark = pytest.mark.browser


def _new_customer(live_server) -> tuple[uuid.UUID, str, str]:
    """A customer of this test alone (others share the server): (id, email, history marker)."""
    marker = f"late parcel {uuid.uuid4().hex[:10]}"
    email = f"erase-me-{uuid.uuid4().hex[:8]}@example.org"
    with live_server.app.app_context():
        customer = customers.create_customer(
            {"email": email, "name": "Erin Erasmus", "phone": "+44 20 7946 0123"},
            actor=TEST_ACTOR)
        customers.add_history(customer, {
            "occurred_at": "2026-02-01T10:00:00Z", "channel": "phone", "kind": "support-contact",
            "data_category": "support-history", "summary": f"Asked about a {marker}"},
            actor=TEST_ACTOR)
        db.session.commit()
        return customer.id, email, marker


def _new_dpo(live_server) -> tuple[str, str, str]:
    """A DPO account with an enrolled authenticator: (email, password, TOTP secret)."""
    email, password = f"dpo-{uuid.uuid4().hex[:8]}@staff.example", "a browser test password"
    with live_server.app.app_context():
        user, link = staff.create_staff(email, "Browser DPO", "dpo", actor=TEST_ACTOR)
        staff.set_password(link.rsplit("/", 1)[1], password)
        secret = staff.start_totp_enrolment(user).secret
        user.totp_enrolled = True
        db.session.commit()
    return email, password, secret


def _staff_sign_in(page, live_server, email: str, password: str, secret: str) -> None:
    page.goto(live_server.url_for("/staff/sign-in"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url_for("/staff/"))


def _raw_database(live_server) -> bytes:
    """Every byte of the live server's SQLite database, write-ahead log included."""
    path = Path(live_server.app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_a_customer_downloads_and_erases_their_data_and_the_dpo_approves(
        browser, live_server, smtp_inbox, tmp_path):
    customer_id, email, marker = _new_customer(live_server)
    check = lambda: assert_no_axe_violations(customer_page)  # noqa: E731
    customer_context = browser.new_context(accept_downloads=True)
    customer_page = customer_context.new_page()
    customer_page.set_default_timeout(10_000)

    # The customer downloads their data: one click on "My data".
    sign_in(customer_page, live_server, smtp_inbox, email, check=check)
    with customer_page.expect_download() as info:
        customer_page.get_by_role("button", name="Download my data").first.click()
    download = info.value
    assert re.fullmatch(rf"my-data-{customer_id}-\d{{4}}-\d{{2}}-\d{{2}}\.zip",
                        download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
        data = archive.read("data.json").decode()
        assert {"README.txt", "history.csv", "consent_events.csv"} <= set(archive.namelist())
    assert email in data and "Erin Erasmus" in data and marker in data
    assert json.loads(data)  # a whole, well-formed document

    # ... and asks for erasure: "My requests", then the button under the statement.
    go_to(customer_page, "My requests")
    expect(customer_page.get_by_role("heading", level=1)).to_have_text("My requests")
    check()
    expect(customer_page.get_by_role("heading", name="What we keep, and why")).to_be_visible()
    customer_page.get_by_role("button", name="Ask us to erase my data").click()
    with live_server.app.app_context():
        erasure = db.session.query(DataSubjectRequest).filter_by(
            customer_id=customer_id, type=RequestType.ERASURE).one()
        erasure_id, due = erasure.id, erasure.deadline
    due_text = f"{due.day} {due:%B %Y}"
    expect(customer_page.get_by_text(f"You will have our answer by {due_text}.")).to_be_visible()
    check()
    customer_context.close()

    # The DPO finds it in the queue and approves it.
    page = browser.new_context().new_page()
    page.set_default_timeout(10_000)
    _staff_sign_in(page, live_server, *_new_dpo(live_server))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Data-subject requests")
    assert_no_axe_violations(page)
    page.get_by_role("link", name=re.compile(rf"^{str(erasure_id)[:8]}")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Erasure (Art. 17) request")
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Approve and erase").click()
    expect(page.get_by_text("Approved: the request is now completed.")).to_be_visible()
    assert_no_axe_violations(page)
    page.context.close()

    # The customer's data cannot be read any more.
    with live_server.app.app_context():
        erased = db.session.get(Customer, customer_id)
        assert erased.status == CustomerStatus.ERASED and erased.email is None
        assert customers.find_by_email(email) is None
        assert check_consent(customer_id, "marketing-email").status == "erased"
        assert db.session.get(DataSubjectRequest, erasure_id).status == RequestStatus.COMPLETED
    raw = _raw_database(live_server)
    assert email.encode() not in raw and marker.encode() not in raw

    # Every mail arrived at the SMTP server: sign-in link, the access request
    # answered, the erasure acknowledged with its date, and its completion.
    messages = smtp_inbox.wait_for(email, 4)
    subjects = [m["Subject"] for m in messages]
    assert subjects == ["Your sign-in link for the privacy portal",
                        "Your request has been answered", "We have received your request",
                        "Your request has been answered"]
    assert due_text in messages[2].get_payload(decode=True).decode()
    assert "We have erased your data." in messages[3].get_payload(decode=True).decode()
