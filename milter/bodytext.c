/*
 * bodytext - the readable text of a message body, for the keyword checks.
 *
 * One forward pass over the body lines with a stack of the multipart
 * boundaries in force (at most OG_BODYTEXT_DEPTH), every line checked
 * against each of them, so the work grows with the length of the body and
 * not with its nesting.  A text part is passed on once its end is known
 * (the next delimiter, or the end of the data): decoded from its transfer
 * encoding into a scratch copy, then as is for text/plain or through a
 * small HTML reader for text/html, then a newline.
 *
 * Choices where the RFCs say nothing or the mail is broken, made so that
 * a malformed message shows more text rather than less:
 * - a multipart without a boundary parameter, nested deeper than
 *   OG_BODYTEXT_DEPTH, or whose first delimiter never comes is read as one
 *   text/plain part, its raw lines (delimiters of deeper levels included);
 * - an invalid Content-Type is text/plain (RFC 2045, section 5.2);
 * - in a part header, a line that is neither a field nor a continuation
 *   starts the body, as if the blank line had been there;
 * - an outer delimiter also ends the inner levels that were not closed;
 * - HTML: a tag, a comment or a script/style element (with its content)
 *   becomes one space, none at the start of a part or after white space.
 *   So "<b>win</b>ner" reads "win ner": a word split by inline tags is not
 *   joined, the price of never joining two words.  '<' not followed by a
 *   letter, '/', '!' or '?' is text, as in a browser.  Character
 *   references: &amp; &lt; &gt; &quot; &apos; and &nbsp; (a space, as is
 *   &#160;), numeric ones as UTF-8, those naming 0, a surrogate or a value
 *   past U+10FFFF as U+FFFD.  As in a browser, numeric references and the
 *   legacy names (all but &apos;) need no ';'.  An unknown name is text.
 * - bytes are not converted: CRLF stays CRLF, NUL stays NUL (the matcher
 *   takes a length), and the MAX cut may fall inside a UTF-8 sequence (the
 *   matcher accepts invalid UTF-8).
 * Not followed: message/rfc822 parts, RFC 2231 parameter continuations.
 *
 * Errors: -1 only when out of memory; bad MIME, encodings or HTML are read
 * as far as they make sense and never fail.
 * See also: bodytext.h, pattern.h.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bodytext.h"
#include "strutil.h"

/* What a Content-Type asks of us. */
enum kind {
	KIND_OTHER,     /* not text: skipped */
	KIND_TEXT,      /* a text type other than plain and html */
	KIND_PLAIN,
	KIND_HTML,
	KIND_MULTI,
};

enum cte { CTE_IDENTITY, CTE_QP, CTE_BASE64 };

/* A parsed Content-Type; BND points into the parsed value. */
struct mtype {
	enum kind kind;
	const char *bnd;        /* boundary parameter as written, or NULL */
	size_t blen;
	bool bquoted;           /* BND is the inside of a quoted-string */
};

/* Where the text goes: OUT, with LEFT more bytes allowed. */
struct sink {
	struct og_buf *out;
	size_t left;
};

/* The part headers we read; HDR_NONE for the others. */
enum hdr { HDR_TYPE, HDR_CTE, HDR_DISP, HDR_N, HDR_NONE = HDR_N };

/* Where the innermost level is. */
enum phase {
	PH_PREAMBLE,    /* before its first delimiter */
	PH_HEADERS,     /* in a part's header block */
	PH_BODY,        /* in a text part's body */
	PH_SKIP,        /* in a part we do not read, or a nested epilogue */
};

enum delim { DELIM_NONE, DELIM_PART, DELIM_CLOSE };

/* The state of one walk over a multipart body. */
struct walk {
	const char *body;
	size_t len;
	struct sink *sink;
	struct og_buf scratch;                  /* decoded copy of a part */
	struct og_buf bnd[OG_BODYTEXT_DEPTH];   /* boundaries in force, outermost first */
	size_t blen[OG_BODYTEXT_DEPTH];         /* their lengths, once unquoted */
	size_t depth;
	enum phase phase;
	struct og_buf hdr[HDR_N];               /* unfolded values in the current part */
	bool seen[HDR_N];                       /* the first of each header counts */
	enum hdr cur;                           /* the header continuation lines extend */
	size_t part;                            /* offset of the text being collected */
	enum kind kind;                         /* and how to read it */
	enum cte cte;
};

/* Returned by the HTML scanners when the markup runs past the data. */
#define UNTERMINATED SIZE_MAX

/* Locale-independent: MIME and HTML names are ASCII. */
static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static bool is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

/* RFC 2045 token character. */
static bool is_token(int c)
{
	return c > ' ' && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Are the N bytes at S the lower-case word LIT, in any case? */
static bool span_is(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || lower((unsigned char)s[i]) != lit[i])
			return false;
	return lit[i] == '\0';
}

/* Skip white space (folds included) and RFC 822 comments, nested or not. */
static const char *skip_cfws(const char *p, const char *e)
{
	while (p < e) {
		if (is_space((unsigned char)*p)) {
			p++;
		} else if (*p == '(') {
			size_t nest = 0;

			do {
				if (*p == '\\' && p + 1 < e)
					p++;
				else if (*p == '(')
					nest++;
				else if (*p == ')')
					nest--;
				p++;
			} while (p < e && nest > 0);
		} else {
			break;
		}
	}
	return p;
}

static const char *token_end(const char *p, const char *e)
{
	while (p < e && is_token((unsigned char)*p))
		p++;
	return p;
}

/* Is the first token of the value S (N bytes) the word LIT? */
static bool first_token_is(const char *s, size_t n, const char *lit)
{
	const char *p, *q;

	if (s == NULL)
		return false;
	p = skip_cfws(s, s + n);
	q = token_end(p, s + n);
	return span_is(p, (size_t)(q - p), lit);
}

static enum cte parse_cte(const char *s, size_t n)
{
	if (first_token_is(s, n, "quoted-printable"))
		return CTE_QP;
	if (first_token_is(s, n, "base64"))
		return CTE_BASE64;
	return CTE_IDENTITY;    /* 7bit, 8bit, binary and the unknown */
}

/*
 * Find the boundary among the parameters from P (the first one counts).
 * Lenient: spaces around '=', junk between parameters, and an unquoted
 * value running to ';' or white space, since "----=_Part" is often sent
 * unquoted.
 */
static void find_boundary(const char *p, const char *e, struct mtype *t)
{
	while (p < e) {
		const char *attr, *aend, *v, *vend;
		bool quoted = false;

		p = skip_cfws(p, e);
		if (p == e)
			break;
		if (*p != ';') {
			p++;
			continue;
		}
		p = skip_cfws(p + 1, e);
		attr = p;
		while (p < e && *p != '=' && *p != ';' && !is_space((unsigned char)*p))
			p++;
		aend = p;
		p = skip_cfws(p, e);
		if (p == e || *p != '=')
			continue;
		p = skip_cfws(p + 1, e);
		if (p < e && *p == '"') {
			quoted = true;
			v = ++p;
			while (p < e && *p != '"') {
				if (*p == '\\' && p + 1 < e)
					p++;
				p++;
			}
			vend = p;
			if (p < e)
				p++;
		} else {
			v = p;
			while (p < e && *p != ';' && !is_space((unsigned char)*p))
				p++;
			vend = p;
		}
		if (t->bnd == NULL && span_is(attr, (size_t)(aend - attr), "boundary")) {
			t->bnd = v;
			t->blen = (size_t)(vend - v);
			t->bquoted = quoted;
		}
	}
}

/* Read the Content-Type value S (N bytes, NULL when absent). */
static void parse_type(const char *s, size_t n, struct mtype *t)
{
	const char *p, *e, *type, *sub;
	size_t tn, sn;

	t->kind = KIND_PLAIN;
	t->bnd = NULL;
	t->blen = 0;
	t->bquoted = false;
	if (s == NULL)
		return;
	e = s + n;
	type = skip_cfws(s, e);
	p = token_end(type, e);
	tn = (size_t)(p - type);
	p = skip_cfws(p, e);
	if (tn == 0 || p == e || *p != '/')
		return;
	sub = skip_cfws(p + 1, e);
	p = token_end(sub, e);
	sn = (size_t)(p - sub);
	if (sn == 0)
		return;
	if (span_is(type, tn, "multipart")) {
		t->kind = KIND_MULTI;   /* any subtype reads as mixed (RFC 2046, 5.1.3) */
		find_boundary(p, e, t);
	} else if (span_is(type, tn, "text")) {
		if (span_is(sub, sn, "plain"))
			t->kind = KIND_PLAIN;
		else if (span_is(sub, sn, "html"))
			t->kind = KIND_HTML;
		else
			t->kind = KIND_TEXT;
	} else {
		t->kind = KIND_OTHER;
	}
}

/*
 * Decode quoted-printable S (N bytes) in place; returns the new length.
 * Each output byte takes at least one input byte, so writing never
 * overtakes reading.  A '=' that starts neither an escape nor a soft line
 * break (trailing white space allowed) is kept.
 */
static size_t qp_decode(char *s, size_t n)
{
	size_t r = 0, w = 0;

	while (r < n) {
		int hi, lo;
		size_t k;

		if (s[r] != '=') {
			s[w++] = s[r++];
			continue;
		}
		if (r + 2 < n && (hi = hexval((unsigned char)s[r + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[r + 2])) >= 0) {
			s[w++] = (char)(hi * 16 + lo);
			r += 3;
			continue;
		}
		for (k = r + 1; k < n && is_wsp((unsigned char)s[k]); k++)
			;
		if (k < n && s[k] == '\n') {
			r = k + 1;
		} else if (k + 1 < n && s[k] == '\r' && s[k + 1] == '\n') {
			r = k + 2;
		} else {
			s[w++] = '=';
			r++;
		}
	}
	return w;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode base64 S (N bytes) in place; returns the new length.  Characters
 * outside the alphabet are skipped, the first '=' ends the data, and a cut
 * quantum gives the bytes it holds whole.  Four characters make at most
 * three bytes, so writing never overtakes reading.
 */
static size_t b64_decode(char *s, size_t n)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t w = 0;

	for (size_t r = 0; r < n && s[r] != '='; r++) {
		int v = b64val((unsigned char)s[r]);

		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			s[w++] = (char)((acc >> bits) & 0xff);
			acc &= (1u << bits) - 1;
		}
	}
	return w;
}

/* Pass on N bytes, or as many as are still allowed. */
static int emit(struct sink *k, const char *p, size_t n)
{
	if (n > k->left)
		n = k->left;    /* may cut a UTF-8 sequence: the matcher copes */
	if (n == 0)
		return 0;
	if (og_buf_append(k->out, p, n) != 0)
		return -1;
	k->left -= n;
	return 0;
}

/* Does S (N bytes) start with the tag name LIT (lower case), in any case? */
static bool tag_is(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	if (n < l || !span_is(s, l, lit))
		return false;
	/* As in the HTML tokenizer, only these end a tag name. */
	return n == l || is_space((unsigned char)s[l]) || s[l] == '/' || s[l] == '>';
}

/* Just past the '>' of the start tag at S[I], quoted attribute values skipped. */
static size_t start_tag_end(const char *s, size_t i, size_t n)
{
	bool value = false;     /* after '=': a quote opens a value */

	for (i++; i < n; i++) {
		char c = s[i];

		if (c == '>')
			return i + 1;
		if (value && (c == '"' || c == '\'')) {
			const char *q = memchr(s + i + 1, c, n - i - 1);

			if (q == NULL)
				return UNTERMINATED;
			i = (size_t)(q - s);
			value = false;
		} else if (c == '=') {
			value = true;
		} else if (!is_space((unsigned char)c)) {
			value = false;
		}
	}
	return UNTERMINATED;
}

/* Just past the first "-->" at or after S[I]. */
static size_t comment_end(const char *s, size_t i, size_t n)
{
	while (i + 3 <= n) {
		const char *p = memchr(s + i, '-', n - i - 2);

		if (p == NULL)
			break;
		i = (size_t)(p - s);
		if (s[i + 1] == '-' && s[i + 2] == '>')
			return i + 3;
		i++;
	}
	return UNTERMINATED;
}

/* Just past the end tag of the script or style element NAME, from S[I]. */
static size_t raw_text_end(const char *s, size_t i, size_t n, const char *name)
{
	while (i < n) {
		const char *p = memchr(s + i, '<', n - i);

		if (p == NULL)
			break;
		i = (size_t)(p - s) + 1;
		if (i < n && s[i] == '/' && tag_is(s + i + 1, n - i - 1, name)) {
			const char *g = memchr(s + i, '>', n - i);

			return g != NULL ? (size_t)(g - s) + 1 : UNTERMINATED;
		}
	}
	return UNTERMINATED;
}

/* Just past the markup (tag, comment, element to drop) at S[I] = '<'. */
static size_t markup_end(const char *s, size_t i, size_t n)
{
	static const char *const dropped[] = { "script", "style" };
	const char *g;

	if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0)
		return comment_end(s, i + 2, n);        /* "<!-->" is a whole comment */
	if (s[i + 1] == '!' || s[i + 1] == '?' || s[i + 1] == '/') {
		g = memchr(s + i, '>', n - i);
		return g != NULL ? (size_t)(g - s) + 1 : UNTERMINATED;
	}
	for (size_t d = 0; d < sizeof(dropped) / sizeof(dropped[0]); d++) {
		if (tag_is(s + i + 1, n - i - 1, dropped[d])) {
			size_t e = start_tag_end(s, i, n);

			return e == UNTERMINATED ? e : raw_text_end(s, e, n, dropped[d]);
		}
	}
	return start_tag_end(s, i, n);
}

/* Code point CP as UTF-8 in BUF (4 bytes); 0, surrogates and too big are U+FFFD. */
static size_t utf8_put(uint32_t cp, char *buf)
{
	if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		cp = 0xFFFD;
	if (cp < 0x80) {
		buf[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = (char)(0xC0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		buf[0] = (char)(0xE0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		buf[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	buf[0] = (char)(0xF0 | (cp >> 18));
	buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	buf[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * The character reference at S[I] = '&': its text in BUF (4 bytes), its
 * length in *USED; 0 when it is none and the '&' is just text.
 */
static size_t char_ref(const char *s, size_t i, size_t n, char *buf, size_t *used)
{
	static const struct {
		const char *name, *text;
		bool semi;      /* ';' required: only &apos; is not a legacy name */
	} names[] = {
		{ "amp", "&", false }, { "AMP", "&", false },
		{ "lt", "<", false }, { "LT", "<", false },
		{ "gt", ">", false }, { "GT", ">", false },
		{ "quot", "\"", false }, { "QUOT", "\"", false },
		{ "nbsp", " ", false },
		{ "apos", "'", true },
	};
	size_t j = i + 1;

	if (j < n && s[j] == '#') {
		uint32_t cp = 0, base = 10;
		size_t digits = 0;

		if (++j < n && (s[j] == 'x' || s[j] == 'X')) {
			base = 16;
			j++;
		}
		for (; j < n; j++, digits++) {
			int d = hexval((unsigned char)s[j]);

			if (d < 0 || (uint32_t)d >= base)
				break;
			if (cp <= 0x10FFFF)     /* saturate: any longer number is invalid anyway */
				cp = cp * base + (uint32_t)d;
		}
		if (digits == 0)
			return 0;
		if (j < n && s[j] == ';')
			j++;
		*used = j - i;
		return utf8_put(cp == 0xA0 ? ' ' : cp, buf);
	}
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		size_t l = strlen(names[k].name), e = j + l;
		bool semi;

		if (n - j < l || memcmp(s + j, names[k].name, l) != 0)
			continue;
		semi = e < n && s[e] == ';';
		if (names[k].semi && !semi)
			continue;
		*used = e + (semi ? 1 : 0) - i;
		buf[0] = names[k].text[0];
		return 1;
	}
	return 0;
}

/* Does '<' then C start markup?  Otherwise, as in a browser, the '<' is text. */
static bool opens_markup(int c)
{
	return c == '/' || c == '!' || c == '?' || (lower(c) >= 'a' && lower(c) <= 'z');
}

/* Pass on S[FROM..TO) and note whether it ended in white space. */
static int html_run(struct sink *k, const char *s, size_t from, size_t to, bool *blank)
{
	if (to == from)
		return 0;
	*blank = is_space((unsigned char)s[to - 1]);
	return emit(k, s + from, to - from);
}

/* Pass on the text of the HTML S (N bytes): markup as one space, references decoded. */
static int html_text(struct sink *k, const char *s, size_t n)
{
	size_t i = 0, run = 0;
	bool blank = true;      /* nothing yet, or white space last: markup adds no space */

	while (i < n && k->left > 0) {
		char ref[4];
		size_t m, used = 0;

		if (s[i] == '<' && i + 1 < n && opens_markup((unsigned char)s[i + 1])) {
			size_t end;

			if (html_run(k, s, run, i, &blank) != 0)
				return -1;
			if ((end = markup_end(s, i, n)) == UNTERMINATED)
				return 0;       /* cut off inside markup: the text ends here */
			if (!blank && emit(k, " ", 1) != 0)
				return -1;
			blank = true;
			i = run = end;
		} else if (s[i] == '&' && (m = char_ref(s, i, n, ref, &used)) > 0) {
			if (html_run(k, s, run, i, &blank) != 0 || emit(k, ref, m) != 0)
				return -1;
			blank = (m == 1 && ref[0] == ' ');
			i = run = i + used;
		} else {
			i++;
		}
	}
	return html_run(k, s, run, i, &blank);
}

/* Decode the part S (N raw bytes) and pass on its text, then a newline. */
static int emit_part(struct sink *k, struct og_buf *scratch, const char *s, size_t n,
                     enum kind kind, enum cte cte)
{
	const char *text = s;
	size_t tn = n;
	int rc;

	if (k->left == 0)
		return 0;
	if (cte != CTE_IDENTITY && n > 0) {
		og_buf_reset(scratch);
		if (og_buf_append(scratch, s, n) != 0)
			return -1;
		text = scratch->data;
		tn = cte == CTE_QP ? qp_decode(scratch->data, n) : b64_decode(scratch->data, n);
	}
	rc = kind == KIND_HTML ? html_text(k, text, tn) : emit(k, text, tn);
	if (rc != 0)
		return -1;
	return emit(k, "\n", 1);
}

/* Is the line S..E (no '\n') "--B" or "--B--", then only white space? */
static enum delim delimiter(const char *s, const char *e, const char *b, size_t bn)
{
	enum delim d = DELIM_PART;

	if ((size_t)(e - s) < bn + 2 || memcmp(s + 2, b, bn) != 0)
		return DELIM_NONE;
	s += bn + 2;
	if (e - s >= 2 && s[0] == '-' && s[1] == '-') {
		d = DELIM_CLOSE;
		s += 2;
	}
	for (; s < e; s++)
		if (!is_space((unsigned char)*s))
			return DELIM_NONE;
	return d;
}

/* Which level, innermost first, the line BODY[POS..END) is a delimiter of. */
static enum delim find_delimiter(const struct walk *w, size_t pos, size_t end, size_t *lvl)
{
	const char *s = w->body + pos, *e = w->body + end;

	if (end - pos < 2 || s[0] != '-' || s[1] != '-')
		return DELIM_NONE;
	for (size_t i = w->depth; i > 0; i--) {
		enum delim d = delimiter(s, e, w->bnd[i - 1].data, w->blen[i - 1]);

		if (d != DELIM_NONE) {
			*lvl = i - 1;
			return d;
		}
	}
	return DELIM_NONE;
}

/* Pass on the text collected since w->part, up to END. */
static int end_part(struct walk *w, size_t end)
{
	w->phase = PH_SKIP;
	return emit_part(w->sink, &w->scratch, w->body + w->part, end - w->part, w->kind, w->cte);
}

/* Make the boundary of T, unquoted, that of a new innermost level. */
static int push_level(struct walk *w, const struct mtype *t)
{
	struct og_buf *b = &w->bnd[w->depth];
	size_t n = 0;

	og_buf_reset(b);
	if (og_buf_append(b, t->bnd, t->blen) != 0)
		return -1;
	for (size_t i = 0; i < t->blen; i++) {
		if (t->bquoted && b->data[i] == '\\' && i + 1 < t->blen)
			i++;
		b->data[n++] = b->data[i];
	}
	w->blen[w->depth++] = n;
	w->phase = PH_PREAMBLE;
	return 0;
}

static void begin_headers(struct walk *w)
{
	for (size_t h = 0; h < HDR_N; h++) {
		og_buf_reset(&w->hdr[h]);
		w->seen[h] = false;
	}
	w->cur = HDR_NONE;
	w->phase = PH_HEADERS;
}

/* The header block of a part ended; its body starts at START. */
static int end_headers(struct walk *w, size_t start)
{
	const struct og_buf *ct = &w->hdr[HDR_TYPE], *cd = &w->hdr[HDR_DISP];
	enum cte cte = parse_cte(w->hdr[HDR_CTE].data, w->hdr[HDR_CTE].len);
	struct mtype t;

	parse_type(ct->data, ct->len, &t);
	w->phase = PH_SKIP;
	if (first_token_is(cd->data, cd->len, "attachment"))
		return 0;
	/* Read as text if the multipart is not followed, or until its first delimiter. */
	w->part = start;
	w->cte = cte;
	w->kind = t.kind == KIND_MULTI ? KIND_PLAIN : t.kind;
	if (t.kind == KIND_MULTI && t.blen > 0 && w->depth < OG_BODYTEXT_DEPTH)
		return push_level(w, &t);
	if (w->kind == KIND_PLAIN || w->kind == KIND_HTML)
		w->phase = PH_BODY;
	return 0;
}

/* One line BODY[POS..END) of a part's header block; NEXT starts the next line. */
static int header_line(struct walk *w, size_t pos, size_t end, size_t next)
{
	static const char *const names[HDR_N] = {
		"content-type", "content-transfer-encoding", "content-disposition",
	};
	const char *s = w->body + pos, *e = w->body + end, *p, *name_end;
	size_t h;

	if (e > s && e[-1] == '\r')
		e--;
	if (s == e)
		return end_headers(w, next);
	if (is_wsp((unsigned char)*s)) {
		if (w->cur == HDR_NONE)
			return 0;
		return og_buf_append(&w->hdr[w->cur], s, (size_t)(e - s));
	}
	for (p = s; p < e && (unsigned char)*p > ' ' && (unsigned char)*p < 127 && *p != ':'; p++)
		;
	name_end = p;
	while (p < e && is_wsp((unsigned char)*p))
		p++;
	if (name_end == s || p == e || *p != ':')
		return end_headers(w, pos);     /* not a field: the body has begun */
	for (h = 0; h < HDR_N; h++)
		if (span_is(s, (size_t)(name_end - s), names[h]))
			break;
	w->cur = HDR_NONE;
	if (h == HDR_N || w->seen[h])
		return 0;
	w->seen[h] = true;
	w->cur = (enum hdr)h;
	return og_buf_append(&w->hdr[h], p + 1, (size_t)(e - p - 1));
}

/* The part ends at the delimiter line at POS, less the line break before it (RFC 2046, 5.1.1). */
static size_t part_end(const struct walk *w, size_t pos)
{
	size_t e = pos;

	if (e > w->part && w->body[e - 1] == '\n') {
		e--;
		if (e > w->part && w->body[e - 1] == '\r')
			e--;
	}
	return e;
}

/* Walk the multipart body line by line, from its outermost level already pushed. */
static int walk_body(struct walk *w)
{
	size_t pos = 0;
	int rc;

	while (pos < w->len && w->sink->left > 0) {
		const char *nl = memchr(w->body + pos, '\n', w->len - pos);
		size_t end = nl != NULL ? (size_t)(nl - w->body) : w->len;
		size_t next = nl != NULL ? end + 1 : w->len;
		size_t lvl = 0;
		enum delim d = find_delimiter(w, pos, end, &lvl);

		if (d != DELIM_NONE) {
			/* A preamble counts only when its multipart never had a delimiter. */
			if (w->phase == PH_BODY || (w->phase == PH_PREAMBLE && lvl + 1 < w->depth))
				if ((rc = end_part(w, part_end(w, pos))) != 0)
					return rc;
			w->depth = lvl + 1;
			if (d == DELIM_CLOSE) {
				if (lvl == 0)
					return 0;       /* the rest is the epilogue */
				w->depth = lvl;
				w->phase = PH_SKIP;
			} else {
				begin_headers(w);
			}
		} else if (w->phase == PH_HEADERS) {
			if ((rc = header_line(w, pos, end, next)) != 0)
				return rc;
		}
		pos = next;
	}
	if (w->phase == PH_BODY || w->phase == PH_PREAMBLE)
		return end_part(w, w->len);     /* cut off, or no delimiter at all */
	return 0;
}

int og_bodytext_extract(const char *body, size_t len, const char *ctype, const char *cte,
                        size_t max, struct og_buf *out)
{
	struct sink k = { out, max };
	struct walk w;
	struct mtype t;
	int rc;

	if (max == 0)
		return 0;
	if (body == NULL) {
		body = "";
		len = 0;
	}
	memset(&w, 0, sizeof(w));
	w.body = body;
	w.len = len;
	w.sink = &k;
	og_buf_init(&w.scratch);
	for (size_t i = 0; i < OG_BODYTEXT_DEPTH; i++)
		og_buf_init(&w.bnd[i]);
	for (size_t h = 0; h < HDR_N; h++)
		og_buf_init(&w.hdr[h]);

	parse_type(ctype, ctype != NULL ? strlen(ctype) : 0, &t);
	w.part = 0;
	w.kind = KIND_PLAIN;
	w.cte = parse_cte(cte, cte != NULL ? strlen(cte) : 0);
	if (t.kind == KIND_MULTI && t.blen > 0) {
		rc = push_level(&w, &t);
		if (rc == 0)
			rc = walk_body(&w);
	} else if (t.kind == KIND_OTHER) {
		rc = 0;
	} else {
		/* Any other text type, or a multipart without boundary, reads as plain. */
		enum kind kind = t.kind == KIND_HTML ? KIND_HTML : KIND_PLAIN;

		rc = emit_part(&k, &w.scratch, body, len, kind, w.cte);
	}

	og_buf_free(&w.scratch);
	for (size_t i = 0; i < OG_BODYTEXT_DEPTH; i++)
		og_buf_free(&w.bnd[i]);
	for (size_t h = 0; h < HDR_N; h++)
		og_buf_free(&w.hdr[h]);
	return rc;
}

/*
 * One encoded word "=?charset?E?text?=" starting at P (before E): its
 * decoded bytes into SCRATCH; returns the end of the word, or NULL if P
 * does not start a well-formed one (RFC 2047 section 2; the word may not
 * hold white space or '?' in its text).
 */
static const char *encoded_word(const char *p, const char *e, struct og_buf *scratch)
{
	const char *cs, *enc, *text, *end;
	size_t n;

	if (e - p < 8 || p[0] != '=' || p[1] != '?')
		return NULL;
	for (cs = p + 2; cs < e && *cs != '?'; cs++)
		if (is_space((unsigned char)*cs))
			return NULL;
	if (cs == p + 2 || e - cs < 5 || cs[2] != '?')
		return NULL;
	enc = cs + 1;
	text = cs + 3;
	for (end = text; end + 1 < e && !(end[0] == '?' && end[1] == '='); end++)
		if (is_space((unsigned char)*end) || *end == '?')
			return NULL;
	if (end + 1 >= e)
		return NULL;
	og_buf_reset(scratch);
	if (og_buf_append(scratch, text, (size_t)(end - text)) < 0)
		return NULL;
	if (lower((unsigned char)*enc) == 'b') {
		n = b64_decode(scratch->data, scratch->len);
	} else if (lower((unsigned char)*enc) == 'q') {
		for (size_t i = 0; i < scratch->len; i++)
			if (scratch->data[i] == '_')
				scratch->data[i] = ' ';
		n = qp_decode(scratch->data, scratch->len);
	} else {
		return NULL;
	}
	scratch->len = n;
	scratch->data[n] = '\0';
	return end + 2;
}

int og_bodytext_decode_words(const char *value, struct og_buf *out)
{
	const char *p, *e, *gap = NULL;
	struct og_buf scratch;
	int rc = 0;

	if (value == NULL)
		return 0;
	og_buf_init(&scratch);
	/* the scratch buffer must hold data even for an empty word */
	if (og_buf_append(&scratch, "", 0) < 0)
		return -1;
	e = value + strlen(value);
	for (p = value; p < e && rc == 0;) {
		const char *next = encoded_word(p, e, &scratch);

		if (next != NULL) {
			/* white space between two encoded words is not part of the text */
			gap = NULL;
			rc = og_buf_append(out, scratch.data, scratch.len);
			p = next;
			if (p < e && is_space((unsigned char)*p)) {
				for (gap = p; p < e && is_space((unsigned char)*p); p++)
					;
				if (encoded_word(p, e, &scratch) == NULL)
					rc = og_buf_append(out, gap, (size_t)(p - gap));
			}
			continue;
		}
		rc = og_buf_append(out, p, 1);
		p++;
	}
	og_buf_free(&scratch);
	return rc;
}
