"""Staff accounts: creation, one-time password links, roles, deactivation."""

from __future__ import annotations

import datetime as dt
import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.errors import ValidationFailed
from consentmgr.staff import accounts, signin
from consentmgr.staff.models import PasswordToken, StaffRole, StaffUser
from tests.conftest import TEST_ACTOR


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


def _entries(db, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.sequence)))

# ------------------------------------------------------------ creating


def test_creating_an_account_returns_a_one_time_link_under_the_base_url(db, app):
    user, link = accounts.create_staff("new.agent@staff.example", "Nia New", "agent",
                                       actor=TEST_ACTOR)
    db.session.commit()

    base = app.extensions["consentmgr"].settings.base_url
    assert link.startswith(f"{base}/staff/set-password/")
    assert len(_token(link)) >= 40
    assert user.password_hash is None and user.active and not user.totp_enrolled


def test_email_name_and_totp_secret_are_stored_only_encrypted(db):
    user, _ = accounts.create_staff("Marker.Mrk42@staff.example", "MRK42 STAFFNAME", "dpo",
                                    actor=TEST_ACTOR)
    secret = signin.start_totp_enrolment(user).secret
    db.session.commit()

    with db.engine.connect() as conn:
        raw = [repr(tuple(row)).lower() for row in conn.execute(sa.select(StaffUser.__table__))]
    assert len(raw) == 1
    for value in ("marker.mrk42@staff.example", "mrk42 staffname", secret.lower()):
        assert value not in raw[0]
    db.session.expire_all()
    assert accounts.find_staff_by_email("marker.mrk42@staff.example").display_name == "MRK42 STAFFNAME"


def test_staff_emails_have_their_own_index_key_not_the_customers(db, create_customer):
    customer = create_customer(email="shared@example.org")
    user, _ = accounts.create_staff("shared@example.org", "Sam Shared", "agent", actor=TEST_ACTOR)
    db.session.commit()

    assert user.email_index != customer.email_index


def test_an_address_already_in_use_is_refused_whatever_its_case(db):
    accounts.create_staff("taken@staff.example", "First", "agent", actor=TEST_ACTOR)
    db.session.commit()

    with pytest.raises(ValidationFailed) as refused:
        accounts.create_staff(" TAKEN@Staff.Example ", "Second", "agent", actor=TEST_ACTOR)
    assert "already exists" in refused.value.errors["email"][0]


def test_bad_input_names_every_problem_and_creates_nothing(db):
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_staff("not-an-address", "  ", "superuser", actor=TEST_ACTOR)
    db.session.rollback()

    assert set(refused.value.errors) == {"email", "display_name", "role"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 0


def test_creation_is_audited_with_the_new_id_and_role_only(db):
    user, _ = accounts.create_staff("audited@staff.example", "Audrey Audit", "admin",
                                    actor=TEST_ACTOR)
    db.session.commit()

    [entry] = _entries(db, actions.STAFF_CREATED)
    assert entry.details == {"staff_id": str(user.id), "role": "admin"}
    assert "audited" not in repr(entry.as_record()).lower()


# ------------------------------------------------------- password links


def test_a_password_link_sets_the_password_once(db):
    _, link = accounts.create_staff("once@staff.example", "Olly Once", "agent", actor=TEST_ACTOR)
    accounts.set_password(_token(link), "a long enough password")
    db.session.commit()

    with pytest.raises(accounts.PasswordLinkInvalid):
        accounts.set_password(_token(link), "another long password")


def test_the_password_is_stored_as_an_argon2id_hash(db):
    user, link = accounts.create_staff("hash@staff.example", "Hal Hash", "agent", actor=TEST_ACTOR)
    accounts.set_password(_token(link), "a long enough password")

    assert user.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in user.password_hash


def test_a_password_link_expires_after_48_hours(db):
    _, link = accounts.create_staff("late@staff.example", "Lee Late", "agent", actor=TEST_ACTOR)
    db.session.execute(sa.update(PasswordToken).values(
        expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    db.session.commit()

    with pytest.raises(accounts.PasswordLinkInvalid):
        accounts.check_password_link(_token(link))


def test_a_short_password_is_refused_and_the_link_still_works(db):
    _, link = accounts.create_staff("short@staff.example", "Shay Short", "agent", actor=TEST_ACTOR)
    db.session.commit()
    with pytest.raises(ValidationFailed) as refused:
        accounts.set_password(_token(link), "too short")
    db.session.rollback()

    assert "12 characters" in refused.value.errors["password"][0]
    assert accounts.set_password(_token(link), "now long enough, surely").password_hash


def test_only_the_newest_password_link_works(db):
    user, first = accounts.create_staff("newest@staff.example", "Ned Newest", "agent",
                                        actor=TEST_ACTOR)
    second = accounts.issue_password_link(user, actor=TEST_ACTOR)
    db.session.commit()

    with pytest.raises(accounts.PasswordLinkInvalid):
        accounts.check_password_link(_token(first))
    assert accounts.check_password_link(_token(second)).id == user.id


# --------------------------------------------------------------- roles


def test_a_role_change_is_audited_with_the_old_and_new_role(db, create_staff_user):
    login = create_staff_user("agent")
    accounts.change_role(accounts.get_staff(login.id), "dpo", actor=TEST_ACTOR)
    db.session.commit()

    [entry] = _entries(db, actions.STAFF_ROLE_CHANGED)
    assert entry.details == {"staff_id": login.id, "from": "agent", "to": "dpo"}
    assert accounts.get_staff(login.id).role == StaffRole.DPO


def test_the_last_administrator_can_be_neither_demoted_nor_deactivated(db, create_staff_user):
    admin = accounts.get_staff(create_staff_user("admin").id)

    with pytest.raises(accounts.LastAdministrator):
        accounts.change_role(admin, "agent", actor=TEST_ACTOR)
    with pytest.raises(accounts.LastAdministrator):
        accounts.deactivate(admin, actor=TEST_ACTOR)
    create_staff_user("admin")
    accounts.deactivate(admin, actor=TEST_ACTOR)
    assert not admin.active


def test_deactivation_is_audited_and_voids_unused_password_links(db, create_staff_user):
    user, link = accounts.create_staff("leaver@staff.example", "Lou Leaver", "agent",
                                       actor=TEST_ACTOR)
    accounts.deactivate(user, actor=TEST_ACTOR)
    db.session.commit()

    [entry] = _entries(db, actions.STAFF_DEACTIVATED)
    assert entry.details == {"staff_id": str(user.id)}
    with pytest.raises(accounts.PasswordLinkInvalid):
        accounts.check_password_link(_token(link))
