"""Masking shows enough to confirm who is on the line, and no more."""

from __future__ import annotations

import datetime as dt

import pytest

from consentmgr.staff.masking import (
    NOT_RECORDED,
    mask_date_of_birth,
    mask_email,
    mask_name,
    mask_phone,
    mask_postal_address,
    mask_preferences,
    mask_text,
)


@pytest.mark.parametrize(("email", "masked"), [
    ("jane.doe@example.com", "j•••@e•••.com"),
    ("Anna.Schmidt@mail.example.co.uk", "A•••@m•••.uk"),
    ("x@localhost", "x•••@l•••"),
])
def test_email_keeps_the_first_letters_and_the_top_level_domain(email, masked):
    assert mask_email(email) == masked


def test_an_email_without_an_at_sign_is_hidden_entirely():
    assert mask_email("not-an-address") == "•••"


@pytest.mark.parametrize(("phone", "masked"), [
    ("+44 20 7946 0912", "+44 •••• ••12"),
    ("+49 151 2345678", "+49 •••• ••78"),
    ("020 7946 0958", "•••• ••58"),
    ("+442079460958", "•••• ••58"),
])
def test_phone_keeps_the_country_code_and_the_last_two_digits(phone, masked):
    assert mask_phone(phone) == masked


def test_a_very_short_number_shows_no_digit_at_all():
    assert mask_phone("112") == "••••"


@pytest.mark.parametrize(("name", "masked"), [
    ("Ada Lovelace", "A. L."),
    ("Søren van Dijk", "S. v. D."),
    ("Cher", "C."),
])
def test_name_shows_initials_only(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize(("address", "masked"), [
    ("Lindenstraße 5\n10115 Berlin\nDE", "•••, B•••, DE"),
    ("1 Example Street\nLondon", "•••, L•••"),
    ("Via Roma 12, 00184 Roma, IT", "•••, R•••, IT"),
])
def test_address_hides_street_and_postcode_and_masks_the_city(address, masked):
    assert mask_postal_address(address) == masked


def test_address_never_contains_the_street_or_postcode():
    masked = mask_postal_address("Keizersgracht 99\n1015 CJ Amsterdam\nNL")
    assert "Keizersgracht" not in masked and "1015" not in masked and "Amsterdam" not in masked


@pytest.mark.parametrize("value", [dt.date(1985, 4, 12), "1985-04-12"])
def test_date_of_birth_hides_the_year(value):
    assert mask_date_of_birth(value) == "••••-04-12"


def test_preferences_show_counts_not_contents():
    masked = mask_preferences({"channels": ["email"], "topics": ["garden", "books"], "language": "de"})
    assert masked == "1 channel, 2 topics"


def test_free_text_is_hidden_entirely():
    assert mask_text("Asked about a late delivery") == "•••"


@pytest.mark.parametrize("mask", [mask_email, mask_phone, mask_name, mask_postal_address,
                                  mask_date_of_birth, mask_preferences, mask_text])
@pytest.mark.parametrize("empty", [None, ""])
def test_a_missing_value_reads_as_not_recorded(mask, empty):
    assert mask(empty) == NOT_RECORDED
