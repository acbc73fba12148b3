/*
 * testutil - small helpers the unit tests share: whole-file read and write,
 * sorted directory listings of fixtures, and capturing what og_log writes to
 * stderr.  Each helper fails the running cmocka test on an I/O error.
 */
#ifndef OG_TESTUTIL_H
#define OG_TESTUTIL_H

#include <limits.h>
#include <stddef.h>
#include <string.h>

/* Rows in a table of test cases. */
#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

/* Fail the test, naming LABEL, unless two strings (either may be NULL) are equal. */
#define CHECK_STR(label, got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ == NULL || w_ == NULL ? g_ != w_ : strcmp(g_, w_) != 0) \
		fail_msg("%s: got \"%s\", want \"%s\"", (label), \
		         g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

/* Make a fresh directory t/tmp-NAME-XXXXXX under the build directory into BUF. 0 or -1. */
int og_test_mkdtemp(char *buf, size_t len, const char *name);
/* Remove DIR and everything in it. 0 or -1. */
int og_test_rmtree(const char *dir);

/* Whole file PATH, NUL-terminated; NULL if it cannot be opened. Caller frees. */
char *og_test_slurp(const char *path);
/* Create or replace PATH with TEXT. */
void og_test_write(const char *path, const char *text);
/* Sorted names of the files in DIR ending in SUFFIX; *N of them. Free with og_test_free_list. */
char **og_test_list_dir(const char *dir, const char *suffix, size_t *n);
void og_test_free_list(char **v, size_t n);

/* stderr diverted to a file in DIR and back. */
struct og_test_capture {
	int saved;
	char path[PATH_MAX];
};
void og_test_capture_start(struct og_test_capture *c, const char *dir);
/* What was written to stderr since the start; caller frees. */
char *og_test_capture_end(struct og_test_capture *c);

#endif
