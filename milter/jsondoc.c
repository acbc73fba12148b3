/*
 * jsondoc - reading, parsing and reporting on the JSON input files, the
 * parts config.c and rules.c share.  A file is read whole up to a size
 * limit and parsed by jansson with duplicate keys rejected; the checker
 * state (path of keys and indexes, error count) turns a loader's semantic
 * message into "FILE:LINE:COLUMN: text" with the position found by
 * og_jsonpos_locate.
 *
 * Errors, each added to an og_diag (KIND names the limit and the texts):
 *   FILE: cannot read: REASON
 *   FILE: file is too large (N bytes): expected at most MAX bytes (TEXT)
 *   FILE: file is too large (more than MAX bytes): expected at most ...
 *   FILE: out of memory
 *   FILE:1:1: EMPTY_TEXT                  (nothing but blanks)
 *   FILE:L:C: <jansson's text>            (syntax, duplicate keys)
 *   FILE: too many errors: only the first 100 are shown
 * Text from the file (jansson's messages quote it) has non-printable bytes
 * escaped, so every message is safe to log.
 * See also: jsondoc.h, jsonpos.c, diag.c.
 */
#include "jsondoc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIPE_CHUNK ((size_t)65536)   /* first buffer for a file of unknown size */

bool og_jsondoc_size_ok(const char *label, size_t len, const struct og_jsondoc_kind *kind,
                        struct og_diag *diag)
{
	if (len <= kind->max_size)
		return true;
	og_diag_add(diag, label, 0, 0, "file is too large (%zu bytes): expected at most %zu bytes (%s)",
	            len, kind->max_size, kind->max_text);
	return false;
}

/* Read all of FD into a new buffer (caller frees), at most one byte over the limit. */
static char *read_all(int fd, const struct stat *st, const char *path,
                      const struct og_jsondoc_kind *kind, size_t *lenp, struct og_diag *diag)
{
	size_t max = kind->max_size, len = 0, cap;
	char *buf;

	/* room for one byte more than allowed, to notice a file that grew or a pipe */
	if (S_ISREG(st->st_mode))
		cap = (size_t)st->st_size + 2;
	else
		cap = PIPE_CHUNK < max + 2 ? PIPE_CHUNK : max + 2;
	if ((buf = malloc(cap)) == NULL) {
		og_diag_add(diag, path, 0, 0, "out of memory");
		return NULL;
	}
	for (;;) {
		ssize_t got;

		if (len + 1 == cap) {
			size_t ncap = cap > (max + 2) / 2 ? max + 2 : cap * 2;
			char *nbuf;

			if (ncap <= cap)
				break;          /* holds max + 1 bytes: too large */
			if ((nbuf = realloc(buf, ncap)) == NULL) {
				og_diag_add(diag, path, 0, 0, "out of memory");
				free(buf);
				return NULL;
			}
			buf = nbuf;
			cap = ncap;
		}
		got = read(fd, buf + len, cap - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			og_diag_add(diag, path, 0, 0, "cannot read: %s", strerror(errno));
			free(buf);
			return NULL;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > max) {
		og_diag_add(diag, path, 0, 0, "file is too large (more than %zu bytes): expected at "
		            "most %zu bytes (%s)", max, max, kind->max_text);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* Caller frees the text; NULL with a message in DIAG. */
char *og_jsondoc_read(const char *path, const struct og_jsondoc_kind *kind, size_t *lenp,
                      struct og_diag *diag)
{
	struct stat st;
	char *buf = NULL;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		og_diag_add(diag, path, 0, 0, "cannot read: %s", strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		og_diag_add(diag, path, 0, 0, "cannot read: %s", strerror(EISDIR));
	} else if (!S_ISREG(st.st_mode) || (uintmax_t)st.st_size <= kind->max_size) {
		buf = read_all(fd, &st, path, kind, lenp, diag);
	} else {
		og_diag_add(diag, path, 0, 0, "file is too large (%jd bytes): expected at most %zu "
		            "bytes (%s)", (intmax_t)st.st_size, kind->max_size, kind->max_text);
	}
	if (fd >= 0)
		close(fd);
	return buf;
}

static bool blank(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
			return false;
	return true;
}

/* A jansson syntax error as a message, its text made safe to log. */
static void syntax_error(const char *label, const json_error_t *e, const char *nul_text,
                         struct og_diag *diag)
{
	char text[sizeof(e->text) * 4];
	int line = e->line > 0 ? e->line : 1, col = e->column > 0 ? e->column : 1;
	size_t o = 0;

	if (nul_text != NULL && json_error_code(e) == json_error_null_character) {
		og_diag_add(diag, label, line, col, "%s", nul_text);
		return;
	}
	for (size_t i = 0; i < sizeof(e->text) && e->text[i] != '\0' && o + 5 < sizeof(text); i++) {
		unsigned char c = (unsigned char)e->text[i];

		if (c >= 0x20 && c < 0x7f)
			text[o++] = (char)c;
		else
			o += (size_t)snprintf(text + o, sizeof(text) - o, "\\x%02x", c);
	}
	text[o] = '\0';
	og_diag_add(diag, label, line, col, "%s", text);
}

/* Caller owns the returned reference; NULL with a message in DIAG. */
json_t *og_jsondoc_parse(const char *text, size_t len, const char *label,
                         const struct og_jsondoc_kind *kind, struct og_diag *diag)
{
	json_error_t err;
	json_t *root;

	if (blank(text, len)) {
		og_diag_add(diag, label, 1, 1, "%s", kind->empty_text);
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL)
		syntax_error(label, &err, kind->nul_text, diag);
	return root;
}

void og_jsondoc_quote(const char *s, size_t len, size_t max, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (size < OG_JSONDOC_QBUF(0)) {
		if (size > 0)
			buf[0] = '\0';
		return;
	}
	if (size < OG_JSONDOC_QBUF(max))
		max = (size - OG_JSONDOC_QBUF(0)) / 4;
	buf[o++] = '"';
	for (size_t i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o++] = '"';
	if (len > max) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

void og_jsondoc_describe(const json_t *v, size_t max, char *buf, size_t size)
{
	static const char str[] = "string ";
	char r[32];

	switch (json_typeof(v)) {
	case JSON_STRING:
		if (size < sizeof(str)) {
			snprintf(buf, size, "string");
			return;
		}
		memcpy(buf, str, sizeof(str) - 1);
		og_jsondoc_quote(json_string_value(v), json_string_length(v), max,
		                 buf + sizeof(str) - 1, size - (sizeof(str) - 1));
		return;
	case JSON_INTEGER:
		snprintf(buf, size, "integer %" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	case JSON_REAL:
		snprintf(r, sizeof(r), "%.17g", json_real_value(v));
		/* 60.0 prints as "60": keep it recognisable as a real */
		snprintf(buf, size, "real %s%s", r, strpbrk(r, ".eEin") == NULL ? ".0" : "");
		return;
	case JSON_TRUE:
		snprintf(buf, size, "boolean true");
		return;
	case JSON_FALSE:
		snprintf(buf, size, "boolean false");
		return;
	case JSON_NULL:
		snprintf(buf, size, "null");
		return;
	case JSON_OBJECT:
		snprintf(buf, size, "object");
		return;
	case JSON_ARRAY:
		snprintf(buf, size, "array");
		return;
	}
	snprintf(buf, size, "value");
}

/* ---- the checker's path and messages ---- */

void og_jsondoc_push_key(struct og_jsondoc *d, const char *key)
{
	if (d->depth < OG_JSONDOC_DEPTH)
		d->path[d->depth] = (struct og_jsonpos_step){ .key = key, .index = 0 };
	d->depth++;
}

void og_jsondoc_push_index(struct og_jsondoc *d, size_t index)
{
	if (d->depth < OG_JSONDOC_DEPTH)
		d->path[d->depth] = (struct og_jsonpos_step){ .key = NULL, .index = index };
	d->depth++;
}

void og_jsondoc_pop(struct og_jsondoc *d)
{
	if (d->depth > 0)
		d->depth--;
}

/* KEY as a path step: bytes outside printable ASCII as \xHH, at most 48 bytes, then "...". */
static int path_key(const char *key, char *buf, size_t size)
{
	size_t off = 0, i;

	for (i = 0; key[i] != '\0' && i < 48 && off + 5 < size; i++) {
		unsigned char c = (unsigned char)key[i];

		if (c >= 0x20 && c < 0x7f)
			buf[off++] = (char)c;
		else
			off += (size_t)snprintf(buf + off, size - off, "\\x%02x", c);
	}
	if (key[i] != '\0' && off + 4 < size) {
		memcpy(buf + off, "...", 3);
		off += 3;
	}
	if (size > 0)
		buf[off < size ? off : size - 1] = '\0';
	return (int)off;
}

void og_jsondoc_path_text(const struct og_jsondoc *d, size_t n, char *buf, size_t size)
{
	size_t off = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n && i < OG_JSONDOC_DEPTH && off < size; i++) {
		int w;

		if (d->path[i].key != NULL) {
			char step[48 * 4 + 8];

			path_key(d->path[i].key, step, sizeof(step));
			w = snprintf(buf + off, size - off, "%s%s", i > 0 ? "." : "", step);
		} else
			w = snprintf(buf + off, size - off, "[%zu]", d->path[i].index);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

void og_jsondoc_report(struct og_jsondoc *d, bool at_key, const char *fmt, ...)
{
	size_t depth = d->depth < OG_JSONDOC_DEPTH ? d->depth : OG_JSONDOC_DEPTH;
	int line = 0, col = 0, n;
	char *msg;
	va_list ap;

	d->errors++;
	if (d->errors > OG_JSONDOC_MAX_ERRORS) {
		if (d->errors == OG_JSONDOC_MAX_ERRORS + 1)
			og_diag_add(d->diag, d->label, 0, 0, "too many errors: only the first %d are shown",
			            OG_JSONDOC_MAX_ERRORS);
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (msg = malloc((size_t)n + 1)) == NULL) {
		og_jsondoc_oom(d);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (d->text == NULL ||
	    !og_jsonpos_locate(d->text, d->len, d->path, depth, at_key, &line, &col))
		line = col = 0;
	og_diag_add(d->diag, d->label, line, col, "%s", msg);
	free(msg);
}

void *og_jsondoc_oom(struct og_jsondoc *d)
{
	d->oom = true;
	return NULL;
}

bool og_jsondoc_finish(struct og_jsondoc *d)
{
	if (d->oom)
		og_diag_add(d->diag, d->label, 0, 0, "out of memory");
	return d->errors == 0 && !d->oom;
}
