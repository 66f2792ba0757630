#!/usr/bin/env python3
"""Independent reference for the storage API's byte-level rules (docs/node.md "Signed requests",
"Proof of work"): the canonical signed request is encoded by hand from proto/storage.proto and
proto/signed.proto, Ed25519 comes from the `cryptography` package, the Session ID's X25519 key is
converted from the Ed25519 key with the birational map u = (1 + y) / (1 - y) mod 2^255 - 19, and
the hashes come from hashlib. No Shoal code. Writes vectors.json, which tests/node/vectors.c
checks the C implementation against. Run: python3 gen_vectors.py > vectors.json"""
import hashlib
import json
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

P = 2**255 - 19


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


def f_msg(field, b):
    return key(field, 2) + varint(len(b)) + b  # a present sub-message, even when empty


def pattern(n, start):
    return bytes((start + 7 * i) & 0xFF for i in range(n))


def session_id(ed_pk):
    y = int.from_bytes(ed_pk, "little") & ((1 << 255) - 1)
    u = (1 + y) * pow(1 - y, P - 2, P) % P
    return b"\x05" + u.to_bytes(32, "little")


def msg_hash(owner, ns, data):
    return hashlib.blake2b(owner + struct.pack(">h", ns) + data, digest_size=32,
                           person=b"shoal/msghash/v1").digest()


def pow_hash(owner, mhash, ts, nonce):
    return hashlib.blake2b(b"shoal/storage/pow/v1" + owner + mhash + struct.pack(">QQ", ts, nonce),
                           digest_size=32).digest()


def zero_bits(h):
    n = 0
    for b in h:
        if b == 0:
            n += 8
            continue
        while not b & 0x80:
            n += 1
            b <<= 1
        break
    return n


seed = pattern(16, 21)
sk = Ed25519PrivateKey.from_private_bytes(seed + bytes(16))
pk = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
owner = session_id(pk)
ts = 1700000000123
nonce = pattern(16, 60)


def request(method, ns, params_field, params, signed=True):
    body = f_bytes(1, b"shoal/storage/request/v1") + f_bytes(2, method) + f_bytes(3, owner)
    body += f_sint32(4, ns) + f_varint(5, ts)
    if signed:
        body += f_bytes(6, nonce) + f_bytes(7, pk)
    body += f_msg(params_field, params)
    sig = sk.sign(body) if signed else b""
    return (f_bytes(1, body) + f_bytes(2, sig)).hex()


data = b"a message for the vector"
store = request(b"store", 2, 9, f_bytes(1, data) + f_varint(2, 86400000))
hashes = [pattern(32, 1), pattern(32, 2)]
delete = request(b"delete", 4, 11, b"".join(f_bytes(1, h) for h in hashes))
retrieve = request(b"retrieve", 10,  10,
                   f_msg(1, f_varint(1, ts - 5) + f_bytes(2, pattern(32, 3))) + f_varint(2, 1) +
                   f_varint(3, 50) + f_varint(4, 4096) + f_varint(5, 2500), signed=False)

inbox_data = b"sealed envelope"
mh = msg_hash(owner, 0, inbox_data)
solved = next(n for n in range(1 << 20) if zero_bits(pow_hash(owner, mh, ts, n)) >= 10)
anon = request(b"store", 0, 9, f_bytes(1, inbox_data) + f_varint(2, 3600000) + f_varint(3, solved),
               signed=False)

print(json.dumps({
    "account_seed": seed.hex(), "owner": owner.hex(), "signer": pk.hex(), "timestamp_ms": ts,
    "nonce": nonce.hex(),
    "store": {"body": store, "ns": 2, "data": data.hex(), "ttl_ms": 86400000},
    "delete": {"body": delete, "ns": 4, "hashes": [h.hex() for h in hashes]},
    "retrieve": {"body": retrieve, "ns": 10, "after_ts": ts - 5, "after_hash": pattern(32, 3).hex(),
                 "max_count": 50, "max_bytes": 4096, "wait_ms": 2500},
    "pow": {"data": inbox_data.hex(), "msg_hash": mh.hex(), "nonce": solved, "bits": 10,
            "hash": pow_hash(owner, mh, ts, solved).hex(),
            "hash_nonce_0": pow_hash(owner, mh, ts, 0).hex(),
            "bits_nonce_0": zero_bits(pow_hash(owner, mh, ts, 0)), "body": anon},
}, indent=1))
