/*
 * Unit tests for containment, through the runtime with an injected clock:
 * the stop that reaches lock.after locks the key, the lock record lists the
 * queue IDs the key had accepted, the key's next messages are held (local)
 * or tempfailed (SMTP) and refused at MAIL FROM, an expiring lock ends by
 * itself, exempt and allowed keys are never locked, and a corrupt state
 * file lets the runtime start with no locks and says so.  A hold-style lock
 * lets the key's mail in and quarantines it silently (no refusal at MAIL
 * FROM, no tempfail); a refuse-style lock of a local uid or script
 * quarantines its submissions, there being no SMTP client to tempfail.
 * The hook (a script that writes down what it gets) is told of a stopped
 * account once per quiet period, counted from its last notification, and
 * of an incident's lock once, not of the messages the lock holds back.
 */
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "facts.h"
#include "hook.h"
#include "log.h"
#include "runtime.h"
#include "testutil.h"

static char dir[256];

static const char rules_lock[] =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 0 },\n"
	"  \"exempt\": { \"keys\": [\"sasl:lists@example.com\"] },\n"
	"  \"lock\": { \"after\": 3, \"within\": 600, \"keys\": [\"account\"], \"duration\": 120 },\n"
	"  \"rules\": [ { \"id\": \"many\", \"check\": \"recipients\", \"limit\": 2, \"score\": 10 } ] }\n";

/* The same policy in the hold style: accept and quarantine silently. */
static const char rules_hold[] =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 0 },\n"
	"  \"lock\": { \"after\": 3, \"within\": 600, \"keys\": [\"account\", \"script\"],\n"
	"            \"duration\": 120, \"style\": \"hold\" },\n"
	"  \"rules\": [ { \"id\": \"many\", \"check\": \"recipients\", \"limit\": 2, \"score\": 10 } ] }\n";

static void write_file(const char *name, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	og_test_write(path, text);
}

static void start_with(struct og_runtime *rt, const char *rules)
{
	struct og_diag d;
	char path[PATH_MAX];

	write_file("rules.json", rules);
	snprintf(path, sizeof(path), "%s/outguard.conf", dir);
	og_diag_init(&d);
	if (og_runtime_init(rt, path, &d) < 0)
		fail_msg("runtime: %s", d.n > 0 ? d.msgs[0] : "?");
	og_diag_free(&d);
}

static void start(struct og_runtime *rt)
{
	start_with(rt, rules_lock);
}

/* The usual configuration, with the members EXTRA ("\"hook\": {...},") if not NULL. */
static void write_conf(const char *extra)
{
	char conf[3 * PATH_MAX + 1024];

	snprintf(conf, sizeof(conf),
	         "{ \"socket\": \"inet:1@127.0.0.1\", \"rules\": \"rules.json\", %s\n"
	         "  \"evidence_file\": \"evidence.jsonl\", \"state_file\": \"state.json\",\n"
	         "  \"scope\": { \"originating_daemons\": [\"ORIGINATING\"] } }\n",
	         extra != NULL ? extra : "");
	write_file("outguard.conf", conf);
}

static int setup(void **state)
{
	(void)state;
	if (og_test_mkdtemp(dir, sizeof(dir), "contain") < 0)
		return -1;
	write_conf(NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return og_test_rmtree(dir);
}

/*
 * Who sends: a SASL login over SMTP (from ADDR, by default 127.0.0.9: the
 * server itself, no client key), or with no login a local submission
 * (Postfix pickup: 127.0.0.1, port 0) stamped by outguard-sendmail with
 * STAMP and/or carrying PHP's X-PHP-Originating-Script PHP.
 */
struct who {
	const char *login;
	const char *stamp;
	const char *php;
	const char *addr;
};

/* The envelope of W's message into F (initialised here). */
static void envelope(struct og_facts *f, const struct who *w)
{
	og_facts_init(f);
	assert_int_equal(og_facts_set(f, &f->client_addr, w->login == NULL ? "127.0.0.1"
	                                                  : w->addr != NULL ? w->addr
	                                                                    : "127.0.0.9"), 0);
	f->client_port = w->login != NULL ? 4000 : 0;
	f->client_port_known = true;
	if (w->login != NULL)
		assert_int_equal(og_facts_set(f, &f->auth_authen, w->login), 0);
	if (w->stamp != NULL)
		assert_int_equal(og_facts_set(f, &f->stamp, w->stamp), 0);
	if (w->php != NULL)
		assert_int_equal(og_facts_set(f, &f->php_script, w->php), 0);
	assert_int_equal(og_facts_set_sender(f, w->login != NULL ? "<x@example.com>"
	                                                         : "web1@pfx.test"), 0);
}

/* One message of W with N recipients, judged at NOW (seconds): the action applied. */
static enum og_action judge_as(struct og_runtime *rt, const struct who *w, int n, const char *qid,
                               int64_t now, bool *locked)
{
	struct og_policy *p = og_runtime_policy(rt);
	struct og_facts f;
	struct og_identity id;
	struct og_verdict *v = malloc(sizeof(*v));
	enum og_action a;
	char rcpt[64];

	assert_non_null(v);
	envelope(&f, w);
	assert_int_equal(og_facts_set(&f, &f.queue_id, qid), 0);
	for (int i = 0; i < n; i++) {
		snprintf(rcpt, sizeof(rcpt), "<r%d@remote.example>", i);
		assert_int_equal(og_facts_add_rcpt(&f, rcpt), 0);
	}
	assert_int_equal(og_runtime_judge(rt, p, &f, now * 1000, &id, v), 0);
	a = v->applied;
	if (locked != NULL)
		*locked = v->locked_key != NULL;
	og_identity_free(&id);
	og_facts_free(&f);
	free(v);
	og_policy_release(p);
	return a;
}

/* One SMTP message from LOGIN with N recipients, judged at NOW (seconds). */
static enum og_action judge(struct og_runtime *rt, const char *login, int n, const char *qid,
                            int64_t now, bool *locked)
{
	const struct who w = { .login = login };

	return judge_as(rt, &w, n, qid, now, locked);
}

/* A local submission stamped STAMP and/or from the PHP script PHP (see struct who). */
static enum og_action judge_local(struct og_runtime *rt, const char *stamp, const char *php,
                                  int n, const char *qid, int64_t now, bool *locked)
{
	const struct who w = { .stamp = stamp, .php = php };

	return judge_as(rt, &w, n, qid, now, locked);
}

/* Would MAIL FROM of W be refused at NOW? */
static bool refused_as(struct og_runtime *rt, const struct who *w, int64_t now)
{
	struct og_policy *p = og_runtime_policy(rt);
	struct og_facts f;
	const char *reply;
	int rc;

	envelope(&f, w);
	rc = og_runtime_mail_refused(rt, p, &f, now * 1000, &reply);
	if (rc)
		assert_string_equal(reply, "Account suspended for sending spam; contact support");
	og_facts_free(&f);
	og_policy_release(p);
	return rc != 0;
}

/* Would MAIL FROM of LOGIN be refused at NOW? */
static bool refused(struct og_runtime *rt, const char *login, int64_t now)
{
	const struct who w = { .login = login };

	return refused_as(rt, &w, now);
}

/* Would MAIL FROM of a local submission stamped STAMP be refused at NOW?  (It never is.) */
static bool local_refused(struct og_runtime *rt, const char *stamp, int64_t now)
{
	const struct who w = { .stamp = stamp };

	return refused_as(rt, &w, now);
}

/*
 * The evidence records (the file is the whole test's): events named EVENT
 * of KEY when EVENT is set, else the message records.  A new array.
 */
static json_t *records(const char *event, const char *key)
{
	char path[PATH_MAX], *text, *line, *save = NULL;
	json_t *all = json_array();

	snprintf(path, sizeof(path), "%s/evidence.jsonl", dir);
	text = og_test_slurp(path);
	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_error_t e;
		json_t *r = json_loads(line, 0, &e);
		const char *ev;

		if (r == NULL)
			fail_msg("evidence line is not JSON: %s: %s", e.text, line);
		ev = json_string_value(json_object_get(r, "event"));
		if (event != NULL ? ev != NULL && strcmp(ev, event) == 0 &&
		                    strcmp(json_string_value(json_object_get(r, "key")), key) == 0
		                  : ev == NULL)
			json_array_append(all, r);
		json_decref(r);
	}
	free(text);
	return all;
}

/* The message record of queue ID QID (one reference), failing unless there is exactly one. */
static json_t *record_of(const char *qid)
{
	json_t *all = records(NULL, NULL), *r, *found = NULL;
	size_t i, n = 0;

	json_array_foreach(all, i, r) {
		if (strcmp(json_string_value(json_object_get(r, "queue_id")), qid) == 0) {
			found = r;
			n++;
		}
	}
	if (n != 1)
		fail_msg("%zu evidence records of %s, want 1", n, qid);
	json_incref(found);
	json_decref(all);
	return found;
}

/* R's member A (its member B when B is set) as a string, or NULL. */
static const char *str_at(json_t *r, const char *a, const char *b)
{
	json_t *x = json_object_get(r, a);

	if (b != NULL)
		x = json_object_get(x, b);
	return json_string_value(x);
}

static void test_lock_after_stops(void **state)
{
	struct og_runtime rt;
	char *ev;
	bool locked;
	(void)state;

	start(&rt);
	/* two accepted, then three stops: the third locks */
	assert_int_equal(judge(&rt, "alice@example.com", 1, "QOK1", 1000, NULL), OG_ACT_ACCEPT);
	assert_int_equal(judge(&rt, "alice@example.com", 1, "QOK2", 1001, NULL), OG_ACT_ACCEPT);
	for (int i = 0; i < 3; i++)
		assert_int_equal(judge(&rt, "alice@example.com", 5, "QBAD", 1002 + i, NULL),
		                 OG_ACT_QUARANTINE);
	assert_true(refused(&rt, "alice@example.com", 1010));
	assert_true(refused(&rt, "Alice@Example.com", 1010));     /* the key is folded */
	assert_false(refused(&rt, "bob@example.com", 1010));
	/* an ordinary message of the locked account: tempfailed over SMTP, not a stop */
	assert_int_equal(judge(&rt, "alice@example.com", 1, "QLATE", 1011, &locked), OG_ACT_TEMPFAIL);
	assert_true(locked);
	assert_int_equal(atomic_load(&rt.counters.locks_made), 1);
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/evidence.jsonl", dir);
		ev = og_test_slurp(path);
	}
	assert_non_null(ev);
	assert_non_null(strstr(ev, "\"event\":\"lock\",\"key\":\"sasl:alice@example.com\""));
	assert_non_null(strstr(ev, "\"queue_ids\":[\"QOK1\",\"QOK2\"]"));
	assert_non_null(strstr(ev, "\"event\":\"refused\""));
	assert_non_null(strstr(ev, "\"locked\":{\"key\":\"sasl:alice@example.com\""));
	free(ev);
	/* 120 s later the lock is gone by itself */
	assert_false(refused(&rt, "alice@example.com", 1004 + 121));
	assert_int_equal(judge(&rt, "alice@example.com", 1, "QNEXT", 1004 + 121, &locked),
	                 OG_ACT_ACCEPT);
	assert_false(locked);
	og_runtime_destroy(&rt);
}

/*
 * Hold style: the locked account's MAIL FROM is not refused and its next
 * messages, however ordinary, are accepted and quarantined, the record
 * saying which lock held them; they are not stops of their own.
 */
static void test_hold_style(void **state)
{
	struct og_runtime rt;
	json_t *locks, *r;
	bool locked;
	(void)state;

	start_with(&rt, rules_hold);
	for (int i = 0; i < 3; i++)
		assert_int_equal(judge(&rt, "hal@example.com", 5, "QHBAD", 4000 + i, NULL),
		                 OG_ACT_QUARANTINE);
	assert_int_equal(atomic_load(&rt.counters.locks_made), 1);
	locks = records("lock", "sasl:hal@example.com");
	assert_int_equal(json_array_size(locks), 1);
	CHECK_STR("lock style", str_at(json_array_get(locks, 0), "style", NULL), "hold");
	json_decref(locks);

	/* not tipped off: MAIL FROM goes through, the message is taken and held */
	assert_false(refused(&rt, "hal@example.com", 4010));
	assert_int_equal(atomic_load(&rt.counters.refused), 0);
	for (int i = 0; i < 4; i++) {
		char qid[16];

		snprintf(qid, sizeof(qid), "QHOLD%d", i);
		assert_int_equal(judge(&rt, "hal@example.com", 1, qid, 4011 + i, &locked),
		                 OG_ACT_QUARANTINE);
		assert_true(locked);
	}
	assert_int_equal(atomic_load(&rt.counters.locked_held), 4);
	r = record_of("QHOLD0");
	CHECK_STR("action", str_at(r, "action", NULL), "accept");     /* the rules had nothing */
	CHECK_STR("applied", str_at(r, "applied", NULL), "quarantine");
	CHECK_STR("locked.key", str_at(r, "locked", "key"), "sasl:hal@example.com");
	CHECK_STR("locked.style", str_at(r, "locked", "style"), "hold");
	assert_non_null(str_at(r, "locked", "until"));
	json_decref(r);
	/* no refusal was recorded, and the held messages made no second lock */
	locks = records("refused", "sasl:hal@example.com");
	assert_int_equal(json_array_size(locks), 0);
	json_decref(locks);
	assert_int_equal(atomic_load(&rt.counters.locks_made), 1);
	/* another account is untouched */
	assert_int_equal(judge(&rt, "ivy@example.com", 1, "QIVY", 4020, &locked), OG_ACT_ACCEPT);
	assert_false(locked);
	/* the lock ends after its 120 s, and hal's mail flows again */
	assert_int_equal(judge(&rt, "hal@example.com", 1, "QHAFTER", 4002 + 121, &locked),
	                 OG_ACT_ACCEPT);
	assert_false(locked);
	og_runtime_destroy(&rt);
}

/*
 * A refuse-style lock of a local uid or script: a local submission has no
 * SMTP client to tempfail, so its mail is quarantined instead, and MAIL
 * FROM of a local submission is never refused.
 */
static void test_locked_local_is_quarantined(void **state)
{
	static const char stamp[] = "uid=1001; user=web1; cwd=/var/www/site1";
	struct og_runtime rt;
	json_t *out = NULL, *r;
	char err[256];
	bool locked;
	(void)state;

	start(&rt);         /* refuse style */
	/* uid:1001 locked by its own stops */
	for (int i = 0; i < 3; i++)
		assert_int_equal(judge_local(&rt, stamp, NULL, 5, "QUBAD", 5000 + i, NULL),
		                 OG_ACT_QUARANTINE);
	assert_int_equal(atomic_load(&rt.counters.locks_made), 1);
	assert_false(local_refused(&rt, stamp, 5010));
	assert_int_equal(judge_local(&rt, stamp, NULL, 1, "QULOCKED", 5011, &locked),
	                 OG_ACT_QUARANTINE);
	assert_true(locked);
	r = record_of("QULOCKED");
	CHECK_STR("uid: account", str_at(r, "keys", "account"), "uid:1001");
	CHECK_STR("uid: applied", str_at(r, "applied", NULL), "quarantine");
	CHECK_STR("uid: locked.key", str_at(r, "locked", "key"), "uid:1001");
	CHECK_STR("uid: locked.style", str_at(r, "locked", "style"), "refuse");
	json_decref(r);

	/* a script locked by an admin: its uid's other scripts still send */
	assert_int_equal(og_admin_lock(&rt, "php:1002:mailer.php", 0, 5020 * 1000, &out, err,
	                               sizeof(err)), 0);
	json_decref(out);
	assert_int_equal(judge_local(&rt, NULL, "1002:mailer.php", 1, "QSLOCKED", 5021, &locked),
	                 OG_ACT_QUARANTINE);
	assert_true(locked);
	assert_int_equal(judge_local(&rt, NULL, "1002:other.php", 1, "QSOTHER", 5022, &locked),
	                 OG_ACT_ACCEPT);
	assert_false(locked);
	r = record_of("QSLOCKED");
	CHECK_STR("script: account", str_at(r, "keys", "account"), "uid:1002");
	CHECK_STR("script: locked.key", str_at(r, "locked", "key"), "php:1002:mailer.php");
	CHECK_STR("script: locked.style", str_at(r, "locked", "style"), "refuse");
	json_decref(r);
	assert_int_equal(atomic_load(&rt.counters.locked_held), 2);
	assert_int_equal(atomic_load(&rt.counters.refused), 0);
	assert_false(local_refused(&rt, stamp, 5023));
	og_runtime_destroy(&rt);
}

/* ---- notifications: the hook is a script that appends what it gets to a file ---- */

/* The lock policy of rules_lock without "lock": nothing is locked. */
static const char rules_nolock[] =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 0 },\n"
	"  \"rules\": [ { \"id\": \"many\", \"check\": \"recipients\", \"limit\": 2, \"score\": 10 } ] }\n";
/* rules_lock where the first stop locks. */
static const char rules_lock1[] =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 0 },\n"
	"  \"lock\": { \"after\": 1, \"within\": 600, \"keys\": [\"account\"], \"duration\": 120 },\n"
	"  \"rules\": [ { \"id\": \"many\", \"check\": \"recipients\", \"limit\": 2, \"score\": 10 } ] }\n";

/*
 * A runtime with RULES whose hook runs for EVENTS (JSON array text) with
 * hook.quiet QUIET, its threads started.  The hook writes one line an
 * event to DIR/events: "EVENT KEY " and the record.
 */
static void start_hooked(struct og_runtime *rt, const char *rules, const char *events,
                         unsigned quiet)
{
	char abs[PATH_MAX], hook[PATH_MAX + 16], extra[2 * PATH_MAX + 256], script[PATH_MAX + 128];

	assert_non_null(realpath(dir, abs));
	snprintf(hook, sizeof(hook), "%s/hook.sh", abs);
	snprintf(script, sizeof(script),
	         "#!/bin/sh\n{ printf '%%s %%s ' \"$OUTGUARD_EVENT\" \"$OUTGUARD_KEY\"; cat; } >>%s/events\n",
	         abs);
	og_test_write(hook, script);
	assert_int_equal(chmod(hook, 0755), 0);
	write_file("events", "");
	snprintf(extra, sizeof(extra),
	         "\"hook\": { \"command\": [\"%s\"], \"events\": %s, \"quiet\": %u,\n"
	         "            \"max_running\": 1, \"timeout\": 10 },", hook, events, quiet);
	write_conf(extra);
	start_with(rt, rules);
	og_runtime_start(rt);
	write_conf(NULL);
}

/*
 * Wait for every event handed to the hook to have run, then the events it
 * got, one a line: "EVENT KEY QUEUEID" (the message's queue ID for a
 * quarantine, the trigger for a lock).  Caller frees.
 */
static char *hook_events(struct og_runtime *rt)
{
	struct og_hook *h = atomic_load(&rt->hook);
	struct og_hook_stats st;
	char path[PATH_MAX], *text, *line, *save = NULL, *out;
	size_t len = 0, cap = 4096;
	time_t deadline = time(NULL) + 15;

	assert_non_null(h);
	for (;;) {
		og_hook_stats(h, &st);
		if (st.succeeded + st.failed + st.timed_out + st.spawn_errors + st.dropped >= st.queued)
			break;
		if (time(NULL) > deadline)
			fail_msg("the hook has not run its %" PRIu64 " events in 15 s", st.queued);
		usleep(10000);
	}
	assert_int_equal(st.succeeded, st.queued);
	snprintf(path, sizeof(path), "%s/events", dir);
	text = og_test_slurp(path);
	assert_non_null(text);
	out = malloc(cap);
	assert_non_null(out);
	out[0] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char event[32], key[128];
		json_error_t e;
		json_t *r = NULL;
		int used = 0;
		const char *qid;

		if (sscanf(line, "%31s %127s %n", event, key, &used) == 2 && used > 0)
			r = json_loads(line + used, 0, &e);
		if (r == NULL)
			fail_msg("the hook got no event and record: %s", line);
		qid = str_at(r, strcmp(event, "lock") == 0 ? "trigger" : "queue_id", NULL);
		CHECK_STR("the record's event", str_at(r, "event", NULL), event);
		len += (size_t)snprintf(out + len, cap - len, "%s %s %s\n", event, key,
		                        qid != NULL ? qid : "-");
		assert_true(len < cap);
		json_decref(r);
	}
	free(text);
	return out;
}

/*
 * A steady trickle of quarantines: one notification, then none for
 * hook.quiet seconds after it, whatever quarantines come in between, then
 * the next (hook.quiet 600: slots of 20 s, so the quiet period ends between
 * 600 and 620 s after a notification).  Each account has its own.
 */
static void test_notify_quiet_period(void **state)
{
	struct og_runtime rt;
	char *got;
	(void)state;

	start_hooked(&rt, rules_nolock, "[\"quarantine\"]", 600);
	for (int i = 0; i <= 20; i++) {
		char qid[16];

		snprintf(qid, sizeof(qid), "QN%02d", i);
		assert_int_equal(judge(&rt, "kim@example.com", 5, qid, 10000 + 100 * i, NULL),
		                 OG_ACT_QUARANTINE);
		if (i == 1)
			judge(&rt, "lee@example.com", 5, "QLEE", 10150, NULL);
	}
	/* accepted mail is never notified */
	assert_int_equal(judge(&rt, "kim@example.com", 1, "QOK", 12001, NULL), OG_ACT_ACCEPT);
	got = hook_events(&rt);
	CHECK_STR("notifications", got,
	          "quarantine sasl:kim@example.com QN00\n"
	          "quarantine sasl:lee@example.com QLEE\n"
	          "quarantine sasl:kim@example.com QN07\n"      /* 700 s after QN00 */
	          "quarantine sasl:kim@example.com QN14\n");    /* 700 s after QN07 */
	free(got);
	og_runtime_destroy(&rt);
}

/*
 * One incident, one notification of each kind the hook asked for: the
 * first stop's quarantine (unless the lock came with it), the lock, which
 * is told even within the quiet period and is the notification of the
 * message that made it, then nothing for the messages the lock holds or
 * refuses; the lock's notification starts the account's quiet period.
 */
static void test_notify_one_per_incident(void **state)
{
	static const struct {
		const char *label, *rules, *events, *account, *want;
	} rows[] = {
		{ "lock after 3, lock and quarantine", rules_lock, "[\"lock\", \"quarantine\"]",
		  "mia@example.com",
		  "quarantine sasl:mia@example.com QI0\nlock sasl:mia@example.com QI2\n" },
		{ "lock after 1, lock and quarantine", rules_lock1, "[\"quarantine\", \"lock\"]",
		  "ned@example.com", "lock sasl:ned@example.com QI0\n" },
		{ "lock after 3, quarantine only", rules_lock, "[\"quarantine\"]", "oda@example.com",
		  "quarantine sasl:oda@example.com QI0\n" },
		{ "lock after 3, lock only", rules_lock, "[\"lock\"]", "pia@example.com",
		  "lock sasl:pia@example.com QI2\n" },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_runtime rt;
		char *got, label[128];
		bool locked;

		start_hooked(&rt, rows[i].rules, rows[i].events, 3600);
		for (int k = 0; k < 3; k++) {
			char qid[8];

			snprintf(qid, sizeof(qid), "QI%d", k);
			judge(&rt, rows[i].account, 5, qid, 20000 + k, &locked);
		}
		assert_int_equal(atomic_load(&rt.counters.locks_made), 1);
		/* what the lock holds back: refused at MAIL FROM, tempfailed, stopped anyway */
		for (int k = 0; k < 3; k++) {
			assert_true(refused(&rt, rows[i].account, 20010 + k));
			assert_int_equal(judge(&rt, rows[i].account, 1, "QHELD", 20010 + k, &locked),
			                 OG_ACT_TEMPFAIL);
			assert_true(locked);
			assert_int_equal(judge(&rt, rows[i].account, 5, "QHELD5", 20010 + k, &locked),
			                 OG_ACT_TEMPFAIL);
			assert_true(locked);
		}
		got = hook_events(&rt);
		snprintf(label, sizeof(label), "row \"%s\"", rows[i].label);
		CHECK_STR(label, got, rows[i].want);
		free(got);
		og_runtime_destroy(&rt);
	}
}

/*
 * The quiet period runs from the last notification, the lock's included:
 * with hook.quiet 600, a quarantine 401 s after the lock's notification
 * (1000 s after the incident's first) is quiet, one 701 s after it is told.
 */
static void test_notify_lock_starts_quiet_period(void **state)
{
	static const struct {
		int64_t at;
		const char *qid;
		enum og_action want;
	} rows[] = {
		{ 30000, "QA0", OG_ACT_QUARANTINE },    /* told */
		{ 30300, "QA1", OG_ACT_QUARANTINE },
		{ 30599, "QA2", OG_ACT_QUARANTINE },    /* the third stop in 600 s: locked, told */
		{ 31000, "QA3", OG_ACT_QUARANTINE },    /* the 120 s lock is over; 2 stops in 600 s */
		{ 31300, "QA4", OG_ACT_QUARANTINE },    /* told */
	};
	struct og_runtime rt;
	char *got;
	bool locked;
	(void)state;

	start_hooked(&rt, rules_lock, "[\"lock\", \"quarantine\"]", 600);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		if (judge(&rt, "quinn@example.com", 5, rows[i].qid, rows[i].at, &locked) !=
		    rows[i].want || locked)
			fail_msg("row %s: not a quarantine of its own", rows[i].qid);
	}
	assert_int_equal(atomic_load(&rt.counters.locks_made), 1);
	got = hook_events(&rt);
	CHECK_STR("notifications", got,
	          "quarantine sasl:quinn@example.com QA0\n"
	          "lock sasl:quinn@example.com QA2\n"
	          "quarantine sasl:quinn@example.com QA4\n");
	free(got);
	og_runtime_destroy(&rt);
}

/* The queue IDs of the last lock record of KEY, as "ID ID ..." (static buffer). */
static const char *lock_queue_ids(const char *key)
{
	static char buf[16384];
	json_t *locks = records("lock", key), *ids, *x;
	size_t i, len = 0;

	assert_true(json_array_size(locks) > 0);
	ids = json_object_get(json_array_get(locks, json_array_size(locks) - 1), "queue_ids");
	assert_true(json_is_array(ids));
	buf[0] = '\0';
	json_array_foreach(ids, i, x) {
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len > 0 ? " " : "",
		                        json_string_value(x));
		assert_true(len < sizeof(buf));
	}
	json_decref(locks);
	return buf;
}

/*
 * An admin's lock lists the queue IDs its key had accepted in the lock
 * window, whatever the key's kind, and also when the rules have no lock
 * policy (or one that locks other kinds): the client, the domain, the
 * account, the script.  Stopped messages are not listed (they are held
 * already), nor other keys' messages.
 */
static void test_admin_lock_lists_queue_ids(void **state)
{
	static const struct {
		const char *label, *rules, *key, *want;
	} rows[] = {
		{ "no lock policy: a client", rules_nolock, "ip:192.0.2.7", "QA1 QB1" },
		{ "no lock policy: a domain", rules_nolock, "domain:shop.example", "QA1 QA2 QB1" },
		{ "no lock policy: an account", rules_nolock, "sasl:ann@shop.example", "QA1 QA2" },
		{ "no lock policy: a script", rules_nolock, "php:1003:form.php", "QS1" },
		{ "a policy of accounts: a client", rules_lock, "ip:192.0.2.7", "QA1 QB1" },
		{ "a policy of accounts: a domain", rules_lock, "domain:shop.example", "QA1 QA2 QB1" },
	};
	const struct who ann = { .login = "ann@shop.example", .addr = "192.0.2.7" };
	const struct who ann2 = { .login = "ann@shop.example", .addr = "192.0.2.8" };
	const struct who ben = { .login = "ben@shop.example", .addr = "192.0.2.7" };
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_runtime rt;
		json_t *out = NULL;
		char err[256];
		int64_t t = 40000 + 1000 * (int64_t)i;

		start_with(&rt, rows[i].rules);
		assert_int_equal(judge_as(&rt, &ann, 1, "QA1", t, NULL), OG_ACT_ACCEPT);
		assert_int_equal(judge_as(&rt, &ann2, 1, "QA2", t + 1, NULL), OG_ACT_ACCEPT);
		assert_int_equal(judge_as(&rt, &ben, 1, "QB1", t + 2, NULL), OG_ACT_ACCEPT);
		assert_int_equal(judge_as(&rt, &ann, 5, "QSTOP", t + 3, NULL), OG_ACT_QUARANTINE);
		assert_int_equal(judge_local(&rt, NULL, "1003:form.php", 1, "QS1", t + 4, NULL),
		                 OG_ACT_ACCEPT);
		assert_int_equal(judge(&rt, "cy@other.example", 1, "QC1", t + 5, NULL), OG_ACT_ACCEPT);
		if (og_admin_lock(&rt, rows[i].key, 0, (t + 10) * 1000, &out, err, sizeof(err)) < 0)
			fail_msg("row \"%s\": %s", rows[i].label, err);
		json_decref(out);
		CHECK_STR(rows[i].label, lock_queue_ids(rows[i].key), rows[i].want);
		assert_int_equal(og_admin_unlock(&rt, rows[i].key, (t + 11) * 1000, &out, err,
		                                 sizeof(err)), 0);
		json_decref(out);
		og_runtime_destroy(&rt);
	}
}

/* The queue IDs noted for a key are bounded: the newest OG_RATE_DISTINCT_MAX (1024). */
static void test_queue_ids_bounded(void **state)
{
	struct og_runtime rt;
	json_t *out = NULL, *locks, *ids, *x;
	char err[256], qid[16];
	size_t i;
	(void)state;

	start_with(&rt, rules_nolock);
	for (int k = 0; k < 1100; k++) {
		snprintf(qid, sizeof(qid), "Q%04d", k);
		judge(&rt, k % 2 ? "dee@big.example" : "eve@big.example", 1, qid, 50000 + k / 10, NULL);
	}
	assert_int_equal(og_admin_lock(&rt, "domain:big.example", 0, 50200 * 1000, &out, err,
	                               sizeof(err)), 0);
	json_decref(out);
	locks = records("lock", "domain:big.example");
	ids = json_object_get(json_array_get(locks, 0), "queue_ids");
	/* 1024 distinct IDs none older than Q0076: exactly the newest, Q0076 .. Q1099 */
	assert_int_equal(json_array_size(ids), 1024);
	json_array_foreach(ids, i, x) {
		if (strcmp(json_string_value(x), "Q0076") < 0)
			fail_msg("queue_ids[%zu] is %s: an old one kept instead of a newer", i,
			         json_string_value(x));
	}
	json_decref(locks);
	og_runtime_destroy(&rt);
}

/* Locks are in the state file: a new runtime (a restart) still refuses. */
static void test_lock_survives_restart(void **state)
{
	struct og_runtime rt;
	int64_t now = (int64_t)time(NULL);
	(void)state;

	start(&rt);
	for (int i = 0; i < 3; i++)
		judge(&rt, "carol@example.com", 5, "QC", now + i, NULL);
	assert_true(refused(&rt, "carol@example.com", now + 5));
	og_runtime_destroy(&rt);
	start(&rt);
	assert_true(refused(&rt, "carol@example.com", now + 6));
	og_runtime_destroy(&rt);
}

static void test_exempt_never_locked(void **state)
{
	struct og_runtime rt;
	(void)state;

	start(&rt);
	for (int i = 0; i < 6; i++)
		assert_int_equal(judge(&rt, "lists@example.com", 5, "QL", 2000 + i, NULL), OG_ACT_ACCEPT);
	assert_false(refused(&rt, "lists@example.com", 2010));
	assert_int_equal(atomic_load(&rt.counters.locks_made), 0);
	og_runtime_destroy(&rt);
}

/* A state file that is not what it should be: the runtime starts without locks, and says so. */
static void test_corrupt_state_file(void **state)
{
	static const char *const bad[] = {
		"{", "[]", "{\"outguard_state\": 1, \"entries\": [{\"key\": 7}]}", "\x01\x02",
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(bad); i++) {
		struct og_test_capture cap;
		struct og_runtime rt;
		char *log;

		write_file("state.json", bad[i]);
		og_test_capture_start(&cap, dir);
		start(&rt);
		log = og_test_capture_end(&cap);
		if (strstr(log, "state file: ") == NULL ||
		    strstr(log, "starting with no locks and no allows") == NULL)
			fail_msg("row %zu: the log does not say so: %s", i, log);
		assert_int_equal(og_locks_count(rt.locks), 0);
		free(log);
		og_runtime_destroy(&rt);
	}
	write_file("state.json", "{\"outguard_state\": 1, \"entries\": []}");
}

/* A state file that cannot be written: the lock holds in memory, the failure is counted. */
static void test_state_unwritable(void **state)
{
	struct og_runtime rt;
	char conf[PATH_MAX + 256];
	(void)state;

	snprintf(conf, sizeof(conf),
	         "{ \"socket\": \"inet:1@127.0.0.1\", \"rules\": \"rules.json\",\n"
	         "  \"evidence_file\": \"evidence.jsonl\", \"state_file\": \"no/such/dir/state.json\" }\n");
	write_file("outguard.conf", conf);
	start(&rt);
	for (int i = 0; i < 3; i++)
		judge(&rt, "erin@example.com", 5, "QE", 3000 + i, NULL);
	assert_true(refused(&rt, "erin@example.com", 3005));
	assert_int_equal(atomic_load(&rt.counters.state_errors), 1);
	og_runtime_destroy(&rt);
	og_test_rmtree(dir);
	setup(NULL);      /* the usual configuration again, in a fresh directory */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_after_stops),
		cmocka_unit_test(test_hold_style),
		cmocka_unit_test(test_locked_local_is_quarantined),
		cmocka_unit_test(test_notify_quiet_period),
		cmocka_unit_test(test_notify_one_per_incident),
		cmocka_unit_test(test_notify_lock_starts_quiet_period),
		cmocka_unit_test(test_admin_lock_lists_queue_ids),
		cmocka_unit_test(test_queue_ids_bounded),
		cmocka_unit_test(test_lock_survives_restart),
		cmocka_unit_test(test_exempt_never_locked),
		cmocka_unit_test(test_corrupt_state_file),
		cmocka_unit_test(test_state_unwritable),
	};

	og_log_open("outguard", "mail", 1, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
