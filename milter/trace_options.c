/*
 * trace_options - the command line of outguard-trace: the subcommand, its
 * argument (a KEY in identity form), --since and --until as times, and the
 * options that go with one subcommand each.
 *
 * Errors: every usage error is one line on stderr naming the option, the
 * offending value in quotes and what was expected; og_trace_parse_options
 * then returns -1 and the caller exits with EX_USAGE.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "keyform.h"
#include "strutil.h"
#include "trace_cli.h"

#define TOP_DEFAULT 10

static const char *const field_names[] = {
	"message-id", "queue-id", "rcpt", "sender", "client", "subject",
};
static const char *const command_names[] = {
	"summary", "find", "timeline", "queue-ids", "report",
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: outguard-trace [--since TIME] [--until TIME] [--json] SUBCOMMAND [ARGS] [FILE...]\n"
	        "  summary [--top N]          the top keys, the locks and messages per hour\n"
	        "  find WHAT [--field NAME]   the messages of a Message-ID, queue ID, recipient, sender\n"
	        "                             or From address, client address, or Subject text\n"
	        "  timeline KEY               every record of one key, in time order\n"
	        "  queue-ids KEY [--action ACTION]  the key's queue IDs, one a line (for postsuper -d -)\n"
	        "  report KEY [-o FILE]       an HTML incident report of one key\n"
	        "  --since TIME, --until TIME only records at or after, before TIME: 90m, 24h, 7d, 2w\n"
	        "                             before now, or a UTC time 2026-11-23, 2026-11-23T03:00,\n"
	        "                             2026-11-23T03:00:00Z\n"
	        "  --json                     one JSON document on standard output (report: its data)\n"
	        "  --top N                    summary: keys in each table (default %d)\n"
	        "  --field NAME               find: only message-id, queue-id, rcpt, sender, client or\n"
	        "                             subject\n"
	        "  --action ACTION            queue-ids: only messages given accept, tag, quarantine,\n"
	        "                             tempfail or reject\n"
	        "  -o FILE, --output FILE     report: write to FILE instead of standard output\n"
	        "  -h, --help                 print this help\n"
	        "KEY: sasl:LOGIN, uid:NUMBER, local:LOGIN, php:UID:FILE, domain:DOMAIN, ip:ADDRESS,\n"
	        "webmail:ADDRESS.  FILE: default %s and its rotated\n"
	        "siblings (.N, .N.gz); gzip files are read as they are; - is standard input.\n"
	        "Exit: 0 found, 1 nothing matched, 64 usage, 66 cannot open a file, 70 internal error,\n"
	        "74 a file could not be read to its end.  See outguard-trace(8).\n",
	        TOP_DEFAULT, DEFAULT_EVIDENCE);
}

void og_trace_oom(void)
{
	fprintf(stderr, PROG ": out of memory\n");
}

const char *og_trace_command_name(enum command cmd)
{
	return command_names[cmd];
}

const char *og_trace_field_name(enum field f)
{
	return field_names[f];
}

/* ---- options ---- */

static int parse_time_opt(const char *opt, const char *s, int64_t now, int64_t *out)
{
	if (og_trace_parse_time(s, now, out))
		return 0;
	fprintf(stderr, PROG ": %s: \"%s\" is not a time: expected 90m, 24h, 7d or 2w (before now), "
	        "or a UTC date and time such as 2026-11-23, 2026-11-23T03:00 or 2026-11-23T03:00:00Z\n",
	        opt, s);
	return -1;
}

/* KEY in identity form into O; -1 after saying why. */
static int fold_key(struct options *o)
{
	const char *form;
	int is_address;

	switch (og_keyform_check(o->arg, strlen(o->arg), &o->key, &form, &is_address)) {
	case OG_KEYFORM_OK:
		return 0;
	case OG_KEYFORM_UNKNOWN:
		fprintf(stderr, PROG ": %s: \"%s\" is not a key: expected " OG_KEYFORM_EXPECTED "\n",
		        command_names[o->cmd], o->arg);
		return -1;
	case OG_KEYFORM_INVALID:
		fprintf(stderr, PROG ": %s: \"%s\" is not a key: expected %s%s\n", command_names[o->cmd],
		        o->arg, form, is_address ? " (one address, not a network)" : "");
		return -1;
	case OG_KEYFORM_NOMEM:
		break;
	}
	og_trace_oom();
	return -1;
}

/* 0, or -1 after a message (usage). */
int og_trace_parse_options(int argc, char **argv, struct options *o)
{
	enum { O_SINCE = 256, O_UNTIL, O_JSON, O_TOP, O_FIELD, O_ACTION, O_HELP };
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "json", no_argument, NULL, O_JSON },
		{ "top", required_argument, NULL, O_TOP },
		{ "field", required_argument, NULL, O_FIELD },
		{ "action", required_argument, NULL, O_ACTION },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *top = NULL, *field = NULL, *action = NULL, *cmd;
	int ch, i;

	o->since = o->until = OG_TRACE_TIME_NONE;
	o->top = TOP_DEFAULT;
	o->field = F_ANY;
	o->action = -1;
	/* options may come before or after the subcommand and its arguments */
	while ((ch = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (ch) {
		case O_SINCE:
			if (parse_time_opt("--since", optarg, o->now_ms, &o->since) < 0)
				return -1;
			break;
		case O_UNTIL:
			if (parse_time_opt("--until", optarg, o->now_ms, &o->until) < 0)
				return -1;
			break;
		case O_JSON: o->json = true; break;
		case O_TOP: top = optarg; break;
		case O_FIELD: field = optarg; break;
		case O_ACTION: action = optarg; break;
		case 'o': o->output = optarg; break;
		case 'h': case O_HELP: usage(stdout); exit(EX_OK);
		default: usage(stderr); return -1;
		}
	}
	if (optind == argc) {
		fprintf(stderr, PROG ": no subcommand given: expected summary, find, timeline, "
		        "queue-ids or report\n");
		usage(stderr);
		return -1;
	}
	cmd = argv[optind++];
	for (i = 0; i < (int)(sizeof(command_names) / sizeof(command_names[0])); i++)
		if (strcmp(cmd, command_names[i]) == 0)
			break;
	if (i == (int)(sizeof(command_names) / sizeof(command_names[0]))) {
		fprintf(stderr, PROG ": unknown subcommand \"%s\": expected summary, find, timeline, "
		        "queue-ids or report\n", cmd);
		return -1;
	}
	o->cmd = (enum command)i;
	if (o->cmd != CMD_SUMMARY) {
		if (optind == argc) {
			fprintf(stderr, PROG ": %s: no %s given\n", cmd, o->cmd == CMD_FIND ? "WHAT" : "KEY");
			return -1;
		}
		o->arg = argv[optind++];
		if (o->cmd == CMD_FIND && o->arg[0] == '\0') {
			fprintf(stderr, PROG ": find: WHAT is empty\n");
			return -1;
		}
		if (o->cmd != CMD_FIND && fold_key(o) < 0)
			return -1;
	}
	if (top != NULL) {
		uint64_t v;

		if (o->cmd != CMD_SUMMARY) {
			fprintf(stderr, PROG ": --top goes with summary\n");
			return -1;
		}
		if (!og_parse_u64(top, 1, 100000, &v)) {
			fprintf(stderr, PROG ": --top: \"%s\" is not a number from 1 to 100000\n", top);
			return -1;
		}
		o->top = (long)v;
	}
	if (field != NULL) {
		if (o->cmd != CMD_FIND) {
			fprintf(stderr, PROG ": --field goes with find\n");
			return -1;
		}
		for (i = 0; i < F__COUNT && strcmp(field, field_names[i]) != 0; i++)
			;
		if (i == F__COUNT) {
			fprintf(stderr, PROG ": --field: unknown field \"%s\": expected message-id, "
			        "queue-id, rcpt, sender, client or subject\n", field);
			return -1;
		}
		o->field = (enum field)i;
	}
	if (action != NULL) {
		if (o->cmd != CMD_QUEUE_IDS) {
			fprintf(stderr, PROG ": --action goes with queue-ids\n");
			return -1;
		}
		if ((o->action = (int)og_trace_action_from_name(action)) == OG_TA_UNKNOWN) {
			fprintf(stderr, PROG ": --action: unknown action \"%s\": expected accept, tag, "
			        "quarantine, tempfail or reject\n", action);
			return -1;
		}
	}
	if (o->output != NULL && o->cmd != CMD_REPORT) {
		fprintf(stderr, PROG ": -o goes with report\n");
		return -1;
	}
	if (o->since != OG_TRACE_TIME_NONE && o->until != OG_TRACE_TIME_NONE && o->since >= o->until) {
		fprintf(stderr, PROG ": --since is not before --until: nothing to read\n");
		return -1;
	}
	o->files = argv + optind;
	o->n_files = argc - optind;
	return 0;
}
