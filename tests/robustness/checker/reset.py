"""Store resets (docs/DESIGN.md, "Resets"): the rules, and the split of a
history into epochs.

dc_robust resets the store ("reset", "wipe" faults) with the clients paused
between two ops, after an epoch marker that the steady watcher reached; each
fault record names the new epoch, its first revision and the marker. Every
op, watch session and compaction names the epoch of the handle it used. The
rules:

  reset-spurious   DC_ERESET from a handle (an op, a watch end, a watch open)
                   when no reset had started since that handle's epoch began
  reset-missed     a handle of an older epoch answered DC_OK (an op, a watch
                   open) after the reset ended: the store served a poisoned
                   handle as if nothing had happened
  reset-gap        a watch session of an older epoch delivered an event past
                   its epoch's marker, or after the reset one at or below a
                   revision it had delivered: an event of the new epoch,
                   through a watch that should have ended with DC_ERESET
  reset-unnoticed  the steady watcher's session of an epoch did not end with
                   DC_ERESET, or a client kept using a poisoned handle to the
                   end without ever being told DC_ERESET
Then each epoch is checked as a history of its own (linearizability and the
watch rules), from its first revision, with the prefix empty.
"""

import copy

RESET_FAULTS = ("reset", "wipe")


def resets(h):
    """The reset faults by new epoch: {epoch: fault record}."""
    return {x["epoch"]: x for x in h.faults if x.get("what") in RESET_FAULTS and "epoch" in x}


def check(h, f):
    rs = resets(h)
    if not rs and not any(op.outcome == "reset" for op in h.ops):
        return rs

    def reset_after(epoch):
        return rs.get(epoch + 1)

    def spurious(what, epoch, at):
        r = reset_after(epoch)
        if r is None or at < r["start"]:
            f.add("reset-spurious", "%s answered DC_ERESET in epoch %d with no reset of the store "
                  "before it" % (what, epoch))

    for op in h.ops:
        r = reset_after(op.epoch)
        if op.outcome == "reset":
            spurious(op.describe(), op.epoch, op.ret)
        elif op.outcome == "ok" and r is not None and op.inv > r["end"]:
            f.add("reset-missed", "%s: a handle of epoch %d answered after the reset into epoch %d "
                  "ended (it must answer DC_ERESET)" % (op.describe(), op.epoch, op.epoch + 1))
    for s in h.wopen_failed:
        if s.open_rc == "DC_ERESET":
            spurious("watcher %d opening session %d" % (s.watcher, s.sess), s.epoch, s.open_at)
    for s in h.sessions:
        r = reset_after(s.epoch)
        if s.end_rc == "DC_ERESET":
            spurious(s.name, s.epoch, s.end_at)
        if r is None:
            continue
        if s.open_at > r["end"]:
            f.add("reset-missed", "%s: a watch opened on a handle of epoch %d after the reset into "
                  "epoch %d ended" % (s.name, s.epoch, s.epoch + 1))
        past, top = [], None
        for at, evs in s.batches:
            for e in evs:
                if e[4] > r["mark"] or (at > r["end"] and top is not None and e[4] <= top):
                    past.append(e)
                top = e[4] if top is None else max(top, e[4])
        if past:
            f.add("reset-gap", "%s (epoch %d, whose last write was revision %d) delivered %s after "
                  "the reset instead of ending with DC_ERESET" % (s.name, s.epoch, r["mark"], past[:3]))
        if s.watcher == 0 and s.end_rc not in ("DC_ERESET", "closed") and s.open_at < r["start"]:
            f.add("reset-unnoticed", "%s (epoch %d) ended %s, not DC_ERESET, though the store was "
                  "reset into epoch %d" % (s.name, s.epoch, s.end_rc, s.epoch + 1))
    for e, r in sorted(rs.items()):
        clients = {op.client for op in h.ops if op.client >= 0 and op.epoch == e - 1
                   and op.inv > r["end"]}
        told = {op.client for op in h.ops if op.epoch == e - 1 and op.outcome == "reset"}
        for c in sorted(clients - told):
            f.add("reset-unnoticed", "client %d went on using its handle of epoch %d after the reset "
                  "into epoch %d and never got DC_ERESET" % (c, e - 1, e))
    return rs


def split(h, rs):
    """One History per epoch: [(epoch, History)]. An epoch that a reset
    ended gets a footer saying whether the steady watcher reached its marker
    (the hopper need not)."""
    from .history import History
    last = max(rs) if rs else 0
    out = []
    for e in range(0, last + 1):
        sub = History()
        sub.header = copy.copy(h.header)
        if e > 0:
            if e not in rs:  # reset-spurious already: nothing to start from
                continue
            sub.header["start_rev"] = rs[e]["start_rev"]
        sub.ops = [op for op in h.ops if op.epoch == e and op.outcome != "reset"]
        sub.sessions = [s for s in h.sessions if s.epoch == e]
        sub.compactions = [c for c in h.compactions if c.get("e", 0) == e]
        sub.faults = [x for x in h.faults if x.get("what") not in RESET_FAULTS]
        nxt = rs.get(e + 1)
        if e == last:
            sub.footer = h.footer
        elif nxt is None:  # reset-spurious already: whether it was drained is unknown
            sub.footer = {"t": "footer", "drain_to": None, "watchers_complete": [True, True]}
        else:
            sub.footer = {"t": "footer", "drain_to": nxt["mark"],
                          "watchers_complete": [bool(nxt.get("drained")), True]}
        out.append((e, sub))
    return out
