#!/usr/bin/python3
"""Read outguard's evidence file (JSON Lines) for tests and reports.

  evidence.py check FILE < SNIPPET   run the Python assertions in SNIPPET against
                                     the records; exit 1 and print what failed
  evidence.py report FILE [QUEUE.json [RULES.json]]
                                     a plain per-account summary for people;
                                     QUEUE.json is `postqueue -j` output (to
                                     count what is still on hold), RULES.json
                                     the rules (to name what each rule counts)
  evidence.py ids FILE ACCOUNT [APPLIED]
                                     queue IDs of ACCOUNT's messages, e.g. to
                                     feed `postsuper -d - hold`

In a SNIPPET these names are defined:
  recs                 every record, in file order
  where(**want)        records whose fields equal WANT; "keys_account" means
                       r["keys"]["account"] (one "_" per level), a callable
                       value is a predicate
  hit(r, rule)         the hit of RULE in record R, or None
  expect(cond, what, *recs)
                       note a failure WHAT (with the records shown) unless COND
  show(r)              a one-line summary of record R
"""
import json
import sys


def load(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise SystemExit("%s:%d: not JSON: %s" % (path, n, e))
    return out


def field(r, name):
    """Field NAME of R, with "_" separating levels (keys_account); None if absent."""
    if name in r:
        return r[name]
    cur = r
    parts = name.split("_")
    i = 0
    while i < len(parts):
        # Field names may contain "_" themselves (queue_id, rcpt_count): try the longest first.
        for j in range(len(parts), i, -1):
            key = "_".join(parts[i:j])
            if isinstance(cur, dict) and key in cur:
                cur = cur[key]
                i = j
                break
        else:
            return None
    return cur


def hit(r, rule):
    for h in r.get("hits") or []:
        if h.get("rule") == rule:
            return h
    return None


def show(r):
    hits = " ".join("%s=%s/%s" % (h.get("rule"), h.get("figure"), h.get("limit"))
                    for h in r.get("hits") or [])
    keys = r.get("keys") or {}
    return "queue_id=%s applied=%s action=%s score=%s scope=%s account=%s script=%s " \
           "rcpts=%s exempt=%s subject=%r hits=[%s]" % (
               r.get("queue_id"), r.get("applied"), r.get("action"), r.get("score"),
               r.get("scope"), keys.get("account"), keys.get("script"),
               r.get("rcpt_count"), r.get("exempt"), r.get("subject"), hits)


def cmd_check(path):
    recs = load(path)
    failures = []

    def where(**want):
        out = []
        for r in recs:
            ok = True
            for k, v in want.items():
                got = field(r, k)
                if callable(v):
                    ok = v(got)
                else:
                    ok = got == v
                if not ok:
                    break
            if ok:
                out.append(r)
        return out

    def expect(cond, what, *shown):
        if not cond:
            failures.append(what)
            for r in shown[:8]:
                failures.append("    " + show(r))
            if len(shown) > 8:
                failures.append("    ... %d more" % (len(shown) - 8))
        return cond

    env = {"recs": recs, "where": where, "hit": hit, "expect": expect, "show": show,
           "field": field}
    code = sys.stdin.read()
    try:
        exec(compile(code, "<check>", "exec"), env)
    except Exception as e:  # a malformed record is a failure, not a crash
        failures.append("check raised %s: %s" % (type(e).__name__, e))
    if failures:
        print("\n".join(failures))
        print("(%d records in %s)" % (len(recs), path))
        return 1
    return 0


def read_queue(path):
    """Queue IDs on hold, from `postqueue -j` output in PATH."""
    held = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                q = json.loads(line)
                if q.get("queue_name") == "hold":
                    held.append(q["queue_id"])
    return held


def rule_units(rules_path):
    """Rule id -> what its figure counts ("messages", "recipients")."""
    units = {}
    if rules_path:
        with open(rules_path, encoding="utf-8") as f:
            for rule in json.load(f).get("rules", []):
                units[rule.get("id")] = rule.get("count") or "recipients"
    return units


def span(lo, hi):
    return str(lo) if lo == hi else "%s-%s" % (lo, hi)


def cmd_report(path, queue_path=None, rules_path=None):
    recs = load(path)
    held = read_queue(queue_path) if queue_path else []
    held_set = set(held)
    units = rule_units(rules_path)
    accounts, order = {}, []
    locks, refused = [], {}
    for r in recs:
        # lock, unlock, allow and refused records are events, not messages
        if r.get("event") in ("lock", "unlock", "allow"):
            locks.append(r)
            continue
        if r.get("event") == "refused":
            refused[r.get("key")] = refused.get(r.get("key"), 0) + 1
            continue
        if r.get("event"):
            continue
        acct = (r.get("keys") or {}).get("account") or "(unknown)"
        a = accounts.get(acct)
        if a is None:
            a = accounts[acct] = {"applied": {}, "why": {}, "scripts": set(), "exempt": None,
                                  "who": None, "held": []}
            order.append(acct)
        applied = r.get("applied") or "accept"
        a["applied"][applied] = a["applied"].get(applied, 0) + 1
        if r.get("queue_id") in held_set:
            a["held"].append(r["queue_id"])
        if r.get("exempt"):
            a["exempt"] = r["exempt"]
        script = (r.get("keys") or {}).get("script")
        if script:
            a["scripts"].add(script)
        stamp = r.get("stamp") or {}
        if stamp.get("cwd"):
            a["who"] = "local user %s, working directory %s" % (
                stamp.get("user") or "uid %s" % stamp.get("uid"), stamp["cwd"])
        for h in r.get("hits") or []:
            w = a["why"].get(h.get("rule"))
            fig = h.get("figure") or 0
            if w is None:
                w = a["why"][h.get("rule")] = {"n": 0, "lo": fig, "hi": fig, "hit": h}
            w["n"] += 1
            w["lo"], w["hi"] = min(w["lo"], fig), max(w["hi"], fig)

    if not recs:
        print("  (no evidence records)")
        return 0
    width = max(len(a) for a in order)
    print("  %-*s  %8s  %11s  %10s  %7s" % (width, "account", "accepted", "quarantined",
                                             "tempfailed", "on hold"))
    for acct in order:
        ap = accounts[acct]["applied"]
        print("  %-*s  %8d  %11d  %10d  %7d" % (
            width, acct, ap.get("accept", 0) + ap.get("tag", 0), ap.get("quarantine", 0),
            ap.get("tempfail", 0) + ap.get("reject", 0), len(accounts[acct]["held"])))

    rows = []   # (account, rule, what, count); rule None for a free-text note
    for acct in order:
        a = accounts[acct]
        first = len(rows)
        if a["exempt"]:
            rows.append((acct, None, "exempt (%s): not counted, never stopped" % a["exempt"], ""))
        for rule, w in sorted(a["why"].items(), key=lambda kv: -kv[1]["n"]):
            h = w["hit"]
            if h.get("check") not in ("recipients", "rate", "hidden-recipients"):
                # a content check: what it found says more than its figure
                m = h.get("matched")
                if isinstance(m, list):
                    m = ", ".join(m[:4]) + (", ..." if len(m) > 4 else "")
                rows.append((acct, rule, "%s%s" % (h.get("check"), ": %s" % m if m else ""),
                             "%d message%s" % (w["n"], "" if w["n"] == 1 else "s")))
                continue
            what = units.get(rule, "recipients" if h.get("check") != "rate" else "messages")
            text = "%s %s" % (span(w["lo"], w["hi"]), what)
            if h.get("window"):
                text += " in %s s" % h["window"]
            key = h.get("key")
            if key and key != acct:
                text += " by %s" % key
            text += ", limit %s" % h.get("limit")
            rows.append((acct, rule, text, "%d message%s" % (w["n"], "" if w["n"] == 1 else "s")))
        if a["who"]:
            rows.append((acct, None, a["who"], ""))
        for s in sorted(a["scripts"]):
            if not any(s in r[2] for r in rows[first:]):
                rows.append((acct, None, "PHP script %s" % s, ""))
    if rows:
        rw = max([len(r[1]) for r in rows if r[1]] + [0])
        tw = max([len(r[2]) for r in rows if r[1]] + [0])
        print()
        print("  Why:")
        last = None
        for acct, rule, text, count in rows:
            label = acct if acct != last else ""
            last = acct
            if rule:
                line = "  %-*s  %-*s  %-*s  %s" % (width, label, rw, rule, tw, text, count)
            else:
                line = "  %-*s  %s" % (width, label, text)
            print(line.rstrip())
    if locks:
        print()
        print("  Locks:")
        for r in locks:
            what = r.get("event")
            line = "  %s %s by %s" % (r.get("key"), what + "ed" if what != "allow" else "allowed",
                                       r.get("by"))
            if what == "lock":
                line += ", %s" % ("until unlocked" if r.get("until") is None else "until %s" % r["until"])
                if r.get("reason"):
                    line += ": %s" % r["reason"]
                n = refused.get(r.get("key"), 0)
                if n:
                    line += "; then refused at MAIL FROM %d time%s" % (n, "" if n == 1 else "s")
                if r.get("queue_ids"):
                    line += "; %d accepted messages listed to hold" % len(r["queue_ids"])
            print(line)
    return 0


def cmd_ids(path, account, applied=None):
    """Queue IDs of ACCOUNT's messages (with APPLIED, if given), one a line."""
    for r in load(path):
        if (r.get("keys") or {}).get("account") == account and \
                (applied is None or r.get("applied") == applied) and r.get("queue_id"):
            print(r["queue_id"])
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "check":
        return cmd_check(argv[2])
    if len(argv) in (3, 4, 5) and argv[1] == "report":
        return cmd_report(argv[2], argv[3] if len(argv) > 3 else None,
                          argv[4] if len(argv) > 4 else None)
    if len(argv) in (4, 5) and argv[1] == "ids":
        return cmd_ids(argv[2], argv[3], argv[4] if len(argv) > 4 else None)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
