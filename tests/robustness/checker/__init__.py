"""The robustness checker: linearizability and watch rules for a history
recorded by dc_robust (see tests/robustness/README.md)."""

from . import history, linear, reset, watch, wgl
from .findings import Findings

DEFAULT_BUDGET = 20_000_000


class Report:
    def __init__(self, h, f, status, steps, partitions, unverified):
        self.history = h
        self.findings = f
        self.status = status  # "linearizable", "violation", "inconclusive"
        self.steps = steps
        self.partitions = partitions
        self.unverified = unverified


def check_history(h, budget=DEFAULT_BUDGET):
    """Run every check on a loaded History; returns a Report. A history with
    store resets is checked epoch by epoch (checker/reset.py)."""
    f = Findings()
    for op in h.ops:
        if op.outcome == "unexpected":
            f.add("unexpected-error", "%s: the store answered %s" % (op.describe(), op.rc))
    rs = reset.check(h, f)
    if not rs:
        parts = [(None, h)]
    else:
        parts = reset.split(h, rs)
    status, steps, npart, unverified = wgl.OK, 0, 0, 0
    for e, sub in parts:
        g = Findings() if e is not None else f
        ref = watch.validate_sessions(sub, g)
        unverified += watch.attribute(sub, ref, g)
        watch.check_prev_kv(sub, ref, g)
        st, n, p = linear.check(sub, ref, g, budget)
        steps += n
        npart += p
        if st == wgl.INCONCLUSIVE:
            status = st
        if e is not None:
            for kind, msg in g.violations:
                f.add(kind, "epoch %d: %s" % (e, msg))
            for msg in g.notes:
                f.note("epoch %d: %s" % (e, msg))
    if f.violations:
        verdict = "violation"
    elif status == wgl.INCONCLUSIVE:
        verdict = "inconclusive"
    else:
        verdict = "linearizable"
    return Report(h, f, verdict, steps, npart, unverified)
