"""The customer's requests: download my data, file, follow and withdraw requests in the portal."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile

import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.consent.services import check_consent
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.requests.models import DataSubjectRequest, RequestStatus, RequestType
from consentmgr.requests.services import file_request, refuse_request
from tests.conftest import TEST_ACTOR
from tests.web.portal.conftest import csrf_from, post_form

REQUESTS = "/portal/requests"


def page_text(client, path: str = REQUESTS) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def stored(db) -> list[DataSubjectRequest]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(DataSubjectRequest)))


def file(client, **data):
    return post_form(client, REQUESTS, data=data)


def unzip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


# ------------------------------------------------------------------ download my data


def test_my_data_offers_the_download_and_links_to_requests_instead_of_an_email(client,
                                                                              signed_in):
    page = page_text(client, "/portal/")

    assert 'action="/portal/download"' in page and "Download my data" in page
    assert 'href="/portal/requests#erase-heading"' in page
    assert "mailto:privacy@" not in page.split("Your rights")[1].split("Questions")[0]


def test_the_navigation_has_my_requests(client, signed_in):
    page = page_text(client, "/portal/")

    assert re.search(r'<a href="/portal/requests"[^>]*>My requests</a>', page)


def test_download_is_one_click_answering_a_zip_attachment_with_the_customers_values(
        client, db, signed_in):
    response = post_form(client, "/portal/", "/portal/download")

    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and str(signed_in.id) in disposition
    archive = unzip(response)
    data = json.loads(archive.read("data.json"))
    assert "ada@example.org" in json.dumps(data) and "Ada Lovelace" in json.dumps(data)
    assert {"README.txt", "history.csv", "requests.csv"} <= set(archive.namelist())


def test_download_is_recorded_as_a_completed_access_request_and_an_export(client, db,
                                                                          signed_in):
    post_form(client, "/portal/", "/portal/download")

    [req] = stored(db)
    assert (req.type, req.status, req.channel) == (RequestType.ACCESS, RequestStatus.COMPLETED,
                                                   "portal")
    exported = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.CUSTOMER_EXPORTED))
    assert exported.subject_id == signed_in.id and exported.actor_type == "customer"


def test_download_without_a_csrf_token_is_refused_and_records_nothing(client, db, signed_in):
    response = client.post("/portal/download")

    assert response.status_code == 400
    assert stored(db) == []


def test_portability_from_the_form_hands_out_the_file_at_once(client, db, signed_in):
    response = file(client, type="portability")

    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "data.json" in unzip(response).namelist()
    assert [(r.type, r.status) for r in stored(db)] == [
        (RequestType.PORTABILITY, RequestStatus.COMPLETED)]


# ------------------------------------------------------------------ erasure


def test_the_erasure_statement_says_what_is_deleted_and_what_the_law_keeps(client, signed_in):
    page = page_text(client)
    erase = page.split('id="erase-heading"')[1].split('id="new-heading"')[0]

    assert "What we delete" in erase and "Contact details" in erase
    assert "What we keep, and why" in erase
    kept = erase.split("What we keep, and why")[1]
    assert "Orders and invoices" in kept and "Payment references" in kept
    assert "Contact details" not in kept
    assert 'action="/portal/requests/erasure"' in erase


def test_erasure_takes_two_clicks_and_the_page_shows_its_due_date(client, db, signed_in, mails):
    # Click one: "My requests" (the statement is on that page); click two: the button.
    response = post_form(client, REQUESTS, "/portal/requests/erasure")

    assert response.status_code == 302
    [req] = stored(db)
    assert (req.type, req.status) == (RequestType.ERASURE, RequestStatus.RECEIVED)
    page = page_text(client)
    due = f"{req.deadline.day} {req.deadline:%B %Y}"
    assert "You asked us to erase your data" in page and due in page
    assert "Ask us to erase my data" not in page  # one open erasure at a time
    [(to, _, body)] = mails
    assert to == "ada@example.org" and due in body


def test_a_second_erasure_request_is_refused_and_changes_nothing(client, db, signed_in):
    post_form(client, REQUESTS, "/portal/requests/erasure")

    response = file(client, type="erasure")

    assert response.status_code == 302
    assert "already an open erasure request" in page_text(client)
    assert len(stored(db)) == 1


# ------------------------------------------------------------------ the form


def test_an_unknown_type_is_refused_with_422_and_changes_nothing(client, db, signed_in):
    response = file(client, type="teleportation")

    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "There is a problem" in page and 'href="#type-0"' in page
    assert 'aria-describedby="type-hint type-error"' in page
    assert stored(db) == []


def test_an_objection_without_a_purpose_is_refused_with_422(client, db, signed_in):
    response = file(client, type="objection")

    assert response.status_code == 422
    assert 'aria-describedby="purpose-hint purpose-error"' in response.get_data(as_text=True)
    assert stored(db) == []


def test_too_long_a_note_is_refused_with_422(client, db, signed_in):
    response = file(client, type="rectification", notes="x" * 2001)

    assert response.status_code == 422
    assert stored(db) == []


def test_an_objection_to_a_legitimate_interest_stops_processing_and_awaits_the_dpo(
        client, db, signed_in):
    response = file(client, type="objection", purpose="analytics")

    assert response.status_code == 302
    [req] = stored(db)
    assert (req.status, req.purpose) == (RequestStatus.IN_PROGRESS, "analytics")
    assert check_consent(signed_in.id, "analytics").status == "objected"
    assert "In progress" in page_text(client)


def test_restriction_takes_effect_at_once(client, db, signed_in):
    file(client, type="restriction")

    [req] = stored(db)
    assert req.status == RequestStatus.COMPLETED
    assert db.session.get(Customer, signed_in.id).status == CustomerStatus.RESTRICTED
    assert "We keep your data but" in page_text(client) or "restricted" in page_text(client)


def test_a_rectification_keeps_the_note_for_staff(client, db, signed_in):
    file(client, type="rectification", notes="My order of 3 May went to the wrong address.")

    [req] = stored(db)
    assert req.status == RequestStatus.RECEIVED
    assert req.notes == "My order of 3 May went to the wrong address."
    page = page_text(client)
    assert "A correction" in page and "Received" in page


# ------------------------------------------------------------------ following and withdrawing


def test_each_request_shows_type_status_received_and_deadline(client, db, signed_in):
    req = file_request(signed_in, RequestType.ERASURE, actor=TEST_ACTOR, channel="staff")
    db.session.commit()

    page = page_text(client)
    row = page.split(f'id="request-{req.id}"')[1].split("</tr>")[0]

    assert "Erasure of your data" in row
    assert f"{req.received_at.day} {req.received_at:%B %Y}" in row
    assert f"{req.deadline.day} {req.deadline:%B %Y}" in row


def test_a_refusal_is_shown_in_plain_words_with_the_right_to_complain(client, db, signed_in):
    req = file_request(signed_in, RequestType.ERASURE, actor=TEST_ACTOR, channel="staff")
    refuse_request(req, actor=TEST_ACTOR, reason_code="legal-claims",
                   explanation="A court case about your order is pending.")
    db.session.commit()

    row = page_text(client).split(f'id="request-{req.id}"')[1].split("</tr>")[0]

    assert "Refused" in row and "defend legal claims" in row
    assert "A court case about your order is pending." in row
    assert "supervisory authority" in row and "your-right-to-complain" in row


def test_an_open_request_can_be_withdrawn(client, db, signed_in):
    post_form(client, REQUESTS, "/portal/requests/erasure")
    [req] = stored(db)

    response = post_form(client, REQUESTS, f"/portal/requests/{req.id}/withdraw")

    assert response.status_code == 302
    assert stored(db)[0].status == RequestStatus.WITHDRAWN
    assert "You have withdrawn your request" in page_text(client)


def test_a_closed_request_cannot_be_withdrawn(client, db, signed_in):
    post_form(client, "/portal/", "/portal/download")
    [req] = stored(db)

    response = post_form(client, REQUESTS, f"/portal/requests/{req.id}/withdraw")

    assert response.status_code == 302
    assert "can no longer be changed" in page_text(client)
    assert stored(db)[0].status == RequestStatus.COMPLETED


def test_another_customers_request_is_not_found(client, db, signed_in, create_customer):
    other = create_customer()
    theirs = file_request(other, RequestType.ERASURE, actor=TEST_ACTOR, channel="staff")
    db.session.commit()

    response = post_form(client, REQUESTS, f"/portal/requests/{theirs.id}/withdraw")

    assert response.status_code == 404
    assert stored(db)[0].status == RequestStatus.RECEIVED
    assert str(theirs.id) not in page_text(client)


def test_the_requests_page_needs_a_signed_in_customer(client, customer):
    response = client.get(REQUESTS)

    assert response.status_code == 302 and response.location.endswith("/portal/sign-in")


def test_the_request_form_has_labels_and_a_csrf_token(client, signed_in):
    page = page_text(client)

    form = page.split('action="/portal/requests"')[1].split("</form>")[0]
    assert csrf_from(form)
    assert "<legend>What would you like us to do?</legend>" in form
    assert '<label for="purpose">' in form and '<label for="notes">' in form


def test_a_download_leaves_no_database_connection_behind(client, db, signed_in):
    # The stream runs after the view's contexts are torn down: a session it
    # opened and never closed would hold a connection (and, on PostgreSQL,
    # locks) until garbage collection.
    response = post_form(client, "/portal/", "/portal/download")

    assert response.status_code == 200 and unzip(response).namelist()
    assert db.engine.pool.checkedout() == 0
