/*
 * strutil - small string helpers shared by the core: growable buffers,
 * bounded duplication, case-insensitive compare, number parsing.
 * Allocation failures are reported by return value, never by abort.
 */
#ifndef OG_STRUTIL_H
#define OG_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* strdup(3) that accepts NULL (returns NULL). Caller frees. */
char *og_strdup(const char *s);
/* Duplicate at most N bytes of S and terminate. Caller frees. */
char *og_strndup(const char *s, size_t n);
/* ASCII case-insensitive equality; NULLs are equal only to each other. */
bool og_streq_nocase(const char *a, const char *b);
/* Lower-case ASCII letters in place; returns S. */
char *og_str_lower(char *s);
/* Parse a whole decimal unsigned number in [MIN, MAX]; false on junk/overflow. */
bool og_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * The UTF-8 character at S (N > 0 bytes left): its length, with the code
 * point in *CP; 0 if the bytes there are not valid UTF-8 (overlong forms,
 * surrogates and code points beyond U+10FFFF are not).
 */
size_t og_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Format an error text into ERR (may be NULL or of size 0: nothing is written). */
void og_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A growable, always NUL-terminated byte buffer (Postfix VSTRING-like);
   the bytes past the text up to its capacity are zero. */
struct og_buf {
	char *data;
	size_t len;
	size_t cap;
};
void og_buf_init(struct og_buf *b);
void og_buf_free(struct og_buf *b);
void og_buf_reset(struct og_buf *b);
/* Append; returns 0 or -1 on allocation failure or size overflow. */
int og_buf_append(struct og_buf *b, const char *s, size_t n);
int og_buf_puts(struct og_buf *b, const char *s);
int og_buf_printf(struct og_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
