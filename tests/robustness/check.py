#!/usr/bin/env python3
"""check.py HISTORY [--budget STEPS]: verify a history recorded by dc_robust.

Prints what the history holds (operations by outcome, events, watch
sessions, faults), then one verdict line:
  result: linearizable
  result: VIOLATION <kind>: <the first violation>
  result: inconclusive (<why>)
Exit 0 when linearizable and every watch rule held, 1 on a violation, 2 when
inconclusive, 3 when the file cannot be read as a history.
Python 3 standard library only.
"""

import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from checker import DEFAULT_BUDGET, check_history, history  # noqa: E402


def summary(h):
    out = collections.Counter(op.outcome for op in h.ops)
    events = sum(len(evs) for s in h.sessions for _, evs in s.batches)
    faults = collections.Counter(x["what"] for x in h.faults)
    compactions = sum(1 for c in h.compactions if c["rc"] == "DC_OK")
    return out, events, faults, compactions


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("history")
    ap.add_argument("--budget", type=int, default=DEFAULT_BUDGET,
                    help="search steps per partition before giving up (inconclusive)")
    ap.add_argument("--all", action="store_true", help="print every violation, not the first ten")
    args = ap.parse_args(argv)
    try:
        h = history.load(args.history)
    except (OSError, history.HistoryError) as e:
        print("check.py: %s: %s" % (args.history, e), file=sys.stderr)
        return 3
    out, events, faults, compactions = summary(h)
    backend = h.header.get("backend", "?")
    print("history: %s (backend %s)" % (args.history, backend))
    print("ops: %d (ok %d, failed %d, unknown %d, unexpected %d, reset %d)"
          % (len(h.ops), out["ok"], out["failed"], out["unknown"], out["unexpected"], out["reset"]))
    print("events: %d in %d watch sessions" % (events, len(h.sessions)))
    print("faults: %s; compactions: %d" % (", ".join("%s %d" % kv for kv in sorted(faults.items()))
                                           or "none", compactions))
    r = check_history(h, args.budget)
    for n in r.findings.notes:
        print("note: %s" % n)
    if r.unverified:
        print("note: %d acknowledged writes fell where no watch session looked" % r.unverified)
    print("search: %d steps over %d partitions" % (r.steps, r.partitions))
    v = r.findings.violations
    if v:
        shown = v if args.all else v[:10]
        for kind, msg in shown:
            print("violation %s: %s" % (kind, msg))
        if len(v) > len(shown):
            print("... %d more violations (--all prints them)" % (len(v) - len(shown)))
        print("result: VIOLATION %s: %s" % v[0])
        return 1
    if r.status == "inconclusive":
        print("result: inconclusive (the search passed its budget; no violation found)")
        return 2
    print("result: linearizable")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
