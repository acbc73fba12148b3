/*
 * test_eml - unit tests for milter/eml.c: a saved message read into facts
 * as the milter would have seen it (headers unfolded and in order, header
 * recipients collected, the body bounded and given CRLF line ends), for LF
 * and CRLF files and the malformed shapes saved mail takes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "eml.h"
#include "facts.h"
#include "strutil.h"
#include "testutil.h"

/*
 * Read LEN bytes of TEXT into F and E, keeping BODY_MAX bytes of body.  The
 * text is copied to a buffer of exactly LEN bytes with no terminator, so
 * ASan catches any read past the end.
 */
static void read_eml(const char *text, size_t len, size_t body_max, struct og_facts *f,
                     struct og_eml *e)
{
	char *copy = malloc(len > 0 ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, text, len);
	og_facts_init(f);
	og_facts_want(f, NULL, 0, body_max);
	rc = og_eml_read(copy, len, f, e);
	free(copy);
	assert_int_equal(rc, 0);
}

static void done(struct og_facts *f, struct og_eml *e)
{
	og_eml_free(e);
	og_facts_free(f);
}

/* The header recipients as "a|b|", for one comparison per row. Caller frees. */
static char *joined_rcpts(const struct og_eml *e)
{
	struct og_buf b;

	og_buf_init(&b);
	assert_int_equal(og_buf_puts(&b, ""), 0);
	for (size_t i = 0; i < e->n_header_rcpts; i++)
		assert_int_equal(og_buf_printf(&b, "%s|", e->header_rcpts[i]), 0);
	return b.data;
}

/* "\r\n" and bytes outside printable ASCII shown escaped, so a body mismatch is readable. */
static void show(char *out, size_t size, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			o += (size_t)snprintf(out + o, size - o, "\\r");
		else if (c == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

/* Fail naming LABEL unless the kept body is exactly WANT (WANT_LEN bytes). */
static void check_body(const char *label, const struct og_facts *f, const char *want,
                       size_t want_len)
{
	char g[512], w[512];

	if (f->body.len == want_len && (want_len == 0 || memcmp(f->body.data, want, want_len) == 0))
		return;
	show(g, sizeof(g), f->body.data != NULL ? f->body.data : "", f->body.len);
	show(w, sizeof(w), want, want_len);
	fail_msg("%s: body \"%s\" (%zu bytes), want \"%s\" (%zu bytes)", label, g, f->body.len,
	         w, want_len);
}

static void test_headers_unfolded_in_order(void **state)
{
	static const char msg[] =
		"Received: from web1 (localhost [127.0.0.1])\n"
		"\tby mx.example.com with ESMTP id 4F1;\n"
		"\tMon, 1 Jan 2024 12:00:00 +0000\n"
		"From: \"Shop, The\" <shop@example.com>\n"
		"Subject: Your order\n"
		" has shipped\n"
		"Subject: second subject is not the subject\n"
		"Message-ID:\n"
		" <20240101120000.4F1@mail.example.com>\n"
		"Content-Type: multipart/alternative;\n"
		"\tboundary=\"b1\"\n"
		"Subject : obsolete spacing still names the field\n"
		"\n"
		"body\n";
	struct og_facts f;
	struct og_eml e;
	(void)state;

	read_eml(msg, sizeof(msg) - 1, 0, &f, &e);
	CHECK_STR("from", f.from, "\"Shop, The\" <shop@example.com>");
	/* a fold keeps its white space and drops the line break */
	CHECK_STR("subject", f.subject, "Your order has shipped");
	CHECK_STR("message-id", f.message_id, "<20240101120000.4F1@mail.example.com>");
	CHECK_STR("content-type", f.content_type, "multipart/alternative;\tboundary=\"b1\"");
	assert_int_equal(f.header_count, 7);
	assert_int_equal(e.headers, 7);
	assert_int_equal(e.n_header_rcpts, 0);
	assert_int_equal(f.hdr_rcpt_count, 0);
	done(&f, &e);
}

/* One message shape and what the facts must hold after reading it. */
struct read_case {
	const char *label, *text;
	size_t body_max;
	const char *subject;
	size_t headers;
	unsigned stamps;
	const char *body;
	bool cut;
};

static void test_read_shapes(void **state)
{
	static const struct read_case rows[] = {
		{ "lf", "Subject: hi\nX-A: 1\n\nline 1\nline 2\n", 100,
		  "hi", 2, 0, "line 1\r\nline 2\r\n", false },
		{ "crlf", "Subject: hi\r\nX-A: 1\r\n\r\nline 1\r\nline 2\r\n", 100,
		  "hi", 2, 0, "line 1\r\nline 2\r\n", false },
		{ "crlf fold", "Subject: a\r\n\tb\r\n\r\nx", 100, "a\tb", 1, 0, "x", false },
		{ "mixed line ends", "Subject: hi\r\nX-A: 1\n\r\nx\ny\r\n", 100,
		  "hi", 2, 0, "x\r\ny\r\n", false },
		{ "last body line unterminated", "Subject: hi\n\nend", 100, "hi", 1, 0, "end", false },
		{ "blank lines kept in body", "Subject: hi\n\n\nx\n\n", 100,
		  "hi", 1, 0, "\r\nx\r\n\r\n", false },
		{ "no blank line", "Subject: hi\nX-A: 1\nX-B: 2\n", 100, "hi", 3, 0, "", false },
		{ "no blank line, no final newline", "X-A: 1\nSubject: hi", 100,
		  "hi", 2, 0, "", false },
		{ "headers only, then blank", "Subject: hi\n\n", 100, "hi", 1, 0, "", false },
		{ "colonless line starts the body", "Subject: hi\nthis is body\nTo: a@x\n", 100,
		  "hi", 1, 0, "this is body\r\nTo: a@x\r\n", false },
		{ "colonless first line", "hello\nSubject: hi\n", 100,
		  NULL, 0, 0, "hello\r\nSubject: hi\r\n", false },
		{ "body longer than max", "Subject: hi\n\n0123456789\nabc\n", 4,
		  "hi", 1, 0, "0123", true },
		{ "body cut inside the line end", "Subject: hi\n\nabc\n", 4,
		  "hi", 1, 0, "abc\r", true },
		{ "body exactly max", "Subject: hi\n\nabc\n", 5, "hi", 1, 0, "abc\r\n", false },
		{ "body max at a line end", "Subject: hi\n\nabc\nd", 5, "hi", 1, 0, "abc\r\n", true },
		{ "body max 0 keeps nothing", "Subject: hi\n\nsome body\n", 0, "hi", 1, 0, "", true },
		{ "body max 0, no body", "Subject: hi\n\n", 0, "hi", 1, 0, "", false },
		{ "stamps counted", "X-Outguard-Submitter: uid=33\nx-outguard-submitter: uid=0\n\n",
		  100, NULL, 2, 2, "", false },
		{ "only a blank line", "\n", 100, NULL, 0, 0, "", false },
		{ "only a blank line, body", "\r\nbody", 100, NULL, 0, 0, "body", false },
		{ "empty", "", 100, NULL, 0, 0, "", false },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		const struct read_case *r = &rows[i];
		struct og_facts f;
		struct og_eml e;

		read_eml(r->text, strlen(r->text), r->body_max, &f, &e);
		if (r->subject == NULL ? f.subject != NULL
		                       : f.subject == NULL || strcmp(f.subject, r->subject) != 0)
			fail_msg("%s: subject \"%s\", want \"%s\"", r->label,
			         f.subject != NULL ? f.subject : "(null)",
			         r->subject != NULL ? r->subject : "(null)");
		if (f.header_count != r->headers || e.headers != r->headers)
			fail_msg("%s: %zu headers (eml %zu), want %zu", r->label, f.header_count,
			         e.headers, r->headers);
		if (f.stamp_count != r->stamps)
			fail_msg("%s: %u stamps, want %u", r->label, f.stamp_count, r->stamps);
		check_body(r->label, &f, r->body, strlen(r->body));
		if (f.body_cut != r->cut)
			fail_msg("%s: body_cut %d, want %d", r->label, f.body_cut, r->cut);
		done(&f, &e);
	}
}

static void test_header_recipients(void **state)
{
	static const struct {
		const char *label, *text, *rcpts;
		size_t hdr_rcpt_count;
	} rows[] = {
		{ "to, cc, bcc in order",
		  "To: Alice <Alice@X.Example>, b@y.example\n"
		  "Subject: s\n"
		  "Bcc: Hidden@Z.example\n"
		  "Cc: \"Doe, J\" <J@W.example>\n\n",
		  "alice@x.example|b@y.example|hidden@z.example|j@w.example|", 3 },
		{ "folded to, crlf",
		  "To: a@x,\r\n b@y,\r\n\tc@z\r\n\r\n", "a@x|b@y|c@z|", 3 },
		{ "names any case", "TO: a@x\ncc: b@y\nBCC: c@z\n", "a@x|b@y|c@z|", 2 },
		{ "every header counted", "To: a@x\nTo: b@y\nCc: c@z\nCc: d@w\n",
		  "a@x|b@y|c@z|d@w|", 4 },
		{ "groups", "To: undisclosed-recipients:;\nCc: Team: a@x, b@y;\n",
		  "a@x|b@y|", 2 },
		{ "bcc only", "Bcc: a@x, b@y\n", "a@x|b@y|", 0 },
		{ "other address headers ignored",
		  "From: f@x\nReply-To: r@x\nSender: s@x\nResent-To: t@x\n", "", 0 },
		{ "no address", "To: Alice\nCc:\n", "", 0 },
		{ "after the body starts", "Subject: s\n\nTo: a@x\n", "", 0 },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_facts f;
		struct og_eml e;
		char *got;
		bool same;

		read_eml(rows[i].text, strlen(rows[i].text), 0, &f, &e);
		got = joined_rcpts(&e);
		same = strcmp(got, rows[i].rcpts) == 0;
		if (!same || f.hdr_rcpt_count != rows[i].hdr_rcpt_count) {
			char shown[512];

			snprintf(shown, sizeof(shown), "%s", got);
			free(got);
			fail_msg("%s: rcpts \"%s\" (To+Cc %zu), want \"%s\" (%zu)", rows[i].label, shown,
			         f.hdr_rcpt_count, rows[i].rcpts, rows[i].hdr_rcpt_count);
		}
		free(got);
		done(&f, &e);
	}
}

/* Every byte but NUL in the body; only the LF changes, to CRLF as the MTA sends it. */
static void test_binary_body(void **state)
{
	static const char head[] = "Subject: bin\nContent-Transfer-Encoding: 8bit\n\n";
	char text[sizeof(head) - 1 + 255], want[256];
	size_t n = sizeof(head) - 1, w = 0;
	struct og_facts f;
	struct og_eml e;
	(void)state;

	memcpy(text, head, n);
	for (int c = 1; c <= 255; c++) {
		text[n++] = (char)c;
		if (c == '\n')
			want[w++] = '\r';
		want[w++] = (char)c;
	}
	read_eml(text, n, sizeof(want), &f, &e);
	CHECK_STR("subject", f.subject, "bin");
	CHECK_STR("encoding", f.content_encoding, "8bit");
	check_body("binary", &f, want, w);
	assert_false(f.body_cut);
	done(&f, &e);
}

/* og_eml_addresses appends, so several values can feed one list. */
static void test_addresses_append(void **state)
{
	struct og_eml e = { 0 };
	char *got;
	bool same;
	(void)state;

	assert_int_equal(og_eml_addresses("Alice <A@X>, b@y", &e), 0);
	assert_int_equal(og_eml_addresses("Team: C@Z;", &e), 0);
	assert_int_equal(og_eml_addresses(NULL, &e), 0);
	assert_int_equal(og_eml_addresses("nobody", &e), 0);
	got = joined_rcpts(&e);
	same = strcmp(got, "a@x|b@y|c@z|") == 0;
	free(got);
	og_eml_free(&e);
	assert_true(same);
	assert_null(e.header_rcpts);
	assert_int_equal(e.n_header_rcpts, 0);
}

/* Values longer than the facts keep are cut and flagged; the recipients stay whole. */
static void test_long_header(void **state)
{
	struct og_buf t;
	struct og_facts f;
	struct og_eml e;
	(void)state;

	og_buf_init(&t);
	assert_int_equal(og_buf_puts(&t, "To: "), 0);
	for (int i = 0; i < 300; i++)
		assert_int_equal(og_buf_printf(&t, "%su%d@x.example\n", i > 0 ? "\t, " : "", i), 0);
	assert_int_equal(og_buf_printf(&t, "Subject: %0*d\n\n", 2000, 0), 0);
	read_eml(t.data, t.len, 0, &f, &e);
	og_buf_free(&t);
	assert_int_equal(e.n_header_rcpts, 300);
	CHECK_STR("last rcpt", e.header_rcpts[299], "u299@x.example");
	assert_int_equal(f.hdr_rcpt_count, 300);
	assert_int_equal(strlen(f.subject), OG_FACT_MAXLEN);
	assert_true(f.truncated);
	assert_int_equal(f.header_count, 2);
	done(&f, &e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers_unfolded_in_order),
		cmocka_unit_test(test_read_shapes),
		cmocka_unit_test(test_header_recipients),
		cmocka_unit_test(test_binary_body),
		cmocka_unit_test(test_addresses_append),
		cmocka_unit_test(test_long_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
