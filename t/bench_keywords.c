/*
 * bench_keywords - what trap phrases cost per message, against the path the
 * daemon takes without them.
 *
 * Builds 1,000 trap phrases (common spam phrases, then generated ones of
 * one to three words) and one 100 KB message body (102,400 bytes): a
 * multipart/alternative of English-like text as a quoted-printable
 * text/plain part and as a base64 text/html part, a few of the phrases in
 * it.  Each variant takes the message as the daemon does (facts from the
 * headers, the body in libmilter's 64 KB chunks while a rule wants it,
 * og_identity_of, og_engine_evaluate):
 *   no trap rules  a rule set without keyword rules: the daemon asks the
 *                  MTA for no body (SMFIP_NOBODY), so none is passed or read;
 *   decoding only  the body kept and decoded by og_bodytext_extract as a
 *                  keyword rule would have it, then no scan;
 *   1 phrase       a keyword rule of one phrase reading 100 KB of text;
 *   1000 phrases   a keyword rule of the 1,000 phrases reading 100 KB.
 * Each round times every variant once, in an order that rotates from
 * round to round, so that machine noise falls on all of them alike.
 * Prints the median and best throughput over the 102,400 body bytes and
 * the ratios of the medians.  Not a test: it asserts nothing about time
 * (it fails only when a variant stops finding what it found at first).
 * Usage: bench_keywords [ROUNDS]; `make bench-keywords` builds and runs it.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bodytext.h"
#include "diag.h"
#include "engine.h"
#include "facts.h"
#include "identity.h"
#include "rules.h"
#include "strutil.h"

#define N_PHRASES 1000
#define BODY_BYTES (100 * 1024)
#define PLAIN_TEXT 48000        /* bytes of text in the text/plain part */
#define HTML_TEXT 35500         /* and behind the text/html part (HTML adds tags) */
#define CHUNK 65535             /* libmilter's MILTER_CHUNK_SIZE */
#define DEFAULT_ROUNDS 200
#define N_VARIANTS 4
#define BOUNDARY "=_bench_7f3a"

static const char *const spam[] = {
	"viagra", "cialis", "free money", "wire transfer", "western union", "lottery winner",
	"act now", "limited time offer", "click here", "100% free", "no credit check",
	"bitcoin investment", "dear beneficiary", "inheritance", "claim your prize",
	"urgent reply", "bank account details", "crypto wallet", "double your income",
	"work from home", "make money fast", "risk free", "cash bonus", "unsecured loan",
	"weight loss", "miracle cure", "casino bonus", "you have won", "verify your account",
	"password expired", "account suspended", "gift card", "apple id locked",
	"paypal security", "invoice attached", "fund transfer", "million dollars",
	"diplomatic courier", "next of kin", "compensation fund", "atm card",
	"money gram", "moneygram", "bulk email", "cheap meds", "online pharmacy",
	"rolex replica", "replica watches", "hot singles", "adult content", "enlargement",
	"earn extra cash", "financial freedom", "guaranteed income", "lowest price",
	"best rates", "special promotion", "exclusive deal", "order now", "buy direct",
	"no prescription", "investment opportunity", "forex signals", "binary options",
	"trading bot", "airdrop", "seed phrase", "recover your funds", "tax refund",
	"irs notice", "final notice", "delivery failed", "package on hold", "customs fee",
	"dear friend", "dear sir/madam", "god bless you", "business proposal",
	"confidential transaction", "barrister", "attorney at law", "unclaimed funds",
	"lucky draw", "sweepstakes", "prize money", "jackpot", "bonus code", "promo code",
	"click below", "unsubscribe here", "this is not spam", "remove me", "opt out",
	"héritage", "transfert d'argent", "gewinnspiel", "geld verdienen", "préstamo",
};

static const char *const vocab[] = {
	"cheap", "free", "instant", "secret", "fast", "easy", "bonus", "cash", "crypto",
	"loan", "credit", "offer", "deal", "prize", "winner", "pills", "meds", "casino",
	"profit", "income", "invest", "wallet", "token", "refund", "claim", "urgent",
	"exclusive", "discount", "luxury", "replica", "dating", "singles", "miracle",
	"diet", "guaranteed", "approved", "selected", "reward", "voucher", "coupon",
};

static const char *const english[] = {
	"the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on",
	"are", "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one",
	"had", "by", "word", "but", "not", "what", "all", "were", "we", "when", "your", "can",
	"said", "there", "use", "an", "each", "which", "she", "do", "how", "their", "if",
	"will", "up", "other", "about", "out", "many", "then", "them", "these", "so", "some",
	"her", "would", "make", "like", "him", "into", "time", "has", "look", "two", "more",
	"write", "go", "see", "number", "no", "way", "could", "people", "my", "than", "first",
	"water", "been", "call", "who", "oil", "its", "now", "find", "long", "down", "day",
	"did", "get", "come", "made", "may", "part", "meeting", "report", "project", "team",
	"schedule", "thanks", "regards", "attached", "please", "review", "update", "monday",
	"quarter", "budget", "customer", "service", "office", "weekend", "family", "garden",
	"weather", "dinner", "question", "answer", "document", "picture", "holiday", "train",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A fixed-seed generator, so that every run measures the same text. */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The trap list: the spam phrases, then vocabulary combinations; caller frees. */
static char **make_phrases(size_t n)
{
	char **list = calloc(n, sizeof(*list));

	if (list == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char buf[128];

		if (i < COUNT(spam)) {
			snprintf(buf, sizeof(buf), "%s", spam[i]);
		} else {
			size_t words = 1 + i % 3;
			const char *a = vocab[next_rand() % COUNT(vocab)];
			const char *b = vocab[next_rand() % COUNT(vocab)];

			if (words == 1)
				snprintf(buf, sizeof(buf), "%s%zu", a, i);
			else if (words == 2)
				snprintf(buf, sizeof(buf), "%s %s%zu", a, b, i);
			else
				snprintf(buf, sizeof(buf), "%s %s %s", a, b,
				         english[next_rand() % COUNT(english)]);
		}
		if ((list[i] = strdup(buf)) == NULL)
			return NULL;
	}
	return list;
}

/*
 * LEN bytes of English-like text: sentences, commas, CRLF line breaks near
 * 72 columns, and a trap phrase about every 20 KB; caller frees.
 */
static char *make_text(size_t len, char *const *phrases)
{
	char *t = malloc(len + 1);
	size_t o = 0, col = 0, words = 0;

	if (t == NULL)
		return NULL;
	while (o < len) {
		const char *w = english[next_rand() % COUNT(english)];
		char word[160];
		size_t k;

		if (o / 20000 != (o + 8) / 20000)
			w = phrases[next_rand() % COUNT(spam)];
		k = (size_t)snprintf(word, sizeof(word), "%s%s", w,
		                     ++words % 11 == 0 ? "." : words % 5 == 0 ? "," : "");
		if (words % 11 == 1 && word[0] >= 'a' && word[0] <= 'z')
			word[0] = (char)(word[0] - 'a' + 'A');
		if (col + k + 1 > 72) {
			if (o + 2 > len)
				break;
			memcpy(t + o, "\r\n", 2);
			o += 2;
			col = 0;
		} else if (col > 0) {
			t[o++] = ' ';
			col++;
		}
		if (o + k > len)
			break;
		memcpy(t + o, word, k);
		o += k;
		col += k;
	}
	while (o < len)
		t[o++] = ' ';
	t[len] = '\0';
	return t;
}

/* Append LEN bytes of TEXT to B quoted-printable (RFC 2045): CRLF kept, lines of at most 76. */
static int put_qp(struct og_buf *b, const char *text, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		bool last = i + 1 == len || text[i + 1] == '\r';
		char enc[4];
		size_t n = 1;

		if (c == '\r' && i + 1 < len && text[i + 1] == '\n') {
			if (og_buf_append(b, "\r\n", 2) < 0)
				return -1;
			i++;
			col = 0;
			continue;
		}
		enc[0] = (char)c;
		if (c == '=' || c < 0x20 || c > 0x7e || ((c == ' ' || c == '\t') && last)) {
			enc[0] = '=';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			n = 3;
		}
		if (col + n > 75) {
			if (og_buf_append(b, "=\r\n", 3) < 0)
				return -1;
			col = 0;
		}
		if (og_buf_append(b, enc, n) < 0)
			return -1;
		col += n;
	}
	return og_buf_append(b, "\r\n", 2);
}

/* Append LEN bytes of DATA to B in base64, 76 characters a line. */
static int put_base64(struct og_buf *b, const unsigned char *data, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 57) {
		size_t n = len - i < 57 ? len - i : 57;

		for (size_t j = 0; j < n; j += 3) {
			uint32_t v = (uint32_t)data[i + j] << 16;
			char out[4];

			if (j + 1 < n)
				v |= (uint32_t)data[i + j + 1] << 8;
			if (j + 2 < n)
				v |= data[i + j + 2];
			out[0] = abc[v >> 18];
			out[1] = abc[(v >> 12) & 63];
			out[2] = j + 1 < n ? abc[(v >> 6) & 63] : '=';
			out[3] = j + 2 < n ? abc[v & 63] : '=';
			if (og_buf_append(b, out, 4) < 0)
				return -1;
		}
		if (og_buf_append(b, "\r\n", 2) < 0)
			return -1;
	}
	return 0;
}

/* TEXT as HTML, one paragraph a line, into a new buffer B. */
static int make_html(struct og_buf *b, const char *text)
{
	const char *p = text, *nl;

	if (og_buf_puts(b, "<html><head><style>p { margin: 0 }</style></head><body>\r\n") < 0)
		return -1;
	while (*p != '\0') {
		size_t n = (nl = strstr(p, "\r\n")) != NULL ? (size_t)(nl - p) : strlen(p);

		if (og_buf_puts(b, "<p>") < 0 || og_buf_append(b, p, n) < 0 ||
		    og_buf_puts(b, "</p>\r\n") < 0)
			return -1;
		p += n + (nl != NULL ? 2 : 0);
	}
	return og_buf_puts(b, "</body></html>\r\n");
}

/*
 * The message body, BODY_BYTES long: the text/plain part quoted-printable,
 * the text/html part base64, padded after the closing boundary (an
 * epilogue, which no reader decodes).  *QP and *B64 get the sizes of the
 * two parts.  NULL if out of memory or the parts do not fit.
 */
static char *make_body(char *const *phrases, size_t *qp, size_t *b64)
{
	struct og_buf b, html;
	char *plain = make_text(PLAIN_TEXT, phrases), *text2 = make_text(HTML_TEXT, phrases);
	size_t mark;

	og_buf_init(&b);
	og_buf_init(&html);
	if (plain == NULL || text2 == NULL || make_html(&html, text2) < 0)
		goto fail;
	if (og_buf_puts(&b, "This is a multi-part message in MIME format.\r\n\r\n--" BOUNDARY "\r\n"
	                "Content-Type: text/plain; charset=utf-8\r\n"
	                "Content-Transfer-Encoding: quoted-printable\r\n\r\n") < 0)
		goto fail;
	mark = b.len;
	if (put_qp(&b, plain, strlen(plain)) < 0)
		goto fail;
	*qp = b.len - mark;
	if (og_buf_puts(&b, "--" BOUNDARY "\r\nContent-Type: text/html; charset=utf-8\r\n"
	                "Content-Transfer-Encoding: base64\r\n\r\n") < 0)
		goto fail;
	mark = b.len;
	if (put_base64(&b, (const unsigned char *)html.data, html.len) < 0)
		goto fail;
	*b64 = b.len - mark;
	if (og_buf_puts(&b, "--" BOUNDARY "--\r\n") < 0 || b.len > BODY_BYTES)
		goto fail;
	while (b.len < BODY_BYTES)
		if (og_buf_append(&b, b.len + 2 <= BODY_BYTES ? "\r\n" : " ",
		                  b.len + 2 <= BODY_BYTES ? 2 : 1) < 0)
			goto fail;
	free(plain);
	free(text2);
	og_buf_free(&html);
	return b.data;
fail:
	free(plain);
	free(text2);
	og_buf_free(&html);
	og_buf_free(&b);
	return NULL;
}

/* A rules file of a recipients rule, and a keyword rule of the first N_LIST phrases (0: none). */
static struct og_rules *make_rules(char *const *phrases, size_t n_list)
{
	struct og_buf b;
	struct og_diag d;
	struct og_rules *r = NULL;

	og_buf_init(&b);
	if (og_buf_puts(&b, "{\"outguard_rules\": 1, \"thresholds\": {\"tag\": 5, \"quarantine\": 10},"
	                " \"rules\": [{\"id\": \"many-recipients\", \"check\": \"recipients\","
	                " \"limit\": 50, \"score\": 10}") < 0)
		goto out;
	if (n_list > 0) {
		if (og_buf_printf(&b, ", {\"id\": \"trap\", \"check\": \"keywords\", \"score\": 3,"
		                  " \"body_bytes\": %d, \"phrases\": [", BODY_BYTES) < 0)
			goto out;
		for (size_t i = 0; i < n_list; i++) {
			if (strpbrk(phrases[i], "\"\\") != NULL) {
				fprintf(stderr, "bench_keywords: phrase %zu needs JSON escapes\n", i);
				goto out;
			}
			if (og_buf_printf(&b, "%s\"%s\"", i > 0 ? ", " : "", phrases[i]) < 0)
				goto out;
		}
		if (og_buf_puts(&b, "]}") < 0)
			goto out;
	}
	if (og_buf_puts(&b, "]}") < 0)
		goto out;
	og_diag_init(&d);
	if ((r = og_rules_load_string(b.data, "bench.json", &d)) == NULL)
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "bench_keywords: %s\n", d.msgs[i]);
	og_diag_free(&d);
out:
	og_buf_free(&b);
	return r;
}

struct variant {
	const char *name;
	struct og_rules *rules;
	bool decode_only;        /* keep and decode the body, scan nothing */
};

/*
 * One message through VAR's path; *OUT is what it found: the trap rule's
 * figure, or for decoding only the bytes of decoded text.  0, or -1 on an
 * error (out of memory).
 */
static int one_message(const struct variant *var, const char *body, struct og_verdict *v,
                       size_t *out)
{
	static const char *const headers[][2] = {
		{ "From", "\"Shop Deals\" <sales@example.com>" },
		{ "To", "customer@remote.example" },
		{ "Subject", "This week only: our best offers" },
		{ "Message-ID", "<20261201101500.4F2A@example.com>" },
		{ "MIME-Version", "1.0" },
		{ "Content-Type", "multipart/alternative; boundary=\"" BOUNDARY "\"" },
	};
	const struct og_rules *r = var->rules;
	struct og_webmail wm = { (const char *const *)r->webmail, r->n_webmail };
	struct og_identity id;
	struct og_facts f;
	int rc = -1;

	og_facts_init(&f);
	og_facts_want(&f, (const char *const *)r->want_headers, r->n_want_headers,
	              var->decode_only ? BODY_BYTES : r->body_bytes);
	f.client_port = 40000;
	f.client_port_known = true;
	if (og_facts_set(&f, &f.client_addr, "198.51.100.7") < 0 ||
	    og_facts_set(&f, &f.auth_authen, "sales@example.com") < 0 ||
	    og_facts_set(&f, &f.queue_id, "4F2A1A7219B") < 0 ||
	    og_facts_set_sender(&f, "<sales@example.com>") < 0 ||
	    og_facts_add_rcpt(&f, "<customer@remote.example>") < 0)
		goto out;
	for (size_t i = 0; i < COUNT(headers); i++)
		if (og_facts_add_header(&f, headers[i][0], headers[i][1]) < 0)
			goto out;
	/* the body only when a rule reads it (else the MTA was told SMFIP_NOBODY),
	   chunk by chunk until the MTA is told to skip the rest */
	for (size_t off = 0; f.body_max > 0 && off < BODY_BYTES && !f.body_cut; off += CHUNK)
		if (og_facts_add_body(&f, body + off, BODY_BYTES - off < CHUNK ? BODY_BYTES - off : CHUNK) < 0)
			goto out;
	if (og_identity_of(&f, false, &wm, &id) < 0)
		goto out;
	rc = og_engine_evaluate(r, &f, &id, OG_SCOPE_AUTHENTICATED, NULL, 1795402862, v);
	*out = r->n_rules > 1 ? (size_t)v->result[1].figure : 0;
	if (rc == 0 && var->decode_only) {
		struct og_buf text;

		og_buf_init(&text);
		rc = og_bodytext_extract(f.body.data, f.body.len, f.content_type, f.content_encoding,
		                         BODY_BYTES, &text);
		*out = text.len;
		og_buf_free(&text);
	}
	og_identity_free(&id);
out:
	og_facts_free(&f);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : DEFAULT_ROUNDS;
	struct variant var[N_VARIANTS] = {
		{ "no trap rules", NULL, false }, { "decoding only", NULL, true },
		{ "1 phrase", NULL, false }, { "1000 phrases", NULL, false },
	};
	double *times[N_VARIANTS], median[N_VARIANTS];
	size_t want[N_VARIANTS], got, qp = 0, b64 = 0;
	struct og_verdict *v = malloc(sizeof(*v));
	char **phrases, *body;
	uint32_t jit = 0;

	if (rounds < 1 || rounds > 1000000) {
		fprintf(stderr, "usage: bench_keywords [ROUNDS]\n");
		return 2;
	}
	if (v == NULL || (phrases = make_phrases(N_PHRASES)) == NULL ||
	    (body = make_body(phrases, &qp, &b64)) == NULL) {
		fprintf(stderr, "bench_keywords: out of memory, or the parts exceed %d bytes\n",
		        BODY_BYTES);
		return 1;
	}
	var[0].rules = make_rules(phrases, 0);
	var[1].rules = var[0].rules;
	var[2].rules = make_rules(phrases, 1);
	var[3].rules = make_rules(phrases, N_PHRASES);
	if (var[0].rules == NULL || var[2].rules == NULL || var[3].rules == NULL)
		return 1;
	for (int k = 0; k < N_VARIANTS; k++) {
		if ((times[k] = calloc((size_t)rounds, sizeof(double))) == NULL ||
		    one_message(&var[k], body, v, &want[k]) < 0)
			return 1;
		if (k > 0 && v->result[v->n_results - 1].limited) {
			fprintf(stderr, "bench_keywords: %s: a search reached its match limit\n", var[k].name);
			return 1;
		}
	}

	for (long i = 0; i < rounds; i++) {
		for (int n = 0; n < N_VARIANTS; n++) {
			int k = (int)((i + n) % N_VARIANTS);
			double t0 = now();

			if (one_message(&var[k], body, v, &got) < 0)
				return 1;
			times[k][i] = now() - t0;
			if (got != want[k]) {
				fprintf(stderr, "bench_keywords: %s found %zu, at first %zu\n", var[k].name, got,
				        want[k]);
				return 1;
			}
		}
	}

	pcre2_config(PCRE2_CONFIG_JIT, &jit);
	printf("bench_keywords: a %d-byte body through the engine, %ld rounds, PCRE2 JIT %s\n",
	       BODY_BYTES, rounds, jit ? "available" : "not available");
	printf("body: text/plain quoted-printable %zu bytes, text/html base64 %zu bytes;"
	       " %zu bytes of decoded text\n", qp, b64, want[1]);
	printf("phrases found: %zu of %d, %zu of 1\n\n", want[3], N_PHRASES, want[2]);
	printf("%-15s %12s %12s %12s\n", "variant", "median MB/s", "best MB/s", "median us");
	for (int k = 0; k < N_VARIANTS; k++) {
		qsort(times[k], (size_t)rounds, sizeof(double), cmp_double);
		median[k] = times[k][rounds / 2];
		printf("%-15s %12.1f %12.1f %12.1f\n", var[k].name, BODY_BYTES / median[k] / 1e6,
		       BODY_BYTES / times[k][0] / 1e6, median[k] * 1e6);
	}
	printf("\n1000 phrases take %.0fx the time of no trap rules (no body read), %.2fx that of"
	       " decoding only, %.2fx that of 1 phrase\n", median[3] / median[0],
	       median[3] / median[1], median[3] / median[2]);

	og_rules_release(var[0].rules);
	og_rules_release(var[2].rules);
	og_rules_release(var[3].rules);
	for (int k = 0; k < N_VARIANTS; k++)
		free(times[k]);
	for (size_t i = 0; i < N_PHRASES; i++)
		free(phrases[i]);
	free(phrases);
	free(body);
	free(v);
	return 0;
}
