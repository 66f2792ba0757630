#!/usr/bin/env python3
"""Independent reference for subaccount tokens and token revocation lists (docs/identity.md
"Subaccount tokens"): the protobuf encoding is written out by hand from proto/identity.proto and
proto/signed.proto, Ed25519 comes from the `cryptography` package (no Shoal code). Writes
token_vectors.json, which tests/identity/token.c checks the C implementation against.
Run: python3 gen_token_vectors.py > token_vectors.json"""
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, v):
    return key(field, 0) + varint(v) if v else b""


def f_sint32(field, v):
    return f_varint(field, (v << 1) ^ (v >> 31) if v < 0 else v << 1)


def f_bytes(field, b):
    return key(field, 2) + varint(len(b)) + b if b else b""


def pattern(n, start):
    return bytes((start + 7 * i) & 0xFF for i in range(n))


def account(seed16):
    sk = Ed25519PrivateKey.from_private_bytes(seed16 + bytes(16))
    pk = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return sk, pk


def signed(sk, body):
    return f_bytes(1, body) + f_bytes(2, sk.sign(body))


seed = pattern(16, 11)
sk, pk = account(seed)
device_pk = pattern(32, 40)
token_id = pattern(16, 90)
grants = [(0, 1 | 4), (2, 7), (10, 3), (-5, 2)]
body = f_bytes(1, b"shoal/e2e/subaccount-token/v1") + f_bytes(2, pk) + f_bytes(3, device_pk)
body += f_varint(4, 3) + f_bytes(5, token_id)
for ns, rights in grants:
    body += f_bytes(6, f_sint32(1, ns) + f_varint(2, rights))
body += f_varint(7, 1700000000000) + f_varint(8, 1731536000000)
token = signed(sk, body)

ids = [pattern(16, 100 + i) for i in range(3)]
rl_body = f_bytes(1, b"shoal/e2e/token-revocations/v1") + f_bytes(2, pk) + f_varint(3, 4)
rl_body += f_varint(4, 1700000100000) + b"".join(f_bytes(5, i) for i in ids)
rl = signed(sk, rl_body)

print(json.dumps({
    "account_seed": seed.hex(),
    "account_ed25519_pk": pk.hex(),
    "token": {"device_ed25519_pk": device_pk.hex(), "device_id": 3, "token_id": token_id.hex(),
              "grants": [[ns, r] for ns, r in grants], "issued_ms": 1700000000000,
              "expires_ms": 1731536000000, "signed": token.hex()},
    "revocations": {"counter": 4, "timestamp_ms": 1700000100000,
                    "ids": [i.hex() for i in ids], "signed": rl.hex()},
}, indent=1))
