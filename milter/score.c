/*
 * outguard-score - score saved messages as if a given identity submitted
 * them, with the daemon's own engine, and print every rule's figure.
 *
 * Admins run it before a reload to see what a rule change does; the test
 * suite runs it over a directory of sample messages.  The files given are
 * scored in order against one rate table, so a sequence of messages builds
 * up rates as it would in the daemon; --prior counts each message a number
 * of times before it is scored, --interval spaces them out in time.
 * Nothing is written anywhere: no evidence file, no syslog.
 *
 * Exit status: 0 done (and, with --expect, every message got that action),
 * 1 a message got another action than --expect, 64 usage, 65 a message
 * could not be read, 78 the configuration or the rules are invalid.
 * See outguard-score(8).
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "diag.h"
#include "eml.h"
#include "engine.h"
#include "evidence.h"
#include "facts.h"
#include "identity.h"
#include "ratelimit.h"
#include "rules.h"
#include "scope.h"
#include "strutil.h"

#ifndef OG_SYSCONFDIR
#define OG_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG OG_SYSCONFDIR "/outguard/outguard.conf"
#define MESSAGE_MAX ((size_t)64 << 20)
#define RCPTS_MAX 100000

enum submitter { SUB_NONE, SUB_AUTH, SUB_UID, SUB_LOCAL };

struct options {
	const char *config, *rules;
	enum submitter sub;
	const char *login;          /* --auth */
	long uid;                   /* --uid */
	const char *user, *cwd;
	const char *client;
	const char *sender;         /* NULL: From's address */
	const char **rcpt;
	size_t n_rcpt;
	long rcpts;                 /* --rcpts: generated recipients, -1 = not given */
	long prior;
	long interval;
	const char *queue_id;       /* --queue-id, else SCOREn */
	const char *hostname;       /* --hostname: the MTA's own name (macro j) */
	int json;
	int expect;                 /* action every message must get, -1 = none */
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: outguard-score [-r RULES | -c CONFIG] [--auth LOGIN | --uid N [--user NAME]\n"
	        "                      [--cwd DIR] | --local] [--client ADDR] [--sender ADDR]\n"
	        "                      [--rcpt ADDR]... [--rcpts N] [--prior N] [--interval SECONDS]\n"
	        "                      [--queue-id ID] [--hostname NAME] [--expect ACTION] [--json]\n"
	        "                      FILE...\n"
	        "  -r RULES         rules file to score with\n"
	        "  -c CONFIG        take the rules file from this configuration (default %s)\n"
	        "  --auth LOGIN     submitted over SMTP after SASL login LOGIN\n"
	        "  --uid N          submitted locally through outguard-sendmail by uid N\n"
	        "  --user NAME, --cwd DIR   the login and working directory outguard-sendmail records\n"
	        "  --local          submitted locally without the wrapper (sendmail(1), PHP mail())\n"
	        "  --client ADDR    the client address (alone: a client of a trusted network)\n"
	        "  --sender ADDR    envelope sender, \"\" for <> (default: the From address)\n"
	        "  --rcpt ADDR      envelope recipient, repeatable (default: To, Cc and Bcc)\n"
	        "  --rcpts N        N generated envelope recipients instead\n"
	        "  --prior N        count each message N times before scoring it\n"
	        "  --interval S     the messages arrive S seconds apart (default 0)\n"
	        "  --queue-id ID    the queue ID the MTA gave the message (a Message-ID Postfix\n"
	        "                   added carries it)\n"
	        "  --hostname NAME  the MTA's own host name, $myhostname (Message-IDs of it are ours)\n"
	        "  --expect ACTION  exit 1 unless every message gets ACTION (accept, tag, quarantine,\n"
	        "                   tempfail, reject)\n"
	        "  --json           one JSON object per message: its evidence record and every rule\n"
	        "See outguard-score(8), outguard.rules(5).\n", DEFAULT_CONFIG);
}

static int parse_long(const char *opt, const char *s, long min, long max, long *out)
{
	uint64_t v;

	if (!og_parse_u64(s, (uint64_t)min, (uint64_t)max, &v)) {
		fprintf(stderr, "outguard-score: %s: \"%s\" is not a number from %ld to %ld\n",
		        opt, s, min, max);
		return -1;
	}
	*out = (long)v;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { O_AUTH = 256, O_UID, O_USER, O_CWD, O_LOCAL, O_CLIENT, O_SENDER, O_RCPT, O_RCPTS,
	       O_PRIOR, O_INTERVAL, O_QUEUE_ID, O_HOSTNAME, O_EXPECT, O_JSON, O_HELP };
	static const struct option longopts[] = {
		{ "auth", required_argument, NULL, O_AUTH },
		{ "uid", required_argument, NULL, O_UID },
		{ "user", required_argument, NULL, O_USER },
		{ "cwd", required_argument, NULL, O_CWD },
		{ "local", no_argument, NULL, O_LOCAL },
		{ "client", required_argument, NULL, O_CLIENT },
		{ "sender", required_argument, NULL, O_SENDER },
		{ "rcpt", required_argument, NULL, O_RCPT },
		{ "rcpts", required_argument, NULL, O_RCPTS },
		{ "prior", required_argument, NULL, O_PRIOR },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "queue-id", required_argument, NULL, O_QUEUE_ID },
		{ "hostname", required_argument, NULL, O_HOSTNAME },
		{ "expect", required_argument, NULL, O_EXPECT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int ch, subs = 0;

	memset(o, 0, sizeof(*o));
	o->rcpts = -1;
	o->expect = -1;
	while ((ch = getopt_long(argc, argv, "r:c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': o->rules = optarg; break;
		case 'c': o->config = optarg; break;
		case O_AUTH: o->sub = SUB_AUTH; o->login = optarg; subs++; break;
		case O_UID:
			if (parse_long("--uid", optarg, 0, 2147483647L, &o->uid) < 0)
				return -1;
			o->sub = SUB_UID;
			subs++;
			break;
		case O_USER: o->user = optarg; break;
		case O_CWD: o->cwd = optarg; break;
		case O_LOCAL: o->sub = SUB_LOCAL; subs++; break;
		case O_CLIENT: o->client = optarg; break;
		case O_SENDER: o->sender = optarg; break;
		case O_RCPT: {
			const char **v = realloc(o->rcpt, (o->n_rcpt + 1) * sizeof(*v));

			if (v == NULL) {
				fprintf(stderr, "outguard-score: out of memory\n");
				return -1;
			}
			o->rcpt = v;
			o->rcpt[o->n_rcpt++] = optarg;
			break;
		}
		case O_RCPTS:
			if (parse_long("--rcpts", optarg, 0, RCPTS_MAX, &o->rcpts) < 0)
				return -1;
			break;
		case O_PRIOR:
			if (parse_long("--prior", optarg, 0, 1000000, &o->prior) < 0)
				return -1;
			break;
		case O_INTERVAL:
			if (parse_long("--interval", optarg, 0, 604800, &o->interval) < 0)
				return -1;
			break;
		case O_EXPECT:
			if ((o->expect = og_action_from_name(optarg)) < 0) {
				fprintf(stderr, "outguard-score: --expect: unknown action \"%s\": expected "
				        "accept, tag, quarantine, tempfail or reject\n", optarg);
				return -1;
			}
			break;
		case O_QUEUE_ID: o->queue_id = optarg; break;
		case O_HOSTNAME: o->hostname = optarg; break;
		case O_JSON: o->json = 1; break;
		case 'h': case O_HELP: usage(stdout); exit(EX_OK);
		default: usage(stderr); return -1;
		}
	}
	if (subs > 1) {
		fprintf(stderr, "outguard-score: give one of --auth, --uid and --local\n");
		return -1;
	}
	if (o->rules != NULL && o->config != NULL) {
		fprintf(stderr, "outguard-score: give -r or -c, not both\n");
		return -1;
	}
	if ((o->user != NULL || o->cwd != NULL) && o->sub != SUB_UID) {
		fprintf(stderr, "outguard-score: --user and --cwd go with --uid\n");
		return -1;
	}
	if (o->sub == SUB_NONE && o->client == NULL) {
		fprintf(stderr, "outguard-score: say who submits: --auth, --uid, --local or --client\n");
		return -1;
	}
	if (optind == argc) {
		fprintf(stderr, "outguard-score: no message file given\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

static void print_diag(const struct og_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "outguard-score: error: %s\n", d->msgs[i]);
	if (d->oom)
		fprintf(stderr, "outguard-score: out of memory: some messages were lost\n");
}

/* The rules: -r, or the file the configuration names. NULL after saying why. */
static struct og_rules *load_rules(const struct options *o)
{
	struct og_rules *r = NULL;
	struct og_config *cfg = NULL;
	struct og_diag d;

	og_diag_init(&d);
	if (o->rules != NULL) {
		r = og_rules_load(o->rules, &d);
	} else {
		const char *path = o->config != NULL ? o->config : DEFAULT_CONFIG;

		if ((cfg = og_config_load(path, &d)) != NULL)
			r = og_rules_load(cfg->rules, &d);
	}
	print_diag(&d);
	og_diag_free(&d);
	og_config_free(cfg);
	return r;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	struct og_buf b;
	char chunk[65536];
	size_t n;

	if (fp == NULL)
		return NULL;
	og_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (b.len + n > MESSAGE_MAX || og_buf_append(&b, chunk, n) < 0) {
			errno = EFBIG;
			n = 0;
			og_buf_free(&b);
			fclose(fp);
			return NULL;
		}
	}
	if (ferror(fp)) {
		og_buf_free(&b);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	*len = b.len;
	if (b.data == NULL)
		return og_strdup("");
	return b.data;
}

/* Fill F with the envelope and connection the options describe, then the message. */
static int build_facts(const struct options *o, const struct og_rules *rules, const char *text,
                       size_t len, long n, struct og_facts *f)
{
	struct og_eml e;
	char stamp[1024], buf[64];
	const char *sender;
	int rc = -1;

	og_facts_init(f);
	og_facts_want(f, (const char *const *)rules->want_headers, rules->n_want_headers,
	              rules->body_bytes);
	/* a local submission looks as Postfix's pickup presents it: 127.0.0.1, port 0 */
	if (o->sub == SUB_UID || o->sub == SUB_LOCAL) {
		f->client_port_known = true;
		if (og_facts_set(f, &f->client_addr, "127.0.0.1") < 0 ||
		    og_facts_set(f, &f->client_name, "localhost") < 0)
			return -1;
	} else {
		f->client_port_known = true;
		f->client_port = 25;
		if (o->client != NULL && og_facts_set(f, &f->client_addr, o->client) < 0)
			return -1;
	}
	if (o->sub == SUB_AUTH && (og_facts_set(f, &f->auth_authen, o->login) < 0 ||
	                           og_facts_set(f, &f->auth_type, "PLAIN") < 0))
		return -1;
	if (o->sub == SUB_UID) {
		snprintf(stamp, sizeof(stamp), "uid=%ld%s%s%s%s", o->uid,
		         o->user ? "; user=" : "", o->user ? o->user : "",
		         o->cwd ? "; cwd=" : "", o->cwd ? o->cwd : "");
		if (og_facts_add_header(f, OG_STAMP_HEADER, stamp) < 0)
			return -1;
	}
	snprintf(buf, sizeof(buf), "SCORE%ld", n);
	if (og_facts_set(f, &f->queue_id, o->queue_id != NULL ? o->queue_id : buf) < 0 ||
	    (o->hostname != NULL && og_facts_set(f, &f->mta_host, o->hostname) < 0))
		return -1;
	if (og_eml_read(text, len, f, &e) < 0)
		goto out;
	/* the envelope sender: given, else From's address, else the local login */
	{
		char *from = NULL;
		struct og_buf s;

		og_buf_init(&s);
		sender = o->sender;
		if (sender == NULL && f->from != NULL) {
			struct og_eml tmp = { 0 };

			if (og_eml_addresses(f->from, &tmp) < 0)
				goto out;
			if (tmp.n_header_rcpts > 0)
				from = og_strdup(tmp.header_rcpts[0]);
			og_eml_free(&tmp);
			sender = from;
		}
		if (sender == NULL)
			sender = o->user != NULL ? o->user : o->sub == SUB_AUTH ? o->login : "www-data";
		/* smtpd brackets the sender, pickup does not */
		if (og_buf_printf(&s, o->sub == SUB_UID || o->sub == SUB_LOCAL ? "%s" : "<%s>",
		                  sender) < 0 || og_facts_set_sender(f, s.data) < 0) {
			og_buf_free(&s);
			free(from);
			goto out;
		}
		og_buf_free(&s);
		free(from);
	}
	if (o->rcpts >= 0) {
		for (long i = 0; i < o->rcpts; i++) {
			snprintf(buf, sizeof(buf), "<rcpt%ld@site%ld.example>", i + 1, i % 37);
			if (og_facts_add_rcpt(f, buf) < 0)
				goto out;
		}
	} else if (o->n_rcpt > 0) {
		for (size_t i = 0; i < o->n_rcpt; i++)
			if (og_facts_add_rcpt(f, o->rcpt[i]) < 0)
				goto out;
	} else {
		for (size_t i = 0; i < e.n_header_rcpts; i++)
			if (og_facts_add_rcpt(f, e.header_rcpts[i]) < 0)
				goto out;
	}
	rc = 0;
out:
	og_eml_free(&e);
	return rc;
}

static enum og_scope_reason scope_of(const struct options *o)
{
	switch (o->sub) {
	case SUB_AUTH: return OG_SCOPE_AUTHENTICATED;
	case SUB_UID:
	case SUB_LOCAL: return OG_SCOPE_LOCAL;
	case SUB_NONE: break;
	}
	return OG_SCOPE_TRUSTED_NETWORK;
}

/* The hit of rule R in V, or NULL. */
static const struct og_hit *hit_of(const struct og_verdict *v, const struct og_rule *r)
{
	for (size_t i = 0; i < v->n_hits; i++)
		if (v->hit[i].rule == r)
			return &v->hit[i];
	return NULL;
}

/* What matched, for people: phrases, or the detail. */
static void matched_text(const struct og_hit *h, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (h == NULL)
		return;
	if (h->n_found == 0) {
		snprintf(buf, len, "%s", h->detail);
		return;
	}
	for (size_t i = 0; i < h->n_found && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s\"%s\"", i ? ", " : "",
		                 h->rule->list->phrases[h->found[i]]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static void print_human(const char *file, const struct og_rules *rules,
                        const struct og_facts *f, const struct og_identity *id,
                        const struct og_verdict *v)
{
	static const char *const kinds[] = { "account", "domain", "script", "client" };
	char matched[256];

	printf("%s: %s (score %d", file, og_action_name(v->applied), v->score);
	if (v->applied != v->action)
		printf("; the thresholds say %s", og_action_name(v->action));
	if (v->would_score != v->score)
		printf("; with the observing rules %d: %s", v->would_score,
		       og_action_name(v->would_action));
	printf(")\n");
	printf("  identity:");
	for (int k = 0; k < OG_KEY__COUNT; k++)
		if (id->key[k] != NULL)
			printf(" %s=%s", kinds[k], id->key[k]);
	printf(" (from %s)\n", og_identity_source_name(id->source));
	printf("  envelope: <%s> to %zu recipient%s; %zu in To/Cc\n", f->sender ? f->sender : "",
	       f->rcpt_count, f->rcpt_count == 1 ? "" : "s", f->hdr_rcpt_count);
	if (v->exempt) {
		printf("  exempt: %s (not counted, not judged)\n", v->exempt_key);
		return;
	}
	printf("  thresholds: tag %d, quarantine %d, tempfail %d, reject %d (0 = unused)%s\n",
	       rules->threshold[OG_ACT_TAG], rules->threshold[OG_ACT_QUARANTINE],
	       rules->threshold[OG_ACT_TEMPFAIL], rules->threshold[OG_ACT_REJECT],
	       rules->observe ? "; observing" : "");
	printf("  %-28s %-17s %10s %10s %6s  %s\n", "RULE", "CHECK", "FIGURE", "LIMIT", "SCORE",
	       "MATCHED");
	for (size_t i = 0; i < v->n_results; i++) {
		const struct og_rule *r = &rules->rule[i];
		const struct og_result *res = &v->result[i];
		const struct og_hit *h = hit_of(v, r);
		char figure[24], score[16];

		if (res->applies)
			snprintf(figure, sizeof(figure), "%" PRIu64, res->figure);
		else
			snprintf(figure, sizeof(figure), "n/a");
		if (h != NULL)
			snprintf(score, sizeof(score), "%s+%d", r->observe ? "(" : "", r->score);
		else
			snprintf(score, sizeof(score), "-");
		if (h != NULL && r->observe)
			strcat(score, ")");
		matched_text(h, matched, sizeof(matched));
		printf("  %-28s %-17s %10s %10" PRIu64 " %6s  %s%s\n", r->id, og_check_name(r->check),
		       figure, res->limit, score, matched, res->limited ? " (match limit reached)" : "");
	}
}

static int print_json(const char *file, const struct og_rules *rules, const struct og_facts *f,
                      const struct og_identity *id, const struct og_verdict *v)
{
	char *record = og_evidence_format(f, id, v, rules->digest, (int64_t)time(NULL) * 1000);
	json_t *o, *ev, *results;
	json_error_t err;
	char *text;

	if (record == NULL || (ev = json_loads(record, 0, &err)) == NULL) {
		free(record);
		return -1;
	}
	free(record);
	o = json_object();
	results = json_array();
	json_object_set_new(o, "file", json_string(file));
	json_object_set_new(o, "evidence", ev);
	for (size_t i = 0; i < v->n_results; i++) {
		const struct og_rule *r = &rules->rule[i];
		const struct og_result *res = &v->result[i];
		json_t *row = json_object();

		json_object_set_new(row, "rule", json_string(r->id));
		json_object_set_new(row, "check", json_string(og_check_name(r->check)));
		json_object_set_new(row, "applies", json_boolean(res->applies));
		json_object_set_new(row, "figure", res->applies ? json_integer((json_int_t)res->figure)
		                                                  : json_null());
		json_object_set_new(row, "limit", json_integer((json_int_t)res->limit));
		json_object_set_new(row, "hit", json_boolean(hit_of(v, r) != NULL));
		json_object_set_new(row, "score", json_integer(hit_of(v, r) != NULL ? r->score : 0));
		if (r->observe)
			json_object_set_new(row, "observe", json_true());
		if (res->limited)
			json_object_set_new(row, "limited", json_true());
		json_array_append_new(results, row);
	}
	json_object_set_new(o, "results", results);
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL)
		return -1;
	puts(text);
	free(text);
	return 0;
}

/* Score FILE (the Nth message); 0, 1 (not the expected action) or an EX_* code. */
static int score_file(const struct options *o, const struct og_rules *rules,
                      struct og_state *state, const char *file, long n, int64_t now)
{
	struct og_webmail webmail = { (const char *const *)rules->webmail, rules->n_webmail };
	struct og_verdict *v = malloc(sizeof(*v));
	struct og_identity id;
	struct og_facts f;
	size_t len = 0;
	char *text;
	int rc = 0;

	if (v == NULL) {
		fprintf(stderr, "outguard-score: out of memory\n");
		return EX_SOFTWARE;
	}
	if ((text = slurp(file, &len)) == NULL) {
		fprintf(stderr, "outguard-score: %s: cannot read: %s\n", file, strerror(errno));
		free(v);
		return EX_DATAERR;
	}
	if (build_facts(o, rules, text, len, n, &f) < 0 ||
	    og_identity_of(&f, o->sub == SUB_UID || o->sub == SUB_LOCAL, &webmail, &id) < 0) {
		fprintf(stderr, "outguard-score: %s: out of memory\n", file);
		og_facts_free(&f);
		free(text);
		free(v);
		return EX_SOFTWARE;
	}
	for (long i = 0; i <= o->prior && rc == 0; i++) {
		if (og_engine_evaluate(rules, &f, &id, scope_of(o), state, now, v) < 0) {
			fprintf(stderr, "outguard-score: %s: out of memory\n", file);
			rc = EX_SOFTWARE;
		}
	}
	if (rc == 0) {
		if (o->json)
			rc = print_json(file, rules, &f, &id, v) < 0 ? EX_SOFTWARE : 0;
		else
			print_human(file, rules, &f, &id, v);
	}
	if (rc == 0 && o->expect >= 0 && (int)v->applied != o->expect) {
		fprintf(stderr, "outguard-score: %s: %s, expected %s\n", file,
		        og_action_name(v->applied), og_action_name((enum og_action)o->expect));
		rc = 1;
	}
	og_identity_free(&id);
	og_facts_free(&f);
	free(text);
	free(v);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;
	struct og_rules *rules;
	struct og_ratetable *rates;
	struct og_state *state;
	int64_t now = (int64_t)time(NULL);
	int status = EX_OK;

	if (parse_options(argc, argv, &o) < 0) {
		free(o.rcpt);
		return EX_USAGE;
	}
	if ((rules = load_rules(&o)) == NULL) {
		free(o.rcpt);
		return EX_CONFIG;
	}
	if ((rates = og_rate_new(0)) == NULL || (state = og_state_new(rates)) == NULL) {
		og_rate_free(rates);
		fprintf(stderr, "outguard-score: out of memory\n");
		og_rules_release(rules);
		free(o.rcpt);
		return EX_SOFTWARE;
	}
	for (int i = optind; i < argc; i++) {
		int rc = score_file(&o, rules, state, argv[i], i - optind + 1, now);

		if (rc > status || (rc == 1 && status == EX_OK))
			status = rc;
		if (rc > 1)
			break;
		now += o.interval;
	}
	og_state_free(state);
	og_rate_free(rates);
	og_rules_release(rules);
	free(o.rcpt);
	return status;
}
