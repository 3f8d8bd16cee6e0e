"""The marshmallow schemas that check a policy header, and how their problems are named."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from marshmallow import ValidationError

from consentmgr.policies.document import Controller, DataCategory, Purpose
from consentmgr.policies.schemas import PolicyHeaderSchema, describe, field_problems
from tests.policies.policy_files import valid_front_matter


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        PolicyHeaderSchema().load(data)
    return field_problems(caught.value.messages)


def test_a_valid_header_loads_to_typed_values():
    fields = PolicyHeaderSchema().load(valid_front_matter())

    assert fields["effective_date"] == date(2025, 1, 15)
    assert isinstance(fields["controller"], Controller)
    assert all(isinstance(c, DataCategory) for c in fields["data_categories"])
    assert all(isinstance(p, Purpose) for p in fields["purposes"])
    assert fields["purposes"][0].interest is None


def test_text_is_stripped():
    fields = PolicyHeaderSchema().load(valid_front_matter(summary="  First version.\n"))

    assert fields["summary"] == "First version."


def test_field_problems_spell_list_positions_as_the_file_does():
    messages = {"purposes": {1: {"data_categories": {0: ["unknown"]}}}, "summary": ["empty"]}

    assert field_problems(messages) == [
        ("purposes[1].data_categories[0]", "unknown"),
        ("summary", "empty"),
    ]


def test_unknown_fields_are_reported_in_file_order_naming_the_known_ones():
    data = valid_front_matter()
    data["dpo"] = {"zname": "Dana", "name": "Dana", "email": "dpo@example.test", "mail": "x"}

    assert problems(data) == [
        ("dpo.zname", "unknown field (expected one of email, name)"),
        ("dpo.mail", "unknown field (expected one of email, name)"),
    ]


def test_recipients_and_transfers_may_be_written_as_nothing():
    data = valid_front_matter()
    data["purposes"][0]["recipients"] = None
    data["purposes"][0]["transfers"] = None

    account = PolicyHeaderSchema().load(data)["purposes"][0]

    assert account.recipients == () and account.transfers == ()


def test_a_missing_list_that_may_be_empty_says_how_to_write_none():
    data = valid_front_matter()
    del data["purposes"][0]["recipients"]

    assert problems(data) == [
        ("purposes[0].recipients", "missing required field (use [] for none)")
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must list at least one entry"),
        (None, "expected a list, got nothing"),
        ("contact", "expected a list, got text 'contact'"),
    ],
)
def test_purposes_must_list_at_least_one_entry(value, message):
    assert problems(valid_front_matter(purposes=value)) == [("purposes", message)]


def test_a_blank_entry_in_a_list_of_texts_is_reported_at_its_position():
    data = valid_front_matter()
    data["purposes"][1]["recipients"] = ["Mailer Inc.", "  "]

    assert problems(data) == [("purposes[1].recipients[1]", "expected text, got text '  '")]


def test_an_entry_that_is_not_a_mapping_is_reported_at_its_position():
    data = valid_front_matter()
    data["data_categories"].append("browsing")

    assert problems(data) == [
        ("data_categories[2]", "expected a mapping of fields, got text 'browsing'")
    ]


def test_a_bad_legal_basis_does_not_also_flag_the_interest():
    data = valid_front_matter()
    data["purposes"][2]["legal_basis"] = "interest"

    assert [field for field, _ in problems(data)] == ["purposes[2].legal_basis"]


def test_a_broken_category_does_not_also_flag_the_purposes_that_use_it():
    data = valid_front_matter()
    data["data_categories"][1]["retention_days"] = 0

    assert [field for field, _ in problems(data)] == ["data_categories[1].retention_days"]


def test_a_bad_email_is_named():
    data = valid_front_matter()
    data["controller"]["email"] = "privacy-at-example"

    assert problems(data) == [
        ("controller.email", "'privacy-at-example' is not an email address")
    ]


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (None, "nothing"),
        (True, "true"),
        ("no", "text 'no'"),
        (2025, "the number 2025"),
        ([1], "a list"),
        ({"a": 1}, "a mapping"),
        (date(2025, 1, 1), "date"),
    ],
)
def test_describe_says_what_a_yaml_value_is(value, said):
    assert describe(value) == said
