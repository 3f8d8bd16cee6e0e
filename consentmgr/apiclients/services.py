"""The API clients area's public face: what other areas and the boundaries import.

- :mod:`consentmgr.apiclients.clients` — create (key shown once), list, find, revoke;
- :mod:`consentmgr.apiclients.auth` — authenticate a key, the client cache, last use;
- :mod:`consentmgr.apiclients.external_refs` — customers by a client's own reference;
- :mod:`consentmgr.apiclients.records` — audited reads and lookups of customer records;
- :mod:`consentmgr.apiclients.idempotency` — Idempotency-Key claims and replays;
- :mod:`consentmgr.apiclients.restriction` — restricted records (Art. 18) refused to clients;
- :mod:`consentmgr.apiclients.feed_readers` — how far each client read the change feed (Art. 19);
- :mod:`consentmgr.apiclients.traces` — what names a customer, forgotten at erasure (Art. 17).
"""

from __future__ import annotations

from consentmgr.apiclients.auth import (
    DEFAULT_CACHE_SECONDS,
    KEY_MARKER,
    LAST_USED_EVERY,
    AuthenticatedClient,
    InvalidApiKey,
    ScopeMissing,
    authenticate,
    configured_cache_seconds,
    forget_cached_clients,
    forget_client,
    hash_key,
    record_use,
    use_is_due,
    use_is_recorded,
)
from consentmgr.apiclients.clients import (
    MAX_NAME,
    PREFIX_LENGTH,
    SCOPES,
    ApiClientNotFound,
    create_client,
    generate_key,
    get_client,
    list_clients,
    revoke_client,
)
from consentmgr.apiclients.external_refs import (
    MAX_EXTERNAL_REF,
    EmailInUse,
    correct_customer,
    customer_by_external_ref,
    external_ref_indexer,
    external_ref_of,
    upsert_customer,
)
from consentmgr.apiclients.feed_readers import (
    clients_past,
    completion_cursor,
    notified_clients,
    record_feed_read,
)
from consentmgr.apiclients.idempotency import (
    IDEMPOTENCY_TTL,
    AnswerErased,
    IdempotencyKeyReused,
    StoredResponse,
    claim_idempotency_key,
    complete_idempotency_key,
    purge_idempotency_keys,
    request_fingerprint,
    stored_response,
)
from consentmgr.apiclients.records import customer_record, lookup_customer, read_customer
from consentmgr.apiclients.restriction import CustomerRestricted, refuse_if_restricted
from consentmgr.apiclients.traces import forget_customer

__all__ = [
    "DEFAULT_CACHE_SECONDS", "IDEMPOTENCY_TTL", "KEY_MARKER", "LAST_USED_EVERY",
    "MAX_EXTERNAL_REF", "MAX_NAME", "PREFIX_LENGTH", "SCOPES", "AnswerErased", "ApiClientNotFound",
    "AuthenticatedClient", "CustomerRestricted", "EmailInUse", "IdempotencyKeyReused",
    "InvalidApiKey", "ScopeMissing", "StoredResponse", "authenticate", "claim_idempotency_key",
    "clients_past", "complete_idempotency_key", "completion_cursor", "configured_cache_seconds",
    "correct_customer", "create_client", "customer_by_external_ref", "customer_record",
    "external_ref_indexer", "external_ref_of", "forget_cached_clients", "forget_client",
    "forget_customer", "generate_key", "get_client", "hash_key", "list_clients",
    "lookup_customer", "notified_clients", "purge_idempotency_keys",
    "read_customer", "record_feed_read", "record_use", "refuse_if_restricted",
    "request_fingerprint", "revoke_client", "stored_response", "upsert_customer", "use_is_due",
    "use_is_recorded",
]
