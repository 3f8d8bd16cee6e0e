"""External refs: found by a per-client blind index, given back decrypted, gone with erasure."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consentmgr.apiclients import external_refs
from consentmgr.apiclients.auth import AuthenticatedClient
from consentmgr.apiclients.models import ExternalRef
from consentmgr.apiclients.services import create_client, forget_customer
from consentmgr.crypto import DecryptionError
from consentmgr.customers.services import erase_customer
from tests.conftest import TEST_ACTOR


def _caller(db, name: str = "crm") -> AuthenticatedClient:
    client, _ = create_client(name, "customers:write", actor=TEST_ACTOR)
    db.session.commit()
    return AuthenticatedClient(id=client.id, name=client.name, key_prefix=client.key_prefix,
                               scopes=frozenset(client.scopes))


def _upsert(caller, ref, email="ref@example.org"):
    customer, _ = external_refs.upsert_customer(caller, {"email": email, "name": "Ref"},
                                                external_ref=ref)
    return customer


def test_a_customer_is_found_by_the_ref_its_client_gave(db):
    caller = _caller(db)
    customer = _upsert(caller, "CRM-000123")
    db.session.commit()
    assert external_refs.customer_by_external_ref(caller, "CRM-000123").id == customer.id
    assert external_refs.customer_by_external_ref(caller, "crm-000123") is None  # exact match
    assert external_refs.external_ref_of(caller, customer) == "CRM-000123"


def test_the_ref_is_stored_as_a_per_client_index_and_ciphertext_only(db):
    shop, crm = _caller(db, "shop"), _caller(db, "crm")
    _upsert(shop, "MRK-REF-9", "a@example.org")
    _upsert(crm, "MRK-REF-9", "b@example.org")
    db.session.commit()
    rows = db.session.execute(sa.select(ExternalRef.__table__)).all()
    assert len(rows) == 2
    assert all("MRK-REF-9" not in repr(tuple(row)) and b"MRK-REF-9" not in bytes(row.external_ref)
               for row in rows)
    # Per client: the same ref from two clients gives unrelated index values.
    assert rows[0].ref_index != rows[1].ref_index
    indexer = external_refs.external_ref_indexer()
    assert {row.ref_index for row in rows} == {
        indexer.compute(external_refs.indexed_text(c.id, "MRK-REF-9")) for c in (shop, crm)}


def test_another_client_does_not_find_a_customer_by_someone_elses_ref(db):
    shop, crm = _caller(db, "shop"), _caller(db, "crm")
    _upsert(shop, "42")
    db.session.commit()
    assert external_refs.customer_by_external_ref(crm, "42") is None


def test_forgetting_a_customer_deletes_every_clients_ref_to_them(db):
    shop, crm = _caller(db, "shop"), _caller(db, "crm")
    customer = _upsert(shop, "s-1")
    db.session.add(ExternalRef(client_id=crm.id, customer_id=customer.id, ref_index="idx1:x"))
    other = _upsert(shop, "s-2", "other@example.org")
    db.session.commit()
    forget_customer(customer.id)
    db.session.commit()
    assert [r.customer_id for r in db.session.scalars(sa.select(ExternalRef))] == [other.id]
    assert external_refs.customer_by_external_ref(shop, "s-1") is None


def test_a_ref_left_behind_an_erasure_could_not_be_read(db):
    """Crypto-shredding covers the ref too: it is encrypted under the customer's key."""
    caller = _caller(db)
    customer = _upsert(caller, "s-3")
    db.session.commit()
    erase_customer(customer, actor=TEST_ACTOR)  # the key only, not the erasure request's cleanup
    db.session.commit()
    ref = db.session.scalar(sa.select(ExternalRef))
    with pytest.raises(DecryptionError, match="destroyed"):
        _ = ref.external_ref
