"""Linearizability of a recorded history against the kv model.

Which operations take part: every acknowledged one, and every write whose
outcome was unknown but whose events the watch delivered (attributed to a
revision: it happened, with its then-branch, at that revision, at any time
after its invocation). Unknown writes that no watch delivered did not happen
(the watch validators make sure the watch history is complete: a write the
watch lost would show up in later reads' versions and values). Failed calls
and unanswered reads are left out.

Partitioning (P-compositionality): keys that one operation touches together
(a multi-key txn, a prefix read) belong to one partition; the rest are
checked apart, each with the model restricted to its keys. The store-wide
revision ties partitions together, so the global order is checked first:
  - two writes never share a revision;
  - on an exclusive store, a read's revision is the revision of some write
    (or the run's start revision);
  - if A returned before B was invoked, A's revision is at or below B's (below
    if B wrote).
With those, per-partition linearizations sorted by revision merge into one,
so checking partitions apart is sound.
"""

import bisect

from . import kvmodel, wgl
from .history import INF
from .watch import expected_events


class _UF:
    def __init__(self):
        self.p = {}

    def find(self, x):
        self.p.setdefault(x, x)
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[ra] = rb


class LinOp:
    """An op as the search sees it (times and answer, possibly patched)."""

    __slots__ = ("op", "inv", "ret", "rev", "succeeded", "resp", "cmps", "then", "els",
                 "writes", "name")

    def __init__(self, op):
        self.op = op
        self.name = op.name
        self.inv = op.inv
        self.cmps, self.then, self.els = op.cmps, op.then, op.els
        if op.outcome == "ok":
            self.ret = op.ret
            self.rev = op.rev
            self.succeeded = op.succeeded
            self.resp = op.resp
            self.writes = bool(expected_events(op))
        else:  # an unknown write the watch delivered
            self.ret = INF
            self.rev = op.attributed
            self.succeeded = True
            self.resp = None
            self.writes = True


def select(h):
    ops = []
    for op in h.ops:
        if op.outcome == "ok":
            ops.append(LinOp(op))
        elif op.attributed is not None:
            ops.append(LinOp(op))
    return ops


def check_global(h, ops, ref, f):
    writes = {}
    for o in ops:
        if o.writes:
            if o.rev in writes:
                f.add("duplicate-revision", "%s and %s both wrote at revision %d"
                      % (writes[o.rev].name, o.name, o.rev))
            writes[o.rev] = o
    if h.header.get("exclusive"):
        start = h.header["start_rev"]
        for o in ops:
            if o.writes or o.rev == start or o.rev in writes or o.rev in ref.events:
                continue
            if ref.covered(o.rev):
                f.add("phantom-revision", "%s read at revision %d, which no write produced"
                      % (o.op.describe(), o.rev))
    # real time against revisions
    by_ret = sorted(ops, key=lambda o: o.ret)
    rets = [o.ret for o in by_ret]
    best = []  # best[i] = op with the highest revision among by_ret[:i+1]
    for o in by_ret:
        if not best or o.rev > best[-1].rev:
            best.append(o)
        else:
            best.append(best[-1])
    reported = 0
    for b in sorted(ops, key=lambda o: o.inv):
        i = bisect.bisect_left(rets, b.inv) - 1  # ops that returned strictly before b.inv
        if i < 0:
            continue
        a = best[i]
        if a.rev > b.rev or (b.writes and a.rev == b.rev and a is not b):
            f.add("revision-order", "%s returned before %s was invoked, yet has revision %d > %d%s"
                  % (a.op.describe(), b.op.describe(), a.rev, b.rev,
                     "" if a.rev > b.rev else " (equal, and the later one wrote)"))
            reported += 1
            if reported >= 5:
                return


def partitions(ops):
    uf = _UF()
    universe = set()
    for o in ops:
        universe |= o.op.keys()
        if o.resp:
            for r in o.resp:
                if r[0] == "kvs":
                    universe |= {kv[0] for kv in r[1]}
    prefixes = set()
    for o in ops:
        prefixes |= o.op.prefixes()
    pk = {p: sorted(k for k in universe if k.startswith(p)) for p in prefixes}
    for o in ops:
        ks = list(o.op.keys())
        for p in o.op.prefixes():
            ks += pk[p]
        if o.resp:
            for r in o.resp:
                if r[0] == "kvs":
                    ks += [kv[0] for kv in r[1]]
        for k in ks[1:]:
            uf.union(ks[0], k)
    groups = {}
    for o in ops:
        ks = list(o.op.keys())
        for p in o.op.prefixes():
            ks += pk[p]
        root = uf.find(ks[0]) if ks else None
        groups.setdefault(root, []).append(o)
    out = []
    for root, members in groups.items():
        keys = sorted(k for k in universe if root is not None and uf.find(k) == root)
        out.append((keys, members))
    out.sort(key=lambda p: p[0])
    return out


def check(h, ref, f, budget):
    """Returns ("ok" | "violation" | "inconclusive", total steps, partitions)."""
    ops = select(h)
    check_global(h, ops, ref, f)
    start = h.header["start_rev"]
    total = 0
    status = wgl.OK
    parts = partitions(ops)
    for keys, members in parts:
        init_vals = tuple([None] * len(keys))
        res = wgl.check(members, lambda o: o.inv, lambda o: o.ret,
                        lambda: (start, init_vals), kvmodel.make_step(keys), budget)
        total += res.steps
        if res.status == wgl.VIOLATION:
            stuck = res.stuck[0]
            before = "; ".join(o.op.describe() for o in res.before)
            f.add("linearizability", "keys %s: no order explains %s (attributed rev %s); "
                  "%d ops linearized, state then %s; last placed: %s"
                  % (keys, stuck.op.describe(), stuck.op.attributed, res.linearized,
                     _state(res.state), before or "none"))
            status = wgl.VIOLATION
        elif res.status == wgl.INCONCLUSIVE and status == wgl.OK:
            f.note("keys %s: the search passed its budget of %d steps" % (keys, budget))
            status = wgl.INCONCLUSIVE
    return status, total, len(parts)


def _state(state):
    if state is None:
        return "?"
    rev, vals = state
    return "rev %d %s" % (rev, [v for v in vals if v is not None])
