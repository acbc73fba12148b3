/*
 * diag - collect error messages about input files so that every error in a
 * file is reported at once.  Messages read "FILE:LINE:COLUMN: text", with
 * COLUMN dropped when unknown (<= 0), LINE and COLUMN dropped when the line
 * is unknown, and the "FILE: " prefix dropped when FILE is NULL.
 *
 * Errors: an allocation failure sets d->oom and drops that message; the
 * caller reports "some messages are missing" instead of failing silently.
 * See also: diag.h, jsonpos.h (line/column of JSON values).
 */
#include "diag.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "strutil.h"

void og_diag_init(struct og_diag *d)
{
	d->msgs = NULL;
	d->n = 0;
	d->cap = 0;
	d->oom = 0;
}

void og_diag_free(struct og_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	og_diag_init(d);
}

/* Room for EXTRA more message pointers; -1 on overflow or OOM. */
static int diag_reserve(struct og_diag *d, size_t extra)
{
	size_t cap;
	char **p;

	if (extra > SIZE_MAX / sizeof(char *) - d->n)
		return -1;
	if (d->n + extra <= d->cap)
		return 0;
	cap = d->cap < 8 ? 8 : d->cap;
	while (cap < d->n + extra) {
		if (cap > SIZE_MAX / sizeof(char *) / 2) {
			cap = d->n + extra;
			break;
		}
		cap *= 2;
	}
	p = realloc(d->msgs, cap * sizeof(char *));
	if (p == NULL)
		return -1;
	d->msgs = p;
	d->cap = cap;
	return 0;
}

/* Reserve the slot first so a formatted message is never lost to a failed realloc. */
void og_diag_add(struct og_diag *d, const char *file, int line, int col, const char *fmt, ...)
{
	struct og_buf b;
	va_list ap;
	int n, rc = 0;

	if (d == NULL)
		return;
	if (fmt == NULL || diag_reserve(d, 1) != 0) {
		d->oom = 1;
		return;
	}
	og_buf_init(&b);
	if (file != NULL) {
		if (line <= 0)
			rc = og_buf_printf(&b, "%s: ", file);
		else if (col <= 0)
			rc = og_buf_printf(&b, "%s:%d: ", file, line);
		else
			rc = og_buf_printf(&b, "%s:%d:%d: ", file, line, col);
	}
	if (rc == 0) {
		char *text;

		va_start(ap, fmt);
		n = vsnprintf(NULL, 0, fmt, ap);
		va_end(ap);
		text = n < 0 ? NULL : malloc((size_t)n + 1);
		if (text != NULL) {
			va_start(ap, fmt);
			n = vsnprintf(text, (size_t)n + 1, fmt, ap);
			va_end(ap);
			rc = n < 0 ? -1 : og_buf_append(&b, text, (size_t)n);
			free(text);
		} else {
			rc = -1;
		}
	}
	/* An empty message with no file still needs an allocated string. */
	if (rc == 0 && b.data == NULL)
		rc = og_buf_append(&b, "", 0);
	if (rc != 0) {
		og_buf_free(&b);
		d->oom = 1;
		return;
	}
	d->msgs[d->n++] = b.data;
}

/* On OOM SRC's messages are dropped and dst->oom set, so SRC is always left empty. */
void og_diag_move(struct og_diag *dst, struct og_diag *src)
{
	if (dst == NULL || src == NULL || dst == src)
		return;
	if (src->n > 0 && diag_reserve(dst, src->n) != 0) {
		og_diag_free(src);
		dst->oom = 1;
		return;
	}
	for (size_t i = 0; i < src->n; i++)
		dst->msgs[dst->n++] = src->msgs[i];
	if (src->oom)
		dst->oom = 1;
	free(src->msgs);
	og_diag_init(src);
}
