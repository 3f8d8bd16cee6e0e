"""Signed webhooks: other systems told of changes by HTTP POST, signed per Standard Webhooks.

A subscription (an API client's URL and the event types it wants) is held
with its secret encrypted under its own data key (:mod:`.models`). The
worker reads the change feed -- the audit trail, the same source as
``GET /api/v1/events`` -- from a cursor of its own, writes one delivery per
matching subscription (:mod:`.events`), and sends it signed, with retries
and a dead-letter state (:mod:`.delivery`, :mod:`.dispatcher`). Every
target address is checked against SSRF at registration and again before
each attempt (:mod:`.targets`).
"""
