/*
 * test_bodytext - unit tests for milter/bodytext.c: single parts and their
 * transfer encodings, HTML to text, multipart walking, the MAX bound, and
 * hostile bodies (deep nesting, cuts anywhere, NUL bytes, random junk).
 * Every body is handed over in a buffer of exactly its length, so a read
 * past the end is caught by the sanitizers and valgrind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "bodytext.h"
#include "strutil.h"
#include "testutil.h"

/* One case: the message's two headers, its body, and the text wanted. */
struct row {
	const char *label;
	const char *ctype, *cte;
	const char *body;
	const char *want;
	const char *want_crlf;  /* with the body's LF turned to CRLF; NULL: same as WANT */
};

/* Run the extraction on an exact-size copy of BODY; returns its result. */
static int extract(const char *body, size_t len, const char *ctype, const char *cte,
                   size_t max, struct og_buf *out)
{
	char *copy = malloc(len > 0 ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, body, len);
	rc = og_bodytext_extract(copy, len, ctype, cte, max, out);
	free(copy);
	return rc;
}

/* S (N bytes) with the bytes a terminal would hide escaped, into B. */
static void show(struct og_buf *b, const char *s, size_t n)
{
	og_buf_reset(b);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			og_buf_puts(b, "\\n");
		else if (c == '\r')
			og_buf_puts(b, "\\r");
		else if (c == '\\' || c == '"')
			og_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			og_buf_printf(b, "\\x%02x", c);
		else
			og_buf_append(b, (const char *)&c, 1);
	}
}

/* Fail, naming LABEL and showing both, unless GOT (GN bytes) is WANT (WN bytes). */
static void check_text(const char *label, const char *got, size_t gn, const char *want, size_t wn)
{
	struct og_buf g, w;

	if (gn == wn && (wn == 0 || memcmp(got, want, wn) == 0))
		return;
	og_buf_init(&g);
	og_buf_init(&w);
	show(&g, got, gn);
	show(&w, want, wn);
	fail_msg("%s: got \"%s\" (%zu bytes), want \"%s\" (%zu bytes)", label,
	         g.data != NULL ? g.data : "", gn, w.data != NULL ? w.data : "", wn);
}

/* S with every LF made CRLF; caller frees. */
static char *crlf(const char *s)
{
	struct og_buf b;

	og_buf_init(&b);
	for (; *s != '\0'; s++)
		assert_int_equal(og_buf_append(&b, *s == '\n' ? "\r\n" : s, *s == '\n' ? 2 : 1), 0);
	assert_int_equal(og_buf_append(&b, "", 0), 0);
	return b.data;
}

/* Extract BODY with no bound and compare with WANT, naming LABEL. */
static void check_one(const char *label, const char *ctype, const char *cte, const char *body,
                      const char *want)
{
	struct og_buf out;

	og_buf_init(&out);
	if (extract(body, strlen(body), ctype, cte, SIZE_MAX, &out) != 0)
		fail_msg("%s: returned -1", label);
	check_text(label, out.data != NULL ? out.data : "", out.len, want, strlen(want));
	og_buf_free(&out);
}

/* Each row as written (LF) and with CRLF line ends. */
static void run_rows(const struct row *rows, size_t n)
{
	char label[200];

	for (size_t i = 0; i < n; i++) {
		char *body = crlf(rows[i].body);

		snprintf(label, sizeof(label), "row \"%s\" (LF)", rows[i].label);
		check_one(label, rows[i].ctype, rows[i].cte, rows[i].body, rows[i].want);
		snprintf(label, sizeof(label), "row \"%s\" (CRLF)", rows[i].label);
		check_one(label, rows[i].ctype, rows[i].cte, body,
		          rows[i].want_crlf != NULL ? rows[i].want_crlf : rows[i].want);
		free(body);
	}
}

static void test_single_part(void **state)
{
	static const struct row rows[] = {
		{ "no headers: text/plain 7bit", NULL, NULL, "Hello world\nsecond line",
		  "Hello world\nsecond line\n", "Hello world\r\nsecond line\n" },
		{ "empty body", NULL, NULL, "", "\n", NULL },
		{ "parameters", "text/plain; charset=\"utf-8\"; format=flowed", "7bit",
		  "caf\xc3\xa9", "caf\xc3\xa9\n", NULL },
		{ "8bit as is", "text/plain", "8bit", "a=3Db", "a=3Db\n", NULL },
		{ "binary as is", "text/plain", "binary", "a=3Db", "a=3Db\n", NULL },
		{ "unknown encoding as is", "text/plain", "x-uuencode", "begin 644 a", "begin 644 a\n", NULL },
		{ "encoding name: case, space, comment", "text/plain", " Quoted-Printable (qp)", "a=3Db",
		  "a=b\n", NULL },
		{ "base64 text", "text/plain", "BASE64", "aGVsbG8gd29ybGQ=", "hello world\n", NULL },
		{ "other text subtype read as plain", "text/calendar; method=REQUEST", NULL,
		  "BEGIN:VCALENDAR", "BEGIN:VCALENDAR\n", NULL },
		{ "type in upper case", "TEXT/HTML", NULL, "<b>x</b>", "x \n", NULL },
		{ "type with spaces and comment", " text / html (web page)", NULL, "<i>x</i>y", "x y\n", NULL },
		{ "application/pdf skipped", "application/pdf", "base64", "JVBERi0xLjQgZmFrZQ==", "", NULL },
		{ "image/png skipped", "image/png; name=\"a.png\"", "base64", "iVBORw0KGgo=", "", NULL },
		{ "message/rfc822 skipped", "message/rfc822", NULL, "Subject: x\n\nbody", "", NULL },
		{ "invalid type is text/plain", "garbage", NULL, "<b>as is</b>", "<b>as is</b>\n", NULL },
		{ "type without subtype is text/plain", "text/", NULL, "x", "x\n", NULL },
		{ "multipart without boundary read as text", "multipart/mixed", NULL,
		  "--x\nContent-Type: text/plain\n\nhi\n--x--",
		  "--x\nContent-Type: text/plain\n\nhi\n--x--\n",
		  "--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\n" },
		{ "multipart with empty boundary read as text", "multipart/mixed; boundary=\"\"", NULL,
		  "--\n\nhi", "--\n\nhi\n", "--\r\n\r\nhi\n" },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

static void test_quoted_printable(void **state)
{
	static const struct row rows[] = {
		{ "hex escapes, either case", "text/plain", "quoted-printable", "caf=C3=A9 =3d =3D",
		  "caf\xc3\xa9 = =\n", NULL },
		{ "soft line break", "text/plain", "quoted-printable", "Claim your pri=\nze now",
		  "Claim your prize now\n", NULL },
		{ "soft line break after white space", "text/plain", "quoted-printable", "pri= \t\nze",
		  "prize\n", NULL },
		{ "several soft breaks", "text/plain", "quoted-printable", "w=\ni=\nn=\nner", "winner\n", NULL },
		{ "malformed escapes kept", "text/plain", "quoted-printable", "100=% =G1 =g =4",
		  "100=% =G1 =g =4\n", NULL },
		{ "equals then text", "text/plain", "quoted-printable", "a= b", "a= b\n", NULL },
		{ "equals at the end", "text/plain", "quoted-printable", "end=", "end=\n", NULL },
		{ "hard line break kept", "text/plain", "quoted-printable", "a\nb", "a\nb\n", "a\r\nb\n" },
		{ "trailing white space kept", "text/plain", "quoted-printable", "word  \nnext",
		  "word  \nnext\n", "word  \r\nnext\n" },
		{ "encoded line break", "text/plain", "quoted-printable", "a=0D=0Ab", "a\r\nb\n", NULL },
		{ "html in qp", "text/html", "quoted-printable", "<p class=3D\"x\">pri=\nze</p>",
		  "prize \n", NULL },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

static void test_base64(void **state)
{
	static const struct row rows[] = {
		{ "padded", "text/plain", "base64", "aGVsbG8gd29ybGQ=", "hello world\n", NULL },
		{ "line breaks", "text/plain", "base64", "aGVs\nbG8g\nd29y\nbGQ=\n", "hello world\n", NULL },
		{ "garbage ignored", "text/plain", "base64", "aGV*s bG8g\td29y!!b-GQ=", "hello world\n", NULL },
		{ "cut after 1 char of a quantum", "text/plain", "base64", "aGVsbG8gd29yb", "hello wor\n", NULL },
		{ "cut after 2 chars", "text/plain", "base64", "aGVsbG8gd29ybG", "hello worl\n", NULL },
		{ "cut after 3 chars", "text/plain", "base64", "aGVsbG8gd29ybGQ", "hello world\n", NULL },
		{ "stops at padding", "text/plain", "base64", "aGk=aGVsbG8=", "hi\n", NULL },
		{ "padding mid-quantum", "text/plain", "base64", "aG=k", "h\n", NULL },
		{ "only garbage", "text/plain", "base64", "!!! ***", "\n", NULL },
		{ "html in base64", "text/html", "base64", "PHA+dyYjMTA1O248L3A+", "win \n", NULL },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

static void test_html(void **state)
{
	static const struct row rows[] = {
		{ "tags split words: not joined", "text/html", NULL, "<b>win</b>ner", "win ner\n", NULL },
		{ "decimal reference", "text/html", NULL, "w&#105;nner", "winner\n", NULL },
		{ "hex reference", "text/html", NULL, "&#x77;&#X69;n", "win\n", NULL },
		{ "numeric reference without ';'", "text/html", NULL, "w&#105nner", "winner\n", NULL },
		{ "named references", "text/html", NULL, "a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;",
		  "a & b <c> \"d\" 'e'\n", NULL },
		{ "upper-case legacy names", "text/html", NULL, "&AMP;&LT;&GT;&QUOT;", "&<>\"\n", NULL },
		{ "legacy name without ';'", "text/html", NULL, "fish &amp chips &lt3", "fish & chips <3\n", NULL },
		{ "&apos needs ';'", "text/html", NULL, "&apos x", "&apos x\n", NULL },
		{ "nbsp is a space", "text/html", NULL, "x&nbsp;y&#160;z&#xa0;w", "x y z w\n", NULL },
		{ "unknown references are text", "text/html", NULL, "&copy; &foo; & x &#; &#x;",
		  "&copy; &foo; & x &#; &#x;\n", NULL },
		{ "references as UTF-8", "text/html", NULL, "&#233;&#x20AC;&#x1F600;&#127;",
		  "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\n", NULL },
		{ "invalid code points are U+FFFD", "text/html", NULL,
		  "&#0;|&#xD800;|&#x110000;|&#99999999999999999999;",
		  "\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\n", NULL },
		{ "references do not make tags", "text/html", NULL, "&lt;b&gt;x", "<b>x\n", NULL },
		{ "comment", "text/html", NULL, "a<!-- hidden <b>text</b> -->b", "a b\n", NULL },
		{ "short comments", "text/html", NULL, "a<!-->b<!--->c", "a b c\n", NULL },
		{ "script dropped", "text/html", NULL,
		  "a<script type=\"text/javascript\">if (a<b) x='</b>';</script>b", "a b\n", NULL },
		{ "style dropped, any case", "text/html", NULL, "<STYLE>p { color: red }</Style >text",
		  "text\n", NULL },
		{ "not a script", "text/html", NULL, "<scripts>x</scripts>", "x \n", NULL },
		{ "quoted attribute with '>'", "text/html", NULL, "<a title=\"x>y\" href = 'a>b'>link</a>",
		  "link \n", NULL },
		{ "'<' not starting a tag is text", "text/html", NULL, "1 < 2 and 3<4 <", "1 < 2 and 3<4 <\n", NULL },
		{ "doctype, processing instruction, end tags", "text/html", NULL,
		  "<?xml version=\"1.0\"?><!DOCTYPE html><html><body>Hi</body></html>", "Hi \n", NULL },
		{ "one space for a run of tags", "text/html", NULL, "a<br><br/><hr>b", "a b\n", NULL },
		{ "line breaks kept", "text/html", NULL, "<p>Hello</p>\n<p>World</p>",
		  "Hello \nWorld \n", "Hello \r\nWorld \n" },
		{ "unterminated tag ends the text", "text/html", NULL, "text<a href=", "text\n", NULL },
		{ "unterminated quote ends the text", "text/html", NULL, "text<a href=\"x>more", "text\n", NULL },
		{ "unterminated comment ends the text", "text/html", NULL, "text<!-- open", "text\n", NULL },
		{ "unterminated script ends the text", "text/html", NULL, "a<script>x", "a\n", NULL },
		{ "cut reference", "text/html", NULL, "a &am", "a &am\n", NULL },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

#define B10 "0123456789"
#define B100 B10 B10 B10 B10 B10 B10 B10 B10 B10 B10

static void test_multipart(void **state)
{
	static const struct row rows[] = {
		{ "alternative: qp text and base64 html", "multipart/alternative; boundary=\"alt-1\"", NULL,
		  "This is a multi-part message in MIME format.\n"
		  "--alt-1\n"
		  "Content-Type: text/plain; charset=utf-8\n"
		  "Content-Transfer-Encoding: quoted-printable\n"
		  "\n"
		  "Claim your pri=\nze now =3D free\n"
		  "--alt-1\n"
		  "Content-Type: text/html; charset=utf-8\n"
		  "Content-Transfer-Encoding: base64\n"
		  "\n"
		  "PHA+Q2xhaW0geW91ciA8Yj5w\ncml6ZTwvYj48L3A+\n"
		  "--alt-1--\n"
		  "epilogue text\n",
		  "Claim your prize now = free\nClaim your prize \n", NULL },
		{ "nested mixed with attachments", "multipart/mixed; boundary=outer", NULL,
		  "--outer\n"
		  "Content-Type: multipart/alternative;\n"
		  "\tboundary=\"inner\"\n"
		  "\n"
		  "--inner\n"
		  "Content-Type: text/plain\n"
		  "\n"
		  "plain body\n"
		  "--inner\n"
		  "Content-Type: text/html\n"
		  "\n"
		  "<p>html body</p>\n"
		  "--inner--\n"
		  "inner epilogue\n"
		  "--outer\n"
		  "Content-Type: application/pdf; name=\"x.pdf\"\n"
		  "Content-Transfer-Encoding: base64\n"
		  "Content-Disposition: attachment; filename=\"x.pdf\"\n"
		  "\n"
		  "JVBERi0xLjQgZmFrZQ==\n"
		  "--outer\n"
		  "Content-Type: text/plain; name=\"notes.txt\"\n"
		  "Content-Transfer-Encoding: base64\n"
		  "Content-Disposition: ATTACHMENT;\n filename=\"notes.txt\"\n"
		  "\n"
		  "dGV4dC9wbGFpbiBjb250ZW50IGhlcmU=\n"
		  "--outer\n"
		  "Content-Type: text/plain\n"
		  "Content-Disposition: inline; filename=\"shown.txt\"\n"
		  "\n"
		  "after attachments\n"
		  "--outer--\n",
		  "plain body\nhtml body \nafter attachments\n", NULL },
		{ "boundary unquoted, name in upper case, spaces, other parameters",
		  "multipart/mixed; charset=x; BOUNDARY = simple ; foo=bar", NULL,
		  "--simple\n\nno headers part\n--simple--\n", "no headers part\n", NULL },
		{ "boundary after a comment, with an escaped quote",
		  "multipart/mixed (not; boundary=wrong) ; boundary=\"b\\\"q\"", NULL,
		  "--b\"q\n\nescaped\n--b\"q--", "escaped\n", NULL },
		{ "unquoted boundary with '='", "multipart/mixed; boundary=----=_Part_1", NULL,
		  "------=_Part_1\n\nx\n------=_Part_1--", "x\n", NULL },
		{ "first boundary parameter counts", "multipart/mixed; boundary=a; boundary=b", NULL,
		  "--b\n\nnot a part\n--a\n\nreal\n--a--", "real\n", NULL },
		{ "delimiters with trailing white space", "multipart/mixed; boundary=b", NULL,
		  "--b  \t\n\nx\n--b-- \n", "x\n", NULL },
		{ "longer lines are not delimiters", "multipart/mixed; boundary=b", NULL,
		  "--b\n\nline\n--bb\n--b-x\n-b\nend\n--b--",
		  "line\n--bb\n--b-x\n-b\nend\n", "line\r\n--bb\r\n--b-x\r\n-b\r\nend\n" },
		{ "boundary of 100 characters", "multipart/mixed; boundary=\"" B100 "\"", NULL,
		  "--" B100 "\n\nlong boundary text\n--" B100 "--\n", "long boundary text\n", NULL },
		{ "empty part", "multipart/mixed; boundary=b", NULL,
		  "--b\n\n--b\n\nx\n--b--", "\nx\n", NULL },
		{ "other types and text subtypes skipped", "multipart/mixed; boundary=b", NULL,
		  "--b\nContent-Type: text/calendar\n\nBEGIN:VCALENDAR\n"
		  "--b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
		  "--b\nContent-Type: message/rfc822\n\nSubject: x\n\nforwarded\n"
		  "--b\nContent-Type: text/plain\n\nkept\n--b--",
		  "kept\n", NULL },
		{ "header names in any case, folded type", "multipart/mixed; boundary=b", NULL,
		  "--b\ncontent-type:\n text/html\nCONTENT-TRANSFER-ENCODING : Quoted-Printable\n\n<i>x=3Dy</i>\n--b--",
		  "x=y \n", NULL },
		{ "first content-type counts", "multipart/mixed; boundary=b", NULL,
		  "--b\nContent-Type: text/html\nContent-Type: image/png\n  ; name=x\n\n<b>x</b>\n--b--",
		  "x \n", NULL },
		{ "missing blank line: the body starts at the first non-field line",
		  "multipart/mixed; boundary=b", NULL,
		  "--b\nContent-Type: text/plain\nHello there\n--b--", "Hello there\n", NULL },
		{ "missing close delimiter, cut mid-part", "multipart/mixed; boundary=b", NULL,
		  "--b\nContent-Type: text/plain\n\nfirst\n--b\nContent-Type: text/plain\n\nsecond part cut",
		  "first\nsecond part cut\n", NULL },
		{ "cut inside a part header", "multipart/mixed; boundary=b", NULL,
		  "--b\n\nfirst\n--b\nContent-Type: text/pl", "first\n", NULL },
		{ "part header without end", "multipart/mixed; boundary=b", NULL,
		  "--b\nContent-Type: text/plain\nX-Junk: a\n b\n", "", NULL },
		{ "outer delimiter ends an unclosed inner level", "multipart/mixed; boundary=o", NULL,
		  "--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\ninner text\n"
		  "--o\n\nouter text\n--o--",
		  "inner text\nouter text\n", NULL },
		{ "nested multipart without boundary read as text", "multipart/mixed; boundary=o", NULL,
		  "--o\nContent-Type: multipart/mixed\n\nraw line\n--o--", "raw line\n", NULL },
		{ "nested multipart whose delimiter never comes read as text",
		  "multipart/mixed; boundary=o", NULL,
		  "--o\nContent-Type: multipart/mixed; boundary=i\n\nhidden words\n--o--", "hidden words\n", NULL },
		{ "no delimiter at all: read as text", "multipart/mixed; boundary=b", NULL,
		  "Buy now", "Buy now\n", NULL },
		{ "body only \"--\"", "multipart/mixed; boundary=b", NULL, "--", "--\n", NULL },
		{ "empty body", "multipart/mixed; boundary=b", NULL, "", "\n", NULL },
		{ "close only", "multipart/mixed; boundary=b", NULL, "--b--\n--b\n\nafter close\n", "", NULL },
		{ "unknown multipart subtype read as mixed", "multipart/x-weird; boundary=b", NULL,
		  "--b\n\none\n--b\n\ntwo\n--b--", "one\ntwo\n", NULL },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

/* Every MAX gives exactly the first MAX bytes of the whole text. */
static void test_max_bound(void **state)
{
	static const struct {
		const char *label, *ctype, *cte, *body;
	} rows[] = {
		{ "plain", NULL, NULL, "Hello world, this is plain text." },
		{ "base64", "text/plain", "base64", "aGVsbG8gd29ybGQ=" },
		{ "html with references", "text/html", NULL, "<p>caf&#233; &amp; <b>more</b> &#x1F600;</p>" },
		{ "multipart", "multipart/alternative; boundary=b", NULL,
		  "--b\nContent-Transfer-Encoding: quoted-printable\n\none=3Dtwo\n--b\n"
		  "Content-Type: text/html\n\n<i>three</i>\n--b--" },
	};
	static const size_t maxes[] = { 0, 1, 2, 3, 5, 8, 13, 20, 40, 1000 };
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_buf full;
		size_t blen = strlen(rows[i].body);

		og_buf_init(&full);
		assert_int_equal(extract(rows[i].body, blen, rows[i].ctype, rows[i].cte, SIZE_MAX, &full), 0);
		for (size_t j = 0; j <= N_ROWS(maxes) + 2; j++) {
			/* the listed values, then the whole length, one less and one more */
			size_t max = j < N_ROWS(maxes) ? maxes[j] : full.len + j - N_ROWS(maxes) - 1;
			size_t want = max < full.len ? max : full.len;
			struct og_buf out;
			char label[120];

			og_buf_init(&out);
			snprintf(label, sizeof(label), "row \"%s\", max %zu", rows[i].label, max);
			if (extract(rows[i].body, blen, rows[i].ctype, rows[i].cte, max, &out) != 0)
				fail_msg("%s: returned -1", label);
			check_text(label, out.data != NULL ? out.data : "", out.len, full.data, want);
			if (max == 0 && out.data != NULL)
				fail_msg("%s: touched the buffer", label);
			og_buf_free(&out);
		}
		og_buf_free(&full);
	}
}

/* A body of N multiparts, each nested in the one before, and a text part at the bottom. */
static char *nested_body(size_t n)
{
	struct og_buf b;

	og_buf_init(&b);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(og_buf_printf(&b, "--b%zu\nContent-Type: multipart/mixed; boundary=b%zu\n\n",
		                               i, i + 1), 0);
	assert_int_equal(og_buf_printf(&b, "--b%zu\nContent-Type: text/plain\n\ndeep\n--b%zu--\n", n, n), 0);
	for (size_t i = n; i > 0; i--)
		assert_int_equal(og_buf_printf(&b, "--b%zu--\n", i - 1), 0);
	return b.data;
}

/* Text wanted from nested_body(N): beyond the depth bound, the raw lines. */
static void check_nested(size_t n)
{
	char *body = nested_body(n);
	char label[64], from[32], to[32];
	struct og_buf out, want;

	og_buf_init(&out);
	og_buf_init(&want);
	if (n + 1 <= OG_BODYTEXT_DEPTH) {
		og_buf_puts(&want, "deep\n");
	} else {
		const char *s, *e;

		/* Level DEPTH-1 holds a multipart it does not follow: read to its own delimiter. */
		snprintf(from, sizeof(from), "--b%d\n", OG_BODYTEXT_DEPTH);
		snprintf(to, sizeof(to), "\n--b%d--\n", OG_BODYTEXT_DEPTH - 1);
		s = strstr(body, from);
		e = strstr(body, to);
		assert_non_null(s);
		assert_non_null(e);
		og_buf_append(&want, s, (size_t)(e - s));
		og_buf_puts(&want, "\n");
	}
	snprintf(label, sizeof(label), "%zu nested", n);
	if (extract(body, strlen(body), "multipart/mixed; boundary=b0", NULL, SIZE_MAX, &out) != 0)
		fail_msg("%s: returned -1", label);
	check_text(label, out.data, out.len, want.data, want.len);
	og_buf_free(&out);
	og_buf_free(&want);
	free(body);
}

static void test_depth_bound(void **state)
{
	(void)state;
	check_nested(OG_BODYTEXT_DEPTH - 1);    /* all levels followed */
	check_nested(OG_BODYTEXT_DEPTH);        /* one too many */
	check_nested(1000);
}

/* Work must not grow with the nesting: 10,000 levels in well under the limit. */
static void test_deep_nesting_is_cheap(void **state)
{
	char *body = nested_body(10000);
	size_t len = strlen(body);
	struct og_buf out;
	clock_t t0;
	double secs;
	(void)state;

	og_buf_init(&out);
	t0 = clock();
	for (int i = 0; i < 10; i++) {
		og_buf_reset(&out);
		assert_int_equal(extract(body, len, "multipart/mixed; boundary=b0", NULL, SIZE_MAX, &out), 0);
	}
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	if (secs > 10.0)
		fail_msg("10 walks over %zu bytes took %.1f s", len, secs);
	assert_true(out.len > 0 && out.len <= len);
	og_buf_free(&out);
	free(body);
}

/* A string literal and its length, NUL bytes included. */
#define BYTES(s) s, sizeof(s) - 1

static void test_nul_bytes(void **state)
{
	static const struct {
		const char *label, *ctype, *cte, *body;
		size_t len;
		const char *want;
		size_t wlen;
	} rows[] = {
		{ "plain", NULL, NULL, BYTES("win\0ner\0"), BYTES("win\0ner\0\n") },
		{ "html", "text/html", NULL, BYTES("<b>a\0</b>b"), BYTES("a\0 b\n") },
		{ "qp escape", "text/plain", "quoted-printable", BYTES("a=00b"), BYTES("a\0b\n") },
		{ "base64 skips it", "text/plain", "base64", BYTES("aG\0k="), BYTES("hi\n") },
		{ "in a part header and body", "multipart/mixed; boundary=b", NULL,
		  BYTES("--b\nContent-Type: text/plain\0junk\n\nx\0y\n--b--"), BYTES("x\0y\n") },
		{ "in a delimiter line", "multipart/mixed; boundary=b", NULL,
		  BYTES("--b\n\nx\n--b\0\n\ny\n--b--"), BYTES("x\n--b\0\n\ny\n") },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_buf out;
		char label[80];

		og_buf_init(&out);
		snprintf(label, sizeof(label), "row \"%s\"", rows[i].label);
		if (extract(rows[i].body, rows[i].len, rows[i].ctype, rows[i].cte, SIZE_MAX, &out) != 0)
			fail_msg("%s: returned -1", label);
		check_text(label, out.data, out.len, rows[i].want, rows[i].wlen);
		og_buf_free(&out);
	}
}

/* A message cut after every byte (the MTA may stop anywhere) is read without fault. */
static void test_cut_anywhere(void **state)
{
	static const char body[] =
		"--o\r\nContent-Type: multipart/alternative;\r\n boundary=\"i\"\r\n\r\n"
		"--i\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\npri=\r\nze =3D=C3=A9\r\n"
		"--i\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
		"PHA+Q2xhaW0geW91ciA8Yj5w\r\ncml6ZTwvYj48L3A+\r\n--i--\r\n"
		"--o\r\nContent-Type: text/html\r\n\r\n<!-- c --><script>x</script>&#105;&amp;<b a='>'>x</b>\r\n"
		"--o--\r\n";
	static const size_t maxes[] = { 1, 7, SIZE_MAX };
	(void)state;
	for (size_t cut = 0; cut <= sizeof(body) - 1; cut++) {
		for (size_t m = 0; m < N_ROWS(maxes); m++) {
			struct og_buf out;

			og_buf_init(&out);
			if (extract(body, cut, "multipart/mixed; boundary=o", NULL, maxes[m], &out) != 0)
				fail_msg("cut %zu, max %zu: returned -1", cut, maxes[m]);
			if (out.len > maxes[m] || out.len > cut + 8)
				fail_msg("cut %zu, max %zu: %zu bytes of text", cut, maxes[m], out.len);
			og_buf_free(&out);
		}
	}
}

/* A fixed-seed generator (the C library's example LCG), so a failure repeats. */
static uint64_t next_random(uint64_t seed)
{
	return (seed * 1103515245u + 12345u) % 0x80000000u;
}

/* Random bodies built from the pieces a parser trips on never fail nor overrun. */
static void test_random_junk(void **state)
{
	static const char *const pieces[] = {
		"--b", "--b--", "--c", "\n", "\r\n", "\r", "\n\n", "Content-Type: multipart/mixed; boundary=c",
		"Content-Type: text/html", "Content-Transfer-Encoding: base64",
		"Content-Transfer-Encoding: quoted-printable", "Content-Disposition: attachment", " ",
		"\t", "<", ">", "<!--", "-->", "<script>", "</script", "&", "&#", "&#x", ";", "=", "=\n", "=4",
		"aGk", "\"", "'", "x", "\0", "\xff", "-", ":",
	};
	static const char *const types[] = {
		"multipart/mixed; boundary=b", "text/html", "text/plain", NULL,
	};
	static const char *const ctes[] = { NULL, "base64", "quoted-printable" };
	uint64_t seed = 12345;
	(void)state;

	for (int iter = 0; iter < 3000; iter++) {
		struct og_buf body, out;
		size_t n, max;

		og_buf_init(&body);
		og_buf_init(&out);
		seed = next_random(seed);
		n = (seed >> 16) % 60;
		for (size_t i = 0; i < n; i++) {
			const char *p;

			seed = next_random(seed);
			p = pieces[(seed >> 16) % N_ROWS(pieces)];
			/* "\0" as a piece means one NUL byte */
			assert_int_equal(og_buf_append(&body, p, *p == '\0' ? 1 : strlen(p)), 0);
		}
		seed = next_random(seed);
		max = (seed >> 16) % 4 == 0 ? (seed >> 18) % 16 : SIZE_MAX;
		if (extract(body.data != NULL ? body.data : "", body.len, types[iter % N_ROWS(types)],
		            ctes[iter % N_ROWS(ctes)], max, &out) != 0)
			fail_msg("iteration %d: returned -1", iter);
		if (out.len > max || out.len > body.len * 2 + 1)
			fail_msg("iteration %d: %zu bytes of text from %zu", iter, out.len, body.len);
		og_buf_free(&body);
		og_buf_free(&out);
	}
}

static void test_appends_to_buffer(void **state)
{
	struct og_buf out;
	(void)state;

	og_buf_init(&out);
	assert_int_equal(og_buf_puts(&out, "subject\n"), 0);
	assert_int_equal(extract("Hello", 5, NULL, NULL, 3, &out), 0);
	CHECK_STR("max counts only the new bytes", out.data, "subject\nHel");
	assert_int_equal(extract("<b>x</b>", 8, "text/html", NULL, SIZE_MAX, &out), 0);
	CHECK_STR("second call appends", out.data, "subject\nHelx \n");
	assert_int_equal(og_bodytext_extract(NULL, 0, NULL, NULL, SIZE_MAX, &out), 0);
	CHECK_STR("no body", out.data, "subject\nHelx \n\n");
	og_buf_free(&out);
}

/* An output buffer that cannot grow (size overflow) fails the call, leaking nothing. */
static void test_out_of_memory(void **state)
{
	static const struct {
		const char *label, *ctype, *cte, *body;
	} rows[] = {
		{ "plain", NULL, NULL, "text" },
		{ "html", "text/html", "base64", "PHA+dyYjMTA1O248L3A+" },
		{ "multipart", "multipart/mixed; boundary=b", NULL,
		  "--b\nContent-Type: text/html\n\n&amp;\n--b--" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char store[8] = "";
		struct og_buf out = { store, SIZE_MAX - 1, sizeof(store) };
		char label[80];

		snprintf(label, sizeof(label), "row \"%s\"", rows[i].label);
		if (extract(rows[i].body, strlen(rows[i].body), rows[i].ctype, rows[i].cte, SIZE_MAX, &out) != -1)
			fail_msg("%s: did not fail", label);
		if (out.len != SIZE_MAX - 1 || out.data != store)
			fail_msg("%s: buffer changed", label);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_part),
		cmocka_unit_test(test_quoted_printable),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_max_bound),
		cmocka_unit_test(test_depth_bound),
		cmocka_unit_test(test_deep_nesting_is_cheap),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_cut_anywhere),
		cmocka_unit_test(test_random_junk),
		cmocka_unit_test(test_appends_to_buffer),
		cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
