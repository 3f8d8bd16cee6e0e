"""Staff sign-in: password, then an authenticator code; enrolment; failures on the record."""

from __future__ import annotations

import time

import pyotp
import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.staff import accounts, signin
from consentmgr.unit_of_work import unit_of_work
from tests.conftest import TEST_ACTOR


def _entries(db, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.sequence)))


def test_the_right_email_and_password_pass_the_first_step(db, create_staff_user):
    login = create_staff_user("agent")

    user = signin.authenticate(login.email.upper(), login.password)

    assert str(user.id) == login.id


def test_unknown_email_and_wrong_password_fail_alike(db, create_staff_user):
    login = create_staff_user("agent")

    with pytest.raises(signin.SignInFailed) as unknown:
        signin.authenticate("nobody@staff.example", login.password)
    with pytest.raises(signin.SignInFailed) as wrong:
        signin.authenticate(login.email, "not the password at all")

    assert str(unknown.value) == str(wrong.value)


def test_failed_sign_ins_are_audited_without_the_typed_email(db, create_staff_user):
    login = create_staff_user("agent")
    for email, password in (("typed.unknown@staff.example", "whatever it is"),
                            (login.email, "not the password at all")):
        with pytest.raises(signin.SignInFailed):
            signin.authenticate(email, password, client_address="198.51.100.7")
    db.session.commit()

    unknown, wrong = _entries(db, actions.STAFF_SIGN_IN_FAILED)
    assert (unknown.actor_type, unknown.actor_id, unknown.outcome) == ("anonymous", "anonymous",
                                                                      actions.FAILURE)
    assert (wrong.actor_type, wrong.actor_id, wrong.outcome) == ("staff", login.id, actions.FAILURE)
    assert wrong.details == {"step": "password", "reason": "wrong-password"}
    text = repr([unknown.as_record(), wrong.as_record()]).lower()
    assert "typed.unknown" not in text and login.email not in text and "198.51.100.7" not in text


def test_an_unknown_email_still_costs_a_password_verification(db, monkeypatch):
    real, calls = accounts.password_hasher, []

    class Spy:
        def verify(self, hashed, password):
            calls.append(hashed)
            return real.verify(hashed, password)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(accounts, "password_hasher", Spy())

    with pytest.raises(signin.SignInFailed):
        signin.authenticate("nobody@staff.example", "some password here")

    assert calls == [signin._dummy_hash()]


def test_a_deactivated_account_cannot_sign_in_even_with_the_right_password(db, create_staff_user):
    login = create_staff_user("agent")
    create_staff_user("admin")
    accounts.deactivate(accounts.get_staff(login.id), actor=TEST_ACTOR)
    db.session.commit()

    with pytest.raises(signin.SignInFailed):
        signin.authenticate(login.email, login.password)


def test_an_account_without_a_password_cannot_sign_in(db):
    accounts.create_staff("nopass@staff.example", "Nora Nopass", "agent", actor=TEST_ACTOR)
    db.session.commit()

    with pytest.raises(signin.SignInFailed):
        signin.authenticate("nopass@staff.example", "")


def test_the_current_code_completes_the_sign_in_and_is_audited(db, create_staff_user):
    login = create_staff_user("dpo")
    user = accounts.get_staff(login.id)

    signin.verify_totp(user, login.code(), client_address="203.0.113.9")
    db.session.commit()

    [entry] = _entries(db, actions.STAFF_SIGN_IN)
    assert (entry.actor_id, entry.actor_role, entry.outcome) == (login.id, "dpo", actions.SUCCESS)
    assert user.last_sign_in_at is not None


def test_a_code_cannot_be_used_twice(db, create_staff_user):
    login = create_staff_user("agent")
    user = accounts.get_staff(login.id)
    code = login.code()
    signin.verify_totp(user, code)

    with pytest.raises(signin.InvalidCode):
        signin.verify_totp(user, code)


def test_the_previous_code_is_accepted_for_clock_drift_but_not_older_ones(db, create_staff_user):
    login = create_staff_user("agent")
    user = accounts.get_staff(login.id)
    with pytest.raises(signin.InvalidCode):
        signin.verify_totp(user, login.code(time.time() - 90))
    signin.verify_totp(user, login.code(time.time() - 30))


def test_a_wrong_code_is_refused_and_audited_as_a_failure(db, create_staff_user):
    login = create_staff_user("agent")
    user = accounts.get_staff(login.id)
    wrong = f"{(int(login.code()) + 1) % 1_000_000:06d}"

    with pytest.raises(signin.InvalidCode):
        signin.verify_totp(user, wrong)
    db.session.commit()

    [entry] = _entries(db, actions.STAFF_SIGN_IN_FAILED)
    assert entry.details == {"step": "totp"} and entry.actor_id == login.id
    assert _entries(db, actions.STAFF_SIGN_IN) == []


def test_enrolment_is_confirmed_by_a_code_from_the_new_secret(db, create_staff_user):
    login = create_staff_user("agent", enrolled=False)
    user = accounts.get_staff(login.id)
    enrolment = signin.start_totp_enrolment(user)
    assert enrolment.uri.startswith("otpauth://totp/")
    assert f"secret={enrolment.secret}" in enrolment.uri

    with pytest.raises(signin.InvalidCode):
        signin.enrol_totp(user, "000000" if pyotp.TOTP(enrolment.secret).now() != "000000"
                            else "111111")
    assert not user.totp_enrolled
    signin.enrol_totp(user, pyotp.TOTP(enrolment.secret).now())

    assert user.totp_enrolled
    assert [e.action for e in _entries(db, actions.STAFF_SIGN_IN)] == [actions.STAFF_SIGN_IN]


def test_the_enrolment_secret_stays_the_same_until_confirmed(db, create_staff_user):
    user = accounts.get_staff(create_staff_user("agent", enrolled=False).id)

    assert signin.start_totp_enrolment(user).secret == signin.start_totp_enrolment(user).secret


def test_a_failed_password_step_keeps_its_audit_entry_when_the_unit_of_work_ends(
        db, create_staff_user):
    login = create_staff_user("agent")

    with pytest.raises(signin.SignInFailed), unit_of_work():
        signin.authenticate(login.email, "not the password at all")
    db.session.rollback()  # what was not committed would go now

    assert [e.actor_id for e in _entries(db, actions.STAFF_SIGN_IN_FAILED)] == [login.id]


def test_a_wrong_code_keeps_its_audit_entry_when_the_unit_of_work_ends(db, create_staff_user):
    login = create_staff_user("agent")
    user = accounts.get_staff(login.id)

    with pytest.raises(signin.InvalidCode), unit_of_work():
        signin.verify_totp(user, "000000" if login.code() != "000000" else "111111")
    db.session.rollback()

    assert [e.details["step"] for e in _entries(db, actions.STAFF_SIGN_IN_FAILED)] == ["totp"]
