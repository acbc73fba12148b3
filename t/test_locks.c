/* Unit tests for locks: entries, expiry, the state file and its errors, threads, size. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "locks.h"
#include "testutil.h"

static char tmpdir[64];             /* t/tmp-locks-XXXXXX */

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A store holding one lock, so that a test can see it emptied. */
static struct og_lockstore *store_with_one(void)
{
	struct og_lockstore *s = og_locks_new();

	assert_non_null(s);
	assert_int_equal(og_locks_set(s, "sasl:old@example.com", OG_LOCK, OG_LOCK_REFUSE, 10, 0,
	                              "from before", "admin"), 0);
	return s;
}

/* An entry as a test writes it down. */
struct spec {
	const char *key;
	enum og_lock_kind kind;
	enum og_lock_style style;
	int64_t since, until;
	const char *reason, *by;
};

static struct spec spec_of(const struct og_lock *l)
{
	return (struct spec){ l->key, l->kind, l->style, l->since, l->until, l->reason, l->by };
}

/* Fail naming LABEL unless A is the entry B. */
static void check_lock(const char *label, const struct og_lock *a, const struct spec *b)
{
	char what[256];

	snprintf(what, sizeof(what), "%s: key", label);
	CHECK_STR(what, a->key, b->key);
	snprintf(what, sizeof(what), "%s: reason", label);
	CHECK_STR(what, a->reason, b->reason);
	snprintf(what, sizeof(what), "%s: by", label);
	CHECK_STR(what, a->by, b->by);
	if (a->kind != b->kind || a->style != b->style || a->since != b->since || a->until != b->until)
		fail_msg("%s: got kind %d style %d since %" PRId64 " until %" PRId64 ", want kind %d "
		         "style %d since %" PRId64 " until %" PRId64, label, a->kind, a->style, a->since,
		         a->until, b->kind, b->style, b->since, b->until);
}

/* ---- entries ---- */

static void test_set_get_remove(void **state)
{
	static const struct {
		const char *label;
		const char *key;
		enum og_lock_kind kind;
		enum og_lock_style style;
		int64_t until;
		const char *reason, *by;
		const char *want_reason, *want_by;
	} rows[] = {
		{ "lock, refuse, until removed", "sasl:alice@example.com", OG_LOCK, OG_LOCK_REFUSE, 0,
		  "500 messages in 1h", "outguard", "500 messages in 1h", "outguard" },
		{ "lock, hold, for a while", "uid:1001", OG_LOCK, OG_LOCK_HOLD, 5000, "trap phrase",
		  "admin", "trap phrase", "admin" },
		{ "allow for a day", "ip:192.0.2.7", OG_ALLOW, OG_LOCK_REFUSE, 1000 + 86400,
		  "announced mass mailing", "admin", "announced mass mailing", "admin" },
		{ "NULL reason and by", "php:1001:contact.php", OG_LOCK, OG_LOCK_REFUSE, 0, NULL, NULL,
		  "", "" },
		{ "invalid UTF-8 in reason", "uid:33", OG_ALLOW, OG_LOCK_REFUSE, 0, "bad \xff byte",
		  "ad\xc3min", "bad \xef\xbf\xbd byte", "ad\xef\xbf\xbdmin" },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_lockstore *s = og_locks_new();
		enum og_lock_kind other = rows[i].kind == OG_LOCK ? OG_ALLOW : OG_LOCK;
		struct og_lock got;
		struct spec want = { rows[i].key, rows[i].kind, rows[i].style, 1000, rows[i].until,
		                     rows[i].want_reason, rows[i].want_by };
		char label[128];

		snprintf(label, sizeof(label), "row \"%s\"", rows[i].label);
		assert_non_null(s);
		if (og_locks_get(s, rows[i].key, rows[i].kind, 1000, &got))
			fail_msg("%s: in force before it was set", label);
		if (og_locks_set(s, rows[i].key, rows[i].kind, rows[i].style, 1000, rows[i].until,
		                 rows[i].reason, rows[i].by) != 0)
			fail_msg("%s: set failed", label);
		if (!og_locks_get(s, rows[i].key, rows[i].kind, 1001, &got))
			fail_msg("%s: not in force after set", label);
		check_lock(label, &got, &want);
		og_lock_clear(&got);
		if (og_locks_get(s, rows[i].key, rows[i].kind, 1001, NULL) != true ||
		    og_locks_get(s, rows[i].key, other, 1001, &got) != false || got.key != NULL ||
		    og_locks_count(s) != 1)
			fail_msg("%s: wrong answers after set", label);
		if (og_locks_remove(s, rows[i].key, other, 1001) != 0 ||
		    og_locks_remove(s, rows[i].key, rows[i].kind, 1001) != 1 ||
		    og_locks_get(s, rows[i].key, rows[i].kind, 1001, NULL) ||
		    og_locks_remove(s, rows[i].key, rows[i].kind, 1001) != 0 || og_locks_count(s) != 0)
			fail_msg("%s: wrong answers around remove", label);
		og_locks_free(s);
	}
}

/* A key may be locked and allowed at once; each goes its own way. */
static void test_lock_and_allow(void **state)
{
	struct og_lockstore *s = og_locks_new();
	struct og_lock l;
	(void)state;

	assert_non_null(s);
	assert_int_equal(og_locks_set(s, "sasl:bob", OG_LOCK, OG_LOCK_HOLD, 100, 0, "lock", "admin"), 0);
	assert_int_equal(og_locks_set(s, "sasl:bob", OG_ALLOW, OG_LOCK_REFUSE, 100, 500, "allow",
	                              "admin"), 0);
	assert_int_equal(og_locks_count(s), 2);
	assert_true(og_locks_get(s, "sasl:bob", OG_LOCK, 200, &l));
	CHECK_STR("lock reason", l.reason, "lock");
	og_lock_clear(&l);
	assert_true(og_locks_get(s, "sasl:bob", OG_ALLOW, 200, &l));
	CHECK_STR("allow reason", l.reason, "allow");
	og_lock_clear(&l);
	assert_int_equal(og_locks_remove(s, "sasl:bob", OG_LOCK, 200), 1);
	assert_false(og_locks_get(s, "sasl:bob", OG_LOCK, 200, NULL));
	assert_true(og_locks_get(s, "sasl:bob", OG_ALLOW, 200, NULL));
	/* the allow runs out on its own, the lock (set again) does not */
	assert_int_equal(og_locks_set(s, "sasl:bob", OG_LOCK, OG_LOCK_REFUSE, 300, 0, NULL, NULL), 0);
	assert_false(og_locks_get(s, "sasl:bob", OG_ALLOW, 500, NULL));
	assert_true(og_locks_get(s, "sasl:bob", OG_LOCK, 500, NULL));
	og_locks_free(s);
}

static void test_replace(void **state)
{
	struct og_lockstore *s = og_locks_new();
	static const struct spec want = { "uid:1001", OG_LOCK, OG_LOCK_HOLD, 1500, 0, "second",
	                                  "admin" };
	struct og_lock got;
	(void)state;

	assert_non_null(s);
	assert_int_equal(og_locks_set(s, "uid:1001", OG_LOCK, OG_LOCK_REFUSE, 1000, 2000, "first",
	                              "outguard"), 0);
	assert_int_equal(og_locks_set(s, "uid:1001", OG_LOCK, OG_LOCK_HOLD, 1500, 0, "second",
	                              "admin"), 0);
	assert_int_equal(og_locks_count(s), 1);
	/* the first entry's end no longer applies */
	assert_true(og_locks_get(s, "uid:1001", OG_LOCK, 2500, &got));
	check_lock("replaced", &got, &want);
	og_lock_clear(&got);
	/* and a forever entry may be given an end */
	assert_int_equal(og_locks_set(s, "uid:1001", OG_LOCK, OG_LOCK_HOLD, 2500, 3000, "third",
	                              "admin"), 0);
	assert_true(og_locks_get(s, "uid:1001", OG_LOCK, 2999, NULL));
	assert_false(og_locks_get(s, "uid:1001", OG_LOCK, 3000, NULL));
	og_locks_free(s);
}

/* An entry set at 100 is in force while now < until; 0 is forever. */
static void test_expiry(void **state)
{
	static const struct {
		const char *label;
		int64_t until;
		int64_t at;
		bool want;
	} rows[] = {
		{ "at the start", 200, 100, true },
		{ "one second before the end", 200, 199, true },
		{ "exactly at the end", 200, 200, false },
		{ "after the end", 200, 201, false },
		{ "long after", 200, INT64_MAX, false },
		{ "one second long", 101, 100, true },
		{ "one second long, over", 101, 101, false },
		{ "forever, now", 0, 100, true },
		{ "forever, end of time", 0, INT64_MAX, true },
		{ "clock stepped back", 200, -5, true },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_lockstore *s = og_locks_new();
		struct og_lock *v = NULL;
		size_t n;
		bool got;

		assert_non_null(s);
		assert_int_equal(og_locks_set(s, "ip:192.0.2.7", OG_LOCK, OG_LOCK_REFUSE, 100,
		                              rows[i].until, "r", "b"), 0);
		n = og_locks_list(s, rows[i].at, &v);
		og_locks_list_free(v, n);
		if (n != (rows[i].want ? 1u : 0u))
			fail_msg("row \"%s\": list has %zu entries", rows[i].label, n);
		if ((got = og_locks_get(s, "ip:192.0.2.7", OG_LOCK, rows[i].at, NULL)) != rows[i].want)
			fail_msg("row \"%s\": get says %s", rows[i].label, got ? "in force" : "not in force");
		if (og_locks_remove(s, "ip:192.0.2.7", OG_LOCK, rows[i].at) != (rows[i].want ? 1 : 0))
			fail_msg("row \"%s\": remove disagrees", rows[i].label);
		og_locks_free(s);
	}
}

/* Bad arguments to og_locks_set are refused and leave the store as it was. */
static void test_set_refused(void **state)
{
	char long_key[1002];
	static const struct {
		const char *label;
		const char *key;        /* "LONG": 1001 bytes, "MAX": 1000 bytes */
		int kind, style;
		int64_t now, until;
		int want;
	} rows[] = {
		{ "empty key", "", OG_LOCK, OG_LOCK_REFUSE, 100, 0, -1 },
		{ "NULL key", NULL, OG_LOCK, OG_LOCK_REFUSE, 100, 0, -1 },
		{ "until now", "uid:1", OG_LOCK, OG_LOCK_REFUSE, 100, 100, -1 },
		{ "until in the past", "uid:1", OG_ALLOW, OG_LOCK_REFUSE, 100, 99, -1 },
		{ "until negative", "uid:1", OG_LOCK, OG_LOCK_REFUSE, 100, -1, -1 },
		{ "key of 1001 bytes", "LONG", OG_LOCK, OG_LOCK_REFUSE, 100, 0, -1 },
		{ "key not UTF-8", "sasl:\xff", OG_LOCK, OG_LOCK_REFUSE, 100, 0, -1 },
		{ "unknown kind", "uid:1", 7, OG_LOCK_REFUSE, 100, 0, -1 },
		{ "unknown style", "uid:1", OG_LOCK, 9, 100, 0, -1 },
		{ "until one second ahead", "uid:1", OG_LOCK, OG_LOCK_REFUSE, 100, 101, 0 },
		{ "key of 1000 bytes", "MAX", OG_LOCK, OG_LOCK_REFUSE, 100, 0, 0 },
		{ "UTF-8 key", "sasl:j\xc3\xbcrgen@example.com", OG_ALLOW, OG_LOCK_HOLD, 100, 0, 0 },
	};
	(void)state;

	memset(long_key, 'a', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_lockstore *s = og_locks_new();
		const char *key = rows[i].key;
		int rc;

		assert_non_null(s);
		if (key != NULL && strcmp(key, "LONG") == 0)
			key = long_key;
		else if (key != NULL && strcmp(key, "MAX") == 0)
			key = long_key + 1;
		rc = og_locks_set(s, key, (enum og_lock_kind)rows[i].kind,
		                  (enum og_lock_style)rows[i].style, rows[i].now, rows[i].until, "r", "b");
		if (rc != rows[i].want || og_locks_count(s) != (rc == 0 ? 1u : 0u))
			fail_msg("row \"%s\": rc %d, %zu entries", rows[i].label, rc, og_locks_count(s));
		og_locks_free(s);
	}
}

/* Writers drop what has expired, and so does get when it can take the lock at once. */
static void test_expired_dropped(void **state)
{
	struct og_lockstore *s = og_locks_new();
	(void)state;

	assert_non_null(s);
	assert_int_equal(og_locks_count(s), 0);
	assert_false(og_locks_get(s, "uid:1", OG_LOCK, 0, NULL));
	assert_int_equal(og_locks_set(s, "uid:1", OG_LOCK, OG_LOCK_REFUSE, 100, 200, "", ""), 0);
	assert_int_equal(og_locks_set(s, "uid:2", OG_LOCK, OG_LOCK_REFUSE, 100, 0, "", ""), 0);
	assert_int_equal(og_locks_set(s, "uid:3", OG_ALLOW, OG_LOCK_REFUSE, 100, 300, "", ""), 0);
	assert_int_equal(og_locks_count(s), 3);
	/* a look before the end drops nothing */
	assert_true(og_locks_get(s, "uid:1", OG_LOCK, 199, NULL));
	assert_int_equal(og_locks_count(s), 3);
	/* the writer at 250 drops uid:1 */
	assert_int_equal(og_locks_set(s, "uid:4", OG_LOCK, OG_LOCK_REFUSE, 250, 0, "", ""), 0);
	assert_int_equal(og_locks_count(s), 3);
	assert_false(og_locks_get(s, "uid:1", OG_LOCK, 250, NULL));
	/* get meets uid:3 expired and drops it */
	assert_false(og_locks_get(s, "uid:3", OG_ALLOW, 300, NULL));
	assert_int_equal(og_locks_count(s), 2);
	assert_int_equal(og_locks_remove(s, "uid:2", OG_LOCK, 300), 1);
	assert_int_equal(og_locks_remove(s, "uid:4", OG_LOCK, 300), 1);
	assert_int_equal(og_locks_count(s), 0);
	og_locks_free(s);
}

/* The list is sorted (locks first, then by key), holds what is in force and is a copy. */
static void test_list(void **state)
{
	static const struct {
		const char *key;
		enum og_lock_kind kind;
		int64_t until;
	} set[] = {
		{ "uid:1001", OG_ALLOW, 0 },
		{ "sasl:zoe@example.com", OG_LOCK, 0 },
		{ "ip:192.0.2.7", OG_LOCK, 0 },
		{ "sasl:gone@example.com", OG_LOCK, 150 },
		{ "ip:192.0.2.7", OG_ALLOW, 0 },
		{ "sasl:alice@example.com", OG_LOCK, 1000 },
		{ "domain:example.com", OG_ALLOW, 0 },
	};
	static const struct {
		const char *key;
		enum og_lock_kind kind;
	} want[] = {
		{ "ip:192.0.2.7", OG_LOCK },
		{ "sasl:alice@example.com", OG_LOCK },
		{ "sasl:zoe@example.com", OG_LOCK },
		{ "domain:example.com", OG_ALLOW },
		{ "ip:192.0.2.7", OG_ALLOW },
		{ "uid:1001", OG_ALLOW },
	};
	struct og_lockstore *s = og_locks_new();
	struct og_lock *v = NULL;
	size_t n;
	(void)state;

	assert_non_null(s);
	for (size_t i = 0; i < N_ROWS(set); i++)
		assert_int_equal(og_locks_set(s, set[i].key, set[i].kind, OG_LOCK_REFUSE, 100,
		                              set[i].until, "reason", "admin"), 0);
	n = og_locks_list(s, 200, &v);
	assert_int_equal(n, N_ROWS(want));
	for (size_t i = 0; i < n; i++) {
		char label[64];

		snprintf(label, sizeof(label), "entry %zu", i);
		CHECK_STR(label, v[i].key, want[i].key);
		if (v[i].kind != want[i].kind)
			fail_msg("entry %zu (%s): kind %s", i, v[i].key, og_lock_kind_name(v[i].kind));
	}
	/* change and empty the store: the list keeps its own copies */
	assert_int_equal(og_locks_set(s, "ip:192.0.2.7", OG_LOCK, OG_LOCK_HOLD, 300, 0, "changed",
	                              "outguard"), 0);
	for (size_t i = 0; i < N_ROWS(set); i++)
		og_locks_remove(s, set[i].key, set[i].kind, 300);
	assert_int_equal(og_locks_count(s), 0);
	CHECK_STR("copy key", v[0].key, "ip:192.0.2.7");
	CHECK_STR("copy reason", v[0].reason, "reason");
	CHECK_STR("copy by", v[0].by, "admin");
	assert_int_equal(v[0].style, OG_LOCK_REFUSE);
	og_locks_list_free(v, n);
	/* an empty store lists nothing */
	n = og_locks_list(s, 300, &v);
	assert_int_equal(n, 0);
	og_locks_list_free(v, n);
	og_locks_free(s);
}

/* ---- the state file ---- */

static const char one_entry_file[] =
	"{\n"
	"  \"outguard_state\": 1,\n"
	"  \"entries\": [\n"
	"    {\n"
	"      \"key\": \"sasl:alice@example.com\",\n"
	"      \"kind\": \"lock\",\n"
	"      \"style\": \"hold\",\n"
	"      \"since\": 1000,\n"
	"      \"until\": null,\n"
	"      \"reason\": \"said \\\"hi\\\"\\n\",\n"
	"      \"by\": \"admin\"\n"
	"    }\n"
	"  ]\n"
	"}\n";

/* The file's exact text: members in the documented order, null for "until removed". */
static void test_save_format(void **state)
{
	struct og_lockstore *s = og_locks_new();
	char path[PATH_MAX], err[512];
	char *text;
	(void)state;

	assert_non_null(s);
	tmp_path(path, sizeof(path), "format.json");
	assert_int_equal(og_locks_set(s, "sasl:alice@example.com", OG_LOCK, OG_LOCK_HOLD, 1000, 0,
	                              "said \"hi\"\n", "admin"), 0);
	assert_int_equal(og_locks_save(s, path, 1000, err, sizeof(err)), 0);
	CHECK_STR("no message", err, "");
	text = og_test_slurp(path);
	CHECK_STR("file", text, one_entry_file);
	free(text);
	/* an empty store is an empty list, and loads as such */
	og_locks_remove(s, "sasl:alice@example.com", OG_LOCK, 1000);
	assert_int_equal(og_locks_save(s, path, 1000, err, sizeof(err)), 0);
	text = og_test_slurp(path);
	CHECK_STR("empty file", text, "{\n  \"outguard_state\": 1,\n  \"entries\": []\n}\n");
	free(text);
	og_locks_free(s);
}

static void test_round_trip(void **state)
{
	static const struct spec rows[] = {
		{ .key = "sasl:alice@example.com", .kind = OG_LOCK, .style = OG_LOCK_HOLD, .since = 1000,
		  .until = 0, .reason = "quote \" backslash \\ newline\n tab\t", .by = "admin" },
		{ .key = "uid:1001", .kind = OG_LOCK, .style = OG_LOCK_REFUSE, .since = -5,
		  .until = 9000000000, .reason = "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9d\x84\x9e \x01",
		  .by = "outguard" },
		{ .key = "sasl:j\xc3\xbcrgen@example.com", .kind = OG_ALLOW, .style = OG_LOCK_REFUSE,
		  .since = 1000, .until = 1000 + 86400, .reason = "", .by = "" },
		{ .key = "ip:2001:db8::1", .kind = OG_ALLOW, .style = OG_LOCK_HOLD, .since = 1000,
		  .until = 0, .reason = "{\"json\": [1]}", .by = "admin" },
	};
	struct og_lockstore *a = og_locks_new(), *b = og_locks_new();
	char path[PATH_MAX], err[512];
	struct og_lock *va = NULL, *vb = NULL;
	size_t na, nb, loaded = 0;
	(void)state;

	assert_non_null(a);
	assert_non_null(b);
	tmp_path(path, sizeof(path), "round.json");
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		const struct spec *r = &rows[i];

		/* since is the time of the set */
		assert_int_equal(og_locks_set(a, r->key, r->kind, r->style, r->since, r->until, r->reason,
		                              r->by), 0);
	}
	assert_int_equal(og_locks_save(a, path, 1000, err, sizeof(err)), 0);
	assert_int_equal(og_locks_load(b, path, 1000, &loaded, err, sizeof(err)), 0);
	CHECK_STR("no message", err, "");
	assert_int_equal(loaded, N_ROWS(rows));
	na = og_locks_list(a, 1000, &va);
	nb = og_locks_list(b, 1000, &vb);
	assert_int_equal(na, N_ROWS(rows));
	assert_int_equal(nb, na);
	for (size_t i = 0; i < na; i++) {
		struct spec want = spec_of(&va[i]);
		char label[64];

		snprintf(label, sizeof(label), "listed entry %zu", i);
		check_lock(label, &vb[i], &want);
	}
	/* and every field as it was set */
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_lock l;
		char label[64];

		snprintf(label, sizeof(label), "row %zu", i);
		if (!og_locks_get(b, rows[i].key, rows[i].kind, 1000, &l))
			fail_msg("%s: not loaded", label);
		check_lock(label, &l, &rows[i]);
		og_lock_clear(&l);
	}
	og_locks_list_free(va, na);
	og_locks_list_free(vb, nb);
	og_locks_free(a);
	og_locks_free(b);
}

/* Expired entries are not saved, and those expired by the time of loading are dropped. */
static void test_expired_not_saved(void **state)
{
	struct og_lockstore *s = og_locks_new(), *t = og_locks_new();
	char path[PATH_MAX], err[512];
	size_t loaded = 0;
	char *text;
	(void)state;

	assert_non_null(s);
	assert_non_null(t);
	tmp_path(path, sizeof(path), "expired.json");
	assert_int_equal(og_locks_set(s, "uid:1", OG_LOCK, OG_LOCK_REFUSE, 100, 200, "", ""), 0);
	assert_int_equal(og_locks_set(s, "uid:2", OG_LOCK, OG_LOCK_REFUSE, 100, 0, "", ""), 0);
	assert_int_equal(og_locks_set(s, "uid:3", OG_ALLOW, OG_LOCK_REFUSE, 100, 300, "", ""), 0);

	assert_int_equal(og_locks_save(s, path, 250, err, sizeof(err)), 0);
	text = og_test_slurp(path);
	assert_non_null(text);
	assert_null(strstr(text, "uid:1"));
	assert_non_null(strstr(text, "uid:2"));
	assert_non_null(strstr(text, "uid:3"));
	free(text);

	/* all three saved; loaded at 250 only two are kept, at 300 one */
	assert_int_equal(og_locks_save(s, path, 100, err, sizeof(err)), 0);
	assert_int_equal(og_locks_load(t, path, 250, &loaded, err, sizeof(err)), 0);
	assert_int_equal(loaded, 2);
	assert_int_equal(og_locks_count(t), 2);
	assert_false(og_locks_get(t, "uid:1", OG_LOCK, 100, NULL));
	assert_true(og_locks_get(t, "uid:3", OG_ALLOW, 250, NULL));
	assert_int_equal(og_locks_load(t, path, 300, &loaded, err, sizeof(err)), 0);
	assert_int_equal(loaded, 1);
	assert_int_equal(og_locks_count(t), 1);
	og_locks_free(s);
	og_locks_free(t);
}

static void test_missing_file(void **state)
{
	struct og_lockstore *s = store_with_one();
	char path[PATH_MAX], err[512];
	size_t loaded = 99;
	(void)state;

	tmp_path(path, sizeof(path), "no-such-file.json");
	assert_int_equal(og_locks_load(s, path, 100, &loaded, err, sizeof(err)), 0);
	assert_int_equal(loaded, 0);
	CHECK_STR("no message", err, "");
	assert_int_equal(og_locks_count(s), 0);
	/* nor in a directory that is missing; n_loaded may be NULL */
	tmp_path(path, sizeof(path), "no-such-dir/state.json");
	assert_int_equal(og_locks_load(s, path, 100, NULL, err, sizeof(err)), 0);
	og_locks_free(s);
}

#define HEAD "{\"outguard_state\": 1, \"entries\": [\n"
#define ENTRY(key, rest) "{\"key\": \"" key "\", \"kind\": \"lock\", \"style\": \"refuse\", " rest "}"
#define TAIL "\"since\": 1, \"until\": null, \"reason\": \"\", \"by\": \"admin\""
#define GOOD_A ENTRY("sasl:a", TAIL)
#define GOOD_B "{\"key\": \"sasl:b\", \"kind\": \"allow\", \"since\": 1, \"until\": 99999, " \
               "\"reason\": \"ok\", \"by\": \"admin\"}"

/*
 * Each file is refused with rc -1 and an empty store (the lock the store
 * held before included), and the message starts with the file name.  WANT
 * is the rest of the message; NULL: only the file name is checked.  INPUT
 * NULL: a valid file cut in the middle.
 */
static void test_corrupt(void **state)
{
	static const struct {
		const char *label;
		const char *input;
		const char *want;
	} rows[] = {
		{ "empty file", "", ":1:1: empty file: expected a JSON object" },
		{ "blank file", " \n\t\n", ":1:1: empty file: expected a JSON object" },
		{ "not JSON", "{", ":1:1: string or '}' expected near end of file" },
		{ "garbage", "locks: none\n", ":1:5: '[' or '{' expected near 'locks'" },
		{ "truncated", NULL, NULL },
		{ "top level an array", "[]", ":1:1: top level: wrong type: array: expected an object" },
		{ "wrong version", "{\"outguard_state\": 2, \"entries\": []}",
		  ":1:20: outguard_state: unsupported format version 2: expected 1" },
		{ "version a string", "{\"outguard_state\": \"1\", \"entries\": []}",
		  ":1:20: outguard_state: wrong type: string \"1\": expected the integer 1" },
		{ "no version", "{\"entries\": []}",
		  ":1:1: top level: missing key \"outguard_state\" (the format version): expected "
		  "\"outguard_state\": 1" },
		{ "no entries", "{\"outguard_state\": 1}",
		  ":1:1: top level: missing key \"entries\": expected an array of entries" },
		{ "entries not an array", "{\"outguard_state\": 1, \"entries\": {}}",
		  ":1:34: entries: wrong type: object: expected an array of entries" },
		{ "unknown top-level member", "{\"outguard_state\": 1, \"entries\": [], \"locks\": []}",
		  ":1:38: top level: unknown key \"locks\": expected outguard_state or entries" },
		{ "entry not an object", HEAD GOOD_A ",\n\"sasl:b\"]}",
		  ":3:1: entries[1]: wrong type: string \"sasl:b\": expected an object" },
		{ "entry missing key", HEAD GOOD_A ",\n{\"kind\": \"lock\", \"style\": \"refuse\", " TAIL "}]}",
		  ":3:1: entries[1]: missing key \"key\"" },
		{ "unknown member", HEAD GOOD_A ",\n" ENTRY("sasl:b", TAIL ", \"colour\": \"red\"") "]}",
		  ":3:110: entries[1]: unknown key \"colour\": expected key, kind, style, since, until, "
		  "reason or by" },
		{ "bad kind", HEAD "{\"key\": \"sasl:a\", \"kind\": \"lok\", " TAIL "}]}",
		  ":2:27: entries[0].kind: unknown kind \"lok\": expected \"lock\" or \"allow\"" },
		{ "kind a number", HEAD "{\"key\": \"sasl:a\", \"kind\": 1, " TAIL "}]}",
		  ":2:27: entries[0].kind: wrong type: integer 1: expected \"lock\" or \"allow\"" },
		{ "bad style", HEAD "{\"key\": \"a\", \"kind\": \"lock\", \"style\": \"drop\", " TAIL "}]}",
		  ":2:39: entries[0].style: unknown style \"drop\": expected \"refuse\" or \"hold\"" },
		{ "lock without style", HEAD "{\"key\": \"a\", \"kind\": \"lock\", " TAIL "}]}",
		  ":2:1: entries[0]: missing key \"style\" (a lock needs one)" },
		{ "until a string", HEAD GOOD_A ",\n" GOOD_B ",\n"
		  ENTRY("sasl:c", "\"since\": 1, \"until\": \"x\", \"reason\": \"\", \"by\": \"admin\"") "]}",
		  ":4:75: entries[2].until: wrong type: string \"x\": expected an integer or null" },
		{ "until a real", HEAD ENTRY("sasl:c", "\"since\": 1, \"until\": 5.0, \"reason\": \"\", "
		                             "\"by\": \"x\"") "]}", NULL },
		{ "since null", HEAD ENTRY("sasl:c", "\"since\": null, \"until\": 5, \"reason\": \"\", "
		                           "\"by\": \"x\"") "]}",
		  ":2:63: entries[0].since: wrong type: null: expected an integer" },
		{ "reason not a string", HEAD ENTRY("u", "\"since\": 1, \"until\": 5, \"reason\": 5, "
		                                    "\"by\": \"x\"") "]}", NULL },
		{ "by missing", HEAD ENTRY("u", "\"since\": 1, \"until\": 5, \"reason\": \"\"") "]}",
		  ":2:1: entries[0]: missing key \"by\"" },
		{ "key empty", HEAD GOOD_A ",\n" ENTRY("", TAIL) "]}",
		  ":3:9: entries[1].key: empty string: expected a key of 1 to 1000 bytes" },
		{ "key a number", HEAD "{\"key\": 7, \"kind\": \"lock\", \"style\": \"refuse\", " TAIL "}]}",
		  NULL },
		{ "second lock of a key", HEAD GOOD_A ",\n" GOOD_B ",\n" GOOD_A "]}",
		  ":4:1: entries[2]: second lock for key \"sasl:a\": expected one lock and one allow "
		  "per key" },
		{ "duplicate member", HEAD "{\"key\": \"a\", \"key\": \"b\"}]}", NULL },
		{ "NUL in a string", HEAD ENTRY("a\\u0000b", TAIL) "]}",
		  ":2:18: \\u0000 (a NUL character) is not allowed in a string" },
		{ "trailing garbage", HEAD GOOD_A "]} x", NULL },
	};
	char path[PATH_MAX], good[PATH_MAX], err[512];
	char *good_text;
	(void)state;

	/* a valid file with a few entries, for the "truncated" row */
	{
		struct og_lockstore *s = store_with_one();

		tmp_path(good, sizeof(good), "good.json");
		assert_int_equal(og_locks_set(s, "uid:1001", OG_ALLOW, OG_LOCK_REFUSE, 10, 0, "x", "y"), 0);
		assert_int_equal(og_locks_set(s, "uid:1002", OG_LOCK, OG_LOCK_HOLD, 10, 0, "x", "y"), 0);
		assert_int_equal(og_locks_save(s, good, 10, err, sizeof(err)), 0);
		og_locks_free(s);
		good_text = og_test_slurp(good);
		assert_non_null(good_text);
		good_text[strlen(good_text) / 2] = '\0';
	}
	tmp_path(path, sizeof(path), "corrupt.json");
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_lockstore *s = store_with_one();
		char label[128], want[PATH_MAX + 512];
		size_t loaded = 99;
		int rc;

		snprintf(label, sizeof(label), "row \"%s\"", rows[i].label);
		og_test_write(path, rows[i].input != NULL ? rows[i].input : good_text);
		memset(err, 'x', sizeof(err));
		rc = og_locks_load(s, path, 100, &loaded, err, sizeof(err));
		if (rc != -1 || loaded != 0 || og_locks_count(s) != 0 ||
		    og_locks_get(s, "sasl:old@example.com", OG_LOCK, 100, NULL))
			fail_msg("%s: rc %d, %zu loaded, %zu held: want -1 and an empty store", label, rc,
			         loaded, og_locks_count(s));
		if (strncmp(err, path, strlen(path)) != 0 || (err[strlen(path)] != ':'))
			fail_msg("%s: message does not start with the file name: \"%s\"", label, err);
		if (rows[i].want != NULL) {
			snprintf(want, sizeof(want), "%s%s", path, rows[i].want);
			CHECK_STR(label, err, want);
		}
		og_locks_free(s);
	}
	free(good_text);
}

/* Unreadable files are errors (not "missing"), and leave the store empty too. */
static void test_unreadable(void **state)
{
	struct og_lockstore *s = store_with_one();
	char path[PATH_MAX], err[512], want[PATH_MAX + 64];
	size_t loaded = 99;
	(void)state;

	/* a directory where the file should be */
	tmp_path(path, sizeof(path), "a-directory.json");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(og_locks_load(s, path, 100, &loaded, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot read: %s", path, strerror(EISDIR));
	CHECK_STR("directory", err, want);
	assert_int_equal(loaded, 0);
	assert_int_equal(og_locks_count(s), 0);
	/* a short ERR buffer is cut, not overrun; none at all is fine */
	assert_int_equal(og_locks_load(s, path, 100, NULL, err, 5), -1);
	assert_int_equal(strlen(err), 4);
	assert_int_equal(og_locks_load(s, path, 100, NULL, NULL, 0), -1);
	og_locks_free(s);
}

static void test_save_errors(void **state)
{
	struct og_lockstore *s = store_with_one();
	char path[PATH_MAX], tmp[PATH_MAX + 8], want[2 * PATH_MAX + 64], err[2 * PATH_MAX + 64];
	struct stat st;
	char *text;
	(void)state;

	/* the directory does not exist */
	tmp_path(path, sizeof(path), "no-such-dir/state.json");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(og_locks_save(s, path, 100, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot create: %s", tmp, strerror(ENOENT));
	CHECK_STR("no directory", err, want);
	assert_false(exists(tmp));

	/* the rename fails: PATH is a directory that is not empty; PATH.tmp is removed */
	tmp_path(path, sizeof(path), "busy");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(want, sizeof(want), "%s/inside", path);
	og_test_write(want, "x");
	assert_int_equal(og_locks_save(s, path, 100, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot rename to %s: %s", tmp, path, strerror(EISDIR));
	CHECK_STR("rename", err, want);
	assert_false(exists(tmp));

	/* links left at PATH.tmp are replaced, not written through */
	tmp_path(path, sizeof(path), "linked.json");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	tmp_path(want, sizeof(want), "target");
	og_test_write(want, "keep");
	assert_int_equal(symlink("target", tmp), 0);
	assert_int_equal(og_locks_save(s, path, 100, err, sizeof(err)), 0);
	assert_false(exists(tmp));
	assert_int_equal(link(want, tmp), 0);
	assert_int_equal(og_locks_save(s, path, 100, err, sizeof(err)), 0);
	assert_false(exists(tmp));
	text = og_test_slurp(want);
	CHECK_STR("link target", text, "keep");
	free(text);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode) && st.st_nlink == 1);
	og_locks_free(s);
}

/* After a save PATH.tmp is gone and PATH is a whole, private, valid file. */
static void test_save_atomic(void **state)
{
	struct og_lockstore *s = store_with_one(), *t = og_locks_new();
	char path[PATH_MAX], tmp[PATH_MAX + 8], err[512];
	json_error_t jerr;
	struct stat st;
	json_t *root;
	size_t loaded;
	(void)state;

	assert_non_null(t);
	tmp_path(path, sizeof(path), "state.json");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	og_test_write(path, "old contents");
	/* left over by a crash in the middle of a save */
	og_test_write(tmp, "half a file");
	for (int round = 0; round < 3; round++) {
		char key[32];

		snprintf(key, sizeof(key), "uid:%d", round);
		assert_int_equal(og_locks_set(s, key, OG_LOCK, OG_LOCK_REFUSE, 100, 0, "", ""), 0);
		assert_int_equal(og_locks_save(s, path, 100, err, sizeof(err)), 0);
		assert_false(exists(tmp));
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
		if (root == NULL)
			fail_msg("round %d: saved file does not parse: %s", round, jerr.text);
		assert_int_equal(json_integer_value(json_object_get(root, "outguard_state")), 1);
		assert_int_equal(json_array_size(json_object_get(root, "entries")), (size_t)round + 2);
		json_decref(root);
		assert_int_equal(og_locks_load(t, path, 100, &loaded, err, sizeof(err)), 0);
		assert_int_equal(loaded, (size_t)round + 2);
	}
	og_locks_free(s);
	og_locks_free(t);
}

/* ---- threads ---- */

#define N_READERS  4
#define N_KEYS     64
#define N_PERM     16
#define N_WRITES   (N_KEYS * 41)     /* ends with a round of sets */

struct reader {
	struct og_lockstore *s;
	atomic_bool *done;
	atomic_llong *clock;
	unsigned seed;
	unsigned long lookups, errors;
};

/*
 * Under valgrind (check-valgrind sets OG_VALGRIND), threads take turns on one
 * CPU: readers that never yield can keep the writer waiting for minutes.
 */
static bool under_valgrind(void)
{
	return getenv("OG_VALGRIND") != NULL;
}

static void *reader_run(void *arg)
{
	struct reader *r = arg;
	bool slow = under_valgrind();

	while (!atomic_load(r->done) || r->lookups < (slow ? 500u : 20000u)) {
		if (slow)
			sched_yield();
		int64_t now = atomic_load(r->clock);
		unsigned x = (unsigned)rand_r(&r->seed);
		enum og_lock_kind kind = (x >> 8) & 1 ? OG_ALLOW : OG_LOCK;
		struct og_lock l;
		char key[32];
		bool perm = (x & 3) == 0;

		if (perm)
			snprintf(key, sizeof(key), "perm:%u", (x >> 9) % N_PERM);
		else
			snprintf(key, sizeof(key), "%s:%u", (x >> 2) & 1 ? "e" : "k", (x >> 9) % N_KEYS);
		if (og_locks_get(r->s, key, perm ? OG_LOCK : kind, now, &l)) {
			if (l.key == NULL || strcmp(l.key, key) != 0 || l.kind != (perm ? OG_LOCK : kind) ||
			    strcmp(l.reason, perm ? "always" : "r") != 0)
				r->errors++;
		} else if (perm) {
			r->errors++;            /* never removed: must always be found */
		}
		og_lock_clear(&l);
		r->lookups++;
	}
	return NULL;
}

/* Readers look up keys at random while one writer sets, replaces, removes and lets expire. */
static void test_threads(void **state)
{
	struct og_lockstore *s = og_locks_new();
	struct reader r[N_READERS];
	pthread_t th[N_READERS];
	atomic_bool done;
	atomic_llong clock;
	struct og_lock *v = NULL;
	size_t n;
	(void)state;

	assert_non_null(s);
	atomic_init(&done, false);
	atomic_init(&clock, 1000);
	for (int i = 0; i < N_PERM; i++) {
		char key[32];

		snprintf(key, sizeof(key), "perm:%d", i);
		assert_int_equal(og_locks_set(s, key, OG_LOCK, OG_LOCK_REFUSE, 1000, 0, "always", "admin"), 0);
	}
	for (int i = 0; i < N_READERS; i++) {
		r[i] = (struct reader){ .s = s, .done = &done, .clock = &clock, .seed = 7u + (unsigned)i };
		assert_int_equal(pthread_create(&th[i], NULL, reader_run, &r[i]), 0);
	}
	for (int w = 0; w < N_WRITES; w++) {
		int64_t now = 1000 + w / 100;
		char key[32], ekey[32];
		int k = w % N_KEYS;
		enum og_lock_kind kind = k & 1 ? OG_ALLOW : OG_LOCK;

		atomic_store(&clock, now);
		snprintf(key, sizeof(key), "k:%d", k);
		snprintf(ekey, sizeof(ekey), "e:%d", k);
		/* even rounds set (or replace) the key, odd rounds remove it */
		if ((w / N_KEYS) % 2 == 0)
			assert_int_equal(og_locks_set(s, key, kind, OG_LOCK_HOLD, now, 0, "r", "w"), 0);
		else
			og_locks_remove(s, key, kind, now);
		/* and this one runs out a second later */
		assert_int_equal(og_locks_set(s, ekey, kind, OG_LOCK_REFUSE, now, now + 1, "r", "w"), 0);
	}
	atomic_store(&done, true);
	for (int i = 0; i < N_READERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (r[i].errors != 0)
			fail_msg("reader %d: %lu wrong answers in %lu lookups", i, r[i].errors, r[i].lookups);
	}
	/* the last round set every k: key; every e: key has run out */
	n = og_locks_list(s, 1000 + N_WRITES / 100 + 1, &v);
	assert_int_equal(n, N_PERM + N_KEYS);
	for (size_t i = 0; i < n; i++)
		if (strncmp(v[i].key, "e:", 2) == 0)
			fail_msg("expired %s listed", v[i].key);
	og_locks_list_free(v, n);
	og_locks_free(s);
}

/* ---- size ---- */

#define N_MANY 100000

static void test_many(void **state)
{
	struct og_lockstore *s = og_locks_new(), *t = og_locks_new();
	char path[PATH_MAX], err[512], key[64];
	struct og_lock *v = NULL, l;
	size_t n, loaded = 0;
	(void)state;

	assert_non_null(s);
	assert_non_null(t);
	tmp_path(path, sizeof(path), "many.json");
	for (int i = 0; i < N_MANY; i++) {
		snprintf(key, sizeof(key), "sasl:user%06d@example.com", i);
		assert_int_equal(og_locks_set(s, key, i % 3 == 0 ? OG_ALLOW : OG_LOCK, OG_LOCK_REFUSE,
		                              1000, i % 2 ? 0 : 5000 + i, "bulk", "outguard"), 0);
	}
	assert_int_equal(og_locks_count(s), N_MANY);
	n = og_locks_list(s, 1000, &v);
	assert_int_equal(n, N_MANY);
	for (size_t i = 1; i < n; i++)
		if (v[i - 1].kind > v[i].kind ||
		    (v[i - 1].kind == v[i].kind && strcmp(v[i - 1].key, v[i].key) >= 0))
			fail_msg("list out of order at %zu: %s before %s", i, v[i - 1].key, v[i].key);
	og_locks_list_free(v, n);
	assert_int_equal(og_locks_save(s, path, 1000, err, sizeof(err)), 0);
	assert_int_equal(og_locks_load(t, path, 1000, &loaded, err, sizeof(err)), 0);
	assert_int_equal(loaded, N_MANY);
	assert_int_equal(og_locks_count(t), N_MANY);
	for (int i = 0; i < N_MANY; i += 9973) {
		snprintf(key, sizeof(key), "sasl:user%06d@example.com", i);
		if (!og_locks_get(t, key, i % 3 == 0 ? OG_ALLOW : OG_LOCK, 1000, &l))
			fail_msg("%s not loaded", key);
		assert_int_equal(l.until, i % 2 ? 0 : 5000 + i);
		og_lock_clear(&l);
		assert_false(og_locks_get(t, key, i % 3 == 0 ? OG_LOCK : OG_ALLOW, 1000, NULL));
	}
	og_locks_free(s);
	og_locks_free(t);
}

/* ---- names and odd arguments ---- */

static void test_names(void **state)
{
	static const struct {
		const char *name;
		int style;              /* og_lock_style_from_name */
	} rows[] = {
		{ "refuse", OG_LOCK_REFUSE },
		{ "hold", OG_LOCK_HOLD },
		{ "Hold", -1 },
		{ "", -1 },
		{ "lock", -1 },
	};
	(void)state;

	CHECK_STR("lock", og_lock_kind_name(OG_LOCK), "lock");
	CHECK_STR("allow", og_lock_kind_name(OG_ALLOW), "allow");
	CHECK_STR("bad kind", og_lock_kind_name((enum og_lock_kind)5), "unknown");
	CHECK_STR("refuse", og_lock_style_name(OG_LOCK_REFUSE), "refuse");
	CHECK_STR("hold", og_lock_style_name(OG_LOCK_HOLD), "hold");
	CHECK_STR("bad style", og_lock_style_name((enum og_lock_style)5), "unknown");
	for (size_t i = 0; i < N_ROWS(rows); i++)
		if (og_lock_style_from_name(rows[i].name) != rows[i].style)
			fail_msg("row \"%s\": got %d", rows[i].name, og_lock_style_from_name(rows[i].name));
	assert_int_equal(og_lock_style_from_name(NULL), -1);
}

static void test_null_arguments(void **state)
{
	struct og_lock l = { 0 }, *v = (struct og_lock *)&l;
	char err[64];
	(void)state;

	og_locks_free(NULL);
	og_lock_clear(NULL);
	og_lock_clear(&l);
	og_locks_list_free(NULL, 0);
	assert_int_equal(og_locks_count(NULL), 0);
	assert_false(og_locks_get(NULL, "k", OG_LOCK, 0, &l));
	assert_null(l.key);
	assert_int_equal(og_locks_set(NULL, "k", OG_LOCK, OG_LOCK_REFUSE, 0, 0, "", ""), -1);
	assert_int_equal(og_locks_remove(NULL, "k", OG_LOCK, 0), 0);
	assert_int_equal(og_locks_list(NULL, 0, &v), 0);
	assert_null(v);
	assert_int_equal(og_locks_save(NULL, "x", 0, err, sizeof(err)), -1);
	assert_int_equal(og_locks_load(NULL, "x", 0, NULL, err, sizeof(err)), -1);
}

static int setup(void **state)
{
	(void)state;
	return og_test_mkdtemp(tmpdir, sizeof(tmpdir), "locks");
}

static int teardown(void **state)
{
	(void)state;
	return og_test_rmtree(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_get_remove),
		cmocka_unit_test(test_lock_and_allow),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_set_refused),
		cmocka_unit_test(test_expired_dropped),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_save_format),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_expired_not_saved),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_save_errors),
		cmocka_unit_test(test_save_atomic),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_null_arguments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
