/*
 * pattern - compiled PCRE2 patterns with bounded matching: trap-phrase
 * lists and the regular expressions of header rules.
 *
 * A phrase list of any size is compiled into one pattern whose
 * alternatives share their common prefixes (a trie), so the cost of a
 * scan grows with the length of the text, not with the number of phrases.
 * Phrases match whole words only (not inside a longer word; Unicode
 * letters, digits and '_' are word characters), case-insensitively, and a
 * run of white space in a phrase matches any run of white space (line
 * breaks included) in the text.  Phrases are literal text: regular
 * expression syntax in them has no meaning.
 * Texts need not be valid UTF-8 (PCRE2_MATCH_INVALID_UTF) nor terminated.
 * A text longer than 2 KiB should lie in a buffer whose bytes after it are
 * defined, as in an og_buf: the JIT reads whole words past its end.
 * Every match runs under a match and depth limit, so no pattern can hold
 * a thread: a search that reaches the limit ends as "no match" and says so.
 * Compiled with PCRE2's JIT where the platform has it, the interpreter
 * otherwise.  A compiled pattern is immutable and may be used by many
 * threads at once.  Pure: knows nothing of libmilter.
 */
#ifndef OG_PATTERN_H
#define OG_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#define OG_PATTERN_PHRASE_MAX 200     /* bytes in one phrase */
#define OG_PATTERN_PHRASES_MAX 100000 /* phrases in one list */

struct og_pattern;

/*
 * Compile the N phrases.  NULL on error, with ERR saying what is wrong and
 * *BAD set to the index of the offending phrase (or N when the list as a
 * whole failed): an empty phrase, one of only white space, one longer than
 * OG_PATTERN_PHRASE_MAX, one that is not valid UTF-8, too many phrases, or
 * out of memory.  Duplicates (after case folding) are allowed and count as one.
 */
struct og_pattern *og_pattern_phrases(const char *const *phrases, size_t n, size_t *bad,
                                      char *err, size_t errlen);

/*
 * Compile the regular expression RE (PCRE2 syntax, UTF and Unicode
 * properties on; CASELESS folds case).  NULL on error, with ERR holding
 * PCRE2's message and *OFFSET the byte offset in RE where it was found.
 */
struct og_pattern *og_pattern_regex(const char *re, bool caseless, size_t *offset,
                                    char *err, size_t errlen);

void og_pattern_free(struct og_pattern *p);

/* Result of a search. */
struct og_pattern_result {
	size_t count;          /* phrase list: distinct phrases found; regex: 1 if it matched */
	bool limited;          /* the match limit was reached: the count may be short */
};

/*
 * Search TEXT (LEN bytes).  For a phrase list, FOUND (may be NULL) receives
 * the indexes of the distinct phrases found, in order of first appearance,
 * at most MAX_FOUND of them (a duplicate phrase reports the index of its
 * first copy); the count goes on past MAX_FOUND.  For a regular expression
 * FOUND is not used.  Returns 0, or -1 if out of memory (R says nothing found).
 */
int og_pattern_search(const struct og_pattern *p, const char *text, size_t len,
                      size_t *found, size_t max_found, struct og_pattern_result *r);

/*
 * The same search without the gate that skips offsets where no phrase can
 * start: PCRE2 scans every offset.  Slower, same result; the reference
 * og_pattern_search is tested and timed against.
 */
int og_pattern_search_plain(const struct og_pattern *p, const char *text, size_t len,
                            size_t *found, size_t max_found, struct og_pattern_result *r);

/* Is P a phrase list (true) or a regular expression (false)? */
bool og_pattern_is_phrases(const struct og_pattern *p);

#endif
