/*
 * Unit tests for containment, through the runtime with an injected clock:
 * the stop that reaches lock.after locks the key, the lock record lists the
 * queue IDs the key had accepted, the key's next messages are held (local)
 * or tempfailed (SMTP) and refused at MAIL FROM, an expiring lock ends by
 * itself, exempt and allowed keys are never locked, and a corrupt state
 * file lets the runtime start with no locks and says so.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "facts.h"
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

static void write_file(const char *name, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	og_test_write(path, text);
}

static void start(struct og_runtime *rt)
{
	struct og_diag d;
	char path[PATH_MAX];

	write_file("rules.json", rules_lock);
	snprintf(path, sizeof(path), "%s/outguard.conf", dir);
	og_diag_init(&d);
	if (og_runtime_init(rt, path, &d) < 0)
		fail_msg("runtime: %s", d.n > 0 ? d.msgs[0] : "?");
	og_diag_free(&d);
}

static int setup(void **state)
{
	char conf[PATH_MAX + 256];

	(void)state;
	if (og_test_mkdtemp(dir, sizeof(dir), "contain") < 0)
		return -1;
	snprintf(conf, sizeof(conf),
	         "{ \"socket\": \"inet:1@127.0.0.1\", \"rules\": \"rules.json\",\n"
	         "  \"evidence_file\": \"evidence.jsonl\", \"state_file\": \"state.json\",\n"
	         "  \"scope\": { \"originating_daemons\": [\"ORIGINATING\"] } }\n");
	write_file("outguard.conf", conf);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return og_test_rmtree(dir);
}

/* One SMTP message from LOGIN with N recipients, judged at NOW (seconds). */
static enum og_action judge(struct og_runtime *rt, const char *login, int n, const char *qid,
                            int64_t now, bool *locked)
{
	struct og_policy *p = og_runtime_policy(rt);
	struct og_facts f;
	struct og_identity id;
	struct og_verdict *v = malloc(sizeof(*v));
	enum og_action a;
	char rcpt[64];

	assert_non_null(v);
	og_facts_init(&f);
	assert_int_equal(og_facts_set(&f, &f.client_addr, "127.0.0.9"), 0);
	f.client_port = 4000;
	f.client_port_known = true;
	assert_int_equal(og_facts_set(&f, &f.auth_authen, login), 0);
	assert_int_equal(og_facts_set(&f, &f.queue_id, qid), 0);
	assert_int_equal(og_facts_set_sender(&f, "<x@example.com>"), 0);
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

/* Would MAIL FROM of LOGIN be refused at NOW? */
static bool refused(struct og_runtime *rt, const char *login, int64_t now)
{
	struct og_policy *p = og_runtime_policy(rt);
	struct og_facts f;
	const char *reply;
	int rc;

	og_facts_init(&f);
	assert_int_equal(og_facts_set(&f, &f.client_addr, "127.0.0.9"), 0);
	f.client_port = 4000;
	f.client_port_known = true;
	assert_int_equal(og_facts_set(&f, &f.auth_authen, login), 0);
	assert_int_equal(og_facts_set_sender(&f, "<x@example.com>"), 0);
	rc = og_runtime_mail_refused(rt, p, &f, now * 1000, &reply);
	if (rc)
		assert_string_equal(reply, "Account suspended for sending spam; contact support");
	og_facts_free(&f);
	og_policy_release(p);
	return rc != 0;
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
		cmocka_unit_test(test_lock_survives_restart),
		cmocka_unit_test(test_exempt_never_locked),
		cmocka_unit_test(test_corrupt_state_file),
		cmocka_unit_test(test_state_unwritable),
	};

	og_log_open("outguard", "mail", 1, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
