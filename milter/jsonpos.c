/*
 * jsonpos - find where a value (or its key) sits in JSON source text, so a
 * rule file's semantic errors can name line and column.
 *
 * The walker follows a path of object keys and array indexes, skipping
 * everything else with a small JSON scanner.  It trusts nothing: every read
 * is bounded by LEN, malformed text anywhere on the way makes the lookup
 * fail, and nesting deeper than JSONPOS_MAX_DEPTH fails instead of using
 * the stack without bound.  Keys are compared after decoding their escapes
 * (\uXXXX too, surrogate pairs included); with duplicate keys the first
 * one wins.  Lines count '\n' (as jansson does, so "\r\n" is one line
 * break); columns count bytes from 1.
 *
 * Errors: none reported; og_jsonpos_locate returns false when the path does
 * not exist or the text is not valid JSON along it.
 * See also: jsonpos.h, rules.c (the caller).
 */
#include "jsonpos.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

/* Deeper nesting than any rule file needs; bounds the scanner's recursion. */
#define JSONPOS_MAX_DEPTH 512

/* The scanner: a cursor over TEXT[0..LEN). */
struct scan {
	const char *text;
	size_t len;
	size_t pos;
};

static bool skip_value(struct scan *s, int depth);

static void skip_ws(struct scan *s)
{
	while (s->pos < s->len) {
		char c = s->text[s->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		s->pos++;
	}
}

/* The byte at the cursor, or -1 at the end of the text. */
static int peek(const struct scan *s)
{
	return s->pos < s->len ? (unsigned char)s->text[s->pos] : -1;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read the 4 hex digits after "\u"; -1 if they are not there. */
static long read_u4(struct scan *s)
{
	long v = 0;

	if (s->len - s->pos < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hex_value((unsigned char)s->text[s->pos + (size_t)i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	s->pos += 4;
	return v;
}

/* Compare one decoded byte against the wanted key, tracking a mismatch. */
static void match_byte(const char *want, size_t *wpos, bool *same, unsigned char b)
{
	if (want == NULL || !*same)
		return;
	if ((unsigned char)want[*wpos] != b || b == '\0')
		*same = false;
	else
		(*wpos)++;
}

/* Feed code point CP as UTF-8 to match_byte. */
static void match_codepoint(const char *want, size_t *wpos, bool *same, unsigned long cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	for (size_t i = 0; i < n; i++)
		match_byte(want, wpos, same, u[i]);
}

/* Decode "\uXXXX" (the backslash and 'u' already read), pairing surrogates. */
static bool scan_u_escape(struct scan *s, const char *want, size_t *wpos, bool *same)
{
	long hi = read_u4(s), lo;

	if (hi < 0)
		return false;
	if (hi >= 0xd800 && hi <= 0xdbff && s->len - s->pos >= 2 &&
	    s->text[s->pos] == '\\' && s->text[s->pos + 1] == 'u') {
		size_t save = s->pos;

		s->pos += 2;
		lo = read_u4(s);
		if (lo >= 0xdc00 && lo <= 0xdfff) {
			match_codepoint(want, wpos, same,
			                0x10000 + (((unsigned long)hi - 0xd800) << 10) +
			                        ((unsigned long)lo - 0xdc00));
			return true;
		}
		/* Not a pair: the second escape is read on its own next time. */
		s->pos = save;
	}
	if ((hi >= 0xd800 && hi <= 0xdfff) || hi == 0) {
		/* A lone surrogate or NUL never equals a C-string key. */
		if (want != NULL)
			*same = false;
		return true;
	}
	match_codepoint(want, wpos, same, (unsigned long)hi);
	return true;
}

/*
 * Scan a string at the cursor (on its opening quote).  With WANT, set *SAME
 * to whether its decoded content equals WANT.  False if it is malformed.
 */
static bool scan_string(struct scan *s, const char *want, bool *same)
{
	size_t wpos = 0;
	bool eq = true;

	if (peek(s) != '"')
		return false;
	s->pos++;
	while (s->pos < s->len) {
		unsigned char c = (unsigned char)s->text[s->pos++];

		if (c == '"') {
			if (same != NULL)
				*same = want != NULL && eq && want[wpos] == '\0';
			return true;
		}
		if (c < 0x20)
			return false;   /* raw control bytes are not allowed in JSON strings */
		if (c != '\\') {
			match_byte(want, &wpos, &eq, c);
			continue;
		}
		if (s->pos >= s->len)
			return false;
		c = (unsigned char)s->text[s->pos++];
		switch (c) {
		case '"': case '\\': case '/':
			break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			if (!scan_u_escape(s, want, &wpos, &eq))
				return false;
			continue;
		default:
			return false;
		}
		match_byte(want, &wpos, &eq, c);
	}
	return false;
}

/* Skip a run of at least one digit. */
static bool skip_digits(struct scan *s)
{
	size_t start = s->pos;

	while (s->pos < s->len && s->text[s->pos] >= '0' && s->text[s->pos] <= '9')
		s->pos++;
	return s->pos > start;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool skip_number(struct scan *s)
{
	if (peek(s) == '-')
		s->pos++;
	if (peek(s) == '0')
		s->pos++;
	else if (!skip_digits(s))
		return false;
	if (peek(s) == '.') {
		s->pos++;
		if (!skip_digits(s))
			return false;
	}
	if (peek(s) == 'e' || peek(s) == 'E') {
		s->pos++;
		if (peek(s) == '+' || peek(s) == '-')
			s->pos++;
		if (!skip_digits(s))
			return false;
	}
	return true;
}

static bool skip_literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if (s->len - s->pos < n || memcmp(s->text + s->pos, word, n) != 0)
		return false;
	s->pos += n;
	return true;
}

/*
 * Skip one object member list or array element list after its opening
 * bracket, up to and including CLOSE.  Members need a key and a colon.
 */
static bool skip_container(struct scan *s, int depth, char close, bool members)
{
	s->pos++;
	skip_ws(s);
	if (peek(s) == close) {
		s->pos++;
		return true;
	}
	for (;;) {
		if (members) {
			if (!scan_string(s, NULL, NULL))
				return false;
			skip_ws(s);
			if (peek(s) != ':')
				return false;
			s->pos++;
			skip_ws(s);
		}
		if (!skip_value(s, depth + 1))
			return false;
		skip_ws(s);
		if (peek(s) == close) {
			s->pos++;
			return true;
		}
		if (peek(s) != ',')
			return false;
		s->pos++;
		skip_ws(s);
	}
}

/* Skip the value at the cursor (no leading whitespace); false if malformed or too deep. */
static bool skip_value(struct scan *s, int depth)
{
	switch (peek(s)) {
	case '{':
		return depth < JSONPOS_MAX_DEPTH && skip_container(s, depth, '}', true);
	case '[':
		return depth < JSONPOS_MAX_DEPTH && skip_container(s, depth, ']', false);
	case '"':
		return scan_string(s, NULL, NULL);
	case 't':
		return skip_literal(s, "true");
	case 'f':
		return skip_literal(s, "false");
	case 'n':
		return skip_literal(s, "null");
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return skip_number(s);
	default:
		return false;
	}
}

/*
 * Inside the object at the cursor, move to the value of the first member
 * named KEY; *KEY_AT gets the offset of its opening quote.
 */
static bool find_member(struct scan *s, int depth, const char *key, size_t *key_at)
{
	if (peek(s) != '{' || depth >= JSONPOS_MAX_DEPTH)
		return false;
	s->pos++;
	skip_ws(s);
	if (peek(s) == '}')
		return false;
	for (;;) {
		size_t at = s->pos;
		bool same = false;

		if (!scan_string(s, key, &same))
			return false;
		skip_ws(s);
		if (peek(s) != ':')
			return false;
		s->pos++;
		skip_ws(s);
		if (same) {
			*key_at = at;
			return true;
		}
		if (!skip_value(s, depth + 1))
			return false;
		skip_ws(s);
		if (peek(s) != ',')
			return false;   /* '}' (not found) or garbage */
		s->pos++;
		skip_ws(s);
	}
}

/* Inside the array at the cursor, move to element INDEX (0-based). */
static bool find_element(struct scan *s, int depth, size_t index)
{
	if (peek(s) != '[' || depth >= JSONPOS_MAX_DEPTH)
		return false;
	s->pos++;
	skip_ws(s);
	if (peek(s) == ']')
		return false;
	for (size_t i = 0;; i++) {
		if (i == index)
			return true;
		if (!skip_value(s, depth + 1))
			return false;
		skip_ws(s);
		if (peek(s) != ',')
			return false;   /* ']' (too few elements) or garbage */
		s->pos++;
		skip_ws(s);
	}
}

/* 1-based line and byte column of offset AT, clamped to INT_MAX. */
static void line_col(const char *text, size_t at, int *line, int *col)
{
	size_t l = 1, bol = 0;

	for (size_t i = 0; i < at; i++)
		if (text[i] == '\n') {
			l++;
			bol = i + 1;
		}
	if (line != NULL)
		*line = l > INT_MAX ? INT_MAX : (int)l;
	if (col != NULL)
		*col = at - bol + 1 > INT_MAX ? INT_MAX : (int)(at - bol + 1);
}

bool og_jsonpos_locate(const char *text, size_t len,
                       const struct og_jsonpos_step *path, size_t n,
                       bool want_key, int *line, int *col)
{
	struct scan s = { text, len, 0 };
	size_t at, key_at = 0;

	if (text == NULL || (n > 0 && path == NULL))
		return false;
	skip_ws(&s);
	for (size_t i = 0; i < n; i++) {
		/* Each step enters one container: the depth is the step number. */
		int depth = i > INT_MAX ? INT_MAX : (int)i;

		if (path[i].key != NULL) {
			if (!find_member(&s, depth, path[i].key, &key_at))
				return false;
		} else if (!find_element(&s, depth, path[i].index)) {
			return false;
		}
	}
	at = s.pos;
	/* The value must be whole, so a cut-off file does not yield a position. */
	if (!skip_value(&s, n > INT_MAX ? INT_MAX : (int)n))
		return false;
	if (want_key && n > 0 && path[n - 1].key != NULL)
		at = key_at;
	line_col(text, at, line, col);
	return true;
}
