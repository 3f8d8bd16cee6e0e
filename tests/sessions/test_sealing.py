"""Session data sealed under a key only the cookie's holder has."""

from __future__ import annotations

import pytest

from consentmgr.sessions.sealing import SealBroken, seal, unseal
from consentmgr.tokens import issue_token

AD = b"0" * 64 + b"|staff"


def test_sealed_data_opens_with_its_id():
    token = issue_token(32).token
    assert unseal(token, seal(token, b'{"staff_id": "x"}', associated=AD), associated=AD) == \
        b'{"staff_id": "x"}'


def test_sealed_data_holds_no_plaintext():
    token = issue_token(32).token
    assert b"staff_id" not in seal(token, b'{"staff_id": "x"}', associated=AD)


def test_sealed_data_does_not_open_with_another_id():
    sealed = seal(issue_token(32).token, b"data", associated=AD)
    with pytest.raises(SealBroken):
        unseal(issue_token(32).token, sealed, associated=AD)


def test_sealed_data_moved_to_another_row_fails_to_open():
    token = issue_token(32).token
    sealed = seal(token, b"data", associated=AD)
    with pytest.raises(SealBroken):
        unseal(token, sealed, associated=b"1" * 64 + b"|staff")


@pytest.mark.parametrize("damage", [lambda b: b[:-1] + bytes([b[-1] ^ 1]), lambda b: b"\x02" + b[1:],
                                    lambda b: b[:10], lambda b: b""])
def test_damaged_data_fails_to_open(damage):
    token = issue_token(32).token
    with pytest.raises(SealBroken):
        unseal(token, damage(seal(token, b"data", associated=AD)), associated=AD)
