"""The robustness checker: linearizability and watch rules for a history
recorded by dc_robust (see tests/robustness/README.md)."""

from . import history, linear, watch, wgl
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
    """Run every check on a loaded History; returns a Report."""
    f = Findings()
    for op in h.ops:
        if op.outcome == "unexpected":
            f.add("unexpected-error", "%s: the store answered %s" % (op.describe(), op.rc))
    ref = watch.validate_sessions(h, f)
    unverified = watch.attribute(h, ref, f)
    watch.check_prev_kv(h, ref, f)
    status, steps, parts = linear.check(h, ref, f, budget)
    if f.violations:
        verdict = "violation"
    elif status == wgl.INCONCLUSIVE:
        verdict = "inconclusive"
    else:
        verdict = "linearizable"
    return Report(h, f, verdict, steps, parts, unverified)
