/*
 * facts - the plain record of one message that every check reads.
 *
 * Values arrive from the MTA (or a saved message) and are attacker-controlled:
 * each is copied with a bound (OG_FACT_MAXLEN) and a cut is recorded in
 * f->truncated rather than hidden.  Only the headers a check needs are kept;
 * everything else is counted and dropped, so a message with 10,000 headers
 * costs no memory.  The body is kept only up to the bound a rule asks for.  Errors: -1 from the setters means out of memory.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "facts.h"
#include "hdrparse.h"
#include "strutil.h"

void og_facts_init(struct og_facts *f)
{
	memset(f, 0, sizeof(*f));
}

static void free_ptr(char **p)
{
	free(*p);
	*p = NULL;
}

void og_facts_reset_message(struct og_facts *f)
{
	free_ptr(&f->auth_authen);
	free_ptr(&f->auth_type);
	free_ptr(&f->sender);
	f->sender_bracketed = false;
	f->rcpt_count = 0;
	for (size_t i = 0; i < f->rcpt_sample_len; i++)
		free_ptr(&f->rcpt_sample[i]);
	f->rcpt_sample_len = 0;
	for (size_t i = 0; i < f->rcpt_domains_len; i++)
		free_ptr(&f->rcpt_domains[i]);
	f->rcpt_domains_len = 0;
	f->rcpt_domains_overflow = false;
	free_ptr(&f->from);
	free_ptr(&f->message_id);
	free_ptr(&f->subject);
	free_ptr(&f->php_script);
	free_ptr(&f->stamp);
	f->stamp_count = 0;
	free_ptr(&f->content_type);
	free_ptr(&f->content_encoding);
	f->hdr_rcpt_count = 0;
	f->header_count = 0;
	for (size_t i = 0; i < OG_EXTRA_HEADERS_MAX; i++)
		free_ptr(&f->extra_value[i]);
	f->want_headers = NULL;
	f->n_want_headers = 0;
	og_buf_free(&f->body);
	f->body_max = 0;
	f->body_cut = false;
	free_ptr(&f->queue_id);
	f->truncated = false;
}

void og_facts_free(struct og_facts *f)
{
	og_facts_reset_message(f);
	free_ptr(&f->client_addr);
	free_ptr(&f->client_name);
	free_ptr(&f->helo);
	free_ptr(&f->daemon_name);
	free_ptr(&f->mta_host);
	f->client_port = 0;
	f->client_port_known = false;
}

/* Copy at most OG_FACT_MAXLEN bytes of VALUE; newly allocated, caller frees. */
static char *bounded_copy(struct og_facts *f, const char *value)
{
	size_t n = strlen(value);

	if (n > OG_FACT_MAXLEN) {
		n = OG_FACT_MAXLEN;
		f->truncated = true;
	}
	return og_strndup(value, n);
}

int og_facts_set(struct og_facts *f, char **field, const char *value)
{
	char *copy = NULL;

	if (value != NULL && (copy = bounded_copy(f, value)) == NULL)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

char *og_address_unbracket(const char *arg)
{
	const char *s = arg, *e;

	if (arg == NULL)
		return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e > s && *s == '<') {
		s++;
		if (e > s && e[-1] == '>')
			e--;
	}
	return og_strndup(s, (size_t)(e - s));
}

const char *og_address_domain(const char *addr)
{
	const char *at;

	if (addr == NULL || (at = strrchr(addr, '@')) == NULL || at[1] == '\0')
		return NULL;
	return at + 1;
}

int og_facts_set_sender(struct og_facts *f, const char *arg)
{
	char *addr;

	if (arg == NULL)
		arg = "";
	if ((addr = og_address_unbracket(arg)) == NULL)
		return -1;
	if (strlen(addr) > OG_FACT_MAXLEN) {
		addr[OG_FACT_MAXLEN] = '\0';
		f->truncated = true;
	}
	free(f->sender);
	f->sender = addr;
	/* Postfix's smtpd passes "<a@b>", its pickup passes "a@b": a hint of a local submission. */
	{
		const char *s = arg;
		while (*s == ' ' || *s == '\t')
			s++;
		f->sender_bracketed = (*s == '<');
	}
	return 0;
}

/* Remember DOMAIN (lower-cased) if it is new; bounded by OG_RCPT_DOMAINS_MAX. */
static int note_domain(struct og_facts *f, const char *domain)
{
	char *d;

	for (size_t i = 0; i < f->rcpt_domains_len; i++)
		if (og_streq_nocase(f->rcpt_domains[i], domain))
			return 0;
	if (f->rcpt_domains_len == OG_RCPT_DOMAINS_MAX) {
		f->rcpt_domains_overflow = true;
		return 0;
	}
	if ((d = bounded_copy(f, domain)) == NULL)
		return -1;
	f->rcpt_domains[f->rcpt_domains_len++] = og_str_lower(d);
	return 0;
}

int og_facts_add_rcpt(struct og_facts *f, const char *arg)
{
	char *addr;
	const char *domain;
	int rc = 0;

	if ((addr = og_address_unbracket(arg != NULL ? arg : "")) == NULL)
		return -1;
	f->rcpt_count++;
	if ((domain = og_address_domain(addr)) != NULL)
		rc = note_domain(f, domain);
	if (rc == 0 && f->rcpt_sample_len < OG_RCPT_SAMPLE_MAX) {
		if (strlen(addr) > OG_FACT_MAXLEN) {
			addr[OG_FACT_MAXLEN] = '\0';
			f->truncated = true;
		}
		f->rcpt_sample[f->rcpt_sample_len++] = addr;
		return 0;
	}
	free(addr);
	return rc;
}

/* Header value without the leading white space some MTAs leave in. */
static const char *skip_space(const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	return v;
}

void og_facts_want(struct og_facts *f, const char *const *names, size_t n, size_t max_body)
{
	f->want_headers = names;
	f->n_want_headers = n < OG_EXTRA_HEADERS_MAX ? n : OG_EXTRA_HEADERS_MAX;
	f->body_max = max_body;
}

int og_facts_add_body(struct og_facts *f, const void *chunk, size_t len)
{
	size_t room = f->body_max > f->body.len ? f->body_max - f->body.len : 0;

	if (len > room) {
		f->body_cut = true;
		len = room;
	}
	return len > 0 ? og_buf_append(&f->body, chunk, len) : 0;
}

const char *og_facts_extra_header(const struct og_facts *f, const char *name)
{
	for (size_t i = 0; i < f->n_want_headers; i++)
		if (og_streq_nocase(f->want_headers[i], name))
			return f->extra_value[i];
	return NULL;
}

int og_facts_add_header(struct og_facts *f, const char *name, const char *value)
{
	char **field = NULL;

	if (name == NULL)
		return 0;
	if (value == NULL)
		value = "";
	value = skip_space(value);
	f->header_count++;

	for (size_t i = 0; i < f->n_want_headers; i++)
		if (f->extra_value[i] == NULL && og_streq_nocase(f->want_headers[i], name) &&
		    og_facts_set(f, &f->extra_value[i], value) < 0)
			return -1;
	if (og_streq_nocase(name, "To") || og_streq_nocase(name, "Cc"))
		f->hdr_rcpt_count += og_address_count(value);

	if (og_streq_nocase(name, OG_STAMP_HEADER)) {
		/* Every stamp is counted (the glue removes them all); only the first is read. */
		f->stamp_count++;
		if (f->stamp_count > 1)
			return 0;
		field = &f->stamp;
	} else if (og_streq_nocase(name, "From")) {
		field = &f->from;
	} else if (og_streq_nocase(name, "Message-ID")) {
		field = &f->message_id;
	} else if (og_streq_nocase(name, "Subject")) {
		field = &f->subject;
	} else if (og_streq_nocase(name, "X-PHP-Originating-Script")) {
		field = &f->php_script;
	} else if (og_streq_nocase(name, "Content-Type")) {
		field = &f->content_type;
	} else if (og_streq_nocase(name, "Content-Transfer-Encoding")) {
		field = &f->content_encoding;
	} else {
		return 0;
	}
	if (*field != NULL)     /* first occurrence wins */
		return 0;
	return og_facts_set(f, field, value);
}
