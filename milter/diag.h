/*
 * diag - error messages about input files, collected so that every error
 * in a file is reported, not just the first.  Each message has the form
 *   FILE:LINE:COLUMN: what is wrong
 * (LINE/COLUMN omitted when unknown), the form editors and `gcc` use, so an
 * admin can jump to the spot.
 */
#ifndef OG_DIAG_H
#define OG_DIAG_H

#include <stddef.h>

struct og_diag {
	char **msgs;
	size_t n;
	size_t cap;
	int oom;        /* an allocation failed; some messages may be missing */
};

void og_diag_init(struct og_diag *d);
void og_diag_free(struct og_diag *d);
/* Add one message. LINE/COL <= 0 mean unknown. */
void og_diag_add(struct og_diag *d, const char *file, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Move all messages of SRC to the end of DST (SRC is left empty). */
void og_diag_move(struct og_diag *dst, struct og_diag *src);

#endif
