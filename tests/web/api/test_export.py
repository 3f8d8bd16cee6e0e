"""GET /api/v1/customers/<id>/export: the customer's data as a ZIP, recorded before it is sent."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from tests.conftest import TEST_ACTOR
from tests.web.api.conftest import assert_problem


def _exports(db) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == actions.CUSTOMER_EXPORTED)))


def test_the_export_is_a_zip_holding_the_customers_values(client, bearer, policy, create_customer):
    customer = create_customer(name="Export Example")
    response = client.get(f"/api/v1/customers/{customer.id}/export", headers=bearer)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/zip"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and str(customer.id) in disposition
    assert customer.email not in disposition  # the file name holds nothing personal
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert {"data.json", "README.txt", "history.csv", "consent_events.csv",
            "access_log.csv", "requests.csv"} <= set(archive.namelist())
    data = archive.read("data.json").decode()
    assert customer.email in data and "Export Example" in data
    assert json.loads(data)


def test_the_export_is_streamed(client, bearer, policy, create_customer):
    customer = create_customer()
    response = client.get(f"/api/v1/customers/{customer.id}/export", headers=bearer)
    # A streamed body's length is not known when the headers go out.
    assert response.status_code == 200 and "Content-Length" not in response.headers


def test_the_export_is_recorded_with_the_client_as_actor(client, db, create_api_client, policy,
                                                         create_customer):
    customer = create_customer()
    api_client, key = create_api_client(scopes=["customers:export"], name="dpo-tool")
    client.get(f"/api/v1/customers/{customer.id}/export",
               headers={"Authorization": f"Bearer {key}"})
    [entry] = _exports(db)
    assert (entry.actor_type, entry.actor_id) == ("api-client", str(api_client.id))
    assert entry.subject_id == customer.id and entry.details["channel"] == "api"


def test_the_export_needs_the_customers_export_scope(client, db, create_api_client,
                                                     create_customer):
    customer = create_customer()
    _, key = create_api_client(scopes=["customers:read", "requests:read"])
    response = client.get(f"/api/v1/customers/{customer.id}/export",
                          headers={"Authorization": f"Bearer {key}"})
    assert_problem(response, 403, "insufficient-scope")
    assert _exports(db) == []


def test_exporting_an_unknown_customer_is_404(client, db, bearer):
    assert_problem(client.get(f"/api/v1/customers/{uuid.uuid4()}/export", headers=bearer), 404)
    assert _exports(db) == []


def test_exporting_an_erased_customer_is_409_and_not_recorded(client, db, bearer,
                                                              create_customer):
    from consentmgr.customers.services import erase_customer

    customer = create_customer()
    erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()
    assert_problem(client.get(f"/api/v1/customers/{customer.id}/export", headers=bearer),
                   409, "conflict")
    assert _exports(db) == []
