"""Realistic, deterministic demo customers (for ``demo load`` and benchmarks)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Iterator

FIRST = ["Anna", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Kasia", "Luca", "Maren", "Nils", "Olivia", "Pedro", "Quentin", "Rosa", "Sven",
         "Tariq", "Ulla", "Viktor", "Wiebke", "Xavier", "Yasmin", "Zoë", "Émile", "Søren"]
LAST = ["Schmidt", "Novak", "Dubois", "Jensen", "García", "Rossi", "Kowalski", "Müller",
        "van Dijk", "O'Brien", "Andersson", "Costa", "Nakamura", "Okafor", "Larsen", "Weber"]
STREETS = ["Lindenstraße", "Rue des Lilas", "Keizersgracht", "Via Roma", "High Street",
           "Calle Mayor", "Storgatan", "ul. Długa"]
CITIES = [("10115", "Berlin", "DE"), ("75011", "Paris", "FR"), ("1015 CJ", "Amsterdam", "NL"),
          ("00184", "Roma", "IT"), ("EC1A 1BB", "London", "GB"), ("28013", "Madrid", "ES"),
          ("111 29", "Stockholm", "SE"), ("00-001", "Warszawa", "PL")]
TOPICS = ["garden", "kitchen", "outdoor", "kids", "books", "sale", "new-arrivals", "sustainability"]
LANGS = ["en", "de", "fr", "nl", "it", "es", "sv", "pl"]
# Categories are the shipped policy's data categories, so retention and erasure
# treat the demo history as they would real history (orders kept for tax).
HISTORY = [
    ("purchase", "web", "order-history", "Order of {n} items, total €{total}"),
    ("purchase", "store", "order-history", "In-store purchase, {n} items"),
    ("support-contact", "phone", "support-history", "Asked about a late delivery"),
    ("support-contact", "email", "support-history", "Requested an invoice copy"),
    ("return", "web", "order-history", "Returned {n} item(s), refund issued"),
    ("delivery", "web", "order-history", "Parcel delivered by partner courier"),
    ("visit", "app", "browsing-activity", "Browsed the {topic} category"),
    ("newsletter", "email", "browsing-activity", "Opened the {topic} newsletter"),
]

DEMO_DOMAIN = "example.com"


def demo_customers(count: int = 25, *, seed: int = 2026) -> Iterator[dict[str, Any]]:
    """Yield ``count`` customer details dicts with a ``history`` list each.

    Deterministic for a seed, so ``demo load`` is idempotent by email.
    """
    rng = random.Random(seed)
    for i in range(count):
        first, last = FIRST[i % len(FIRST)], rng.choice(LAST)
        postcode, city, country = rng.choice(CITIES)
        local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        ascii_local = local.encode("ascii", "ignore").decode() or f"customer{i}"
        email = f"{ascii_local}{'' if i < len(FIRST) else i}@{DEMO_DOMAIN}"
        details = {
            "email": email,
            "name": f"{first} {last}",
            "phone": f"+{rng.choice(['49', '33', '31', '39', '44', '34', '46', '48'])} "
                     f"{rng.randint(100, 999)} {rng.randint(1000000, 9999999)}",
            "postal_address": f"{rng.choice(STREETS)} {rng.randint(1, 120)}\n{postcode} {city}\n{country}",
            "date_of_birth": dt.date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)),
            "preferences": {
                "channels": sorted(rng.sample(["email", "sms", "post", "phone"], rng.randint(0, 2))),
                "language": rng.choice(LANGS),
                "topics": sorted(rng.sample(TOPICS, rng.randint(0, 3))),
            },
        }
        history = []
        now = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
        for _ in range(rng.randint(2, 5)):
            kind, channel, category, text = rng.choice(HISTORY)
            history.append({
                "occurred_at": now - dt.timedelta(days=rng.randint(1, 700), minutes=rng.randint(0, 1440)),
                "channel": channel,
                "kind": kind,
                "data_category": category,
                "summary": text.format(n=rng.randint(1, 6), total=rng.randint(12, 480),
                                       topic=rng.choice(TOPICS)),
                "details": {"reference": f"NW-{rng.randint(100000, 999999)}"},
            })
        yield {**details, "history": history}
