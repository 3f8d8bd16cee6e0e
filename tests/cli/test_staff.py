"""``flask staff ...`` and the demo staff accounts of ``flask demo load``."""

from __future__ import annotations

import re

import pyotp
import pytest

from consentmgr.staff import services
from consentmgr.staff.demo import DEMO_STAFF
from tests.fixtures.staff import create_staff_user  # noqa: F401

LINK = re.compile(r"(http\S+/staff/set-password/(\S+))")


@pytest.fixture
def production_runner(app, db, tmp_path):
    """A CLI runner for the same database with ``CONSENTMGR_ENV=production``."""
    from consentmgr import create_app
    from tests.conftest import base_config

    production = create_app(base_config(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path),
                                        CONSENTMGR_ENV="production"))
    with production.app_context():  # this app's context, not the test's
        yield production.test_cli_runner()


def test_create_prints_a_one_time_password_link(runner, db, app):
    result = runner.invoke(args=["staff", "create", "--email", "nia@staff.example",
                                 "--name", "Nia New", "--role", "dpo"])

    assert result.exit_code == 0, result.output
    url, token = LINK.search(result.output).groups()
    assert url.startswith(app.extensions["consentmgr"].settings.base_url)
    assert services.set_password(token, "a long enough password").role.value == "dpo"


def test_create_refuses_an_address_in_use_and_names_the_option(runner, db):
    runner.invoke(args=["staff", "create", "--email", "dup@staff.example", "--name", "One",
                        "--role", "agent"])

    result = runner.invoke(args=["staff", "create", "--email", "DUP@staff.example",
                                 "--name", "Two", "--role", "agent"])

    assert result.exit_code == 1
    assert "--email: A staff account with this email address already exists." in result.output
    assert len(services.list_staff()) == 1


def test_create_refuses_an_unknown_role(runner, db):
    result = runner.invoke(args=["staff", "create", "--email", "x@staff.example", "--name", "X",
                                 "--role", "root"])

    assert result.exit_code == 2 and "'root' is not one of" in result.output
    assert services.list_staff() == []


def test_list_shows_each_account_with_its_role_and_state(runner, db, create_staff_user):
    login = create_staff_user("agent", name="Alex Agent")
    runner.invoke(args=["staff", "create", "--email", "pending@staff.example", "--name", "Pat",
                        "--role", "admin"])

    result = runner.invoke(args=["staff", "list"])

    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert any(login.id in line and "agent" in line and "active" in line and "Alex Agent" in line
               for line in lines)
    assert any("admin" in line and "no password yet" in line for line in lines)


def test_password_link_prints_a_new_link_that_replaces_the_old(runner, db):
    first = runner.invoke(args=["staff", "create", "--email", "lost@staff.example",
                                "--name", "Lou Lost", "--role", "agent"])

    second = runner.invoke(args=["staff", "password-link", "--email", "lost@staff.example"])

    assert second.exit_code == 0
    with pytest.raises(services.PasswordLinkInvalid):
        services.check_password_link(LINK.search(first.output).group(2))
    assert services.check_password_link(LINK.search(second.output).group(2))


def test_totp_code_prints_the_code_an_authenticator_shows_now(runner, db, create_staff_user):
    login = create_staff_user("agent")

    result = runner.invoke(args=["staff", "totp-code", "--email", login.email])

    assert result.exit_code == 0
    assert result.output.strip() in {pyotp.TOTP(login.totp_secret).now(), login.code()}


def test_totp_code_for_an_unknown_address_fails(runner, db):
    result = runner.invoke(args=["staff", "totp-code", "--email", "nobody@staff.example"])

    assert result.exit_code == 1 and "no staff account" in result.output


def test_totp_code_is_refused_in_production(production_runner, db, create_staff_user):
    login = create_staff_user("agent")

    result = production_runner.invoke(args=["staff", "totp-code", "--email", login.email])

    assert result.exit_code == 1
    assert "development only" in result.output
    assert login.code() not in result.output


def test_demo_load_creates_one_ready_login_per_role_and_prints_it(runner, db):
    result = runner.invoke(args=["demo", "load", "--count", "1"])

    assert result.exit_code == 0, result.output
    for demo in DEMO_STAFF:
        assert demo.email in result.output and demo.password in result.output
        user = services.authenticate(demo.email, demo.password)
        assert (user.role, user.totp_enrolled) == (demo.role, True)
        services.verify_totp(user, pyotp.TOTP(demo.totp_secret).now())
    assert "staff totp-code --email" in result.output


def test_demo_load_is_idempotent_for_staff(runner, db):
    runner.invoke(args=["demo", "load", "--count", "1"])

    again = runner.invoke(args=["demo", "load", "--count", "1"])

    assert "Demo staff: 0 created, 3 already present" in again.output
    assert len(services.list_staff()) == 3


def test_demo_load_creates_no_demo_staff_in_production(production_runner, db):
    result = production_runner.invoke(args=["demo", "load", "--count", "1"])

    assert "not created in production" in result.output
    assert services.list_staff() == []


def test_make_run_prints_every_demo_login_and_how_to_get_a_code():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    run_target = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]

    for demo in DEMO_STAFF:
        assert demo.email in run_target and demo.password in run_target
    assert "staff totp-code --email" in run_target
