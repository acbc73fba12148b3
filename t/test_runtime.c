/*
 * test_runtime - the runtime end to end on real files: start, judge,
 * evidence records and syslog lines, counters, reloads good and bad (the old
 * policy keeps judging), evidence file changes, and reloads while other
 * threads judge.  Files it writes go to a temporary directory under the
 * build directory.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"
#include "runtime.h"
#include "strutil.h"
#include "testutil.h"

#define NOW_MS INT64_C(1795402862123)

static char tmpdir[64];            /* t/tmp-runtime-XXXXXX */
static char tmpreal[PATH_MAX];     /* its real path */
static char conf_path[128];

static const char *const rules_v1 =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 25 },\n"
	"  \"exempt\": { \"keys\": [\"sasl:lists@example.com\"] },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"account-messages\", \"check\": \"rate\", \"key\": \"account\",\n"
	"      \"count\": \"messages\", \"window\": 60, \"limit\": 1, \"score\": 10 }\n"
	"  ] }\n";

static const char *const rules_v2 =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 25 },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"account-messages\", \"check\": \"rate\", \"key\": \"account\",\n"
	"      \"count\": \"messages\", \"window\": 60, \"limit\": 1000, \"score\": 10 }\n"
	"  ] }\n";

static const char *const rules_broken = "{ \"outguard_rules\": 1, \"rules\": [ }\n";

#define CONFIG(extra) \
	"{ \"socket\": \"inet:8890@127.0.0.1\", \"rules\": \"rules.json\", \"state_file\": null,\n" \
	"  \"evidence_file\": \"evidence.jsonl\"" extra " }\n"

/* ---- helpers ---- */

static void write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static char *read_tmp(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return og_test_slurp(path);
}

static void remove_tmp(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
}

/* Replace every FROM in B (from offset 0) by TO. */
static void replace_all(struct og_buf *b, const char *from, const char *to)
{
	struct og_buf out;
	const char *p = b->data, *hit;
	size_t fl = strlen(from);

	og_buf_init(&out);
	assert_int_equal(og_buf_append(&out, "", 0), 0);
	while ((hit = strstr(p, from)) != NULL) {
		assert_int_equal(og_buf_append(&out, p, (size_t)(hit - p)), 0);
		assert_int_equal(og_buf_puts(&out, to), 0);
		p = hit + fl;
	}
	assert_int_equal(og_buf_puts(&out, p), 0);
	og_buf_free(b);
	*b = out;
}

/* TEXT with the temporary directory written as DIR. Caller frees. */
static char *messages_of(const char *text)
{
	struct og_buf b;

	og_buf_init(&b);
	assert_int_equal(og_buf_puts(&b, text), 0);
	replace_all(&b, tmpreal, "DIR");
	replace_all(&b, tmpdir, "DIR");
	return b.data;
}

/* The messages of D, one a line, the temporary directory written as DIR. Caller frees. */
static char *messages(const struct og_diag *d)
{
	struct og_buf b;
	char *text;

	og_buf_init(&b);
	assert_int_equal(og_buf_append(&b, "", 0), 0);
	for (size_t i = 0; i < d->n; i++)
		assert_int_equal(og_buf_printf(&b, "%s\n", d->msgs[i]), 0);
	text = messages_of(b.data);
	og_buf_free(&b);
	return text;
}

/* stderr, where og_log writes in tests, diverted to a file and back. */
static void capture_start(struct og_test_capture *c)
{
	og_log_set_stderr(1);
	og_test_capture_start(c, tmpdir);
}

static char *capture_end(struct og_test_capture *c)
{
	og_log_set_stderr(0);
	return og_test_capture_end(c);
}

/* A message over SMTP; LOGIN NULL for none, QID NULL for no queue ID yet. */
static void message(struct og_facts *f, const char *login, const char *sender,
                    const char *client, const char *daemon, const char *qid)
{
	og_facts_init(f);
	assert_int_equal(og_facts_set(f, &f->client_addr, client), 0);
	f->client_port = 40000;
	f->client_port_known = true;
	assert_int_equal(og_facts_set(f, &f->daemon_name, daemon), 0);
	assert_int_equal(og_facts_set(f, &f->auth_authen, login), 0);
	assert_int_equal(og_facts_set_sender(f, sender), 0);
	assert_int_equal(og_facts_add_rcpt(f, "<bob@example.org>"), 0);
	assert_int_equal(og_facts_set(f, &f->queue_id, qid), 0);
}

/* Judge one message under the current policy; returns the applied action. */
static enum og_action judge(struct og_runtime *rt, const char *login, const char *client,
                            const char *daemon, const char *qid, int64_t now_ms,
                            struct og_verdict *out)
{
	struct og_policy *p = og_runtime_policy(rt);
	struct og_facts f;
	struct og_identity id;
	struct og_verdict v;
	char sender[128];

	snprintf(sender, sizeof(sender), "<%s>", login != NULL ? login : "someone@remote.example");
	message(&f, login, sender, client, daemon, qid);
	assert_int_equal(og_runtime_judge(rt, p, &f, now_ms, &id, &v), 0);
	og_identity_free(&id);
	og_facts_free(&f);
	og_policy_release(p);
	if (out != NULL)
		*out = v;
	return v.applied;
}

/* Start a runtime on CONFIG_TEXT and RULES_TEXT; fails the test if it does not start. */
static void start(struct og_runtime *rt, const char *config_text, const char *rules_text)
{
	struct og_diag d;

	write_file("outguard.conf", config_text);
	write_file("rules.json", rules_text);
	og_diag_init(&d);
	if (og_runtime_init(rt, conf_path, &d) < 0)
		fail_msg("runtime: %s", d.n > 0 ? d.msgs[0] : "?");
	assert_int_equal(d.n, 0);
	og_diag_free(&d);
}

/* The records of an evidence file, parsed; *N of them. Caller frees with free_records. */
static json_t **records(const char *name, size_t *n)
{
	char *text = read_tmp(name), *line, *save = NULL;
	json_t **v = NULL;

	*n = 0;
	if (text == NULL)
		return NULL;
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		v = realloc(v, (*n + 1) * sizeof(*v));
		assert_non_null(v);
		v[*n] = json_loads(line, 0, NULL);
		assert_non_null(v[*n]);
		(*n)++;
	}
	free(text);
	return v;
}

static void free_records(json_t **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
}

static const char *field(json_t *r, const char *key)
{
	json_t *v = json_object_get(r, key);

	return json_is_string(v) ? json_string_value(v) : "(not a string)";
}

static int setup(void **state)
{
	(void)state;
	if (og_test_mkdtemp(tmpdir, sizeof(tmpdir), "runtime") < 0 || realpath(tmpdir, tmpreal) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/outguard.conf", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return og_test_rmtree(tmpdir);
}

/* Each test starts with no files from the one before. */
static int clean(void **state)
{
	(void)state;
	remove_tmp("evidence.jsonl");
	remove_tmp("evidence2.jsonl");
	remove_tmp("outguard.conf");
	remove_tmp("rules.json");
	return 0;
}

/* ---- tests ---- */

static void test_init_errors(void **state)
{
	static const struct {
		const char *label;
		const char *config;
		const char *rules;     /* NULL: no rules file */
		const char *want;
	} rows[] = {
		{ "config error", "{ \"sokcet\": \"inet:8890@127.0.0.1\" }\n", rules_v1,
		  "DIR/outguard.conf:1:3: unknown option \"sokcet\"; did you mean \"socket\"?\n" },
		{ "no rules file", CONFIG(""), NULL,
		  "DIR/rules.json: cannot read: No such file or directory\n" },
		{ "rules syntax error", CONFIG(""), rules_broken,
		  "DIR/rules.json:1:35: unexpected token near '}'\n" },
		{ "evidence directory missing",
		  "{ \"socket\": \"inet:8890@127.0.0.1\", \"rules\": \"rules.json\", \"state_file\": null,\n"
	           "  \"evidence_file\": \"nodir/evidence.jsonl\" }\n", rules_v1,
		  "DIR/outguard.conf: evidence_file: cannot open DIR/nodir/evidence.jsonl: "
		  "No such file or directory\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct og_runtime rt;
		struct og_diag d;
		char *got;

		remove_tmp("rules.json");
		write_file("outguard.conf", rows[i].config);
		if (rows[i].rules != NULL)
			write_file("rules.json", rows[i].rules);
		og_diag_init(&d);
		if (og_runtime_init(&rt, conf_path, &d) == 0)
			fail_msg("row %s: started", rows[i].label);
		got = messages(&d);
		if (strcmp(got, rows[i].want) != 0)
			fail_msg("row %s:\n--- want\n%s--- got\n%s", rows[i].label, rows[i].want, got);
		assert_null(rt.policy);
		og_runtime_destroy(&rt);        /* harmless after a failed start */
		free(got);
		og_diag_free(&d);
	}
}

static void test_judge(void **state)
{
	struct og_runtime rt;
	struct og_verdict v;
	struct og_policy *p;
	struct og_test_capture cap;
	json_t **r;
	size_t n;
	char *logged;

	(void)state;
	start(&rt, CONFIG(""), rules_v1);
	p = og_runtime_policy(&rt);
	/* the runtime's, this thread's cache's and ours */
	assert_int_equal(atomic_load(&p->refs), 3);
	assert_string_equal(p->config->path, conf_path);

	capture_start(&cap);
	/* first message of the minute: within the limit */
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "Q1", NOW_MS, &v),
	                 OG_ACT_ACCEPT);
	assert_int_equal(v.scope, OG_SCOPE_AUTHENTICATED);
	assert_int_equal(v.score, 0);
	/* second: over it */
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "Q2", NOW_MS + 1000, &v),
	                 OG_ACT_QUARANTINE);
	assert_int_equal(v.score, 10);
	/* no queue ID yet */
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, NULL, NOW_MS + 2000, &v),
	                 OG_ACT_QUARANTINE);
	/* inbound: from another MTA to port 25 */
	assert_int_equal(judge(&rt, NULL, "198.51.100.1", "mx", "Q4", NOW_MS + 3000, &v),
	                 OG_ACT_ACCEPT);
	assert_int_equal(v.scope, OG_SCOPE_INBOUND);
	/* exempt: a hosted mailing list */
	assert_int_equal(judge(&rt, "lists@example.com", "203.0.113.10", NULL, "Q5", NOW_MS + 4000, &v),
	                 OG_ACT_ACCEPT);
	assert_true(v.exempt);
	/* through the submission port without authenticating */
	assert_int_equal(judge(&rt, NULL, "192.0.2.44", "ORIGINATING", "Q6", NOW_MS + 5000, &v),
	                 OG_ACT_ACCEPT);
	assert_int_equal(v.scope, OG_SCOPE_ORIGINATING_DAEMON);
	logged = capture_end(&cap);

	assert_string_equal(logged,
		"outguard: notice: Q2: quarantine: account=sasl:alice@example.com script=- "
		"client=203.0.113.9 sender=<alice@example.com> rcpts=1 score=10 account-messages=2/1\n"
		"outguard: notice: NOQUEUE: quarantine: account=sasl:alice@example.com script=- "
		"client=203.0.113.9 sender=<alice@example.com> rcpts=1 score=10 account-messages=3/1\n");
	free(logged);

	assert_int_equal(atomic_load(&rt.counters.messages), 6);
	assert_int_equal(atomic_load(&rt.counters.inbound), 1);
	assert_int_equal(atomic_load(&rt.counters.exempt), 1);
	assert_int_equal(atomic_load(&rt.counters.action[OG_ACT_ACCEPT]), 4);
	assert_int_equal(atomic_load(&rt.counters.action[OG_ACT_QUARANTINE]), 2);
	assert_int_equal(atomic_load(&rt.counters.internal_errors), 0);

	/* every outbound message has its record; the inbound one has none */
	r = records("evidence.jsonl", &n);
	assert_int_equal(n, 5);
	assert_string_equal(field(r[0], "queue_id"), "Q1");
	assert_string_equal(field(r[0], "applied"), "accept");
	assert_string_equal(field(r[0], "time"), "2026-11-23T03:01:02.123Z");
	assert_string_equal(field(r[1], "queue_id"), "Q2");
	assert_string_equal(field(r[1], "applied"), "quarantine");
	assert_int_equal(json_integer_value(json_object_get(
		json_array_get(json_object_get(r[1], "hits"), 0), "figure")), 2);
	assert_true(json_is_null(json_object_get(r[2], "queue_id")));
	assert_string_equal(field(r[3], "queue_id"), "Q5");
	assert_string_equal(field(r[3], "exempt"), "sasl:lists@example.com");
	assert_string_equal(field(r[4], "queue_id"), "Q6");
	assert_string_equal(field(r[4], "scope"), "originating-daemon");
	for (size_t i = 0; i < n; i++)
		assert_string_equal(field(r[i], "rules"), p->rules->digest);
	free_records(r, n);

	og_policy_release(p);
	og_policy_release(NULL);
	og_runtime_destroy(&rt);
}

/* The syslog line marks the hits of rules that observe with ":observe". */
static void test_observing_hit_logged(void **state)
{
	static const char rules[] =
		"{ \"outguard_rules\": 1,\n"
		"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 25 },\n"
		"  \"rules\": [\n"
		"    { \"id\": \"account-messages\", \"check\": \"rate\", \"key\": \"account\",\n"
		"      \"count\": \"messages\", \"window\": 60, \"limit\": 1, \"score\": 10 },\n"
		"    { \"id\": \"account-burst\", \"check\": \"rate\", \"key\": \"account\",\n"
		"      \"count\": \"messages\", \"window\": 60, \"limit\": 1, \"score\": 15,\n"
		"      \"observe\": true }\n"
		"  ] }\n";
	struct og_runtime rt;
	struct og_test_capture cap;
	char *logged;
	(void)state;

	start(&rt, CONFIG(""), rules);
	capture_start(&cap);
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "QO1", NOW_MS, NULL),
	                 OG_ACT_ACCEPT);
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "QO2", NOW_MS, NULL),
	                 OG_ACT_QUARANTINE);
	logged = capture_end(&cap);
	CHECK_STR("log", logged,
	          "outguard: notice: QO2: quarantine: account=sasl:alice@example.com script=- "
	          "client=203.0.113.9 sender=<alice@example.com> rcpts=1 score=10 "
	          "account-messages=2/1 account-burst=2/1:observe\n");
	free(logged);
	og_runtime_destroy(&rt);
}

/* evidence_log flagged: only what scored or was acted on. */
static void test_flagged(void **state)
{
	struct og_runtime rt;
	json_t **r;
	size_t n;

	(void)state;
	start(&rt, CONFIG(", \"evidence_log\": \"flagged\""), rules_v1);
	judge(&rt, "alice@example.com", "203.0.113.9", NULL, "Q1", NOW_MS, NULL);
	judge(&rt, "alice@example.com", "203.0.113.9", NULL, "Q2", NOW_MS, NULL);
	judge(&rt, "lists@example.com", "203.0.113.9", NULL, "Q3", NOW_MS, NULL);
	judge(&rt, NULL, "198.51.100.1", "mx", "Q4", NOW_MS, NULL);
	r = records("evidence.jsonl", &n);
	assert_int_equal(n, 1);
	assert_string_equal(field(r[0], "queue_id"), "Q2");
	free_records(r, n);
	og_runtime_destroy(&rt);
}

/* Inbound mail leaves no trace in the rate table; trusted networks make it outbound. */
static void test_scope_from_config(void **state)
{
	struct og_runtime rt;
	struct og_verdict v;
	json_t **r;
	size_t n;

	(void)state;
	start(&rt, CONFIG(""), rules_v1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(judge(&rt, NULL, "198.51.100.1", NULL, "QI", NOW_MS, &v), OG_ACT_ACCEPT);
	assert_int_equal(og_rate_entries(rt.rates), 0);
	og_runtime_destroy(&rt);

	remove_tmp("evidence.jsonl");
	start(&rt, CONFIG(", \"scope\": { \"trusted_networks\": [\"198.51.100.0/24\"] }"), rules_v1);
	assert_int_equal(judge(&rt, NULL, "198.51.100.1", NULL, "QT1", NOW_MS, &v), OG_ACT_ACCEPT);
	assert_int_equal(v.scope, OG_SCOPE_TRUSTED_NETWORK);
	assert_int_equal(judge(&rt, NULL, "198.51.100.1", NULL, "QT2", NOW_MS, &v), OG_ACT_QUARANTINE);
	assert_true(og_rate_entries(rt.rates) > 0);
	r = records("evidence.jsonl", &n);
	assert_int_equal(n, 2);
	assert_string_equal(field(r[1], "scope"), "trusted-network");
	assert_string_equal(field(json_object_get(r[1], "keys"), "account"), "ip:198.51.100.1");
	free_records(r, n);
	og_runtime_destroy(&rt);
}

static void test_reload(void **state)
{
	struct og_runtime rt;
	struct og_policy *before, *p;
	struct og_verdict v;
	struct og_diag d;
	char digest[64], *got;

	(void)state;
	start(&rt, CONFIG(""), rules_v1);
	before = og_runtime_policy(&rt);
	snprintf(digest, sizeof(digest), "%s", before->rules->digest);
	judge(&rt, "alice@example.com", "203.0.113.9", NULL, "Q1", NOW_MS, NULL);

	/* a broken rules file: refused, the old rules judge on */
	write_file("rules.json", rules_broken);
	og_diag_init(&d);
	assert_int_equal(og_runtime_reload(&rt, &d), -1);
	got = messages(&d);
	assert_string_equal(got, "DIR/rules.json:1:35: unexpected token near '}'\n");
	free(got);
	og_diag_free(&d);
	assert_int_equal(atomic_load(&rt.counters.reload_failures), 1);
	assert_int_equal(atomic_load(&rt.counters.reloads), 0);
	p = og_runtime_policy(&rt);
	assert_ptr_equal(p, before);
	og_policy_release(p);
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "Q2", NOW_MS, &v),
	                 OG_ACT_QUARANTINE);

	/* a broken config file: refused too */
	write_file("rules.json", rules_v2);
	write_file("outguard.conf", CONFIG(", \"on_error\": \"bounce\""));
	og_diag_init(&d);
	assert_int_equal(og_runtime_reload(&rt, &d), -1);
	got = messages(&d);
	assert_string_equal(got, "DIR/outguard.conf:2:50: on_error: unknown value \"bounce\": "
	                    "expected \"tempfail\" or \"accept\"\n");
	free(got);
	og_diag_free(&d);
	assert_int_equal(atomic_load(&rt.counters.reload_failures), 2);

	/* good files: the new rules are in force, the counts survive */
	write_file("outguard.conf", CONFIG(""));
	og_diag_init(&d);
	assert_int_equal(og_runtime_reload(&rt, &d), 0);
	assert_int_equal(d.n, 0);
	og_diag_free(&d);
	assert_int_equal(atomic_load(&rt.counters.reloads), 1);
	p = og_runtime_policy(&rt);
	assert_ptr_not_equal(p, before);
	assert_string_not_equal(p->rules->digest, digest);
	og_policy_release(p);
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "Q3", NOW_MS, &v),
	                 OG_ACT_ACCEPT);
	assert_int_equal(v.n_hits, 0);

	/* a message that started before the reload finishes on the old rules */
	assert_string_equal(before->rules->digest, digest);
	assert_int_equal(atomic_load(&before->refs), 1);
	{
		struct og_facts f;
		struct og_identity id;

		message(&f, "alice@example.com", "<alice@example.com>", "203.0.113.9", NULL, "Q4");
		assert_int_equal(og_runtime_judge(&rt, before, &f, NOW_MS, &id, &v), 0);
		assert_int_equal(v.applied, OG_ACT_QUARANTINE);
		assert_int_equal(v.hit[0].figure, 4);
		og_identity_free(&id);
		og_facts_free(&f);
	}
	og_policy_release(before);      /* the last reference: freed now */

	/* options that need a restart are named */
	write_file("outguard.conf",
	           "{ \"socket\": \"inet:8891@127.0.0.1\", \"rules\": \"rules.json\", \"state_file\": null,\n"
	           "  \"evidence_file\": \"evidence.jsonl\", \"milter_timeout\": 60 }\n");
	og_diag_init(&d);
	assert_int_equal(og_runtime_reload(&rt, &d), 0);
	got = messages(&d);
	assert_string_equal(got,
		"DIR/outguard.conf: socket changed from \"inet:8890@127.0.0.1\" to "
		"\"inet:8891@127.0.0.1\": takes effect only after a restart\n"
		"DIR/outguard.conf: milter_timeout changed from 300 to 60: takes effect only after "
		"a restart\n");
	free(got);
	og_diag_free(&d);
	og_runtime_destroy(&rt);
}

/* A reload may name another evidence file, or none; one that cannot be opened keeps the old. */
static void test_reload_evidence(void **state)
{
	struct og_runtime rt;
	struct og_diag d;
	json_t **r;
	size_t n;
	char *got, *before;

	(void)state;
	start(&rt, CONFIG(""), rules_v1);
	judge(&rt, "alice@example.com", "203.0.113.9", NULL, "Q1", NOW_MS, NULL);

	write_file("outguard.conf", "{ \"socket\": \"inet:8890@127.0.0.1\", \"rules\": \"rules.json\", \"state_file\": null,\n"
	           "  \"evidence_file\": \"evidence2.jsonl\" }\n");
	og_diag_init(&d);
	assert_int_equal(og_runtime_reload(&rt, &d), 0);
	assert_int_equal(d.n, 0);
	og_diag_free(&d);
	judge(&rt, "bob@example.com", "203.0.113.9", NULL, "Q2", NOW_MS, NULL);

	write_file("outguard.conf",
	           "{ \"socket\": \"inet:8890@127.0.0.1\", \"rules\": \"rules.json\", \"state_file\": null,\n"
	           "  \"evidence_file\": \"nodir/evidence.jsonl\" }\n");
	og_diag_init(&d);
	assert_int_equal(og_runtime_reload(&rt, &d), 0);
	got = messages(&d);
	assert_string_equal(got, "DIR/outguard.conf: evidence_file: cannot open "
	                    "DIR/nodir/evidence.jsonl: No such file or directory: records still go "
	                    "to DIR/evidence2.jsonl\n");
	free(got);
	og_diag_free(&d);
	judge(&rt, "carol@example.com", "203.0.113.9", NULL, "Q3", NOW_MS, NULL);

	r = records("evidence.jsonl", &n);
	assert_int_equal(n, 1);
	assert_string_equal(field(r[0], "queue_id"), "Q1");
	free_records(r, n);
	r = records("evidence2.jsonl", &n);
	assert_int_equal(n, 2);
	assert_string_equal(field(r[0], "queue_id"), "Q2");
	assert_string_equal(field(r[1], "queue_id"), "Q3");
	free_records(r, n);

	/* null: no records any more */
	write_file("outguard.conf", "{ \"socket\": \"inet:8890@127.0.0.1\", \"rules\": \"rules.json\", \"state_file\": null,\n"
	           "  \"evidence_file\": null }\n");
	og_diag_init(&d);
	assert_int_equal(og_runtime_reload(&rt, &d), 0);
	assert_int_equal(d.n, 0);
	og_diag_free(&d);
	assert_null(rt.policy->evidence);
	before = read_tmp("evidence2.jsonl");
	judge(&rt, "dave@example.com", "203.0.113.9", NULL, "Q4", NOW_MS, NULL);
	got = read_tmp("evidence2.jsonl");
	assert_string_equal(got, before);
	free(got);
	free(before);
	og_runtime_destroy(&rt);
}

#define JUDGES  4
#define ROUNDS  300
#define RELOADS 20

static void *judge_many(void *arg)
{
	struct og_runtime *rt = arg;
	char login[64];

	for (int i = 0; i < ROUNDS; i++) {
		snprintf(login, sizeof(login), "user%d@example.com", i % 7);
		judge(rt, login, "203.0.113.9", NULL, "QX", NOW_MS + i, NULL);
	}
	return NULL;
}

/* Reloads swap policies under threads that are judging: nothing lost, nothing torn. */
static void test_reload_while_judging(void **state)
{
	struct og_runtime rt;
	pthread_t tid[JUDGES];
	json_t **r;
	size_t n;

	(void)state;
	start(&rt, CONFIG(""), rules_v1);
	for (int i = 0; i < JUDGES; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, judge_many, &rt), 0);
	for (int i = 0; i < RELOADS; i++) {
		struct og_diag d;

		write_file("rules.json", i % 2 == 0 ? rules_v2 : rules_v1);
		og_diag_init(&d);
		assert_int_equal(og_runtime_reload(&rt, &d), 0);
		og_diag_free(&d);
	}
	for (int i = 0; i < JUDGES; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	assert_int_equal(atomic_load(&rt.counters.reloads), RELOADS);
	assert_int_equal(atomic_load(&rt.counters.messages), JUDGES * ROUNDS);
	r = records("evidence.jsonl", &n);
	assert_int_equal(n, JUDGES * ROUNDS);
	free_records(r, n);
	og_runtime_destroy(&rt);
}

/*
 * An internal error follows on_error both ways: tempfail answers 4xx, accept
 * lets the message through; either is counted and logged with the queue ID.
 * The error is made by taking the counts' state away, as a failed allocation
 * of a counter would.
 */
static void test_fail_policy(void **state)
{
	static const struct {
		const char *config;
		enum og_action want;
		const char *says;
	} rows[] = {
		{ CONFIG(", \"on_error\": \"tempfail\""), OG_ACT_TEMPFAIL,
		  "outguard: error: QF1: internal error: out of memory counting the message: "
		  "answering tempfail (on_error tempfail)\n" },
		{ CONFIG(", \"on_error\": \"accept\""), OG_ACT_ACCEPT,
		  "outguard: error: QF1: internal error: out of memory counting the message: "
		  "accepting the message (on_error accept)\n" },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_runtime rt;
		struct og_policy *p;
		struct og_state *saved;
		struct og_facts f;
		struct og_identity id;
		struct og_verdict v;
		struct og_test_capture cap;
		char *logged;

		start(&rt, rows[i].config, rules_v1);
		p = og_runtime_policy(&rt);
		saved = rt.state;
		rt.state = NULL;
		message(&f, "alice@example.com", "<alice@example.com>", "203.0.113.9", NULL, "QF1");
		capture_start(&cap);
		assert_int_equal(og_runtime_judge(&rt, p, &f, NOW_MS, &id, &v), -1);
		logged = capture_end(&cap);
		rt.state = saved;
		assert_true(v.internal_error);
		assert_int_equal(v.applied, rows[i].want);
		assert_int_equal(atomic_load(&rt.counters.internal_errors), 1);
		assert_int_equal(atomic_load(&rt.counters.action[rows[i].want]), 1);
		CHECK_STR("log", logged, rows[i].says);
		free(logged);
		/* the next message, with its state back, is judged as usual */
		og_identity_free(&id);
		og_facts_free(&f);
		og_policy_release(p);
		assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "QF2", NOW_MS, &v),
		                 OG_ACT_ACCEPT);
		og_runtime_destroy(&rt);
	}
}

/*
 * A header regex made to backtrack ends at the match limit as no match,
 * and the rule's result says limited; the same value without the bait
 * matches and is not limited.  The record of the bait has no hit for it.
 */
static void test_match_limit(void **state)
{
	static const char *const rules_slow =
		"{ \"outguard_rules\": 1,\n"
		"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10 },\n"
		"  \"rules\": [\n"
		"    { \"id\": \"slow\", \"check\": \"header\", \"score\": 1, \"header\": \"X-Slow\",\n"
		"      \"pattern\": \"^(a+)+$\" }\n"
		"  ] }\n";
	static const struct { const char *label; char last; bool limited; size_t hits; } rows[] = {
		{ "990 a's and a b: backtracks", 'b', true, 0 },
		{ "991 a's: matches at once", 'a', false, 1 },
	};
	struct og_runtime rt;
	char value[992];

	(void)state;
	start(&rt, CONFIG(""), rules_slow);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_policy *p = og_runtime_policy(&rt);
		struct og_facts f;
		struct og_identity id;
		struct og_verdict *v = malloc(sizeof(*v));
		json_t **r;
		size_t n;

		assert_non_null(v);
		memset(value, 'a', 990);
		value[990] = rows[i].last;
		value[991] = '\0';
		message(&f, "alice@example.com", "<alice@example.com>", "203.0.113.9", NULL, "QL1");
		og_facts_want(&f, (const char *const *)p->rules->want_headers, p->rules->n_want_headers,
		              p->rules->body_bytes);
		assert_int_equal(og_facts_add_header(&f, "X-Slow", value), 0);
		alarm(60);      /* without the limit the search would not end */
		assert_int_equal(og_runtime_judge(&rt, p, &f, NOW_MS, &id, v), 0);
		alarm(0);
		assert_int_equal(v->n_results, 1);
		if (v->result[0].limited != rows[i].limited || v->n_hits != rows[i].hits)
			fail_msg("row %s: limited %d, %zu hits", rows[i].label, v->result[0].limited,
			         v->n_hits);
		assert_true(v->result[0].applies);
		r = records("evidence.jsonl", &n);
		assert_int_equal(n, i + 1);
		assert_int_equal(json_array_size(json_object_get(r[i], "hits")), rows[i].hits);
		free_records(r, n);
		og_identity_free(&id);
		og_facts_free(&f);
		og_policy_release(p);
		free(v);
	}
	og_runtime_destroy(&rt);
}

/* The counter of lost records as outguard-ctl status shows it. */
static json_int_t status_evidence_errors(struct og_runtime *rt)
{
	char err[256];
	json_t *st;
	json_int_t n;

	assert_int_equal(og_admin_status(rt, NOW_MS, &st, err, sizeof(err)), 0);
	n = json_integer_value(json_object_get(json_object_get(st, "counters"), "evidence_errors"));
	json_decref(st);
	return n;
}

/*
 * Evidence on a full disk (/dev/full): every message still gets its
 * verdict, each lost record is counted in the status, the failure is
 * logged once, and a reopen (SIGUSR1) does not stop the counting.
 */
static void test_evidence_disk_full(void **state)
{
	struct og_runtime rt;
	struct og_test_capture cap;
	char *logged;
	int fd;

	(void)state;
	if ((fd = open("/dev/full", O_WRONLY)) < 0)
		skip();
	close(fd);
	start(&rt, "{ \"socket\": \"inet:8890@127.0.0.1\", \"rules\": \"rules.json\", "
	           "\"state_file\": null, \"evidence_file\": \"/dev/full\" }\n", rules_v1);
	capture_start(&cap);
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "QD1", NOW_MS, NULL),
	                 OG_ACT_ACCEPT);
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "QD2", NOW_MS, NULL),
	                 OG_ACT_QUARANTINE);
	assert_int_equal(judge(&rt, "lists@example.com", "203.0.113.9", NULL, "QD3", NOW_MS, NULL),
	                 OG_ACT_ACCEPT);
	/* inbound mail has no record: nothing lost */
	assert_int_equal(judge(&rt, NULL, "198.51.100.1", "mx", "QD4", NOW_MS, NULL), OG_ACT_ACCEPT);
	assert_int_equal(status_evidence_errors(&rt), 3);
	og_evidence_request_reopen();
	assert_int_equal(judge(&rt, "bob@example.com", "203.0.113.9", NULL, "QD5", NOW_MS, NULL),
	                 OG_ACT_ACCEPT);
	logged = capture_end(&cap);
	assert_int_equal(status_evidence_errors(&rt), 4);
	assert_int_equal(atomic_load(&rt.counters.messages), 5);
	assert_int_equal(atomic_load(&rt.counters.internal_errors), 0);
	assert_string_equal(logged,
		"outguard: error: evidence: cannot write to /dev/full: No space left on device: the "
		"record is lost (1 lost so far; this is logged at most once a minute)\n"
		"outguard: notice: QD2: quarantine: account=sasl:alice@example.com script=- "
		"client=203.0.113.9 sender=<alice@example.com> rcpts=1 score=10 account-messages=2/1\n");
	free(logged);
	og_runtime_destroy(&rt);
}

/* The evidence file NAME holds one record, of queue ID QID. */
static void only_record(const char *name, const char *qid)
{
	size_t n;
	json_t **r = records(name, &n);

	assert_int_equal(n, 1);
	assert_string_equal(field(r[0], "queue_id"), qid);
	free_records(r, n);
}

/*
 * The evidence file removed: it is made again by name at the next record.
 * Removed with its directory, so it cannot be: the verdicts go on, each
 * record is counted as lost (not written into the deleted file, where no
 * one would read it), and once the directory is back the records are
 * written again.
 */
static void test_evidence_removed(void **state)
{
	struct og_runtime rt;
	struct og_test_capture cap;
	char ev_dir[PATH_MAX], ev[PATH_MAX], *logged, *text;

	(void)state;
	snprintf(ev_dir, sizeof(ev_dir), "%s/ev", tmpdir);
	snprintf(ev, sizeof(ev), "%s/ev/evidence.jsonl", tmpdir);
	assert_int_equal(mkdir(ev_dir, 0700), 0);
	start(&rt, "{ \"socket\": \"inet:8890@127.0.0.1\", \"rules\": \"rules.json\", "
	           "\"state_file\": null, \"evidence_file\": \"ev/evidence.jsonl\" }\n", rules_v1);
	judge(&rt, "alice@example.com", "203.0.113.9", NULL, "QR1", NOW_MS, NULL);
	/* removed: made again */
	assert_int_equal(unlink(ev), 0);
	judge(&rt, "bob@example.com", "203.0.113.9", NULL, "QR2", NOW_MS, NULL);
	only_record("ev/evidence.jsonl", "QR2");
	assert_int_equal(status_evidence_errors(&rt), 0);

	/* removed with its directory: lost, and counted */
	assert_int_equal(unlink(ev), 0);
	assert_int_equal(rmdir(ev_dir), 0);
	capture_start(&cap);
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "QR3", NOW_MS, NULL),
	                 OG_ACT_QUARANTINE);
	assert_int_equal(judge(&rt, "carol@example.com", "203.0.113.9", NULL, "QR4", NOW_MS, NULL),
	                 OG_ACT_ACCEPT);
	logged = capture_end(&cap);
	assert_int_equal(status_evidence_errors(&rt), 2);
	text = messages_of(logged);
	assert_string_equal(text,
		"outguard: error: evidence: cannot write to DIR/ev/evidence.jsonl: No such file or "
		"directory: the record is lost (1 lost so far; this is logged at most once a minute)\n"
		"outguard: notice: QR3: quarantine: account=sasl:alice@example.com script=- "
		"client=203.0.113.9 sender=<alice@example.com> rcpts=1 score=10 account-messages=2/1\n");
	free(text);
	free(logged);

	/* the directory back: written again */
	assert_int_equal(mkdir(ev_dir, 0700), 0);
	judge(&rt, "dave@example.com", "203.0.113.9", NULL, "QR5", NOW_MS, NULL);
	only_record("ev/evidence.jsonl", "QR5");
	assert_int_equal(status_evidence_errors(&rt), 2);
	assert_int_equal(atomic_load(&rt.counters.messages), 5);
	og_runtime_destroy(&rt);
	unlink(ev);
	rmdir(ev_dir);
}

/* Redis that does not answer is no internal error: the message is counted locally. */
static void test_shared_store_away(void **state)
{
	struct og_runtime rt;
	struct og_verdict v;
	struct og_test_capture cap;
	char *logged;
	(void)state;

	start(&rt, CONFIG(", \"state_backend\": \"redis\", "
	                  "\"redis\": { \"server\": \"/nonexistent/redis.sock\" }"), rules_v1);
	capture_start(&cap);
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "QS1", NOW_MS, &v),
	                 OG_ACT_ACCEPT);
	assert_false(v.shared);
	/* the second in the minute is over the limit of 1, counted locally */
	assert_int_equal(judge(&rt, "alice@example.com", "203.0.113.9", NULL, "QS2", NOW_MS, &v),
	                 OG_ACT_QUARANTINE);
	assert_int_equal(v.hit[0].figure, 2);
	assert_true(v.counted_locally);
	logged = capture_end(&cap);
	assert_int_equal(atomic_load(&rt.counters.internal_errors), 0);
	/* the evidence says the figures are this server's alone */
	{
		size_t n;
		json_t **r = records("evidence.jsonl", &n);

		assert_int_equal(n, 2);
		assert_true(json_is_true(json_object_get(r[1], "counted_locally")));
		assert_null(json_object_get(r[1], "internal_error"));
		free_records(r, n);
	}
	assert_int_equal(og_state_fallbacks(rt.state), 2);
	assert_non_null(strstr(logged, "redis: /nonexistent/redis.sock: cannot connect: "));
	assert_non_null(strstr(logged, "counting locally until it answers again"));
	free(logged);
	og_runtime_destroy(&rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_init_errors, clean),
		cmocka_unit_test_setup(test_judge, clean),
		cmocka_unit_test_setup(test_fail_policy, clean),
		cmocka_unit_test_setup(test_shared_store_away, clean),
		cmocka_unit_test_setup(test_observing_hit_logged, clean),
		cmocka_unit_test_setup(test_match_limit, clean),
		cmocka_unit_test_setup(test_evidence_disk_full, clean),
		cmocka_unit_test_setup(test_evidence_removed, clean),
		cmocka_unit_test_setup(test_flagged, clean),
		cmocka_unit_test_setup(test_scope_from_config, clean),
		cmocka_unit_test_setup(test_reload, clean),
		cmocka_unit_test_setup(test_reload_evidence, clean),
		cmocka_unit_test_setup(test_reload_while_judging, clean),
	};

	/* log lines are only wanted where a test captures them */
	og_log_set_stderr(0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
