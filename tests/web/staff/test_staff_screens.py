"""The staff screens: masked by default, reveals with a reason, consent by phone, audit, admin."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.apiclients.services import authenticate, list_clients
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.audit.services import record
from consentmgr.consent.models import ConsentEvent
from consentmgr.staff import services
from consentmgr.web.staff import audit_log, customers
from tests.fixtures.audit import sequence_audit
from tests.fixtures.staff import (  # noqa: F401
    create_staff_user,
    csrf_token,
    sign_in_as,
)

PERSON = {"email": "ada.example@example.org", "name": "Ada Example", "phone": "+44 20 7946 0958",
          "postal_address": "1 Example Street\nLondon", "date_of_birth": "1985-04-12"}
CLEAR_VALUES = ("ada.example@example.org", "Ada Example", "7946 0958", "Example Street", "1985")
REASON = {"reason_code": "customer-request",
          "justification": "Caller asked to confirm the number we hold"}


def _post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client), **data})


def _entries(db, action: str | None = None) -> list[AuditEntry]:
    db.session.expire_all()
    query = sa.select(AuditEntry).order_by(AuditEntry.sequence)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


@pytest.fixture
def agent(client, create_staff_user):
    """A signed-in agent (the client carries the session)."""
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login)
    return login


@pytest.fixture
def ada(create_customer):
    return create_customer(**PERSON)


# ------------------------------------------------------- masked by default


def test_a_search_result_is_masked(client, agent, ada):
    response = _post(client, "/staff/customers", query="ADA.example@example.org")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "a•••@e•••.org" in html and "A. E." in html and "+44 •••• ••58" in html
    assert not [value for value in CLEAR_VALUES if value in html]
    assert f"/staff/customers/{ada.id}" in html


def test_a_search_for_nobody_says_so(client, agent):
    response = _post(client, "/staff/customers", query="nobody@example.org")

    assert response.status_code == 200 and "No customer has that email address" in \
        response.get_data(as_text=True)


def test_a_search_term_that_is_neither_email_nor_id_is_explained(client, agent):
    response = _post(client, "/staff/customers", query="Ada Example")

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'aria-describedby="query-hint query-error"' in html
    assert "exact email address or their customer id" in html


def test_the_record_is_masked_and_its_opening_audited(client, db, agent, ada):
    response = client.get(f"/staff/customers/{ada.id}")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert not [value for value in CLEAR_VALUES if value in html]
    assert "••••-04-12" in html and "•••, L•••" in html
    [entry] = _entries(db, actions.CUSTOMER_VIEW)
    assert (entry.subject_id, entry.actor_id, entry.actor_role) == (ada.id, agent.id, "agent")


@pytest.mark.parametrize("path", ["/staff/customers/{id}", "/staff/customers/{id}/reveal/phone",
                                  "/staff/customers/{id}/consent"])
def test_pages_with_personal_data_are_never_cached(client, agent, ada, path):
    response = client.get(path.format(id=ada.id))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_an_unknown_customer_id_is_a_plain_404(client, agent):
    assert client.get(f"/staff/customers/{uuid.uuid4()}").status_code == 404
    assert client.get("/staff/customers/not-an-id").status_code == 404


# ---------------------------------------------------------------- reveal


def test_a_reveal_with_a_reason_shows_the_value_for_that_page_only(client, db, agent, ada):
    revealed = _post(client, f"/staff/customers/{ada.id}/reveal/phone", **REASON)

    assert revealed.status_code == 200
    assert "+44 20 7946 0958" in revealed.get_data(as_text=True)
    assert revealed.headers["Cache-Control"] == "no-store"
    again = client.get(f"/staff/customers/{ada.id}").get_data(as_text=True)
    assert "7946 0958" not in again and "+44 •••• ••58" in again
    [entry] = _entries(db, actions.CUSTOMER_REVEAL)
    assert (entry.outcome, entry.fields, entry.reason_code, entry.justification) == (
        actions.SUCCESS, ["phone"], "customer-request", REASON["justification"])


def test_a_reveal_without_a_reason_is_refused_and_audited_as_denied(client, db, agent, ada):
    response = _post(client, f"/staff/customers/{ada.id}/reveal/phone")

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "7946 0958" not in html
    assert 'aria-describedby="reason_code-error"' in html
    assert 'aria-describedby="justification-hint justification-error"' in html
    entries = _entries(db, actions.CUSTOMER_REVEAL)
    assert [e.outcome for e in entries] == [actions.DENIED]
    assert entries[0].fields == ["phone"] and entries[0].subject_id == ada.id


def test_a_support_ticket_reveal_without_a_ticket_is_refused(client, db, agent, ada):
    response = _post(client, f"/staff/customers/{ada.id}/reveal/email",
                     reason_code="support-ticket", justification="Customer called about an order")

    assert response.status_code == 422
    assert "Enter the support ticket" in response.get_data(as_text=True)
    assert [e.outcome for e in _entries(db, actions.CUSTOMER_REVEAL)] == [actions.DENIED]


def test_a_reveal_commits_its_audit_entry_before_the_value_is_returned(client, db, agent, ada,
                                                                       monkeypatch):
    seen_from_elsewhere = []
    real_render = customers.render_template

    def render(template, **context):
        if template == "staff/revealed.html":
            # A separate connection sees only committed rows.
            with db.engine.connect() as other:
                seen_from_elsewhere.append(other.execute(
                    sa.select(AuditEntry.outcome, AuditEntry.fields)
                    .where(AuditEntry.action == actions.CUSTOMER_REVEAL)).all())
        return real_render(template, **context)

    monkeypatch.setattr(customers, "render_template", render)
    response = _post(client, f"/staff/customers/{ada.id}/reveal/phone", **REASON)

    assert response.status_code == 200
    assert seen_from_elsewhere == [[(actions.SUCCESS, ["phone"])]]


def test_an_unknown_field_cannot_be_revealed(client, agent, ada):
    assert client.get(f"/staff/customers/{ada.id}/reveal/password").status_code == 404


@pytest.mark.parametrize("path", ["/staff/sign-in", "/staff/customers",
                                  "/staff/customers/{id}/reveal/phone", "/staff/sign-out"])
def test_every_form_needs_its_csrf_token(client, db, agent, ada, path):
    response = client.post(path.format(id=ada.id), data={**REASON, "query": PERSON["email"]})

    assert response.status_code == 400
    assert _entries(db, actions.CUSTOMER_REVEAL) == []
    assert _entries(db, actions.CUSTOMER_SEARCH) == []


# --------------------------------------------------------------- consent


def test_consent_given_by_phone_is_recorded_as_staff_with_the_note(client, db, agent, ada,
                                                                    publish_policy_files):
    publish_policy_files()
    page = client.get(f"/staff/customers/{ada.id}/consent")
    assert page.status_code == 200 and 'name="marketing-email-note"' in page.get_data(as_text=True)

    response = _post(client, f"/staff/customers/{ada.id}/consent/marketing-email",
                     **{"marketing-email-action": "grant",
                        "marketing-email-note": "Phone call on the support line, SUP-4711"})

    assert response.status_code == 302
    db.session.expire_all()
    [event] = db.session.scalars(sa.select(ConsentEvent)).all()
    assert (event.purpose, event.action.value, event.channel.value) == (
        "marketing-email", "granted", "staff")
    assert (event.actor_type, event.actor_id) == ("staff", agent.id)
    assert event.note == "Phone call on the support line, SUP-4711"


def test_withdrawing_by_phone_takes_the_same_one_form(client, db, agent, ada,
                                                      publish_policy_files):
    publish_policy_files()
    for action in ("grant", "withdraw"):
        response = _post(client, f"/staff/customers/{ada.id}/consent/marketing-email",
                         **{"marketing-email-action": action,
                            "marketing-email-note": "Customer phoned the support line"})
        assert response.status_code == 302

    db.session.expire_all()
    assert [e.action.value for e in db.session.scalars(
        sa.select(ConsentEvent).order_by(ConsentEvent.audit_entry_id))] == ["granted", "withdrawn"]


def test_consent_without_an_evidence_note_is_refused_and_changes_nothing(client, db, agent, ada,
                                                                          publish_policy_files):
    publish_policy_files()

    response = _post(client, f"/staff/customers/{ada.id}/consent/marketing-email",
                     **{"marketing-email-action": "grant"})

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="marketing-email-note-error"' in html and "Describe how the customer told you" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) == 0


def test_consent_for_a_purpose_not_based_on_consent_is_explained(client, db, agent, ada,
                                                                  publish_policy_files):
    publish_policy_files()

    response = _post(client, f"/staff/customers/{ada.id}/consent/accounting",
                     **{"accounting-action": "grant", "accounting-note": "Customer phoned us"})

    assert response.status_code == 422
    assert "not consent" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) == 0


# ---------------------------------------------------------- audit browser


def _seed_trail(db, count: int = 3) -> tuple[Actor, uuid.UUID]:
    actor = Actor("staff", str(uuid.uuid4()), "agent")
    subject = uuid.uuid4()
    for number in range(count):
        record(actions.CUSTOMER_VIEW, actor=actor, subject_id=subject)
    record(actions.CUSTOMER_REVEAL, actor=actor, subject_id=subject, fields=["phone"],
           reason_code="customer-request", justification="=HYPERLINK(\"x\") typed by staff")
    record(actions.CUSTOMER_VIEW, actor=Actor("staff", str(uuid.uuid4()), "dpo"),
           subject_id=uuid.uuid4())
    sequence_audit(db)
    return actor, subject


def test_the_audit_browser_shows_the_chain_is_intact(client, db, dpo):
    _seed_trail(db)

    html = client.get("/staff/audit").get_data(as_text=True)

    assert "Chain verified." in html and re.search(r"Audit trail intact: \d+ entries", html)


def test_the_audit_browser_shows_a_broken_chain_with_the_first_bad_entry(client, db, dpo):
    _seed_trail(db)
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text("UPDATE audit_entries SET justification = 'edited' "
                             "WHERE sequence = 4"))

    html = client.get("/staff/audit").get_data(as_text=True)

    assert "Chain NOT intact." in html and "first bad sequence 4" in html


def test_the_audit_browser_filters_by_actor_customer_and_action(client, db, dpo):
    actor, subject = _seed_trail(db)

    by_actor = client.get(f"/staff/audit?actor={actor.id}").get_data(as_text=True)
    by_both = client.get(f"/staff/audit?customer={subject}&action=customer.reveal")

    assert "5 matching entries" not in by_actor and "4 matching entries" in by_actor
    assert "1 matching entry" in by_both.get_data(as_text=True)


def test_the_audit_browser_filters_by_date(client, db, dpo):
    _seed_trail(db)

    past = client.get("/staff/audit?since=2001-01-01&until=2001-12-31").get_data(as_text=True)

    assert "0 matching entries" in past


def test_a_bad_filter_is_explained_next_to_its_input(client, db, dpo):
    response = client.get("/staff/audit?customer=not-a-uuid&since=2026-02-30")

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="since-error"' in html


def test_a_malformed_customer_filter_is_explained(client, db, dpo):
    response = client.get("/staff/audit?customer=not-a-uuid")

    assert response.status_code == 422
    assert 'id="customer-error"' in response.get_data(as_text=True)


def test_the_audit_browser_pages_through_many_entries(client, db, dpo):
    actor = Actor("staff", str(uuid.uuid4()), "agent")
    for _ in range(55):
        record(actions.CUSTOMER_SEARCH, actor=actor, details={"by": "id", "found": False})
    db.session.commit()

    first = client.get(f"/staff/audit?actor={actor.id}").get_data(as_text=True)
    second = client.get(f"/staff/audit?actor={actor.id}&page=2").get_data(as_text=True)

    assert "page 1 of 2" in first and "Older entries" in first
    assert "page 2 of 2" in second and second.count("<td>customer.search</td>") == 5


def test_the_csv_export_holds_the_filtered_entries_safely(client, db, dpo):
    actor, subject = _seed_trail(db)

    response = client.get(f"/staff/audit.csv?actor={actor.id}")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["action"] for row in rows] == [actions.CUSTOMER_REVEAL] + [actions.CUSTOMER_VIEW] * 3
    assert {row["actor_id"] for row in rows} == {actor.id}
    assert rows[0]["fields"] == "phone" and rows[0]["subject_id"] == str(subject)
    # Free text cannot run as a spreadsheet formula.
    assert rows[0]["justification"] == "'=HYPERLINK(\"x\") typed by staff"
    exported = _entries(db, actions.AUDIT_EXPORTED)
    assert [e.actor_id for e in exported] == [dpo.id]


def test_the_csv_export_covers_every_page(client, db, dpo, monkeypatch):
    monkeypatch.setattr(audit_log, "EXPORT_BATCH", 2)
    actor = Actor("staff", str(uuid.uuid4()), "agent")
    for _ in range(5):
        record(actions.CUSTOMER_SEARCH, actor=actor, details={"by": "id", "found": False})
    sequence_audit(db)

    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/staff/audit.csv?actor={actor.id}").get_data(as_text=True))))

    assert len(rows) == 5 and len({row["sequence"] for row in rows}) == 5


# ------------------------------------------------------------------ admin


@pytest.fixture
def admin(client, create_staff_user):
    login = create_staff_user("admin", password=None)
    sign_in_as(client, login)
    return login


def test_an_admin_creates_an_account_and_sees_its_link_once(client, db, admin):
    response = _post(client, "/staff/admin/staff/new", email="new.colleague@staff.example",
                     display_name="Nico New", role="dpo")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    link = re.search(r'id="password-link">([^<]+)<', html).group(1)
    assert services.check_password_link(link.rsplit("/", 1)[1]).role.value == "dpo"
    assert link not in client.get("/staff/admin/staff").get_data(as_text=True)


def test_creating_an_account_with_bad_input_explains_each_field(client, db, admin):
    response = _post(client, "/staff/admin/staff/new", email="nope", display_name="", role="boss")

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="email-error"' in html and 'id="display_name-error"' in html
    assert 'id="role-error"' in html


def test_an_admin_changes_a_role(client, db, admin, create_staff_user):
    colleague = create_staff_user("agent", password=None)
    prefix = "s" + uuid.UUID(colleague.id).hex

    response = _post(client, f"/staff/admin/staff/{colleague.id}/role", **{f"{prefix}-role": "dpo"})

    assert response.status_code == 302
    db.session.expire_all()
    assert services.get_staff(colleague.id).role.value == "dpo"


def test_the_last_admin_cannot_demote_themselves(client, db, admin):
    prefix = "s" + uuid.UUID(admin.id).hex

    response = _post(client, f"/staff/admin/staff/{admin.id}/role", **{f"{prefix}-role": "agent"})

    assert response.status_code == 409
    assert "last active administrator" in response.get_data(as_text=True)


def test_an_admin_deactivates_a_colleague(client, db, admin, create_staff_user):
    colleague = create_staff_user("agent", password=None)

    response = _post(client, f"/staff/admin/staff/{colleague.id}/deactivate")

    assert response.status_code == 302
    db.session.expire_all()
    assert not services.get_staff(colleague.id).active


def test_an_admin_creates_an_api_client_and_sees_its_key_once(client, db, admin):
    response = _post(client, "/staff/admin/api-clients", name="shop",
                     scopes=["consent:read", "customers:read"])

    key = re.search(r'id="api-key">([^<]+)<', response.get_data(as_text=True)).group(1)
    assert authenticate(key).scopes == {"consent:read", "customers:read"}
    assert key not in client.get("/staff/admin/api-clients").get_data(as_text=True)
    [client_row] = list_clients()
    revoked = _post(client, f"/staff/admin/api-clients/{client_row.id}/revoke")
    assert revoked.status_code == 302
    db.session.expire_all()
    assert list_clients()[0].revoked_at is not None


def test_an_api_client_without_scopes_is_explained(client, db, admin):
    response = _post(client, "/staff/admin/api-clients", name="shop")

    assert response.status_code == 422
    assert 'id="scopes-error"' in response.get_data(as_text=True)


# ------------------------------------------------- no personal data in audit


def test_the_staff_screens_put_no_personal_data_in_the_audit_trail(app, client, db,
                                                                    create_customer,
                                                                    create_staff_user,
                                                                    publish_policy_files):
    tag = uuid.uuid4().hex[:10]
    m = {"email": f"mrk{tag}email@example.org", "name": f"MRK{tag} NAME",
         "phone": f"+44 {int(tag, 16) % 10**10:010d}", "postal_address": f"MRK{tag}STREET 1",
         "staff_email": f"mrk{tag}staff@staff.example", "staff_name": f"MRK{tag} STAFF",
         "typed": f"mrk{tag}typed@staff.example"}
    publish_policy_files()
    customer = create_customer(email=m["email"], name=m["name"], phone=m["phone"],
                               postal_address=m["postal_address"])
    login = create_staff_user("agent", email=m["staff_email"], name=m["staff_name"])

    _post(client, "/staff/sign-in", email=m["typed"], password="a guess at it")
    _post(client, "/staff/sign-in", email=m["staff_email"], password=login.password)
    _post(client, "/staff/sign-in/code", code=login.code())
    _post(client, "/staff/customers", query=m["email"])
    client.get(f"/staff/customers/{customer.id}")
    _post(client, f"/staff/customers/{customer.id}/reveal/phone")
    _post(client, f"/staff/customers/{customer.id}/reveal/phone", reason_code="customer-request",
          justification=f"Asked by {m['name']} on the phone")
    _post(client, f"/staff/customers/{customer.id}/reveal/phone", **REASON)
    _post(client, f"/staff/customers/{customer.id}/consent/marketing-email",
          **{"marketing-email-action": "grant", "marketing-email-note": f"Call from {m['name']}"})
    _post(client, "/staff/sign-out")

    rows = [repr(tuple(row)).lower() for row in db.session.execute(sa.select(AuditEntry.__table__))]
    found = [name for name, value in m.items() for row in rows if value.lower() in row]
    assert found == []
    # The scan can fail: the trail does name the customer and the staff member, by id.
    assert sum(str(customer.id) in row for row in rows) >= 5
    assert sum(login.id in row for row in rows) >= 5
