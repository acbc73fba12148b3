/*
 * null_milter - a libmilter filter that judges nothing: the baseline
 * against which t/bench/bench.sh measures what outguard costs per message.
 *
 *   null_milter -r -p SOCKET    reply to every command: negotiate nothing
 *                               (SMFIS_ALL_OPTS), every callback registered
 *                               and answering SMFIS_CONTINUE, end of message
 *                               SMFIS_ACCEPT.  What any filter that looks at
 *                               every stage pays for libmilter alone.
 *   null_milter -n -p SOCKET    the protocol's floor: ask for no reply to
 *                               every stage the MTA offers that for (the
 *                               SMFIP_NR_* bits), and for no body, no DATA
 *                               and no unknown commands; the callbacks
 *                               answer SMFIS_NOREPLY, end of message
 *                               SMFIS_ACCEPT.  It still receives the
 *                               connection, envelope and headers, the least
 *                               a filter that judges mail can be sent.
 *
 * SOCKET is libmilter's notation: unix:/path or inet:PORT@127.0.0.1.
 * Runs in the foreground until SIGTERM or SIGINT (libmilter's own signal
 * thread stops it).  Exits 0 when libmilter stops normally, 64 on a usage
 * error, 69 when libmilter cannot register or listen.
 * Build: gcc -std=gnu11 -O2 t/bench/null_milter.c $(pkg-config --cflags --libs milter) -pthread
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

/* Every "no reply" bit of the protocol; only those the MTA offers are taken. */
#define NR_ALL (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | \
                SMFIP_NR_UNKN | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY)
/* Steps the floor filter does not want sent at all. */
#define NO_STEPS (SMFIP_NOBODY | SMFIP_NODATA | SMFIP_NOUNKNOWN)

/*
 * Set once in main before smfi_main starts its threads, read-only after:
 * the answer of every callback that is not end of message.
 */
static sfsistat stage_reply = SMFIS_CONTINUE;

static sfsistat nm_negotiate_all(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                                 unsigned long f2, unsigned long f3, unsigned long *pf0,
                                 unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	(void)ctx; (void)f0; (void)f1; (void)f2; (void)f3;
	(void)pf0; (void)pf1; (void)pf2; (void)pf3;
	return SMFIS_ALL_OPTS;
}

static sfsistat nm_negotiate_floor(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                                   unsigned long f2, unsigned long f3, unsigned long *pf0,
                                   unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	(void)ctx; (void)f0; (void)f2; (void)f3;
	*pf0 = 0;                       /* no actions: it never changes a message */
	*pf1 = f1 & (NR_ALL | NO_STEPS);
	*pf2 = *pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat nm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx; (void)host; (void)addr;
	return stage_reply;
}

static sfsistat nm_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx; (void)helo;
	return stage_reply;
}

static sfsistat nm_argv(SMFICTX *ctx, char **argv)
{
	(void)ctx; (void)argv;
	return stage_reply;
}

static sfsistat nm_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx; (void)name; (void)value;
	return stage_reply;
}

static sfsistat nm_stage(SMFICTX *ctx)
{
	(void)ctx;
	return stage_reply;
}

static sfsistat nm_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx; (void)chunk; (void)len;
	return stage_reply;
}

static sfsistat nm_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx; (void)cmd;
	return stage_reply;
}

static sfsistat nm_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_ACCEPT;
}

/* Abort and close are never answered on the wire; CONTINUE is what libmilter expects. */
static sfsistat nm_quiet(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: null_milter -r|-n -p SOCKET\n"
	             "  -r  reply to every command (negotiates nothing)\n"
	             "  -n  negotiate no reply, no body, no DATA, no unknown commands where offered\n"
	             "  -p  unix:/path or inet:PORT@127.0.0.1\n");
}

int main(int argc, char **argv)
{
	struct smfiDesc desc;
	const char *sock = NULL;
	int mode = 0, ch;

	while ((ch = getopt(argc, argv, "rnp:h")) != -1) {
		switch (ch) {
		case 'r':
		case 'n': mode = ch; break;
		case 'p': sock = optarg; break;
		case 'h': usage(stdout); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (mode == 0 || sock == NULL || optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	stage_reply = mode == 'n' ? SMFIS_NOREPLY : SMFIS_CONTINUE;

	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = (char *)(mode == 'n' ? "null-n" : "null-r");
	desc.xxfi_version = SMFI_VERSION;
	/* -r takes every action the MTA offers (ALL_OPTS); -n asks for none */
	desc.xxfi_flags = 0;
	desc.xxfi_connect = nm_connect;
	desc.xxfi_helo = nm_helo;
	desc.xxfi_envfrom = nm_argv;
	desc.xxfi_envrcpt = nm_argv;
	desc.xxfi_header = nm_header;
	desc.xxfi_eoh = nm_stage;
	desc.xxfi_body = nm_body;
	desc.xxfi_eom = nm_eom;
	desc.xxfi_abort = nm_quiet;
	desc.xxfi_close = nm_quiet;
	desc.xxfi_unknown = nm_unknown;
	desc.xxfi_data = nm_stage;
	desc.xxfi_negotiate = mode == 'n' ? nm_negotiate_floor : nm_negotiate_all;

	if (smfi_register(desc) != MI_SUCCESS || smfi_setconn((char *)sock) != MI_SUCCESS) {
		fprintf(stderr, "null_milter: libmilter refused the filter or the socket %s\n", sock);
		return EX_UNAVAILABLE;
	}
	/* A stale unix socket from an earlier run is removed (rmsocket=1). */
	if (smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "null_milter: cannot listen on %s\n", sock);
		return EX_UNAVAILABLE;
	}
	return smfi_main() == MI_SUCCESS ? EX_OK : EX_SOFTWARE;
}
