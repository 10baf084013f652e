"""The watch validators (the rules of etcd's robustness suite, applied to the
contract in core/include/ddlcoord/store.h), and the attribution of watch
events to the writes that made them.

Each watch session is held to the rules on its own:
  ordered    revisions never go down, within a batch or across batches
  unique     no (revision, key) is delivered twice
  atomic     a revision is never split across two batches, and every session
             that delivers a revision delivers the same events for it
  resumable  a session delivers nothing below its start revision, and no
             revision that another session delivered inside its range is
             missing from it (no gap)
  ended      a session ends only when we close it or with DC_ECOMPACTED; the
             driver must ride out connection loss on its own
The union of the sessions is the reference event history. Against it:
  reliable   every acknowledged write appears at the revision its client got,
             with exactly the events it made, in op order
  prev_kv    each event's prev_kv (and its kv metadata) is what the history
             before it says
  no phantom every event comes from a write that was acknowledged or whose
             outcome is unknown; an event of a write that definitely failed is
             a violation
"""

import bisect

from . import kvmodel


def expected_events(op):
    """The events an acknowledged op made: [("P", key, value) | ("D", key)]."""
    branch = op.then if op.succeeded else op.els
    out = []
    for i, o in enumerate(branch):
        if o[0] == "put":
            out.append(("P", o[1], o[2]))
        elif o[0] == "del":
            deleted = op.resp[i][1] if op.resp else 1
            if deleted:
                out.append(("D", o[1]))
    return out


def short(e):
    return ("P", e[1], e[2]) if e[0] == "P" else ("D", e[1])


class Reference:
    def __init__(self):
        self.events = {}    # revision -> [event]
        self.first_at = {}  # revision -> time it was first delivered
        self.intervals = []  # merged [(lo, hi)] of revisions some session covered

    def revisions(self):
        return sorted(self.events)

    def covered(self, rev):
        i = bisect.bisect_right(self.intervals, (rev, float("inf"))) - 1
        return i >= 0 and self.intervals[i][0] <= rev <= self.intervals[i][1]

    def interval_of(self, rev):
        i = bisect.bisect_right(self.intervals, (rev, float("inf"))) - 1
        if i >= 0 and self.intervals[i][0] <= rev <= self.intervals[i][1]:
            return self.intervals[i]
        return None


def validate_sessions(h, f):
    """Check every session, build and return the Reference."""
    ref = Reference()
    spans = []
    by_session = []
    for s in h.sessions:
        revs = set()
        keys = set()
        last = None
        for at, evs in s.batches:
            if not evs:
                f.add("watch-order", "%s: an empty batch at %d ns" % (s.name, at))
                continue
            first = evs[0][4]
            if last is not None and first == last:
                f.add("watch-atomic", "%s: revision %d split across two batches" % (s.name, first))
            elif last is not None and first < last:
                f.add("watch-order", "%s: revision %d after %d" % (s.name, first, last))
            per_rev = {}
            prev_in_batch = None
            for e in evs:
                r = e[4]
                if prev_in_batch is not None and r < prev_in_batch:
                    f.add("watch-order", "%s: revision %d after %d in one batch" % (s.name, r, prev_in_batch))
                prev_in_batch = r
                if r < s.start:
                    f.add("watch-resumable", "%s: opened from revision %d, delivered revision %d"
                          % (s.name, s.start, r))
                if (r, e[1]) in keys:
                    f.add("watch-unique", "%s: key %s at revision %d delivered twice" % (s.name, e[1], r))
                keys.add((r, e[1]))
                per_rev.setdefault(r, []).append(e)
            for r, lst in per_rev.items():
                revs.add(r)
                if r in ref.events:
                    other = ref.events[r]
                    if other != lst:
                        same_but_prev = [e[:7] for e in other] == [e[:7] for e in lst]
                        f.add("prev-kv" if same_but_prev else "watch-atomic",
                              "%s: revision %d has events %s, another session had %s"
                              % (s.name, r, lst, other))
                else:
                    ref.events[r] = lst
                    ref.first_at[r] = at
            last = max(last or 0, evs[-1][4])
        if last is not None:
            spans.append((s.start, last))
        by_session.append((s, revs, last))
        _check_end(s, f)

    all_revs = ref.revisions()
    for s, revs, last in by_session:
        if last is None:
            continue
        lo = bisect.bisect_left(all_revs, s.start)
        hi = bisect.bisect_right(all_revs, last)
        missing = [r for r in all_revs[lo:hi] if r not in revs]
        if missing:
            f.add("watch-resumable", "%s (from %d to %d) skipped revision%s %s that other sessions delivered"
                  % (s.name, s.start, last, "s" if len(missing) > 1 else "", missing[:10]))

    spans.sort()
    for lo, hi in spans:
        if ref.intervals and lo <= ref.intervals[-1][1] + 1:
            a, b = ref.intervals[-1]
            ref.intervals[-1] = (a, max(b, hi))
        else:
            ref.intervals.append((lo, hi))

    foot = h.footer or {}
    complete = foot.get("watchers_complete")
    if complete is None:
        f.add("watch-incomplete", "the history has no footer: the recorder did not finish")
    else:
        for w, ok in enumerate(complete):
            if not ok:
                lasts = [s.last_rev() for s in h.sessions if s.watcher == w and s.last_rev()]
                f.add("watch-incomplete", "watcher %d never caught up with revision %s (last delivered %s)"
                      % (w, foot.get("drain_to"), max(lasts) if lasts else None))
    return ref


def _check_end(s, f):
    if s.end_rc in (None, "closed", "stopped"):
        return
    if s.end_rc == "DC_ECOMPACTED":
        need = (s.end_last or s.start - 1) + 1
        if s.end_compact is not None and s.end_compact <= need:
            f.note("%s ended with DC_ECOMPACTED at compact revision %s though it needed %d"
                   % (s.name, s.end_compact, need))
        return
    if s.end_rc == "DC_ERESET":
        return  # judged by the reset scenario
    f.add("watch-ended", "%s ended with %s after revision %s (a watch must resume on its own)"
          % (s.name, s.end_rc, s.end_last))


def _signature_matches(op, evs):
    """Could op's then-branch have made exactly these events?"""
    puts = {(o[1], o[2]) for o in op.then if o[0] == "put"}
    dels = {o[1] for o in op.then if o[0] == "del"}
    got_p = {(e[1], e[2]) for e in evs if e[0] == "P"}
    got_d = {e[1] for e in evs if e[0] == "D"}
    return got_p == puts and got_d <= dels and len(got_p) + len(got_d) == len(evs)


class _StateBefore:
    """The prefix's keys just before each reference revision, replayed from
    the reference in increasing revision order (as check_prev_kv does). After
    a stretch that no session covered, only keys seen since are known."""

    def __init__(self, h, ref):
        self.ref = ref
        self.state = {}
        self.known = None  # None: every key; else the keys relearned
        self.last = h.header["start_rev"]

    def advance(self, r):
        """Move to just before revision r (call with increasing r)."""
        iv = self.ref.interval_of(r)
        if iv is None or iv[0] > self.last + 1:
            self.known = set()

    def kv(self, key, evs):
        """(known, kv or None) for key just before the current revision; the
        events' own prev_kv says it first-hand."""
        for e in evs:
            if e[1] == key and e[7] is not None:
                return True, e[7]
        if self.known is None or key in self.known:
            return True, self.state.get(key)
        return False, None

    def apply(self, r, evs):
        for e in evs:
            if e[0] == "P":
                self.state[e[1]] = (e[1], e[2], e[3], e[4], e[5], e[6])
            else:
                self.state.pop(e[1], None)
            if self.known is not None:
                self.known.add(e[1])
        self.last = r


def _compares_held(op, evs, before):
    """Could op's compares have held just before these events' revision?
    Compares on keys whose state is unknown there are given the benefit of
    the doubt."""
    for key, target, cmp, value in op.cmps:
        known, kv = before.kv(key, evs)
        if known and not kvmodel.eval_compare(kv, target, cmp, value):
            return False
    return True


class _SeenBy:
    """The highest revision that calls which returned before a time had."""

    def __init__(self, h):
        done = sorted((op.ret, op.rev) for op in h.ops if op.outcome == "ok" and op.rev is not None)
        self.rets = [t for t, _ in done]
        self.best = []
        for _, r in done:
            self.best.append(max(r, self.best[-1]) if self.best else r)

    def before(self, t):
        i = bisect.bisect_left(self.rets, t) - 1
        return self.best[i] if i >= 0 else None


def _could_have_made(op, r, evs, at, before, seen):
    """Could a write whose answer we lack have made revision r (first
    delivered at time at)? Its then-branch makes exactly these events, it
    was invoked before they were delivered and before any answer showed
    revision r or later, and its compares held on the state before r."""
    if not (op.inv < at and _signature_matches(op, evs)):
        return False
    s = seen.before(op.inv)
    if s is not None and s >= r:
        return False
    return _compares_held(op, evs, before)


def attribute(h, ref, f):
    """Match every reference revision to the write that made it; check the
    acknowledged writes against the reference. Returns the number of
    acknowledged writes that no session covered (unverifiable).

    A revision no acknowledged write got goes to a write whose outcome is
    unknown and that could have made it (_could_have_made), the earliest
    invoked if several could: values are unique, so puts have one candidate,
    but a delete carries no value and several unknown deletes of one key may
    match its signature; only one whose compares held on the state before the
    revision can be its author. When no unknown write could, a failed write
    that could is named (failed-write-event); when neither could, a write
    that at least matches the events is taken, so that the linearizability
    search shows why it does not fit."""
    owner = {}
    unverified = 0
    for op in h.ops:
        if op.outcome != "ok":
            continue
        exp = expected_events(op)
        if not exp:
            continue
        r = op.rev
        if r in owner:
            f.add("duplicate-revision", "%s and %s both got revision %d" % (owner[r].name, op.name, r))
            continue
        owner[r] = op
        if r in ref.events:
            got = [short(e) for e in ref.events[r]]
            if got != exp:
                f.add("watch-reliable", "%s was acknowledged at revision %d with events %s; the watch has %s"
                      % (op.describe(), r, exp, got))
        elif ref.covered(r):
            f.add("watch-reliable", "%s was acknowledged at revision %d; no watch delivered it"
                  % (op.describe(), r))
        else:
            unverified += 1

    maybe = [op for op in h.ops if op.outcome in ("unknown", "unexpected") and op.is_write_attempt()]
    maybe.sort(key=lambda o: o.inv)
    failed = [op for op in h.ops if op.outcome == "failed" and op.is_write_attempt()]
    failed.sort(key=lambda o: o.inv)
    before = _StateBefore(h, ref)
    seen = _SeenBy(h)
    for r in ref.revisions():
        evs = ref.events[r]
        before.advance(r)
        if r not in owner:
            _attribute_one(r, evs, ref.first_at[r], maybe, failed, before, seen, owner, f)
        before.apply(r, evs)
    return unverified


def _attribute_one(r, evs, at, maybe, failed, before, seen, owner, f):
    free = [op for op in maybe if op.attributed is None]
    pick = next((op for op in free if _could_have_made(op, r, evs, at, before, seen)), None)
    if pick is None:
        culprit = [op for op in failed if _could_have_made(op, r, evs, at, before, seen)]
        if culprit:
            f.add("failed-write-event", "revision %d: events %s come from %s, which failed"
                  % (r, [short(e) for e in evs], culprit[0].describe()))
            return
        pick = next((op for op in free if op.inv < at and _signature_matches(op, evs)), None)
    if pick is not None:
        pick.attributed = r
        owner[r] = pick
        return
    culprit = [op for op in failed if op.inv < at and _signature_matches(op, evs)]
    if culprit:
        f.add("failed-write-event", "revision %d: events %s come from %s, which failed"
              % (r, [short(e) for e in evs], culprit[0].describe()))
    else:
        f.add("phantom-event", "revision %d: events %s match no write of the history"
              % (r, [short(e) for e in evs]))


def check_prev_kv(h, ref, f):
    """Replay the reference from the run's start (the prefix was empty) and
    check each event's kv metadata and prev_kv."""
    state = {}
    relearned = None  # after an uncovered stretch: keys whose state we know again
    last = h.header["start_rev"]
    for r in ref.revisions():
        iv = ref.interval_of(r)
        if iv is None or iv[0] > last + 1:
            relearned = set()  # revisions between last and r were seen by nobody
        last = r
        keys = set()
        for e in ref.events[r]:
            typ, key, val, cr, mod, ver, lease, prev = e
            if key in keys:
                f.add("watch-atomic", "revision %d changes key %s twice" % (r, key))
            keys.add(key)
            known = relearned is None or key in relearned
            cur = state.get(key)
            if known and prev != cur:
                f.add("prev-kv", "revision %d %s %s: prev_kv is %s, the history before it says %s"
                      % (r, typ, key, prev, cur))
            base = cur if known else prev
            if typ == "P":
                want = (key, val, base[2] if base else r, r, base[4] + 1 if base else 1, 0)
                if (key, val, cr, mod, ver, lease) != want:
                    f.add("event-meta", "revision %d PUT %s: kv is %s, want %s"
                          % (r, key, (key, val, cr, mod, ver, lease), want))
                state[key] = (key, val, cr, mod, ver, lease)
            else:
                if (val, cr, mod, ver, lease) != ("", 0, r, 0, 0):
                    f.add("event-meta", "revision %d DELETE %s: kv is %s, want only the key and mod %d"
                          % (r, key, (key, val, cr, mod, ver, lease), r))
                if known and cur is None:
                    f.add("event-meta", "revision %d deletes %s, which did not exist" % (r, key))
                state.pop(key, None)
            if relearned is not None:
                relearned.add(key)
