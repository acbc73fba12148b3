/*
 * trace_read - evidence files as one stream of records; see trace_read.h.
 *
 * Each file is read through zlib (gzdopen reads plain files as they are)
 * into a chunk buffer and split at newlines with memchr: unlike gzgets this
 * sees the true length of a line that holds NUL bytes, which a crash can
 * leave in a log (such a line is bad; a gzgets reader would see it as empty
 * and lose the record appended after the NULs).  A line that does not fit
 * the chunk is gathered in a second buffer up to OG_TRACE_LINE_MAX.
 *
 * Every file is opened by og_trace_open, its first record's time read, and
 * its descriptor kept, so that logrotate renaming the files meanwhile does
 * not change what is read; the zlib state is freed again until the merge
 * reaches the file.  The merge is a heap of the files being read, keyed by
 * the time of each one's next line: rotated files are read one after the
 * other, overlapping ones (two servers) interleave.
 *
 * Cheap filters before parsing: outguard writes "time" first and in one
 * shape, so the period is checked on the line's first bytes; a needle is
 * looked for with memmem.  Lines not written that way are parsed.
 *
 * Parsing is most of the cost of reading.  A scanner reads the lines in one
 * pass into records (jansson would build and free a tree of some 80 values
 * for each, ten times slower even without its allocations); where it is not
 * sure of a line, jansson reads it, and jansson alone says a line is bad.
 * The lines the merge puts in order are copied into batches that worker
 * threads parse (og_trace_set_threads); the caller takes the batches back in
 * the order they were filled.  Bad lines are kept by their place in that
 * order, so the report is the same with or without workers.  The reader's
 * lock protects only the batches' states: a batch is filled and taken by
 * the caller's thread and parsed by one worker in between.
 *
 * With workers, each file being read also has an inflater thread that
 * reads it ahead of the merge (see struct ahead).
 *
 * Errors: a file that cannot be opened stops the reader (EX_NOINPUT); a
 * read error (a damaged gzip file) ends that file, is kept for
 * og_trace_report_bad and counted (read_errors); out of memory is
 * EX_SOFTWARE.  Bad lines are counted, the first ones kept for the report.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "log.h"
#include "strutil.h"
#include "trace_read.h"

#define CHUNK ((size_t)128 << 10)       /* bytes read from a file at a time */
#define AHEAD 3                         /* chunks a file's inflater keeps ready */
#define BATCH_LINES 256                 /* lines parsed by a worker at a time */
#define SLOT_KEEP ((size_t)64 << 10)    /* a slot's buffers beyond this go after use */
#define EXCERPT 60                      /* bytes of a bad line quoted */
#define TIME_NEVER INT64_MAX            /* the first record of a file without one */
/* Records of a rotated file end at most this long after the next file starts:
   the daemon writes to the renamed file until logrotate's SIGUSR1 reaches it. */
#define ROTATION_SLACK_MS ((int64_t)3600 * 1000)

/* ---- small buffers ---- */

struct bytes {
	char *data;
	size_t len, cap;
};

/* Make room for N more bytes.  0 or -1. */
static int bytes_room(struct bytes *b, size_t n)
{
	size_t cap;
	char *p;

	if (n <= b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	cap = b->cap > 0 ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

static int bytes_add(struct bytes *b, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (bytes_room(b, n) < 0)
		return -1;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return 0;
}

/* ---- times ---- */

/* Days from 1970-01-01 to Y-M-D of the proleptic Gregorian calendar (Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* N decimal digits at *S into *V, advancing *S.  false if they are not all digits. */
static bool digits(const char **s, const char *end, int n, int *v)
{
	int x = 0;

	if (end - *s < n)
		return false;
	for (int i = 0; i < n; i++) {
		char c = (*s)[i];

		if (c < '0' || c > '9')
			return false;
		x = x * 10 + (c - '0');
	}
	*s += n;
	*v = x;
	return true;
}

/* "YYYY-MM-DD[(T| )HH:MM[:SS[.F]][Z|(+|-)HH[:]MM]]" at S..END as ms.  false if not that. */
static bool parse_utc(const char *s, const char *end, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;

	if (!digits(&s, end, 4, &y) || s == end || *s++ != '-' || !digits(&s, end, 2, &mo) ||
	    s == end || *s++ != '-' || !digits(&s, end, 2, &d))
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	if (s < end) {
		if (*s != 'T' && *s != 't' && *s != ' ')
			return false;
		s++;
		if (!digits(&s, end, 2, &h) || s == end || *s++ != ':' || !digits(&s, end, 2, &mi) ||
		    h > 23 || mi > 59)
			return false;
		if (s < end && *s == ':') {
			s++;
			if (!digits(&s, end, 2, &sec) || sec > 59)
				return false;
			if (s < end && *s == '.') {
				int scale = 100, n = 0;

				for (s++; s < end && *s >= '0' && *s <= '9'; s++, n++) {
					ms += (*s - '0') * scale;
					scale /= 10;
				}
				if (n == 0 || n > 9)
					return false;
			}
		}
		if (s < end && (*s == 'Z' || *s == 'z')) {
			s++;
		} else if (s < end && (*s == '+' || *s == '-')) {
			int sign = *s++ == '-' ? -1 : 1, oh, om;

			if (!digits(&s, end, 2, &oh))
				return false;
			if (s < end && *s == ':')
				s++;
			if (!digits(&s, end, 2, &om) || oh > 23 || om > 59)
				return false;
			off = sign * (oh * 60 + om);
		}
	}
	if (s != end)
		return false;
	*out = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - off * 60) * 1000 + ms;
	return true;
}

bool og_trace_parse_time(const char *text, int64_t now_ms, int64_t *out)
{
	static const struct { char unit; int64_t ms; } units[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 },
		{ 'w', 604800000 },
	};
	size_t len = text != NULL ? strlen(text) : 0;
	uint64_t n = 0;
	size_t i;

	if (len == 0)
		return false;
	/* a relative time: digits and one unit */
	for (i = 0; i < len && text[i] >= '0' && text[i] <= '9'; i++)
		if ((n = n * 10 + (uint64_t)(text[i] - '0')) > 1000000000)
			return false;
	if (i > 0 && i == len - 1) {
		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			/* at most a century back: no overflow, no time before 1870 */
			if (text[i] == units[u].unit && n <= (uint64_t)(INT64_C(3155760000000) / units[u].ms)) {
				*out = now_ms - (int64_t)n * units[u].ms;
				return true;
			}
		}
		return false;
	}
	return parse_utc(text, text + len, out);
}

/*
 * The time of a record as outguard writes it, "2026-11-23T03:01:02.123Z"
 * (exactly), as ms.  The fast path of every line; false for any other shape.
 */
static bool record_time(const char *s, size_t len, int64_t *out)
{
	static const int pos[] = { 0, 5, 8, 11, 14, 17, 20 }, width[] = { 4, 2, 2, 2, 2, 2, 3 };
	int v[7];

	if (len != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.' || s[23] != 'Z')
		return false;
	for (int i = 0; i < 7; i++) {
		const char *p = s + pos[i];

		if (!digits(&p, s + len, width[i], &v[i]))
			return false;
	}
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > days_in_month(v[0], v[1]) ||
	    v[3] > 23 || v[4] > 59 || v[5] > 59)
		return false;
	*out = (days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5]) * 1000 +
	       v[6];
	return true;
}

/* The time of a "time" value in any accepted form. */
static bool any_time(const char *s, size_t len, int64_t *out)
{
	return record_time(s, len, out) || parse_utc(s, s + len, out);
}

void og_trace_format_time(int64_t ms, bool seconds, char *buf, size_t len)
{
	time_t t;
	struct tm tm;

	if (ms == INT64_MIN || ms == INT64_MAX) {
		snprintf(buf, len, "-");       /* no time */
		return;
	}
	t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, seconds ? "%Y-%m-%dT%H:%M:%SZ" :
	                                          "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "?");
}

/* ---- names ---- */

static const char *const action_names[] = { "accept", "tag", "quarantine", "tempfail", "reject" };
static const char *const kind_names[] = { "account", "domain", "script", "client" };

const char *og_trace_action_name(enum og_trace_action a)
{
	return a < OG_TA__COUNT ? action_names[a] : "unknown";
}

enum og_trace_action og_trace_action_from_name(const char *name)
{
	for (int a = 0; name != NULL && a < OG_TA__COUNT; a++)
		if (strcmp(name, action_names[a]) == 0)
			return (enum og_trace_action)a;
	return OG_TA_UNKNOWN;
}

const char *og_trace_kind_name(enum og_trace_kind k)
{
	return k < OG_TK__COUNT ? kind_names[k] : "key";
}

bool og_trace_flagged(const struct og_trace_rec *rec)
{
	return rec->type == OG_TRACE_MESSAGE &&
	       (rec->score > 0 || (rec->act != OG_TA_ACCEPT && rec->applied != NULL));
}

bool og_trace_has_key(const struct og_trace_rec *rec, const char *key)
{
	if (rec->type != OG_TRACE_MESSAGE)
		return rec->ev_key != NULL && strcmp(rec->ev_key, key) == 0;
	for (int k = 0; k < OG_TK__COUNT; k++)
		if (rec->key[k] != NULL && strcmp(rec->key[k], key) == 0)
			return true;
	return false;
}

/*
 * ---- counting strings ----
 *
 * Open addressing with linear probing.  A slot holds the entry's hash
 * beside its pointer, so that a probe reads the entry only when the hashes
 * agree: summary looks up four or five keys a record in a table of a
 * hundred thousand or more, where each slot and entry read is a cache miss,
 * so og_trace_counter_get_many fetches the slots of all of a record's keys
 * at once, then their entries.  Entries, their names and the caller's data
 * inline, are cut from blocks of the table's own and freed with it
 * (entries are never removed).
 */

struct counter_slot {
	uint64_t hash;
	struct og_trace_count *e;   /* NULL: free */
};

struct counter_block {
	struct counter_block *next;
	size_t used, cap;
	max_align_t data[];
};

struct og_trace_counter {
	struct counter_slot *slot;
	size_t cap, n;              /* cap a power of two */
	struct counter_block *blocks;   /* the newest first */
	size_t data_size;           /* of each entry's inline data, rounded up; 0: none */
	void (*free_data)(void *);
};

#define ENTRY_ALIGN ((size_t)_Alignof(max_align_t))
#define ALIGN_UP(n) (((n) + ENTRY_ALIGN - 1) / ENTRY_ALIGN * ENTRY_ALIGN)

#define COUNTER_BLOCK ((size_t)64 << 10)

/* A hash of the N bytes at S, eight at a time (its low bits index the table). */
static uint64_t hash_of(const char *s, size_t n)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 29;
	h *= UINT64_C(0xff51afd7ed558ccd);
	return h ^ (h >> 32);
}

struct og_trace_counter *og_trace_counter_new(void (*free_data)(void *))
{
	return og_trace_counter_new_inline(0, free_data);
}

struct og_trace_counter *og_trace_counter_new_inline(size_t data_size, void (*free_data)(void *))
{
	struct og_trace_counter *c;

	if (data_size > SIZE_MAX / 4 || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->data_size = data_size > 0 ? ALIGN_UP(data_size) : 0;
	c->cap = 8;                 /* most tables are small: a key's rules, one sender */
	if ((c->slot = calloc(c->cap, sizeof(*c->slot))) == NULL) {
		free(c);
		return NULL;
	}
	c->free_data = free_data;
	return c;
}

void og_trace_counter_free(struct og_trace_counter *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; c->free_data != NULL && i < c->cap; i++)
		if (c->slot[i].e != NULL)
			c->free_data(c->slot[i].e->data);
	while (c->blocks != NULL) {
		struct counter_block *b = c->blocks;

		c->blocks = b->next;
		free(b);
	}
	free(c->slot);
	free(c);
}

static int counter_grow(struct og_trace_counter *c)
{
	size_t cap = c->cap * 2;
	struct counter_slot *slot;

	if (cap > SIZE_MAX / sizeof(*slot) || (slot = calloc(cap, sizeof(*slot))) == NULL)
		return -1;
	for (size_t i = 0; i < c->cap; i++) {
		size_t j;

		if (c->slot[i].e == NULL)
			continue;
		for (j = c->slot[i].hash & (cap - 1); slot[j].e != NULL; j = (j + 1) & (cap - 1))
			;
		slot[j] = c->slot[i];
	}
	free(c->slot);
	c->slot = slot;
	c->cap = cap;
	return 0;
}

/* A new entry of the name S (N bytes) from C's blocks, or NULL if out of memory. */
static struct og_trace_count *counter_entry(struct og_trace_counter *c, const char *s, size_t n)
{
	size_t head = ALIGN_UP(sizeof(struct og_trace_count)), need;
	struct counter_block *b = c->blocks;
	struct og_trace_count *e;

	if (n > SIZE_MAX / 4)
		return NULL;
	/* the entry, its data, its name */
	need = ALIGN_UP(head + c->data_size + n + 1);
	if (b == NULL || b->cap - b->used < need) {
		/* the first block of a table small, as most are; then COUNTER_BLOCK */
		size_t cap = c->blocks == NULL ? 1024 : COUNTER_BLOCK;

		if (cap < need)
			cap = need;
		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = c->blocks;
		c->blocks = b;
	}
	e = (struct og_trace_count *)(void *)((char *)b->data + b->used);
	b->used += need;
	e->name = (char *)e + head + c->data_size;
	memcpy(e->name, s, n);
	e->name[n] = '\0';
	e->n = 0;
	e->data = NULL;
	if (c->data_size > 0)
		e->data = memset((char *)e + head, 0, c->data_size);
	return e;
}

/* The entry of NAME (LEN bytes, hash H), made if new; NULL if out of memory. */
static struct og_trace_count *counter_find(struct og_trace_counter *c, const char *name, size_t len,
                                           uint64_t h)
{
	struct og_trace_count *e;
	size_t i;

	for (i = h & (c->cap - 1); c->slot[i].e != NULL; i = (i + 1) & (c->cap - 1))
		if (c->slot[i].hash == h && strcmp(c->slot[i].e->name, name) == 0)
			return c->slot[i].e;
	if ((c->n + 1) * 2 > c->cap) {
		/* at most half full: probes stay short */
		if (counter_grow(c) < 0)
			return NULL;
		for (i = h & (c->cap - 1); c->slot[i].e != NULL; i = (i + 1) & (c->cap - 1))
			;
	}
	if ((e = counter_entry(c, name, len)) == NULL)
		return NULL;
	c->slot[i].hash = h;
	c->slot[i].e = e;
	c->n++;
	return e;
}

struct og_trace_count *og_trace_counter_get(struct og_trace_counter *c, const char *name)
{
	size_t len = strlen(name);

	return counter_find(c, name, len, hash_of(name, len));
}

int og_trace_counter_get_many(struct og_trace_counter *c, const char *const *names, size_t n,
                              struct og_trace_count **out)
{
	uint64_t h[OG_TRACE_GET_MANY];
	size_t len[OG_TRACE_GET_MANY];

	if (n > OG_TRACE_GET_MANY)
		return -1;
	/* the slots first, then the entries they point to: the misses overlap */
	for (size_t k = 0; k < n; k++) {
		len[k] = strlen(names[k]);
		h[k] = hash_of(names[k], len[k]);
		__builtin_prefetch(&c->slot[h[k] & (c->cap - 1)]);
	}
	for (size_t k = 0; k < n; k++) {
		const struct counter_slot *sl = &c->slot[h[k] & (c->cap - 1)];

		if (sl->e != NULL)
			__builtin_prefetch(sl->e);
	}
	for (size_t k = 0; k < n; k++)
		if ((out[k] = counter_find(c, names[k], len[k], h[k])) == NULL)
			return -1;
	return 0;
}

int og_trace_counter_add(struct og_trace_counter *c, const char *name, uint64_t n)
{
	struct og_trace_count *e = og_trace_counter_get(c, name);

	if (e == NULL)
		return -1;
	e->n += n;
	return 0;
}

size_t og_trace_counter_size(const struct og_trace_counter *c)
{
	return c->n;
}

static int by_count(const void *a, const void *b)
{
	const struct og_trace_count *x = *(const struct og_trace_count *const *)a;
	const struct og_trace_count *y = *(const struct og_trace_count *const *)b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct og_trace_count **og_trace_counter_sorted(const struct og_trace_counter *c,
                                                int (*cmp)(const void *, const void *))
{
	struct og_trace_count **v;
	size_t n = 0;

	if (c->n == 0 || (v = malloc(c->n * sizeof(*v))) == NULL)
		return NULL;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slot[i].e != NULL)
			v[n++] = c->slot[i].e;
	qsort(v, n, sizeof(*v), cmp != NULL ? cmp : by_count);
	return v;
}

/* Sift V[I] down the heap V of N entries whose root is the last in CMP order. */
static void sift_down(struct og_trace_count **v, size_t n, size_t i,
                      int (*cmp)(const void *, const void *))
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct og_trace_count *t;

		if (l < n && cmp(&v[l], &v[m]) > 0)
			m = l;
		if (l + 1 < n && cmp(&v[l + 1], &v[m]) > 0)
			m = l + 1;
		if (m == i)
			return;
		t = v[i];
		v[i] = v[m];
		v[m] = t;
		i = m;
	}
}

int og_trace_counter_top(const struct og_trace_counter *c, int (*cmp)(const void *, const void *),
                         bool (*want)(const struct og_trace_count *), size_t n,
                         struct og_trace_count ***out, size_t *got)
{
	struct og_trace_count **v;
	size_t k = 0;

	*out = NULL;
	*got = 0;
	cmp = cmp != NULL ? cmp : by_count;
	if (n > c->n)
		n = c->n;
	if (n == 0)
		return 0;
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return -1;
	/* a heap of the best N so far, the worst of them at its root */
	for (size_t i = 0; i < c->cap; i++) {
		struct og_trace_count *e = c->slot[i].e;

		if (e == NULL || (want != NULL && !want(e)))
			continue;
		if (k < n) {
			size_t j = k++;

			v[j] = e;
			while (j > 0 && cmp(&v[j], &v[(j - 1) / 2]) > 0) {
				struct og_trace_count *t = v[j];

				v[j] = v[(j - 1) / 2];
				v[(j - 1) / 2] = t;
				j = (j - 1) / 2;
			}
		} else if (cmp(&e, &v[0]) < 0) {
			v[0] = e;
			sift_down(v, n, 0, cmp);
		}
	}
	if (k == 0) {
		free(v);
		return 0;
	}
	qsort(v, k, sizeof(*v), cmp);
	*out = v;
	*got = k;
	return 0;
}

/* ---- one file ---- */

struct stream {
	char *path;                 /* as given */
	char *family;               /* PATH without ".gz" and a rotation number */
	size_t order;               /* position in the given order */
	size_t rank;                /* position by first record (then ORDER) */
	int fd;                     /* kept from og_trace_open to the end; -1 when done */
	bool is_stdin;
	gzFile gz;                  /* NULL when not being read */
	struct ahead *ahead;        /* its inflater thread, or NULL: read in the caller's */
	char *buf;                  /* CHUNK bytes (with AHEAD, the chunk taken) */
	size_t start, end;          /* unread bytes of BUF */
	bool eof;
	struct bytes long_line;     /* a line that does not fit BUF */
	uint64_t lineno;            /* of the last line read */
	bool record_bad;            /* count bad lines (false while peeking a file read again later) */
	/* the next line of interest */
	bool has_head;
	const char *head;
	size_t head_len;
	uint64_t head_line;
	int64_t head_time;          /* OG_TRACE_TIME_NONE: not known yet */
	json_t *head_json;          /* parsed already (no fast time), or NULL */
	int64_t first_time;         /* of its first record; TIME_NEVER if none */
	bool skip;                  /* wholly outside the period */
	bool done;
};

struct bad_line {
	const char *path;
	uint64_t line, pos;
	const char *reason;
	char text[EXCERPT * 4 + 4];     /* each byte at most 4 as \xHH, and "..." */
};

struct read_error {
	const char *path;
	uint64_t line;
	char text[160];
};

/* One line on its way to a record. */
struct slot {
	struct stream *s;           /* its file */
	uint64_t line, pos;         /* line number; place in the merged order */
	int64_t time;
	struct bytes raw;           /* the line */
	json_t *pre;                /* parsed by the merge already, or NULL */
	bool bad;                   /* not a JSON object */
	struct og_trace_rec rec;
	struct bytes arena;         /* REC's strings */
	size_t cap_rcpts, cap_rules, cap_qids;  /* room in REC's lists */
};

enum batch_state { B_FREE, B_QUEUED, B_BUSY, B_DONE };

struct batch {
	struct slot slot[BATCH_LINES];
	size_t n, next;             /* lines in it; the next to hand out */
	uint64_t seq;               /* order of filling, which is the order of taking */
	enum batch_state state;     /* under the reader's lock while workers run */
	bool nomem;                 /* a worker ran out of memory */
	uint64_t parsed, jansson;
};

struct og_trace_reader {
	struct stream **files;
	size_t n_files;
	struct stream **pending;    /* by first record time, not yet read */
	size_t n_pending, next_pending;
	struct stream **heap;       /* being read, by the time of the next line */
	size_t n_heap;
	bool opened;
	int64_t since, until;
	char *needle;               /* NULL: no filter */
	size_t needle_len;
	bool needle_nocase;
	uint64_t pos;               /* lines put in order so far */
	/* batches: filled and taken by the reader's thread, parsed by the workers */
	struct batch *batches;
	size_t n_batches;
	struct batch *cur;          /* being handed out */
	uint64_t fill_seq, take_seq;
	bool merged;                /* every line is in a batch */
	int want_workers, n_workers;
	bool no_scan;               /* every line to jansson (og_trace_set_scanner) */
	pthread_t *workers;
	bool sync;                  /* LOCK and the conditions exist */
	pthread_mutex_t lock;       /* protects each batch's STATE, and STOP */
	pthread_cond_t work, done;  /* a batch was queued; a batch was parsed */
	bool stop;
	struct og_trace_stats st;
	struct bad_line bad[OG_TRACE_BAD_SHOWN];    /* the first ones by POS */
	size_t n_bad;
	struct read_error *errs;
	size_t n_errs;
	char error[512];
};

static int start_batches(struct og_trace_reader *r);
static void stop_batches(struct og_trace_reader *r);

struct og_trace_reader *og_trace_reader_new(void)
{
	struct og_trace_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->since = OG_TRACE_TIME_NONE;
	r->until = OG_TRACE_TIME_NONE;
	return r;
}

static void ahead_stop(struct stream *s);

static void stream_close_gz(struct stream *s)
{
	if (s->ahead != NULL)
		ahead_stop(s);          /* it lets BUF go */
	if (s->gz != NULL)
		gzclose_r(s->gz);
	s->gz = NULL;
	free(s->buf);
	s->buf = NULL;
	free(s->long_line.data);
	s->long_line = (struct bytes){ 0 };
	s->start = s->end = 0;
	s->eof = false;
}

static void stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	stream_close_gz(s);
	if (s->fd >= 0 && !s->is_stdin)
		close(s->fd);
	json_decref(s->head_json);
	free(s->path);
	free(s->family);
	free(s);
}

void og_trace_reader_free(struct og_trace_reader *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_files; i++)
		stream_free(r->files[i]);
	free(r->files);
	free(r->pending);
	free(r->heap);
	free(r->needle);
	stop_batches(r);
	free(r->errs);
	free(r);
}

const char *og_trace_error(const struct og_trace_reader *r)
{
	return r->error;
}

/* PATH without a ".gz" and then a ".N" or "-N" of digits: the files of one rotation. */
static char *family_of(const char *path)
{
	char *f = og_strdup(path);
	size_t n, i;

	if (f == NULL)
		return NULL;
	n = strlen(f);
	if (n > 3 && strcmp(f + n - 3, ".gz") == 0)
		f[n -= 3] = '\0';
	for (i = n; i > 0 && f[i - 1] >= '0' && f[i - 1] <= '9'; i--)
		;
	if (i < n && i > 1 && (f[i - 1] == '.' || f[i - 1] == '-') && f[i - 2] != '/')
		f[i - 1] = '\0';
	return f;
}

int og_trace_add_file(struct og_trace_reader *r, const char *path)
{
	struct stream *s, **v;

	if ((v = realloc(r->files, (r->n_files + 1) * sizeof(*v))) == NULL)
		return -1;
	r->files = v;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->fd = -1;
	s->first_time = TIME_NEVER;
	s->head_time = OG_TRACE_TIME_NONE;
	s->is_stdin = strcmp(path, "-") == 0;
	if ((s->path = og_strdup(s->is_stdin ? "(standard input)" : path)) == NULL ||
	    (s->family = family_of(path)) == NULL) {
		stream_free(s);
		return -1;
	}
	s->order = r->n_files;
	r->files[r->n_files++] = s;
	return 0;
}

struct sibling {
	char *path;
	unsigned long n;
	bool gz;
};

static int by_rotation(const void *a, const void *b)
{
	const struct sibling *x = a, *y = b;

	/* oldest (highest number) first; a plain file before its .gz */
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return (int)x->gz - (int)y->gz;
}

int og_trace_add_default(struct og_trace_reader *r, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash != NULL ? og_strndup(path, slash == path ? 1 : (size_t)(slash - path))
	                          : og_strdup(".");
	const char *base = slash != NULL ? slash + 1 : path;
	size_t blen = strlen(base), n = 0;
	struct sibling *sib = NULL;
	struct stat st;
	struct dirent *de;
	DIR *dp;
	int rc = 0, found = 0;

	if (dir == NULL)
		return -1;
	if ((dp = opendir(dir)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			const char *p = de->d_name;
			char *end;
			unsigned long num;
			struct sibling *v;

			if (strncmp(p, base, blen) != 0 || p[blen] != '.' || p[blen + 1] < '0' ||
			    p[blen + 1] > '9')
				continue;
			errno = 0;
			num = strtoul(p + blen + 1, &end, 10);
			if (errno != 0 || (*end != '\0' && strcmp(end, ".gz") != 0))
				continue;
			if ((v = realloc(sib, (n + 1) * sizeof(*v))) == NULL) {
				rc = -1;
				break;
			}
			sib = v;
			sib[n].n = num;
			sib[n].gz = *end != '\0';
			if ((sib[n].path = malloc(strlen(dir) + strlen(p) + 2)) == NULL) {
				rc = -1;
				break;
			}
			sprintf(sib[n].path, "%s/%s", dir, p);
			n++;
		}
		closedir(dp);
	}
	if (n > 0)
		qsort(sib, n, sizeof(*sib), by_rotation);
	for (size_t i = 0; i < n; i++) {
		/* N and N.gz both: logrotate was compressing; the plain one is whole */
		if (rc == 0 && !(sib[i].gz && i > 0 && sib[i - 1].n == sib[i].n)) {
			rc = og_trace_add_file(r, sib[i].path);
			found++;
		}
		free(sib[i].path);
	}
	free(sib);
	free(dir);
	if (rc == 0 && stat(path, &st) == 0) {
		rc = og_trace_add_file(r, path);
		found++;
	}
	return rc < 0 ? -1 : found > 0 ? 0 : 1;
}

void og_trace_set_period(struct og_trace_reader *r, int64_t since, int64_t until)
{
	r->since = since;
	r->until = until;
}

int og_trace_set_needle(struct og_trace_reader *r, const char *text, bool nocase)
{
	free(r->needle);
	r->needle = NULL;
	r->needle_len = 0;
	if (text == NULL || *text == '\0')
		return 0;
	for (const char *p = text; *p != '\0'; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	if ((r->needle = og_strdup(text)) == NULL)
		return -1;
	r->needle_len = strlen(text);
	r->needle_nocase = nocase;
	if (nocase)
		og_str_lower(r->needle);
	return 0;
}

/* ---- bad lines ---- */

static void note_bad(struct og_trace_reader *r, struct stream *s, uint64_t line, uint64_t pos,
                     const char *text, size_t len, const char *reason)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = len < EXCERPT ? len : EXCERPT, o = 0, at;
	struct bad_line *b;

	if (!s->record_bad)
		return;
	r->st.bad++;
	/* keep the first by place in the merged order: parsing notes some late */
	if (r->n_bad == OG_TRACE_BAD_SHOWN && pos > r->bad[r->n_bad - 1].pos)
		return;
	for (at = r->n_bad < OG_TRACE_BAD_SHOWN ? r->n_bad : r->n_bad - 1;
	     at > 0 && r->bad[at - 1].pos > pos; at--)
		r->bad[at] = r->bad[at - 1];
	if (r->n_bad < OG_TRACE_BAD_SHOWN)
		r->n_bad++;
	b = &r->bad[at];
	b->path = s->path;
	b->line = line;
	b->pos = pos;
	b->reason = reason;
	/* printable ASCII as it is, every other byte (NUL too: a crash leaves them) as \xHH */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			b->text[o++] = (char)c;
		} else if (c == '\\') {
			b->text[o++] = '\\';
			b->text[o++] = '\\';
		} else {
			b->text[o++] = '\\';
			b->text[o++] = 'x';
			b->text[o++] = hex[c >> 4];
			b->text[o++] = hex[c & 15];
		}
	}
	b->text[o] = '\0';
	if (len > n)
		memcpy(b->text + o, "...", 4);
}

static void note_read_error(struct og_trace_reader *r, struct stream *s, const char *what)
{
	struct read_error *v;

	if (!s->record_bad)
		return;             /* told when the file is read again */
	r->st.read_errors++;
	v = realloc(r->errs, (r->n_errs + 1) * sizeof(*v));
	if (v == NULL)
		return;             /* still counted */
	r->errs = v;
	v[r->n_errs].path = s->path;
	v[r->n_errs].line = s->lineno;
	snprintf(v[r->n_errs].text, sizeof(v[r->n_errs].text), "%s", what);
	r->n_errs++;
}

void og_trace_report_bad(const struct og_trace_reader *r, const char *prog, FILE *out)
{
	uint64_t shown = r->n_bad;

	for (uint64_t i = 0; i < shown; i++)
		fprintf(out, "%s: %s:%" PRIu64 ": %s: %s\n", prog, r->bad[i].path, r->bad[i].line,
		        r->bad[i].reason, r->bad[i].text);
	if (r->st.bad > shown)
		fprintf(out, "%s: %" PRIu64 " more bad lines not shown\n", prog, r->st.bad - shown);
	if (r->st.bad > 0)
		fprintf(out, "%s: %" PRIu64 " %s skipped; the rest was read\n", prog, r->st.bad,
		        r->st.bad == 1 ? "line was not a record and was" : "lines were not records and were");
	for (size_t i = 0; i < r->n_errs; i++)
		fprintf(out, "%s: %s: cannot read past line %" PRIu64 ": %s: the rest of the file "
		        "is not read\n", prog, r->errs[i].path, r->errs[i].line, r->errs[i].text);
}

void og_trace_stats(const struct og_trace_reader *r, struct og_trace_stats *st)
{
	*st = r->st;
	st->files = r->n_files;
}

/* ---- reading ahead ---- */

/*
 * Inflating a gzip file costs about as much as the rest of summary does, and
 * a month of logs is mostly gzip files, so with worker threads each file
 * being read has a thread of its own that reads and inflates it AHEAD chunks
 * ahead of the merge.  The stream's lock protects FIRST, FILLED, STOP and
 * the LEN of each chunk; the chunk at FIRST is the reader's while TAKEN, the
 * others the inflater's until filled; GZ is the inflater's while it runs.
 */
struct ahead {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t data, room;  /* a chunk was filled; one was let go (or STOP) */
	char *chunk[AHEAD];
	int len[AHEAD];             /* what gzread returned: at most 0 ends the file */
	size_t first, filled;
	bool taken, stop;
	/* of the read that ended the file, set with its LEN */
	int zerr, err;
	char msg[160];
};

static void *inflater(void *arg)
{
	struct stream *s = arg;
	struct ahead *a = s->ahead;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		size_t i;
		int n, zerr = Z_OK, err = 0;
		char msg[sizeof(a->msg)] = "";

		while (a->filled == AHEAD && !a->stop)
			pthread_cond_wait(&a->room, &a->lock);
		if (a->stop)
			break;
		i = (a->first + a->filled) % AHEAD;
		pthread_mutex_unlock(&a->lock);
		n = gzread(s->gz, a->chunk[i], (unsigned)CHUNK);
		if (n <= 0) {
			err = errno;
			snprintf(msg, sizeof(msg), "%s", gzerror(s->gz, &zerr));
		}
		pthread_mutex_lock(&a->lock);
		if (n <= 0) {
			a->zerr = zerr;
			a->err = err;
			memcpy(a->msg, msg, sizeof(msg));
		}
		a->len[i] = n;
		a->filled++;
		pthread_cond_signal(&a->data);
		if (n <= 0)
			break;
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static void ahead_free(struct ahead *a)
{
	for (int i = 0; i < AHEAD; i++)
		free(a->chunk[i]);
	free(a);
}

/* Start S's inflater.  If it cannot be had, S is read in the caller's thread. */
static void ahead_start(struct stream *s)
{
	struct ahead *a = calloc(1, sizeof(*a));
	int i;

	if (a == NULL)
		return;
	for (i = 0; i < AHEAD && (a->chunk[i] = malloc(CHUNK)) != NULL; i++)
		;
	if (i < AHEAD || pthread_mutex_init(&a->lock, NULL) != 0) {
		ahead_free(a);
		return;
	}
	if (pthread_cond_init(&a->data, NULL) == 0) {
		if (pthread_cond_init(&a->room, NULL) == 0) {
			s->ahead = a;
			if (pthread_create(&a->thread, NULL, inflater, s) == 0)
				return;
			s->ahead = NULL;
			pthread_cond_destroy(&a->room);
		}
		pthread_cond_destroy(&a->data);
	}
	pthread_mutex_destroy(&a->lock);
	ahead_free(a);
}

static void ahead_stop(struct stream *s)
{
	struct ahead *a = s->ahead;

	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->room);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->data);
	pthread_cond_destroy(&a->room);
	pthread_mutex_destroy(&a->lock);
	ahead_free(a);
	s->ahead = NULL;
	s->buf = NULL;              /* it was a chunk */
}

/* The next chunk from S's inflater into BUF: what gzread returned for it. */
static int ahead_take(struct stream *s, int *zerr, int *err, const char **msg)
{
	struct ahead *a = s->ahead;
	int n;

	pthread_mutex_lock(&a->lock);
	if (a->taken) {
		a->first = (a->first + 1) % AHEAD;
		a->filled--;
		a->taken = false;
		pthread_cond_signal(&a->room);
	}
	while (a->filled == 0)
		pthread_cond_wait(&a->data, &a->lock);
	a->taken = true;
	s->buf = a->chunk[a->first];
	n = a->len[a->first];
	*zerr = a->zerr;
	*err = a->err;
	*msg = a->msg;              /* the inflater is done with it once LEN says so */
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* ---- lines ---- */

/* Open S for reading from its start; with AHEAD (not standard input), an inflater too. */
static int stream_start(struct og_trace_reader *r, struct stream *s, bool ahead)
{
	int fd;

	if (s->gz != NULL)
		return 0;
	if (!s->is_stdin && lseek(s->fd, 0, SEEK_SET) < 0) {
		snprintf(r->error, sizeof(r->error), "%s: cannot read: %s", s->path, strerror(errno));
		return EX_NOINPUT;
	}
	s->lineno = 0;
	if ((s->buf = malloc(CHUNK)) == NULL || (fd = dup(s->fd)) < 0) {
		snprintf(r->error, sizeof(r->error), "%s: %s", s->path,
		         s->buf == NULL ? "out of memory" : strerror(errno));
		return s->buf == NULL ? EX_SOFTWARE : EX_OSERR;
	}
	if ((s->gz = gzdopen(fd, "rb")) == NULL) {
		close(fd);
		snprintf(r->error, sizeof(r->error), "%s: out of memory", s->path);
		return EX_SOFTWARE;
	}
	gzbuffer(s->gz, (unsigned)CHUNK);
	/* a pipe could block the inflater for ever when the reader stops early */
	if (ahead && !s->is_stdin) {
		free(s->buf);
		s->buf = NULL;
		ahead_start(s);
		if (s->ahead == NULL && (s->buf = malloc(CHUNK)) == NULL) {
			snprintf(r->error, sizeof(r->error), "%s: out of memory", s->path);
			return EX_SOFTWARE;
		}
	}
	return 0;
}

/* Refill BUF.  0, or -1 after noting a read error (the file ends there). */
static int refill(struct og_trace_reader *r, struct stream *s)
{
	int n, zerr, err;
	const char *msg;

	s->start = s->end = 0;
	if (s->ahead != NULL) {
		n = ahead_take(s, &zerr, &err, &msg);
	} else {
		n = gzread(s->gz, s->buf, (unsigned)CHUNK);
		err = errno;
		if (n <= 0)
			msg = gzerror(s->gz, &zerr);
	}
	if (n > 0) {
		s->end = (size_t)n;
		return 0;
	}
	s->eof = true;
	if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
		note_read_error(r, s, zerr == Z_ERRNO ? strerror(err) : msg);
		return -1;
	}
	return 0;
}

/*
 * The next line of S without its newline: 1 with *LINE and *LEN (valid until
 * the next call), *TOO_LONG set for a line over OG_TRACE_LINE_MAX (then
 * *LINE holds its start only); 0 at the end of the file; -1 when the
 * reading stopped at a read error (noted); -2 out of memory (r->error says).
 */
static int read_line(struct og_trace_reader *r, struct stream *s, const char **line, size_t *len,
                     bool *too_long)
{
	struct bytes *ll = &s->long_line;

	*too_long = false;
	ll->len = 0;
	for (;;) {
		char *p = s->buf + s->start;
		size_t avail = s->end - s->start;
		char *nl = avail > 0 ? memchr(p, '\n', avail) : NULL;
		size_t n = nl != NULL ? (size_t)(nl - p) : avail;

		if (nl != NULL && ll->len == 0 && !*too_long) {
			s->start += n + 1;
			s->lineno++;
			*line = p;
			*len = n;
			return 1;
		}
		/* a line in pieces: keep what fits, then only its start */
		if (!*too_long && ll->len + n > OG_TRACE_LINE_MAX) {
			*too_long = true;
			if (ll->len < EXCERPT && bytes_add(ll, p, EXCERPT - ll->len < n ? EXCERPT - ll->len : n) < 0)
				goto nomem;
		} else if (!*too_long && bytes_add(ll, p, n) < 0) {
			goto nomem;
		}
		s->start += n + (nl != NULL);
		if (nl != NULL || (s->eof && (ll->len > 0 || *too_long))) {
			s->lineno++;
			*line = ll->data;
			*len = *too_long && ll->len > EXCERPT ? EXCERPT : ll->len;
			return 1;
		}
		if (s->eof)
			return 0;
		if (refill(r, s) < 0)
			return ll->len > 0 ? (s->lineno++, *line = ll->data, *len = ll->len, 1) : -1;
	}
nomem:
	snprintf(r->error, sizeof(r->error), "out of memory reading %s", s->path);
	return -2;
}

/* Do N bytes at A equal the lower-case ASCII of B, in any case? */
static bool ascii_caseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)a[i];

		if ((c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c) != (unsigned char)b[i])
			return false;
	}
	return true;
}

/* Does LINE hold the needle? */
static bool has_needle(const struct og_trace_reader *r, const char *line, size_t len)
{
	const char *nd = r->needle;
	size_t m = r->needle_len;
	const char *end, *lo = NULL, *up = NULL;
	unsigned char c0, c1;

	if (len < m)
		return false;
	if (!r->needle_nocase)
		return memmem(line, len, nd, m) != NULL;
	/* ASCII folding only, whatever the locale says */
	c0 = (unsigned char)nd[0];
	c1 = c0 >= 'a' && c0 <= 'z' ? (unsigned char)(c0 - ('a' - 'A')) : c0;
	end = line + len - m + 1;
	/* memchr for either case of the first byte, each result kept until passed */
	for (const char *p = line; p < end;) {
		const char *q;

		if (lo != end && (lo == NULL || lo < p))
			lo = (lo = memchr(p, c0, (size_t)(end - p))) != NULL ? lo : end;
		if (c1 == c0)
			up = end;
		else if (up != end && (up == NULL || up < p))
			up = (up = memchr(p, c1, (size_t)(end - p))) != NULL ? up : end;
		q = lo < up ? lo : up;
		if (q == end)
			return false;
		if (ascii_caseeq(q + 1, nd + 1, m - 1))
			return true;
		p = q + 1;
	}
	return false;
}

static bool in_period(const struct og_trace_reader *r, int64_t t)
{
	return (r->since == OG_TRACE_TIME_NONE || t >= r->since) &&
	       (r->until == OG_TRACE_TIME_NONE || t < r->until);
}

/* LINE without the white space JSON allows around it. */
static void trim(const char **line, size_t *len)
{
	while (*len > 0 && ((*line)[*len - 1] == '\r' || (*line)[*len - 1] == ' ' ||
	                    (*line)[*len - 1] == '\t'))
		(*len)--;
	while (*len > 0 && (**line == ' ' || **line == '\t')) {
		(*line)++;
		(*len)--;
	}
}

/*
 * Move S to its next line of interest (FILTER: in the period, with the
 * needle): 1 with S's head set, 0 when S has no more (closed), or an EX_*
 * code.
 */
static int advance(struct og_trace_reader *r, struct stream *s, bool filter)
{
	static const char prefix[] = "{\"time\":\"";
	const size_t plen = sizeof(prefix) - 1;
	const char *line;
	size_t len;
	bool too_long;
	int rc;

	s->has_head = false;
	json_decref(s->head_json);
	s->head_json = NULL;
	while ((rc = read_line(r, s, &line, &len, &too_long)) == 1) {
		int64_t t = OG_TRACE_TIME_NONE;

		if (s->record_bad)
			r->st.lines++;
		if (too_long) {
			note_bad(r, s, s->lineno, r->pos++, line, len + 1, "longer than 1 MiB");
			continue;
		}
		trim(&line, &len);
		if (len == 0) {
			note_bad(r, s, s->lineno, r->pos++, line, len, "empty line");
			continue;
		}
		if (line[0] != '{' || line[len - 1] != '}' || memchr(line, '\0', len) != NULL) {
			note_bad(r, s, s->lineno, r->pos++, line, len, "not a JSON object");
			continue;
		}
		if (len > plen + 25 && memcmp(line, prefix, plen) == 0 && line[plen + 24] == '"' &&
		    record_time(line + plen, 24, &t)) {
			if (filter && !in_period(r, t))
				continue;
		} else {
			json_error_t err;
			json_t *j = json_loadb(line, len, 0, &err), *tv;

			if (s->record_bad) {
				r->st.parsed++;
				r->st.jansson++;
			}
			if (j == NULL || !json_is_object(j)) {
				json_decref(j);
				note_bad(r, s, s->lineno, r->pos++, line, len, "not a JSON object");
				continue;
			}
			tv = json_object_get(j, "time");
			if (!json_is_string(tv) || !any_time(json_string_value(tv), json_string_length(tv), &t)) {
				json_decref(j);
				note_bad(r, s, s->lineno, r->pos++, line, len, "no valid \"time\"");
				continue;
			}
			if (filter && !in_period(r, t)) {
				json_decref(j);
				continue;
			}
			s->head_json = j;
		}
		if (filter && r->needle != NULL && !has_needle(r, line, len)) {
			json_decref(s->head_json);
			s->head_json = NULL;
			continue;
		}
		s->has_head = true;
		s->head = line;
		s->head_len = len;
		s->head_line = s->lineno;
		s->head_time = t;
		return 1;
	}
	if (rc == -2)
		return EX_SOFTWARE;
	stream_close_gz(s);
	s->done = true;
	return 0;
}

/* S is read to its end: let its descriptor go. */
static void stream_done(struct stream *s)
{
	if (!s->is_stdin && s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* ---- order ---- */

static bool before(const struct stream *a, const struct stream *b)
{
	return a->head_time != b->head_time ? a->head_time < b->head_time : a->rank < b->rank;
}

static void heap_push(struct og_trace_reader *r, struct stream *s)
{
	size_t i = r->n_heap++;

	r->heap[i] = s;
	while (i > 0 && before(r->heap[i], r->heap[(i - 1) / 2])) {
		struct stream *t = r->heap[i];

		r->heap[i] = r->heap[(i - 1) / 2];
		r->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct stream *heap_pop(struct og_trace_reader *r)
{
	struct stream *top = r->heap[0];
	size_t i = 0;

	r->heap[0] = r->heap[--r->n_heap];
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct stream *t;

		if (l < r->n_heap && before(r->heap[l], r->heap[m]))
			m = l;
		if (l + 1 < r->n_heap && before(r->heap[l + 1], r->heap[m]))
			m = l + 1;
		if (m == i)
			break;
		t = r->heap[i];
		r->heap[i] = r->heap[m];
		r->heap[m] = t;
		i = m;
	}
	return top;
}

static int by_first_time(const void *a, const void *b)
{
	const struct stream *x = *(const struct stream *const *)a;
	const struct stream *y = *(const struct stream *const *)b;

	if (x->first_time != y->first_time)
		return x->first_time < y->first_time ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Mark the files that hold nothing of the period: see ROTATION_SLACK_MS. */
static void mark_skipped(struct og_trace_reader *r)
{
	for (size_t i = 0; i < r->n_pending; i++) {
		struct stream *s = r->pending[i];

		if (s->is_stdin || s->first_time == TIME_NEVER)
			continue;
		if (r->until != OG_TRACE_TIME_NONE && s->first_time > r->until + ROTATION_SLACK_MS)
			s->skip = true;
		if (r->since == OG_TRACE_TIME_NONE)
			continue;
		/* the next newer file of the same rotation starts well before SINCE */
		for (size_t j = i + 1; j < r->n_pending; j++) {
			struct stream *n = r->pending[j];

			if (n->first_time == TIME_NEVER || n->first_time == s->first_time ||
			    strcmp(n->family, s->family) != 0)
				continue;
			if (n->first_time <= r->since - ROTATION_SLACK_MS)
				s->skip = true;
			break;
		}
	}
	for (size_t i = 0; i < r->n_pending; i++)
		if (r->pending[i]->skip)
			r->st.skipped++;
}

int og_trace_open(struct og_trace_reader *r)
{
	struct rlimit rl;
	int rc;

	r->error[0] = '\0';
	if (r->opened)
		return 0;
	r->opened = true;
	/* one descriptor per file stays open: 90 days of logs fit any limit, more may not */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max &&
	    rl.rlim_cur < r->n_files + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (start_batches(r) < 0 ||
	    (r->n_files > 0 && ((r->pending = calloc(r->n_files, sizeof(*r->pending))) == NULL ||
	                        (r->heap = calloc(r->n_files, sizeof(*r->heap))) == NULL))) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		return EX_SOFTWARE;
	}
	for (size_t i = 0; i < r->n_files; i++) {
		struct stream *s = r->files[i];
		struct stat st;

		s->fd = s->is_stdin ? STDIN_FILENO : open(s->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (s->fd < 0) {
			snprintf(r->error, sizeof(r->error), "%s: cannot open: %s", s->path, strerror(errno));
			return EX_NOINPUT;
		}
		if (fstat(s->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(r->error, sizeof(r->error), "%s: cannot read: %s", s->path, strerror(EISDIR));
			return EX_NOINPUT;
		}
		/* the first record; standard input cannot be read twice, so it goes on from there */
		if ((rc = stream_start(r, s, false)) != 0)
			return rc;
		s->record_bad = s->is_stdin;
		if ((rc = advance(r, s, false)) > 1)
			return rc;
		if (rc == 1)
			s->first_time = s->head_time;
		if (!s->is_stdin) {
			stream_close_gz(s);
			json_decref(s->head_json);
			s->head_json = NULL;
			s->has_head = false;
			s->done = false;
		}
		s->record_bad = true;
		r->pending[r->n_pending++] = s;
	}
	qsort(r->pending, r->n_pending, sizeof(*r->pending), by_first_time);
	for (size_t i = 0; i < r->n_pending; i++)
		r->pending[i]->rank = i;
	mark_skipped(r);
	return 0;
}

/* Start reading S: its first line of interest goes on the heap. */
static int activate(struct og_trace_reader *r, struct stream *s)
{
	int rc;

	if (s->skip) {
		close(s->fd);
		s->fd = -1;
		s->done = true;
		return 0;
	}
	if (s->is_stdin && s->has_head) {
		/* the head was read unfiltered by og_trace_open */
		bool keep = in_period(r, s->head_time) &&
		            (r->needle == NULL || has_needle(r, s->head, s->head_len));

		if (keep) {
			heap_push(r, s);
			return 0;
		}
	} else if ((rc = stream_start(r, s, r->n_workers > 0)) != 0) {
		return rc;
	}
	if ((rc = advance(r, s, true)) > 1)
		return rc;
	if (rc == 1)
		heap_push(r, s);
	else
		stream_done(s);
	return 0;
}

/* ---- records: the members the subcommands use ---- */

/*
 * The strings, integers and lists of a line that make its record, found by
 * the scanner below or, in the lines it leaves to jansson, in jansson's tree
 * (from_json).  One table of members serves both, so that they keep the
 * same ones; to_rec then makes the record of what either found.  Strings
 * are decoded copies in the slot's arena, NULL where the member is absent,
 * null or of another type; of a member written twice the last one counts,
 * as with json_object_get.  Lists go straight into the record's.
 */
enum str_slot {
	S_TIME, S_EVENT, S_KEY, S_STYLE, S_UNTIL, S_BY, S_REASON, S_TRIGGER, S_CLIENT, S_SENDER,
	S_QUEUE_ID, S_ACTION, S_APPLIED, S_FROM, S_MESSAGE_ID, S_SUBJECT,
	S_KEYS,                                 /* keys.account ... keys.client: OG_TK__COUNT */
	S_ADDR = S_KEYS + OG_TK__COUNT, S_NAME, /* client.addr, client.name */
	S_LOGIN,                                /* auth.login */
	S_LOCKED_KEY,                           /* locked.key */
	S__COUNT
};
enum int_slot { I_SCORE, I_RCPT_COUNT, I_STOPS, I__COUNT };
enum list_slot { L_RCPTS, L_RULES, L_QIDS, L__COUNT };

/* How a member is kept: its value as a string or an integer; a list of strings
   (L_RULES: of the "rule" of each object); an object of the members SUB. */
enum member_kind { K_STR, K_INT, K_LIST, K_HITS, K_OBJ };

struct member {
	const char *name;
	size_t len;
	enum member_kind kind;
	int slot;                   /* enum str_slot, int_slot or list_slot; an object's string or -1 */
	const struct member *sub;   /* K_OBJ: its members, up to one without a name */
};

#define MEMBER(name, kind, slot, sub) { name, sizeof(name) - 1, kind, slot, sub }

static const struct member keys_members[] = {
	MEMBER("account", K_STR, S_KEYS + OG_TK_ACCOUNT, NULL),
	MEMBER("domain", K_STR, S_KEYS + OG_TK_DOMAIN, NULL),
	MEMBER("script", K_STR, S_KEYS + OG_TK_SCRIPT, NULL),
	MEMBER("client", K_STR, S_KEYS + OG_TK_CLIENT, NULL),
	{ NULL, 0, K_STR, -1, NULL },
};
static const struct member client_members[] = {
	MEMBER("addr", K_STR, S_ADDR, NULL),
	MEMBER("name", K_STR, S_NAME, NULL),
	{ NULL, 0, K_STR, -1, NULL },
};
static const struct member auth_members[] = {
	MEMBER("login", K_STR, S_LOGIN, NULL),
	{ NULL, 0, K_STR, -1, NULL },
};
static const struct member locked_members[] = {
	MEMBER("key", K_STR, S_LOCKED_KEY, NULL),
	{ NULL, 0, K_STR, -1, NULL },
};
/* the record's own members, most frequent first (the scanner looks them up in order) */
static const struct member top_members[] = {
	MEMBER("time", K_STR, S_TIME, NULL),
	MEMBER("queue_id", K_STR, S_QUEUE_ID, NULL),
	MEMBER("action", K_STR, S_ACTION, NULL),
	MEMBER("applied", K_STR, S_APPLIED, NULL),
	MEMBER("score", K_INT, I_SCORE, NULL),
	MEMBER("keys", K_OBJ, -1, keys_members),
	/* a message's client is an object; a refused event's, the address */
	MEMBER("client", K_OBJ, S_CLIENT, client_members),
	MEMBER("auth", K_OBJ, -1, auth_members),
	MEMBER("sender", K_STR, S_SENDER, NULL),
	MEMBER("from", K_STR, S_FROM, NULL),
	MEMBER("message_id", K_STR, S_MESSAGE_ID, NULL),
	MEMBER("subject", K_STR, S_SUBJECT, NULL),
	MEMBER("rcpt_count", K_INT, I_RCPT_COUNT, NULL),
	MEMBER("rcpt_sample", K_LIST, L_RCPTS, NULL),
	MEMBER("hits", K_HITS, L_RULES, NULL),
	MEMBER("locked", K_OBJ, -1, locked_members),
	MEMBER("event", K_STR, S_EVENT, NULL),
	MEMBER("key", K_STR, S_KEY, NULL),
	MEMBER("style", K_STR, S_STYLE, NULL),
	MEMBER("until", K_STR, S_UNTIL, NULL),
	MEMBER("by", K_STR, S_BY, NULL),
	MEMBER("reason", K_STR, S_REASON, NULL),
	MEMBER("stops", K_INT, I_STOPS, NULL),
	MEMBER("trigger", K_STR, S_TRIGGER, NULL),
	MEMBER("queue_ids", K_LIST, L_QIDS, NULL),
	{ NULL, 0, K_STR, -1, NULL },
};

struct found {
	const char *s[S__COUNT];
	bool event;                 /* an "event" member, of any type: an event record */
	bool has_int[I__COUNT];     /* an integer (not a real) */
	long long i[I__COUNT];
};

static bool member_is(const struct member *m, const char *key, size_t len)
{
	return m->len == len && memcmp(m->name, key, len) == 0;
}

/*
 * The member KEY (LEN bytes) of TABLE, or NULL.  Looked for from *HINT on
 * (the one after the last found: records are written in the table's order),
 * then from the start.
 */
static const struct member *member_of(const struct member *table, const char *key, size_t len,
                                      const struct member **hint)
{
	const struct member *from = *hint != NULL ? *hint : table, *m;

	for (m = from; m->name != NULL && !member_is(m, key, len); m++)
		;
	if (m->name == NULL)
		for (m = table; m != from && !member_is(m, key, len); m++)
			;
	if (m->name == NULL || !member_is(m, key, len))
		return NULL;
	*hint = m + 1;
	return m;
}

/* Forget what F holds of M's value: a later value of M replaces it. */
static void forget(struct found *f, struct og_trace_rec *rec, const struct member *m)
{
	switch (m->kind) {
	case K_STR:
		f->s[m->slot] = NULL;
		break;
	case K_INT:
		f->has_int[m->slot] = false;
		break;
	case K_LIST:
	case K_HITS:
		(m->slot == L_RCPTS ? &rec->rcpts : m->slot == L_RULES ? &rec->rules : &rec->queue_ids)->n = 0;
		break;
	case K_OBJ:
		if (m->slot >= 0)
			f->s[m->slot] = NULL;
		for (const struct member *s = m->sub; s->name != NULL; s++)
			f->s[s->slot] = NULL;
		break;
	}
}

/* Room for the N entries of a list.  0 or -1. */
static int list_room(const char ***v, size_t n, size_t *cap)
{
	const char **p;

	if (n <= *cap)
		return 0;
	if (n > SIZE_MAX / sizeof(*p) || (p = realloc(*v, n * sizeof(*p))) == NULL)
		return -1;
	*v = p;
	*cap = n;
	return 0;
}

/* Append S to list L of SL's record, making room.  0 or -1. */
static int list_push(struct slot *sl, enum list_slot l, const char *s)
{
	struct og_trace_list *list = l == L_RCPTS ? &sl->rec.rcpts : l == L_RULES ? &sl->rec.rules :
	                             &sl->rec.queue_ids;
	size_t *cap = l == L_RCPTS ? &sl->cap_rcpts : l == L_RULES ? &sl->cap_rules : &sl->cap_qids;

	if (list->n == *cap && list_room(&list->v, *cap < 8 ? 8 : *cap * 2, cap) < 0)
		return -1;
	list->v[list->n++] = s;
	return 0;
}

/*
 * Ready SL for a line: its record cleared (lists kept, emptied), F empty,
 * the arena emptied with room for the line (decoded strings are never
 * longer than their JSON text).  0, or -1 if out of memory.
 */
static int begin_rec(struct slot *sl, struct found *f)
{
	struct og_trace_rec *rec = &sl->rec;
	struct og_trace_list lists[3] = { rec->rcpts, rec->rules, rec->queue_ids };

	sl->arena.len = 0;
	if (bytes_room(&sl->arena, sl->raw.len + 1) < 0)
		return -1;
	memset(rec, 0, sizeof(*rec));
	rec->rcpts.v = lists[0].v;
	rec->rules.v = lists[1].v;
	rec->queue_ids.v = lists[2].v;
	memset(f, 0, sizeof(*f));
	return 0;
}

/* SL's record of what F holds (the lists are in it already).  Runs in any thread. */
static void to_rec(struct slot *sl, const struct found *f)
{
	struct og_trace_rec *rec = &sl->rec;
	const char *const *s = f->s;

	rec->file = sl->s->path;
	rec->line = sl->line;
	rec->time_ms = sl->time;
	rec->time = s[S_TIME];
	rec->stops = -1;
	rec->act = OG_TA_UNKNOWN;
	if (f->event) {
		rec->event = s[S_EVENT];
		rec->type = rec->event == NULL ? OG_TRACE_EVENT :
		            strcmp(rec->event, "lock") == 0 ? OG_TRACE_LOCK :
		            strcmp(rec->event, "unlock") == 0 ? OG_TRACE_UNLOCK :
		            strcmp(rec->event, "allow") == 0 ? OG_TRACE_ALLOW :
		            strcmp(rec->event, "refused") == 0 ? OG_TRACE_REFUSED : OG_TRACE_EVENT;
		rec->ev_key = s[S_KEY];
		rec->style = s[S_STYLE];
		rec->until = s[S_UNTIL];
		rec->by = s[S_BY];
		rec->reason = s[S_REASON];
		rec->trigger = s[S_TRIGGER];
		rec->stops = f->has_int[I_STOPS] ? f->i[I_STOPS] : -1;
		rec->client_addr = s[S_CLIENT];
		rec->sender = s[S_SENDER];
		rec->rcpts.n = rec->rules.n = 0;
		return;
	}
	rec->type = OG_TRACE_MESSAGE;
	rec->queue_id = s[S_QUEUE_ID];
	rec->action = s[S_ACTION];
	rec->applied = s[S_APPLIED];
	rec->act = og_trace_action_from_name(rec->applied);
	rec->score = f->has_int[I_SCORE] ? f->i[I_SCORE] : 0;
	for (int k = 0; k < OG_TK__COUNT; k++)
		rec->key[k] = s[S_KEYS + k];
	rec->client_addr = s[S_ADDR];
	rec->client_name = s[S_NAME];
	rec->login = s[S_LOGIN];
	rec->sender = s[S_SENDER];
	rec->from = s[S_FROM];
	rec->message_id = s[S_MESSAGE_ID];
	rec->subject = s[S_SUBJECT];
	rec->rcpt_count = f->has_int[I_RCPT_COUNT] && f->i[I_RCPT_COUNT] > 0 ?
	                  (uint64_t)f->i[I_RCPT_COUNT] : 0;
	rec->locked_key = s[S_LOCKED_KEY];
	rec->queue_ids.n = 0;
}

/* ---- records from jansson's tree ---- */

/* A copy of the string V in ARENA (sized beforehand: never moves), or NULL. */
static const char *keep_str(struct bytes *arena, const json_t *v)
{
	size_t n;
	char *p;

	if (!json_is_string(v))
		return NULL;
	n = json_string_length(v);
	if (n + 1 > arena->cap - arena->len)
		return NULL;            /* cannot happen: the arena holds the whole line */
	p = arena->data + arena->len;
	memcpy(p, json_string_value(v), n + 1);
	arena->len += n + 1;
	return p;
}

/* The strings of array A (or of member "rule" of its objects, HITS) into list L of SL.  0 or -1. */
static int get_list(struct slot *sl, const json_t *a, bool hits, enum list_slot l)
{
	size_t i;
	const json_t *v;

	json_array_foreach(a, i, v) {
		const char *s = keep_str(&sl->arena, hits ? json_object_get(v, "rule") : v);

		if (s != NULL && list_push(sl, l, s) < 0)
			return -1;
	}
	return 0;
}

/* SL's record from the object J.  0, or -1 if out of memory.  Runs in any thread. */
static int extract(struct slot *sl, const json_t *j)
{
	struct found f;

	if (begin_rec(sl, &f) < 0)
		return -1;
	for (const struct member *m = top_members; m->name != NULL; m++) {
		const json_t *v = json_object_get(j, m->name);

		switch (m->kind) {
		case K_STR:
			f.s[m->slot] = keep_str(&sl->arena, v);
			if (m->slot == S_EVENT)
				f.event = v != NULL;
			break;
		case K_INT:
			f.has_int[m->slot] = json_is_integer(v);
			f.i[m->slot] = json_is_integer(v) ? (long long)json_integer_value(v) : 0;
			break;
		case K_LIST:
		case K_HITS:
			if (get_list(sl, v, m->kind == K_HITS, (enum list_slot)m->slot) < 0)
				return -1;
			break;
		case K_OBJ:
			if (m->slot >= 0)
				f.s[m->slot] = keep_str(&sl->arena, v);
			for (const struct member *s = m->sub; s->name != NULL; s++)
				f.s[s->slot] = keep_str(&sl->arena, json_object_get(v, s->name));
			break;
		}
	}
	to_rec(sl, &f);
	return 0;
}

/* ---- records without jansson: the scanner ---- */

/*
 * Jansson builds a tree of some 80 values of each record, with an
 * allocation for each: about 30 us a line of the daemon's (15 us without
 * the mallocs and frees), where the scanner takes under 2.  The scanner
 * reads a line in one pass, keeping only the members above.  It
 * is sure of a line only in a plain subset of JSON that jansson accepts
 * (flags 0): strings of valid UTF-8 without control bytes and with no
 * escape but \" \\ \/ \b \f \n \r \t, keys without escapes, integers of up
 * to 18 digits, fractions without an exponent, true, false, null, and
 * nesting to SCAN_DEPTH.  Of anything else (a \u escape, an exponent, a
 * syntax error) it is not sure, and jansson reads the line: whether a line
 * is bad is always jansson's say, the scanner only makes the good ones
 * cheap.  test_trace holds the two to the same records over the fixtures
 * and many damaged lines.
 */
#define SCAN_DEPTH 32

struct scan {
	const char *p, *end;
	struct slot *sl;
	struct found *f;
	int depth;
	bool nomem;
};

static void scan_ws(struct scan *sc)
{
	while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
		sc->p++;
}

/*
 * Are the 8 bytes at P all plain in a string: none a quote, a backslash, a
 * control byte or of UTF-8's?  (Word-at-a-time: a byte is zero where
 * (v - 0x01..) & ~v has its high bit; borrows only add marks above one.)
 */
static bool plain8(const char *p)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
	uint64_t w, q, b;

	memcpy(&w, p, 8);
	q = w ^ (ones * '"');
	b = w ^ (ones * '\\');
	return ((((q - ones) & ~q) | ((b - ones) & ~b) | (w - ones * 0x20) | w) & high) == 0;
}

/* The string at sc->p ('"'): its text in *S, *N bytes, *ESC if it has escapes.  false: not sure. */
static bool scan_string(struct scan *sc, const char **s, size_t *n, bool *esc)
{
	const char *p = sc->p + 1, *end = sc->end;

	*s = p;
	*esc = false;
	for (;;) {
		unsigned char c;

		while (end - p >= 8 && plain8(p))
			p += 8;
		while (p < end && (c = (unsigned char)*p) >= 0x20 && c < 0x80 && c != '"' && c != '\\')
			p++;
		if (p == end)
			return false;
		c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c == '\\') {
			if (end - p < 2)
				return false;
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				break;
			default:
				return false;           /* \u, or not an escape */
			}
			*esc = true;
			p += 2;
		} else if (c < 0x20) {
			return false;
		} else {
			uint32_t cp;
			size_t k = og_utf8_decode((const unsigned char *)p, (size_t)(end - p), &cp);

			if (k == 0)
				return false;
			p += k;
		}
	}
	*n = (size_t)(p - *s);
	sc->p = p + 1;
	return true;
}

/* A copy of the string text S (N bytes, escapes decoded if ESC) in the arena. */
static const char *scan_keep(struct scan *sc, const char *s, size_t n, bool esc)
{
	struct bytes *a = &sc->sl->arena;
	char *out = a->data + a->len, *o = out;

	if (n + 1 > a->cap - a->len)
		return NULL;            /* cannot happen: the arena holds the whole line */
	if (!esc) {
		memcpy(o, s, n);
		o += n;
	} else {
		for (size_t i = 0; i < n; i++) {
			if (s[i] != '\\') {
				*o++ = s[i];
				continue;
			}
			switch (s[++i]) {
			case 'b': *o++ = '\b'; break;
			case 'f': *o++ = '\f'; break;
			case 'n': *o++ = '\n'; break;
			case 'r': *o++ = '\r'; break;
			case 't': *o++ = '\t'; break;
			default: *o++ = s[i]; break;   /* " \ / */
			}
		}
	}
	*o++ = '\0';
	a->len += (size_t)(o - out);
	return out;
}

/* The string at sc->p kept in *OUT.  false: not sure. */
static bool scan_kept(struct scan *sc, const char **out)
{
	const char *s;
	size_t n;
	bool esc;

	if (!scan_string(sc, &s, &n, &esc))
		return false;
	*out = scan_keep(sc, s, n, esc);
	return true;
}

/* The number at sc->p: *IS_INT and *V for an integer.  false: not sure. */
static bool scan_number(struct scan *sc, bool *is_int, long long *v)
{
	const char *p = sc->p, *end = sc->end, *d;
	bool neg = p < end && *p == '-';
	long long x = 0;

	p += neg;
	d = p;
	if (p < end && *p == '0')
		p++;
	else
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	if (p == d || p - d > 18)
		return false;           /* no digits; or perhaps too big for jansson */
	for (const char *q = d; q < p; q++)
		x = x * 10 + (*q - '0');
	*is_int = true;
	if (p < end && *p == '.') {
		const char *frac = ++p;

		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == frac)
			return false;
		*is_int = false;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
		return false;           /* a real that may overflow */
	*v = neg ? -x : x;
	sc->p = p;
	return true;
}

static bool scan_object(struct scan *sc, const struct member *table, const char **rule);
static bool scan_array(struct scan *sc, const struct member *m);

/* Any value at sc->p, kept if M (or, with RULE, a hit's rule) says so.  false: not sure. */
static bool scan_value(struct scan *sc, const struct member *m, const char **rule)
{
	bool is_int = false;
	long long v = 0;

	if (sc->p == sc->end)
		return false;
	switch (*sc->p) {
	case '"':
		if (rule != NULL)
			return scan_kept(sc, rule);
		if (m != NULL && (m->kind == K_STR || m->kind == K_OBJ) && m->slot >= 0)
			return scan_kept(sc, &sc->f->s[m->slot]);
		{
			const char *s;
			size_t n;
			bool esc;

			return scan_string(sc, &s, &n, &esc);
		}
	case '{':
		return scan_object(sc, m != NULL && m->kind == K_OBJ ? m->sub : NULL, NULL);
	case '[':
		return scan_array(sc, m != NULL && (m->kind == K_LIST || m->kind == K_HITS) ? m : NULL);
	case 't':
	case 'f':
	case 'n': {
		size_t n = *sc->p == 'f' ? 5 : 4;

		if ((size_t)(sc->end - sc->p) < n ||
		    memcmp(sc->p, *sc->p == 't' ? "true" : *sc->p == 'f' ? "false" : "null", n) != 0)
			return false;
		sc->p += n;
		return true;
	}
	default:
		if (!scan_number(sc, &is_int, &v))
			return false;
		if (m != NULL && m->kind == K_INT) {
			sc->f->has_int[m->slot] = is_int;
			sc->f->i[m->slot] = v;
		}
		return true;
	}
}

/* The object at sc->p ('{'), its members of TABLE kept (NULL: none); a hit's rule into *RULE. */
static bool scan_object(struct scan *sc, const struct member *table, const char **rule)
{
	const struct member *hint = NULL;

	if (++sc->depth > SCAN_DEPTH)
		return false;
	sc->p++;
	scan_ws(sc);
	if (sc->p < sc->end && *sc->p == '}') {
		sc->p++;
		sc->depth--;
		return true;
	}
	for (;;) {
		const struct member *m = NULL;
		const char *key;
		size_t len;
		bool esc, is_rule = false;

		if (sc->p == sc->end || *sc->p != '"' || !scan_string(sc, &key, &len, &esc) || esc)
			return false;
		scan_ws(sc);
		if (sc->p == sc->end || *sc->p != ':')
			return false;
		sc->p++;
		scan_ws(sc);
		if (table != NULL && (m = member_of(table, key, len, &hint)) != NULL)
			forget(sc->f, &sc->sl->rec, m);
		else if (rule != NULL && len == 4 && memcmp(key, "rule", 4) == 0)
			is_rule = true;
		if (is_rule)
			*rule = NULL;
		if (!scan_value(sc, m, is_rule ? rule : NULL))
			return false;
		if (m != NULL && m->kind == K_STR && m->slot == S_EVENT)
			sc->f->event = true;
		scan_ws(sc);
		if (sc->p == sc->end)
			return false;
		if (*sc->p == '}')
			break;
		if (*sc->p != ',')
			return false;
		sc->p++;
		scan_ws(sc);
	}
	sc->p++;
	sc->depth--;
	return true;
}

/* The array at sc->p ('['), its strings (M K_LIST) or its objects' rules (K_HITS) kept. */
static bool scan_array(struct scan *sc, const struct member *m)
{
	if (++sc->depth > SCAN_DEPTH)
		return false;
	sc->p++;
	scan_ws(sc);
	if (sc->p < sc->end && *sc->p == ']') {
		sc->p++;
		sc->depth--;
		return true;
	}
	for (;;) {
		const char *s = NULL;

		if (sc->p == sc->end)
			return false;
		if (m != NULL && m->kind == K_LIST && *sc->p == '"') {
			if (!scan_kept(sc, &s))
				return false;
		} else if (m != NULL && m->kind == K_HITS && *sc->p == '{') {
			if (!scan_object(sc, NULL, &s))
				return false;
		} else if (!scan_value(sc, NULL, NULL)) {
			return false;
		}
		if (s != NULL && list_push(sc->sl, (enum list_slot)m->slot, s) < 0) {
			sc->nomem = true;
			return false;
		}
		scan_ws(sc);
		if (sc->p == sc->end)
			return false;
		if (*sc->p == ']')
			break;
		if (*sc->p != ',')
			return false;
		sc->p++;
		scan_ws(sc);
	}
	sc->p++;
	sc->depth--;
	return true;
}

/*
 * SL's record from its line by the scanner: 1 done; 0 not sure (the line is
 * jansson's to read); -1 out of memory.  Runs in any thread.
 */
static int scan_line(struct slot *sl)
{
	struct found f;
	struct scan sc = { sl->raw.data, sl->raw.data + sl->raw.len, sl, &f, 0, false };

	if (begin_rec(sl, &f) < 0)
		return -1;
	scan_ws(&sc);
	if (sc.p == sc.end || *sc.p != '{' || !scan_object(&sc, top_members, NULL)) {
		/* not sure: for jansson, from a clean record */
		return sc.nomem ? -1 : 0;
	}
	scan_ws(&sc);
	if (sc.p != sc.end)
		return 0;
	to_rec(sl, &f);
	return 1;
}

/* Parse every line of B (a worker's part, or the reader's without workers). */
static void parse_batch(const struct og_trace_reader *r, struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct slot *sl = &b->slot[i];
		json_t *j = sl->pre;
		json_error_t err;

		sl->pre = NULL;
		if (sl->bad)
			continue;
		if (j == NULL) {
			int rc = r->no_scan ? 0 : scan_line(sl);

			b->parsed++;
			if (rc == 1)
				continue;
			if (rc < 0) {
				b->nomem = true;
				continue;
			}
			b->jansson++;
			j = json_loadb(sl->raw.data, sl->raw.len, 0, &err);
		}
		if (j == NULL || !json_is_object(j))
			sl->bad = true;
		else if (extract(sl, j) < 0)
			b->nomem = true;
		json_decref(j);
	}
}

/* ---- records: parsed in batches, by worker threads when there are any ---- */

static void *worker(void *arg)
{
	struct og_trace_reader *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct batch *b = NULL;

		for (size_t i = 0; i < r->n_batches; i++)
			if (r->batches[i].state == B_QUEUED &&
			    (b == NULL || r->batches[i].seq < b->seq))
				b = &r->batches[i];
		if (b == NULL) {
			if (r->stop)
				break;
			pthread_cond_wait(&r->work, &r->lock);
			continue;
		}
		b->state = B_BUSY;
		pthread_mutex_unlock(&r->lock);
		parse_batch(r, b);
		pthread_mutex_lock(&r->lock);
		b->state = B_DONE;
		pthread_cond_broadcast(&r->done);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* B's state, set by the reader's thread; under the lock while workers run. */
static void set_state(struct og_trace_reader *r, struct batch *b, enum batch_state st)
{
	if (r->sync)
		pthread_mutex_lock(&r->lock);
	b->state = st;
	if (r->sync)
		pthread_mutex_unlock(&r->lock);
}

static bool is_free(struct og_trace_reader *r, struct batch *b)
{
	bool f;

	if (r->sync)
		pthread_mutex_lock(&r->lock);
	f = b->state == B_FREE;
	if (r->sync)
		pthread_mutex_unlock(&r->lock);
	return f;
}

/* Hand B to the workers, or parse it here without them. */
static void submit(struct og_trace_reader *r, struct batch *b)
{
	if (r->n_workers == 0) {
		parse_batch(r, b);
		b->state = B_DONE;
		return;
	}
	pthread_mutex_lock(&r->lock);
	b->state = B_QUEUED;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
}

static void await(struct og_trace_reader *r, struct batch *b)
{
	if (r->n_workers == 0)
		return;
	pthread_mutex_lock(&r->lock);
	while (b->state != B_DONE)
		pthread_cond_wait(&r->done, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

int og_trace_set_scanner(struct og_trace_reader *r, bool on)
{
	if (r->opened)
		return -1;
	r->no_scan = !on;
	return 0;
}

int og_trace_set_threads(struct og_trace_reader *r, int n)
{
	if (r->opened || n < 0)
		return -1;
	r->want_workers = n > OG_TRACE_THREADS_MAX ? OG_TRACE_THREADS_MAX : n;
	return 0;
}

/* The batches, and the workers (as many as can be started).  0 or -1. */
static int start_batches(struct og_trace_reader *r)
{
	r->n_batches = r->want_workers > 0 ? 2 * (size_t)r->want_workers + 1 : 1;
	if ((r->batches = calloc(r->n_batches, sizeof(*r->batches))) == NULL)
		return -1;
	if (r->want_workers == 0)
		return 0;
	if ((r->workers = calloc((size_t)r->want_workers, sizeof(*r->workers))) == NULL ||
	    pthread_mutex_init(&r->lock, NULL) != 0)
		return -1;
	if (pthread_cond_init(&r->work, NULL) != 0 || pthread_cond_init(&r->done, NULL) != 0) {
		pthread_mutex_destroy(&r->lock);
		return -1;
	}
	r->sync = true;
	while (r->n_workers < r->want_workers &&
	       pthread_create(&r->workers[r->n_workers], NULL, worker, r) == 0)
		r->n_workers++;
	return 0;
}

static void stop_batches(struct og_trace_reader *r)
{
	if (r->sync) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_cond_broadcast(&r->work);
		pthread_mutex_unlock(&r->lock);
		for (int i = 0; i < r->n_workers; i++)
			pthread_join(r->workers[i], NULL);
		pthread_cond_destroy(&r->work);
		pthread_cond_destroy(&r->done);
		pthread_mutex_destroy(&r->lock);
	}
	free(r->workers);
	for (size_t i = 0; r->batches != NULL && i < r->n_batches; i++) {
		for (size_t k = 0; k < BATCH_LINES; k++) {
			struct slot *sl = &r->batches[i].slot[k];

			json_decref(sl->pre);
			free(sl->raw.data);
			free(sl->arena.data);
			free(sl->rec.rcpts.v);
			free(sl->rec.rules.v);
			free(sl->rec.queue_ids.v);
		}
	}
	free(r->batches);
}

/* The next line of the merge: 1 with *S's head, 0 at the end, or an EX_* code. */
static int merge_line(struct og_trace_reader *r, struct stream **out)
{
	int rc;

	/* start the files whose first record is not after the earliest next line */
	while (r->next_pending < r->n_pending &&
	       (r->n_heap == 0 || r->pending[r->next_pending]->first_time <= r->heap[0]->head_time))
		if ((rc = activate(r, r->pending[r->next_pending++])) != 0)
			return rc;
	if (r->n_heap == 0)
		return 0;
	*out = heap_pop(r);
	return 1;
}

/* Fill B with the next lines in order (copied: the files' buffers move on).  0 or an EX_* code. */
static int fill(struct og_trace_reader *r, struct batch *b)
{
	struct stream *s = NULL;
	int rc = 0;

	b->n = b->next = 0;
	b->parsed = b->jansson = 0;
	b->nomem = false;
	while (b->n < BATCH_LINES && (rc = merge_line(r, &s)) == 1) {
		struct slot *sl = &b->slot[b->n++];

		sl->s = s;
		sl->line = s->head_line;
		sl->pos = r->pos++;
		sl->time = s->head_time;
		sl->bad = false;
		sl->pre = s->head_json;
		s->head_json = NULL;
		sl->raw.len = 0;
		if (bytes_add(&sl->raw, s->head, s->head_len) < 0) {
			snprintf(r->error, sizeof(r->error), "out of memory");
			return EX_SOFTWARE;
		}
		if ((rc = advance(r, s, true)) > 1)
			return rc;
		if (rc == 1)
			heap_push(r, s);
		else
			stream_done(s);
	}
	return b->n < BATCH_LINES && rc > 1 ? rc : 0;
}

/* Let B go: a slot that held a long line gives its memory back. */
static void recycle(struct og_trace_reader *r, struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct slot *sl = &b->slot[i];

		if (sl->raw.cap > SLOT_KEEP) {
			free(sl->raw.data);
			free(sl->arena.data);
			sl->raw = (struct bytes){ 0 };
			sl->arena = (struct bytes){ 0 };
		}
	}
	r->st.parsed += b->parsed;
	r->st.jansson += b->jansson;
	set_state(r, b, B_FREE);
}

int og_trace_next(struct og_trace_reader *r, const struct og_trace_rec **out)
{
	int rc;

	r->error[0] = '\0';
	if (!r->opened && (rc = og_trace_open(r)) != 0)
		return rc;
	for (;;) {
		struct batch *b = r->cur;

		while (b != NULL && b->next < b->n) {
			struct slot *sl = &b->slot[b->next++];

			if (sl->bad) {
				note_bad(r, sl->s, sl->line, sl->pos, sl->raw.data, sl->raw.len,
				         "not a JSON object");
				continue;
			}
			r->st.records++;
			*out = &sl->rec;
			return 1;
		}
		if (b != NULL) {
			recycle(r, b);
			r->cur = b = NULL;
		}
		/* keep every free batch filled and with the workers */
		for (size_t i = 0; i < r->n_batches && !r->merged; i++) {
			struct batch *f = &r->batches[i];

			if (!is_free(r, f))
				continue;
			if ((rc = fill(r, f)) != 0)
				return rc;
			if (f->n == 0) {
				r->merged = true;
				break;
			}
			f->seq = r->fill_seq++;
			submit(r, f);
			if (f->n < BATCH_LINES)
				r->merged = true;
		}
		/* SEQ is written by this thread only, before the batch is queued */
		for (size_t i = 0; i < r->n_batches && b == NULL; i++)
			if (!is_free(r, &r->batches[i]) && r->batches[i].seq == r->take_seq)
				b = &r->batches[i];
		if (b == NULL)
			return 0;
		await(r, b);
		r->take_seq++;
		r->cur = b;
		if (b->nomem) {
			snprintf(r->error, sizeof(r->error), "out of memory");
			return EX_SOFTWARE;
		}
	}
}
