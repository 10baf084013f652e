"""A linearizability search: Wing & Gong's backtracking as refined by Lowe
(a doubly linked list of call and return entries, lifting an operation out
when it is linearized) with memoization of (linearized set, model state), the
algorithm Porcupine and Knossos use. Written from the papers' descriptions.

The history is a list of operations with invoke and return times (a return
time of INF for an operation that may take effect at any time after its
invocation). The model is a pair of functions: init() gives the first state,
step(state, op) gives the next state or None when the op cannot happen in
that state. States must be hashable and compare by value.

Memoization needs the set of operations linearized so far as part of the
cache key. It is kept as a 128-bit Zobrist hash (the XOR of a random number
per operation, updated as operations are linearized and taken back), so a
key is small whatever the history: a canonical set form, (all below `low`,
plus the ones above it), grew to thousands of entries per key on a 10-minute
etcd history where a few writes of unknown outcome stayed pending for long,
and took the checker past 9 GB. Two different sets share a hash with
probability about 2^-128 per pair; the random numbers come from a fixed
seed, so a run is repeatable.

A search that needs more than `budget` steps stops and says "inconclusive":
it never says "ok" for a history it did not finish.

The memo is also bounded (`max_cache` keys, then it starts afresh), so that
memory stays bounded on any history: forgetting memo entries is sound (they
only prune revisits); the step budget still bounds the time.
"""

import random

OK = "ok"
VIOLATION = "violation"
INCONCLUSIVE = "inconclusive"


class _Entry:
    __slots__ = ("op", "index", "is_call", "match", "prev", "next", "time")

    def __init__(self, op, index, is_call, time):
        self.op = op
        self.index = index
        self.is_call = is_call
        self.time = time
        self.match = None
        self.prev = None
        self.next = None


class Result:
    def __init__(self, status, steps, stuck=None, state=None, before=None, linearized=0):
        self.status = status
        self.steps = steps
        self.stuck = stuck      # on a violation: operations that could not be placed
        self.state = state      # the model state at the deepest point reached
        self.before = before or []  # the operations linearized last before it
        self.linearized = linearized  # how many were linearized at that point


def check(ops, inv, ret, init, step, budget=10_000_000, max_cache=2_000_000):
    """ops: any objects; inv(op), ret(op): times. Returns a Result."""
    n = len(ops)
    rnd = random.Random(0x5EED)
    zob = [rnd.getrandbits(128) for _ in range(n)]
    if n == 0:
        return Result(OK, 0)
    order = sorted(range(n), key=lambda i: (inv(ops[i]), i))
    rank = {i: r for r, i in enumerate(order)}
    entries = []
    for i in range(n):
        c = _Entry(ops[i], rank[i], True, inv(ops[i]))
        r = _Entry(ops[i], rank[i], False, ret(ops[i]))
        c.match = r
        entries.append(c)
        entries.append(r)
    # At equal times calls sort before returns: overlapping is the lenient reading.
    entries.sort(key=lambda e: (e.time, 0 if e.is_call else 1, e.index))
    head = _Entry(None, -1, False, None)
    prev = head
    for e in entries:
        prev.next = e
        e.prev = prev
        prev = e

    def lift(e):
        e.prev.next = e.next
        e.next.prev = e.prev
        m = e.match
        m.prev.next = m.next
        if m.next is not None:
            m.next.prev = m.prev

    def unlift(e):
        m = e.match
        m.prev.next = m
        if m.next is not None:
            m.next.prev = m
        e.prev.next = e
        e.next.prev = e

    linset = 0  # Zobrist hash of the linearized set
    cache = set()
    stack = []
    state = init()
    entry = head.next
    steps = 0
    best = None  # (depth, stuck op, state, before)
    while head.next is not None:
        steps += 1
        if steps > budget:
            return Result(INCONCLUSIVE, steps)
        if entry.is_call:
            new = step(state, entry.op)
            if new is not None:
                key = (linset ^ zob[entry.index], new)
                if key not in cache:
                    if len(cache) >= max_cache:
                        cache.clear()
                    cache.add(key)
                    stack.append((entry, state))
                    state = new
                    linset ^= zob[entry.index]
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            depth = len(stack)
            if best is None or depth > best[0]:
                best = (depth, entry.op, state, [s[0].op for s in stack[-5:]])
            if not stack:
                return Result(VIOLATION, steps, stuck=[best[1]], state=best[2],
                              before=best[3], linearized=best[0])
            entry, state = stack.pop()
            linset ^= zob[entry.index]
            unlift(entry)
            entry = entry.next
    return Result(OK, steps)
