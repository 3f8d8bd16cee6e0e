"""Fixtures for the staff area (shared with the staff screen tests)."""

from tests.staff.fixtures import create_staff_user, fresh_g_per_request  # noqa: F401
