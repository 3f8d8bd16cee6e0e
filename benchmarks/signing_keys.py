"""Receipt and checkpoint verification against a signing-key ring: does the ring's size matter?

Signs N receipt-sized JWS (a Kantara-like payload of about 1.5 kB) with
the first key of rings of 1, 2, 5 and 20 keys, then verifies each with the
whole ring, as ``verify-receipt``, the portal and ``audit verify`` do: the
JWS header's ``kid`` picks the key, so the expected answer is "no" (no key
is tried in turn). Also times verification of a token signed by the
*oldest* key of the ring (a receipt from before every rotation), and
parsing the ring from its configuration text (once per process start).

Pure CPU, no database. Run: ``.venv/bin/python benchmarks/signing_keys.py [--count N]``.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consentmgr.crypto.signing import (  # noqa: E402
    SigningKeyRing,
    jws_sign,
    jws_verify,
    parse_signing_keyring,
)

PAYLOAD = {"version": "KI-CR-v1.1.0", "consentReceiptID": "0" * 36,
           "padding": "x" * 1400, "consentTimestamp": 1_800_000_000}


def _rate(run, count: int, rounds: int = 3) -> float:
    """Median operations per second over ``rounds`` runs of ``count`` operations."""
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        run(count)
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    """Print verifications per second by ring size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="tokens per round")
    args = parser.parse_args()
    print(f"{'ring':>5} {'sign/s':>9} {'verify newest/s':>16} {'verify oldest/s':>16} "
          f"{'parse ring ms':>14}")
    for size in (1, 2, 5, 20):
        text = ",".join(base64.b64encode(os.urandom(32)).decode() for _ in range(size))
        start = time.perf_counter()
        ring: SigningKeyRing = parse_signing_keyring(text, source="bench")
        parse_ms = (time.perf_counter() - start) * 1000
        newest = jws_sign(PAYLOAD, ring.current)
        oldest = jws_sign(PAYLOAD, ring.keys[-1])

        def sign(n: int) -> None:
            for _ in range(n):
                jws_sign(PAYLOAD, ring.current)

        def verify(token: str):
            def run(n: int) -> None:
                for _ in range(n):
                    jws_verify(token, ring.verifying_keys())
            return run

        print(f"{size:>5} {_rate(sign, args.count):>9.0f} {_rate(verify(newest), args.count):>16.0f} "
              f"{_rate(verify(oldest), args.count):>16.0f} {parse_ms:>14.2f}")


if __name__ == "__main__":
    main()
