"""The Art. 34 notification is written in each customer's language (GDPR Art. 12(1))."""

from __future__ import annotations

import datetime as dt

from consentmgr.breaches import services
from consentmgr.mail import queued_mail
from consentmgr.sql import utcnow

HOUR = dt.timedelta(hours=1)


def test_each_customer_is_told_of_a_breach_in_their_language(
        db, record_breach, dpo_actor, create_staff_user, create_customer, views_by,
        publish_policy_files):
    publish_policy_files()
    breach = record_breach()
    services.decide_customer_notice(breach, required=True, reason="High risk", actor=dpo_actor)
    agent = create_staff_user("agent", password=None)
    german = create_customer(preferences={"language": "de"})
    english = create_customer(preferences={"language": "en"})
    french = create_customer(preferences={"language": "fr"})
    views_by(agent, german, english, french)
    now = utcnow()
    run = services.request_notice(db.session, breach, agent.email, now - HOUR, now + HOUR,
                                  actor=dpo_actor)
    db.session.commit()

    services.run_notice_job(db.session, {"run": str(run.id)})
    db.session.commit()

    letters = {letter.to: letter for letter in queued_mail()}
    de = letters[german.email]
    assert de.subject == "Wichtig: ein Sicherheitsvorfall, der Ihre Daten betrifft"
    assert de.language == "de"
    assert de.body.startswith("Sehr geehrte Kundin, sehr geehrter Kunde,\n")
    assert "Northwind Goods GmbH muss Sie über einen Sicherheitsvorfall informieren" in de.body
    assert "Art. 34 DSGVO" in de.body and "Was geschehen ist:" in de.body
    # The register's own words are quoted as the DPO wrote them.
    assert "A support laptop was stolen from a car." in de.body
    assert "dpo@northwind-goods.example" in de.body
    for other in (english, french):  # French is not written: English
        letter = letters[other.email]
        assert letter.subject == "Important: a security incident affecting your data"
        assert letter.language == "en" and "What happened:" in letter.body
