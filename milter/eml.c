/*
 * eml - a saved message read into facts, header by header as a milter
 * receives them, then the body.  See eml.h.
 *
 * Line ends may be LF or CRLF.  Folded header lines are joined with their
 * line break kept out, as libmilter passes them ("a\n\tb" becomes "a\tb"
 * only in spirit: the fold's white space is kept, the break dropped).
 * The body is handed on with CRLF line ends, as the MTA sends it.
 * Errors: -1 only when memory runs out.
 */
#include <stdlib.h>
#include <string.h>

#include "eml.h"
#include "hdrparse.h"
#include "strutil.h"

void og_eml_free(struct og_eml *e)
{
	for (size_t i = 0; i < e->n_header_rcpts; i++)
		free(e->header_rcpts[i]);
	free(e->header_rcpts);
	memset(e, 0, sizeof(*e));
}

static int add_rcpt(const char *addr, void *arg)
{
	struct og_eml *e = arg;
	char **v;

	if ((v = realloc(e->header_rcpts, (e->n_header_rcpts + 1) * sizeof(*v))) == NULL)
		return -1;
	e->header_rcpts = v;
	if ((v[e->n_header_rcpts] = og_strdup(addr)) == NULL)
		return -1;
	e->n_header_rcpts++;
	return 0;
}

int og_eml_addresses(const char *value, struct og_eml *e)
{
	return og_address_list_each(value, add_rcpt, e) < 0 ? -1 : 0;
}

/* The end of the line starting at P (at its LF or at END), and the start of the next. */
static const char *line_end(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	if (nl == NULL) {
		*next = end;
		return end;
	}
	*next = nl + 1;
	return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

/* One unfolded header field "Name: value" of LEN bytes. */
static int take_header(const char *field, size_t len, struct og_facts *f, struct og_eml *e)
{
	const char *colon = memchr(field, ':', len);
	char *name, *value;
	int rc = 0;

	if (colon == NULL)
		return 0;
	if ((name = og_strndup(field, (size_t)(colon - field))) == NULL)
		return -1;
	if ((value = og_strndup(colon + 1, len - (size_t)(colon + 1 - field))) == NULL) {
		free(name);
		return -1;
	}
	/* "Subject : x" is obsolete syntax, but it is a Subject */
	for (size_t n = strlen(name); n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'); n--)
		name[n - 1] = '\0';
	e->headers++;
	if (og_facts_add_header(f, name, value) < 0)
		rc = -1;
	else if (og_streq_nocase(name, "To") || og_streq_nocase(name, "Cc") ||
	         og_streq_nocase(name, "Bcc"))
		rc = og_eml_addresses(value, e);
	free(name);
	free(value);
	return rc;
}

/* The body from P on, with CRLF line ends, into F. */
static int take_body(const char *p, const char *end, struct og_facts *f)
{
	while (p < end && (f->body_max > f->body.len)) {
		const char *next, *le = line_end(p, end, &next);

		if (og_facts_add_body(f, p, (size_t)(le - p)) < 0)
			return -1;
		if (next > le && og_facts_add_body(f, "\r\n", 2) < 0)
			return -1;
		p = next;
	}
	if (p < end)
		f->body_cut = true;
	return 0;
}

int og_eml_read(const char *text, size_t len, struct og_facts *f, struct og_eml *e)
{
	const char *p = text, *end = text + len;
	struct og_buf field;
	int rc = 0;

	memset(e, 0, sizeof(*e));
	og_buf_init(&field);
	while (p < end) {
		const char *next, *le = line_end(p, end, &next);

		if (le == p)                    /* the blank line: headers end */
			break;
		if ((*p == ' ' || *p == '\t') && field.len > 0) {
			if (og_buf_append(&field, p, (size_t)(le - p)) < 0)
				goto oom;
		} else {
			if (field.len > 0 && take_header(field.data, field.len, f, e) < 0)
				goto oom;
			og_buf_reset(&field);
			if (memchr(p, ':', (size_t)(le - p)) == NULL)
				break;                  /* not a header: the body starts here */
			if (og_buf_append(&field, p, (size_t)(le - p)) < 0)
				goto oom;
		}
		p = next;
	}
	if (field.len > 0 && take_header(field.data, field.len, f, e) < 0)
		goto oom;
	if (p < end) {
		const char *next;

		if (line_end(p, end, &next) == p)
			p = next;               /* skip the blank line */
		rc = take_body(p, end, f);
	}
	og_buf_free(&field);
	return rc;
oom:
	og_buf_free(&field);
	return -1;
}
