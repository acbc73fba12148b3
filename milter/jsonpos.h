/*
 * jsonpos - find where a value sits in JSON source text.
 *
 * jansson tells the position of syntax errors but not of values, and a rule
 * file's semantic errors ("window must be > 0") must still name line and
 * column.  This module walks the text along a path of object keys and array
 * indexes and returns the position of the value (or of its key).  It is only
 * used on the error path, on text jansson has already accepted.
 */
#ifndef OG_JSONPOS_H
#define OG_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

/* One step of a path: an object member (KEY != NULL) or an array element (INDEX). */
struct og_jsonpos_step {
	const char *key;
	size_t index;
};

/*
 * Locate the value at PATH (N steps; N == 0 is the root) in TEXT of LEN bytes.
 * With WANT_KEY and a last step that is a key, return the position of the
 * key's opening quote instead of the value.  LINE and COL are 1-based,
 * COL counted in bytes.  Returns false if the path does not exist, if the
 * text along the path (or the value itself) is not valid JSON, or if it
 * nests deeper than 512 levels.  With duplicate keys the first one counts.
 * Never reads past LEN; TEXT need not be NUL-terminated.  LINE/COL may be NULL.
 */
bool og_jsonpos_locate(const char *text, size_t len,
                       const struct og_jsonpos_step *path, size_t n,
                       bool want_key, int *line, int *col);

#endif
