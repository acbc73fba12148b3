/*
 * The milter callbacks driven through a fake MTA seam (t/fake_mta.c): what
 * outguard asks of the MTA for each kind of message, without a socket.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
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
#include <time.h>

#include <jansson.h>

#include "callbacks.h"
#include "fake_mta.h"
#include "log.h"
#include "runtime.h"
#include "testutil.h"

static char dir[256];
static struct smfiDesc desc;

static const char *const rules_quarantine =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 25 },\n"
	"  \"exempt\": { \"keys\": [\"sasl:lists@example.com\"] },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"many-recipients\", \"check\": \"recipients\", \"limit\": 50, \"score\": 10 }\n"
	"  ] }\n";

static const char *const rules_tempfail =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 8, \"tempfail\": 10 },\n"
	"  \"replies\": { \"tempfail\": \"Slow down, please\" },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"many-recipients\", \"check\": \"recipients\", \"limit\": 50, \"score\": 10 }\n"
	"  ] }\n";

static void write_file(const char *name, const char *text)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	og_test_write(path, text);
}

/* The test's config, with fail policy ON_ERROR ("tempfail" or "accept"). */
static void write_config(const char *on_error)
{
	char text[512];

	snprintf(text, sizeof(text),
	         "{ \"socket\": \"inet:1@127.0.0.1\", \"rules\": \"rules.json\", \"state_file\": null,\n"
	         "  \"evidence_file\": \"evidence.jsonl\", \"on_error\": \"%s\",\n"
	         "  \"scope\": { \"originating_daemons\": [\"ORIGINATING\"] } }\n", on_error);
	write_file("outguard.conf", text);
}

/* A runtime judging with RULES; the config lives in the test's directory. */
static struct og_runtime *start(const char *rules)
{
	static struct og_runtime rt;
	struct og_diag d;
	char path[512];

	write_file("rules.json", rules);
	write_config("tempfail");
	snprintf(path, sizeof(path), "%s/outguard.conf", dir);
	og_diag_init(&d);
	if (og_runtime_init(&rt, path, &d) < 0)
		fail_msg("runtime: %s", d.n > 0 ? d.msgs[0] : "?");
	og_diag_free(&d);
	og_callbacks_init(&rt);
	og_callbacks_describe(&desc);
	return &rt;
}

static int setup(void **state)
{
	if (og_test_mkdtemp(dir, sizeof(dir), "callbacks") < 0)
		return -1;
	*state = start(rules_quarantine);
	return 0;
}

static int teardown(void **state)
{
	og_runtime_destroy(*state);
	return og_test_rmtree(dir);
}

static void connect_from(SMFICTX *ctx, const char *addr, unsigned port, const char *daemon)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	fake_macro(ctx, "{daemon_name}", daemon);
	assert_int_equal(desc.xxfi_connect(ctx, (char *)"client.example", (struct sockaddr *)&sin),
	                 SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_helo(ctx, (char *)"client.example"), SMFIS_CONTINUE);
}

/* One message: MAIL, N recipients, a few headers, EOM; returns EOM's code. */
static sfsistat message(SMFICTX *ctx, const char *sender, int n_rcpt, const char *extra_name,
                        const char *extra_value)
{
	char *from[] = { (char *)sender, NULL };
	char rcpt[64], *rv[] = { rcpt, NULL };

	fake_clear_actions(ctx);
	assert_int_equal(desc.xxfi_envfrom(ctx, from), SMFIS_CONTINUE);
	for (int i = 0; i < n_rcpt; i++) {
		snprintf(rcpt, sizeof(rcpt), "<user%d@remote.example>", i);
		assert_int_equal(desc.xxfi_envrcpt(ctx, rv), SMFIS_CONTINUE);
	}
	assert_int_equal(desc.xxfi_header(ctx, (char *)"From", (char *)"a@example.com"), SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_header(ctx, (char *)"Subject", (char *)"hello"), SMFIS_CONTINUE);
	if (extra_name != NULL)
		assert_int_equal(desc.xxfi_header(ctx, (char *)extra_name, (char *)extra_value),
		                 SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_eoh(ctx), SMFIS_CONTINUE);
	return desc.xxfi_eom(ctx);
}

/* The last evidence line, or "" (static buffer). */
static const char *last_evidence(void)
{
	static char line[8192];
	char path[512], buf[8192];
	FILE *fp;

	line[0] = '\0';
	snprintf(path, sizeof(path), "%s/evidence.jsonl", dir);
	if ((fp = fopen(path, "r")) == NULL)
		return line;
	while (fgets(buf, sizeof(buf), fp) != NULL)
		memcpy(line, buf, sizeof(line));
	fclose(fp);
	return line;
}

static void test_authenticated_blast_is_quarantined(void **state)
{
	SMFICTX ctx;
	const char *h;
	(void)state;

	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40001, "mx");
	fake_macro(&ctx, "{auth_authen}", "bob@example.com");
	fake_macro(&ctx, "i", "4F2A1A7219B");
	assert_int_equal(message(&ctx, "<bob@example.com>", 60, NULL, NULL), SMFIS_ACCEPT);
	assert_true(ctx.quarantined);
	h = fake_added(&ctx, "X-Outguard");
	assert_non_null(h);
	assert_string_equal(h, "quarantine; score=10 many-recipients=60/50; account=sasl:bob@example.com");
	assert_string_equal(ctx.quarantine_reason, h);
	assert_non_null(strstr(last_evidence(), "\"queue_id\":\"4F2A1A7219B\""));
	assert_non_null(strstr(last_evidence(), "\"applied\":\"quarantine\""));
	assert_int_equal(desc.xxfi_close(&ctx), SMFIS_CONTINUE);
	assert_null(ctx.priv);
}

static void test_inbound_passes_untouched(void **state)
{
	SMFICTX ctx;
	char before[8192];
	(void)state;

	memset(&ctx, 0, sizeof(ctx));
	snprintf(before, sizeof(before), "%s", last_evidence());
	connect_from(&ctx, "127.0.0.3", 40002, "mx");
	assert_int_equal(message(&ctx, "<someone@outside.example>", 60, NULL, NULL), SMFIS_ACCEPT);
	assert_false(ctx.quarantined);
	assert_int_equal(ctx.n_added, 0);
	assert_int_equal(ctx.n_deleted, 0);
	assert_string_equal(last_evidence(), before);     /* no record */
	desc.xxfi_close(&ctx);
}

static void test_late_queue_id_is_read_again(void **state)
{
	SMFICTX ctx;
	char *from[] = { (char *)"<carol@example.com>", NULL };
	char *rv[] = { (char *)"<x@remote.example>", NULL };
	(void)state;

	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40003, "ORIGINATING");
	fake_macro(&ctx, "{auth_authen}", "carol@example.com");
	assert_int_equal(desc.xxfi_envfrom(&ctx, from), SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_envrcpt(&ctx, rv), SMFIS_CONTINUE);
	fake_macro(&ctx, "i", "LATE123");        /* Postfix sends i from DATA on */
	assert_int_equal(desc.xxfi_eoh(&ctx), SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_eom(&ctx), SMFIS_ACCEPT);
	assert_non_null(strstr(last_evidence(), "\"queue_id\":\"LATE123\""));
	desc.xxfi_close(&ctx);
}

static void test_abort_forgets_the_message(void **state)
{
	SMFICTX ctx;
	char *from[] = { (char *)"<dave@example.com>", NULL };
	char *rv[] = { (char *)"<x@remote.example>", NULL };
	(void)state;

	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40004, "mx");
	fake_macro(&ctx, "{auth_authen}", "dave@example.com");
	assert_int_equal(desc.xxfi_envfrom(&ctx, from), SMFIS_CONTINUE);
	for (int i = 0; i < 50; i++)
		desc.xxfi_envrcpt(&ctx, rv);
	assert_int_equal(desc.xxfi_abort(&ctx), SMFIS_CONTINUE);
	/* 50 forgotten + 1 new = 1: not above the limit */
	assert_int_equal(message(&ctx, "<dave@example.com>", 1, NULL, NULL), SMFIS_ACCEPT);
	assert_false(ctx.quarantined);
	assert_non_null(strstr(last_evidence(), "\"rcpt_count\":1"));
	/* a MAIL without EOM/abort before it starts afresh too */
	assert_int_equal(desc.xxfi_envfrom(&ctx, from), SMFIS_CONTINUE);
	for (int i = 0; i < 50; i++)
		desc.xxfi_envrcpt(&ctx, rv);
	assert_int_equal(message(&ctx, "<dave@example.com>", 1, NULL, NULL), SMFIS_ACCEPT);
	assert_false(ctx.quarantined);
	desc.xxfi_close(&ctx);
}

static void test_close_without_eom(void **state)
{
	SMFICTX ctx;
	char *from[] = { (char *)"<erin@example.com>", NULL };
	(void)state;

	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40005, "mx");
	fake_macro(&ctx, "{auth_authen}", "erin@example.com");
	assert_int_equal(desc.xxfi_envfrom(&ctx, from), SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_close(&ctx), SMFIS_CONTINUE);   /* leak checkers watch this */
	assert_null(ctx.priv);
	/* callbacks after close find no context and fail safe */
	assert_int_equal(desc.xxfi_eom(&ctx), SMFIS_TEMPFAIL);
	assert_string_equal(ctx.reply[0], "451");
}

static void test_forged_stamps_are_removed(void **state)
{
	SMFICTX ctx;
	(void)state;

	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40006, "mx");
	fake_macro(&ctx, "{auth_authen}", "frank@example.com");
	fake_clear_actions(&ctx);
	assert_int_equal(message(&ctx, "<frank@example.com>", 1, "X-Outguard-Submitter",
	                         "uid=0; user=root; cwd=/"), SMFIS_ACCEPT);
	assert_int_equal(ctx.n_deleted, 1);
	assert_string_equal(ctx.deleted_name[0], "X-Outguard-Submitter");
	assert_int_equal(ctx.deleted_idx[0], 1);
	assert_non_null(strstr(last_evidence(), "\"account\":\"sasl:frank@example.com\""));
	desc.xxfi_close(&ctx);
}

static void test_exempt_account_passes(void **state)
{
	SMFICTX ctx;
	(void)state;

	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40007, "ORIGINATING");
	fake_macro(&ctx, "{auth_authen}", "lists@example.com");
	assert_int_equal(message(&ctx, "<lists@example.com>", 300, NULL, NULL), SMFIS_ACCEPT);
	assert_false(ctx.quarantined);
	assert_int_equal(ctx.n_added, 0);
	assert_non_null(strstr(last_evidence(), "\"exempt\":\"sasl:lists@example.com\""));
	desc.xxfi_close(&ctx);
}

static void test_quarantine_refused_becomes_tempfail(void **state)
{
	SMFICTX ctx;
	(void)state;

	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40008, "mx");
	ctx.fail_quarantine = true;
	fake_macro(&ctx, "{auth_authen}", "gina@example.com");
	assert_int_equal(message(&ctx, "<gina@example.com>", 60, NULL, NULL), SMFIS_TEMPFAIL);
	assert_string_equal(ctx.reply[0], "451");
	assert_string_equal(ctx.reply[1], "4.7.1");
	desc.xxfi_close(&ctx);
}

/* Judge with RULES from now on (a reload, as SIGHUP makes one). */
static void reload_rules(struct og_runtime *rt, const char *rules)
{
	struct og_diag d;

	write_file("rules.json", rules);
	og_diag_init(&d);
	if (og_runtime_reload(rt, &d) < 0)
		fail_msg("reload: %s", d.n > 0 ? d.msgs[0] : "?");
	og_diag_free(&d);
}

/* The config with fail policy ON_ERROR, and RULES, from now on. */
static void reload_with(struct og_runtime *rt, const char *on_error, const char *rules)
{
	write_config(on_error);
	reload_rules(rt, rules);
}

static void test_tempfail_smtp_quarantine_local(void **state)
{
	SMFICTX ctx;
	(void)state;

	reload_rules(*state, rules_tempfail);

	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40009, "mx");
	fake_macro(&ctx, "{auth_authen}", "hank@example.com");
	assert_int_equal(message(&ctx, "<hank@example.com>", 60, NULL, NULL), SMFIS_TEMPFAIL);
	assert_string_equal(ctx.reply[0], "451");
	assert_string_equal(ctx.reply[1], "4.7.1");
	assert_string_equal(ctx.reply[2], "Slow down, please");
	assert_false(ctx.quarantined);
	desc.xxfi_close(&ctx);

	/* Postfix pickup: 127.0.0.1, port 0, sender without brackets */
	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.1", 0, "mx");
	fake_macro(&ctx, "i", "LOCAL1");
	assert_int_equal(message(&ctx, "www-data@pfx.test", 60, "X-Outguard-Submitter",
	                         "uid=33; user=www-data; cwd=/var/www/site"), SMFIS_ACCEPT);
	assert_true(ctx.quarantined);
	assert_int_equal(ctx.n_deleted, 1);             /* the real stamp does not leave either */
	assert_non_null(strstr(last_evidence(), "\"account\":\"uid:33\""));
	assert_non_null(strstr(last_evidence(), "\"action\":\"tempfail\""));
	assert_non_null(strstr(last_evidence(), "\"applied\":\"quarantine\""));
	desc.xxfi_close(&ctx);

	reload_rules(*state, rules_quarantine);
}

/* Lock policies in which one stop locks, one in each style. */
static const char *const rules_lock_hold =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 0 },\n"
	"  \"lock\": { \"after\": 1, \"within\": 600, \"keys\": [\"account\"], \"style\": \"hold\" },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"many-recipients\", \"check\": \"recipients\", \"limit\": 50, \"score\": 10 }\n"
	"  ] }\n";
static const char *const rules_lock_refuse =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 0 },\n"
	"  \"lock\": { \"after\": 1, \"within\": 600, \"keys\": [\"account\"], \"style\": \"refuse\",\n"
	"            \"reply\": \"Account suspended; call us\" },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"many-recipients\", \"check\": \"recipients\", \"limit\": 50, \"score\": 10 }\n"
	"  ] }\n";

/*
 * What the MTA sees of a locked account: in the hold style its MAIL FROM
 * goes on and its message is accepted into quarantine, the reason naming
 * the lock; in the refuse style MAIL FROM gets 451 4.7.1 with the lock's text.
 */
static void test_locked_account_at_the_seam(void **state)
{
	SMFICTX ctx;
	char *from[] = { (char *)"<jill@example.com>", NULL };
	(void)state;

	reload_rules(*state, rules_lock_hold);
	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40012, "ORIGINATING");
	fake_macro(&ctx, "{auth_authen}", "ivan@example.com");
	fake_macro(&ctx, "i", "HOLD1");
	assert_int_equal(message(&ctx, "<ivan@example.com>", 60, NULL, NULL), SMFIS_ACCEPT);
	assert_true(ctx.quarantined);           /* the stop that locks */
	fake_macro(&ctx, "i", "HOLD2");
	/* message() asserts that MAIL FROM and every later stage go on */
	assert_int_equal(message(&ctx, "<ivan@example.com>", 1, NULL, NULL), SMFIS_ACCEPT);
	assert_true(ctx.quarantined);
	assert_string_equal(ctx.quarantine_reason,
	                    "quarantine; score=0 locked=sasl:ivan@example.com; account=sasl:ivan@example.com");
	assert_non_null(strstr(last_evidence(), "\"queue_id\":\"HOLD2\""));
	assert_non_null(strstr(last_evidence(),
	                       "\"locked\":{\"key\":\"sasl:ivan@example.com\",\"style\":\"hold\""));
	desc.xxfi_close(&ctx);

	reload_rules(*state, rules_lock_refuse);
	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40013, "ORIGINATING");
	fake_macro(&ctx, "{auth_authen}", "jill@example.com");
	assert_int_equal(message(&ctx, "<jill@example.com>", 60, NULL, NULL), SMFIS_ACCEPT);
	assert_true(ctx.quarantined);
	fake_clear_actions(&ctx);
	assert_int_equal(desc.xxfi_envfrom(&ctx, from), SMFIS_TEMPFAIL);
	assert_string_equal(ctx.reply[0], "451");
	assert_string_equal(ctx.reply[1], "4.7.1");
	assert_string_equal(ctx.reply[2], "Account suspended; call us");
	assert_false(ctx.quarantined);
	desc.xxfi_close(&ctx);

	reload_rules(*state, rules_quarantine);
}

static const char *const rules_observing =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 25 },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"many-recipients\", \"check\": \"recipients\", \"limit\": 50, \"score\": 5 },\n"
	"    { \"id\": \"watch-recipients\", \"check\": \"recipients\", \"limit\": 20, \"score\": 10,\n"
	"      \"observe\": true }\n"
	"  ] }\n";

/* The hit of a rule that observes is marked ":observe" in the X-Outguard header. */
static void test_observing_hit_marked(void **state)
{
	SMFICTX ctx;
	(void)state;

	reload_rules(*state, rules_observing);
	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40010, "ORIGINATING");
	fake_macro(&ctx, "{auth_authen}", "ivy@example.com");
	fake_macro(&ctx, "i", "OBS1");
	assert_int_equal(message(&ctx, "<ivy@example.com>", 60, NULL, NULL), SMFIS_ACCEPT);
	assert_false(ctx.quarantined);          /* 5 counts; the observing rule's 10 would not */
	assert_string_equal(fake_added(&ctx, "X-Outguard"),
	                    "tag; score=5 many-recipients=60/50 watch-recipients=60/20:observe; "
	                    "account=sasl:ivy@example.com");
	/* the observing rule alone: nothing to do, nothing added */
	assert_int_equal(message(&ctx, "<ivy@example.com>", 30, NULL, NULL), SMFIS_ACCEPT);
	assert_null(fake_added(&ctx, "X-Outguard"));
	assert_non_null(strstr(last_evidence(), "\"would\":{\"score\":10,\"action\":\"quarantine\"}"));
	desc.xxfi_close(&ctx);
	reload_rules(*state, rules_quarantine);
}

static const char *const rules_keywords =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10 },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"trap\", \"check\": \"keywords\", \"limit\": 1, \"score\": 10,\n"
	"      \"body_bytes\": 64, \"phrases\": [\"beneficiary\", \"next of kin\", \"lottery\"] },\n"
	"    { \"id\": \"mailer\", \"check\": \"header\", \"score\": 1, \"header\": \"X-Mailer\",\n"
	"      \"pattern\": \"^PHPMailer\" }\n"
	"  ] }\n";

/* Negotiation asks for the body only when a rule reads it, and with SKIP when offered. */
static void test_negotiate_body(void **state)
{
	static const struct {
		const char *label, *rules;
		unsigned long offered, want_set, want_clear;
	} rows[] = {
		/* over TCP (these rows) DATA is answered: see test_noreply_over_unix */
		{ "no rule reads the body", NULL, SMFIP_NOBODY | SMFIP_SKIP | SMFIP_NODATA,
		  SMFIP_NOBODY, SMFIP_SKIP | SMFIP_NODATA },
		{ "a keyword rule reads it", "kw", SMFIP_NOBODY | SMFIP_SKIP | SMFIP_NODATA,
		  SMFIP_SKIP, SMFIP_NOBODY | SMFIP_NODATA },
		{ "SKIP not offered", "kw", SMFIP_NOBODY | SMFIP_NODATA, 0,
		  SMFIP_NOBODY | SMFIP_SKIP | SMFIP_NODATA },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		SMFICTX ctx;
		unsigned long f0 = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST;
		unsigned long pf0 = 0, pf1 = 0, pf2 = 1, pf3 = 1;

		reload_rules(*state, rows[i].rules != NULL ? rules_keywords : rules_quarantine);
		memset(&ctx, 0, sizeof(ctx));
		assert_int_equal(desc.xxfi_negotiate(&ctx, f0, rows[i].offered, 0, 0, &pf0, &pf1, &pf2,
		                                     &pf3), SMFIS_CONTINUE);
		if ((pf1 & rows[i].want_set) != rows[i].want_set || (pf1 & rows[i].want_clear) != 0)
			fail_msg("row \"%s\": steps 0x%lx", rows[i].label, pf1);
		assert_int_equal(pf2, 0);
		assert_int_equal(pf3, 0);
		desc.xxfi_close(&ctx);
	}
	reload_rules(*state, rules_quarantine);
}

/* Over a unix socket the stages without a decision get no reply; MAIL and EOM still do. */
static void test_noreply_over_unix(void **state)
{
	struct og_runtime *rt = *state;
	char *from[] = { (char *)"<erin@example.com>", NULL };
	char *rv[] = { (char *)"<x@remote.example>", NULL };
	unsigned long pf0, pf1, pf2, pf3;
	const unsigned long nr = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT | SMFIP_NR_HDR |
	                         SMFIP_NR_EOH;
	struct sockaddr_in sin;
	SMFICTX ctx;

	for (int unix_socket = 0; unix_socket < 2; unix_socket++) {
		sfsistat want = unix_socket ? SMFIS_NOREPLY : SMFIS_CONTINUE;

		rt->milter_unix = unix_socket;
		memset(&ctx, 0, sizeof(ctx));
		assert_int_equal(desc.xxfi_negotiate(&ctx, SMFIF_ADDHDRS | SMFIF_CHGHDRS |
		                                     SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
		                                     0x1fffff, 0, 0, &pf0, &pf1, &pf2, &pf3),
		                 SMFIS_CONTINUE);
		assert_int_equal(pf1 & nr, unix_socket ? nr : 0);
		assert_int_equal(pf1 & SMFIP_NODATA, unix_socket ? SMFIP_NODATA : 0);
		assert_int_equal(pf1 & (SMFIP_NR_MAIL | SMFIP_NR_BODY), 0);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(40005);
		inet_pton(AF_INET, "127.0.0.2", &sin.sin_addr);
		fake_macro(&ctx, "{daemon_name}", "ORIGINATING");
		assert_int_equal(desc.xxfi_connect(&ctx, (char *)"c.example", (struct sockaddr *)&sin),
		                 want);
		assert_int_equal(desc.xxfi_helo(&ctx, (char *)"c.example"), want);
		fake_macro(&ctx, "{auth_authen}", "erin@example.com");
		fake_macro(&ctx, "i", "NR1");
		assert_int_equal(desc.xxfi_envfrom(&ctx, from), SMFIS_CONTINUE);
		assert_int_equal(desc.xxfi_envrcpt(&ctx, rv), want);
		assert_int_equal(desc.xxfi_header(&ctx, (char *)"Subject", (char *)"hi"), want);
		assert_int_equal(desc.xxfi_eoh(&ctx), want);
		assert_int_equal(desc.xxfi_eom(&ctx), SMFIS_ACCEPT);
		desc.xxfi_close(&ctx);
	}
	rt->milter_unix = false;
}

/* The first body_bytes are kept and scanned; after them the MTA is told to skip. */
static void test_body_is_read_and_skipped(void **state)
{
	static const char chunk1[] = "Dear beneficiary, as next of kin ";
	static const char chunk2[] = "you will receive all of it, as soon as you answer this.";
	static const char chunk3[] = "and a lottery too";
	char *from[] = { (char *)"<carol@example.com>", NULL };
	char *rv[] = { (char *)"<x@remote.example>", NULL };
	unsigned long pf0, pf1, pf2, pf3;
	SMFICTX ctx;

	reload_rules(*state, rules_keywords);
	memset(&ctx, 0, sizeof(ctx));
	assert_int_equal(desc.xxfi_negotiate(&ctx, SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE |
	                                     SMFIF_SETSYMLIST, SMFIP_NOBODY | SMFIP_SKIP, 0, 0,
	                                     &pf0, &pf1, &pf2, &pf3), SMFIS_CONTINUE);
	connect_from(&ctx, "127.0.0.2", 40002, "ORIGINATING");
	fake_macro(&ctx, "{auth_authen}", "carol@example.com");
	fake_macro(&ctx, "i", "BODY1");
	assert_int_equal(desc.xxfi_envfrom(&ctx, from), SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_envrcpt(&ctx, rv), SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_header(&ctx, (char *)"X-Mailer", (char *)"PHPMailer 5.2"),
	                 SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_eoh(&ctx), SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_body(&ctx, (unsigned char *)chunk1, strlen(chunk1)), SMFIS_CONTINUE);
	/* this one crosses the 64 bytes kept: nothing more is wanted */
	assert_int_equal(desc.xxfi_body(&ctx, (unsigned char *)chunk2, strlen(chunk2)), SMFIS_SKIP);
	assert_int_equal(desc.xxfi_eom(&ctx), SMFIS_ACCEPT);
	assert_true(ctx.quarantined);
	assert_string_equal(fake_added(&ctx, "X-Outguard"),
	                    "quarantine; score=11 trap=2/1 mailer=1/0; account=sasl:carol@example.com");
	assert_non_null(strstr(last_evidence(), "\"matched\":[\"beneficiary\",\"next of kin\"]"));
	assert_non_null(strstr(last_evidence(), "\"matched\":\"PHPMailer 5.2\""));

	/* the next message starts with an empty body: a lottery alone does not hit */
	fake_clear_actions(&ctx);
	fake_macro(&ctx, "i", "BODY2");
	assert_int_equal(desc.xxfi_envfrom(&ctx, from), SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_envrcpt(&ctx, rv), SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_eoh(&ctx), SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_body(&ctx, (unsigned char *)chunk3, strlen(chunk3)), SMFIS_CONTINUE);
	assert_int_equal(desc.xxfi_eom(&ctx), SMFIS_ACCEPT);
	assert_false(ctx.quarantined);
	assert_null(fake_added(&ctx, "X-Outguard"));
	desc.xxfi_close(&ctx);

	reload_rules(*state, rules_quarantine);
}

static const char *const rules_hostile =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10 },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"many\", \"check\": \"recipients\", \"limit\": 50, \"score\": 10 },\n"
	"    { \"id\": \"trap\", \"check\": \"keywords\", \"score\": 3,\n"
	"      \"phrases\": [\"winner\", \"claim\", \"prize\"] },\n"
	"    { \"id\": \"slow\", \"check\": \"header\", \"score\": 1, \"header\": \"X-Slow\",\n"
	"      \"pattern\": \"^(a+)+$\" },\n"
	"    { \"id\": \"mid\", \"check\": \"message-id\", \"score\": 1 },\n"
	"    { \"id\": \"brand\", \"check\": \"display-name\", \"score\": 1,\n"
	"      \"brands\": { \"PayPal\": [\"paypal.com\"] } }\n"
	"  ] }\n";

/*
 * The evidence file, whole, and its length (it may hold a NUL, which a
 * string would hide).  Caller frees; NULL when there is no file.
 */
static char *read_evidence(size_t *len)
{
	char path[512], *text = NULL;
	FILE *fp;
	long n = -1;

	*len = 0;
	snprintf(path, sizeof(path), "%s/evidence.jsonl", dir);
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0 ||
	    (text = malloc((size_t)n + 1)) == NULL || fread(text, 1, (size_t)n, fp) != (size_t)n)
		fail_msg("cannot read %s", path);
	fclose(fp);
	text[n] = '\0';
	*len = (size_t)n;
	return text;
}

/*
 * The last evidence record, parsed; caller json_decref's it.  The line must
 * be what a strict reader takes: no NUL or other raw control byte, valid
 * UTF-8 (jansson checks that), one JSON object.
 */
static json_t *last_record(void)
{
	size_t len, n;
	char *text = read_evidence(&len), *last;
	json_t *r;
	json_error_t e;

	assert_non_null(text);
	if (memchr(text, '\0', len) != NULL)
		fail_msg("a NUL byte in the evidence file");
	n = len;
	while (n > 0 && text[n - 1] == '\n')
		n--;
	for (last = text + n; last > text && last[-1] != '\n'; last--)
		;
	for (const char *p = last; p < text + n; p++)
		if ((unsigned char)*p < 0x20)
			fail_msg("raw control byte 0x%02x in the record: %.200s", (unsigned char)*p, last);
	if ((r = json_loadb(last, (size_t)(text + n - last), JSON_REJECT_DUPLICATES, &e)) == NULL ||
	    !json_is_object(r))
		fail_msg("the last record is not a JSON object (%s): %.200s", e.text, last);
	free(text);
	return r;
}

/* The value at PATH ("subject", "rcpt_sample/0") in R, or NULL if there is none. */
static json_t *at(json_t *r, const char *path)
{
	char part[64];

	while (r != NULL && *path != '\0') {
		size_t n = strcspn(path, "/");

		snprintf(part, sizeof(part), "%.*s", (int)n, path);
		r = json_is_array(r) ? json_array_get(r, strtoul(part, NULL, 10))
		                     : json_object_get(r, part);
		path += n + (path[n] == '/');
	}
	return r;
}

/* The value at PATH as text: a string as it is, else its JSON ("1", "true", "null"), or "(absent)". */
static char *text_at(json_t *r, const char *path)
{
	json_t *v = at(r, path);

	if (v == NULL)
		return strdup("(absent)");
	if (json_is_string(v))
		return strndup(json_string_value(v), json_string_length(v));
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/*
 * The hits of record R, one "rule=figure" each, with ":" and what matched:
 * the phrases joined by ',', or the string (its first 24 bytes).  Static.
 */
static const char *hits_of(json_t *r)
{
	static char out[1024];
	size_t i;
	json_t *h;

	out[0] = '\0';
	json_array_foreach(json_object_get(r, "hits"), i, h) {
		json_t *m = json_object_get(h, "matched");
		size_t o = strlen(out);

		snprintf(out + o, sizeof(out) - o, "%s%s=%lld", i > 0 ? " " : "",
		         json_string_value(json_object_get(h, "rule")),
		         (long long)json_integer_value(json_object_get(h, "figure")));
		if (json_is_string(m)) {
			o = strlen(out);
			snprintf(out + o, sizeof(out) - o, ":%.24s", json_string_value(m));
		} else if (json_is_array(m)) {
			size_t k;
			json_t *p;

			json_array_foreach(m, k, p) {
				o = strlen(out);
				snprintf(out + o, sizeof(out) - o, "%s%s", k > 0 ? "," : ":",
				         json_string_value(p));
			}
		}
	}
	return out;
}

#define FFFD "\xef\xbf\xbd"     /* U+FFFD, what the evidence writes for a byte that is not UTF-8 */

enum shape { BIG_HEADER, MANY_HEADERS, MANY_RCPTS, BAD_UTF8, NUL_HEADERS, NUL_ADDRESSES,
             NUL_BODY, DUP_HEADERS, NO_HEADERS, CUT_BODY, REGEX_BAIT, REGEX_PLAIN, REGEX_CUT,
             BROKEN_MIME };

/*
 * MAIL FROM and the recipients of a message of SHAPE.  libmilter splits a
 * command's arguments at NUL (the protocol's separator): an address with a
 * NUL reaches the callback as the part before it, the rest as an ESMTP
 * argument.
 */
static void hostile_envelope(SMFICTX *ctx, enum shape shape)
{
	char *from[] = { (char *)"<carol@example.com>", NULL };
	char *from_nul[] = { (char *)"<carol", (char *)"@evil.example>", NULL };
	char rcpt[64], *rv[] = { rcpt, NULL, NULL };
	int n_rcpt = shape == MANY_RCPTS ? 10000 : 1;

	assert_int_equal(desc.xxfi_envfrom(ctx, shape == NUL_ADDRESSES ? from_nul : from),
	                 SMFIS_CONTINUE);
	for (int r = 0; r < n_rcpt; r++) {
		if (shape == BAD_UTF8) {
			snprintf(rcpt, sizeof(rcpt), "<\xff\xfe%d@\x01x.example>", r);
		} else if (shape == NUL_ADDRESSES) {
			snprintf(rcpt, sizeof(rcpt), "<u%d", r);
			rv[1] = (char *)"@remote.example>";
		} else {
			snprintf(rcpt, sizeof(rcpt), "<u%d@d%d.example>", r, r % 97);
		}
		assert_int_equal(desc.xxfi_envrcpt(ctx, rv), SMFIS_CONTINUE);
	}
}

/* Headers and body of a message of SHAPE; BIG is a buffer of 65537 bytes. */
static void hostile_content(SMFICTX *ctx, enum shape shape, char *big)
{
	/* the value a header callback gets from "name\0value\0": up to the first NUL */
	static const char subject_nul[] = "you are a win\0ner";
	static const char from_nul[] = "\"Pay\0Pal\" <a@paypal.example>";
	static const char body_nul[] = "\0win\0ner \0claim\0 pri\0ze\0";
	/* "you are a winner, claim\r\nyour prize" in base64, without its padding: the
	   last quantum has 3 of 4 characters; "winner" crosses a line and a chunk */
	static const char b64_1[] = "eW91IGFyZSBhIHdp\r\nbm5lci";
	static const char b64_2[] = "wgY2xh\r\naW0NCnlvdXIgcHJpemU";
	char name[32];

	switch (shape) {
	case BIG_HEADER:
		memset(big, 'w', 65536);
		big[65536] = '\0';
		desc.xxfi_header(ctx, (char *)"Subject", big);
		break;
	case MANY_HEADERS:
		for (int h = 0; h < 10000; h++) {
			snprintf(name, sizeof(name), "X-H%d", h);
			desc.xxfi_header(ctx, name, (char *)"v");
		}
		desc.xxfi_header(ctx, (char *)"Subject", (char *)"after ten thousand");
		break;
	case BAD_UTF8:
		desc.xxfi_header(ctx, (char *)"From", (char *)"\"\xc3\x28 PayPal\" <\xff@\xfe.example>");
		desc.xxfi_header(ctx, (char *)"Subject", (char *)"\xed\xa0\x80 w\x01inner \x1b[31m");
		desc.xxfi_header(ctx, (char *)"Message-ID", (char *)"<\x80@\x80>");
		break;
	case NUL_HEADERS:
		desc.xxfi_header(ctx, (char *)"Subject", (char *)subject_nul);
		desc.xxfi_header(ctx, (char *)"From", (char *)from_nul);
		desc.xxfi_header(ctx, (char *)"Message-ID", (char *)"<1@example.com>");
		break;
	case NUL_ADDRESSES:
		desc.xxfi_header(ctx, (char *)"Message-ID", (char *)"<2@example.com>");
		break;
	case NUL_BODY:
		desc.xxfi_header(ctx, (char *)"Message-ID", (char *)"<3@example.com>");
		break;
	case DUP_HEADERS:
		for (int h = 0; h < 2; h++) {
			desc.xxfi_header(ctx, (char *)"From", h == 0 ? (char *)"a@example.com"
			                                             : (char *)"\"PayPal\" <b@example.com>");
			desc.xxfi_header(ctx, (char *)"Subject", h == 0 ? (char *)"hello" : (char *)"winner");
			desc.xxfi_header(ctx, (char *)"Message-ID", h == 0 ? (char *)"<1@example.com>"
			                                                   : (char *)"broken");
			desc.xxfi_header(ctx, (char *)"Content-Type", (char *)"text/plain");
		}
		break;
	case NO_HEADERS:
	case MANY_RCPTS:
		break;
	case CUT_BODY:
		desc.xxfi_header(ctx, (char *)"Content-Type", (char *)"text/plain");
		desc.xxfi_header(ctx, (char *)"Content-Transfer-Encoding", (char *)"base64");
		break;
	case REGEX_BAIT:
	case REGEX_PLAIN:
		/* within the 998 bytes kept: the b at the end makes (a+)+$ backtrack */
		memset(big, 'a', 990);
		big[990] = shape == REGEX_BAIT ? 'b' : 'a';
		big[991] = '\0';
		desc.xxfi_header(ctx, (char *)"X-Slow", big);
		break;
	case REGEX_CUT:
		memset(big, 'a', 65536);
		big[65535] = 'b';
		big[65536] = '\0';
		desc.xxfi_header(ctx, (char *)"X-Slow", big);
		break;
	case BROKEN_MIME:
		desc.xxfi_header(ctx, (char *)"Content-Type", (char *)"multipart/mixed; boundary=b");
		break;
	}
	assert_int_equal(desc.xxfi_eoh(ctx), SMFIS_CONTINUE);
	if (shape == CUT_BODY) {
		desc.xxfi_body(ctx, (unsigned char *)b64_1, sizeof(b64_1) - 1);
		desc.xxfi_body(ctx, (unsigned char *)b64_2, sizeof(b64_2) - 1);
	} else if (shape == NUL_BODY) {
		desc.xxfi_body(ctx, (unsigned char *)body_nul, sizeof(body_nul) - 1);
	} else if (shape == BROKEN_MIME) {
		struct og_buf b;

		og_buf_init(&b);
		for (int k = 0; k < 200; k++)
			og_buf_printf(&b, "--b%.*s\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n",
			              k, "", k + 1);
		og_buf_puts(&b, "winner, cut");
		desc.xxfi_body(ctx, (unsigned char *)b.data, b.len);
		og_buf_free(&b);
	}
}

/*
 * What attackers send: huge and many headers and recipients, NUL bytes and
 * invalid UTF-8 in values and addresses, duplicated and missing headers,
 * broken MIME, a body cut mid-line and mid-quantum, a regex bait.  Each is
 * judged quickly, without a crash, to the action wanted, with a record that
 * is valid JSON and says what was read: the hits (and what matched) and the
 * fields named.  A field's LEN, when VALUE is NULL, is the length of the
 * string wanted there.
 */
static void test_hostile_input(void **state)
{
	static const struct {
		const char *label;
		enum shape shape;
		const char *applied, *hits;
		struct { const char *path, *value; size_t len; } field[6];
	} rows[] = {
		{ "a 64 KB Subject, cut to 998 bytes", BIG_HEADER, "accept", "mid=1:missing",
		  { { "subject", NULL, 998 }, { "truncated", "true", 0 } } },
		{ "10,000 header lines, then the Subject", MANY_HEADERS, "accept", "mid=1:missing",
		  { { "subject", "after ten thousand", 0 }, { "truncated", "(absent)", 0 } } },
		{ "10,000 recipients: counted, ten sampled, 64 domains", MANY_RCPTS, "quarantine",
		  "many=10000 mid=1:missing",
		  { { "rcpt_count", "10000", 0 }, { "rcpt_sample/9", "u9@d9.example", 0 },
		    { "rcpt_sample/10", "(absent)", 0 }, { "rcpt_domains/63", "d63.example", 0 },
		    { "rcpt_domains/64", "(absent)", 0 } } },
		/* one U+FFFD per byte that is not UTF-8 (a surrogate's three too); control
		   bytes kept, escaped by JSON; the matched Message-ID printable */
		{ "invalid UTF-8 and control bytes in headers and addresses", BAD_UTF8, "accept",
		  "mid=1:invalid <?@?> brand=1:PayPal",
		  { { "from", "\"" FFFD "( PayPal\" <" FFFD "@" FFFD ".example>", 0 },
		    { "subject", FFFD FFFD FFFD " w\x01inner \x1b[31m", 0 },
		    { "message_id", "<" FFFD "@" FFFD ">", 0 },
		    { "rcpt_sample/0", FFFD FFFD "0@\x01x.example", 0 },
		    { "rcpt_domains/0", "\x01x.example", 0 } } },
		/* nothing after a NUL is read: no "winner", no PayPal brand */
		{ "NUL bytes in header values", NUL_HEADERS, "accept", "",
		  { { "subject", "you are a win", 0 }, { "from", "\"Pay", 0 } } },
		{ "NUL bytes in MAIL FROM, RCPT TO and the login macro", NUL_ADDRESSES, "accept", "",
		  { { "sender", "carol", 0 }, { "rcpt_sample/0", "u0", 0 },
		    { "rcpt_domains/0", "(absent)", 0 }, { "keys/account", "sasl:carol@example.com", 0 },
		    { "auth/login", "carol@example.com", 0 } } },
		/* the body is bytes with a length: a NUL separates words, it joins none */
		{ "NUL bytes in the body", NUL_BODY, "accept", "trap=1:claim", { { NULL, NULL, 0 } } },
		{ "every header twice: the first counts", DUP_HEADERS, "accept", "",
		  { { "from", "a@example.com", 0 }, { "subject", "hello", 0 },
		    { "message_id", "<1@example.com>", 0 } } },
		{ "no headers at all", NO_HEADERS, "accept", "mid=1:missing",
		  { { "from", "null", 0 }, { "subject", "null", 0 }, { "message_id", "null", 0 } } },
		/* "prize" is only there if the last, partial quantum is decoded */
		{ "a base64 body cut mid-line and mid-quantum, in two chunks", CUT_BODY, "accept",
		  "trap=3:winner,claim,prize mid=1:missing", { { NULL, NULL, 0 } } },
		/* at the match limit the search ends as no match; the plain row shows the rule works */
		{ "a header made to backtrack", REGEX_BAIT, "accept", "mid=1:missing",
		  { { "truncated", "(absent)", 0 } } },
		{ "the same header without the bait", REGEX_PLAIN, "accept",
		  "slow=1:aaaaaaaaaaaaaaaaaaaaaaaa mid=1:missing", { { NULL, NULL, 0 } } },
		{ "a 64 KB bait, cut to 998 a's before matching", REGEX_CUT, "accept",
		  "slow=1:aaaaaaaaaaaaaaaaaaaaaaaa mid=1:missing", { { "truncated", "true", 0 } } },
		{ "a multipart without its end, nested 200 deep", BROKEN_MIME, "accept",
		  "trap=1:winner mid=1:missing", { { NULL, NULL, 0 } } },
	};
	/* a login macro with a NUL: the MTA's string ends there */
	static const char login_nul[] = "carol@example.com\0.evil.example";
	char *big = malloc(65537);

	assert_non_null(big);
	reload_rules(*state, rules_hostile);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct timespec t0, t1;
		SMFICTX ctx;
		json_t *r;
		char *got;

		alarm(120);     /* a search without its limit would never end: fail, not hang */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		memset(&ctx, 0, sizeof(ctx));
		connect_from(&ctx, "127.0.0.2", 40003, "ORIGINATING");
		fake_macro(&ctx, "{auth_authen}", rows[i].shape == NUL_ADDRESSES ? login_nul
		                                                               : "carol@example.com");
		fake_macro(&ctx, "i", "HOSTILE1");
		hostile_envelope(&ctx, rows[i].shape);
		hostile_content(&ctx, rows[i].shape, big);
		assert_int_equal(desc.xxfi_eom(&ctx), SMFIS_ACCEPT);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		r = last_record();
		got = text_at(r, "queue_id");
		CHECK_STR(rows[i].label, got, "HOSTILE1");
		free(got);
		got = text_at(r, "applied");
		if (strcmp(got, rows[i].applied) != 0)
			fail_msg("row \"%s\": applied %s, want %s", rows[i].label, got, rows[i].applied);
		free(got);
		if (strcmp(hits_of(r), rows[i].hits) != 0)
			fail_msg("row \"%s\": hits \"%s\", want \"%s\"", rows[i].label, hits_of(r),
			         rows[i].hits);
		for (size_t k = 0; k < N_ROWS(rows[i].field) && rows[i].field[k].path != NULL; k++) {
			const char *path = rows[i].field[k].path, *want = rows[i].field[k].value;

			got = text_at(r, path);
			if (want == NULL ? strlen(got) != rows[i].field[k].len : strcmp(got, want) != 0)
				fail_msg("row \"%s\": %s is \"%.200s\", want \"%s\" (%zu bytes)", rows[i].label,
				         path, got, want != NULL ? want : "", rows[i].field[k].len);
			free(got);
		}
		json_decref(r);
		/* a generous bound: sanitizers and valgrind are slow, a hang is not */
		if (t1.tv_sec - t0.tv_sec > 20)
			fail_msg("row \"%s\": took %ld s", rows[i].label, (long)(t1.tv_sec - t0.tv_sec));
		desc.xxfi_close(&ctx);
		alarm(0);
	}
	free(big);
	reload_rules(*state, rules_quarantine);
}

/*
 * Bytes an attacker chose reach the log line and the X-Outguard header
 * escaped as \xHH (printable ASCII, nothing a terminal or a header parser
 * would act on), and the evidence as JSON with U+FFFD.
 */
static void test_hostile_bytes_escaped(void **state)
{
	static const char want_log[] =
		"outguard: notice: QHB1: quarantine: account=sasl:ca\\xffrol\\x1b@example.com script=- "
		"client=127.0.0.2 sender=<ca\\xffrol\\x0a@example.com> rcpts=60 score=10 "
		"many-recipients=60/50\n";
	struct og_test_capture cap;
	SMFICTX ctx;
	json_t *r;
	char *logged, *got;
	(void)state;

	memset(&ctx, 0, sizeof(ctx));
	connect_from(&ctx, "127.0.0.2", 40010, "mx");
	fake_macro(&ctx, "{auth_authen}", "ca\xffrol\x1b@example.com");
	fake_macro(&ctx, "i", "QHB1");
	og_log_set_stderr(1);
	og_test_capture_start(&cap, dir);
	assert_int_equal(message(&ctx, "<ca\xffrol\n@example.com>", 60, NULL, NULL), SMFIS_ACCEPT);
	logged = og_test_capture_end(&cap);
	og_log_set_stderr(0);
	assert_true(ctx.quarantined);
	assert_string_equal(fake_added(&ctx, "X-Outguard"),
	                    "quarantine; score=10 many-recipients=60/50; "
	                    "account=sasl:ca\\xffrol\\x1b@example.com");
	assert_string_equal(logged, want_log);
	free(logged);
	r = last_record();
	got = text_at(r, "keys/account");
	assert_string_equal(got, "sasl:ca" FFFD "rol\x1b@example.com");
	free(got);
	got = text_at(r, "sender");
	assert_string_equal(got, "ca" FFFD "rol\n@example.com");
	free(got);
	json_decref(r);
	desc.xxfi_close(&ctx);
}

static const char *const rules_dropped =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10 },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"trap\", \"check\": \"keywords\", \"score\": 1, \"body_bytes\": 64,\n"
	"      \"phrases\": [\"winner\"] },\n"
	"    { \"id\": \"per-account\", \"check\": \"rate\", \"key\": \"account\",\n"
	"      \"count\": \"messages\", \"window\": 3600, \"limit\": 1, \"score\": 1 }\n"
	"  ] }\n";

/* Records in the evidence file. */
static size_t evidence_count(void)
{
	size_t len, n = 0;
	char *text = read_evidence(&len);

	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	free(text);
	return n;
}

/*
 * Run STEPS on CTX, one letter a milter command: O negotiate, C connect,
 * H HELO, M MAIL, R RCPT, L a header, N end of headers, B two body chunks,
 * E end of message, A abort.
 */
static void run_steps(SMFICTX *ctx, const char *steps)
{
	char *from[] = { (char *)"<dave@example.com>", NULL };
	char *rv[] = { (char *)"<x@remote.example>", NULL };
	unsigned long pf0, pf1, pf2, pf3;

	for (const char *s = steps; *s != '\0'; s++) {
		switch (*s) {
		case 'O':
			assert_int_equal(desc.xxfi_negotiate(ctx, SMFIF_ADDHDRS | SMFIF_CHGHDRS |
			                                     SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
			                                     SMFIP_NOBODY | SMFIP_SKIP, 0, 0, &pf0, &pf1,
			                                     &pf2, &pf3), SMFIS_CONTINUE);
			break;
		case 'C':
			connect_from(ctx, "127.0.0.2", 40004, "ORIGINATING");   /* and HELO */
			break;
		case 'H':
			assert_int_equal(desc.xxfi_helo(ctx, (char *)"again.example"), SMFIS_CONTINUE);
			break;
		case 'M':
			fake_macro(ctx, "{auth_authen}", "dave@example.com");
			assert_int_equal(desc.xxfi_envfrom(ctx, from), SMFIS_CONTINUE);
			break;
		case 'R':
			assert_int_equal(desc.xxfi_envrcpt(ctx, rv), SMFIS_CONTINUE);
			break;
		case 'L':
			assert_int_equal(desc.xxfi_header(ctx, (char *)"Subject", (char *)"cut"),
			                 SMFIS_CONTINUE);
			break;
		case 'N':
			assert_int_equal(desc.xxfi_eoh(ctx), SMFIS_CONTINUE);
			break;
		case 'B':
			assert_int_equal(desc.xxfi_body(ctx, (unsigned char *)"you are a ", 10),
			                 SMFIS_CONTINUE);
			assert_int_equal(desc.xxfi_body(ctx, (unsigned char *)"winner\r\n", 8),
			                 SMFIS_CONTINUE);
			break;
		case 'E':
			assert_int_equal(desc.xxfi_eom(ctx), SMFIS_ACCEPT);
			break;
		case 'A':
			assert_int_equal(desc.xxfi_abort(ctx), SMFIS_CONTINUE);
			break;
		default:
			fail_msg("unknown step %c", *s);
		}
	}
}

/*
 * The connection dropped at every stage, close without QUIT: the state of
 * each stage is freed (ASan and valgrind watch), the policy reference of an
 * unfinished message is dropped, and nothing is half-written: only a
 * message that reached its end is counted, in the counters, the rates and
 * the evidence; the next message of the account sees exactly those.
 */
static void test_dropped_at_every_stage(void **state)
{
	static const char *const rows[] = {
		"O", "OC", "OCH", "OCHM", "OCHMR", "OCHMRL", "OCHMRLN", "OCHMRLNB",
		"OCHMRLNBE", "OCHMRLNBA", "OCHMRLNBEM", "OCHMRLNBEMRLNB",
	};
	struct og_runtime *rt = *state;
	struct og_policy *p;
	int refs, ended = 0;
	json_t *r;
	SMFICTX ctx;
	char qid[N_ROWS(rows)][16], *got;

	reload_rules(rt, rules_dropped);
	p = og_runtime_policy(rt);
	refs = atomic_load(&p->refs);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		uint64_t messages = atomic_load(&rt->counters.messages);
		uint64_t errors = atomic_load(&rt->counters.internal_errors);
		size_t records = evidence_count();
		size_t eoms = strchr(rows[i], 'E') != NULL;

		memset(&ctx, 0, sizeof(ctx));
		snprintf(qid[i], sizeof(qid[i]), "DROP%zu", i);
		fake_macro(&ctx, "i", qid[i]);
		run_steps(&ctx, rows[i]);
		assert_int_equal(desc.xxfi_close(&ctx), SMFIS_CONTINUE);
		if (ctx.priv != NULL)
			fail_msg("steps %s: the context outlives close", rows[i]);
		if (atomic_load(&p->refs) != refs)
			fail_msg("steps %s: %d policy references after close, want %d", rows[i],
			         atomic_load(&p->refs), refs);
		if (atomic_load(&rt->counters.messages) - messages != eoms ||
		    evidence_count() - records != eoms ||
		    atomic_load(&rt->counters.internal_errors) != errors)
			fail_msg("steps %s: %zu messages and %zu records more, want %zu", rows[i],
			         (size_t)(atomic_load(&rt->counters.messages) - messages),
			         evidence_count() - records, eoms);
		if (eoms > 0) {
			r = last_record();
			got = text_at(r, "queue_id");
			CHECK_STR(rows[i], got, qid[i]);
			free(got);
			json_decref(r);
		}
		ended += (int)eoms;
	}
	og_policy_release(p);

	/* the account's next message: the rate counted only the messages that ended */
	memset(&ctx, 0, sizeof(ctx));
	fake_macro(&ctx, "i", "DROPLAST");
	run_steps(&ctx, "OCMRLNBE");
	desc.xxfi_close(&ctx);
	r = last_record();
	assert_int_equal(ended, 3);
	assert_string_equal(hits_of(r), "trap=1:winner per-account=4");
	json_decref(r);

	reload_rules(rt, rules_quarantine);
}

static const char *const rules_failpolicy =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10 },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"trap\", \"check\": \"keywords\", \"score\": 1, \"phrases\": [\"winner\"] },\n"
	"    { \"id\": \"per-account\", \"check\": \"rate\", \"key\": \"account\",\n"
	"      \"count\": \"messages\", \"window\": 60, \"limit\": 100, \"score\": 1 }\n"
	"  ] }\n";

#define TEMP_TEXT "Temporary local problem in the outbound filter; try again later"

/*
 * An internal error answers as on_error says, both ways: tempfail is
 * SMFIS_TEMPFAIL with 451 4.3.0 and a text, accept is SMFIS_ACCEPT with no
 * reply; either is logged once with the queue ID (NOQUEUE without a
 * context) and counted.  The errors are made by breaking state: the counts'
 * state taken away at end of message (as a failed allocation of a counter
 * would), a body chunk the core refuses (NULL with a length, as a failed
 * append would), and a callback that finds no connection context (after
 * close).  A judged message's record says internal_error.
 */
static void test_fail_policy_replies(void **state)
{
	enum inject { JUDGE, BODY, NO_CONTEXT };
	static const struct {
		const char *label, *on_error;
		enum inject inject;
		char stage;             /* NO_CONTEXT: the callback, as in run_steps */
		sfsistat want;
		const char *log;        /* after "outguard: error: " */
		const char *applied;    /* of the record; NULL: no record */
	} rows[] = {
		{ "judge, tempfail", "tempfail", JUDGE, 'E', SMFIS_TEMPFAIL,
		  "QFP1: internal error: out of memory counting the message: answering tempfail "
		  "(on_error tempfail)", "tempfail" },
		{ "judge, accept", "accept", JUDGE, 'E', SMFIS_ACCEPT,
		  "QFP1: internal error: out of memory counting the message: accepting the message "
		  "(on_error accept)", "accept" },
		{ "body, tempfail", "tempfail", BODY, 'B', SMFIS_TEMPFAIL,
		  "QFP1: internal error: out of memory at body: answering tempfail (on_error tempfail)",
		  NULL },
		{ "body, accept", "accept", BODY, 'B', SMFIS_ACCEPT,
		  "QFP1: internal error: out of memory at body: accepting the message (on_error accept)",
		  NULL },
		{ "no context at HELO, tempfail", "tempfail", NO_CONTEXT, 'H', SMFIS_TEMPFAIL,
		  "NOQUEUE: internal error: no connection context at HELO: answering tempfail "
		  "(on_error tempfail)", NULL },
		{ "no context at HELO, accept", "accept", NO_CONTEXT, 'H', SMFIS_ACCEPT,
		  "NOQUEUE: internal error: no connection context at HELO: accepting the message "
		  "(on_error accept)", NULL },
		{ "no context at MAIL, tempfail", "tempfail", NO_CONTEXT, 'M', SMFIS_TEMPFAIL,
		  "NOQUEUE: internal error: no connection context at MAIL FROM: answering tempfail "
		  "(on_error tempfail)", NULL },
		{ "no context at MAIL, accept", "accept", NO_CONTEXT, 'M', SMFIS_ACCEPT,
		  "NOQUEUE: internal error: no connection context at MAIL FROM: accepting the message "
		  "(on_error accept)", NULL },
		{ "no context at RCPT, tempfail", "tempfail", NO_CONTEXT, 'R', SMFIS_TEMPFAIL,
		  "NOQUEUE: internal error: no connection context at RCPT TO: answering tempfail "
		  "(on_error tempfail)", NULL },
		{ "no context at RCPT, accept", "accept", NO_CONTEXT, 'R', SMFIS_ACCEPT,
		  "NOQUEUE: internal error: no connection context at RCPT TO: accepting the message "
		  "(on_error accept)", NULL },
		{ "no context at a header, tempfail", "tempfail", NO_CONTEXT, 'L', SMFIS_TEMPFAIL,
		  "NOQUEUE: internal error: no connection context at header: answering tempfail "
		  "(on_error tempfail)", NULL },
		{ "no context at a header, accept", "accept", NO_CONTEXT, 'L', SMFIS_ACCEPT,
		  "NOQUEUE: internal error: no connection context at header: accepting the message "
		  "(on_error accept)", NULL },
		{ "no context at body, tempfail", "tempfail", NO_CONTEXT, 'B', SMFIS_TEMPFAIL,
		  "NOQUEUE: internal error: no connection context at body: answering tempfail "
		  "(on_error tempfail)", NULL },
		{ "no context at body, accept", "accept", NO_CONTEXT, 'B', SMFIS_ACCEPT,
		  "NOQUEUE: internal error: no connection context at body: accepting the message "
		  "(on_error accept)", NULL },
		{ "no context at end of message, tempfail", "tempfail", NO_CONTEXT, 'E', SMFIS_TEMPFAIL,
		  "NOQUEUE: internal error: no connection context at end of message: answering "
		  "tempfail (on_error tempfail)", NULL },
		{ "no context at end of message, accept", "accept", NO_CONTEXT, 'E', SMFIS_ACCEPT,
		  "NOQUEUE: internal error: no connection context at end of message: accepting the "
		  "message (on_error accept)", NULL },
	};
	struct og_runtime *rt = *state;
	char *from[] = { (char *)"<dave@example.com>", NULL };
	char *rv[] = { (char *)"<x@remote.example>", NULL };

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		const bool tempfail = rows[i].want == SMFIS_TEMPFAIL;
		uint64_t errors = atomic_load(&rt->counters.internal_errors);
		size_t records = evidence_count();
		struct og_test_capture cap;
		struct og_state *saved;
		char want_log[512], *logged;
		sfsistat rc = SMFIS_CONTINUE;
		SMFICTX ctx;

		reload_with(rt, rows[i].on_error, rules_failpolicy);
		memset(&ctx, 0, sizeof(ctx));
		fake_macro(&ctx, "i", "QFP1");
		if (rows[i].inject != NO_CONTEXT)
			run_steps(&ctx, "OCMRLN");
		og_log_set_stderr(1);
		og_test_capture_start(&cap, dir);
		switch (rows[i].stage) {
		case 'H':
			rc = desc.xxfi_helo(&ctx, (char *)"client.example");
			break;
		case 'M':
			rc = desc.xxfi_envfrom(&ctx, from);
			break;
		case 'R':
			rc = desc.xxfi_envrcpt(&ctx, rv);
			break;
		case 'L':
			rc = desc.xxfi_header(&ctx, (char *)"Subject", (char *)"hi");
			break;
		case 'B':
			rc = desc.xxfi_body(&ctx, rows[i].inject == BODY ? NULL : (unsigned char *)"hi", 16);
			break;
		case 'E':
			saved = rt->state;
			if (rows[i].inject == JUDGE)
				rt->state = NULL;
			rc = desc.xxfi_eom(&ctx);
			rt->state = saved;
			break;
		}
		logged = og_test_capture_end(&cap);
		og_log_set_stderr(0);

		if (rc != rows[i].want)
			fail_msg("row \"%s\": returned %d, want %d", rows[i].label, rc, rows[i].want);
		CHECK_STR(rows[i].label, ctx.reply[0], tempfail ? "451" : "");
		CHECK_STR(rows[i].label, ctx.reply[1], tempfail ? "4.3.0" : "");
		CHECK_STR(rows[i].label, ctx.reply[2], tempfail ? TEMP_TEXT : "");
		assert_int_equal(ctx.n_added, 0);
		assert_false(ctx.quarantined);
		snprintf(want_log, sizeof(want_log), "outguard: error: %s\n", rows[i].log);
		CHECK_STR(rows[i].label, logged, want_log);
		free(logged);
		if (atomic_load(&rt->counters.internal_errors) != errors + 1)
			fail_msg("row \"%s\": internal_errors not counted once", rows[i].label);
		if (evidence_count() != records + (rows[i].applied != NULL))
			fail_msg("row \"%s\": %zu records more", rows[i].label, evidence_count() - records);
		if (rows[i].applied != NULL) {
			json_t *r = last_record();
			char *got = text_at(r, "applied");

			CHECK_STR(rows[i].label, got, rows[i].applied);
			free(got);
			got = text_at(r, "internal_error");
			CHECK_STR(rows[i].label, got, "true");
			free(got);
			json_decref(r);
		}
		desc.xxfi_close(&ctx);
	}

	/* the state back, the next message is judged as usual */
	{
		SMFICTX ctx;
		json_t *r;

		memset(&ctx, 0, sizeof(ctx));
		fake_macro(&ctx, "i", "QFP2");
		run_steps(&ctx, "OCMRLNBE");
		assert_string_equal(ctx.reply[0], "");
		desc.xxfi_close(&ctx);
		r = last_record();
		assert_null(json_object_get(r, "internal_error"));
		assert_string_equal(hits_of(r), "trap=1:winner");
		json_decref(r);
	}
	reload_with(rt, "tempfail", rules_quarantine);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authenticated_blast_is_quarantined),
		cmocka_unit_test(test_inbound_passes_untouched),
		cmocka_unit_test(test_late_queue_id_is_read_again),
		cmocka_unit_test(test_abort_forgets_the_message),
		cmocka_unit_test(test_close_without_eom),
		cmocka_unit_test(test_forged_stamps_are_removed),
		cmocka_unit_test(test_exempt_account_passes),
		cmocka_unit_test(test_quarantine_refused_becomes_tempfail),
		cmocka_unit_test(test_tempfail_smtp_quarantine_local),
		cmocka_unit_test(test_locked_account_at_the_seam),
		cmocka_unit_test(test_observing_hit_marked),
		cmocka_unit_test(test_negotiate_body),
		cmocka_unit_test(test_body_is_read_and_skipped),
		cmocka_unit_test(test_noreply_over_unix),
		cmocka_unit_test(test_hostile_input),
		cmocka_unit_test(test_hostile_bytes_escaped),
		cmocka_unit_test(test_dropped_at_every_stage),
		cmocka_unit_test(test_fail_policy_replies),
	};

	og_log_open("outguard", "mail", 0, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
