#!/usr/bin/env python3
"""Independent reference for Protocol V2's byte-level rules (docs/protocol-v2.md), written from
the document with Python's hashlib/hmac only (no Shoal code). Writes vectors.json, which
tests/e2e/formats.c checks the C implementation against. Run: python3 gen_vectors.py > vectors.json
"""
import base64
import hashlib
import hmac
import json
import struct


def hkdf(salt, ikm, info, length):
    if not salt:
        salt = b"\0" * 32
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def pattern(n, start):
    return bytes((start + 7 * i) & 0xFF for i in range(n))


def u32(v):
    return struct.pack(">I", v)


vec = {}

# Root chain: RK', CK, NHK = HKDF(salt=RK, ikm=DH, info=label).
rk, dh = pattern(32, 1), pattern(32, 2)
okm = hkdf(rk, dh, b"shoal/e2e/ratchet/root/v1", 96)
vec["kdf_rk"] = {"rk": rk.hex(), "dh": dh.hex(), "rk_out": okm[:32].hex(), "ck": okm[32:64].hex(),
                 "nhk": okm[64:].hex()}

# Symmetric chain: MK = HMAC(CK, label_msg), CK' = HMAC(CK, label_next), three steps.
ck = pattern(32, 3)
steps = []
for _ in range(3):
    mk = hmac.new(ck, b"shoal/e2e/ratchet/chain/message/v1", hashlib.sha256).digest()
    ck = hmac.new(ck, b"shoal/e2e/ratchet/chain/next/v1", hashlib.sha256).digest()
    steps.append({"mk": mk.hex(), "ck": ck.hex()})
vec["kdf_ck"] = {"ck": pattern(32, 3).hex(), "steps": steps}

# Message key: HKDF(salt = epoch secret, ikm = chain output, info = label || u32 epoch).
es, mkdr = pattern(32, 4), pattern(32, 5)
vec["message_key"] = {"epoch_secret": es.hex(), "mk_dr": mkdr.hex(), "epoch": 7,
                      "mk": hkdf(es, mkdr, b"shoal/e2e/message-key/v1" + u32(7), 32).hex()}

# Epoch secret: HKDF(salt = ES_{t-1}, ikm = ss, info = label || u32 t || SHA256(ek) || SHA256(ct)).
prev, ss, ek, ct = pattern(32, 6), pattern(32, 8), pattern(1184, 9), pattern(1088, 10)
info = b"shoal/e2e/spqr/epoch/v1" + u32(3) + hashlib.sha256(ek).digest() + hashlib.sha256(ct).digest()
vec["epoch_secret"] = {"prev": prev.hex(), "ss": ss.hex(), "epoch": 3, "ek_start": 9, "ct_start": 10,
                       "secret": hkdf(prev, ss, info, 32).hex()}

# Handshake: transcript and KDF.
A = dict(account=pattern(32, 11), device_id=1, device_ed=pattern(32, 12), identity=pattern(32, 13))
B = dict(account=pattern(32, 14), device_id=3, device_ed=pattern(32, 15), identity=pattern(32, 16))
spk, pqspk, eph, kct, repl = pattern(32, 17), pattern(1184, 18), pattern(32, 19), pattern(1088, 20), bytes(32)
th = hashlib.sha256()
th.update(b"shoal/e2e/pqxdh/transcript/v1")
for p in (A, B):
    th.update(p["account"] + u32(p["device_id"]) + p["device_ed"] + p["identity"])
th.update(u32(5) + u32(5) + spk + pqspk + eph + kct + repl)
th = th.digest()
d1, d2, d3, hss = pattern(32, 21), pattern(32, 22), pattern(32, 23), pattern(32, 24)
keys = hkdf(th, d1 + d2 + d3 + hss, b"shoal/e2e/pqxdh/kdf/v1", 128)
init = bytes([1]) + u32(5) + u32(5) + eph + kct + repl
vec["handshake"] = {"th": th.hex(), "dh1": d1.hex(), "dh2": d2.hex(), "dh3": d3.hex(), "ss": hss.hex(),
                    "root": keys[:32].hex(), "hk_initiator": keys[32:64].hex(),
                    "nhk_responder": keys[64:96].hex(), "epoch0": keys[96:].hex(),
                    "init_sha256": hashlib.sha256(init).hexdigest()}

# Header layout (115 bytes).
hdr = bytes([1, 1]) + pattern(32, 25) + u32(4) + u32(9) + u32(2) + u32(3) + bytes([200]) + pattern(64, 26)
vec["header"] = {"hex": hdr.hex(), "pn": 4, "n": 9, "epoch": 2, "chunk_epoch": 3, "chunk_index": 200}


# Reed-Solomon over GF(2^8) / 0x11d, systematic, evaluation points = chunk index.
def gf_mul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11D
        b >>= 1
    return r


def gf_inv(a):
    r = 1
    for _ in range(254):
        r = gf_mul(r, a)
    return r


def rs_chunk(data, index):
    k = (len(data) + 63) // 64
    chunks = [data[i * 64:(i + 1) * 64].ljust(64, b"\0") for i in range(k)]
    if index < k:
        return chunks[index]
    out = bytearray(64)
    for m in range(k):
        num, den = 1, 1
        for l in range(k):
            if l != m:
                num = gf_mul(num, index ^ l)
                den = gf_mul(den, m ^ l)
        c = gf_mul(num, gf_inv(den))
        for j in range(64):
            out[j] ^= gf_mul(c, chunks[m][j])
    return bytes(out)


data = pattern(1088, 27)
vec["erasure"] = {"data_start": 27, "len": 1088,
                  "chunks": {str(i): rs_chunk(data, i).hex() for i in (0, 16, 17, 18, 100, 255)}}

# Envelope seed of generation 2: HKDF(no salt, ikm = 16-byte account seed, label || u32 gen).
seed16 = pattern(16, 28)
vec["envelope_seed"] = {"seed": seed16.hex(), "generation": 2,
                        "out": hkdf(b"", seed16, b"shoal/e2e/envelope-seed/v1" + u32(2), 32).hex()}

# Link code: "SL1" + base32(account || secret || BLAKE2b-16bit(account || secret)), no padding.
acct, secret = pattern(32, 29), pattern(16, 30)
check = hashlib.blake2b(acct + secret, digest_size=2).digest()
code = "SL1" + base64.b32encode(acct + secret + check).decode().rstrip("=")
vec["link_code"] = {"account": acct.hex(), "secret": secret.hex(), "code": code}

# SAS: 5 bytes from HKDF(no salt, secret, label || account || request hash); 6 x 6 bits.
rh = pattern(32, 31)
bits = hkdf(b"", secret, b"shoal/e2e/link/sas/v1" + acct + rh, 5)
v = int.from_bytes(bits, "big")
vec["sas"] = {"secret": secret.hex(), "account": acct.hex(), "request_hash": rh.hex(), "bits": bits.hex(),
              "indices": [(v >> (40 - 6 * (i + 1))) & 63 for i in range(6)]}

# Slot associated data: BLAKE2b-256(label || cert || conversation || payload || u32 device id).
cert, conv, payload = pattern(200, 32), pattern(32, 33), pattern(300, 34)
vec["slot_ad"] = {"cert_start": 32, "conv_start": 33, "payload_start": 34, "device_id": 6,
                  "ad": hashlib.blake2b(b"shoal/e2e/envelope/slot/v1" + cert + conv + payload + u32(6),
                                        digest_size=32).hexdigest()}

print(json.dumps(vec, indent=1, sort_keys=True))
