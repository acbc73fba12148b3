/*
 * hdrparse - address lists, mailboxes and Message-IDs read from header
 * values written by anybody.  See hdrparse.h.
 *
 * The scanners walk the value once, skipping quoted strings ("..." with
 * backslash escapes), comments ((...), nested) and domain literals
 * ([...]), so an '@' or '<' inside them is not taken for syntax.  An
 * unterminated construct runs to the end of the value.  No errors: bad
 * input yields "nothing found".
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hdrparse.h"
#include "strutil.h"

/* Skip a quoted string, comment or literal starting at P (which opens it); returns after it. */
static const char *skip_special(const char *p)
{
	char open = *p;
	int depth = 0;

	if (open == '"') {
		for (p++; *p != '\0' && *p != '"'; p++)
			if (*p == '\\' && p[1] != '\0')
				p++;
		return *p == '"' ? p + 1 : p;
	}
	if (open == '[') {
		while (*p != '\0' && *p != ']')
			p++;
		return *p == ']' ? p + 1 : p;
	}
	/* a comment, which may nest */
	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return p;
}

size_t og_address_count(const char *value)
{
	size_t n = 0;

	if (value == NULL)
		return 0;
	for (const char *p = value; *p != '\0';) {
		if (*p == '"' || *p == '(' || *p == '[') {
			p = skip_special(p);
			continue;
		}
		n += *p == '@';
		p++;
	}
	return n;
}

int og_address_list_each(const char *value, int (*fn)(const char *addr, void *arg), void *arg)
{
	const char *p, *start;
	bool angle = false;

	if (value == NULL)
		return 0;
	for (p = start = value;; ) {
		if (*p == '"' || *p == '(' || *p == '[') {
			p = skip_special(p);
			continue;
		}
		if (*p == '<')
			angle = true;
		else if (*p == '>')
			angle = false;
		/* an address holds no ',' or ';' (an unclosed '<' must not swallow the
		   list); a ':' inside <> is an obsolete route, outside it ends a group's name */
		if (*p == '\0' || *p == ',' || *p == ';' || (!angle && *p == ':')) {
			angle = false;
			/* a group's display name ends in ':' and holds no address */
			if (*p != ':' && p > start) {
				char *elem = og_strndup(start, (size_t)(p - start)), *addr;
				int rc = 0;

				if (elem == NULL)
					return -1;
				addr = og_mailbox_address(elem);
				free(elem);
				if (addr != NULL) {
					rc = fn(addr, arg);
					free(addr);
				}
				if (rc != 0)
					return rc;
			}
			if (*p == '\0')
				return 0;
			start = p + 1;
		}
		p++;
	}
}

static bool addr_char(char c)
{
	return c != '\0' && c != '<' && c != '>' && c != ',' && c != ';' && c != '(' &&
	       !isspace((unsigned char)c);
}

/* [START, END) without comments and white space, lower-cased; NULL if out of memory. */
static char *clean_address(const char *start, const char *end)
{
	struct og_buf b;

	og_buf_init(&b);
	for (const char *p = start; p < end;) {
		const char *q;

		if (*p == '(') {
			q = skip_special(p);
			p = q < end ? q : end;
			continue;
		}
		if (*p == '"') {
			/* a quoted local part keeps its spaces */
			q = skip_special(p);
			if (q > end)
				q = end;
			if (og_buf_append(&b, p, (size_t)(q - p)) < 0)
				goto oom;
			p = q;
			continue;
		}
		if (!isspace((unsigned char)*p) && og_buf_append(&b, p, 1) < 0)
			goto oom;
		p++;
	}
	if (b.data == NULL && og_buf_append(&b, "", 0) < 0)
		goto oom;
	return og_str_lower(b.data);
oom:
	og_buf_free(&b);
	return NULL;
}

char *og_mailbox_address(const char *value)
{
	const char *p, *start = NULL, *end = NULL, *at = NULL;
	char *out;

	if (value == NULL)
		return NULL;
	/* an angle address wins: "Name <a@b>"; it ends at '>' (or, unclosed, at ',') */
	for (p = value; *p != '\0';) {
		if (*p == '"' || *p == '(') {
			p = skip_special(p);
			continue;
		}
		if (*p == ',')
			break;                  /* only the first mailbox */
		if (*p == '<') {
			start = p + 1;
			for (end = start; *end != '\0' && *end != '>' && *end != ','; end++)
				if (*end == '"' || *end == '(')
					end = skip_special(end) - 1;
			break;
		}
		p++;
	}
	if (start == NULL) {
		/* a bare addr-spec: the first run of address characters holding an '@',
		   a quoted local part included ("John Doe"@example.com) */
		for (p = value; *p != '\0' && *p != ',';) {
			const char *s = p;

			if (*p == '(') {
				p = skip_special(p);
				continue;
			}
			if (*p == '"') {
				p = skip_special(p);
				if (*p != '@')
					continue;
			} else if (!addr_char(*p)) {
				p++;
				continue;
			}
			while (addr_char(*p))
				p++;
			if (memchr(s, '@', (size_t)(p - s)) != NULL) {
				start = s;
				end = p;
				break;
			}
		}
	}
	if (start == NULL || (out = clean_address(start, end)) == NULL)
		return NULL;
	for (p = out; *p != '\0'; p++) {
		if (*p == '"')
			p = skip_special(p) - 1;
		else if (*p == '@')
			at = p;
	}
	if (at == NULL || at == out || at[1] == '\0') {
		free(out);
		return NULL;
	}
	return out;
}

char *og_mailbox_display_name(const char *value)
{
	struct og_buf b;
	const char *p, *lt = NULL;

	if (value == NULL)
		return NULL;
	for (p = value; *p != '\0' && *p != ','; ) {
		if (*p == '"' || *p == '(') {
			p = skip_special(p);
			continue;
		}
		if (*p == '<') {
			lt = p;
			break;
		}
		p++;
	}
	if (lt == NULL)
		return NULL;
	og_buf_init(&b);
	for (p = value; p < lt; p++) {
		char c = *p;

		if (c == '"')
			continue;
		if (c == '\\' && p + 1 < lt)
			c = *++p;
		if (og_buf_append(&b, &c, 1) < 0) {
			og_buf_free(&b);
			return NULL;
		}
	}
	/* trim */
	while (b.len > 0 && isspace((unsigned char)b.data[b.len - 1]))
		b.data[--b.len] = '\0';
	if (b.len == 0 || b.data == NULL) {
		og_buf_free(&b);
		return NULL;
	}
	{
		size_t lead = 0;

		while (isspace((unsigned char)b.data[lead]))
			lead++;
		memmove(b.data, b.data + lead, b.len - lead + 1);
	}
	return b.data;
}

/* RFC 5322 atext. */
static bool atext(char c)
{
	return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Is [S, E) a dot-atom-text? */
static bool dot_atom(const char *s, const char *e)
{
	bool prev_dot = true;

	if (s == e)
		return false;
	for (; s < e; s++) {
		if (*s == '.') {
			if (prev_dot)
				return false;
			prev_dot = true;
		} else if (atext(*s)) {
			prev_dot = false;
		} else {
			return false;
		}
	}
	return !prev_dot;
}

/* Skip white space and comments. */
static const char *skip_cfws(const char *p)
{
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '(')
			return p;
		p = skip_special(p);
	}
}

bool og_msgid_parse(const char *value, const char **domain, size_t *domain_len)
{
	const char *p, *lt, *gt, *at = NULL;

	if (value == NULL)
		return false;
	p = skip_cfws(value);
	if (*p != '<')
		return false;
	lt = p;
	/* the left part: dot-atom, or a quoted string (obs-id-left) */
	if (lt[1] == '"') {
		p = skip_special(lt + 1);
		if (p[-1] != '"' || p == lt + 2 || *p != '@')
			return false;
		at = p;
	} else {
		for (p = lt + 1; *p != '\0' && *p != '@' && *p != '>'; p++)
			;
		if (*p != '@' || !dot_atom(lt + 1, p))
			return false;
		at = p;
	}
	/* the right part: dot-atom or a no-fold literal */
	if (at[1] == '[') {
		for (gt = at + 2; *gt != '\0' && *gt != ']' && *gt != '[' && *gt != '\\'; gt++)
			if (isspace((unsigned char)*gt))
				return false;
		if (*gt != ']' || gt[1] != '>')
			return false;
		gt++;
	} else {
		for (gt = at + 1; *gt != '\0' && *gt != '>'; gt++)
			;
		if (*gt != '>' || !dot_atom(at + 1, gt))
			return false;
	}
	if (*skip_cfws(gt + 1) != '\0')
		return false;
	*domain = at + 1;
	*domain_len = (size_t)(gt - (at + 1));
	return true;
}

bool og_domain_within(const char *domain, size_t len, const char *parent)
{
	size_t pl;

	if (domain == NULL || parent == NULL)
		return false;
	pl = strlen(parent);
	if (pl == 0 || pl > len)
		return false;
	if (strncasecmp(domain + (len - pl), parent, pl) != 0)
		return false;
	return pl == len || domain[len - pl - 1] == '.';
}

/* Second-level labels under which a country code registers names ("co" of co.uk). */
static bool registry_label(const char *s, size_t len)
{
	static const char *const labels[] = {
		"ac", "co", "com", "edu", "go", "gob", "gov", "gv", "ltd", "mil", "ne", "net", "nom",
		"or", "org", "plc",
	};

	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strlen(labels[i]) == len && strncasecmp(s, labels[i], len) == 0)
			return true;
	return false;
}

const char *og_domain_base(const char *domain, size_t len, size_t *base_len)
{
	size_t dots = 0, keep = 2, i;
	const char *last = NULL, *second = NULL;

	while (len > 0 && domain[len - 1] == '.')
		len--;                      /* "example.com." is example.com */
	for (i = len; i > 0; i--) {
		if (domain[i - 1] == '.') {
			if (last == NULL)
				last = domain + i;
			else if (second == NULL)
				second = domain + i;
		}
	}
	/* "example.co.uk": a two-letter country code under a registry label keeps three */
	if (last != NULL && len - (size_t)(last - domain) == 2 &&
	    registry_label(second != NULL ? second : domain,
	                   (size_t)(last - (second != NULL ? second : domain)) - 1))
		keep = 3;
	for (i = len; i > 0; i--) {
		if (domain[i - 1] == '.' && ++dots == keep) {
			*base_len = len - i;
			return domain + i;
		}
	}
	*base_len = len;
	return domain;
}
