"""Staff accounts: creation, one-time password links, two-step sign-in, roles."""

from __future__ import annotations

import datetime as dt
import uuid

import pyotp
import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.errors import ValidationFailed
from consentmgr.staff import services
from consentmgr.staff.models import PasswordToken, StaffRole, StaffUser
from tests.conftest import TEST_ACTOR


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


def _entries(db, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.sequence)))


# ------------------------------------------------------------ creating


def test_creating_an_account_returns_a_one_time_link_under_the_base_url(db, app):
    user, link = services.create_staff("new.agent@staff.example", "Nia New", "agent",
                                       actor=TEST_ACTOR)
    db.session.commit()

    base = app.extensions["consentmgr"].settings.base_url
    assert link.startswith(f"{base}/staff/set-password/")
    assert len(_token(link)) >= 40
    assert user.password_hash is None and user.active and not user.totp_enrolled


def test_email_name_and_totp_secret_are_stored_only_encrypted(db):
    user, _ = services.create_staff("Marker.Mrk42@staff.example", "MRK42 STAFFNAME", "dpo",
                                    actor=TEST_ACTOR)
    secret = services.start_totp_enrolment(user).secret
    db.session.commit()

    with db.engine.connect() as conn:
        raw = [repr(tuple(row)).lower() for row in conn.execute(sa.select(StaffUser.__table__))]
    assert len(raw) == 1
    for value in ("marker.mrk42@staff.example", "mrk42 staffname", secret.lower()):
        assert value not in raw[0]
    db.session.expire_all()
    assert services.find_staff_by_email("marker.mrk42@staff.example").display_name == "MRK42 STAFFNAME"


def test_staff_emails_have_their_own_index_key_not_the_customers(db, create_customer):
    customer = create_customer(email="shared@example.org")
    user, _ = services.create_staff("shared@example.org", "Sam Shared", "agent", actor=TEST_ACTOR)
    db.session.commit()

    assert user.email_index != customer.email_index


def test_an_address_already_in_use_is_refused_whatever_its_case(db):
    services.create_staff("taken@staff.example", "First", "agent", actor=TEST_ACTOR)
    db.session.commit()

    with pytest.raises(ValidationFailed) as refused:
        services.create_staff(" TAKEN@Staff.Example ", "Second", "agent", actor=TEST_ACTOR)
    assert "already exists" in refused.value.errors["email"][0]


def test_bad_input_names_every_problem_and_creates_nothing(db):
    with pytest.raises(ValidationFailed) as refused:
        services.create_staff("not-an-address", "  ", "superuser", actor=TEST_ACTOR)
    db.session.rollback()

    assert set(refused.value.errors) == {"email", "display_name", "role"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 0


def test_creation_is_audited_with_the_new_id_and_role_only(db):
    user, _ = services.create_staff("audited@staff.example", "Audrey Audit", "admin",
                                    actor=TEST_ACTOR)
    db.session.commit()

    [entry] = _entries(db, actions.STAFF_CREATED)
    assert entry.details == {"staff_id": str(user.id), "role": "admin"}
    assert "audited" not in repr(entry.as_record()).lower()


# ------------------------------------------------------- password links


def test_a_password_link_sets_the_password_once(db):
    _, link = services.create_staff("once@staff.example", "Olly Once", "agent", actor=TEST_ACTOR)
    services.set_password(_token(link), "a long enough password")
    db.session.commit()

    with pytest.raises(services.PasswordLinkInvalid):
        services.set_password(_token(link), "another long password")


def test_the_password_is_stored_as_an_argon2id_hash(db):
    user, link = services.create_staff("hash@staff.example", "Hal Hash", "agent", actor=TEST_ACTOR)
    services.set_password(_token(link), "a long enough password")

    assert user.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in user.password_hash


def test_a_password_link_expires_after_48_hours(db):
    _, link = services.create_staff("late@staff.example", "Lee Late", "agent", actor=TEST_ACTOR)
    db.session.execute(sa.update(PasswordToken).values(
        expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    db.session.commit()

    with pytest.raises(services.PasswordLinkInvalid):
        services.check_password_link(_token(link))


def test_a_short_password_is_refused_and_the_link_still_works(db):
    _, link = services.create_staff("short@staff.example", "Shay Short", "agent", actor=TEST_ACTOR)
    db.session.commit()
    with pytest.raises(ValidationFailed) as refused:
        services.set_password(_token(link), "too short")
    db.session.rollback()

    assert "12 characters" in refused.value.errors["password"][0]
    assert services.set_password(_token(link), "now long enough, surely").password_hash


def test_only_the_newest_password_link_works(db):
    user, first = services.create_staff("newest@staff.example", "Ned Newest", "agent",
                                        actor=TEST_ACTOR)
    second = services.issue_password_link(user, actor=TEST_ACTOR)
    db.session.commit()

    with pytest.raises(services.PasswordLinkInvalid):
        services.check_password_link(_token(first))
    assert services.check_password_link(_token(second)).id == user.id


# ------------------------------------------------------------- sign-in


def test_the_right_email_and_password_pass_the_first_step(db, create_staff_user):
    login = create_staff_user("agent")

    user = services.authenticate(login.email.upper(), login.password)

    assert str(user.id) == login.id


def test_unknown_email_and_wrong_password_fail_alike(db, create_staff_user):
    login = create_staff_user("agent")

    with pytest.raises(services.SignInFailed) as unknown:
        services.authenticate("nobody@staff.example", login.password)
    with pytest.raises(services.SignInFailed) as wrong:
        services.authenticate(login.email, "not the password at all")

    assert str(unknown.value) == str(wrong.value)


def test_failed_sign_ins_are_audited_without_the_typed_email(db, create_staff_user):
    login = create_staff_user("agent")
    for email, password in (("typed.unknown@staff.example", "whatever it is"),
                            (login.email, "not the password at all")):
        with pytest.raises(services.SignInFailed):
            services.authenticate(email, password, client_address="198.51.100.7")
    db.session.commit()

    unknown, wrong = _entries(db, actions.STAFF_SIGN_IN_FAILED)
    assert (unknown.actor_type, unknown.actor_id, unknown.outcome) == ("anonymous", "anonymous",
                                                                      actions.FAILURE)
    assert (wrong.actor_type, wrong.actor_id, wrong.outcome) == ("staff", login.id, actions.FAILURE)
    assert wrong.details == {"step": "password", "reason": "wrong-password"}
    text = repr([unknown.as_record(), wrong.as_record()]).lower()
    assert "typed.unknown" not in text and login.email not in text and "198.51.100.7" not in text


def test_an_unknown_email_still_costs_a_password_verification(db, monkeypatch):
    real, calls = services._hasher, []

    class Spy:
        def verify(self, hashed, password):
            calls.append(hashed)
            return real.verify(hashed, password)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(services, "_hasher", Spy())

    with pytest.raises(services.SignInFailed):
        services.authenticate("nobody@staff.example", "some password here")

    assert calls == [services._dummy_hash()]


def test_a_deactivated_account_cannot_sign_in_even_with_the_right_password(db, create_staff_user):
    login = create_staff_user("agent")
    create_staff_user("admin")
    services.deactivate(services.get_staff(login.id), actor=TEST_ACTOR)
    db.session.commit()

    with pytest.raises(services.SignInFailed):
        services.authenticate(login.email, login.password)


def test_an_account_without_a_password_cannot_sign_in(db):
    services.create_staff("nopass@staff.example", "Nora Nopass", "agent", actor=TEST_ACTOR)
    db.session.commit()

    with pytest.raises(services.SignInFailed):
        services.authenticate("nopass@staff.example", "")


def test_the_current_code_completes_the_sign_in_and_is_audited(db, create_staff_user):
    login = create_staff_user("dpo")
    user = services.get_staff(login.id)

    services.verify_totp(user, login.code(), client_address="203.0.113.9")
    db.session.commit()

    [entry] = _entries(db, actions.STAFF_SIGN_IN)
    assert (entry.actor_id, entry.actor_role, entry.outcome) == (login.id, "dpo", actions.SUCCESS)
    assert user.last_sign_in_at is not None


def test_a_code_cannot_be_used_twice(db, create_staff_user):
    login = create_staff_user("agent")
    user = services.get_staff(login.id)
    code = login.code()
    services.verify_totp(user, code)

    with pytest.raises(services.InvalidCode):
        services.verify_totp(user, code)


def test_the_previous_code_is_accepted_for_clock_drift_but_not_older_ones(db, create_staff_user):
    import time

    login = create_staff_user("agent")
    user = services.get_staff(login.id)
    with pytest.raises(services.InvalidCode):
        services.verify_totp(user, login.code(time.time() - 90))
    services.verify_totp(user, login.code(time.time() - 30))


def test_a_wrong_code_is_refused_and_audited_as_a_failure(db, create_staff_user):
    login = create_staff_user("agent")
    user = services.get_staff(login.id)
    wrong = f"{(int(login.code()) + 1) % 1_000_000:06d}"

    with pytest.raises(services.InvalidCode):
        services.verify_totp(user, wrong)
    db.session.commit()

    [entry] = _entries(db, actions.STAFF_SIGN_IN_FAILED)
    assert entry.details == {"step": "totp"} and entry.actor_id == login.id
    assert _entries(db, actions.STAFF_SIGN_IN) == []


def test_enrolment_is_confirmed_by_a_code_from_the_new_secret(db, create_staff_user):
    login = create_staff_user("agent", enrolled=False)
    user = services.get_staff(login.id)
    enrolment = services.start_totp_enrolment(user)
    assert enrolment.uri.startswith("otpauth://totp/")
    assert f"secret={enrolment.secret}" in enrolment.uri

    with pytest.raises(services.InvalidCode):
        services.enrol_totp(user, "000000" if pyotp.TOTP(enrolment.secret).now() != "000000"
                            else "111111")
    assert not user.totp_enrolled
    services.enrol_totp(user, pyotp.TOTP(enrolment.secret).now())

    assert user.totp_enrolled
    assert [e.action for e in _entries(db, actions.STAFF_SIGN_IN)] == [actions.STAFF_SIGN_IN]


def test_the_enrolment_secret_stays_the_same_until_confirmed(db, create_staff_user):
    user = services.get_staff(create_staff_user("agent", enrolled=False).id)

    assert services.start_totp_enrolment(user).secret == services.start_totp_enrolment(user).secret


# --------------------------------------------------------------- roles


def test_a_role_change_is_audited_with_the_old_and_new_role(db, create_staff_user):
    login = create_staff_user("agent")
    services.change_role(services.get_staff(login.id), "dpo", actor=TEST_ACTOR)
    db.session.commit()

    [entry] = _entries(db, actions.STAFF_ROLE_CHANGED)
    assert entry.details == {"staff_id": login.id, "from": "agent", "to": "dpo"}
    assert services.get_staff(login.id).role == StaffRole.DPO


def test_the_last_administrator_can_be_neither_demoted_nor_deactivated(db, create_staff_user):
    admin = services.get_staff(create_staff_user("admin").id)

    with pytest.raises(services.LastAdministrator):
        services.change_role(admin, "agent", actor=TEST_ACTOR)
    with pytest.raises(services.LastAdministrator):
        services.deactivate(admin, actor=TEST_ACTOR)
    create_staff_user("admin")
    services.deactivate(admin, actor=TEST_ACTOR)
    assert not admin.active


def test_deactivation_is_audited_and_voids_unused_password_links(db, create_staff_user):
    user, link = services.create_staff("leaver@staff.example", "Lou Leaver", "agent",
                                       actor=TEST_ACTOR)
    services.deactivate(user, actor=TEST_ACTOR)
    db.session.commit()

    [entry] = _entries(db, actions.STAFF_DEACTIVATED)
    assert entry.details == {"staff_id": str(user.id)}
    with pytest.raises(services.PasswordLinkInvalid):
        services.check_password_link(_token(link))


# ------------------------------------------------------------ directory


def test_the_directory_names_known_staff_and_skips_other_ids(db, create_staff_user):
    agent = create_staff_user("agent", name="Alex Agent")
    dpo = create_staff_user("dpo", name="Dana Officer")

    cards = services.staff_directory([agent.id, dpo.id, str(uuid.uuid4()), "not-a-uuid"])

    assert cards == {agent.id: services.StaffCard("Alex Agent", "agent"),
                     dpo.id: services.StaffCard("Dana Officer", "dpo")}


def test_the_directory_still_names_deactivated_staff(db, create_staff_user):
    create_staff_user("admin")
    leaver = create_staff_user("agent", name="Lou Leaver")
    services.deactivate(services.get_staff(leaver.id), actor=TEST_ACTOR)
    db.session.commit()

    assert services.staff_directory([leaver.id])[leaver.id].display_name == "Lou Leaver"
