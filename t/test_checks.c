/*
 * Unit tests for the signals: each check, its figure and what it reports as
 * matched, on messages read by the eml reader and identities worked out by
 * og_identity_of, judged by og_engine_evaluate; then rate counts of distinct
 * senders, From addresses, recipient domains and bounces (per account and
 * per client) over time, and observe mode.  Rules are loaded from JSON
 * text, as an admin writes them; the shipped rules/default.json is held to
 * what README and outguard.rules(5) say of its rotation and bounce numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "diag.h"
#include "eml.h"
#include "engine.h"
#include "identity.h"
#include "ratelimit.h"
#include "rules.h"
#include "testutil.h"

/* A rules file with thresholds tag 5, quarantine 10 and the rules RULES (a JSON array body). */
static struct og_rules *load(const char *rules, const char *extra)
{
	char text[16384];
	struct og_diag d;
	struct og_rules *r;

	snprintf(text, sizeof(text),
	         "{\"outguard_rules\": 1, \"thresholds\": {\"tag\": 5, \"quarantine\": 10, "
	         "\"tempfail\": 25}%s%s, \"rules\": [%s]}", extra ? ", " : "", extra ? extra : "",
	         rules);
	og_diag_init(&d);
	r = og_rules_load_string(text, "test.json", &d);
	if (r == NULL) {
		for (size_t i = 0; i < d.n; i++)
			print_message("%s\n", d.msgs[i]);
		fail_msg("rules do not load: %s", text);
	}
	og_diag_free(&d);
	return r;
}

/* Who submits: a SASL login, or a local uid with a directory, or a local script. */
struct who {
	const char *auth;          /* SASL login, or NULL */
	const char *stamp;         /* X-Outguard-Submitter of a local submission, or NULL */
	bool local;
	const char *client;        /* SMTP client address; NULL: 127.0.0.8 (no client key) */
	const char *sender;        /* envelope sender as the MTA gives it */
	size_t rcpts;              /* envelope recipients (generated) */
	const char *queue_id;
};

struct judged {
	struct og_facts f;
	struct og_identity id;
	struct og_verdict v;
};

static void judge(struct judged *j, const struct og_rules *r, struct og_ratetable *t,
                  const struct who *w, const char *message, int64_t now)
{
	struct og_webmail wm = { (const char *const *)r->webmail, r->n_webmail };
	struct og_state *st;
	struct og_eml e;
	char rcpt[64];

	memset(j, 0, sizeof(*j));
	og_facts_init(&j->f);
	og_facts_want(&j->f, (const char *const *)r->want_headers, r->n_want_headers, r->body_bytes);
	if (w->local) {
		j->f.client_port_known = true;
		assert_int_equal(og_facts_set(&j->f, &j->f.client_addr, "127.0.0.1"), 0);
	} else {
		assert_int_equal(og_facts_set(&j->f, &j->f.client_addr,
		                              w->client != NULL ? w->client : "127.0.0.8"), 0);
	}
	if (w->auth != NULL)
		assert_int_equal(og_facts_set(&j->f, &j->f.auth_authen, w->auth), 0);
	assert_int_equal(og_facts_set(&j->f, &j->f.mta_host, "mx1.isp.example"), 0);
	if (w->stamp != NULL)
		assert_int_equal(og_facts_add_header(&j->f, OG_STAMP_HEADER, w->stamp), 0);
	assert_int_equal(og_facts_set(&j->f, &j->f.queue_id, w->queue_id ? w->queue_id : "4F2A1A7219B"), 0);
	assert_int_equal(og_facts_set_sender(&j->f, w->sender), 0);
	for (size_t i = 0; i < (w->rcpts ? w->rcpts : 1); i++) {
		snprintf(rcpt, sizeof(rcpt), "<r%zu@d%zu.example>", i, i % 3);
		assert_int_equal(og_facts_add_rcpt(&j->f, rcpt), 0);
	}
	assert_int_equal(og_eml_read(message, strlen(message), &j->f, &e), 0);
	og_eml_free(&e);
	assert_int_equal(og_identity_of(&j->f, w->local, &wm, &j->id), 0);
	st = og_state_new(t);
	assert_non_null(st);
	assert_int_equal(og_engine_evaluate(r, &j->f, &j->id, w->local ? OG_SCOPE_LOCAL
	                                                              : OG_SCOPE_AUTHENTICATED,
	                                    st, now, &j->v), 0);
	og_state_free(st);
}

static void judged_free(struct judged *j)
{
	og_identity_free(&j->id);
	og_facts_free(&j->f);
}

static const struct who alice = { .auth = "alice@example.com", .sender = "<alice@example.com>" };
static const struct who erin = { .auth = "erin", .sender = "<erin@pfx.test>" };
static const struct who web = { .local = true, .stamp = "uid=1001; user=web1; cwd=/var/www/site1",
                                .sender = "web1@example.com" };

struct signal_case {
	const char *label;
	const char *rule;          /* one rule, JSON */
	const char *extra;         /* more top-level members, or NULL */
	const struct who *who;
	const char *message;
	bool applies;
	uint64_t figure;
	const char *matched;       /* the hit's detail or its phrases joined by ", "; NULL = no hit */
};

#define KW(phrases, more) \
	"{\"id\": \"kw\", \"check\": \"keywords\", \"score\": 3, \"phrases\": " phrases more "}"
#define MSG(headers, body) headers "\n" body

/* The hit's matched text as the tests compare it. */
static void matched_of(const struct og_hit *h, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (h->n_found == 0) {
		snprintf(buf, len, "%s", h->detail);
		return;
	}
	for (size_t i = 0; i < h->n_found; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
		                        h->rule->list->phrases[h->found[i]]);
}

static void test_signals(void **state)
{
	/* not static: some rows point at compound literals */
	const struct signal_case rows[] = {
		/* keywords */
		{ "one trap word in the subject", KW("[\"winner\", \"lottery\"]", ""), NULL, &alice,
		  MSG("Subject: You are a WINNER\nFrom: alice@example.com\n", "hello\n"), true, 1, "winner" },
		{ "a word inside a longer word is no match", KW("[\"winner\"]", ""), NULL, &alice,
		  MSG("Subject: winners and prewinner\n", "\n"), true, 0, NULL },
		{ "subject and body count distinct phrases once",
		  KW("[\"winner\", \"wire transfer\", \"beneficiary\"]", ""), NULL, &alice,
		  MSG("Subject: winner\n", "Dear beneficiary, the wire\r\n transfer to the winner\n"),
		  true, 3, "winner, beneficiary, wire transfer" },
		{ "quoted-printable body decoded", KW("[\"next of kin\"]", ""), NULL, &alice,
		  MSG("Subject: hi\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
		      "Content-Transfer-Encoding: quoted-printable\n",
		      "you are the next=20of =\nkin\n"), true, 1, "next of kin" },
		{ "base64 html body decoded, entities and tags", KW("[\"viagra\"]", ""), NULL, &alice,
		  MSG("Subject: hi\nMIME-Version: 1.0\nContent-Type: text/html\n"
		      "Content-Transfer-Encoding: base64\n",
		      /* "<p>cheap v&#105;agra</p>" */
		      "PHA+Y2hlYXAgdiYjMTA1O2FncmE8L3A+\n"), true, 1, "viagra" },
		{ "encoded-word subject decoded", KW("[\"lottery\"]", ""), NULL, &alice,
		  MSG("Subject: =?UTF-8?B?WW91IHdvbiB0aGUgbG90dGVyeQ==?=\n", "x\n"), true, 1, "lottery" },
		{ "subject only: the body is not read", KW("[\"winner\"]", ", \"in\": [\"subject\"]"),
		  NULL, &alice, MSG("Subject: hi\n", "winner\n"), true, 0, NULL },
		{ "body only", KW("[\"winner\"]", ", \"in\": [\"body\"]"), NULL, &alice,
		  MSG("Subject: winner\n", "no\n"), true, 0, NULL },
		{ "body_bytes bounds the scan", KW("[\"winner\"]", ", \"body_bytes\": 10"), NULL, &alice,
		  MSG("Subject: x\n", "0123456789 winner\n"), true, 0, NULL },
		{ "limit 1: one phrase is not above it", KW("[\"winner\", \"prize\"]", ", \"limit\": 1"),
		  NULL, &alice, MSG("Subject: winner\n", "x\n"), true, 1, NULL },
		{ "a named phrase list", "{\"id\": \"kw\", \"check\": \"keywords\", \"score\": 3, "
		  "\"phrases\": \"spam\"}", "\"phrase_lists\": {\"spam\": [\"casino\"]}", &alice,
		  MSG("Subject: online casino\n", "x\n"), true, 1, "casino" },
		/* header */
		{ "header pattern matches", "{\"id\": \"mailer\", \"check\": \"header\", \"score\": 5, "
		  "\"header\": \"X-Mailer\", \"pattern\": \"^PHPMailer [0-5]\\\\.\"}", NULL, &alice,
		  MSG("X-Mailer: phpmailer 5.2.1\nSubject: x\n", "x\n"), true, 1, "phpmailer 5.2.1" },
		{ "header pattern, case kept", "{\"id\": \"mailer\", \"check\": \"header\", \"score\": 5, "
		  "\"header\": \"X-Mailer\", \"pattern\": \"^PHPMailer\", \"caseless\": false}", NULL, &alice,
		  MSG("X-Mailer: phpmailer 5.2.1\n", "x\n"), true, 0, NULL },
		{ "header absent: rule does not apply", "{\"id\": \"mailer\", \"check\": \"header\", "
		  "\"score\": 5, \"header\": \"X-Mailer\", \"pattern\": \"x\"}", NULL, &alice,
		  MSG("Subject: x\n", "x\n"), false, 0, NULL },
		/* message-id */
		{ "message-id invalid", "{\"id\": \"mid\", \"check\": \"message-id\", \"score\": 4}", NULL,
		  &alice, MSG("Message-ID: 1234.abc\n", "x\n"), true, 1, "invalid 1234.abc" },
		{ "message-id of the sender's organisation", "{\"id\": \"mid\", \"check\": \"message-id\", "
		  "\"score\": 4}", NULL, &alice, MSG("From: alice@example.com\n"
		  "Message-ID: <1@mail.example.com>\n", "x\n"), true, 0, NULL },
		{ "message-id foreign", "{\"id\": \"mid\", \"check\": \"message-id\", \"score\": 4}", NULL,
		  &alice, MSG("From: alice@example.com\nMessage-ID: <1@bulk.example.net>\n", "x\n"), true,
		  1, "foreign <1@bulk.example.net>" },
		{ "message-id of the MTA's own host", "{\"id\": \"mid\", \"check\": \"message-id\", "
		  "\"score\": 4}", NULL, &alice, MSG("Message-ID: <1@mx1.isp.example>\n", "x\n"), true, 0,
		  NULL },
		{ "message-id foreign, but a listed domain", "{\"id\": \"mid\", \"check\": \"message-id\", "
		  "\"score\": 4, \"domains\": [\"example.net\"]}", NULL, &alice,
		  MSG("Message-ID: <1@bulk.example.net>\n", "x\n"), true, 0, NULL },
		{ "message-id missing", "{\"id\": \"mid\", \"check\": \"message-id\", \"score\": 1, "
		  "\"when\": [\"missing\"]}", NULL, &alice, MSG("Subject: x\n", "x\n"), true, 1, "missing" },
		{ "message-id added by Postfix counts as missing", "{\"id\": \"mid\", \"check\": "
		  "\"message-id\", \"score\": 1, \"when\": [\"missing\"]}", NULL, &alice,
		  MSG("Message-Id: <20261201193000.4F2A1A7219B@mx.example.org>\n", "x\n"), true, 1,
		  "missing" },
		{ "only invalid looked for: foreign passes", "{\"id\": \"mid\", \"check\": \"message-id\", "
		  "\"score\": 4, \"when\": [\"invalid\"]}", NULL, &alice,
		  MSG("Message-ID: <1@bulk.example.net>\n", "x\n"), true, 0, NULL },
		/* sender-mismatch */
		{ "own domain", "{\"id\": \"sm\", \"check\": \"sender-mismatch\", \"score\": 4}", NULL,
		  &alice, MSG("From: Alice <alice@example.com>\n", "x\n"), true, 0, NULL },
		{ "From outside the login's domain", "{\"id\": \"sm\", \"check\": \"sender-mismatch\", "
		  "\"score\": 4}", NULL, &alice, MSG("From: Bank <service@bank.example>\n", "x\n"),
		  true, 1, "service@bank.example" },
		{ "allowed by the account's list", "{\"id\": \"sm\", \"check\": \"sender-mismatch\", "
		  "\"score\": 4, \"accounts\": {\"sasl:alice@example.com\": [\"bank.example\"]}}", NULL,
		  &alice, MSG("From: service@bank.example\n", "x\n"), true, 0, NULL },
		{ "only the envelope compared", "{\"id\": \"sm\", \"check\": \"sender-mismatch\", "
		  "\"score\": 4, \"addresses\": [\"envelope\"]}", NULL, &alice,
		  MSG("From: service@bank.example\n", "x\n"), true, 0, NULL },
		{ "not a SASL account: does not apply", "{\"id\": \"sm\", \"check\": \"sender-mismatch\", "
		  "\"score\": 4}", NULL, &web, MSG("From: x@bank.example\n", "x\n"), false, 0, NULL },
		{ "a login without a domain, nothing listed: nothing to compare with",
		  "{\"id\": \"sm\", \"check\": \"sender-mismatch\", \"score\": 4}", NULL, &erin,
		  MSG("From: service@bank.example\n", "x\n"), false, 0, NULL },
		{ "a login without a domain, its listed domain",
		  "{\"id\": \"sm\", \"check\": \"sender-mismatch\", \"score\": 4, "
		  "\"accounts\": {\"sasl:erin\": [\"pfx.test\"]}}", NULL, &erin,
		  MSG("From: Erin <erin@mail.pfx.test>\n", "x\n"), true, 0, NULL },
		{ "a login without a domain, outside its listed domain",
		  "{\"id\": \"sm\", \"check\": \"sender-mismatch\", \"score\": 4, "
		  "\"accounts\": {\"sasl:erin\": [\"pfx.test\"]}}", NULL, &erin,
		  MSG("From: service@bank.example\n", "x\n"), true, 1, "service@bank.example" },
		{ "a login without a domain, envelope and From outside the rule's domains",
		  "{\"id\": \"sm\", \"check\": \"sender-mismatch\", \"score\": 4, "
		  "\"domains\": [\"pfx.test\"]}", NULL,
		  &(const struct who){ .auth = "erin", .sender = "<erin@bank.example>" },
		  MSG("From: service@bank.example\n", "x\n"), true, 2, "erin@bank.example" },
		{ "a login without a domain, a bare envelope sender",
		  "{\"id\": \"sm\", \"check\": \"sender-mismatch\", \"score\": 4, "
		  "\"accounts\": {\"sasl:erin\": [\"pfx.test\"]}}", NULL,
		  &(const struct who){ .auth = "erin", .sender = "<erin>" },
		  MSG("From: erin@pfx.test\n", "x\n"), true, 0, NULL },
		/* display-name */
		{ "brand name on a foreign address", "{\"id\": \"brand\", \"check\": \"display-name\", "
		  "\"score\": 5, \"brands\": {\"PayPal\": [\"paypal.com\"]}}", NULL, &alice,
		  MSG("From: \"PayPal Service\" <service@paypa1.example>\n", "x\n"), true, 1, "PayPal" },
		{ "brand name on the brand's address", "{\"id\": \"brand\", \"check\": \"display-name\", "
		  "\"score\": 5, \"brands\": {\"PayPal\": [\"paypal.com\"]}}", NULL, &alice,
		  MSG("From: PayPal <service@mail.paypal.com>\n", "x\n"), true, 0, NULL },
		{ "brand name in a B-encoded word", "{\"id\": \"brand\", \"check\": \"display-name\", "
		  "\"score\": 5, \"brands\": {\"PayPal\": [\"paypal.com\"]}}", NULL, &alice,
		  MSG("From: =?UTF-8?B?UGF5UGFs?= <service@paypa1.example>\n", "x\n"), true, 1, "PayPal" },
		{ "brand name in a Q-encoded word, quoted", "{\"id\": \"brand\", \"check\": "
		  "\"display-name\", \"score\": 5, \"brands\": {\"PayPal\": [\"paypal.com\"]}}", NULL,
		  &alice, MSG("From: \"=?ISO-8859-1?Q?PayPal_Kundenservice?=\" <service@paypa1.example>\n",
		              "x\n"), true, 1, "PayPal" },
		{ "brand name split over two encoded words", "{\"id\": \"brand\", \"check\": "
		  "\"display-name\", \"score\": 5, \"brands\": {\"PayPal\": [\"paypal.com\"]}}", NULL,
		  &alice, MSG("From: =?UTF-8?B?UGF5?= =?UTF-8?B?UGFs?= <service@paypa1.example>\n", "x\n"),
		  true, 1, "PayPal" },
		{ "brand name encoded, on the brand's address", "{\"id\": \"brand\", \"check\": "
		  "\"display-name\", \"score\": 5, \"brands\": {\"PayPal\": [\"paypal.com\"]}}", NULL,
		  &alice, MSG("From: =?UTF-8?B?UGF5UGFs?= <service@paypal.com>\n", "x\n"), true, 0, NULL },
		/* script */
		{ "php script present", "{\"id\": \"php\", \"check\": \"script\", \"score\": 1}", NULL,
		  &web, MSG("X-PHP-Originating-Script: 1001:contact.php\n", "x\n"), true, 1,
		  "contact.php" },
		{ "script path in uploads", "{\"id\": \"path\", \"check\": \"script\", \"score\": 10, "
		  "\"paths\": [\"/uploads/\"]}", NULL,
		  &(const struct who){ .local = true, .sender = "web3",
		                       .stamp = "uid=1003; cwd=/var/www/s3/wp-content/uploads/2026" },
		  MSG("X-PHP-Originating-Script: 1003:wp-tmp.php\n", "x\n"), true, 1,
		  "/var/www/s3/wp-content/uploads/2026" },
		{ "script name pattern", "{\"id\": \"path\", \"check\": \"script\", \"score\": 10, "
		  "\"paths\": [\"^timthumb\"]}", NULL, &web,
		  MSG("X-PHP-Originating-Script: 1001:timthumb.php\n", "x\n"), true, 1, "timthumb.php" },
		{ "a php header over SMTP is not trusted", "{\"id\": \"php\", \"check\": \"script\", "
		  "\"score\": 1}", NULL, &alice, MSG("X-PHP-Originating-Script: 1001:contact.php\n", "x\n"),
		  false, 0, NULL },
		{ "webmail is not a script", "{\"id\": \"php\", \"check\": \"script\", \"score\": 1}",
		  "\"webmail\": [\"rcube.php\"]",
		  &(const struct who){ .local = true, .sender = "bob@example.com",
		                       .stamp = "uid=33; cwd=/var/lib/roundcube" },
		  MSG("X-PHP-Originating-Script: 33:rcube.php\n", "x\n"), false, 0, NULL },
		/* hidden-recipients */
		{ "Bcc blast", "{\"id\": \"bcc\", \"check\": \"hidden-recipients\", \"score\": 5, "
		  "\"limit\": 20}", NULL,
		  &(const struct who){ .auth = "carol@example.com", .sender = "<carol@example.com>",
		                       .rcpts = 100 },
		  MSG("To: undisclosed-recipients:;\n", "x\n"), true, 100, "" },
		{ "all recipients named", "{\"id\": \"bcc\", \"check\": \"hidden-recipients\", "
		  "\"score\": 5, \"limit\": 0}", NULL,
		  &(const struct who){ .auth = "carol@example.com", .sender = "<carol@example.com>",
		                       .rcpts = 2 },
		  MSG("To: a@example.com, \"B, b\" <b@example.com>\n", "x\n"), true, 0, NULL },
		/* recipients override */
		{ "per-key recipients limit", "{\"id\": \"many\", \"check\": \"recipients\", \"score\": 10, "
		  "\"limit\": 5, \"overrides\": {\"sasl:carol@example.com\": 500}}", NULL,
		  &(const struct who){ .auth = "Carol@example.com", .sender = "<carol@example.com>",
		                       .rcpts = 100 },
		  MSG("To: x@example.com\n", "x\n"), true, 100, NULL },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		const struct signal_case *c = &rows[i];
		struct og_rules *r = load(c->rule, c->extra);
		struct og_ratetable *t = og_rate_new(100);
		struct judged *j = malloc(sizeof(*j));
		char got[512];

		assert_non_null(j);
		judge(j, r, t, c->who, c->message, 1000);
		if (j->v.result[0].applies != c->applies)
			fail_msg("row \"%s\": applies %d, want %d", c->label, j->v.result[0].applies,
			         c->applies);
		if (c->applies && j->v.result[0].figure != c->figure)
			fail_msg("row \"%s\": figure %llu, want %llu", c->label,
			         (unsigned long long)j->v.result[0].figure, (unsigned long long)c->figure);
		if ((j->v.n_hits == 1) != (c->matched != NULL))
			fail_msg("row \"%s\": %zu hits", c->label, j->v.n_hits);
		if (c->matched != NULL) {
			matched_of(&j->v.hit[0], got, sizeof(got));
			if (strcmp(got, c->matched) != 0)
				fail_msg("row \"%s\": matched \"%s\", want \"%s\"", c->label, got, c->matched);
			assert_int_equal(j->v.score, r->rule[0].score);
		}
		judged_free(j);
		free(j);
		og_rate_free(t);
		og_rules_release(r);
	}
}

/* Distinct senders, From addresses and recipient domains per account, over time. */
static void test_distinct_rates(void **state)
{
	static const char rules[] =
		"{\"id\": \"senders\", \"check\": \"rate\", \"key\": \"account\", \"count\": \"senders\", "
		"\"window\": 3600, \"limit\": 2, \"score\": 6},"
		"{\"id\": \"froms\", \"check\": \"rate\", \"key\": \"account\", \"count\": "
		"\"from-addresses\", \"window\": 3600, \"limit\": 2, \"score\": 6},"
		"{\"id\": \"domains\", \"check\": \"rate\", \"key\": \"account\", \"count\": "
		"\"recipient-domains\", \"window\": 3600, \"limit\": 4, \"score\": 1}";
	static const struct {
		const char *sender, *from;
		int64_t at;
		uint64_t senders, froms, domains;
		int score;
	} steps[] = {
		{ "<a@shop-a.example>", "From: a@shop-a.example\n", 0, 1, 1, 3, 0 },
		{ "<a@shop-a.example>", "From: A <A@Shop-A.example>\n", 10, 1, 1, 3, 0 },
		{ "<b@deals-b.example>", "From: b@deals-b.example\n", 20, 2, 2, 3, 0 },
		{ "<c@c.example>", "From: c@c.example\n", 30, 3, 3, 3, 12 },
		/* a slot width (120 s) past the hour, the early ones still count ... */
		{ "<d@d.example>", "From: d@d.example\n", 3640, 4, 4, 3, 12 },
		/* ... and then they have left the window */
		{ "<d@d.example>", "From: d@d.example\n", 3730, 1, 1, 3, 0 },
	};
	struct og_rules *r = load(rules, NULL);
	struct og_ratetable *t = og_rate_new(100);
	(void)state;

	for (size_t i = 0; i < N_ROWS(steps); i++) {
		struct who w = { .auth = "grace@example.com", .sender = steps[i].sender, .rcpts = 3 };
		char msg[256];
		struct judged *j = malloc(sizeof(*j));

		assert_non_null(j);
		snprintf(msg, sizeof(msg), "%sSubject: offer\n\nbuy\n", steps[i].from);
		judge(j, r, t, &w, msg, steps[i].at);
		if (j->v.result[0].figure != steps[i].senders || j->v.result[1].figure != steps[i].froms ||
		    j->v.result[2].figure != steps[i].domains || j->v.score != steps[i].score)
			fail_msg("step %zu: senders %llu froms %llu domains %llu score %d", i,
			         (unsigned long long)j->v.result[0].figure,
			         (unsigned long long)j->v.result[1].figure,
			         (unsigned long long)j->v.result[2].figure, j->v.score);
		judged_free(j);
		free(j);
	}
	og_rate_free(t);
	og_rules_release(r);
}

/* Bounces are counted and judged only for the null sender. */
static void test_bounce_rate(void **state)
{
	struct og_rules *r = load("{\"id\": \"bounces\", \"check\": \"rate\", \"key\": \"account\", "
	                          "\"count\": \"bounces\", \"window\": 600, \"limit\": 2, "
	                          "\"score\": 10}", NULL);
	struct og_ratetable *t = og_rate_new(100);
	static const struct { const char *sender; bool applies; uint64_t figure; int score; } steps[] = {
		{ "<>", true, 1, 0 }, { "<frank@example.com>", false, 0, 0 }, { "<>", true, 2, 0 },
		{ "<>", true, 3, 10 }, { "<frank@example.com>", false, 0, 0 },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(steps); i++) {
		struct who w = { .auth = "frank@example.com", .sender = steps[i].sender };
		struct judged *j = malloc(sizeof(*j));

		assert_non_null(j);
		judge(j, r, t, &w, "Subject: Undelivered Mail\n\nx\n", (int64_t)i);
		if (j->v.result[0].applies != steps[i].applies ||
		    (steps[i].applies && j->v.result[0].figure != steps[i].figure) ||
		    j->v.score != steps[i].score)
			fail_msg("step %zu: applies %d figure %llu score %d", i, j->v.result[0].applies,
			         (unsigned long long)j->v.result[0].figure, j->v.score);
		judged_free(j);
		free(j);
	}
	og_rate_free(t);
	og_rules_release(r);
}

/* Bounces counted on the client key: every account of one client adds up. */
static void test_client_bounce_rate(void **state)
{
	struct og_rules *r = load("{\"id\": \"client-bounces\", \"check\": \"rate\", \"key\": "
	                          "\"client\", \"count\": \"bounces\", \"window\": 600, \"limit\": 2, "
	                          "\"score\": 10}", NULL);
	struct og_ratetable *t = og_rate_new(100);
	static const struct {
		const char *auth, *client, *sender;
		bool applies;
		uint64_t figure;
		int score;
	} steps[] = {
		{ "frank@example.com", "203.0.113.7", "<>", true, 1, 0 },
		{ "gina@example.net", "203.0.113.7", "<>", true, 2, 0 },
		/* not a bounce: the client's count is not asked for */
		{ "gina@example.net", "203.0.113.7", "<gina@example.net>", false, 0, 0 },
		{ "hank@example.org", "203.0.113.7", "<>", true, 3, 10 },
		/* another client has its own count */
		{ "frank@example.com", "203.0.113.8", "<>", true, 1, 0 },
		/* a loopback client has no client key */
		{ "frank@example.com", "127.0.0.9", "<>", false, 0, 0 },
		{ "ivan@example.com", "203.0.113.7", "<>", true, 4, 10 },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(steps); i++) {
		struct who w = { .auth = steps[i].auth, .client = steps[i].client,
		                 .sender = steps[i].sender };
		struct judged *j = malloc(sizeof(*j));

		assert_non_null(j);
		judge(j, r, t, &w, "Subject: Undelivered Mail\n\nx\n", 100 + (int64_t)i);
		if (j->v.result[0].applies != steps[i].applies ||
		    (steps[i].applies && j->v.result[0].figure != steps[i].figure) ||
		    j->v.score != steps[i].score)
			fail_msg("step %zu: applies %d figure %llu score %d", i, j->v.result[0].applies,
			         (unsigned long long)j->v.result[0].figure, j->v.score);
		if (j->v.score > 0) {
			char want[64];

			snprintf(want, sizeof(want), "ip:%s", steps[i].client);
			CHECK_STR("the key counted", j->v.hit[0].key, want);
		}
		judged_free(j);
		free(j);
	}
	og_rate_free(t);
	og_rules_release(r);
}

/* The result of the rule ID of R in J's verdict; fails the test if R has no such rule. */
static const struct og_result *result_of(const struct og_rules *r, const struct judged *j,
                                         const char *id)
{
	for (size_t i = 0; i < r->n_rules; i++)
		if (strcmp(r->rule[i].id, id) == 0)
			return &j->v.result[i];
	fail_msg("no rule \"%s\"", id);
	return NULL;
}

static struct og_rules *load_default(void)
{
	struct og_diag d;
	struct og_rules *r;

	og_diag_init(&d);
	r = og_rules_load(SRCDIR "/rules/default.json", &d);
	if (r == NULL)
		fail_msg("rules/default.json does not load: %s", d.n > 0 ? d.msgs[0] : "?");
	og_diag_free(&d);
	return r;
}

/*
 * The shipped client-bounces-10m: more than 10 bounces in ten minutes from
 * one client address quarantine, though no account sent more than three
 * (account-bounces-10m stays quiet).
 */
static void test_default_client_bounces(void **state)
{
	static const char *const logins[] = { "ann@example.com", "ben@example.com",
	                                      "cyd@example.com", "dan@example.com" };
	struct og_rules *r = load_default();
	struct og_ratetable *t = og_rate_new(1000);
	(void)state;

	for (size_t i = 0; i < 11; i++) {
		const char *login = logins[i % N_ROWS(logins)];
		struct who w = { .auth = login, .client = "198.51.100.25", .sender = "<>" };
		struct judged *j = malloc(sizeof(*j));
		const struct og_result *cb, *ab;
		char msg[256];

		assert_non_null(j);
		snprintf(msg, sizeof(msg), "From: Mail Delivery System <MAILER-DAEMON@example.com>\n"
		         "Subject: Undelivered Mail Returned to Sender\nMessage-ID: <b%zu@example.com>\n"
		         "\nThe mail system could not deliver your message.\n", i);
		judge(j, r, t, &w, msg, 5000 + 30 * (int64_t)i);
		cb = result_of(r, j, "client-bounces-10m");
		ab = result_of(r, j, "account-bounces-10m");
		if (!cb->applies || cb->figure != i + 1 || cb->limit != 10 || !ab->applies ||
		    ab->figure != i / N_ROWS(logins) + 1)
			fail_msg("bounce %zu: client figure %llu/%llu, account figure %llu", i + 1,
			         (unsigned long long)cb->figure, (unsigned long long)cb->limit,
			         (unsigned long long)ab->figure);
		if (j->v.applied != (i < 10 ? OG_ACT_ACCEPT : OG_ACT_QUARANTINE) ||
		    j->v.score != (i < 10 ? 0 : 10))
			fail_msg("bounce %zu: applied %s score %d", i + 1, og_action_name(j->v.applied),
			         j->v.score);
		if (i == 10) {
			assert_int_equal(j->v.n_hits, 1);
			assert_string_equal(j->v.hit[0].rule->id, "client-bounces-10m");
			assert_string_equal(j->v.hit[0].key, "ip:198.51.100.25");
		}
		judged_free(j);
		free(j);
	}
	og_rate_free(t);
	og_rules_release(r);
}

/*
 * What README says of rotation under the shipped rules: more than 4
 * envelope senders and From addresses in an hour quarantine; the envelope
 * sender rotating alone only tags, unless the senders lie outside the
 * login's domain, where sender-mismatch adds its 4.
 */
static void test_default_rotation(void **state)
{
	static const struct {
		const char *label;
		bool sender_rotates, from_rotates;
		const char *domain;             /* of the rotating addresses */
		int score, score5;              /* the first four messages' score, the fifth's */
		enum og_action applied5;
	} rows[] = {
		{ "envelope and From rotate", true, true, "example.com", 0, 12, OG_ACT_QUARANTINE },
		{ "the envelope sender alone rotates", true, false, "example.com", 0, 6, OG_ACT_TAG },
		{ "the From address alone rotates", false, true, "example.com", 0, 6, OG_ACT_TAG },
		{ "the envelope sender alone rotates, outside the login's domain", true, false,
		  "shop.example", 4, 10, OG_ACT_QUARANTINE },
	};
	struct og_rules *r = load_default();
	(void)state;

	for (size_t k = 0; k < N_ROWS(rows); k++) {
		struct og_ratetable *t = og_rate_new(1000);

		for (int i = 1; i <= 5; i++) {
			char sender[64] = "<grace@example.com>", from[64] = "grace@example.com", msg[256];
			struct who w = { .auth = "grace@example.com", .client = "198.51.100.30",
			                 .sender = sender };
			struct judged *j = malloc(sizeof(*j));

			assert_non_null(j);
			if (rows[k].sender_rotates)
				snprintf(sender, sizeof(sender), "<sales%d@%s>", i, rows[k].domain);
			if (rows[k].from_rotates)
				snprintf(from, sizeof(from), "sales%d@%s", i, rows[k].domain);
			snprintf(msg, sizeof(msg), "From: %s\nTo: friend%d@remote.example\n"
			         "Subject: our meeting\nMessage-ID: <m%d@example.com>\n\nsee you\n", from, i, i);
			judge(j, r, t, &w, msg, 20000 + 60 * (int64_t)i);
			if (j->v.score != (i < 5 ? rows[k].score : rows[k].score5) ||
			    j->v.applied != (i < 5 ? OG_ACT_ACCEPT : rows[k].applied5))
				fail_msg("row \"%s\", message %d: score %d, applied %s", rows[k].label, i,
				         j->v.score, og_action_name(j->v.applied));
			judged_free(j);
			free(j);
		}
		og_rate_free(t);
	}
	og_rules_release(r);
}

/* Observing rules and an observing rule set: scored and counted, not acted on. */
static void test_observe(void **state)
{
	static const char rules[] =
		"{\"id\": \"many\", \"check\": \"recipients\", \"limit\": 1, \"score\": 10},"
		"{\"id\": \"kw\", \"check\": \"keywords\", \"score\": 20, \"observe\": true, "
		"\"phrases\": [\"winner\"]}";
	static const struct {
		const char *label, *extra;
		size_t rcpts;
		int score, would;
		enum og_action action, applied, would_action;
		const char *summary;       /* of the X-Outguard header and the syslog line */
	} rows[] = {
		{ "one rule observes", NULL, 2, 10, 30, OG_ACT_QUARANTINE, OG_ACT_QUARANTINE,
		  OG_ACT_TEMPFAIL, "score=10 many=2/1 kw=1/0:observe" },
		{ "the set observes: tag at most", "\"observe\": true", 2, 10, 30, OG_ACT_QUARANTINE,
		  OG_ACT_TAG, OG_ACT_TEMPFAIL, "score=10 many=2/1 kw=1/0:observe" },
		{ "the set observes, below tag", "\"observe\": true", 1, 0, 20, OG_ACT_ACCEPT,
		  OG_ACT_ACCEPT, OG_ACT_QUARANTINE, "score=0 kw=1/0:observe" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_rules *r = load(rules, rows[i].extra);
		struct og_ratetable *t = og_rate_new(100);
		struct who w = { .auth = "alice@example.com", .sender = "<alice@example.com>",
		                 .rcpts = rows[i].rcpts };
		struct judged *j = malloc(sizeof(*j));
		char summary[256];

		assert_non_null(j);
		judge(j, r, t, &w, "Subject: you are a winner\n\nx\n", 0);
		if (j->v.score != rows[i].score || j->v.would_score != rows[i].would ||
		    j->v.action != rows[i].action || j->v.applied != rows[i].applied ||
		    j->v.would_action != rows[i].would_action)
			fail_msg("row \"%s\": score %d would %d action %d applied %d would_action %d",
			         rows[i].label, j->v.score, j->v.would_score, j->v.action, j->v.applied,
			         j->v.would_action);
		/* the observing rule's hit is recorded as such, and marked in the summary */
		assert_true(j->v.hit[j->v.n_hits - 1].observe);
		CHECK_STR(rows[i].label, og_verdict_summary(&j->v, summary, sizeof(summary)),
		          rows[i].summary);
		judged_free(j);
		free(j);
		og_rate_free(t);
		og_rules_release(r);
	}
}

/* A rule set that reads no body and no header asks for neither. */
static void test_what_rules_read(void **state)
{
	struct og_rules *r = load("{\"id\": \"many\", \"check\": \"recipients\", \"limit\": 1, "
	                          "\"score\": 10}", NULL);
	(void)state;
	assert_int_equal(r->body_bytes, 0);
	assert_int_equal(r->n_want_headers, 0);
	og_rules_release(r);
	r = load("{\"id\": \"k1\", \"check\": \"keywords\", \"score\": 1, \"phrases\": [\"x\"], "
	         "\"body_bytes\": 1000}, {\"id\": \"k2\", \"check\": \"keywords\", \"score\": 1, "
	         "\"phrases\": [\"y\"], \"body_bytes\": 3000, \"in\": [\"subject\"]},"
	         "{\"id\": \"h1\", \"check\": \"header\", \"score\": 1, \"header\": \"X-Mailer\", "
	         "\"pattern\": \"a\"}, {\"id\": \"h2\", \"check\": \"header\", \"score\": 1, "
	         "\"header\": \"x-mailer\", \"pattern\": \"b\"}", NULL);
	assert_int_equal(r->body_bytes, 1000);
	assert_int_equal(r->n_want_headers, 1);
	assert_string_equal(r->want_headers[0], "X-Mailer");
	og_rules_release(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_distinct_rates),
		cmocka_unit_test(test_bounce_rate),
		cmocka_unit_test(test_client_bounce_rate),
		cmocka_unit_test(test_default_client_bounces),
		cmocka_unit_test(test_default_rotation),
		cmocka_unit_test(test_observe),
		cmocka_unit_test(test_what_rules_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
