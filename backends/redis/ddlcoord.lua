#!lua name=ddlcoord2
--[[
ddlcoord's Redis function library (lua mode). Each write is one call: it
checks every compare and validates everything before its first write (Redis
has no rollback), then bumps {P}rev, writes the hashes and the key index and
appends one stream entry per event with the explicit ID <rev>-<i>. Reads run
as no-writes functions (FCALL_RO). KEYS[1] is the store's base "{prefix}".

Epoch. ARGV[1] of every call is the epoch the driver read from {P}epoch when
it opened (a random token created with the store's data), ARGV[2] the
highest revision the driver has seen. Each call first checks both, inside
the same atomic unit as everything else: a missing or different epoch means
the data the driver knew is gone (FLUSHALL, a restart without persistence, a
different server), and a revision below what the driver saw means the
history went back (a fail-over to a replica that lagged). Either way the
call fails with DCRESET having changed nothing, so a write prepared against
the old history never applies to the new one; the epoch also catches a new
history that has already climbed past the old revisions.

Library version 2 (ddlcoord2_*): version 1 (ddlcoord_*) had no epoch. The
name changed so that both can be loaded during a rolling upgrade: each
driver calls its own functions, and neither replaces the other's library.

Numbers are formatted with fmt() (%d) whenever they become strings: Lua's
default %.14g would turn revisions past 10^14 into "1.2345678901234e+14".
Strings are compared byte by byte: Lua's < follows the server's locale.

The driver replaces the library when the hash of this text changes; it also
runs the same code as a plain script (EVALSHA) where FUNCTION is not
available, by cutting the text at the REGISTER marker below.
--]]
local VERSION = '@VERSION@'
local PREFIX, KEYS_ONLY, COUNT_ONLY, PREV_KV = 1, 2, 4, 8

-- Globals are looked up through Redis' protecting metatable, which costs a
-- Lua call each time: each entry point takes them once into these locals
-- (they are not reachable while FUNCTION LOAD runs the library, so not here).
local tonumber, ipairs, unpack, error, sformat, ssub, sbyte, smatch, schar
local band, mmin, mmax, mfloor, tsort, tremove, call, pcall_
-- data writes held back until the revision's first event is in the log (nil: write at once)
local pending
-- {key, value} to restore if a write fails after its INCR but before it
-- changed any data (so a failed write leaves no revision without events)
local undo

local function init()
    call, pcall_ = redis.call, redis.pcall
    undo, pending = nil, nil
    if sformat then return end
    tonumber, ipairs, unpack, error = _G.tonumber, _G.ipairs, _G.unpack, _G.error
    sformat, ssub, sbyte, smatch = string.format, string.sub, string.byte, string.match
    schar, band, mmin, mmax = string.char, bit.band, math.min, math.max
    mfloor, tsort, tremove = math.floor, table.sort, table.remove
end

local function fmt(n)
    return sformat('%d', n)
end

local function fail(msg)
    if undo then
        call('SET', undo[1], undo[2])
        undo = nil
    end
    error({err = msg})
end

-- Every entry point: take the globals, check the epoch and the revision
-- floor (ARGV[1] and [2], removed from a) and return the base. Nothing has
-- been written yet if it fails.
local function enter(keys, a)
    init()
    local base = keys[1]
    local want, floor = tremove(a, 1), tonumber(tremove(a, 1))
    local have = call('GET', base .. 'epoch')
    if have ~= want then
        if not have then
            fail('DCRESET the store\'s epoch key is gone: its data was lost (a FLUSHALL, or a ' ..
                 'restart without persistence)')
        end
        fail('DCRESET the store\'s epoch changed: its history was replaced')
    end
    local rev = tonumber(call('GET', base .. 'rev') or '1')
    if rev < floor then
        fail('DCRESET the store is at revision ' .. fmt(rev) .. ', below revision ' ..
             fmt(floor) .. ' that this client has seen: its history went back')
    end
    return base
end

local function getkv(base, key)
    local r = call('HMGET', base .. 'kv:' .. key, 'v', 'c', 'm', 'ver', 'lease')
    if not r[2] then return nil end
    local kv = {v = r[1] or '', c = tonumber(r[2]), m = tonumber(r[3]), ver = tonumber(r[4]),
                lease = tonumber(r[5] or '0')}
    if not (kv.c and kv.m and kv.ver and kv.lease) then
        fail('DCCORRUPT the hash of a key has bad fields')
    end
    return kv
end

local function bytecmp(a, b)
    if a == b then return 0 end
    local n = mmin(#a, #b)
    local i = 1
    while i + 63 <= n and ssub(a, i, i + 63) == ssub(b, i, i + 63) do i = i + 64 end
    while i <= n do
        local x, y = sbyte(a, i), sbyte(b, i)
        if x ~= y then
            if x < y then return -1 end
            return 1
        end
        i = i + 1
    end
    if #a < #b then return -1 end
    return 1
end

local function cmpop(x, op, y)
    if op == '=' then return x == y end
    if op == '!' then return x ~= y end
    if op == '<' then return x < y end
    return x > y
end

local function holds(kv, target, op, operand)
    if target == 'v' then
        if not kv then return false end -- etcd: value compares on a missing key are false
        return cmpop(bytecmp(kv.v, operand), op, 0)
    end
    local x = 0
    if kv then
        if target == 'ver' then x = kv.ver
        elseif target == 'c' then x = kv.c
        elseif target == 'm' then x = kv.m
        else x = kv.lease end
    end
    return cmpop(x, op, tonumber(operand))
end

-- ZRANGEBYLEX bounds of a prefix (etcd's prefix end: bump the last byte < 0xff)
local function bounds(prefix)
    if prefix == '' then return '-', '+' end
    local e = prefix
    while #e > 0 and sbyte(e, #e) == 255 do e = ssub(e, 1, #e - 1) end
    if #e == 0 then return '[' .. prefix, '+' end
    return '[' .. prefix, '(' .. ssub(e, 1, #e - 1) .. schar(sbyte(e, #e) + 1)
end

local function pushkv(out, key, kv, keys_only)
    local v = kv.v
    if keys_only then v = '' end
    out[#out + 1] = key
    out[#out + 1] = v
    out[#out + 1] = kv.c
    out[#out + 1] = kv.m
    out[#out + 1] = kv.ver
    out[#out + 1] = kv.lease
end

-- a get: count, more, flat kvs (key v c m ver lease …)
local function range(base, key, flags, limit)
    local kvs = {}
    local keys_only = band(flags, KEYS_ONLY) ~= 0
    if band(flags, PREFIX) == 0 then
        local kv = getkv(base, key)
        if not kv then return 0, 0, kvs end
        if band(flags, COUNT_ONLY) == 0 then pushkv(kvs, key, kv, keys_only) end
        return 1, 0, kvs
    end
    local lo, hi = bounds(key)
    local idx = base .. 'idx'
    local count = call('ZLEXCOUNT', idx, lo, hi)
    if band(flags, COUNT_ONLY) ~= 0 or count == 0 then return count, 0, kvs end
    local names
    if limit > 0 and limit < count then
        names = call('ZRANGEBYLEX', idx, lo, hi, 'LIMIT', 0, fmt(limit))
    else
        names = call('ZRANGEBYLEX', idx, lo, hi)
    end
    for _, k in ipairs(names) do
        local kv = getkv(base, k)
        if not kv then fail('DCCORRUPT the key index lists a key without data') end
        pushkv(kvs, k, kv, keys_only)
    end
    local more = 0
    if #names < count then more = 1 end
    return count, more, kvs
end

-- a data write: held back in `pending` (see emit), or done now, after which
-- a failure can no longer give the revision back
local function w(...)
    if pending then
        pending[#pending + 1] = {...}
    else
        undo = nil
        call(...)
    end
end

local function current_rev(base)
    return tonumber(call('GET', base .. 'rev') or '1')
end

-- refuse to write if the log already has entries at rev (XADD would fail half
-- way through, and nothing rolls back); an XRANGE from rev is empty and cheap,
-- where XREVRANGE of the top entry costs a whole entry's conversion
local function check_log(base, rev)
    local top = call('XRANGE', base .. 'log', fmt(rev) .. '-0', '+', 'COUNT', 1)
    if top[1] then
        fail('DCCORRUPT the event log (at ' .. top[1][1] .. ') is ahead of the revision key (' ..
             fmt(rev - 1) .. ')')
    end
end

local function del_key(base, key, old, evs)
    w('DEL', base .. 'kv:' .. key)
    w('ZREM', base .. 'idx', key)
    if old.lease ~= 0 then
        w('SREM', base .. 'lease:' .. fmt(old.lease) .. ':keys', key)
    end
    evs[#evs + 1] = {'t', 'D', 'k', key, 'pv', old.v, 'pc', fmt(old.c), 'pm', fmt(old.m),
                     'pver', fmt(old.ver), 'plea', fmt(old.lease)}
end

-- Append the events of one revision, then the held-back data writes, then
-- the revision (unless an INCR took it already). The first XADD is the
-- check that the log is behind the revision key: if it fails, nothing but
-- the INCR was written, and fail() gives that back.
local function emit(base, evs, rev, token, branch, bumped)
    local log, n = base .. 'log', fmt(#evs)
    for e = 1, #evs do
        local ev = evs[e]
        ev[#ev + 1] = 'n'
        ev[#ev + 1] = n
        local id = fmt(rev) .. '-' .. fmt(e - 1)
        if e == 1 then
            ev[#ev + 1] = 'x'
            ev[#ev + 1] = token
            ev[#ev + 1] = 'b'
            ev[#ev + 1] = branch
            local r = pcall_('XADD', log, id, unpack(ev))
            if type(r) == 'table' and r.err then
                fail('DCCORRUPT the event log refuses revision ' .. fmt(rev) .. ' (' .. r.err ..
                     '): it is ahead of the revision key')
            end
            undo = nil
        else
            call('XADD', log, id, unpack(ev))
        end
    end
    if pending then
        local p = pending
        pending = nil
        for _, c in ipairs(p) do call(unpack(c)) end
    end
    if not bumped then call('SET', base .. 'rev', fmt(rev)) end
end

-- Is token in the log above revision `after`? (a resend after a lost reply;
-- the first entry of each revision carries its writer's token in field x)
local function applied(base, after, token)
    local from, seen = fmt(after + 1) .. '-0', 0
    while true do
        local es = call('XRANGE', base .. 'log', from, '+', 'COUNT', 256)
        for _, e in ipairs(es) do
            local f = e[2]
            for k = 1, #f - 1, 2 do
                if f[k] == 'x' and f[k + 1] == token then return true end
            end
        end
        seen = seen + #es
        if #es < 256 then return false end
        if seen >= 8192 then fail('DCUNKNOWN too many writes since the lost reply to check') end
        from = '(' .. es[#es][1]
    end
end

-- txn: token, retry_after, ncmp, ncmp × (key target op operand), nthen, nthen × op,
-- nelse, nelse × op, where op = kind(g/p/d) flags key value lease limit.
-- Returns {succeeded, revision, {count, more, deleted, kvs, prev_kvs} per op},
-- or {-1, 0, {}} if retry_after > 0 and this write is already in the log.
local function txn(keys, a)
    local base = enter(keys, a)
    local token = a[1]
    local after = tonumber(a[2])
    if after > 0 and applied(base, after, token) then return {-1, 0, {}} end
    local i = 3
    local ncmp = tonumber(a[i])
    i = i + 1
    local ok = true
    for _ = 1, ncmp do
        if ok then ok = holds(getkv(base, a[i]), a[i + 1], a[i + 2], a[i + 3]) end
        i = i + 4
    end
    local nthen = tonumber(a[i])
    local start, n = i + 1, nthen
    if not ok then
        i = i + 1 + nthen * 6
        start, n = i + 1, tonumber(a[i])
    end
    local puts, deletes, gets = false, false, false
    for o = 0, n - 1 do
        local j = start + o * 6
        if a[j] == 'g' then
            gets = true
        elseif a[j] == 'p' then
            puts = true
            if a[j + 4] ~= '0' and call('EXISTS', base .. 'lease:' .. a[j + 4]) == 0 then
                fail('DCNOTFOUND lease ' .. a[j + 4] .. ' not found')
            end
        elseif a[j] == 'd' then
            deletes = true
        end
    end
    -- a branch with a put surely writes: take the revision with one INCR
    -- (and skip the SET at the end); otherwise read it and set it if needed
    local cur, rev, bumped
    if puts then
        rev = call('INCR', base .. 'rev')
        if rev == 1 then -- an empty store is at revision 1: its first write is 2
            rev = 2
            call('SET', base .. 'rev', '2')
        end
        cur, bumped = rev - 1, true
        undo = {base .. 'rev', fmt(cur)}
    else
        cur = current_rev(base)
        rev = cur + 1
    end
    -- Without gets, no op reads what an earlier one wrote, so the data writes
    -- can wait for the first event (emit); with gets they happen in op order
    -- and the log is checked before the first of them.
    if gets then
        if puts or deletes then check_log(base, rev) end
    else
        pending = {}
    end
    local evs, resps, gone = {}, {}, {}
    for o = 0, n - 1 do
        local j = start + o * 6
        local kind, flags, key = a[j], tonumber(a[j + 1]), a[j + 2]
        local prev = {}
        if kind == 'g' then
            local count, more, kvs = range(base, key, flags, tonumber(a[j + 5]))
            resps[#resps + 1] = {count, more, 0, kvs, prev}
        elseif kind == 'p' then
            local value, slease = a[j + 3], a[j + 4]
            local lease = tonumber(slease)
            local old = getkv(base, key)
            local c, ver = rev, 1
            if old then c, ver = old.c, old.ver + 1 end
            w('HSET', base .. 'kv:' .. key, 'v', value, 'c', fmt(c), 'm', fmt(rev), 'ver', fmt(ver),
              'lease', slease)
            if not old then w('ZADD', base .. 'idx', '0', key) end
            if old and old.lease ~= 0 and old.lease ~= lease then
                w('SREM', base .. 'lease:' .. fmt(old.lease) .. ':keys', key)
            end
            if lease ~= 0 then w('SADD', base .. 'lease:' .. slease .. ':keys', key) end
            local ev = {'t', 'P', 'k', key, 'v', value, 'c', fmt(c), 'ver', fmt(ver), 'lea', slease}
            if old then
                local p = {'pv', old.v, 'pc', fmt(old.c), 'pm', fmt(old.m), 'pver', fmt(old.ver),
                           'plea', fmt(old.lease)}
                for _, x in ipairs(p) do ev[#ev + 1] = x end
                if band(flags, PREV_KV) ~= 0 then pushkv(prev, key, old, false) end
            end
            evs[#evs + 1] = ev
            resps[#resps + 1] = {0, 0, 0, {}, prev}
        else
            local deleted = 0
            local want = band(flags, PREV_KV) ~= 0
            local names
            if band(flags, PREFIX) == 0 then
                names = {key}
            else
                local lo, hi = bounds(key)
                names = call('ZRANGEBYLEX', base .. 'idx', lo, hi)
            end
            for _, k in ipairs(names) do
                -- overlapping deletes of one branch delete a key once (its
                -- DEL may be held back, so remember it here)
                local old = not gone[k] and getkv(base, k)
                if old then
                    gone[k] = true
                    del_key(base, k, old, evs)
                    deleted = deleted + 1
                    if want then pushkv(prev, k, old, false) end
                end
            end
            resps[#resps + 1] = {0, 0, deleted, {}, prev}
        end
    end
    if #evs == 0 then
        rev = cur
    else
        local branch = '1'
        if not ok then branch = '0' end
        emit(base, evs, rev, token, branch, bumped)
    end
    local okn = 0
    if ok then okn = 1 end
    return {okn, rev, resps}
end

-- get: key flags limit -> {revision, count, more, kvs}
local function get(keys, a)
    local base = enter(keys, a)
    local rev = current_rev(base)
    local count, more, kvs = range(base, a[1], tonumber(a[2]), tonumber(a[3]))
    return {rev, count, more, kvs}
end

-- page: prefix after at chunk keys_only cap -> {cur, compact, at, truncated,
-- live kvs (flat, as range), changed (flat: key existed v c m ver lease),
-- too_long}. One chunk of a paged read at revision `at` (0: now): the live
-- keys of the range after `after`, at most `chunk`, and for every key of the
-- range changed after `at` its state before its first change since (from
-- the event log's prev fields). The driver (page.c) merges the two; more
-- than `cap` events since `at` is too_long (read again from revision 0).
local function page(keys, a)
    local base = enter(keys, a)
    local prefix, after, at = a[1], a[2], tonumber(a[3])
    local chunk, keys_only, cap = tonumber(a[4]), a[5] == '1', tonumber(a[6])
    local cur = current_rev(base)
    local compact = tonumber(call('GET', base .. 'compact') or '0')
    if at == 0 then at = cur end
    if at > cur or at < compact then return {cur, compact, at, 0, {}, {}, 0} end
    local lo, hi = bounds(prefix)
    if after ~= '' then lo = '(' .. after end
    local names = call('ZRANGEBYLEX', base .. 'idx', lo, hi, 'LIMIT', 0, fmt(chunk))
    local live = {}
    for _, k in ipairs(names) do
        local kv = getkv(base, k)
        if not kv then fail('DCCORRUPT the key index lists a key without data') end
        pushkv(live, k, kv, keys_only)
    end
    local truncated = 0
    if #names >= chunk then truncated = 1 end
    local changed, seen, n, from = {}, {}, 0, fmt(at + 1) .. '-0'
    while at < cur do
        local es = call('XRANGE', base .. 'log', from, '+', 'COUNT', 512)
        for _, e in ipairs(es) do
            local f, k, pv, pc, pm, pver, plea = e[2]
            for i = 1, #f - 1, 2 do
                local name = f[i]
                if name == 'k' then k = f[i + 1]
                elseif name == 'pv' then pv = f[i + 1]
                elseif name == 'pc' then pc = f[i + 1]
                elseif name == 'pm' then pm = f[i + 1]
                elseif name == 'pver' then pver = f[i + 1]
                elseif name == 'plea' then plea = f[i + 1] end
            end
            if not k then fail('DCCORRUPT an event without a key') end
            if not seen[k] and ssub(k, 1, #prefix) == prefix and
                (after == '' or bytecmp(k, after) > 0) then
                seen[k] = true
                local v = pv or ''
                if keys_only then v = '' end
                local nc = #changed
                changed[nc + 1] = k
                if pc then
                    changed[nc + 2], changed[nc + 3], changed[nc + 4] = 1, v, pc
                    changed[nc + 5], changed[nc + 6], changed[nc + 7] = pm, pver, plea or '0'
                else
                    changed[nc + 2], changed[nc + 3], changed[nc + 4] = 0, '', 0
                    changed[nc + 5], changed[nc + 6], changed[nc + 7] = 0, 0, 0
                end
            end
        end
        n = n + #es
        if #es < 512 then break end
        if n >= cap then return {cur, compact, at, truncated, live, {}, 1} end
        from = '(' .. es[#es][1]
    end
    return {cur, compact, at, truncated, live, changed, 0}
end

local function now_ms()
    local t = call('TIME')
    return tonumber(t[1]) * 1000 + mfloor(tonumber(t[2]) / 1000)
end

-- lease_grant: ttl_ms -> id. The first ID of a store is drawn from the
-- clock, so that IDs do not start at 1 again after the data is lost.
local function lease_grant(keys, a)
    local base = enter(keys, a)
    local id = call('INCR', base .. 'leaseid')
    if id == 1 then
        id = (now_ms() % 4294967296) * 1048576 + 1 -- below 2^53: exact in Lua
        call('SET', base .. 'leaseid', fmt(id))
    end
    local sid = fmt(id)
    call('HSET', base .. 'lease:' .. sid, 'ttl', a[1])
    call('ZADD', base .. 'leases', fmt(now_ms() + tonumber(a[1])), sid)
    return id
end

-- lease_keepalive: id -> ttl_ms, or -1 if the lease is gone or expired
local function lease_keepalive(keys, a)
    local base = enter(keys, a)
    local sid = a[1]
    local dl = call('ZSCORE', base .. 'leases', sid)
    if not dl then return -1 end
    local now = now_ms()
    if tonumber(dl) <= now then return -1 end
    local ttl = tonumber(call('HGET', base .. 'lease:' .. sid, 'ttl') or '0')
    call('ZADD', base .. 'leases', fmt(now + ttl), sid)
    return ttl
end

-- delete a lease's keys at one new revision and forget the lease
local function revoke_one(base, sid, token)
    local cur = current_rev(base)
    local rev = cur + 1
    local names = call('SMEMBERS', base .. 'lease:' .. sid .. ':keys')
    tsort(names, function(x, y) return bytecmp(x, y) < 0 end)
    local evs = {}
    if #names > 0 then check_log(base, rev) end
    for _, k in ipairs(names) do
        local old = getkv(base, k)
        if old and fmt(old.lease) == sid then del_key(base, k, old, evs) end
    end
    call('DEL', base .. 'lease:' .. sid, base .. 'lease:' .. sid .. ':keys')
    call('ZREM', base .. 'leases', sid)
    if #evs == 0 then return cur end
    emit(base, evs, rev, token, '1')
    return rev
end

-- lease_revoke: id token -> revision, or -1 if the lease does not exist
local function lease_revoke(keys, a)
    local base = enter(keys, a)
    local sid = a[1]
    if not call('ZSCORE', base .. 'leases', sid) then return -1 end
    return revoke_one(base, sid, a[2])
end

-- lease_reap: token -> {leases revoked, ms until the next deadline (-1: none)}
local function lease_reap(keys, a)
    local base = enter(keys, a)
    local now = now_ms()
    local ids = call('ZRANGEBYSCORE', base .. 'leases', '-inf', fmt(now), 'LIMIT', 0, 16)
    for _, sid in ipairs(ids) do revoke_one(base, sid, a[1]) end
    local nxt = call('ZRANGE', base .. 'leases', 0, 0, 'WITHSCORES')
    local wait = -1
    if nxt[2] then wait = mmax(0, tonumber(nxt[2]) - now) end
    return {#ids, wait}
end

local function version()
    return VERSION
end

local M = {txn = txn, get = get, page = page, lease_grant = lease_grant,
           lease_keepalive = lease_keepalive, lease_revoke = lease_revoke, lease_reap = lease_reap,
           version = version}
-- @@REGISTER@@
local ro = {'no-writes'}
redis.register_function{function_name = 'ddlcoord2_version', callback = M.version, flags = ro}
redis.register_function{function_name = 'ddlcoord2_get', callback = M.get, flags = ro}
redis.register_function{function_name = 'ddlcoord2_page', callback = M.page, flags = ro}
redis.register_function('ddlcoord2_txn', M.txn)
redis.register_function('ddlcoord2_lease_grant', M.lease_grant)
redis.register_function('ddlcoord2_lease_keepalive', M.lease_keepalive)
redis.register_function('ddlcoord2_lease_revoke', M.lease_revoke)
redis.register_function('ddlcoord2_lease_reap', M.lease_reap)
