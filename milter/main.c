/*
 * outguard - milter that stops outbound spam at submission.
 *
 * main: options, configuration, privileges, signals, and smfi_main.
 *
 * Signals: smfi_main runs in a thread of its own and the main thread takes
 * every signal with sigwaitinfo(2), blocked in all other threads.
 * libmilter's own signal thread, which would stop the filter on SIGHUP,
 * never gets one (milter_signals.c).
 *   SIGHUP  reload config and rules (a broken file keeps the old ones)
 *   SIGUSR1 reopen the evidence file (logrotate)
 *   SIGTERM, SIGINT  stop: no new connections, current ones finish
 * Exit status follows sysexits(3).
 */
#include "autoconf.h"   /* first: feature macros */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>
#include <libmilter/mfapi.h>

#include "callbacks.h"
#include "control.h"
#include "daemon.h"
#include "diag.h"
#include "log.h"
#include "rules.h"
#include "runtime.h"

#ifndef OG_SYSCONFDIR
#define OG_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG OG_SYSCONFDIR "/outguard/outguard.conf"

struct options {
	const char *config;
	const char *socket;
	const char *user;
	const char *pidfile;
	int foreground;
	int test;
	int debug;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: outguard [-c FILE] [-p SOCKET] [-u USER] [-P PIDFILE] [-f] [-d]\n"
	        "       outguard -t [-c FILE]\n"
	        "       outguard -h | -V\n"
	        "  -c FILE     configuration file (default %s)\n"
	        "  -p SOCKET   milter socket, overrides the config: unix:/run/outguard/outguard.sock,\n"
	        "              inet:8890@127.0.0.1\n"
	        "  -u USER     run as USER after opening the socket, pid file and logs\n"
	        "  -P PIDFILE  write the process id to PIDFILE\n"
	        "  -f          stay in the foreground and log to stderr as well as syslog\n"
	        "  -d          log debug messages\n"
	        "  -t          check the configuration and the rules, then exit (0 = valid)\n"
	        "  -h          show this help\n"
	        "  -V          show the version\n"
	        "See outguard(8), outguard.conf(5), outguard.rules(5).\n",
	        DEFAULT_CONFIG);
}

static void version(void)
{
	unsigned major = 0, minor = 0, patch = 0;

	smfi_version(&major, &minor, &patch);
	printf("outguard %s (libmilter %u.%u.%u)\n", PACKAGE_VERSION, major, minor, patch);
}

static void print_diag(const struct og_diag *d, enum og_severity sev)
{
	for (size_t i = 0; i < d->n; i++)
		og_log(sev, "%s", d->msgs[i]);
	if (d->oom)
		og_log(sev, "out of memory: some messages were lost");
}

/* -t: load the config and its rules without opening anything. */
static int check_only(const struct options *o)
{
	struct og_diag d;
	struct og_config *cfg;
	struct og_rules *rules = NULL;
	int rc = EX_CONFIG;

	og_diag_init(&d);
	if ((cfg = og_config_load(o->config, &d)) != NULL &&
	    (rules = og_rules_load(cfg->rules, &d)) != NULL) {
		printf("outguard: %s: configuration ok\n", cfg->path);
		printf("outguard: %s: %zu rules ok, version %s\n", rules->path, rules->n_rules,
		       rules->digest);
		rc = EX_OK;
	}
	print_diag(&d, OG_ERROR);
	if (rc != EX_OK)
		fprintf(stderr, "outguard: configuration test failed\n");
	og_rules_release(rules);
	og_config_free(cfg);
	og_diag_free(&d);
	return rc;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	o->config = DEFAULT_CONFIG;
	while ((ch = getopt(argc, argv, "c:p:u:P:fdthV")) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 'p': o->socket = optarg; break;
		case 'u': o->user = optarg; break;
		case 'P': o->pidfile = optarg; break;
		case 'f': o->foreground = 1; break;
		case 'd': o->debug = 1; break;
		case 't': o->test = 1; break;
		case 'h': usage(stdout); exit(EX_OK);
		case 'V': version(); exit(EX_OK);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "outguard: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* The file system path of a unix socket spec, or NULL for inet sockets. */
static const char *socket_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	return NULL;
}

/* Let the MTA's user reach a unix socket that root created. */
static int own_socket(const char *spec, uid_t uid, gid_t gid)
{
	const char *path = socket_path(spec);

	if (path == NULL)
		return 0;
	if (chown(path, uid, gid) < 0 || chmod(path, 0660) < 0) {
		og_error("cannot hand the socket %s to the service user: %m", path);
		return -1;
	}
	return 0;
}

struct milter_thread {
	pthread_t main_thread;
	int result;
};

/* Run libmilter; wake the main thread when it returns on its own. */
static void *run_milter(void *arg)
{
	struct milter_thread *mt = arg;

	mt->result = smfi_main();
	pthread_kill(mt->main_thread, SIGUSR2);
	return NULL;
}

/* SIGHUP: the same reload as outguard-ctl's, logged the same way. */
static void reload(struct og_runtime *rt)
{
	struct json_t *answer = NULL;
	char err[256];

	if (og_admin_reload(rt, &answer, err, sizeof(err)) < 0)
		og_error("reload: %s", err);
	json_decref(answer);
}

/* Handle signals until told to stop; returns libmilter's result. */
static int serve(struct og_runtime *rt, const sigset_t *set)
{
	struct milter_thread mt = { .main_thread = pthread_self(), .result = MI_SUCCESS };
	pthread_t tid;
	int sig, stopping = 0, err;

	if ((err = pthread_create(&tid, NULL, run_milter, &mt)) != 0) {
		og_error("cannot start the milter thread: %s", strerror(err));
		return MI_FAILURE;
	}
	for (;;) {
		if ((sig = sigwaitinfo(set, NULL)) < 0)
			continue;
		if (sig == SIGUSR2)
			break;                          /* smfi_main returned */
		if (sig == SIGHUP && !stopping) {
			reload(rt);
		} else if (sig == SIGUSR1) {
			og_evidence_request_reopen();
			og_notice("evidence file will be reopened");
		} else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			og_notice("stopping on signal %d: finishing current connections", sig);
			stopping = 1;
			smfi_stop();
		}
	}
	pthread_join(tid, NULL);
	return mt.result;
}

int main(int argc, char **argv)
{
	struct options o;
	struct og_runtime rt;
	struct og_diag d;
	struct og_policy *p;
	struct smfiDesc desc;
	sigset_t set;
	char *socket_spec, *user, *pidfile;
	struct og_control_server *control = NULL;
	uid_t uid = 0;
	gid_t gid = 0;
	int rc;
	static char config_abs[PATH_MAX];

	if (parse_options(argc, argv, &o) < 0)
		return EX_USAGE;
	og_log_open("outguard", "mail", 1, !o.test);
	og_log_set_debug(o.debug);
	if (o.test)
		return check_only(&o);

	/* The daemon changes to / when it detaches: reloads need the absolute path. */
	if (realpath(o.config, config_abs) == NULL) {
		og_error("%s: cannot read: %m", o.config);
		return EX_CONFIG;
	}
	o.config = config_abs;
	og_diag_init(&d);
	if (og_runtime_init(&rt, o.config, &d) < 0) {
		print_diag(&d, OG_ERROR);
		og_error("cannot start: fix the errors above (outguard -t -c %s checks)", o.config);
		og_diag_free(&d);
		return EX_CONFIG;
	}
	print_diag(&d, OG_WARNING);
	og_diag_free(&d);

	p = og_runtime_policy(&rt);
	og_log_open("outguard", p->config->syslog_facility, 1, 1);
	og_log_set_debug(o.debug);
	/* Copies: a reload frees the config these came from. */
	socket_spec = strdup(o.socket != NULL ? o.socket : p->config->socket);
	user = o.user != NULL ? strdup(o.user) : p->config->user != NULL ? strdup(p->config->user) : NULL;
	pidfile = o.pidfile != NULL ? strdup(o.pidfile)
	        : p->config->pid_file != NULL ? strdup(p->config->pid_file) : NULL;
	if (socket_spec == NULL) {
		og_error("out of memory");
		return EX_OSERR;
	}

	rt.milter_unix = socket_path(socket_spec) != NULL;
	og_callbacks_init(&rt);
	og_callbacks_describe(&desc);
	if (user != NULL && og_daemon_lookup_user(user, &uid, &gid) < 0)
		return EX_NOUSER;
	if (smfi_register(desc) != MI_SUCCESS || smfi_setconn((char *)socket_spec) != MI_SUCCESS ||
	    smfi_settimeout((int)p->config->milter_timeout) != MI_SUCCESS) {
		og_error("libmilter refused the filter setup for socket %s", socket_spec);
		return EX_SOFTWARE;
	}
	/* Open now, as root, so errors show here and not only in syslog. */
	if (smfi_opensocket(1) != MI_SUCCESS) {
		og_error("cannot listen on %s (in use, bad address, or no permission on its directory)",
		         socket_spec);
		return EX_UNAVAILABLE;
	}
	if (user != NULL && own_socket(socket_spec, uid, gid) < 0)
		return EX_NOPERM;
	if (!o.foreground) {
		og_log_set_stderr(0);
		if (og_daemon_detach() < 0)
			return EX_OSERR;
	}
	if (pidfile != NULL && og_daemon_write_pidfile(pidfile) < 0)
		return EX_CANTCREAT;

	/* Block before any thread exists, so every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	/* The control socket is made as root (its directory is root's), before the drop. */
	if (p->config->control_socket != NULL) {
		char err[512];

		if ((control = og_control_start(&rt, p->config->control_socket, p->config->control_mode,
		                                p->config->control_group, err, sizeof(err))) == NULL)
			og_error("control socket: %s: outguard-ctl will not reach this daemon", err);
	}
	if (user != NULL && og_daemon_drop_privileges(user, uid, gid) < 0)
		return EX_NOPERM;
	og_runtime_start(&rt);

	og_notice("started on %s: %zu rules, version %s, evidence %s", socket_spec,
	          p->rules->n_rules, p->rules->digest,
	          p->config->evidence_file != NULL ? p->config->evidence_file : "off");
	og_policy_release(p);

	rc = serve(&rt, &set);
	if (control != NULL)
		og_control_stop(control);
	if (pidfile != NULL)
		unlink(pidfile);
	if (socket_path(socket_spec) != NULL)
		unlink(socket_path(socket_spec));
	og_runtime_destroy(&rt);
	free(socket_spec);
	free(user);
	free(pidfile);
	if (rc != MI_SUCCESS) {
		og_error("the milter library stopped with an error (details in syslog)");
		return EX_SOFTWARE;
	}
	og_notice("stopped");
	return EX_OK;
}
