/*
 * strutil - small string helpers shared by the core: NULL-tolerant
 * duplication, ASCII case folding, strict decimal parsing and a growable,
 * always NUL-terminated buffer.
 *
 * Errors: allocation failure and size overflow are reported by return value
 * (NULL, -1 or false) and leave the caller's data unchanged; nothing aborts.
 * See also: strutil.h.
 */
#include "strutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smallest capacity allocated, so short appends do not realloc each time. */
#define OG_BUF_MIN_CAP 64

char *og_strdup(const char *s)
{
	if (s == NULL)
		return NULL;
	return og_strndup(s, strlen(s));
}

/* Copy at most N bytes of S (stopping early at a NUL); caller frees. */
char *og_strndup(const char *s, size_t n)
{
	char *p;
	size_t len;

	if (s == NULL)
		return NULL;
	len = strnlen(s, n);
	if (len == SIZE_MAX)
		return NULL;
	p = malloc(len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Locale-independent: header names and config keys are ASCII by definition. */
static int ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

bool og_streq_nocase(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	for (;; a++, b++) {
		if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
			return false;
		if (*a == '\0')
			return true;
	}
}

char *og_str_lower(char *s)
{
	if (s == NULL)
		return NULL;
	for (char *p = s; *p != '\0'; p++)
		*p = (char)ascii_lower((unsigned char)*p);
	return s;
}

/*
 * Digits only: strtoull alone would accept leading blanks, a sign (and wrap
 * "-1" to UINT64_MAX) and trailing junk, none of which belong in a config.
 */
bool og_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return false;
		d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return false;
	if (out != NULL)
		*out = v;
	return true;
}

void og_buf_init(struct og_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void og_buf_free(struct og_buf *b)
{
	free(b->data);
	og_buf_init(b);
}

/* Empty the buffer but keep its memory for the next message. */
void og_buf_reset(struct og_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/*
 * Make room for EXTRA more bytes plus the terminator; -1 on overflow/OOM.
 * The capacity doubles, or grows to what is needed with a 64-byte tail,
 * whichever is more: a large first append (a body) costs one allocation
 * of about its size.  The new bytes past the EXTRA ones, which the caller
 * is about to write, are zeroed.
 */
static int buf_reserve(struct og_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->len >= SIZE_MAX || extra > SIZE_MAX - 1 - b->len)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap < OG_BUF_MIN_CAP ? OG_BUF_MIN_CAP : b->cap <= SIZE_MAX / 2 ? 2 * b->cap : need;
	if (cap < need)
		cap = need <= SIZE_MAX - 127 ? (need + 127) / 64 * 64 : need;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -1;
	/* the bytes after the text are defined: PCRE2's JIT reads whole words */
	memset(p + b->len + extra, 0, cap - b->len - extra);
	b->data = p;
	b->cap = cap;
	return 0;
}

int og_buf_append(struct og_buf *b, const char *s, size_t n)
{
	if (n > 0 && s == NULL)
		return -1;
	if (buf_reserve(b, n) != 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int og_buf_puts(struct og_buf *b, const char *s)
{
	if (s == NULL)
		return -1;
	return og_buf_append(b, s, strlen(s));
}

/* Format once to measure, grow, format again into the buffer. */
int og_buf_printf(struct og_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (fmt == NULL)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n) != 0)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->data[b->len] = '\0';
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

size_t og_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };     /* no overlongs */
	uint32_t c = s[0];
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	c &= 0x7fu >> len;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

void og_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
