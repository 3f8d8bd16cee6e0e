"""Notices before a material change: who is told, once per version, in paced batches."""

from __future__ import annotations

import copy
import datetime as dt
import html
import json
import uuid

from email.header import decode_header, make_header

import pytest
import sqlalchemy as sa
from babel.dates import format_date

from consentmgr import create_app
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.cli.worker import worker_registry
from consentmgr.config import ConfigError
from consentmgr.consent import services as consent
from consentmgr.customers.services import restrict_processing
from consentmgr.extensions import db as _db
from consentmgr.jobs.models import Job
from consentmgr.mail import queued_mail, send_mail_after_commit
from consentmgr.mail.models import OutboxMessage
from consentmgr.notices import services as notices
from consentmgr.notices.models import PolicyNotice
from consentmgr.policies.services import get_version, publish_policies
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR, base_config
from tests.fixtures.smtp import deliver_mail
from tests.policies.policy_files import valid_front_matter, write_policy
from tests.test_no_plaintext import _rows_holding

TODAY = utcnow().date()
CHANGE_DAY = TODAY + dt.timedelta(days=30)
FAST = 100_000  # notices a minute: the pause between batches is well under a second


def _v2(**purpose_changes: dict) -> dict:
    """Version v2, taking effect in 30 days, with ``purpose_changes`` by slug."""
    data = valid_front_matter(version="v2", effective_date=CHANGE_DAY.isoformat(),
                              summary="We now share newsletter data with a second mailer.")
    for purpose in data["purposes"]:
        purpose.update(purpose_changes.get(purpose["slug"].replace("-", "_"), {}))
    return data


MATERIAL = {"marketing_email": {"recipients": ["Mailer Inc.", "Second Mailer Ltd."]}}


@pytest.fixture
def policy_dir(tmp_path):
    """A directory holding v1 (in effect since last year), published."""
    directory = tmp_path / "policies"
    directory.mkdir()
    write_policy(directory, valid_front_matter(
        effective_date=(TODAY - dt.timedelta(days=365)).isoformat()))
    return directory


@pytest.fixture
def v1(db, policy_dir):
    publish_policies(policy_dir, actor=TEST_ACTOR)
    db.session.commit()
    return policy_dir


def _publish(runner, directory) -> str:
    """``flask policies publish --dir directory``; its output."""
    result = runner.invoke(args=["policies", "publish", "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def publish_v2(db, v1, runner):
    """``publish_v2(front_matter=None)``: publish v2 (default: a material change) as the CLI does."""
    def publish(front_matter: dict | None = None):
        write_policy(v1, front_matter or _v2(**MATERIAL), name="v2.md")
        _publish(runner, v1)
        return get_version("v2")
    return publish


@pytest.fixture
def people(db, v1, create_customer):
    """Who is who: a subscriber, a customer who gave nothing, one who objected to analytics
    too, and a restricted subscriber."""
    subscriber = create_customer()
    consent.grant_consent(subscriber, "marketing-email", actor=TEST_ACTOR, channel="api")
    nothing = create_customer()
    objector = create_customer()
    consent.object_to_processing(objector, "analytics", actor=TEST_ACTOR, channel="api")
    restricted = create_customer()
    consent.grant_consent(restricted, "marketing-email", actor=TEST_ACTOR, channel="api")
    restrict_processing(restricted, actor=TEST_ACTOR)
    db.session.commit()
    return {"subscriber": subscriber, "nothing": nothing, "objector": objector,
            "restricted": restricted}


def _notice_jobs() -> list[Job]:
    return list(_db.session.scalars(sa.select(Job).where(Job.kind == notices.NOTICE_JOB)))


def _told() -> set:
    return set(_db.session.scalars(sa.select(PolicyNotice.customer_id)))


def _run_batch(version, *, size: int = 100):
    result = notices.notice_batch(_db.session, notices.notice_scope(version), size=size,
                                  send=send_mail_after_commit)
    _db.session.commit()
    return result


# ------------------------------------------------------------------ when a notice is needed


def test_publishing_a_future_material_change_enqueues_one_job_with_the_version_id_only(
        publish_v2):
    version = publish_v2()

    [job] = _notice_jobs()
    assert job.payload == {"version": version.id}


def test_publishing_says_the_customers_concerned_will_be_mailed(runner, v1):
    write_policy(v1, _v2(**MATERIAL), name="v2.md")

    assert "v2 changes something material" in _publish(runner, v1)


def test_a_version_without_material_change_enqueues_nothing(publish_v2):
    publish_v2(_v2(marketing_email={"title": "Our newsletter"}))  # a title is not material

    assert _notice_jobs() == []


def test_a_version_in_effect_already_enqueues_nothing(runner, v1):
    write_policy(v1, _v2(**MATERIAL) | {"effective_date": TODAY.isoformat()}, name="v2.md")
    _publish(runner, v1)

    assert _notice_jobs() == []


def test_the_first_version_enqueues_nothing(runner, policy_dir):
    write_policy(policy_dir, valid_front_matter(effective_date=CHANGE_DAY.isoformat()))
    _publish(runner, policy_dir)

    assert _notice_jobs() == []


# ------------------------------------------------------------------ who is affected


def test_consent_purposes_concern_those_who_consented_and_others_all_but_objectors(
        people, publish_v2):
    version = publish_v2(_v2(analytics={"recipients": ["Stats GmbH"]}, **MATERIAL))

    counts = notices.count_affected(_db.session, notices.notice_scope(version))

    assert counts.per_purpose == {"marketing-email": 1, "analytics": 2}
    assert counts.affected == counts.untold == 2  # the subscriber and the one who gave nothing


def test_restricted_and_erased_customers_are_never_told(people, publish_v2):
    version = publish_v2()

    _run_batch(version)

    assert _told() == {people["subscriber"].id}
    assert [m.to for m in queued_mail()] == [people["subscriber"].email]


def test_one_message_lists_every_purpose_that_concerns_the_customer(people, publish_v2):
    version = publish_v2(_v2(analytics={"recipients": ["Stats GmbH"]}, **MATERIAL))

    _run_batch(version)

    letters = {m.to: m for m in queued_mail()}
    assert set(letters) == {people["subscriber"].email, people["nothing"].email}
    subscriber = letters[people["subscriber"].email].body
    assert "“Newsletter”: changes to who receives the data" in subscriber
    assert "“Analytics”" in subscriber
    assert "Newsletter" not in letters[people["nothing"].email].body


def test_the_notice_says_what_changes_from_when_with_the_comparison_link(people, publish_v2):
    version = publish_v2()

    _run_batch(version)

    [letter] = queued_mail()
    day = f"{CHANGE_DAY.day} {CHANGE_DAY:%B %Y}"
    assert letter.subject == f"Our privacy policy changes on {day}"
    assert "We now share newsletter data with a second mailer." in letter.body
    assert "/privacy/compare?from=v1&to=v2" in letter.body
    # A legal notice, not marketing: no unsubscribe headers (RFC 8058 is for marketing mail).
    assert not any(name.lower().startswith("list-unsubscribe") for name in letter.headers)


def test_the_notice_is_written_in_german_for_german_and_in_english_for_any_other_language(ctx):
    content = notices.NoticeContent("v2", "Summary.", dt.date(2027, 3, 1), (), "https://x/c",
                                    "https://x/")

    subject, body = notices.notice_message("de", content)
    assert subject == "Unsere Datenschutzerklärung ändert sich am 1. März 2027"
    assert "unsere Datenschutzerklärung ändert sich am 1. März 2027 (Fassung v2)." in body
    assert set(notices.WRITERS) == {"en", "de"}
    english = notices.notice_message("en", content)
    assert english[0] == "Our privacy policy changes on 1 March 2027"
    assert notices.notice_message("fr", content) == english
    assert notices.notice_message(None, content) == english


# ------------------------------------------------------------------ batches, resume, once


def test_batches_go_on_where_the_last_committed_one_stopped(db, create_customer, v1, publish_v2):
    for _ in range(3):
        consent.grant_consent(create_customer(), "marketing-email", actor=TEST_ACTOR,
                              channel="api")
    db.session.commit()
    version = publish_v2()

    first = _run_batch(version, size=2)
    second = _run_batch(version, size=2)

    assert (first.mailed, first.more) == (2, True)
    assert (second.mailed, second.more) == (1, False)
    assert len(_told()) == 3 and len(queued_mail()) == 3


def test_a_batch_killed_before_its_commit_leaves_nothing_and_the_rerun_mails_once(
        people, publish_v2):
    version = publish_v2()
    notices.notice_batch(_db.session, notices.notice_scope(version), size=10,
                         send=send_mail_after_commit)
    _db.session.rollback()  # the worker died before the commit

    assert _told() == set() and queued_mail() == []
    _run_batch(version)
    _run_batch(version)

    assert [m.to for m in queued_mail()] == [people["subscriber"].email]


def test_the_job_paces_the_next_batch_to_the_rate(db, create_customer, v1, publish_v2):
    for _ in range(3):
        consent.grant_consent(create_customer(), "marketing-email", actor=TEST_ACTOR,
                              channel="api")
    db.session.commit()
    version = publish_v2()
    now = utcnow()

    result = notices.run_notice_job(_db.session, {"version": version.id}, rate=2,
                                    send=send_mail_after_commit, now=now)
    db.session.commit()

    assert result.mailed == 2
    follow_up = [j for j in _notice_jobs() if j.created_at == now]
    assert len(follow_up) == 1
    assert follow_up[0].run_after - now == dt.timedelta(minutes=1)  # 2 sent at 2 a minute


def test_a_job_for_a_version_now_in_effect_mails_nobody(people, publish_v2):
    version = publish_v2()
    later = dt.datetime.combine(CHANGE_DAY, dt.time(9), tzinfo=dt.UTC)

    result = notices.run_notice_job(_db.session, {"version": version.id}, rate=FAST,
                                    send=send_mail_after_commit, now=later)

    assert result.handled == 0 and queued_mail() == []


def test_the_worker_mails_each_affected_customer_once_at_a_real_smtp_server(
        app, people, publish_v2, smtp_server, mail_to, monkeypatch):
    controller, inbox = smtp_server
    mail_to(controller.port)
    monkeypatch.setitem(app.config, "POLICY_NOTICE_RATE", FAST)
    publish_v2(_v2(analytics={"recipients": ["Stats GmbH"]}, **MATERIAL))

    deliver_mail(app)
    deliver_mail(app, clock=lambda: utcnow() + dt.timedelta(hours=2))

    assert sorted(m["To"] for m in inbox.messages) == sorted(
        [people["subscriber"].email, people["nothing"].email])
    message = inbox.messages[0]
    assert message["Subject"].startswith("Our privacy policy changes on")
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
    assert "/privacy/compare?from=v1&to=v2" in message.get_payload(decode=True).decode()


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _german_v2() -> dict:
    """The German text of v2: the same facts, German words."""
    data = copy.deepcopy(_v2(**MATERIAL))
    data["summary"] = "Wir geben Newsletter-Daten jetzt auch an einen zweiten Versanddienst weiter."
    titles = {"account": "Ihr Kundenkonto", "marketing-email": "Unser Newsletter",
              "analytics": "Analyse"}
    for purpose in data["purposes"]:
        purpose["title"] = titles[purpose["slug"]]
    return data


def test_each_customer_gets_the_notice_in_their_own_language_at_a_real_smtp_server(
        app, db, v1, create_customer, publish_v2, smtp_server, mail_to, monkeypatch):
    controller, inbox = smtp_server
    mail_to(controller.port)
    monkeypatch.setitem(app.config, "POLICY_NOTICE_RATE", FAST)
    write_policy(v1, _german_v2(), name="v2.de.md")  # v2 is published in German too
    readers = {language: create_customer(preferences={"language": language})
               for language in ("de", "en", "fr")}
    for customer in readers.values():
        consent.grant_consent(customer, "marketing-email", actor=TEST_ACTOR, channel="api")
    db.session.commit()
    publish_v2()

    deliver_mail(app)
    deliver_mail(app, clock=lambda: utcnow() + dt.timedelta(hours=2))

    [german] = inbox.to(readers["de"].email)
    [english] = inbox.to(readers["en"].email)
    [french] = inbox.to(readers["fr"].email)  # a language we do not write in: English
    german_day = format_date(CHANGE_DAY, "d. MMMM yyyy", locale="de")
    assert _subject(german) == f"Unsere Datenschutzerklärung ändert sich am {german_day}"
    assert german["Content-Language"] == "de"
    body = german.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert body.startswith("Sehr geehrte Kundin, sehr geehrter Kunde,\n")
    # The summary and the purpose's title as the German text of v2 words them.
    assert "Wir geben Newsletter-Daten jetzt auch an einen zweiten Versanddienst weiter." in body
    assert "- „Unser Newsletter“: Änderungen bei den Empfängern der Daten." in body
    assert "Ihre Einwilligung gilt nur für die bisherige Fassung" in body
    assert "/privacy/compare?from=v1&to=v2" in body
    assert "Dear customer" not in body and "privacy policy" not in body
    english_day = f"{CHANGE_DAY.day} {CHANGE_DAY:%B %Y}"
    for message in (english, french):
        assert _subject(message) == f"Our privacy policy changes on {english_day}"
        assert message["Content-Language"] == "en"
        text = message.get_payload(decode=True).decode()
        assert "We now share newsletter data with a second mailer." in text
        assert "- “Newsletter”: changes to who receives the data." in text
        assert "/privacy/compare?from=v1&to=v2" in text and "Datenschutz" not in text
    for message in (german, english, french):
        assert message["List-Unsubscribe"] is None  # a legal notice, not marketing


def test_the_notice_job_is_registered_with_the_worker(app):
    assert notices.NOTICE_JOB in worker_registry(app).handlers


# ------------------------------------------------------------------ no personal data


def test_each_batch_is_audited_with_counts_and_no_personal_data(people, publish_v2):
    version = publish_v2()

    _run_batch(version)

    [entry] = _db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == actions.POLICY_NOTICE_BATCH)).all()
    assert entry.subject_id is None
    assert entry.details == {"version": "v2", "mailed": 1, "unreachable": 0,
                             "purposes": "marketing-email:1"}
    flat = json.dumps(entry.details)
    for person in people.values():
        assert person.email not in flat and str(person.id) not in flat


def test_the_outbox_holds_no_address_or_notice_text_in_clear(people, publish_v2):
    version = publish_v2()

    _run_batch(version)

    raw = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode()
                   for row in _db.session.execute(sa.select(OutboxMessage.__table__))
                   for v in row if v is not None)
    assert raw
    assert people["subscriber"].email.encode() not in raw
    assert b"privacy policy" not in raw and b"compare" not in raw


# ------------------------------------------------------------------ flask policies notify


def test_a_dry_run_counts_per_purpose_and_sends_nothing(runner, people, publish_v2):
    publish_v2()

    result = runner.invoke(args=["policies", "notify", "v2", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "1 active customer(s) concerned, 1 not told yet" in result.output
    assert "marketing-email" in result.output and "Dry run: nothing was sent." in result.output
    assert queued_mail() == [] and _told() == set()


def test_notify_sends_the_same_once(runner, app, people, publish_v2, monkeypatch):
    monkeypatch.setitem(app.config, "POLICY_NOTICE_RATE", FAST)
    publish_v2()

    first = runner.invoke(args=["policies", "notify", "v2"])
    second = runner.invoke(args=["policies", "notify", "v2"])

    assert first.exit_code == 0, first.output
    assert "Queued 1 notice(s)" in first.output
    assert "Queued 0 notice(s)" in second.output
    assert [m.to for m in queued_mail()] == [people["subscriber"].email]


@pytest.mark.parametrize(("label", "front_matter", "message"), [
    ("v9", None, "No published privacy-policy version 'v9'"),
    ("v1", None, "took effect on"),
    ("v2", "minor", "changes nothing material"),
])
def test_notify_refuses_bad_versions_and_sends_nothing(runner, people, publish_v2, label,
                                                       front_matter, message):
    publish_v2(_v2(marketing_email={"title": "Our newsletter"}) if front_matter else None)
    jobs_before = len(_notice_jobs())

    result = runner.invoke(args=["policies", "notify", label])

    assert result.exit_code == 1
    assert message in result.output
    assert queued_mail() == [] and _told() == set() and len(_notice_jobs()) == jobs_before


def test_notify_refuses_the_first_version(runner, db, policy_dir):
    write_policy(policy_dir, valid_front_matter(effective_date=CHANGE_DAY.isoformat()))
    publish_policies(policy_dir, actor=TEST_ACTOR)
    db.session.commit()

    result = runner.invoke(args=["policies", "notify", "v1"])

    assert result.exit_code == 1 and "first published version" in result.output


def test_the_rate_is_a_setting(database_url, tmp_path):
    with pytest.raises(ConfigError, match="CONSENTMGR_POLICY_NOTICE_RATE"):
        create_app(base_config(database_url, str(tmp_path), CONSENTMGR_POLICY_NOTICE_RATE="fast"))
    app = create_app(base_config(database_url, str(tmp_path), CONSENTMGR_POLICY_NOTICE_RATE="60"))
    assert app.config["POLICY_NOTICE_RATE"] == 60


# ------------------------------------------------------------------ the portal's banner


def test_the_portal_announces_a_pending_material_change(client, publish_v2):
    publish_v2()

    page = client.get("/portal/sign-in").get_data(as_text=True)

    assert "Our privacy policy changes on" in page
    assert f'datetime="{CHANGE_DAY.isoformat()}"' in page
    assert "/privacy/compare?from=v1&amp;to=v2" in page
    assert "“Newsletter”: changes to who receives the data" in page
    banner = page[page.index("policy-change"):page.index("the current version applies")]
    assert "style=" not in banner and "<script" not in banner


def test_the_banner_speaks_the_page_language_with_the_versions_german_text(client, v1,
                                                                           publish_v2):
    write_policy(v1, _german_v2(), name="v2.de.md")
    publish_v2()

    german = html.unescape(client.get("/portal/sign-in", headers={"Accept-Language": "de"}).text)
    english = html.unescape(client.get("/portal/sign-in", headers={"Accept-Language": "en"}).text)

    assert "Wir geben Newsletter-Daten jetzt auch an einen zweiten Versanddienst weiter." in german
    assert "Unser Newsletter" in german
    assert "Unser Newsletter" not in english and "“Newsletter”" in english


def test_the_portal_shows_no_banner_without_a_material_change(client, publish_v2):
    publish_v2(_v2(marketing_email={"title": "Our newsletter"}))

    page = client.get("/portal/sign-in").get_data(as_text=True)

    assert "policy-change" not in page


def test_no_address_name_or_notice_text_in_any_row_read_with_raw_sql(db, v1, publish_v2,
                                                                      create_customer):
    marker = uuid.uuid4().hex[:10]
    customer = create_customer(email=f"mrk{marker}@example.org", name=f"MRK{marker}NAME")
    consent.grant_consent(customer, "marketing-email", actor=TEST_ACTOR, channel="api")
    db.session.commit()
    version = publish_v2()

    _run_batch(version)

    assert _told() == {customer.id}  # the scan covers policy_notices, outbox, jobs and audit
    assert _rows_holding(db, [f"mrk{marker}", "dear customer", "privacy policy changes on"]) == []
