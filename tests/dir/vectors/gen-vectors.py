#!/usr/bin/env python3
"""Independent vectors for the directory formats (docs/directory.md, proto/dir.proto).

Written from the format description alone, without protobuf-c or libshoal: a hand-rolled
protobuf encoder (proto3 rules: fields in number order, default values left out, sub-messages
always written), Ed25519 and X25519 from python3-cryptography, BLAKE2b from hashlib, and
ristretto255 points from RFC 9496 appendix A.1. The C tests (tests/dir/vectors.c) decode and
verify these bytes and check that libshoal encodes the same values to the same bytes.

Run: python3 tests/dir/vectors/gen-vectors.py > tests/dir/vectors/dir.json
"""
import hashlib
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

L_DESCRIPTOR = "shoal/dir/descriptor/v1"
L_ONION = "shoal/dir/onion-key/v1"
L_OPERATOR = "shoal/dir/operator-cert/v1"
L_VOTE = "shoal/dir/vote/v1"
L_MAP = "shoal/dir/map/v1"
L_NETWORK_ID = "shoal/dir/network-id/v1"
L_SWARM_SEED = "shoal/dir/swarm-seed/v1"
L_SWARM_ORDER = "shoal/dir/swarm-order/v1"

# RFC 9496 A.1: encodings of B, 2B, ... 6B.
RISTRETTO = [bytes.fromhex(h) for h in (
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
    "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
    "e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
    "f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403")]

NOW = 1735689600000          # 2025-01-01T00:00:00Z
HOUR = 3600 * 1000


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(num, wire):
    return varint(num << 3 | wire)


def f_uint(num, v):
    return b"" if v == 0 else tag(num, 0) + varint(v)


def f_bytes(num, b):
    return b"" if len(b) == 0 else tag(num, 2) + varint(len(b)) + b


def f_str(num, s):
    return f_bytes(num, s.encode())


def f_msg(num, b):
    return tag(num, 2) + varint(len(b)) + b


def blake2b(*parts):
    h = hashlib.blake2b(digest_size=32)
    for p in parts:
        h.update(p)
    return h.digest()


def label(s):
    """Labels enter hashes as their bytes followed by one zero byte."""
    return s.encode() + b"\0"


class Key:
    def __init__(self, name):
        seed = hashlib.sha256(name.encode()).digest()
        self.seed = seed
        self.sk = Ed25519PrivateKey.from_private_bytes(seed)
        self.pk = self.sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = X25519PrivateKey.from_private_bytes(hashlib.sha256(b"link " + seed).digest())
        self.link = x.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(self, msg):
        return self.sk.sign(msg)


def onion_key(identity, epoch, pk, after, until):
    return (f_str(1, L_ONION) + f_bytes(2, identity) + f_uint(3, epoch) + f_bytes(4, pk) +
            f_uint(5, after) + f_uint(6, until))


class Node:
    def __init__(self, n, key, address, contact, operator=None, flags=0):
        self.key, self.address, self.contact, self.flags = key, address, contact, flags
        self.version = "shoald 0.1.0"
        self.cur = onion_key(key.pk, 100, RISTRETTO[2 * n], NOW - HOUR, NOW + 23 * HOUR)
        self.next = onion_key(key.pk, 101, RISTRETTO[2 * n + 1], NOW + 22 * HOUR, NOW + 47 * HOUR)
        self.cur_sig = key.sign(self.cur)
        self.next_sig = key.sign(self.next)
        self.operator = operator
        self.swarm = 0

    def descriptor(self, published):
        body = (f_str(1, L_DESCRIPTOR) + f_bytes(2, self.key.pk) + f_bytes(3, self.key.link) +
                f_msg(4, self.cur) + f_bytes(5, self.cur_sig) + f_msg(6, self.next) +
                f_bytes(7, self.next_sig) + f_str(8, self.address) + f_str(9, self.version) +
                f_str(10, self.contact) + f_uint(11, published))
        if self.operator is not None:
            cert = f_str(1, L_OPERATOR) + f_bytes(2, self.operator.pk) + f_bytes(3, self.key.pk)
            body += f_msg(12, cert) + f_bytes(13, self.operator.sign(cert))
        return f_bytes(1, body) + f_bytes(2, self.key.sign(body))

    def entry(self, with_swarm):
        return (f_bytes(1, self.key.pk) + f_bytes(2, self.key.link) + f_msg(3, self.cur) +
                f_bytes(4, self.cur_sig) + f_msg(5, self.next) + f_bytes(6, self.next_sig) +
                f_str(7, self.address) + f_str(8, self.version) + f_str(9, self.contact) +
                f_bytes(10, self.operator.pk if self.operator else b"") + f_uint(11, self.flags) +
                f_uint(12, self.swarm if with_swarm else 0))


def network_text(auths, k, name, target, min_, grace):
    lines = ["shoal-network 1", "name " + name, "k %d" % k, "swarm-target %d" % target,
             "swarm-min %d" % min_, "swarm-merge-grace-ms %d" % grace]
    for a in sorted(auths, key=lambda a: a.pk):
        lines.append("authority %s %s %s" % (a.pk.hex(), a.link.hex(), a.address))
    return "\n".join(lines) + "\n"


def map_body(net_id, version, after, until, seed, swarms, nodes):
    body = (f_str(1, L_MAP) + f_bytes(2, net_id) + f_uint(3, version) + f_uint(4, after) +
            f_uint(5, until) + f_uint(6, 4) + f_uint(7, 3) + f_uint(8, 600000) + f_bytes(9, seed))
    for sid, since in swarms:
        body += f_msg(10, f_uint(1, sid) + f_uint(2, since))
    for n in sorted(nodes, key=lambda n: n.key.pk):
        body += f_msg(11, n.entry(True))
    return body


def vote(auth, net_id, after, until, prev, nodes):
    body = (f_str(1, L_VOTE) + f_bytes(2, auth.pk) + f_bytes(3, net_id) + f_uint(4, after) +
            f_uint(5, until))
    if prev is not None:
        version, prev_body = prev
        body += f_uint(6, version) + f_bytes(7, blake2b(prev_body)) + f_bytes(8, auth.sign(prev_body))
    for n in sorted(nodes, key=lambda n: n.key.pk):
        body += f_msg(9, n.entry(False))
    return f_bytes(1, body) + f_bytes(2, auth.sign(body))


def main():
    auths = [Key("authority %d" % i) for i in range(3)]
    for i, a in enumerate(auths):
        a.address = "192.0.2.%d:7100" % (i + 1)
    text = network_text(auths, 2, "vectors", 4, 3, 600000)
    net_id = blake2b(label(L_NETWORK_ID), text.encode())

    operator = Key("operator 1")
    nodes = [Node(0, Key("node 0"), "198.51.100.7:7000", "ops@example.org", operator),
             Node(1, Key("node 1"), "[2001:db8::7]:443", "", None, flags=1),
             Node(2, Key("node 2"), "203.0.113.9:7000", "n2@example.net")]
    descriptor = nodes[0].descriptor(NOW - 5000)

    # A map (version 7) with two swarms, signed by two of the three authorities.
    swarm_a, swarm_b = 0x1234567890abcdef, 0x9234567890abcdef
    nodes[0].swarm = nodes[1].swarm = swarm_a
    nodes[2].swarm = swarm_b
    seed = blake2b(b"a seed")
    body = map_body(net_id, 7, NOW - HOUR, NOW + HOUR, seed, [(swarm_a, 0), (swarm_b, NOW - HOUR)], nodes)
    signers = sorted(auths[:2], key=lambda a: a.pk)
    published = f_bytes(1, body)
    for a in signers:
        published += f_msg(2, f_bytes(1, a.pk) + f_bytes(2, a.sign(body)))

    # A vote on that map by authority 2.
    vote_bytes = vote(auths[2], net_id, NOW + HOUR, NOW + 2 * HOUR, (7, body), nodes)

    # The first consensus from three votes: one swarm (3 nodes = min), placed by the seed.
    afters = [NOW + 10 * 60000, NOW, NOW + 5 * 60000]
    votes = [vote(a, net_id, afters[i], afters[i] + HOUR, None, nodes) for i, a in enumerate(auths)]
    cseed = blake2b(label(L_SWARM_SEED), net_id, bytes(32),
                    *[a.pk + bytes(64) for a in sorted(auths, key=lambda a: a.pk)])
    first = int.from_bytes(blake2b(label(L_SWARM_ORDER), cseed, bytes(32))[:8], "big")
    for n in nodes:
        n.swarm = first
    consensus_body = map_body(net_id, 1, NOW + 5 * 60000, NOW + 5 * 60000 + HOUR, cseed,
                              [(first, 0)], nodes)

    print(json.dumps({
        "source": "tests/dir/vectors/gen-vectors.py (independent encoder; see its header)",
        "now_ms": NOW,
        "network": {"text": text, "id": net_id.hex()},
        "descriptor": {"signed": descriptor.hex(), "identity": nodes[0].key.pk.hex(),
                       "identity_seed": nodes[0].key.seed.hex(), "operator_seed": operator.seed.hex(),
                       "published_ms": NOW - 5000},
        "map": {"published": published.hex(), "body_hash": blake2b(body).hex(), "version": 7,
                "node_count": 3, "swarms": ["%d" % swarm_a, "%d" % swarm_b]},
        "vote": {"signed": vote_bytes.hex(), "authority_seed": auths[2].seed.hex(),
                 "valid_after_ms": NOW + HOUR, "valid_until_ms": NOW + 2 * HOUR},
        "consensus": {"votes": [v.hex() for v in votes], "body": consensus_body.hex(),
                      "first_swarm": "%d" % first},
    }, indent=1))


if __name__ == "__main__":
    main()
