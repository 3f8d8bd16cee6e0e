"""Deadlines of data-subject requests, in calendar months (GDPR Art. 12(3)).

"Within one month of receipt" is a calendar month: a request received on
31 January is due on the last day of February (28th, or 29th in a leap
year), not 30 days later. The controller may extend by at most two further
months when a request is complex, and must say so within the first month.
"""

from __future__ import annotations

import calendar
import datetime as dt

#: The answer is due one calendar month after receipt (Art. 12(3)).
RESPONSE_MONTHS = 1
#: At most two further months, in total, for complex or numerous requests (Art. 12(3)).
MAX_EXTENSION_MONTHS = 2


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """``moment`` plus ``months`` calendar months; the day is clipped to the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_date(received_at: dt.datetime) -> dt.datetime:
    """When the answer to a request received at ``received_at`` is due."""
    return add_months(received_at, RESPONSE_MONTHS)


def latest_extension(received_at: dt.datetime) -> dt.datetime:
    """The latest deadline an extension may set: three months after receipt."""
    return add_months(received_at, RESPONSE_MONTHS + MAX_EXTENSION_MONTHS)
