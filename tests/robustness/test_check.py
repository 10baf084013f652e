#!/usr/bin/env python3
"""The checker's own tests: hand-made histories that break each rule must be
caught (by the rule that they break), and good ones must pass, so that a
checker that cannot fail is caught. Python 3 standard library only.

    python3 tests/robustness/test_check.py [-v]
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from checker import check_history, history, wgl  # noqa: E402

P = "/r/"
A0, A1, A2 = P + "a/0", P + "a/1", P + "a/2"
B0 = P + "b/0"


def kv(key, val, create, mod, ver):
    return [key, val, create, mod, ver, 0]


class H:
    """A history builder: times are small integers, revisions start at 1."""

    def __init__(self, start=1, exclusive=True):
        self.start = start
        self.lines = [{"t": "header", "backend": "test", "prefix": P, "start_rev": start,
                       "exclusive": exclusive, "faults": []}]
        self.n = 0
        self.sessions = {}
        self.complete = [True]
        self.drain = None

    def _op(self, c, inv, ret, op, rc, res):
        self.n += 1
        rec = {"t": "op", "c": c, "id": self.n, "op": op, "inv": inv, "ret": ret, "rc": rc}
        if res is not None:
            rec["res"] = res
        self.lines.append(rec)
        return self

    def put(self, c, inv, ret, key, val, rev, rc="DC_OK"):
        return self._op(c, inv, ret, {"kind": "put", "key": key, "val": val}, rc,
                        {"rev": rev} if rc == "DC_OK" else None)

    def delete(self, c, inv, ret, key, deleted, rev, rc="DC_OK"):
        return self._op(c, inv, ret, {"kind": "del", "key": key}, rc,
                        {"rev": rev, "deleted": deleted} if rc == "DC_OK" else None)

    def get(self, c, inv, ret, key, kvs, rev, prefix=False, rc="DC_OK"):
        return self._op(c, inv, ret, {"kind": "getp" if prefix else "get", "key": key}, rc,
                        {"rev": rev, "count": len(kvs), "kvs": kvs} if rc == "DC_OK" else None)

    def txn(self, c, inv, ret, cmp, then, els, ok=None, rev=None, resp=None, rc="DC_OK"):
        res = None
        if rc == "DC_OK":
            res = {"ok": ok, "rev": rev, "resp": resp}
        return self._op(c, inv, ret, {"kind": "txn", "cmp": cmp, "then": then, "else": els}, rc, res)

    def watch(self, w, s, start, batches, end="closed", compact=None, at=0):
        """batches: [(at, [event])]; event = [type, key, val, create, mod, ver, lease, prev]."""
        self.lines.append({"t": "wopen", "w": w, "s": s, "start": start, "at": at, "rc": "DC_OK"})
        last = start - 1
        for bat, evs in batches:
            self.lines.append({"t": "ev", "w": w, "s": s, "at": bat, "events": evs})
            if evs:
                last = max(last, max(e[4] for e in evs))
        end_rec = {"t": "wend", "w": w, "s": s, "at": 10 ** 9, "last": last, "rc": end}
        if compact is not None:
            end_rec["compact"] = compact
        self.lines.append(end_rec)
        return self

    def text(self):
        foot = {"t": "footer", "watchers_complete": self.complete, "drain_to": self.drain}
        return [json.dumps(x) for x in self.lines + [foot]]

    def check(self, budget=100000):
        return check_history(history.load(self.text()), budget)


def P_(key, val, create, mod, ver, prev=None):
    return ["P", key, val, create, mod, ver, 0, prev]


def D_(key, mod, prev=None):
    return ["D", key, "", 0, mod, 0, 0, prev]


def good_base():
    """Two clients, puts, a CAS, a delete and reads, with a complete watch."""
    h = H()
    h.put(0, 10, 20, A0, "c0.1", 2)
    h.get(1, 25, 30, A0, [kv(A0, "c0.1", 2, 2, 1)], 2)
    h.txn(1, 31, 40, [[A0, "mod", "==", 2]], [["put", A0, "c1.2"]], [["get", A0]],
          ok=True, rev=3, resp=[{"prev": [kv(A0, "c0.1", 2, 2, 1)]}])
    h.put(0, 35, 45, A1, "c0.3", 4)
    h.delete(0, 50, 60, A0, 1, 5)
    h.get(1, 61, 70, P + "a/", [kv(A1, "c0.3", 4, 4, 1)], 5, prefix=True)
    h.watch(0, 0, 2, [
        (21, [P_(A0, "c0.1", 2, 2, 1)]),
        (41, [P_(A0, "c1.2", 2, 3, 2, kv(A0, "c0.1", 2, 2, 1))]),
        (46, [P_(A1, "c0.3", 4, 4, 1)]),
        (61, [D_(A0, 5, kv(A0, "c1.2", 2, 3, 2))]),
    ])
    return h


class GoodHistories(unittest.TestCase):
    def test_sequential_history_passes(self):
        r = good_base().check()
        self.assertEqual(r.status, "linearizable", r.findings.violations)

    def test_concurrent_writes_in_either_real_time_order_pass(self):
        h = H()
        # two overlapping puts; the store ordered the later-invoked one first
        h.put(0, 10, 50, A0, "x", 3)
        h.put(1, 20, 40, A0, "y", 2)
        h.get(2, 30, 60, A0, [kv(A0, "y", 2, 2, 1)], 2)  # overlaps both: sees only y
        h.get(2, 61, 70, A0, [kv(A0, "x", 2, 3, 2)], 3)
        h.watch(0, 0, 2, [(41, [P_(A0, "y", 2, 2, 1)]), (51, [P_(A0, "x", 2, 3, 2, kv(A0, "y", 2, 2, 1))])])
        r = h.check()
        self.assertEqual(r.status, "linearizable", r.findings.violations)

    def test_unknown_write_delivered_by_the_watch_took_effect(self):
        h = H()
        h.put(0, 10, 20, A0, "lost-answer", None, rc="DC_EUNKNOWN")
        h.get(1, 30, 40, A0, [kv(A0, "lost-answer", 2, 2, 1)], 2)
        h.watch(0, 0, 2, [(25, [P_(A0, "lost-answer", 2, 2, 1)])])
        r = h.check()
        self.assertEqual(r.status, "linearizable", r.findings.violations)

    def test_unknown_write_that_never_happened_is_fine(self):
        h = H()
        h.put(0, 10, 20, A0, "never", None, rc="DC_EUNKNOWN")
        h.put(0, 30, 40, A0, "next", 2)
        h.get(1, 50, 60, A0, [kv(A0, "next", 2, 2, 1)], 2)
        h.watch(0, 0, 2, [(41, [P_(A0, "next", 2, 2, 1)])])
        r = h.check()
        self.assertEqual(r.status, "linearizable", r.findings.violations)

    def test_revisions_may_have_gaps(self):
        h = H()
        h.put(0, 10, 20, A0, "a", 7)
        h.put(0, 30, 40, A0, "b", 19)
        h.get(1, 50, 60, A0, [kv(A0, "b", 7, 19, 2)], 19)
        h.watch(0, 0, 2, [(21, [P_(A0, "a", 7, 7, 1)]), (41, [P_(A0, "b", 7, 19, 2, kv(A0, "a", 7, 7, 1))])])
        r = h.check()
        self.assertEqual(r.status, "linearizable", r.findings.violations)

    def test_resumed_and_compacted_sessions_pass(self):
        h = good_base()
        h.complete = [True, True]
        h.watch(1, 0, 4, [(46, [P_(A1, "c0.3", 4, 4, 1)])])
        h.watch(1, 1, 5, [(61, [D_(A0, 5, kv(A0, "c1.2", 2, 3, 2))])])
        h.watch(1, 2, 2, [], end="DC_ECOMPACTED", compact=5)
        r = h.check()
        self.assertEqual(r.status, "linearizable", r.findings.violations)


    # Deletes carry no value, so a delete event can match several writes
    # whose outcome is unknown. The one that made it is one whose compares
    # held just before its revision (the event's prev_kv says what the key
    # was) and that was invoked before anything saw that revision.
    def unknown_deletes(self):
        h = H()
        h.put(0, 10, 20, A0, "v1", 2)
        h.put(0, 30, 40, A0, "v2", 3)
        # a stale compare-and-delete (it read v1 earlier), invoked first
        h.txn(1, 45, 60, [[A0, "value", "==", "v1"]], [["del", A0]], [["get", A0]],
              rc="DC_EUNKNOWN")
        return h

    def test_delete_event_goes_to_the_unknown_write_whose_compare_held(self):
        h = self.unknown_deletes()
        h.delete(2, 50, 60, A0, None, None, rc="DC_EUNKNOWN")
        h.get(3, 70, 80, A0, [], 4)
        h.watch(0, 0, 2, [(21, [P_(A0, "v1", 2, 2, 1)]),
                          (41, [P_(A0, "v2", 2, 3, 2, kv(A0, "v1", 2, 2, 1))]),
                          (55, [D_(A0, 4, kv(A0, "v2", 2, 3, 2))])])
        r = h.check()
        self.assertEqual(r.status, "linearizable", r.findings.violations)

class LinearizabilityViolations(unittest.TestCase):
    def assertCaught(self, h, kind):
        r = h.check()
        self.assertEqual(r.status, "violation")
        self.assertIn(kind, r.findings.kinds(), r.findings.violations)

    def test_stale_read_at_an_old_revision(self):
        h = good_base()
        h.get(2, 100, 110, A1, [], 3)  # after everything: A1 exists since 4
        self.assertCaught(h, "revision-order")

    def test_stale_value_at_the_current_revision(self):
        h = good_base()
        h.get(2, 100, 110, A1, [], 5)  # revision right, value wrong
        self.assertCaught(h, "linearizability")

    def test_wrong_version(self):
        h = good_base()
        h.get(2, 100, 110, A1, [kv(A1, "c0.3", 4, 4, 2)], 5)
        self.assertCaught(h, "linearizability")

    def test_lost_update_two_cas_on_one_revision(self):
        h = H()
        h.put(0, 10, 20, A0, "v", 2)
        cas = [[A0, "mod", "==", 2]]
        h.txn(1, 30, 40, cas, [["put", A0, "c1"]], [["get", A0]], ok=True, rev=3,
              resp=[{"prev": [kv(A0, "v", 2, 2, 1)]}])
        h.txn(2, 30, 40, cas, [["put", A0, "c2"]], [["get", A0]], ok=True, rev=4,
              resp=[{"prev": [kv(A0, "c1", 2, 3, 2)]}])
        h.watch(0, 0, 2, [(21, [P_(A0, "v", 2, 2, 1)]),
                          (35, [P_(A0, "c1", 2, 3, 2, kv(A0, "v", 2, 2, 1))]),
                          (36, [P_(A0, "c2", 2, 4, 3, kv(A0, "c1", 2, 3, 2))])])
        self.assertCaught(h, "linearizability")

    def test_txn_ran_its_then_branch_with_a_false_compare(self):
        h = H()
        h.txn(1, 10, 20, [[A0, "value", "==", "x"]], [["put", A0, "y"]], [["get", A0]],
              ok=True, rev=2, resp=[{"prev": []}])
        h.watch(0, 0, 2, [(15, [P_(A0, "y", 2, 2, 1)])])
        self.assertCaught(h, "linearizability")

    def test_wrong_prev_kv_in_a_txn_answer(self):
        h = H()
        h.put(0, 10, 20, A0, "v", 2)
        h.txn(1, 30, 40, [], [["put", A0, "w"]], [], ok=True, rev=3, resp=[{"prev": []}])
        h.watch(0, 0, 2, [(21, [P_(A0, "v", 2, 2, 1)]),
                          (35, [P_(A0, "w", 2, 3, 2, kv(A0, "v", 2, 2, 1))])])
        self.assertCaught(h, "linearizability")

    def test_prefix_read_sees_half_a_txn(self):
        h = H()
        h.txn(0, 10, 20, [], [["put", A0, "x"], ["put", A1, "y"]], [], ok=True, rev=2,
              resp=[{"prev": []}, {"prev": []}])
        h.get(1, 12, 18, P + "a/", [kv(A0, "x", 2, 2, 1)], 2, prefix=True)
        h.watch(0, 0, 2, [(15, [P_(A0, "x", 2, 2, 1), P_(A1, "y", 2, 2, 1)])])
        self.assertCaught(h, "linearizability")

    def test_read_of_a_write_that_no_watch_saw(self):
        h = H()
        h.put(0, 10, 20, A0, "ghost", None, rc="DC_EUNKNOWN")
        h.put(0, 30, 40, A1, "other", 3)
        h.get(1, 50, 60, A0, [kv(A0, "ghost", 2, 2, 1)], 3)
        h.watch(0, 0, 2, [(41, [P_(A1, "other", 3, 3, 1)])])
        self.assertCaught(h, "linearizability")

    def test_two_writes_with_one_revision(self):
        h = H()
        h.put(0, 10, 20, A0, "x", 2)
        h.put(1, 30, 40, B0, "y", 2)
        h.watch(0, 0, 2, [(21, [P_(A0, "x", 2, 2, 1)])])
        self.assertCaught(h, "duplicate-revision")

    def test_read_at_a_revision_nobody_wrote(self):
        h = H()
        h.put(0, 10, 20, A0, "x", 2)
        h.put(0, 30, 40, A0, "y", 4)
        h.get(1, 41, 50, A0, [kv(A0, "x", 2, 2, 1)], 3)
        h.watch(0, 0, 2, [(21, [P_(A0, "x", 2, 2, 1)]), (41, [P_(A0, "y", 2, 4, 2, kv(A0, "x", 2, 2, 1))])])
        self.assertCaught(h, "phantom-revision")

    def test_revision_going_back_across_keys(self):
        h = H()
        h.put(0, 10, 20, A0, "x", 3)
        h.put(1, 30, 40, B0, "y", 2)  # invoked after the first returned, lower revision
        h.watch(0, 0, 2, [(35, [P_(B0, "y", 2, 2, 1)]), (36, [P_(A0, "x", 3, 3, 1)])])
        self.assertCaught(h, "revision-order")

    def test_unexpected_error_code(self):
        h = good_base()
        h.put(2, 100, 110, A2, "z", None, rc="DC_ECORRUPT")
        self.assertCaught(h, "unexpected-error")


class WatchViolations(unittest.TestCase):
    def assertCaught(self, h, kind):
        r = h.check()
        self.assertEqual(r.status, "violation")
        self.assertIn(kind, r.findings.kinds(), r.findings.violations)

    def base(self):
        h = H()
        h.put(0, 10, 20, A0, "x", 2)
        h.put(0, 30, 40, A0, "y", 3)
        h.txn(0, 50, 60, [], [["put", A1, "p"], ["del", A0]], [], ok=True, rev=4,
              resp=[{"prev": []}, {"deleted": 1, "prev": [kv(A0, "y", 2, 3, 2)]}])
        return h

    EV2 = P_(A0, "x", 2, 2, 1)
    EV3 = P_(A0, "y", 2, 3, 2, kv(A0, "x", 2, 2, 1))
    EV4 = [P_(A1, "p", 4, 4, 1), D_(A0, 4, kv(A0, "y", 2, 3, 2))]

    def test_base_passes(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]), (61, self.EV4)])
        r = h.check()
        self.assertEqual(r.status, "linearizable", r.findings.violations)

    def test_out_of_order(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, self.EV4), (61, [self.EV3])])
        self.assertCaught(h, "watch-order")

    def test_duplicate_event(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2, self.EV2]), (41, [self.EV3]), (61, self.EV4)])
        self.assertCaught(h, "watch-unique")

    def test_revision_split_across_batches(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]),
                                         (61, self.EV4[:1]), (62, self.EV4[1:])])
        self.assertCaught(h, "watch-atomic")

    def test_sessions_disagree_on_a_revision(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]), (61, self.EV4)])
        h.complete = [True, True]
        h.watch(1, 0, 4, [(62, self.EV4[:1])])
        self.assertCaught(h, "watch-atomic")

    def test_sessions_disagree_only_on_prev_kv(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]), (61, self.EV4)])
        h.complete = [True, True]
        h.watch(1, 0, 3, [(62, [self.EV3[:7] + [None]]), (63, self.EV4)])
        r = h.check()
        self.assertEqual(r.findings.kinds(), ["prev-kv"], r.findings.violations)

    def test_acknowledged_write_missing(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (61, self.EV4)])
        self.assertCaught(h, "watch-reliable")

    def test_acknowledged_write_with_other_events(self):
        ev = [P_(A1, "p", 4, 4, 1)]
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]), (61, ev)])
        self.assertCaught(h, "watch-reliable")

    def test_events_of_one_revision_out_of_op_order(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]), (61, self.EV4[::-1])])
        self.assertCaught(h, "watch-reliable")

    def test_event_below_the_start_revision(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]), (61, self.EV4)])
        h.complete = [True, True]
        h.watch(1, 0, 3, [(62, [self.EV2]), (63, [self.EV3])])
        self.assertCaught(h, "watch-resumable")

    def test_resumed_session_with_a_gap(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]), (61, self.EV4)])
        h.complete = [True, True]
        h.watch(1, 0, 2, [(62, [self.EV2]), (63, self.EV4)])
        self.assertCaught(h, "watch-resumable")

    def test_wrong_prev_kv(self):
        bad = P_(A0, "y", 2, 3, 2, kv(A0, "other", 2, 2, 1))
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [bad]), (61, self.EV4)])
        self.assertCaught(h, "prev-kv")

    def test_missing_prev_kv(self):
        bad = P_(A0, "y", 2, 3, 2, None)
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [bad]), (61, self.EV4)])
        self.assertCaught(h, "prev-kv")

    def test_wrong_event_metadata(self):
        bad = P_(A0, "y", 2, 3, 1, kv(A0, "x", 2, 2, 1))  # version not bumped
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [bad]), (61, self.EV4)])
        self.assertCaught(h, "event-meta")

    def test_event_of_a_failed_write(self):
        h = self.base()
        h.put(1, 70, 80, A2, "refused", None, rc="DC_EUNAVAILABLE")
        h.watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]), (61, self.EV4),
                          (81, [P_(A2, "refused", 5, 5, 1)])])
        self.assertCaught(h, "failed-write-event")

    def test_event_of_a_failed_write_next_to_an_unknown_one_that_cannot_explain_it(self):
        # A driver that reports DC_EUNAVAILABLE for a delete it sent must
        # be named as such, not hidden behind an unknown compare-and-delete
        # whose compare was false at that revision.
        h = H()
        h.put(0, 10, 20, A0, "v1", 2)
        h.put(0, 30, 40, A0, "v2", 3)
        h.txn(1, 45, 60, [[A0, "value", "==", "v1"]], [["del", A0]], [["get", A0]],
              rc="DC_EUNKNOWN")
        h.delete(2, 50, 60, A0, None, None, rc="DC_EUNAVAILABLE")
        h.watch(0, 0, 2, [(21, [P_(A0, "v1", 2, 2, 1)]),
                          (41, [P_(A0, "v2", 2, 3, 2, kv(A0, "v1", 2, 2, 1))]),
                          (55, [D_(A0, 4, kv(A0, "v2", 2, 3, 2))])])
        self.assertCaught(h, "failed-write-event")

    def test_event_of_a_failed_write_next_to_an_unknown_one_invoked_too_late(self):
        # The unknown delete was invoked after a read had already seen the
        # revision of the event: it cannot have made it; the failed one did.
        h = H()
        h.put(0, 10, 20, A0, "v1", 2)
        h.delete(2, 30, 38, A0, None, None, rc="DC_ETIMEDOUT")
        h.get(3, 35, 40, A0, [], 3)
        h.delete(1, 45, 70, A0, None, None, rc="DC_EUNKNOWN")
        h.watch(0, 0, 2, [(21, [P_(A0, "v1", 2, 2, 1)]),
                          (50, [D_(A0, 3, kv(A0, "v1", 2, 2, 1))])])
        self.assertCaught(h, "failed-write-event")

    def test_event_of_no_write(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]), (61, self.EV4),
                                         (81, [P_(A2, "nobody", 5, 5, 1)])])
        self.assertCaught(h, "phantom-event")

    def test_watch_ended_with_an_error(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]), (61, self.EV4)],
                              end="DC_EUNAVAILABLE")
        self.assertCaught(h, "watch-ended")

    def test_watcher_never_caught_up(self):
        h = self.base().watch(0, 0, 2, [(21, [self.EV2]), (41, [self.EV3]), (61, self.EV4)])
        h.complete = [False]
        self.assertCaught(h, "watch-incomplete")


class Search(unittest.TestCase):
    """The search itself, on a register (write v / read -> v)."""

    @staticmethod
    def step(state, op):
        kind, v = op[2], op[3]
        if kind == "w":
            return v
        return state if state == v else None

    def search(self, ops, budget=100000, max_cache=250_000):
        return wgl.check(ops, lambda o: o[0], lambda o: o[1], lambda: 0, self.step, budget,
                         max_cache)

    def test_a_bounded_memo_changes_no_verdict(self):
        """The memo starts afresh when full: verdicts stay, only steps grow."""
        inf = float("inf")
        cases = [
            ([(0, 10, "w", 1), (0, 10, "w", 2), (11, 12, "r", 1), (13, 14, "r", 1)], wgl.OK),
            ([(0, 10, "w", 1), (0, 10, "w", 2), (11, 12, "r", 1), (13, 14, "r", 2)], wgl.VIOLATION),
            ([(0, inf, "w", 1), (5, 6, "r", 0), (7, 8, "r", 1)], wgl.OK),
            ([(0, 100, "w", i) for i in range(1, 8)] + [(101, 102, "r", 99)], wgl.VIOLATION),
        ]
        for ops, want in cases:
            for cap in (1, 2, 10, 250_000):
                self.assertEqual(self.search(ops, budget=10 ** 7, max_cache=cap).status, want,
                                 (ops, cap))

    def test_overlapping_ops_linearize(self):
        ops = [(0, 10, "w", 1), (1, 5, "r", 1), (2, 12, "w", 2), (11, 13, "r", 2)]
        self.assertEqual(self.search(ops).status, wgl.OK)

    def test_needs_backtracking(self):
        # w1 and w2 overlap; a read after both sees 1: w2 must go first
        ops = [(0, 10, "w", 1), (0, 10, "w", 2), (11, 12, "r", 1), (13, 14, "r", 1)]
        self.assertEqual(self.search(ops).status, wgl.OK)

    def test_stale_read_is_caught(self):
        ops = [(0, 1, "w", 1), (2, 3, "r", 0)]
        r = self.search(ops)
        self.assertEqual(r.status, wgl.VIOLATION)
        self.assertEqual(r.stuck[0], (2, 3, "r", 0))

    def test_reads_that_disagree_are_caught(self):
        ops = [(0, 10, "w", 1), (0, 10, "w", 2), (11, 12, "r", 1), (13, 14, "r", 2)]
        self.assertEqual(self.search(ops).status, wgl.VIOLATION)

    def test_pending_op_may_take_effect_late(self):
        inf = float("inf")
        ops = [(0, inf, "w", 1), (5, 6, "r", 0), (7, 8, "r", 1)]
        self.assertEqual(self.search(ops).status, wgl.OK)

    def test_search_past_its_budget_is_inconclusive_not_ok(self):
        # 14 concurrent writes and a read of a value nobody wrote: the search
        # must try many orders before it can give up
        ops = [(0, 100, "w", i) for i in range(1, 15)] + [(101, 102, "r", 99)]
        self.assertEqual(self.search(ops, budget=1000).status, wgl.INCONCLUSIVE)
        self.assertEqual(self.search(ops, budget=10 ** 7).status, wgl.VIOLATION)

    def test_memoization_keeps_the_search_small(self):
        # 12 concurrent writes of one value and a read: without memoization
        # this is 12! orders; with it, at most 2^12 sets
        ops = [(0, 100, "w", 7) for _ in range(12)] + [(101, 102, "r", 8)]
        r = self.search(ops, budget=200000)
        self.assertEqual(r.status, wgl.VIOLATION)


class MutationsOfARecordedHistory(unittest.TestCase):
    """A short real history from dc_robust on mem:// (DC_ROBUST names the
    binary; ctest sets it), changed in one place at a time: each change must
    be caught. Without DC_ROBUST these tests fail: they cannot run."""

    lines = None

    @classmethod
    def setUpClass(cls):
        robust = os.environ.get("DC_ROBUST")
        if not robust:
            return
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "h.jsonl")
            p = subprocess.run([robust, "--uri", "mem://mutations-%d" % os.getpid(), "--out", path,
                                "--seconds", "2", "--clients", "3", "--rate", "150",
                                "--compact-interval-ms", "400", "--seed", "7"],
                               capture_output=True, text=True)
            if p.returncode == 0:
                with open(path) as f:
                    cls.lines = [json.loads(x) for x in f if x.strip()]

    def setUp(self):
        self.assertIsNotNone(self.lines, "set DC_ROBUST to the dc_robust binary (ctest does)")

    def check(self, lines):
        return check_history(history.load([json.dumps(x) for x in lines]), 10 ** 6)

    def mutate(self, pick, change):
        lines = json.loads(json.dumps(self.lines))
        for rec in lines:
            if pick(rec):
                change(rec)
                return lines
        self.fail("no line to mutate")

    def assertCaught(self, lines, *kinds):
        r = self.check(lines)
        self.assertEqual(r.status, "violation")
        self.assertTrue(set(kinds) & set(r.findings.kinds()),
                        "want one of %s, got %s" % (kinds, r.findings.violations[:3]))

    def test_the_recorded_history_passes(self):
        r = self.check(self.lines)
        self.assertEqual(r.status, "linearizable", r.findings.violations[:3])
        self.assertGreater(len(r.history.ops), 300)

    def test_a_read_that_returns_another_value(self):
        def pick(rec):
            return (rec["t"] == "op" and rec["op"]["kind"] == "get" and rec["rc"] == "DC_OK"
                    and rec["res"]["kvs"])
        lines = self.mutate(pick, lambda rec: rec["res"]["kvs"][0].__setitem__(1, "c9.9"))
        self.assertCaught(lines, "linearizability")

    def test_a_read_that_misses_its_key(self):
        def pick(rec):
            return (rec["t"] == "op" and rec["op"]["kind"] == "getp" and rec["rc"] == "DC_OK"
                    and len(rec["res"]["kvs"]) > 1)

        def change(rec):
            del rec["res"]["kvs"][0]
            rec["res"]["count"] -= 1
        self.assertCaught(self.mutate(pick, change), "linearizability")

    def test_a_read_at_an_older_revision(self):
        def pick(rec):
            return (rec["t"] == "op" and rec["op"]["kind"] == "get" and rec["rc"] == "DC_OK"
                    and rec["res"]["rev"] > 40)
        lines = self.mutate(pick, lambda rec: rec["res"].__setitem__("rev", rec["res"]["rev"] - 30))
        self.assertCaught(lines, "revision-order", "linearizability")

    def test_a_lost_watch_event(self):
        lines = self.mutate(lambda rec: rec["t"] == "ev" and rec["w"] == 0 and len(rec["events"]) == 1
                            and rec["events"][0][4] > 50, lambda rec: rec.__setitem__("events", []))
        lines = [x for x in lines if not (x["t"] == "ev" and not x["events"])]
        self.assertCaught(lines, "watch-reliable", "watch-resumable")

    def test_a_watch_batch_delivered_twice(self):
        lines = json.loads(json.dumps(self.lines))
        for i, rec in enumerate(lines):
            if rec["t"] == "ev" and rec["w"] == 0 and i > 100:
                lines.insert(i + 1, dict(rec))
                break
        self.assertCaught(lines, "watch-order", "watch-atomic", "watch-unique")

    def test_a_wrong_prev_kv(self):
        def pick(rec):
            return rec["t"] == "ev" and any(e[7] for e in rec["events"])

        def change(rec):
            for e in rec["events"]:
                if e[7]:
                    e[7][1] = "not-it"
                    return
        self.assertCaught(self.mutate(pick, change), "prev-kv")

    def test_a_write_that_said_it_failed_but_happened(self):
        def pick(rec):
            return rec["t"] == "op" and rec["op"]["kind"] == "put" and rec["rc"] == "DC_OK" and rec["c"] >= 0

        def change(rec):
            rec["rc"] = "DC_EUNAVAILABLE"
            del rec["res"]
        self.assertCaught(self.mutate(pick, change), "failed-write-event")

    def test_a_write_whose_answer_was_lost_is_fine(self):
        def pick(rec):
            return rec["t"] == "op" and rec["op"]["kind"] == "put" and rec["rc"] == "DC_OK" and rec["c"] >= 0

        def change(rec):
            rec["rc"] = "DC_EUNKNOWN"
            del rec["res"]
        r = self.check(self.mutate(pick, change))
        self.assertEqual(r.status, "linearizable", r.findings.violations[:3])

    def test_a_cas_that_claims_success_on_a_stale_revision(self):
        def pick(rec):
            return (rec["t"] == "op" and rec["op"]["kind"] == "txn" and rec["rc"] == "DC_OK"
                    and not rec["res"]["ok"] and rec["op"]["cmp"] and rec["op"]["cmp"][0][1] == "mod"
                    and len(rec["op"]["cmp"]) == 1)

        def change(rec):
            rec["res"]["ok"] = True
            rec["res"]["resp"] = [{"prev": []}]
        self.assertCaught(self.mutate(pick, change), "linearizability", "watch-reliable",
                          "duplicate-revision")


class ResetsOfARecordedHistory(MutationsOfARecordedHistory):
    """A real mem:// history with store resets (dc_mem_reset): it must pass,
    epoch by epoch, and each way of hiding a reset must be caught."""

    lines = None

    @classmethod
    def setUpClass(cls):
        robust = os.environ.get("DC_ROBUST")
        if not robust:
            return
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "h.jsonl")
            p = subprocess.run([robust, "--uri", "mem://resets-%d" % os.getpid(), "--out", path,
                                "--seconds", "3", "--clients", "3", "--rate", "150",
                                "--faults", "reset", "--fault-interval-ms", "600",
                                "--compact-interval-ms", "400", "--seed", "11"],
                               capture_output=True, text=True)
            if p.returncode == 0:
                with open(path) as f:
                    cls.lines = [json.loads(x) for x in f if x.strip()]
            else:
                print("dc_robust failed (%d): %s" % (p.returncode, p.stderr[-2000:]), file=sys.stderr)

    def steady(self, lines, epoch):
        """The (w, s) of the steady watcher's first session of an epoch."""
        for rec in lines:
            if rec["t"] == "wopen" and rec["w"] == 0 and rec.get("e") == epoch and rec["rc"] == "DC_OK":
                return rec["s"]
        self.fail("no steady session in epoch %d" % epoch)

    def test_the_recorded_history_passes(self):
        faults = [x for x in self.lines if x["t"] == "fault" and x["what"] == "reset"]
        self.assertGreaterEqual(len(faults), 2)
        self.assertTrue(any(x["t"] == "op" and x["rc"] == "DC_ERESET" for x in self.lines))
        r = self.check(self.lines)
        self.assertEqual(r.status, "linearizable", r.findings.violations[:3])

    def test_a_poisoned_handle_that_answers(self):
        lines = self.mutate(lambda x: x["t"] == "op" and x["rc"] == "DC_ERESET" and x["c"] >= 0,
                            lambda x: x.update(rc="DC_OK", op={"kind": "get", "key": P + "a/0"},
                                               res={"rev": 1, "count": 0, "kvs": []}))
        self.assertCaught(lines, "reset-missed")

    def test_a_steady_watch_that_outlives_the_reset(self):
        s = self.steady(self.lines, 0)
        lines = self.mutate(lambda x: x["t"] == "wend" and x["w"] == 0 and x["s"] == s,
                            lambda x: x.update(rc="stopped"))
        self.assertCaught(lines, "reset-unnoticed")

    def test_a_reset_error_without_a_reset(self):
        lines = [x for x in self.lines if not (x["t"] == "fault" and x.get("epoch") == 1)]
        self.assertCaught(lines, "reset-spurious")

    def test_a_client_never_told(self):
        lines = self.mutate(lambda x: x["t"] == "op" and x["rc"] == "DC_ERESET" and x["c"] >= 0,
                            lambda x: x.update(rc="DC_EUNAVAILABLE"))
        self.assertCaught(lines, "reset-unnoticed")

    def test_a_gap_after_a_reset(self):
        """Events of the new epoch delivered by a watch of the old one."""
        lines = json.loads(json.dumps(self.lines))
        s0, s1 = self.steady(lines, 0), self.steady(lines, 1)
        new = next(x for x in lines if x["t"] == "ev" and x["w"] == 0 and x["s"] == s1)
        end = next(i for i, x in enumerate(lines) if x["t"] == "wend" and x["w"] == 0 and x["s"] == s0)
        lines.insert(end, dict(new, s=s0))
        self.assertCaught(lines, "reset-gap")

    def test_a_gap_above_the_marker(self):
        """The same when the new epoch's revisions continue above the old ones."""
        lines = json.loads(json.dumps(self.lines))
        s0 = self.steady(lines, 0)
        mark = next(x for x in lines if x["t"] == "fault" and x.get("epoch") == 1)["mark"]
        end = next(i for i, x in enumerate(lines) if x["t"] == "wend" and x["w"] == 0 and x["s"] == s0)
        ev = ["P", P + "a/0", "late", mark + 1, mark + 1, 1, 0, None]
        lines.insert(end, {"t": "ev", "w": 0, "s": s0, "at": lines[end]["at"], "events": [ev]})
        self.assertCaught(lines, "reset-gap")


class CommandLine(unittest.TestCase):
    def run_cli(self, h):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write("\n".join(h.text()) + "\n")
            path = f.name
        try:
            p = subprocess.run([sys.executable, os.path.join(HERE, "check.py"), path],
                               capture_output=True, text=True)
        finally:
            os.unlink(path)
        return p

    def test_exit_0_and_verdict_on_a_good_history(self):
        p = self.run_cli(good_base())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("result: linearizable", p.stdout)

    def test_exit_1_and_first_violation_on_a_bad_one(self):
        h = good_base()
        h.get(2, 100, 110, A1, [], 5)
        p = self.run_cli(h)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("result: VIOLATION linearizability", p.stdout)

    def test_exit_3_on_a_file_that_is_not_a_history(self):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write('{"t":"op","c":1}\n')
            path = f.name
        try:
            p = subprocess.run([sys.executable, os.path.join(HERE, "check.py"), path],
                               capture_output=True, text=True)
        finally:
            os.unlink(path)
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
