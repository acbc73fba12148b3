/*
 * jsondoc - the parts the JSON input files (outguard.conf, the rules file)
 * have in common: reading a file with a size limit, parsing it with
 * positioned syntax errors, quoting and describing offending values, and
 * the checker state (path, error count) behind "FILE:LINE:COLUMN: text"
 * messages.  What a message says beyond that is the loader's business.
 * See also: jsonpos.h (positions), diag.h (the messages), config.c, rules.c.
 */
#ifndef OG_JSONDOC_H
#define OG_JSONDOC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "diag.h"
#include "jsonpos.h"

#define OG_JSONDOC_MAX_ERRORS 100  /* per file; the rest are counted, not shown */
#define OG_JSONDOC_DEPTH      8    /* path steps a checker can name */

/* Room for a value quoted with at most MAX bytes shown, and for its description. */
#define OG_JSONDOC_QBUF(max)  (4 * (max) + 8)
#define OG_JSONDOC_DBUF(max)  (OG_JSONDOC_QBUF(max) + 32)

/* What kind of file a loader reads: its size limit and the texts about it. */
struct og_jsondoc_kind {
	size_t max_size;           /* bytes */
	const char *max_text;      /* the limit for people: "1 MiB" */
	const char *empty_text;    /* message for an empty or blank file */
	const char *nul_text;      /* message for "\u0000" in a string; NULL: jansson's */
};

/*
 * Read PATH whole, at most KIND->max_size bytes, NUL-terminated; *LENP is
 * its length.  Caller frees; NULL with one message in DIAG:
 *   PATH: cannot read: REASON
 *   PATH: file is too large (N bytes): expected at most MAX bytes (TEXT)
 *   PATH: file is too large (more than MAX bytes): expected at most ...
 *   PATH: out of memory
 */
char *og_jsondoc_read(const char *path, const struct og_jsondoc_kind *kind, size_t *lenp,
                      struct og_diag *diag);
/* False, with the "file is too large (N bytes)" message for LABEL, if LEN is over the limit. */
bool og_jsondoc_size_ok(const char *label, size_t len, const struct og_jsondoc_kind *kind,
                        struct og_diag *diag);
/*
 * Parse TEXT (LEN bytes), an object or an array, with duplicate keys
 * rejected.  Caller owns the reference; NULL with one message in DIAG:
 *   LABEL:1:1: EMPTY_TEXT             (nothing but blanks)
 *   LABEL:L:C: <jansson's text>       (non-printable bytes as \xHH)
 *   LABEL:L:C: NUL_TEXT               (if set, for a "\u0000")
 */
json_t *og_jsondoc_parse(const char *text, size_t len, const char *label,
                         const struct og_jsondoc_kind *kind, struct og_diag *diag);

/*
 * S (LEN bytes) in double quotes, safe to log: '"' and '\' escaped, other
 * bytes outside printable ASCII as \xHH, at most MAX bytes shown with "..."
 * after the closing quote when shortened.  BUF of SIZE bytes,
 * OG_JSONDOC_QBUF(MAX) for the whole of it; a smaller one shows fewer bytes.
 */
void og_jsondoc_quote(const char *s, size_t len, size_t max, char *buf, size_t size);
/* V named by its type, with the value when short ("string \"60\"", "real 60.0"). */
void og_jsondoc_describe(const json_t *v, size_t max, char *buf, size_t size);

/* Where a checker is in a document, and what it has found. */
struct og_jsondoc {
	const char *text;          /* the document, for positions; NULL: none */
	size_t len;
	const char *label;         /* file name in messages */
	struct og_diag *diag;
	struct og_jsonpos_step path[OG_JSONDOC_DEPTH];
	size_t depth;              /* may exceed OG_JSONDOC_DEPTH; the rest is not named */
	unsigned errors;
	bool oom;
};

void og_jsondoc_push_key(struct og_jsondoc *d, const char *key);
void og_jsondoc_push_index(struct og_jsondoc *d, size_t index);
void og_jsondoc_pop(struct og_jsondoc *d);
/* The first N steps of the path as text: "scope.trusted_networks[2]"; "" for none. */
void og_jsondoc_path_text(const struct og_jsondoc *d, size_t n, char *buf, size_t size);
/*
 * Count an error and add the message to the diag, at the position of the
 * current path's value (with AT_KEY, of its last key), or without a
 * position when there is no text or the path is not found.  After
 * OG_JSONDOC_MAX_ERRORS, one line says the rest are not shown.
 */
void og_jsondoc_report(struct og_jsondoc *d, bool at_key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Remember an allocation failure; returns NULL for the caller to return. */
void *og_jsondoc_oom(struct og_jsondoc *d);
/*
 * End a check: after an allocation failure adds "FILE: out of memory".
 * True if the document passed: no error reported and no allocation failed.
 */
bool og_jsondoc_finish(struct og_jsondoc *d);

#endif
