"""The store's sequential specification for the linearizability search: the
contract of core/include/ddlcoord/store.h (etcd v3's semantics).

State: (revision, values), values a tuple with one kv or None per key of the
partition. An op is a txn (history.Op); stepping it
  - evaluates its compares (a value compare on a missing key is false; a
    missing key has version = create = mod = lease = 0),
  - must agree with the branch the store said ran,
  - runs the branch: gets and prefix gets must return exactly the kvs of the
    state (and their count), puts and deletes must report the prev kvs and
    deleted counts of the state, puts give version + 1 (1 on create) and keep
    create_revision, a delete removes the key,
  - and must fit the revision: an op that wrote needs a revision above the
    state's and moves it there; an op that only read needs a revision at or
    above the state's and moves it there (reads are snapshots at their
    revision, and the store's revision never goes back). Revisions need not
    be contiguous.
Ops run their branch in order; a get after a put in one branch sees the put.
"""


def _cmp(a, op, b):
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    raise ValueError("unknown compare %r" % op)


_FIELD = {"create": 2, "mod": 3, "version": 4, "lease": 5}


def eval_compare(kv, target, op, value):
    if target == "value":
        if kv is None:
            return False
        return _cmp(kv[1].encode("latin-1", "replace"), op, str(value).encode("latin-1", "replace"))
    n = kv[_FIELD[target]] if kv is not None else 0
    return _cmp(n, op, int(value))


def make_step(keys):
    """The step function for a partition over `keys` (sorted)."""
    idx = {k: i for i, k in enumerate(keys)}

    def step(state, op):
        rev, vals = state
        cond = all(eval_compare(vals[idx[k]], t, o, v) for k, t, o, v in op.cmps)
        if op.succeeded is not None and cond != op.succeeded:
            return None
        branch = op.then if cond else op.els
        R = op.rev
        new = None
        wrote = False
        for i, o in enumerate(branch):
            cur_vals = new if new is not None else vals
            resp = op.resp[i] if op.resp is not None else None
            kind = o[0]
            if kind == "get":
                if resp is not None:
                    cur = cur_vals[idx[o[1]]]
                    want = [cur] if cur is not None else []
                    if resp[1] != want or (resp[2] is not None and resp[2] != len(want)):
                        return None
            elif kind == "getp":
                if resp is not None:
                    want = [cur_vals[i2] for i2, k in enumerate(keys)
                            if k.startswith(o[1]) and cur_vals[i2] is not None]
                    if resp[1] != want or (resp[2] is not None and resp[2] != len(want)):
                        return None
            elif kind == "put":
                if new is None:
                    new = list(vals)
                j = idx[o[1]]
                cur = new[j]
                if resp is not None and resp[1] is not None:
                    if resp[1] != ([cur] if cur is not None else []):
                        return None
                if cur is None:
                    new[j] = (o[1], o[2], R, R, 1, 0)
                else:
                    new[j] = (o[1], o[2], cur[2], R, cur[4] + 1, 0)
                wrote = True
            elif kind == "del":
                j = idx[o[1]]
                cur = (new if new is not None else vals)[j]
                if resp is not None:
                    if resp[1] != (1 if cur is not None else 0):
                        return None
                    if resp[2] is not None and resp[2] != ([cur] if cur is not None else []):
                        return None
                if cur is not None:
                    if new is None:
                        new = list(vals)
                    new[j] = None
                    wrote = True
            else:
                raise ValueError("unknown op %r" % (o,))
        if wrote:
            if R <= rev:
                return None
            return (R, tuple(new))
        if R < rev:
            return None
        return (R, vals)

    return step
