"""Field-level encryption primitives.

Pure functions and small classes over ``cryptography``'s AES-GCM, HKDF and
HMAC. Nothing here knows about Flask or the database: the key store and the
model columns in :mod:`consentmgr.keys` build on it.
"""

from consentmgr.crypto.errors import CryptoError, DecryptionError, KeyConfigError
from consentmgr.crypto.keyring import KeyRing, MasterKey, generate_keyring, parse_keyring
from consentmgr.crypto.envelope import FieldCipher, read_header
from consentmgr.crypto.wrapping import generate_data_key, unwrap_data_key, wrap_data_key
from consentmgr.crypto.blind_index import BlindIndexer, normalise_email

__all__ = [
    "BlindIndexer",
    "CryptoError",
    "DecryptionError",
    "FieldCipher",
    "KeyConfigError",
    "KeyRing",
    "MasterKey",
    "generate_data_key",
    "generate_keyring",
    "normalise_email",
    "parse_keyring",
    "read_header",
    "unwrap_data_key",
    "wrap_data_key",
]
