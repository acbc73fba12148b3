/*
 * mta_client - the MTA side of the milter protocol, as Postfix 3.7's milter8
 * client speaks it (src/milter/milter8.c): one connection to a filter, its
 * negotiation, and whole messages with the macros, events and waits for a
 * reply that Postfix would send.  milter_load runs many of these at once;
 * this file knows nothing of threads or measurement.
 *
 * What is sent: SMFIC_OPTNEG (protocol 6, every action, every protocol step
 * and no-reply bit), then for each event the SMFIC_MACRO of its stage (the
 * filter's own list when it set one at negotiation, else Postfix's default
 * list, with the macros that have a value) followed by the event unless the
 * filter asked not to get it: CONNECT, HELO, and per message MAIL, RCPT per
 * recipient, DATA, each header, EOH, the body in MILTER_CHUNK_SIZE pieces
 * (65535 bytes, as Postfix), BODYEOB; SMFIC_ABORT after each message
 * (Postfix resets the transaction after it) and SMFIC_QUIT at the end.  A
 * reply is awaited only where the filter did not negotiate SMFIP_NR_* for
 * that stage; commands are buffered and written together before each wait,
 * as Postfix's VSTREAM does, and at DATA, where smtpd hands the connection
 * to cleanup.  SMFIR_SKIP ends that event type for the
 * message; at end of message the modification replies are read until the
 * final one.  Where Postfix would log "unexpected filter response" and drop
 * the filter, this is an error.
 *
 * Errors: the int functions return 0 or -1; after -1, mc->err says what was
 * wrong and the connection is to be closed.  See also: milter_load.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>   /* SMFIF_*, SMFIM_*; mfdef.h: SMFIC_*, SMFIR_*, SMFIP_* */

#include "mta_client.h"

/* What Postfix 3.7 offers (milter8.c: my_actions, MILTER8_V6_PROTO_MASK). */
#define MTA_VERSION 6
#define MTA_ACTIONS (SMFIF_ADDHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGHDRS | \
                     SMFIF_CHGBODY | SMFIF_QUARANTINE | SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR | \
                     SMFIF_SETSYMLIST)
#define MTA_PROTOCOL SMFI_CURR_PROT
#define MAX_PACKET (16u * 1024 * 1024)

_Static_assert(MC_STAGES == SMFIM_LAST + 1, "one macro list per SMFIM_* stage");

/* Postfix's default macro lists (postconf -d milter_*_macros), by SMFIM_* stage. */
static const char *const default_macros[MC_STAGES] = {
	[SMFIM_CONNECT] = "j {daemon_name} {daemon_addr} v _",
	[SMFIM_HELO] = "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
	[SMFIM_ENVFROM] = "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
	[SMFIM_ENVRCPT] = "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
	[SMFIM_DATA] = "i",
	[SMFIM_EOM] = "i",
	[SMFIM_EOH] = "i",
};

static void fail(struct mc_conn *mc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Note the first error of the connection; later ones are dropped. */
static void fail(struct mc_conn *mc, const char *fmt, ...)
{
	va_list ap;

	if (mc->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(mc->err, sizeof(mc->err), fmt, ap);
	va_end(ap);
	mc->failed = true;
}

/* ---- building the commands ---- */

static void wreserve(struct mc_conn *mc, size_t more)
{
	if (mc->oom || mc->wlen + more <= mc->wcap)
		return;
	size_t cap = mc->wcap ? mc->wcap : 65536;

	while (cap < mc->wlen + more)
		cap *= 2;
	unsigned char *p = realloc(mc->wbuf, cap);

	if (p == NULL) {
		mc->oom = true;
		return;
	}
	mc->wbuf = p;
	mc->wcap = cap;
}

static void put_bytes(struct mc_conn *mc, const void *p, size_t n)
{
	wreserve(mc, n);
	if (!mc->oom) {
		memcpy(mc->wbuf + mc->wlen, p, n);
		mc->wlen += n;
	}
}

static void put_byte(struct mc_conn *mc, unsigned char c)
{
	put_bytes(mc, &c, 1);
}

static void put_str(struct mc_conn *mc, const char *s)
{
	put_bytes(mc, s, strlen(s) + 1);
}

static void put_u32(struct mc_conn *mc, uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };

	put_bytes(mc, b, 4);
}

/* Start a packet: the length (filled in by pkt_end) and the command byte. */
static void pkt_begin(struct mc_conn *mc, char cmd)
{
	mc->pkt_start = mc->wlen;
	put_u32(mc, 0);
	put_byte(mc, (unsigned char)cmd);
}

static void pkt_end(struct mc_conn *mc)
{
	if (mc->oom)
		return;
	uint32_t len = (uint32_t)(mc->wlen - mc->pkt_start - 4);
	unsigned char *p = mc->wbuf + mc->pkt_start;

	p[0] = len >> 24;
	p[1] = len >> 16;
	p[2] = len >> 8;
	p[3] = len;
}

/* Write everything buffered. */
static int flush(struct mc_conn *mc)
{
	size_t off = 0;

	if (mc->oom) {
		fail(mc, "out of memory for the command buffer");
		return -1;
	}
	while (off < mc->wlen) {
		ssize_t n = send(mc->fd, mc->wbuf + off, mc->wlen - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fail(mc, "write to the filter: %s", n < 0 ? strerror(errno) : "nothing written");
			return -1;
		}
		off += (size_t)n;
	}
	mc->wlen = 0;
	return 0;
}

/* ---- reading replies ---- */

static int read_exact(struct mc_conn *mc, void *dst, size_t n, const char *what)
{
	unsigned char *d = dst;

	while (n > 0) {
		if (mc->rpos == mc->rlen) {
			ssize_t got = recv(mc->fd, mc->rbuf, sizeof(mc->rbuf), 0);

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				fail(mc, "reading the reply to %s: %s", what,
				     got == 0 ? "the filter closed the connection"
				     : errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
				     : strerror(errno));
				return -1;
			}
			mc->rpos = 0;
			mc->rlen = (size_t)got;
		}
		size_t take = mc->rlen - mc->rpos < n ? mc->rlen - mc->rpos : n;

		memcpy(d, mc->rbuf + mc->rpos, take);
		mc->rpos += take;
		d += take;
		n -= take;
	}
	return 0;
}

/* One packet from the filter: its command byte and payload (mc->pkt, *len). */
static int read_packet(struct mc_conn *mc, char *cmd, size_t *len, const char *what)
{
	unsigned char hdr[4];
	uint32_t n;

	if (read_exact(mc, hdr, 4, what) < 0)
		return -1;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (n < 1 || n > MAX_PACKET) {
		fail(mc, "reply to %s: bad packet length %" PRIu32, what, n);
		return -1;
	}
	if (read_exact(mc, cmd, 1, what) < 0)
		return -1;
	*len = n - 1;
	if (*len + 1 > mc->pkt_cap) {
		unsigned char *p = realloc(mc->pkt, *len + 1);

		if (p == NULL) {
			fail(mc, "out of memory for a %zu-byte reply", *len);
			return -1;
		}
		mc->pkt = p;
		mc->pkt_cap = *len + 1;
	}
	if (*len > 0 && read_exact(mc, mc->pkt, *len, what) < 0)
		return -1;
	mc->pkt[*len] = '\0';
	return 0;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Count the NUL-terminated strings that exactly fill P[0..LEN). */
static int count_strings(const unsigned char *p, size_t len)
{
	int n = 0;

	if (len == 0 || p[len - 1] != '\0')
		return -1;
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\0')
			n++;
	return n;
}

static const char *cmd_name(char c)
{
	switch (c) {
	case SMFIC_CONNECT: return "CONNECT";
	case SMFIC_HELO: return "HELO";
	case SMFIC_MAIL: return "MAIL";
	case SMFIC_RCPT: return "RCPT";
	case SMFIC_DATA: return "DATA";
	case SMFIC_HEADER: return "HEADER";
	case SMFIC_EOH: return "EOH";
	case SMFIC_BODY: return "BODY";
	case SMFIC_BODYEOB: return "BODYEOB";
	case SMFIC_OPTNEG: return "OPTNEG";
	default: return "?";
	}
}

enum reply { R_NONE, R_CONTINUE, R_ACCEPT, R_REJECT, R_TEMPFAIL, R_DISCARD, R_SKIP, R_ERROR };

/* A reply code text must look like Postfix's milter8 check: [45]NN[ -], class digit kept. */
static bool good_replycode(const unsigned char *p, size_t len)
{
	return len >= 5 && p[len - 1] == '\0' && (p[0] == '4' || p[0] == '5') &&
	       p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
	       (p[3] == ' ' || p[3] == '-') && !(p[4] >= '0' && p[4] <= '9' && p[4] != p[0]);
}

/* The action flag a modification reply needs, 0 if it is not one. */
static unsigned long mod_action(char c)
{
	switch (c) {
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER: return SMFIF_ADDHDRS;
	case SMFIR_CHGHEADER: return SMFIF_CHGHDRS;
	case SMFIR_ADDRCPT: return SMFIF_ADDRCPT;
	case SMFIR_ADDRCPT_PAR: return SMFIF_ADDRCPT_PAR;
	case SMFIR_DELRCPT: return SMFIF_DELRCPT;
	case SMFIR_CHGFROM: return SMFIF_CHGFROM;
	case SMFIR_REPLBODY: return SMFIF_CHGBODY;
	default: return 0;
	}
}

/* Check the payload of a modification reply has the shape the protocol gives it. */
static bool good_mod(char c, const unsigned char *p, size_t len)
{
	switch (c) {
	case SMFIR_ADDHEADER: return count_strings(p, len) == 2 && p[0] != '\0';
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER: return len > 4 && count_strings(p + 4, len - 4) == 2 && p[4] != '\0';
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT: return count_strings(p, len) == 1;
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_CHGFROM: return count_strings(p, len) >= 1 && count_strings(p, len) <= 2;
	case SMFIR_REPLBODY: return true;
	default: return false;
	}
}

/*
 * Read the filter's replies to EVENT until a decision, as milter8_event
 * does: progress is skipped, a quarantine is noted and reading goes on, and
 * at end of message the modification requests are read until the final
 * reply.  Anything else is a protocol error.
 */
static enum reply read_reply(struct mc_conn *mc, char event)
{
	const char *what = cmd_name(event);
	char cmd;
	size_t len;

	if (flush(mc) < 0)
		return R_ERROR;
	mc->n.round_trips++;
	for (;;) {
		if (read_packet(mc, &cmd, &len, what) < 0)
			return R_ERROR;
		switch (cmd) {
		case SMFIR_PROGRESS:
			if (len != 0)
				break;
			continue;
		case SMFIR_CONTINUE:
			if (len != 0)
				break;
			return R_CONTINUE;
		case SMFIR_ACCEPT:
			if (len != 0)
				break;
			return R_ACCEPT;
		case SMFIR_REJECT:
			if (len != 0)
				break;
			return R_REJECT;
		case SMFIR_TEMPFAIL:
			if (len != 0)
				break;
			return R_TEMPFAIL;
		case SMFIR_DISCARD:
			if (len != 0)
				break;
			if (event == SMFIC_CONNECT || event == SMFIC_HELO) {
				fail(mc, "DISCARD is not allowed in reply to %s", what);
				return R_ERROR;
			}
			return R_DISCARD;
		case SMFIR_REPLYCODE:
			if (!good_replycode(mc->pkt, len)) {
				fail(mc, "malformed reply code after %s: \"%.60s\"", what, (char *)mc->pkt);
				return R_ERROR;
			}
			return mc->pkt[0] == '4' ? R_TEMPFAIL : R_REJECT;
		case SMFIR_QUARANTINE:
			if (!(mc->actions & SMFIF_QUARANTINE)) {
				fail(mc, "quarantine after %s, but the filter did not negotiate SMFIF_QUARANTINE",
				     what);
				return R_ERROR;
			}
			if (count_strings(mc->pkt, len) != 1) {
				fail(mc, "malformed quarantine reason after %s", what);
				return R_ERROR;
			}
			mc->quarantined = true;
			continue;
		case SMFIR_SKIP:
			if (len != 0)
				break;
			if (!(mc->ev_mask & SMFIP_SKIP)) {
				fail(mc, "SKIP after %s, but the filter did not negotiate SMFIP_SKIP", what);
				return R_ERROR;
			}
			return R_SKIP;
		default:
			if (event == SMFIC_BODYEOB && mod_action(cmd) != 0) {
				if (!(mc->actions & mod_action(cmd))) {
					fail(mc, "modification '%c' at end of message without the action negotiated "
					     "(actions 0x%lx)", cmd, mc->actions);
					return R_ERROR;
				}
				if (!good_mod(cmd, mc->pkt, len)) {
					fail(mc, "malformed modification '%c' at end of message", cmd);
					return R_ERROR;
				}
				if (cmd == SMFIR_ADDHEADER || cmd == SMFIR_INSHEADER)
					mc->tagged = true;
				else
					mc->changed = true;
				continue;
			}
			fail(mc, "unexpected reply '%c' (0x%02x) after %s", cmd > ' ' && cmd < 127 ? cmd : '?',
			     (unsigned char)cmd, what);
			return R_ERROR;
		}
		fail(mc, "reply '%c' after %s carries %zu unexpected bytes", cmd, what, len);
		return R_ERROR;
	}
}

/* ---- macros ---- */

/* The value Postfix would give macro NAME now, or NULL: then it is not sent. */
static const char *macro_value(struct mc_conn *mc, const char *name)
{
	char bare[64];
	size_t n = strlen(name);

	/* "i" and "{i}" are the same macro */
	if (n >= 2 && name[0] == '{' && name[n - 1] == '}' && n - 2 < sizeof(bare)) {
		memcpy(bare, name + 1, n - 2);
		bare[n - 2] = '\0';
		name = bare;
	}
	if (strcmp(name, "j") == 0)
		return "mta.bench.test";
	if (strcmp(name, "daemon_name") == 0)
		return mc->kind == MC_AUTH ? "ORIGINATING" : mc->kind == MC_INBOUND ? "mx-in" : "mta.bench.test";
	if (strcmp(name, "daemon_addr") == 0)
		return "127.0.0.1";
	if (strcmp(name, "daemon_port") == 0)
		return mc->kind == MC_AUTH ? "587" : mc->kind == MC_INBOUND ? "25" : NULL;
	if (strcmp(name, "v") == 0)
		return "Postfix 3.7.11";
	if (strcmp(name, "_") == 0)
		return mc->underscore;
	if (strcmp(name, "client_addr") == 0)
		return mc->client_addr;
	if (strcmp(name, "client_name") == 0 || strcmp(name, "client_ptr") == 0)
		return mc->client_name;
	if (strcmp(name, "client_port") == 0)
		return mc->client_port;
	if (strcmp(name, "i") == 0)
		return mc->qid[0] != '\0' ? mc->qid : NULL;
	if (strcmp(name, "auth_type") == 0)
		return mc->kind == MC_AUTH ? "PLAIN" : NULL;
	if (strcmp(name, "auth_authen") == 0)
		return mc->kind == MC_AUTH ? mc->account : NULL;
	if (strcmp(name, "mail_addr") == 0)
		return mc->mail_addr[0] != '\0' ? mc->mail_addr : NULL;
	if (strcmp(name, "mail_host") == 0)
		return mc->kind != MC_LOCAL && mc->mail_addr[0] != '\0' ? "bench.example" : NULL;
	if (strcmp(name, "mail_mailer") == 0 || strcmp(name, "rcpt_mailer") == 0)
		return mc->kind != MC_LOCAL ? "smtp" : NULL;
	if (strcmp(name, "rcpt_addr") == 0)
		return mc->rcpt_addr[0] != '\0' ? mc->rcpt_addr : NULL;
	if (strcmp(name, "rcpt_host") == 0)
		return mc->kind != MC_LOCAL && mc->rcpt_addr[0] != '\0' ? mc->rcpt_host : NULL;
	return NULL;                /* TLS, {auth_author}, ...: no value here */
}

/* SMFIC_MACRO for STAGE before event CMD: the names that have a value, with it. */
static void send_macros(struct mc_conn *mc, int stage, char cmd)
{
	const char *list = mc->lists[stage] != NULL ? mc->lists[stage] : default_macros[stage];
	char name[64];

	pkt_begin(mc, SMFIC_MACRO);
	put_byte(mc, (unsigned char)cmd);
	while (*list != '\0') {
		size_t n = strcspn(list, " ,\t");

		if (n > 0 && n < sizeof(name)) {
			const char *v;

			memcpy(name, list, n);
			name[n] = '\0';
			if ((v = macro_value(mc, name)) != NULL) {
				put_str(mc, name);
				put_str(mc, v);
			}
		}
		list += n;
		list += strspn(list, " ,\t");
	}
	pkt_end(mc);
}

/*
 * Begin event CMD as milter8_event does: nothing at all if the filter said
 * to skip this event type; else the stage's macros; then the event itself
 * unless the filter negotiated NO_FLAG.  True when the caller is to add the
 * event's payload and call ev_end.
 */
static bool ev_begin(struct mc_conn *mc, char cmd, int stage, unsigned long no_flag)
{
	if (mc->skip_cmd != 0) {
		if (mc->skip_cmd == cmd)
			return false;
		mc->skip_cmd = 0;
	}
	send_macros(mc, stage, cmd);
	if (mc->ev_mask & no_flag)
		return false;
	pkt_begin(mc, cmd);
	return true;
}

/* Finish the event and read its reply, unless the filter negotiated NR_FLAG. */
static enum reply ev_end(struct mc_conn *mc, char cmd, unsigned long nr_flag)
{
	enum reply r;

	pkt_end(mc);
	if (nr_flag != 0 && (mc->ev_mask & nr_flag))
		return R_NONE;
	if ((r = read_reply(mc, cmd)) == R_SKIP)
		mc->skip_cmd = cmd;
	return r;
}

/* ---- one connection ---- */

int mc_open(struct mc_conn *mc, const struct mc_endpoint *ep, unsigned timeout)
{
	struct timeval tv = { .tv_sec = timeout };

	mc->failed = false;
	mc->err[0] = '\0';
	mc->wlen = 0;
	mc->rpos = mc->rlen = 0;
	mc->oom = false;
	mc->skip_cmd = 0;
	if ((mc->fd = socket(ep->family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fail(mc, "socket: %s", strerror(errno));
		return -1;
	}
	/* a filter that stops answering is an error, not a hang */
	setsockopt(mc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(mc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(mc->fd, (const struct sockaddr *)&ep->addr, ep->len) < 0) {
		fail(mc, "cannot connect: %s", strerror(errno));
		close(mc->fd);
		mc->fd = -1;
		return -1;
	}
	return 0;
}

void mc_close(struct mc_conn *mc)
{
	if (mc->fd >= 0)
		close(mc->fd);
	mc->fd = -1;
	for (int i = 0; i < MC_STAGES; i++) {
		free(mc->lists[i]);
		mc->lists[i] = NULL;
	}
}

/* SMFIC_OPTNEG and its answer: version, actions, steps, macro lists. */
int mc_negotiate(struct mc_conn *mc)
{
	char cmd;
	size_t len, off;

	pkt_begin(mc, SMFIC_OPTNEG);
	put_u32(mc, MTA_VERSION);
	put_u32(mc, MTA_ACTIONS);
	put_u32(mc, MTA_PROTOCOL);
	pkt_end(mc);
	if (flush(mc) < 0 || read_packet(mc, &cmd, &len, "OPTNEG") < 0)
		return -1;
	if (cmd != SMFIC_OPTNEG || len < MILTER_OPTLEN) {
		fail(mc, "the filter answered OPTNEG with '%c' and %zu bytes", cmd, len);
		return -1;
	}
	mc->version = get_u32(mc->pkt);
	mc->actions = get_u32(mc->pkt + 4);
	mc->ev_mask = get_u32(mc->pkt + 8);
	if (mc->version < 2 || mc->version > MTA_VERSION) {
		fail(mc, "the filter speaks protocol version %lu; the MTA offered %d", mc->version,
		     MTA_VERSION);
		return -1;
	}
	if ((mc->actions & MTA_ACTIONS) != mc->actions) {
		fail(mc, "the filter wants actions 0x%lx; the MTA offered 0x%lx", mc->actions,
		     (unsigned long)MTA_ACTIONS);
		return -1;
	}
	for (off = MILTER_OPTLEN; off < len;) {
		uint32_t stage;
		size_t n;

		if (len - off < 5) {
			fail(mc, "truncated macro list in the OPTNEG reply");
			return -1;
		}
		stage = get_u32(mc->pkt + off);
		off += 4;
		n = strnlen((const char *)mc->pkt + off, len - off);
		if (n == len - off) {
			fail(mc, "unterminated macro list in the OPTNEG reply");
			return -1;
		}
		/* An unknown stage is ignored, as Postfix does (with a warning). */
		if (stage < MC_STAGES) {
			free(mc->lists[stage]);
			if ((mc->lists[stage] = strdup((const char *)mc->pkt + off)) == NULL) {
				fail(mc, "out of memory");
				return -1;
			}
		}
		off += n + 1;
	}
	return 0;
}

int mc_start(struct mc_conn *mc, enum mc_kind kind, uint64_t k)
{
	enum reply r;
	unsigned port = 1024 + (unsigned)(k % 60000);

	mc->kind = kind;
	mc->skip_cmd = 0;
	mc->qid[0] = mc->mail_addr[0] = mc->rcpt_addr[0] = '\0';
	/* a client address of its own per connection, as SMTP sessions are */
	if (mc->kind == MC_LOCAL) {
		strcpy(mc->client_addr, "127.0.0.1");
		strcpy(mc->client_name, "localhost");
		strcpy(mc->client_port, "0");
		strcpy(mc->helo, "localhost");
		port = 0;
	} else {
		uint64_t a = k % 16000000 + 1;      /* never x.0.0.0 */

		snprintf(mc->client_addr, sizeof(mc->client_addr), "%s.%u.%u.%u",
		         mc->kind == MC_AUTH ? "10" : "172", (unsigned)(a >> 16) & 255,
		         (unsigned)(a >> 8) & 255, (unsigned)a & 255);
		snprintf(mc->client_name, sizeof(mc->client_name), "[%s]", mc->client_addr);
		snprintf(mc->client_port, sizeof(mc->client_port), "%u", port);
		strcpy(mc->helo, mc->kind == MC_AUTH ? "laptop.client.example" : "mx.remote.example");
	}
	snprintf(mc->underscore, sizeof(mc->underscore), "%s [%s]",
	         mc->kind == MC_LOCAL ? "localhost" : "unknown", mc->client_addr);

	if (mc_negotiate(mc) < 0)
		return -1;
	if (ev_begin(mc, SMFIC_CONNECT, SMFIM_CONNECT, SMFIP_NOCONNECT)) {
		unsigned char p[2] = { port >> 8, port & 255 };

		put_str(mc, mc->client_name);
		put_byte(mc, SMFIA_INET);
		put_bytes(mc, p, 2);
		put_str(mc, mc->client_addr);
		if ((r = ev_end(mc, SMFIC_CONNECT, SMFIP_NR_CONN)) != R_NONE && r != R_CONTINUE) {
			if (r != R_ERROR)
				fail(mc, "the filter refused or accepted the connection at CONNECT (%d): "
				     "the benchmark needs it to look at messages", (int)r);
			return -1;
		}
	}
	if (ev_begin(mc, SMFIC_HELO, SMFIM_HELO, SMFIP_NOHELO)) {
		put_str(mc, mc->helo);
		if ((r = ev_end(mc, SMFIC_HELO, SMFIP_NR_HELO)) != R_NONE && r != R_CONTINUE) {
			if (r != R_ERROR)
				fail(mc, "the filter ended the connection at HELO (%d)", (int)r);
			return -1;
		}
	}
	return 0;
}

/* Header NAME: VALUE as SMFIC_HEADER, after the EOH macros (milter8_header). */
static enum reply send_header(struct mc_conn *mc, const char *name, const char *value)
{
	if (mc->ev_mask & SMFIP_NOHDRS)
		return R_NONE;
	if (!ev_begin(mc, SMFIC_HEADER, SMFIM_EOH, SMFIP_NOHDRS))
		return R_NONE;
	put_str(mc, name);
	/* Postfix eats the space after the colon unless the filter wants it kept. */
	if (mc->ev_mask & SMFIP_HDR_LEADSPC)
		put_byte(mc, ' ');
	put_str(mc, value);
	return ev_end(mc, SMFIC_HEADER, SMFIP_NR_HDR);
}

/* The recipient list of a header: "a, b, c" for recipients FROM .. TO-1. */
static void rcpt_list(char *buf, size_t len, uint64_t g, unsigned from, unsigned to)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = from; i < to && off + 64 < len; i++) {
		int n = snprintf(buf + off, len - off, "%suser%" PRIu64 "@dest%u.example",
		                 i > from ? ", " : "", (g * 131 + i) % 100000, i % 5);

		if (n > 0)
			off += (size_t)n;
	}
}

/* Was the message finished by the reply R (a decision before end of message)? */
static bool decided(struct mc_conn *mc, enum reply r)
{
	switch (r) {
	case R_NONE:
	case R_CONTINUE:
	case R_SKIP:
		return false;
	case R_ACCEPT: mc->n.early_accept++; return true;
	case R_REJECT: mc->n.reject++; return true;
	case R_TEMPFAIL: mc->n.tempfail++; return true;
	case R_DISCARD: mc->n.discard++; return true;
	case R_ERROR: return true;
	}
	return true;
}

int mc_message(struct mc_conn *mc, const struct mc_message *m)
{
	uint64_t g = m->index, acct = m->account;
	char date[64];
	enum reply r;
	unsigned accepted_rcpts = 0;
	int rc = 0;

	mc->quarantined = mc->tagged = mc->changed = false;
	mc->skip_cmd = 0;
	snprintf(mc->qid, sizeof(mc->qid), "%011llX", (unsigned long long)g + 0x1000000000ull);
	if (mc->kind == MC_INBOUND) {
		snprintf(mc->account, sizeof(mc->account), "sender%" PRIu64, acct);
		snprintf(mc->mail_addr, sizeof(mc->mail_addr), "sender%" PRIu64 "@remote.example", acct);
	} else {
		snprintf(mc->account, sizeof(mc->account), "account%" PRIu64, acct);
		snprintf(mc->mail_addr, sizeof(mc->mail_addr), "account%" PRIu64 "@bench.example", acct);
	}
	/* smtpd gives the sender in <>, pickup (local submission) without */
	snprintf(mc->sender, sizeof(mc->sender), mc->kind == MC_LOCAL ? "%s" : "<%s>", mc->mail_addr);
	mc->rcpt_addr[0] = '\0';

	if (ev_begin(mc, SMFIC_MAIL, SMFIM_ENVFROM, SMFIP_NOMAIL)) {
		put_str(mc, mc->sender);
		r = ev_end(mc, SMFIC_MAIL, SMFIP_NR_MAIL);
		if (r == R_TEMPFAIL || r == R_REJECT)
			mc->n.tempfail_mail += r == R_TEMPFAIL;
		if (decided(mc, r))
			goto done;
	}
	for (unsigned i = 0; i < m->rcpts; i++) {
		if (mc->kind == MC_INBOUND)
			snprintf(mc->rcpt_addr, sizeof(mc->rcpt_addr), "account%" PRIu64 "@bench.example",
			         (acct + i) % m->accounts);
		else
			snprintf(mc->rcpt_addr, sizeof(mc->rcpt_addr), "user%" PRIu64 "@dest%u.example",
			         (g * 131 + i) % 100000, i % 5);
		strcpy(mc->rcpt_host, strchr(mc->rcpt_addr, '@') + 1);
		snprintf(mc->rcpt, sizeof(mc->rcpt), "<%s>", mc->rcpt_addr);
		if (ev_begin(mc, SMFIC_RCPT, SMFIM_ENVRCPT, SMFIP_NORCPT)) {
			put_str(mc, mc->rcpt);
			r = ev_end(mc, SMFIC_RCPT, SMFIP_NR_RCPT);
			if (r == R_TEMPFAIL || r == R_REJECT) {
				mc->n.rcpt_refused++;        /* that recipient only */
				continue;
			}
			if (r == R_ACCEPT || r == R_DISCARD || r == R_ERROR) {
				decided(mc, r);
				goto done;
			}
		}
		accepted_rcpts++;
	}
	if (accepted_rcpts == 0) {
		mc->n.tempfail++;                /* no recipient left: no DATA */
		goto done;
	}
	if (ev_begin(mc, SMFIC_DATA, SMFIM_DATA, SMFIP_NODATA)) {
		r = ev_end(mc, SMFIC_DATA, SMFIP_NR_DATA);
		if (decided(mc, r))
			goto done;
	}
	/*
	 * Here smtpd hands the milter connection to cleanup, which sends the
	 * content; milter8_send flushes what smtpd buffered first.  When the
	 * filter answers nothing to that last write (SMFIP_NODATA, NR_DATA and
	 * the like), cleanup's next small write waits on TCP for the delayed
	 * ACK (Nagle), as it does with Postfix.
	 */
	if (flush(mc) < 0)
		goto done;

	/* The content, as cleanup hands it over: headers (not our Received:), EOH, body. */
	{
		time_t t = 1764590000 + (time_t)(g / 1000);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	}
	struct { const char *name; char value[1600]; } h[12];
	int nh = 0;

	if (mc->kind == MC_INBOUND)
		snprintf(h[nh].value, sizeof(h[nh].value), "Remote Sender <%s>", mc->mail_addr);
	else
		snprintf(h[nh].value, sizeof(h[nh].value), "Account %" PRIu64 " <%s>", acct,
		         mc->mail_addr);
	h[nh++].name = "From";
	if (mc->kind == MC_INBOUND) {
		snprintf(h[nh].value, sizeof(h[nh].value), "account%" PRIu64 "@bench.example", acct);
		h[nh++].name = "To";
	} else {
		unsigned to = m->rcpts < 25 ? m->rcpts : 25;

		rcpt_list(h[nh].value, sizeof(h[nh].value), g, 0, to);
		h[nh++].name = "To";
		if (m->rcpts > to) {
			rcpt_list(h[nh].value, sizeof(h[nh].value), g, to, m->rcpts);
			h[nh++].name = "Cc";
		}
	}
	snprintf(h[nh].value, sizeof(h[nh].value), "Report %" PRIu64 " for the team", g % 977);
	h[nh++].name = "Subject";
	snprintf(h[nh].value, sizeof(h[nh].value), "%s", date);
	h[nh++].name = "Date";
	snprintf(h[nh].value, sizeof(h[nh].value), "<%s.%" PRIu64 "@%s>", mc->qid, acct,
	         mc->kind == MC_INBOUND ? "remote.example" : "bench.example");
	h[nh++].name = "Message-ID";
	snprintf(h[nh].value, sizeof(h[nh].value), "1.0");
	h[nh++].name = "MIME-Version";
	snprintf(h[nh].value, sizeof(h[nh].value), "text/plain; charset=utf-8; format=flowed");
	h[nh++].name = "Content-Type";
	snprintf(h[nh].value, sizeof(h[nh].value), "8bit");
	h[nh++].name = "Content-Transfer-Encoding";
	snprintf(h[nh].value, sizeof(h[nh].value), "Mozilla/5.0 Thunderbird/115.5.0");
	h[nh++].name = "User-Agent";
	snprintf(h[nh].value, sizeof(h[nh].value), "en-US");
	h[nh++].name = "Content-Language";
	for (int i = 0; i < nh; i++) {
		r = send_header(mc, h[i].name, h[i].value);
		if (decided(mc, r))
			goto done;
	}
	if (!(mc->ev_mask & SMFIP_NOEOH) && ev_begin(mc, SMFIC_EOH, SMFIM_EOH, SMFIP_NOEOH)) {
		r = ev_end(mc, SMFIC_EOH, SMFIP_NR_EOH);
		if (decided(mc, r))
			goto done;
	}
	if (!(mc->ev_mask & SMFIP_NOBODY)) {
		for (size_t off = 0; off < m->body_len;) {
			size_t n = m->body_len - off < MILTER_CHUNK_SIZE ? m->body_len - off : MILTER_CHUNK_SIZE;

			if (!ev_begin(mc, SMFIC_BODY, SMFIM_EOM, SMFIP_NOBODY))
				break;          /* skipped: the filter has seen enough */
			put_bytes(mc, m->body + off, n);
			r = ev_end(mc, SMFIC_BODY, SMFIP_NR_BODY);
			if (decided(mc, r))
				goto done;
			off += n;
			if (r == R_SKIP)
				break;
		}
	}
	/* End of message: always answered, modifications first. */
	mc->skip_cmd = 0;
	send_macros(mc, SMFIM_EOM, SMFIC_BODYEOB);
	pkt_begin(mc, SMFIC_BODYEOB);
	pkt_end(mc);
	switch (read_reply(mc, SMFIC_BODYEOB)) {
	case R_ACCEPT:
	case R_CONTINUE:
		if (mc->quarantined)
			mc->n.quarantine++;
		else if (mc->tagged)
			mc->n.tag++;
		else
			mc->n.accept++;
		mc->n.changed += mc->changed;
		break;
	case R_TEMPFAIL: mc->n.tempfail++; break;
	case R_REJECT: mc->n.reject++; break;
	case R_DISCARD: mc->n.discard++; break;
	case R_SKIP:
		fail(mc, "SKIP in reply to BODYEOB");
		rc = -1;
		break;
	case R_NONE:
	case R_ERROR:
		rc = -1;
		break;
	}

done:
	if (mc->failed)
		rc = -1;
	if (rc == 0)
		mc->n.messages++;
	/* Postfix resets the transaction after every message: the filter gets ABORT. */
	pkt_begin(mc, SMFIC_ABORT);
	pkt_end(mc);
	mc->qid[0] = mc->rcpt_addr[0] = mc->mail_addr[0] = '\0';
	return rc;
}


/* SMFIC_QUIT, and everything still buffered (the last ABORT). */
int mc_quit(struct mc_conn *mc)
{
	pkt_begin(mc, SMFIC_QUIT);
	pkt_end(mc);
	return flush(mc);
}

void mc_free(struct mc_conn *mc)
{
	mc_close(mc);
	free(mc->wbuf);
	free(mc->pkt);
	mc->wbuf = mc->pkt = NULL;
	mc->wcap = mc->pkt_cap = 0;
}

int mc_parse_endpoint(const char *spec, struct mc_endpoint *ep)
{
	const char *path = NULL;

	memset(ep, 0, sizeof(*ep));
	if (strncmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	else if (strncmp(spec, "local:", 6) == 0)
		path = spec + 6;
	if (path != NULL) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ep->addr;

		if (strlen(path) >= sizeof(un->sun_path) || path[0] == '\0')
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		ep->family = AF_UNIX;
		ep->len = sizeof(*un);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ep->addr;
		char *end;
		long port = strtol(spec + 5, &end, 10);
		const char *host = *end == '@' ? end + 1 : "127.0.0.1";

		if (end == spec + 5 || (*end != '@' && *end != '\0') || port < 1 || port > 65535)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -1;
		ep->family = AF_INET;
		ep->len = sizeof(*in);
		return 0;
	}
	return -1;
}

