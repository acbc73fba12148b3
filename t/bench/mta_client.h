/*
 * mta_client - the MTA side of the milter protocol, as Postfix's milter8
 * speaks it: one connection, its negotiation, whole messages.  See
 * mta_client.c for what is sent; milter_load.c drives many at once.
 */
#ifndef OG_BENCH_MTA_CLIENT_H
#define OG_BENCH_MTA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define MC_STAGES 7             /* SMFIM_CONNECT .. SMFIM_EOH */
#define MC_READ_CHUNK 65536

/* Which mail a connection carries; it decides the macros and addresses. */
enum mc_kind {
	MC_AUTH,        /* submission: {daemon_name} ORIGINATING, {auth_authen} accountN */
	MC_LOCAL,       /* Postfix pickup: 127.0.0.1 port 0, no AUTH, sender without <> */
	MC_INBOUND,     /* port 25: another daemon name, no AUTH, mail to accountN */
	MC_KINDS
};

/* Where the filter listens: unix:/path, local:/path or inet:PORT[@HOST]. */
struct mc_endpoint {
	int family;
	struct sockaddr_storage addr;
	socklen_t len;
};

/* What the filter did with the messages, added up over connections. */
struct mc_counts {
	uint64_t messages;      /* finished without a protocol error */
	uint64_t accept, tag, quarantine, tempfail, tempfail_mail, reject, discard;
	uint64_t early_accept;  /* SMFIR_ACCEPT before end of message */
	uint64_t rcpt_refused;  /* recipients refused, the message going on */
	uint64_t changed;       /* messages with a change beyond added headers */
	uint64_t round_trips;   /* waits for a reply */
};

/* The message to send next. */
struct mc_message {
	uint64_t index;         /* numbers its queue ID, recipients and date */
	uint64_t account;       /* accountN sends it (senderN for inbound mail) */
	uint64_t accounts;      /* accounts in all: inbound recipients cycle over them */
	unsigned rcpts;         /* recipients; the To and Cc headers name up to ~60 */
	const char *body;       /* CRLF lines, BODY_LEN bytes */
	size_t body_len;
};

/* One connection; zero it, set fd to -1, reuse it for connection after connection. */
struct mc_conn {
	int fd;
	unsigned char *wbuf;            /* commands not yet written */
	size_t wlen, wcap, pkt_start;
	bool oom;
	unsigned char rbuf[MC_READ_CHUNK];
	size_t rpos, rlen;
	unsigned char *pkt;             /* payload of the last packet read */
	size_t pkt_cap;
	unsigned long version, actions, ev_mask;    /* what the filter negotiated */
	char *lists[MC_STAGES];         /* the filter's macro lists; NULL: Postfix's */
	char skip_cmd;                  /* event type the filter said to skip (SMFIR_SKIP) */
	/* the connection's and the message's facts, for the macros */
	enum mc_kind kind;
	char client_addr[48], client_name[64], client_port[8], helo[64], underscore[128];
	char qid[24], sender[96], mail_addr[96], account[32], rcpt[136], rcpt_addr[128];
	char rcpt_host[64];
	/* what the filter did to the current message */
	bool quarantined, tagged, changed;
	struct mc_counts n;
	bool failed;
	char err[256];
};

int mc_parse_endpoint(const char *spec, struct mc_endpoint *ep);
/* Connect; clears the previous connection's error.  TIMEOUT seconds for any reply. */
int mc_open(struct mc_conn *mc, const struct mc_endpoint *ep, unsigned timeout);
/* SMFIC_OPTNEG as Postfix offers it, and the filter's answer. */
int mc_negotiate(struct mc_conn *mc);
/* Negotiate, then CONNECT and HELO as connection number K of KIND. */
int mc_start(struct mc_conn *mc, enum mc_kind kind, uint64_t k);
/* One message, MAIL to the final reply, then ABORT (buffered). */
int mc_message(struct mc_conn *mc, const struct mc_message *m);
/* SMFIC_QUIT and whatever is still buffered. */
int mc_quit(struct mc_conn *mc);
void mc_close(struct mc_conn *mc);
/* mc_close and free the buffers. */
void mc_free(struct mc_conn *mc);

#endif
