"""Reading a history file written by dc_robust (one JSON object per line).

Every operation becomes an Op in one shape, a txn: plain get, put and delete
are txns without compares whose then-branch is the one op. Return codes are
sorted into outcomes:

  ok          DC_OK: the answer is known and must be explained by the model
  failed      DC_EUNAVAILABLE, DC_ETIMEDOUT: per core/include/ddlcoord/error.h
              nothing was written; a watch event for it is a violation
  unknown     DC_EUNKNOWN: the write may or may not have happened
  unexpected  any other code: treated as unknown, and reported, because the
              workload never does anything that should fail that way
  reset       DC_ERESET: the store's history was reset (docs/DESIGN.md,
              "Resets"); judged by checker/reset.py against the reset faults

Every op, watch session and compaction carries the epoch of the store handle
it used ("e", 0 before the first reset).
"""

import json

INF = float("inf")

FAILED_CODES = {"DC_EUNAVAILABLE", "DC_ETIMEDOUT"}
UNKNOWN_CODES = {"DC_EUNKNOWN"}
RESET_CODE = "DC_ERESET"


class HistoryError(Exception):
    """The file is not a history dc_robust could have written."""


class Op:
    """One client call, normalised to a txn.

    cmps:  [(key, target, op, value)], target in value/version/create/mod/lease
    then/els: [("put", key, value) | ("del", key) | ("get", key) | ("getp", prefix)]
    resp:  None (answer unknown) or one entry per op of the branch that ran:
           ("kvs", [kv], count) | ("put", prev or None) | ("del", deleted, prev or None)
           where prev is a list of kvs and None means "not reported".
    kv:    (key, value, create, mod, version, lease)
    """

    __slots__ = ("name", "client", "inv", "ret", "rc", "outcome", "kind", "cmps", "then",
                 "els", "rev", "succeeded", "resp", "line", "attributed", "epoch")

    def __init__(self):
        self.attributed = None  # revision learnt from the watch, for unknown writes

    def __repr__(self):
        return "op %s (line %d, %s %s)" % (self.name, self.line, self.kind, self.rc)

    def keys(self):
        ks = set()
        for c in self.cmps:
            ks.add(c[0])
        for o in self.then + self.els:
            if o[0] != "getp":
                ks.add(o[1])
        return ks

    def prefixes(self):
        return {o[1] for o in self.then + self.els if o[0] == "getp"}

    def branch_writes(self, branch):
        return [o for o in branch if o[0] in ("put", "del")]

    def is_write_attempt(self):
        """True if some branch of the op could write."""
        return bool(self.branch_writes(self.then) or self.branch_writes(self.els))

    def describe(self):
        def ops(b):
            return ", ".join(" ".join(str(x) for x in o) for o in b)
        parts = []
        if self.cmps:
            parts.append("if " + " and ".join("%s(%s) %s %r" % (t, k, o, v)
                                              for k, t, o, v in self.cmps))
            parts.append("then [%s] else [%s]" % (ops(self.then), ops(self.els)))
        else:
            parts.append(ops(self.then))
        res = "%s" % self.rc
        if self.rev is not None:
            res += " rev %d" % self.rev
        if self.succeeded is not None and self.cmps:
            res += " succeeded" if self.succeeded else " failed-compare"
        if self.resp:
            res += " resp %s" % (self.resp,)
        return "%s client %s line %d: %s -> %s" % (self.name, self.client, self.line,
                                                    " ".join(parts), res)


def kv_tuple(a):
    if not isinstance(a, list) or len(a) != 6:
        raise HistoryError("bad kv %r" % (a,))
    return (a[0], a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]))


def classify(rc):
    if rc == "DC_OK":
        return "ok"
    if rc in FAILED_CODES:
        return "failed"
    if rc in UNKNOWN_CODES:
        return "unknown"
    if rc == RESET_CODE:
        return "reset"
    return "unexpected"


def parse_branch(lst):
    out = []
    for o in lst:
        if o[0] == "put":
            out.append(("put", o[1], o[2]))
        elif o[0] in ("del", "get", "getp"):
            out.append((o[0], o[1]))
        else:
            raise HistoryError("unknown txn op %r" % (o,))
    return out


def parse_op(rec, line):
    op = Op()
    op.line = line
    op.client = rec["c"]
    op.epoch = rec.get("e", 0)
    op.name = "c%s#%s" % (rec["c"], rec["id"])
    op.inv = rec["inv"]
    op.ret = rec["ret"]
    op.rc = rec["rc"]
    op.outcome = classify(op.rc)
    d = rec["op"]
    op.kind = d["kind"]
    res = rec.get("res")
    if op.outcome == "ok" and res is None:
        raise HistoryError("line %d: DC_OK without a result" % line)
    op.rev = res.get("rev") if res else None
    op.succeeded = None
    op.resp = None
    op.cmps, op.els = [], []
    if op.kind in ("get", "getp"):
        op.then = [(op.kind, d["key"])]
        if res:
            op.succeeded = True
            op.resp = [("kvs", [kv_tuple(k) for k in res["kvs"]], res.get("count"))]
    elif op.kind == "put":
        op.then = [("put", d["key"], d["val"])]
        if res:
            op.succeeded = True
            op.resp = [("put", None)]
    elif op.kind == "del":
        op.then = [("del", d["key"])]
        if res:
            op.succeeded = True
            op.resp = [("del", res["deleted"], None)]
    elif op.kind == "txn":
        op.cmps = [tuple(c) for c in d["cmp"]]
        op.then = parse_branch(d["then"])
        op.els = parse_branch(d["else"])
        if res:
            op.succeeded = bool(res["ok"])
            branch = op.then if op.succeeded else op.els
            resp = res["resp"]
            if len(resp) != len(branch):
                raise HistoryError("line %d: %d responses for %d ops" % (line, len(resp), len(branch)))
            op.resp = []
            for o, r in zip(branch, resp):
                if o[0] in ("get", "getp"):
                    op.resp.append(("kvs", [kv_tuple(k) for k in r["kvs"]], r.get("count")))
                elif o[0] == "put":
                    op.resp.append(("put", [kv_tuple(k) for k in r["prev"]]))
                else:
                    op.resp.append(("del", r["deleted"], [kv_tuple(k) for k in r["prev"]]))
    else:
        raise HistoryError("line %d: unknown op kind %r" % (line, op.kind))
    return op


class Session:
    """One watch as the recorder opened it."""

    def __init__(self, watcher, sess, start, line, epoch=0):
        self.watcher = watcher
        self.epoch = epoch
        self.sess = sess
        self.start = start
        self.line = line
        self.opened = False
        self.batches = []  # [(at, [event])], event = (type, key, value, create, mod, ver, lease, prev)
        self.end_rc = None
        self.end_compact = None
        self.end_last = None
        self.end_at = None

    @property
    def name(self):
        return "watcher %d session %d" % (self.watcher, self.sess)

    def last_rev(self):
        for at, evs in reversed(self.batches):
            if evs:
                return evs[-1][4]
        return None


def event_tuple(a):
    if not isinstance(a, list) or len(a) != 8 or a[0] not in ("P", "D"):
        raise HistoryError("bad event %r" % (a,))
    prev = kv_tuple(a[7]) if a[7] is not None else None
    return (a[0], a[1], a[2], int(a[3]), int(a[4]), int(a[5]), int(a[6]), prev)


class History:
    def __init__(self):
        self.header = None
        self.footer = None
        self.ops = []
        self.sessions = []
        self.faults = []
        self.compactions = []
        self.wopen_failed = []  # wopen records that did not open (rc != DC_OK)


def load(path_or_lines):
    """A History from a file path or an iterable of JSON lines."""
    if isinstance(path_or_lines, str):
        with open(path_or_lines) as f:
            return _load(f)
    return _load(path_or_lines)


def _load(lines):
    h = History()
    sessions = {}
    for n, text in enumerate(lines, 1):
        text = text.strip() if isinstance(text, str) else text
        if not text:
            continue
        try:
            rec = json.loads(text) if isinstance(text, str) else text
            t = rec["t"]
            if t == "header":
                h.header = rec
            elif t == "footer":
                h.footer = rec
            elif t == "op":
                h.ops.append(parse_op(rec, n))
            elif t == "wopen":
                s = Session(rec["w"], rec["s"], rec["start"], n, rec.get("e", 0))
                s.opened = rec["rc"] == "DC_OK"
                s.open_rc = rec["rc"]
                s.open_at = rec.get("at", 0)
                if not s.opened:
                    h.wopen_failed.append(s)
                if s.opened:
                    sessions[(s.watcher, s.sess)] = s
                    h.sessions.append(s)
            elif t == "ev":
                s = sessions.get((rec["w"], rec["s"]))
                if s is None:
                    raise HistoryError("line %d: events of a session that was never opened" % n)
                s.batches.append((rec["at"], [event_tuple(e) for e in rec["events"]]))
            elif t == "wend":
                s = sessions.get((rec["w"], rec["s"]))
                if s is None:
                    raise HistoryError("line %d: end of a session that was never opened" % n)
                s.end_rc = rec["rc"]
                s.end_compact = rec.get("compact")
                s.end_last = rec.get("last")
                s.end_at = rec["at"]
            elif t == "fault":
                h.faults.append(rec)
            elif t == "compact":
                h.compactions.append(rec)
            else:
                raise HistoryError("line %d: unknown record type %r" % (n, t))
        except HistoryError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise HistoryError("line %d: malformed record (%s: %s)" % (n, type(e).__name__, e))
    if h.header is None:
        raise HistoryError("no header line")
    return h
