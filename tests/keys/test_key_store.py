"""The key store in a database of its own (``CONSENTMGR_KEYS_DATABASE_URL``)."""

from __future__ import annotations

import sqlalchemy as sa

from consentmgr import create_app
from consentmgr.customers.models import Customer
from consentmgr.extensions import db as _db
from tests.conftest import base_config


def test_keys_in_a_separate_database_are_written_and_read_there(tmp_path):
    from flask_migrate import upgrade

    main_url = f"sqlite:///{tmp_path / 'main.db'}"
    keys_url = f"sqlite:///{tmp_path / 'keys.db'}"
    app = create_app(base_config(main_url, str(tmp_path), CONSENTMGR_KEYS_DATABASE_URL=keys_url))
    with app.app_context():
        upgrade()
        customers = []
        for n in range(3):
            customer = Customer(status="active")
            customer.email = f"c{n}@example.org"
            _db.session.add(customer)
            customers.append(customer)
        ids = [c.id for c in customers]
        _db.session.commit()
        _db.session.expunge_all()
        emails = sorted(c.email for c in _db.session.scalars(sa.select(Customer)).all())
        _db.session.remove()
        main_tables = sa.inspect(_db.engines[None]).get_table_names()
        with _db.engines["keys"].connect() as conn:
            owners = {row.owner_id for row in conn.execute(sa.text("SELECT owner_id FROM data_keys"))}
        for engine in _db.engines.values():
            engine.dispose()
    assert emails == ["c0@example.org", "c1@example.org", "c2@example.org"]
    assert "data_keys" not in main_tables
    assert owners == {i.hex for i in ids}
