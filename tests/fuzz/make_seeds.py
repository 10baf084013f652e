#!/usr/bin/env python3
"""Write the seed corpora of tests/fuzz (corpus/<target>/): well-formed
inputs of each format plus a few broken ones, so that the fuzzer starts from
the shapes the code really reads. Run once; the output is committed.
    python3 tests/fuzz/make_seeds.py
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pj(sel, key, value):
    key = key.encode()
    put("pessimism_json", bytes([sel, len(key)]) + key + value.encode())


K = "/ddlcoord/shardddl-pessimism/info/74/73"
pj(0, K, '{"task":"t","source":"s","schema":"d","table":"x","ddls":["A"],"extra":{"k":1}}')
pj(0, K, '{"task":"t","source":"s","schema":"d","table":"x","ddls":[]}')
pj(0, K, '{"task":"t","source":"s","schema":"d","table":"x","ddls":["ALTER TABLE x ADD c INT","B"]}')
pj(0, K, '{"task":1,"source":"s"')
pj(1, K, '{"id":"t-`d`.`x`","task":"t","source":"s","ddls":["A"],"exec":true,"done":false}')
pj(1, K, '{"id":"x","task":"t","source":"s","ddls":null,"exec":false,"done":true}')
pj(1, K, '{"id":"x","task":"t","source":"s","ddls":[],"exec":"yes","done":false}')
pj(2, K, '{"id":"t-`d`.`x`","ddls":["A"],"position":"p","op_revision":7,"exec":true,'
         '"done":false,"intent":true,"attempt":2}')
pj(2, K, '{"id":"x","ddls":[],"position":null,"op_revision":1,"exec":false,"done":true}')
pj(3, K, '{"id":"t-`d`.`x`","info_revision":12,"message":"different DDLs"}')
pj(3, K, '{"id":"x","info_revision":1e300,"message":""}')
pj(4, "/a/1", '{"op":"unlock","lock_id":"t-`d`.`x`","owner":"s","force_remove":true,'
              '"assume":"executed","wait_ms":1000}')
pj(4, "/a/1", '{"op":"unlock","lock_id":"x","assume":"not-executed"}')
pj(4, "/a/1", '{"op":"remove-meta","task":"t"}')
pj(4, "/a/1", '{"op":"unlock","lock_id":"x","wait_ms":1.5}')
pj(5, "", '{"ok":true,"code":0,"message":"unlocked","master":"m1"}')
pj(5, "", '{"ok":false,"code":-3,"message":"no such lock","master":""}')

for u in ["etcd://127.0.0.1:2379", "etcd+https://u:p%40ss@h1:1,h2:2,[::1]:3/ns?request_timeout_ms=5",
          "redis://:secret@127.0.0.1:6379/0?mode=lua&allow_unsafe_durability=1",
          "zk://127.0.0.1:2181,127.0.0.1:2182/chroot?session_timeout_ms=2000",
          "mem://name", "mem://", "http://[::1", "etcd://h:99999", "x://a@b@c:1?token=t&password=p",
          "etcd://%zz@h/p%2"]:
    put("uri", u.encode())

for ini in ["uri = etcd://127.0.0.1:2379\nrequest_timeout_ms = 5000\n",
            "[store]\nuri=redis://h\nmode=multi\n; comment\n# other\n",
            "[a]\nx=1\n[b]\nx=99999999999999999999\n",
            "no equals sign\n", "=value\n", "[unterminated\nk=v\n",
            "key = \"quoted value\" ; trailing\n", "\xef\xbb\xbfk=v\n"]:
    put("config", ini.encode("latin-1") if "\xef" in ini else ini.encode())


def bulk(s):
    s = s.encode() if isinstance(s, str) else s
    return b"$%d\r\n%s\r\n" % (len(s), s)


def arr(*xs):
    return b"*%d\r\n" % len(xs) + b"".join(xs)


flat = arr(bulk("/k/a"), bulk("v1"), b":3\r\n", bulk("5"), bulk("2"), bulk("0"),
           bulk("/k/b"), b"$-1\r\n", bulk("4"), bulk("4"), bulk("1"), bulk("7"))
put("redis_reply", flat)
put("redis_reply", arr(bulk("v"), bulk("3"), bulk("5"), bulk("2"), b"$-1\r\n"))
put("redis_reply", arr(bulk("12-0"), arr(bulk("t"), bulk("P"), bulk("k"), bulk("/k/a"), bulk("v"),
                                         bulk("val"), bulk("n"), bulk("1"), bulk("c"), bulk("3"),
                                         bulk("ver"), bulk("2"), bulk("pc"), bulk("3"), bulk("pm"),
                                         bulk("9"), bulk("pv"), bulk("old"), bulk("pver"), bulk("1"))))
put("redis_reply", arr(bulk("13-1"), arr(bulk("t"), bulk("D"), bulk("k"), bulk("/k/a"), bulk("n"),
                                         bulk("2"))))
put("redis_reply", arr(b":1\r\n", b"+OK\r\n", arr(flat), b"-ERR epoch changed\r\n"))
put("redis_reply", b":9223372036854775807\r\n")
put("redis_reply", bulk("-9223372036854775809"))
put("redis_reply", b"%2\r\n+a\r\n:1\r\n+b\r\n_\r\n")  # RESP3 map


def zkbytes(b):
    return struct.pack(">I", len(b)) + b


def zkev(typ, key, val, cr, ver, lease, prev=None):
    out = bytes([typ]) + zkbytes(key) + zkbytes(val) + struct.pack(">qqq", cr, ver, lease)
    if prev is None:
        return out + b"\x00"
    return out + b"\x01" + zkbytes(prev[0]) + struct.pack(">qqqq", *prev[1:])


tok = bytes(range(16))
for evs in [[zkev(0, b"/k/a", b"v", 0, 1, 0)],
            [zkev(0, b"/k/a", b"v2", 5, 2, 0, (b"v1", 5, 5, 1, 0)), zkev(1, b"/k/b", b"", 0, 0, 0,
                                                                          (b"x", 3, 4, 2, 9))]]:
    put("zk_codec", b"\x01ZE1" + tok + struct.pack(">I", len(evs)) + b"".join(evs))
put("zk_codec", b"\x00\x00value")
put("zk_codec", b"\x00\x01" + struct.pack(">q", 77) + b"value")
put("zk_codec", b"\x02k%2Fk%2Fa")
put("zk_codec", b"\x02kabc%zz")


def frame(msg):
    return b"\x00" + struct.pack(">I", len(msg)) + msg


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wt, payload):
    key = varint(num << 3 | wt)
    if wt == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def kv(k, v, cr, mod, ver, lease=0):
    return (field(1, 2, k) + field(2, 0, cr) + field(3, 0, mod) + field(4, 0, ver) +
            field(5, 2, v) + (field(6, 0, lease) if lease else b""))


hdr = field(1, 0, 1) + field(2, 0, 2) + field(3, 0, 17) + field(4, 0, 3)
rng = field(1, 2, hdr) + field(2, 2, kv(b"/k/a", b"v", 2, 5, 3)) + field(2, 2, kv(b"/k/b", b"", 4, 4, 1, 7)) \
    + field(4, 0, 2)
put("etcd_pb", bytes([0]) + frame(rng))
put("etcd_pb", bytes([1]) + frame(field(1, 2, hdr) + field(2, 2, kv(b"/k/a", b"old", 2, 4, 2))))
put("etcd_pb", bytes([2]) + frame(field(1, 2, hdr) + field(2, 0, 1) + field(3, 2, kv(b"/k/a", b"x", 2, 4, 2))))
op_range = field(1, 2, rng)
op_put = field(2, 2, field(1, 2, hdr))
put("etcd_pb", bytes([3]) + frame(field(1, 2, hdr) + field(2, 0, 1) + field(3, 2, op_range) +
                                  field(3, 2, op_put)))
ev = field(1, 0, 0) + field(2, 2, kv(b"/k/a", b"v", 2, 9, 4)) + field(3, 2, kv(b"/k/a", b"u", 2, 8, 3))
watch = field(1, 2, hdr) + field(2, 0, 1) + field(11, 2, ev) + field(11, 2, field(1, 0, 1) + field(2, 2, kv(b"/k/b", b"", 0, 10, 0)))
put("etcd_pb", bytes([5]) + frame(watch) + frame(field(1, 2, hdr) + field(2, 0, 1) + field(3, 0, 1)))
put("etcd_pb", bytes([5]) + frame(field(1, 2, hdr) + field(5, 0, 42) + field(4, 0, 1)))
put("etcd_pb", bytes([11]) + b"grpc-status: 9\r\n")
put("etcd_pb", bytes([11]) + b"grpc-message: etcdserver%3A%20mvcc%3A%20required%20revision%20has%20been%20compacted\r\n")
put("etcd_pb", bytes([4]) + b"\x01\x00\x00\x00\x05abcde")
