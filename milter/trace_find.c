/*
 * trace_find - outguard-trace find: the messages a complaint is about, by
 * Message-ID, queue ID, recipient, sender or From address, client address
 * or Subject text (--field: one of them).  Each match is printed with the
 * fields it matched, and the keys of the matches are counted at the end.
 * A Message-ID or an address matches without its angle brackets; an
 * address, a client and Subject text (anywhere in it) without case.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "strutil.h"
#include "trace_cli.h"

/* S without surrounding white space and one pair of angle brackets, into BUF. */
const char *og_trace_bare(const char *s, char *buf, size_t len)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/* The address in a From value: inside the last <...>, else the value. */
static const char *from_address(const char *from, char *buf, size_t len)
{
	const char *lt = strrchr(from, '<'), *gt = lt != NULL ? strchr(lt, '>') : NULL;

	if (lt != NULL && gt != NULL) {
		size_t n = (size_t)(gt - lt - 1) < len - 1 ? (size_t)(gt - lt - 1) : len - 1;

		memcpy(buf, lt + 1, n);
		buf[n] = '\0';
		return buf;
	}
	return og_trace_bare(from, buf, len);
}

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Do the first N bytes of A and B match, ASCII case-insensitively (whatever the locale)? */
static bool ascii_ncaseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]) || a[i] == '\0')
			return a[i] == b[i] && a[i] == '\0';
	return true;
}

/* Does HAY hold NEEDLE, ASCII case-insensitively? */
static bool has_nocase(const char *hay, const char *needle)
{
	size_t m = strlen(needle), n = strlen(hay);

	for (size_t i = 0; i + m <= n; i++)
		if (ascii_ncaseeq(hay + i, needle, m))
			return true;
	return false;
}

/* Which fields of REC match WHAT (bit per enum field), within O's --field. */
static unsigned find_match(const struct og_trace_rec *rec, const char *what, const char *bwhat,
                           enum field only)
{
	char buf[1024];
	unsigned m = 0;

	if (rec->type != OG_TRACE_MESSAGE)
		return 0;
	if (rec->message_id != NULL &&
	    strcmp(og_trace_bare(rec->message_id, buf, sizeof(buf)), bwhat) == 0)
		m |= 1u << F_MESSAGE_ID;
	if (rec->queue_id != NULL && strcmp(rec->queue_id, what) == 0)
		m |= 1u << F_QUEUE_ID;
	for (size_t i = 0; i < rec->rcpts.n; i++)
		if (og_streq_nocase(rec->rcpts.v[i], bwhat))
			m |= 1u << F_RCPT;
	if ((rec->sender != NULL && og_streq_nocase(rec->sender, bwhat)) ||
	    (rec->from != NULL && og_streq_nocase(from_address(rec->from, buf, sizeof(buf)), bwhat)))
		m |= 1u << F_SENDER;
	if (rec->client_addr != NULL && og_streq_nocase(rec->client_addr, what))
		m |= 1u << F_CLIENT;
	if (rec->subject != NULL && has_nocase(rec->subject, what))
		m |= 1u << F_SUBJECT;
	return only == F_ANY ? m : m & (1u << only);
}

/* A message on one line: time, queue ID, what was done, account, script, client, sender,
   subject and rules. */
static void put_record_line(FILE *out, const struct og_trace_rec *rec)
{
	og_trace_put_term(out, rec->time);
	fputs("  ", out);
	og_trace_put_term(out, rec->queue_id);
	fputs("  ", out);
	og_trace_put_term(out, rec->applied);
	fputs("  ", out);
	og_trace_put_term(out, rec->key[OG_TK_ACCOUNT]);
	fputs("  ", out);
	og_trace_put_term(out, rec->key[OG_TK_SCRIPT]);
	fputs("  ", out);
	og_trace_put_term(out, rec->client_addr);
	fputs("  ", out);
	og_trace_put_term(out, rec->sender);
	fputs("  ", out);
	og_trace_put_quoted(out, rec->subject);
	fputs("  ", out);
	og_trace_put_rules(out, rec);
}

int og_trace_find_begin(struct run *u)
{
	if (u->o->json)
		printf("{\"records\":[");
	return 0;
}

/* A match printed, its keys counted. */
int og_trace_find_take(struct run *u, const struct og_trace_rec *rec)
{
	struct options *o = u->o;
	unsigned m = find_match(rec, o->arg, u->bwhat, o->field);

	if (m == 0)
		return 0;
	u->matched++;
	if (og_trace_count_keys(u->tl.keys, rec) < 0)
		return -1;
	if (o->json) {
		json_t *j = og_trace_rec_json(rec), *f = json_array();

		for (int i = 0; i < F__COUNT; i++)
			if (m & (1u << i))
				json_array_append_new(f, json_string(og_trace_field_name((enum field)i)));
		json_object_set_new(j, "matched", f);
		fputs(u->first_out ? "" : ",", stdout);
		u->first_out = false;
		return og_trace_put_json(j, NULL);
	}
	put_record_line(stdout, rec);
	fputs("  [", stdout);
	for (int i = 0, k = 0; i < F__COUNT; i++)
		if (m & (1u << i))
			printf("%s%s", k++ ? "," : "", og_trace_field_name((enum field)i));
	fputs("]\n", stdout);
	return 0;
}

/* The keys of the matches. */
int og_trace_find_end(struct run *u)
{
	int rc = 0;

	if (u->o->json) {
		fputs("],\"keys\":", stdout);
		rc = og_trace_put_json(og_trace_counts_json(u->tl.keys, "key"), "}\n");
	} else if (u->matched > 0) {
		putchar('\n');
		og_trace_put_counts_table(stdout, "Keys", u->tl.keys);
	}
	return rc;
}
