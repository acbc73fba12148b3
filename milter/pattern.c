/*
 * pattern - trap-phrase lists and header regular expressions compiled with
 * PCRE2, and searched under limits.
 *
 * A phrase list becomes the pattern (?<!\w)(?:TRIE)(?!\w).  The phrases,
 * trimmed, with ASCII letters folded to lower case and each run of white
 * space turned into one \s+, are sorted and merged into a prefix tree of
 * code points; each phrase ends in (*MARK:N), N its index in the list, so
 * the mark of a match says which phrase it was.  Where a phrase ends and
 * longer ones go on, the longer alternatives come first: at one place in
 * the text the longest phrase wins ("win big" hides "win"), and the scan
 * goes on after it.  A PCRE2 built with 2-byte internal links (Debian's)
 * caps a compiled pattern at 64 KiB, a few thousand phrases: a longer list
 * is cut, in sorted order, into several such tries, each run over the
 * text; only there can two overlapping phrases both count.
 *
 * Most of a text cannot start a match, yet the JIT's own scan tries the
 * trie at nearly every letter.  So each part has a gate: a match starts
 * only after a byte that is not an ASCII word character (the (?<!\w)),
 * and with the first bytes of some phrase (up to eight, before its first
 * non-ASCII character, ASCII case folded, a run of white space as one).
 * The scan asks PCRE2 only at the offsets the gate lets through, with the
 * trie compiled anchored.  A byte the gate cannot judge (non-ASCII: it may
 * fold to an ASCII letter, or be white space) always passes, so the gate
 * skips only offsets where no match can start, and the result is that of
 * the plain scan (og_pattern_search_plain).  A list with a phrase that
 * starts with a non-ASCII character has no gate; in a text where the gate
 * lets too much through, the rest is scanned plainly.
 *
 * Every pcre2_match call runs under a match limit and a depth limit kept
 * in a match context made at compile time (read-only while matching, so
 * shared by threads like the compiled code; match data is per search).
 * JIT is used where pcre2_jit_compile succeeds, with PCRE2's default
 * 32 KiB JIT stack: the deepest trie (200 nested groups) runs in 8 KiB,
 * and running out would only end the search as limited.  Elsewhere the
 * interpreter runs, on each valid UTF-8 stretch of the text in turn (see
 * scan_part); build with -DOG_PATTERN_NO_JIT to force it.
 *
 * Errors: og_pattern_phrases names the phrase at fault (empty, only white
 * space, too long, not UTF-8) or the list (too many, out of memory, and
 * should never happen, a generated pattern PCRE2 refused);
 * og_pattern_regex passes on PCRE2's message and offset.  og_pattern_search
 * fails only when out of memory (including PCRE2_ERROR_NOMEMORY); a match
 * or depth limit, the JIT stack limit, the heap limit or any other PCRE2
 * error ends the search with what was found so far and sets "limited".
 * See also: pattern.h, pcre2api(3), pcre2unicode(3), pcre2jit(3).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "pattern.h"

#include <pcre2.h>
#include <stdarg.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

#define SHORT_TEXT 2048          /* bytes searched in a zero-padded copy */

/*
 * Steps of one pcre2_match call (the interpreter counts each start position
 * afresh).  A trie attempt takes about three steps per character of the
 * longest phrase, at most ~600, and the JIT counts fewer; a quadratic
 * header regex on a 998-byte value needs up to ~500,000.  (a+)+$ on a's
 * stops here after ~3 ms with JIT, ~20 ms without, instead of running for
 * ages.
 */
#define OG_MATCH_LIMIT 1000000
/* Nested backtracking points (interpreter only): the deepest trie uses ~200. */
#define OG_DEPTH_LIMIT 10000
/* Groups nested in a trie: at most one per character of a phrase, plus two. */
#define OG_PARENS_LIMIT (OG_PATTERN_PHRASE_MAX + 16)
/* Pattern text per part with 2-byte links; compiled size runs ~1.2 times it. */
#define OG_PART_TEXT_MAX 48000

#define PHRASE_OPTIONS (PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_MATCH_INVALID_UTF)
#define REGEX_OPTIONS (PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF)
#define NO_MARK UINT32_MAX

/* Bytes of a phrase beginning, and bits of each of the gate's sets of them (4 KiB). */
#define GATE_KEY 8
#define GATE_BITS 15
/* Byte class of the gate: may be anything (non-ASCII, or a control byte \s might take). */
#define GATE_ANY 0xff
#define GATE_WORD 1             /* an ASCII \w: no match starts after it */
#define GATE_START 2            /* a match may start at it */
#define GATE_NO 0               /* what two bytes say: no phrase starts so */
#define GATE_YES 1              /* a beginning fits, or a byte PCRE2 must judge */
#define GATE_MORE 2             /* longer beginnings start so: read on */
/*
 * Anchored attempts that found nothing, before the gate is judged: past
 * this many, at more than one per GATE_MISS_BYTES bytes of text, a plain
 * scan of the rest is cheaper than asking at each offset.
 */
#define GATE_MISSES_MIN 64
#define GATE_MISS_BYTES 8

/*
 * Where a phrase of a part may start.  A beginning is the first bytes of
 * a phrase in normal form (at most GATE_KEY), before its first non-ASCII
 * character; a text byte's class is the byte with ASCII case folded, ' '
 * for white space (a run of it is one ' ', as in a phrase), or GATE_ANY.
 */
struct gate {
	uint8_t cls[128];
	uint8_t mask[256];      /* GATE_WORD, GATE_START of a byte */
	uint64_t first[2];      /* classes that begin a beginning */
	uint64_t single[2];     /* beginnings of one byte */
	uint8_t pair[128][64];  /* GATE_NO, GATE_YES or GATE_MORE for two bytes, 2 bits each */
	uint64_t keys[(1u << GATE_BITS) / 64];     /* beginnings of 3 or more bytes, hashed */
	uint64_t prefixes[(1u << GATE_BITS) / 64]; /* and their first 3 or more bytes */
	bool odd_start;         /* one begins with a byte that is not a word character */
};

/* One compiled pattern; a phrase list may need several. */
struct part {
	pcre2_code *code;
	pcre2_code *anchored;   /* the same, anchored, for the JIT; the interpreter anchors at match time */
	bool jit;
	struct gate *gate;      /* NULL: every offset is tried */
};

struct og_pattern {
	bool phrases;
	size_t n_phrases;
	size_t n_parts;
	struct part *parts;
	pcre2_match_context *mctx;
};

/* A phrase in normal form: folded, trimmed, white space runs as one ' '. */
struct phrase {
	const char *s;          /* NUL-terminated, in the builder's arena */
	size_t off;             /* of s in the arena, while the arena grows */
	uint32_t len;
	uint32_t index;         /* in the caller's list */
};


/*
 * White space as \s sees it under PCRE2_UCP (the Z categories, HT, LF, VT,
 * FF, CR), so that what follows a \s+ in a trie never matches \s.
 */
static bool is_space(uint32_t c)
{
	switch (c) {
	case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x20:
	case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
		return true;
	default:
		return c >= 0x2000 && c <= 0x200a;
	}
}

/* S (N bytes) for an error message: printable ASCII as is, the rest as \xHH. */
static void quote(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

/*
 * Append the normal form of S, NUL-terminated, to ARENA.  0; 1 if S is not
 * a usable phrase (ERR says why); -1 if out of memory.
 */
static int normalize(struct og_buf *arena, const char *s, char *err, size_t errlen)
{
	size_t len = s != NULL ? strnlen(s, OG_PATTERN_PHRASE_MAX + 1) : 0;
	size_t start = arena->len;
	bool gap = false;

	if (len == 0) {
		og_errf(err, errlen, "empty phrase: expected a word or words");
		return 1;
	}
	if (len > OG_PATTERN_PHRASE_MAX) {
		og_errf(err, errlen, "phrase of %zu bytes is too long: expected at most %d",
		        strlen(s), OG_PATTERN_PHRASE_MAX);
		return 1;
	}
	for (size_t i = 0, k; i < len; i += k) {
		uint32_t c;
		char q[64];

		if ((k = og_utf8_decode((const unsigned char *)s + i, len - i, &c)) == 0) {
			quote(s, len < 40 ? len : 40, q, sizeof(q));
			og_errf(err, errlen, "phrase \"%s%s\" is not valid UTF-8 at byte %zu",
			        q, len > 40 ? "..." : "", i + 1);
			return 1;
		}
		if (is_space(c)) {
			gap = arena->len > start;
			continue;
		}
		if (gap && og_buf_append(arena, " ", 1) != 0)
			return -1;
		gap = false;
		if (c >= 'A' && c <= 'Z') {
			char lower = (char)(c - 'A' + 'a');

			if (og_buf_append(arena, &lower, 1) != 0)
				return -1;
		} else if (og_buf_append(arena, s + i, k) != 0) {
			return -1;
		}
	}
	if (arena->len == start) {
		og_errf(err, errlen, "phrase of only white space: expected a word or words");
		return 1;
	}
	return og_buf_append(arena, "", 1);     /* keeps the NUL */
}

/* Sorted by bytes (so by code point), duplicates in list order. */
static int phrase_cmp(const void *a, const void *b)
{
	const struct phrase *x = a, *y = b;
	int c = strcmp(x->s, y->s);

	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Bytes of the unit (a code point or the white space token) starting with C. */
static size_t unit_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Append one unit of a normal form as pattern syntax that matches it literally. */
static int emit_unit(struct og_buf *re, const char *s, size_t k)
{
	unsigned char c = (unsigned char)*s;
	char esc[8];

	if (c == ' ')
		return og_buf_append(re, "\\s+", 3);
	if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))
		return og_buf_append(re, s, k);
	if (c < 0x20 || c == 0x7f) {
		snprintf(esc, sizeof(esc), "\\x{%x}", c);
		return og_buf_puts(re, esc);
	}
	esc[0] = '\\';
	esc[1] = (char)c;
	return og_buf_append(re, esc, 2);
}

static int emit_mark(struct og_buf *re, uint32_t index)
{
	char m[32];

	snprintf(m, sizeof(m), "(*MARK:%u)", (unsigned)index);
	return og_buf_puts(re, m);
}

/* End of the run of PH[I..HI) that has the same unit as PH[I] at byte D. */
static size_t group_end(const struct phrase *ph, size_t i, size_t hi, size_t d)
{
	size_t k = unit_len((unsigned char)ph[i].s[d]), j = i + 1;

	while (j < hi && memcmp(ph[j].s + d, ph[i].s + d, k) == 0)
		j++;
	return j;
}

/* The children of a branch point: a run of phrases, and the first index in it. */
struct branch {
	size_t lo, hi;
	uint32_t first;
};

static int branch_cmp(const void *a, const void *b)
{
	const struct branch *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static int emit_trie(struct og_buf *re, const struct phrase *ph, size_t lo, size_t hi, size_t d);

/*
 * Append the branch point of PH[LO..HI) (which all go on past byte D) as
 * (?:a|b|c), then MARK as the last, empty, alternative if a phrase ends
 * there, so that longer phrases are tried first.  The children go in the
 * order of the first phrase under each: where two can match the same text
 * (PCRE2 folds "É" to "é", this module folds only ASCII) the phrase listed
 * first wins, as a duplicate reports its first copy.
 */
static int emit_branch(struct og_buf *re, const struct phrase *ph, size_t lo, size_t hi,
                       size_t d, uint32_t mark)
{
	struct branch *br;
	size_t n = 0;
	int rc = 0;

	for (size_t i = lo; i < hi; i = group_end(ph, i, hi, d))
		n++;
	if ((br = calloc(n, sizeof(*br))) == NULL)
		return -1;
	n = 0;
	for (size_t i = lo; i < hi; n++) {
		br[n].lo = i;
		br[n].hi = group_end(ph, i, hi, d);
		br[n].first = ph[i].index;
		for (; i < br[n].hi; i++)
			if (ph[i].index < br[n].first)
				br[n].first = ph[i].index;
	}
	qsort(br, n, sizeof(*br), branch_cmp);
	rc = og_buf_append(re, "(?:", 3);
	for (size_t g = 0; g < n && rc == 0; g++) {
		const char *u = ph[br[g].lo].s + d;
		size_t k = unit_len((unsigned char)*u);

		if ((g > 0 && og_buf_append(re, "|", 1) != 0) || emit_unit(re, u, k) != 0 ||
		    emit_trie(re, ph, br[g].lo, br[g].hi, d + k) != 0)
			rc = -1;
	}
	free(br);
	if (rc == 0 && mark != NO_MARK &&
	    (og_buf_append(re, "|", 1) != 0 || emit_mark(re, mark) != 0))
		rc = -1;
	return rc != 0 ? -1 : og_buf_append(re, ")", 1);
}

/*
 * Append the trie of PH[LO..HI), sorted, which share their first D bytes:
 * a chain of single children as a plain sequence, then the branch point or
 * the mark of the phrase that ends the chain.
 */
static int emit_trie(struct og_buf *re, const struct phrase *ph, size_t lo, size_t hi, size_t d)
{
	for (;;) {
		uint32_t mark = NO_MARK;
		size_t k;

		while (lo < hi && ph[lo].len == d) {
			if (mark == NO_MARK)
				mark = ph[lo].index;    /* the first copy of a duplicate */
			lo++;
		}
		if (lo == hi)
			return emit_mark(re, mark);
		if (mark != NO_MARK || group_end(ph, lo, hi, d) < hi)
			return emit_branch(re, ph, lo, hi, d, mark);
		k = unit_len((unsigned char)ph[lo].s[d]);
		if (emit_unit(re, ph[lo].s + d, k) != 0)
			return -1;
		d += k;
	}
}

static void pattern_free_parts(struct og_pattern *p)
{
	for (size_t i = 0; i < p->n_parts; i++) {
		pcre2_code_free(p->parts[i].code);
		pcre2_code_free(p->parts[i].anchored);
		free(p->parts[i].gate);
	}
	free(p->parts);
	p->parts = NULL;
	p->n_parts = 0;
}

void og_pattern_free(struct og_pattern *p)
{
	if (p == NULL)
		return;
	pattern_free_parts(p);
	pcre2_match_context_free(p->mctx);
	free(p);
}

/* A pattern without parts, with its limits set; NULL if out of memory. */
static struct og_pattern *pattern_new(bool phrases, size_t n_parts)
{
	struct og_pattern *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->phrases = phrases;
	if ((n_parts > 0 && (p->parts = calloc(n_parts, sizeof(*p->parts))) == NULL) ||
	    (p->mctx = pcre2_match_context_create(NULL)) == NULL) {
		og_pattern_free(p);
		return NULL;
	}
	pcre2_set_match_limit(p->mctx, OG_MATCH_LIMIT);
	pcre2_set_depth_limit(p->mctx, OG_DEPTH_LIMIT);
	return p;
}

/* JIT-compile CODE where the platform allows; false: the interpreter will run it. */
static bool jit_compile(pcre2_code *code)
{
#ifndef OG_PATTERN_NO_JIT
	return pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
#else
	(void)code;
	return false;
#endif
}

/*
 * Compile the trie RE (LEN bytes) as part PT: with JIT, or else once more
 * without PCRE2_MATCH_INVALID_UTF for the interpreter (see scan_part).
 * false with *ECODE and *EOFF set if PCRE2 refuses it.
 */
static bool compile_part(struct part *pt, const char *re, size_t len, pcre2_compile_context *cctx,
                         int *ecode, PCRE2_SIZE *eoff)
{
	pt->code = pcre2_compile((PCRE2_SPTR)re, len, PHRASE_OPTIONS, ecode, eoff, cctx);
	if (pt->code == NULL)
		return false;
	if ((pt->jit = jit_compile(pt->code)))
		return true;
	pcre2_code_free(pt->code);
	pt->code = pcre2_compile((PCRE2_SPTR)re, len, PHRASE_OPTIONS & ~PCRE2_MATCH_INVALID_UTF,
	                         ecode, eoff, cctx);
	return pt->code != NULL;
}

static bool bit_of(const uint64_t *set, unsigned i)
{
	return (set[i / 64] >> (i % 64)) & 1;
}

static void bit_set(uint64_t *set, unsigned i)
{
	set[i / 64] |= (uint64_t)1 << (i % 64);
}

/* The running hash of a beginning, one class at a time, and its bit for length N. */
static uint32_t gate_fold(uint32_t h, unsigned c)
{
	return h * 131 + c + 1;
}

static unsigned gate_slot(uint32_t h, size_t n)
{
	return (unsigned)((uint32_t)((h ^ (uint32_t)n << 24) * 2654435761u) >> (32 - GATE_BITS));
}

/*
 * The gate of PH[LO..HI): NULL when a phrase starts with a non-ASCII
 * character (it may fold to an ASCII letter); *OUT is left NULL then.
 * 0, or -1 if out of memory.
 */
static int gate_new(const struct phrase *ph, size_t lo, size_t hi, struct gate **out)
{
	uint64_t two[128 * 128 / 64] = { 0 }, more[128 * 128 / 64] = { 0 };
	struct gate *g;

	*out = NULL;
	for (size_t i = lo; i < hi; i++)
		if ((unsigned char)ph[i].s[0] >= 0x80)
			return 0;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return -1;
	for (unsigned c = 0; c < 128; c++) {
		g->cls[c] = (uint8_t)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_')
			g->mask[c] = GATE_WORD;
	}
	/* the white space \s takes; FS, GS, RS and US are left to PCRE2 */
	for (unsigned c = 0x09; c <= 0x0d; c++)
		g->cls[c] = ' ';
	g->cls[' '] = ' ';
	for (unsigned c = 0x1c; c <= 0x1f; c++)
		g->cls[c] = GATE_ANY;
	for (size_t i = lo; i < hi; i++) {
		const unsigned char *k = (const unsigned char *)ph[i].s;
		uint32_t h = 0;
		size_t n = 0;

		while (n < GATE_KEY && k[n] != '\0' && k[n] < 0x80) {
			h = gate_fold(h, k[n++]);
			if (n >= 3)
				bit_set(g->prefixes, gate_slot(h, n));
		}
		bit_set(g->first, k[0]);
		if (n == 1)
			bit_set(g->single, k[0]);
		else if (n == 2)
			bit_set(two, (unsigned)k[0] << 7 | k[1]);
		else
			bit_set(g->keys, gate_slot(h, n));
		if (n >= 2)
			bit_set(more, (unsigned)k[0] << 7 | k[1]);
	}
	/* the two bytes B0 B1 at a start, as classes */
	for (unsigned b0 = 0; b0 < 128; b0++) {
		unsigned c0 = g->cls[b0] == GATE_ANY ? b0 : g->cls[b0];

		for (unsigned b1 = 0; b1 < 256; b1++) {
			unsigned c1 = b1 < 128 ? g->cls[b1] : GATE_ANY, st = GATE_NO;

			if (!bit_of(g->first, c0))
				st = GATE_NO;
			else if (bit_of(g->single, c0) || c1 == GATE_ANY || bit_of(two, c0 << 7 | c1))
				st = GATE_YES;
			else if (bit_of(more, c0 << 7 | c1))
				st = GATE_MORE;
			g->pair[b0][b1 / 4] |= (uint8_t)(st << (b1 % 4 * 2));
		}
	}
	/* a lead byte or an invalid one (which no match starts at, PCRE2 says so) */
	for (unsigned c = 0xc0; c < 0x100; c++)
		g->mask[c] = GATE_START;
	/* a phrase never starts with white space; FS to US only as written in one */
	for (unsigned c = 0; c < 128; c++) {
		if (bit_of(g->first, g->cls[c] == GATE_ANY ? c : g->cls[c])) {
			g->mask[c] |= GATE_START;
			g->odd_start |= !(g->mask[c] & GATE_WORD);
		}
	}
	*out = g;
	return 0;
}

/*
 * Give part PT, compiled from the trie RE (LEN bytes) of PH[LO..HI), its
 * gate and, for the JIT, the anchored code.  Without them (a list the gate
 * cannot judge, or PCRE2 refusing the anchored compile) the part is
 * scanned plainly.  0, or -1 if out of memory.
 */
static int gate_part(struct part *pt, const struct phrase *ph, size_t lo, size_t hi,
                     const char *re, size_t len, pcre2_compile_context *cctx)
{
	PCRE2_SIZE eoff;
	int ecode = 0;

	if (gate_new(ph, lo, hi, &pt->gate) != 0)
		return -1;
	if (pt->gate == NULL || !pt->jit)
		return 0;
	pt->anchored = pcre2_compile((PCRE2_SPTR)re, len, PHRASE_OPTIONS | PCRE2_ANCHORED, &ecode,
	                             &eoff, cctx);
	if (pt->anchored == NULL || !jit_compile(pt->anchored)) {
		pcre2_code_free(pt->anchored);
		pt->anchored = NULL;
		free(pt->gate);
		pt->gate = NULL;
		if (ecode == PCRE2_ERROR_HEAP_FAILED)
			return -1;
	}
	return 0;
}

/* The most pattern text one part may hold, from PCRE2's internal link size. */
static size_t part_text_max(void)
{
	uint32_t link = 2;

	if (pcre2_config(PCRE2_CONFIG_LINKSIZE, &link) < 0 || link <= 2)
		return OG_PART_TEXT_MAX;
	return SIZE_MAX;        /* 16 MiB or more: the compile error still splits */
}

/* Roughly the pattern bytes PH[I] adds to a trie after PH[I - 1]: its suffix and mark. */
static size_t text_cost(const struct phrase *ph, size_t i, size_t lo)
{
	size_t common = 0, cost = 16;   /* "|(*MARK:99999)" and a group */

	if (i > lo)
		while (ph[i].s[common] != '\0' && ph[i].s[common] == ph[i - 1].s[common])
			common++;
	for (const char *c = ph[i].s + common; *c != '\0'; c++)
		cost += (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || (*c & 0x80) ? 1 : 3;
	return cost;
}

struct builder {
	struct phrase *ph;
	struct og_buf re;
	pcre2_compile_context *cctx;
	struct og_pattern *p;
	size_t cap;             /* of p->parts */
	char *err;
	size_t errlen;
};

/*
 * Compile PH[LO..HI) as one part, or, if PCRE2 finds it too large, as two
 * halves cut between distinct phrases.  0, or -1 with ERR set.
 */
static int build_part(struct builder *b, size_t lo, size_t hi)
{
	struct part pt = { NULL, NULL, false, NULL };
	PCRE2_SIZE eoff = 0;
	int ecode = 0;

	og_buf_reset(&b->re);
	if (og_buf_puts(&b->re, "(?<!\\w)(?:") != 0 || emit_trie(&b->re, b->ph, lo, hi, 0) != 0 ||
	    og_buf_puts(&b->re, ")(?!\\w)") != 0) {
		og_errf(b->err, b->errlen, "out of memory");
		return -1;
	}
	if (!compile_part(&pt, b->re.data, b->re.len, b->cctx, &ecode, &eoff)) {
		PCRE2_UCHAR msg[120];
		size_t mid = lo + (hi - lo) / 2;

		while (ecode == PCRE2_ERROR_PATTERN_TOO_LARGE && mid > lo &&
		       strcmp(b->ph[mid].s, b->ph[mid - 1].s) == 0)
			mid--;
		if (ecode == PCRE2_ERROR_PATTERN_TOO_LARGE && mid > lo)
			return build_part(b, lo, mid) != 0 ? -1 : build_part(b, mid, hi);
		if (ecode == PCRE2_ERROR_HEAP_FAILED) {
			og_errf(b->err, b->errlen, "out of memory");
		} else {
			pcre2_get_error_message(ecode, msg, sizeof(msg));
			og_errf(b->err, b->errlen,
			        "internal error: phrase pattern rejected at byte %zu: %s",
			        (size_t)eoff, (const char *)msg);
		}
		return -1;
	}
	if (gate_part(&pt, b->ph, lo, hi, b->re.data, b->re.len, b->cctx) != 0) {
		pcre2_code_free(pt.code);
		og_errf(b->err, b->errlen, "out of memory");
		return -1;
	}
	if (b->p->n_parts == b->cap) {
		struct part *np = b->cap <= SIZE_MAX / 2 / sizeof(*np) ?
			realloc(b->p->parts, 2 * b->cap * sizeof(*np)) : NULL;

		if (np == NULL) {
			pcre2_code_free(pt.code);
			pcre2_code_free(pt.anchored);
			free(pt.gate);
			og_errf(b->err, b->errlen, "out of memory");
			return -1;
		}
		b->p->parts = np;
		b->cap *= 2;
	}
	b->p->parts[b->p->n_parts++] = pt;
	return 0;
}

/* Cut the sorted PH[0..N) into runs whose tries fit a part, and compile each. */
static int build_parts(struct builder *b, size_t n)
{
	size_t max = part_text_max(), lo = 0, cost = 0;

	for (size_t i = 0; i < n; i++) {
		size_t c = text_cost(b->ph, i, lo);

		if (i > lo && cost + c > max && strcmp(b->ph[i].s, b->ph[i - 1].s) != 0) {
			if (build_part(b, lo, i) != 0)
				return -1;
			lo = i;
			cost = 0;
			c = text_cost(b->ph, i, lo);
		}
		cost += c;
	}
	return n > lo ? build_part(b, lo, n) : 0;
}

struct og_pattern *og_pattern_phrases(const char *const *phrases, size_t n, size_t *bad,
                                      char *err, size_t errlen)
{
	struct builder b = { .err = err, .errlen = errlen, .cap = 1 };
	struct og_buf arena;
	size_t where = n;
	int rc = 0;

	og_buf_init(&arena);
	og_buf_init(&b.re);
	if (n > OG_PATTERN_PHRASES_MAX) {
		og_errf(err, errlen, "too many phrases (%zu): expected at most %d", n,
		        OG_PATTERN_PHRASES_MAX);
		goto fail;
	}
	if ((b.p = pattern_new(true, 1)) == NULL ||
	    (n > 0 && (b.ph = calloc(n, sizeof(*b.ph))) == NULL) ||
	    (b.cctx = pcre2_compile_context_create(NULL)) == NULL) {
		og_errf(err, errlen, "out of memory");
		goto fail;
	}
	b.p->n_phrases = n;
	pcre2_set_parens_nest_limit(b.cctx, OG_PARENS_LIMIT);
	for (size_t i = 0; i < n; i++) {
		b.ph[i].off = arena.len;
		b.ph[i].index = (uint32_t)i;
		rc = normalize(&arena, phrases != NULL ? phrases[i] : NULL, err, errlen);
		if (rc != 0) {
			if (rc > 0)
				where = i;
			else
				og_errf(err, errlen, "out of memory");
			goto fail;
		}
		b.ph[i].len = (uint32_t)(arena.len - b.ph[i].off - 1);
	}
	for (size_t i = 0; i < n; i++)
		b.ph[i].s = arena.data + b.ph[i].off;
	if (n > 1)
		qsort(b.ph, n, sizeof(*b.ph), phrase_cmp);
	if (build_parts(&b, n) != 0)
		goto fail;
	pcre2_compile_context_free(b.cctx);
	og_buf_free(&b.re);
	og_buf_free(&arena);
	free(b.ph);
	return b.p;
fail:
	if (bad != NULL)
		*bad = where;
	pcre2_compile_context_free(b.cctx);
	og_buf_free(&b.re);
	og_buf_free(&arena);
	free(b.ph);
	og_pattern_free(b.p);
	return NULL;
}

struct og_pattern *og_pattern_regex(const char *re, bool caseless, size_t *offset,
                                    char *err, size_t errlen)
{
	struct og_pattern *p;
	PCRE2_SIZE eoff = 0;
	int ecode;

	if (offset != NULL)
		*offset = 0;
	if (re == NULL) {
		og_errf(err, errlen, "no regular expression");
		return NULL;
	}
	if ((p = pattern_new(false, 1)) == NULL) {
		og_errf(err, errlen, "out of memory");
		return NULL;
	}
	p->parts[0].code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
	                                 REGEX_OPTIONS | (caseless ? PCRE2_CASELESS : 0),
	                                 &ecode, &eoff, NULL);
	if (p->parts[0].code == NULL) {
		PCRE2_UCHAR msg[120];

		pcre2_get_error_message(ecode, msg, sizeof(msg));
		og_errf(err, errlen, "%s", (const char *)msg);
		if (offset != NULL)
			*offset = eoff;
		og_pattern_free(p);
		return NULL;
	}
	p->n_parts = 1;
	p->parts[0].jit = jit_compile(p->parts[0].code);
	return p;
}

bool og_pattern_is_phrases(const struct og_pattern *p)
{
	return p != NULL && p->phrases;
}

/* Where a phrase was first seen, for merging the finds of several parts. */
struct hit {
	size_t at;
	uint32_t index;
};

/* The state of one search: the distinct phrases seen, and what to report. */
struct scan {
	uint32_t *slot;         /* open addressing: 0 free, else index + 1 */
	size_t cap, used;       /* cap = 1 << bits */
	unsigned bits;
	uint32_t small[64];     /* the slots until more than 32 phrases are found */
	size_t *found, max_found;
	bool merge;             /* several parts: keep hits, sort them at the end */
	struct hit *hits;
	size_t n_hits, hit_cap, part_hits;
};

/* Multiplicative hashing, top bits: strided indexes spread as well as runs. */
static size_t slot_of(uint32_t index, unsigned bits)
{
	return (size_t)((uint32_t)(index * 2654435761u) >> (32 - bits));
}

/* Double the set; -1 if out of memory. */
static int set_grow(struct scan *sc)
{
	size_t cap = sc->cap * 2;
	uint32_t *slot;

	if (sc->bits >= 31 || (slot = calloc(cap, sizeof(*slot))) == NULL)
		return -1;
	for (size_t i = 0; i < sc->cap; i++) {
		size_t j;

		if (sc->slot[i] == 0)
			continue;
		j = slot_of(sc->slot[i] - 1, sc->bits + 1);
		while (slot[j] != 0)
			j = (j + 1) & (cap - 1);
		slot[j] = sc->slot[i];
	}
	if (sc->slot != sc->small)
		free(sc->slot);
	sc->slot = slot;
	sc->cap = cap;
	sc->bits++;
	return 0;
}

/* Note phrase INDEX found at byte AT: 0, or -1 if out of memory. */
static int note(struct scan *sc, uint32_t index, size_t at)
{
	size_t j;

	for (j = slot_of(index, sc->bits); sc->slot[j] != 0; j = (j + 1) & (sc->cap - 1))
		if (sc->slot[j] == index + 1)
			return 0;
	sc->slot[j] = index + 1;
	sc->used++;
	if (2 * sc->used > sc->cap && set_grow(sc) != 0)
		return -1;
	if (sc->found == NULL || sc->max_found == 0)
		return 0;
	if (!sc->merge) {
		if (sc->used <= sc->max_found)
			sc->found[sc->used - 1] = index;
		return 0;
	}
	if (sc->part_hits == sc->max_found)    /* later finds of this part cannot be reported */
		return 0;
	if (sc->n_hits == sc->hit_cap) {
		size_t cap = sc->hit_cap == 0 ? 16 : 2 * sc->hit_cap;
		struct hit *h = NULL;

		if (cap <= SIZE_MAX / sizeof(*h))
			h = realloc(sc->hits, cap * sizeof(*h));
		if (h == NULL)
			return -1;
		sc->hits = h;
		sc->hit_cap = cap;
	}
	sc->hits[sc->n_hits].at = at;
	sc->hits[sc->n_hits].index = index;
	sc->n_hits++;
	sc->part_hits++;
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The phrase index in a mark; false if it is not one of ours. */
static bool mark_index(PCRE2_SPTR mark, size_t n, uint32_t *out)
{
	size_t v = 0;

	if (mark == NULL || *mark == '\0')
		return false;
	for (; *mark != '\0'; mark++) {
		if (*mark < '0' || *mark > '9' || v > OG_PATTERN_PHRASES_MAX)
			return false;
		v = v * 10 + (size_t)(*mark - '0');
	}
	if (v >= n)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Map a PCRE2 error of a search: -1 out of memory, 1 any other (a limit). */
static int match_error(int rc)
{
	return rc == PCRE2_ERROR_NOMEMORY ? -1 : 1;
}

/*
 * May a phrase of gate G start at byte AT of T (LEN bytes), an ASCII byte
 * after no ASCII word character?  True unless no beginning fits the bytes
 * there; a byte the gate cannot judge says yes.
 */
static bool gate_passes(const struct gate *g, const unsigned char *t, size_t len, size_t at)
{
	unsigned c0 = g->cls[t[at]], c, st;
	uint32_t h;
	size_t i = at + 1;

	if (c0 == GATE_ANY)
		c0 = t[at];             /* at the start, only as written */
	if (i >= len)
		return bit_of(g->single, c0);
	st = (g->pair[t[at]][t[i] / 4] >> (t[i] % 4 * 2)) & 3;
	if (st != GATE_MORE)
		return st == GATE_YES;
	c = g->cls[t[i]];
	h = gate_fold(gate_fold(0, c0), c);
	for (size_t n = 3; n <= GATE_KEY; n++) {
		if (c == ' ') {         /* the rest of the run of white space */
			while (i + 1 < len && t[i + 1] < 0x80 && g->cls[t[i + 1]] == ' ')
				i++;
		}
		if (++i >= len)
			return false;
		if (t[i] >= 0x80 || (c = g->cls[t[i]]) == GATE_ANY)
			return true;
		h = gate_fold(h, c);
		if (!bit_of(g->prefixes, gate_slot(h, n)))
			return false;
		if (bit_of(g->keys, gate_slot(h, n)))
			return true;
	}
	return false;
}

/* Bit I set for each byte I of T[0..N) (N <= 64) whose mask has BIT. */
static uint64_t gate_bits(const struct gate *g, const unsigned char *t, size_t n, unsigned bit)
{
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++)
		m |= (uint64_t)((g->mask[t[i]] & bit) != 0) << i;
	return m;
}

#ifdef __SSE2__
/* The ASCII word characters and the lead bytes (0xc0 and up) of T[0..64), as masks. */
static void gate_bits64(const unsigned char *t, uint64_t *word, uint64_t *lead)
{
	const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9), a = _mm_set1_epi8('a');
	const __m128i z = _mm_set1_epi8(25), up = _mm_set1_epi8(0x20), us = _mm_set1_epi8('_');
	const __m128i hi = _mm_set1_epi8((char)0xc0);

	*word = *lead = 0;
	for (unsigned k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + 16 * k));
		__m128i d = _mm_sub_epi8(v, zero);
		__m128i l = _mm_sub_epi8(_mm_or_si128(v, up), a);
		__m128i w = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(d, nine), d),
		                                      _mm_cmpeq_epi8(_mm_min_epu8(l, z), l)),
		                         _mm_cmpeq_epi8(v, us));

		*word |= (uint64_t)(unsigned)_mm_movemask_epi8(w) << (16 * k);
		*lead |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, hi), v))
		         << (16 * k);
	}
}
#endif

/*
 * The first offset from OFF where a phrase of gate G may start in T (LEN
 * bytes), or LEN.  Taken 64 bytes at a time as bit masks: the bytes that
 * may start a phrase and the ASCII word characters, each of which rules
 * out a start at the next byte; only the offsets left are looked at.
 */
static size_t gate_next(const struct gate *g, const unsigned char *t, size_t len, size_t off)
{
	uint64_t carry = off > 0 && (g->mask[t[off - 1]] & GATE_WORD) ? 1 : 0;

	for (size_t b = off; b < len; b += 64) {
		size_t n = len - b < 64 ? len - b : 64;
		uint64_t word, start, cand;

#ifdef __SSE2__
		if (n == 64 && !g->odd_start) {
			/* every first byte of a phrase is a word character */
			gate_bits64(t + b, &word, &start);
			start |= word;
		} else
#endif
		{
			word = gate_bits(g, t + b, n, GATE_WORD);
			start = gate_bits(g, t + b, n, GATE_START);
		}
		cand = start & ~(word << 1 | carry);
		for (; cand != 0; cand &= cand - 1) {
			size_t at = b + (size_t)__builtin_ctzll(cand);

			if (t[at] >= 0x80 || gate_passes(g, t, len, at))
				return at;
		}
		carry = word >> 63;
	}
	return len;
}

/*
 * Search SUBJ (LEN bytes, at byte BASE of the text) with part PT, noting
 * each phrase found and going on at the end of each match: at the offsets
 * the gate passes, anchored, or plainly.  0; 1 if PCRE2 stopped (a limit);
 * -1 if out of memory.
 */
static int scan_subject(const struct og_pattern *p, const struct part *pt, const char *subj,
                        size_t len, size_t base, uint32_t opts, pcre2_match_data *md,
                        struct scan *sc, bool plain)
{
	const unsigned char *u = (const unsigned char *)subj;
	bool gated = pt->gate != NULL && !plain;
	size_t off = 0, misses = 0;

	while (off < len) {
		const pcre2_code *code = pt->code;
		uint32_t mopts = opts;
		size_t at = off;
		PCRE2_SIZE *ov;
		uint32_t index;
		int rc;

		if (gated && (at = gate_next(pt->gate, u, len, off)) == len)
			return 0;
		if (gated && misses >= GATE_MISSES_MIN && misses * GATE_MISS_BYTES > at) {
			gated = false;          /* most offsets pass: the plain scan is cheaper */
			at = off;
		}
		if (gated) {
			code = pt->anchored != NULL ? pt->anchored : pt->code;
			mopts |= pt->anchored != NULL ? 0 : PCRE2_ANCHORED;
		}
		rc = pcre2_match(code, (PCRE2_SPTR)subj, len, at, mopts, md, p->mctx);
		if (rc == PCRE2_ERROR_NOMATCH && gated) {
			misses++;
			off = at + 1;
			continue;
		}
		if (rc == PCRE2_ERROR_NOMATCH)
			return 0;
		if (rc < 0)
			return match_error(rc);
		ov = pcre2_get_ovector_pointer(md);
		if (mark_index(pcre2_get_mark(md), p->n_phrases, &index) &&
		    note(sc, index, base + ov[0]) != 0)
			return -1;
		if (ov[1] > at) {
			off = ov[1];
		} else {        /* an empty match (no trie has one): step over a character */
			off = at + 1;
			while (off < len && ((unsigned char)subj[off] & 0xc0) == 0x80)
				off++;
		}
	}
	return 0;
}

/*
 * Search TEXT with part PT.  The JIT code copes with invalid UTF-8 itself.
 * The interpreter's PCRE2_MATCH_INVALID_UTF mode would validate the text
 * from the start offset to the end on every call, once per match, so an
 * interpreted part is compiled without it and given the valid stretches of
 * the text one by one, checked here once, with PCRE2_NO_UTF_CHECK: the
 * same result, since an invalid sequence is a barrier no match crosses and
 * that look-arounds see as the edge of the subject.
 */
static int scan_part(const struct og_pattern *p, const struct part *pt, const char *text,
                     size_t len, pcre2_match_data *md, struct scan *sc, bool plain)
{
	size_t i = 0;

	if (pt->jit)
		return scan_subject(p, pt, text, len, 0, 0, md, sc, plain);
	while (i < len) {
		const unsigned char *u = (const unsigned char *)text;
		size_t start = i, k;
		uint32_t c;
		int rc;

		while (i < len && (k = og_utf8_decode(u + i, len - i, &c)) > 0)
			i += k;
		if (i > start) {
			rc = scan_subject(p, pt, text + start, i - start, start, PCRE2_NO_UTF_CHECK,
			                  md, sc, plain);
			if (rc != 0)
				return rc;
		}
		while (i < len && og_utf8_decode(u + i, len - i, &c) == 0)
			i++;
	}
	return 0;
}

/* Search with a phrase list; see og_pattern_search. */
static int search_phrases(const struct og_pattern *p, const char *text, size_t len,
                          size_t *found, size_t max_found, pcre2_match_data *md,
                          struct og_pattern_result *r, bool plain)
{
	struct scan sc = { .cap = 64, .bits = 6, .found = found, .max_found = max_found };
	int rc = 0;

	sc.slot = sc.small;
	memset(sc.small, 0, sizeof(sc.small));
	sc.merge = p->n_parts > 1;
	for (size_t i = 0; i < p->n_parts && rc == 0; i++) {
		sc.part_hits = 0;
		rc = scan_part(p, &p->parts[i], text, len, md, &sc, plain);
	}
	if (rc >= 0) {
		r->count = sc.used;
		r->limited = rc > 0;
		if (sc.merge && sc.n_hits > 0) {
			qsort(sc.hits, sc.n_hits, sizeof(*sc.hits), hit_cmp);
			for (size_t i = 0; i < sc.n_hits && i < max_found; i++)
				found[i] = sc.hits[i].index;
		}
	}
	if (sc.slot != sc.small)
		free(sc.slot);
	free(sc.hits);
	return rc < 0 ? -1 : 0;
}

/* og_pattern_search, or with PLAIN og_pattern_search_plain. */
static int search(const struct og_pattern *p, const char *text, size_t len, size_t *found,
                  size_t max_found, struct og_pattern_result *r, bool plain)
{
	char padded[SHORT_TEXT + 64];
	pcre2_match_data *md;
	int rc = 0;

	r->count = 0;
	r->limited = false;
	if (p == NULL || p->n_parts == 0)
		return 0;
	if (text == NULL) {
		text = "";
		len = 0;
	}
	/*
	 * The JIT's vector search reads whole aligned words, past the end of the
	 * text (never past the aligned word, so never into another page).  A
	 * short text (a header, a path) may sit in a tight allocation whose last
	 * bytes are undefined: search a copy padded with zeros, so that what is
	 * read is always defined.  Long texts come from an og_buf, zero-padded.
	 */
	if (len <= SHORT_TEXT) {
		memcpy(padded, text, len);
		memset(padded + len, 0, sizeof(padded) - SHORT_TEXT);   /* past any aligned word */
		text = padded;
	}
	if ((md = pcre2_match_data_create(1, NULL)) == NULL)
		return -1;
	if (p->phrases) {
		rc = search_phrases(p, text, len, found, max_found, md, r, plain);
	} else {
		int m = pcre2_match(p->parts[0].code, (PCRE2_SPTR)text, len, 0, 0, md, p->mctx);

		if (m >= 0)
			r->count = 1;
		else if (m != PCRE2_ERROR_NOMATCH && (rc = match_error(m)) > 0)
			r->limited = true;
		rc = rc < 0 ? -1 : 0;
	}
	pcre2_match_data_free(md);
	if (rc < 0) {
		r->count = 0;
		r->limited = false;
	}
	return rc;
}

int og_pattern_search(const struct og_pattern *p, const char *text, size_t len,
                      size_t *found, size_t max_found, struct og_pattern_result *r)
{
	return search(p, text, len, found, max_found, r, false);
}

int og_pattern_search_plain(const struct og_pattern *p, const char *text, size_t len,
                            size_t *found, size_t max_found, struct og_pattern_result *r)
{
	return search(p, text, len, found, max_found, r, true);
}
