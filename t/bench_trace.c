/*
 * bench_trace - how fast outguard-trace reads a month of evidence.
 *
 * Writes N evidence records (default 1,000,000) of the daemon's shape and
 * sizes to a temporary directory: 20,000 accounts over 500 domains, 2,000
 * scripts, 60,000 client addresses, a month of times; most messages
 * accepted without hits, a tenth tagged or held with two to five hits and
 * tens of recipients, some tempfailed, a lock now and then.  Then it runs
 * the built tool's subcommands on the file and on a gzip copy (as logrotate
 * leaves it) and prints, for each, the wall time, records per second and the
 * peak resident memory of the child (wait4): the best time of RUNS runs
 * (default 3: other work on the machine only ever adds), the highest peak.
 * Not a test: it asserts nothing about time.  Usage: bench_trace [TOOL
 * [RECORDS [RUNS]]] (TOOL default ./outguard-trace).
 * Build: gcc -std=gnu11 -O2 t/bench_trace.c
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#define DEFAULT_RECORDS 1000000L
#define ACCOUNTS 20000
#define DOMAINS 500
#define SCRIPTS 2000
#define CLIENTS 60000
#define START_S INT64_C(1793491200)             /* 2026-11-01T00:00:00Z */
#define MONTH_S (30 * 86400)
#define KEY "sasl:user77@site77.example"        /* timeline: a busy account */

static const char *const subjects[] = {
	"Re: meeting on Thursday", "Invoice 2026-11-0412", "Your order has shipped",
	"Photos from the weekend", "Quarterly numbers", "Password reset request",
	"Your parcel is waiting", "Final notice: account suspended", "Re: Re: the contract",
	"Newsletter November", "Lunch?", "Rechnung f\u00fcr Sie", "You have (1) new message",
};
static const char *const rules[] = {
	"many-recipients", "hidden-recipients", "spam-phrases", "spam-phrases-3",
	"account-messages-1m", "account-recipients-10m", "sender-mismatch", "msgid-invalid",
	"brand-display-name", "script-path",
};

/* A small, fast, reproducible generator (xorshift64*). */
static uint64_t rnd_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * UINT64_C(2685821657736338717);
}

static void iso(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

/* One record; ACCOUNT/DOMAIN/CLIENT chosen by the caller. */
static void put_message(FILE *fp, int64_t ms, uint64_t qid, unsigned account, unsigned client)
{
	static const char *const action[] = { "accept", "tag", "quarantine", "tempfail" };
	unsigned domain = account % DOMAINS, roll = (unsigned)(rnd() % 100);
	int act = roll < 86 ? 0 : roll < 90 ? 1 : roll < 97 ? 2 : 3;
	unsigned rcpts = act == 0 ? 1 + (unsigned)(rnd() % 3) : 10 + (unsigned)(rnd() % 60);
	bool script = rnd() % 10 == 0;
	char when[40];

	iso(ms, when, sizeof(when));
	fprintf(fp, "{\"time\":\"%s\",\"queue_id\":\"%011" PRIX64 "\",\"action\":\"%s\",\"applied\":\"%s\","
	        "\"score\":%d,\"scope\":\"authenticated\",\"keys\":{\"account\":\"sasl:user%u@site%u.example\","
	        "\"domain\":\"domain:site%u.example\",\"script\":", when, qid, action[act], action[act],
	        act * 9, account, domain, domain);
	if (script)
		fprintf(fp, "\"php:%u:wp-%u.php\"", 1000 + account % 500, (unsigned)(rnd() % SCRIPTS));
	else
		fputs("null", fp);
	fprintf(fp, ",\"client\":\"ip:10.%u.%u.%u\"},\"identity_source\":\"sasl\",\"client\":{\"addr\":"
	        "\"10.%u.%u.%u\",\"name\":\"host-%u.isp.example\",\"helo\":\"[10.%u.%u.%u]\",\"port\":%u},"
	        "\"auth\":{\"login\":\"user%u@site%u.example\",\"mechanism\":\"PLAIN\"},\"sender\":"
	        "\"user%u@site%u.example\",\"from\":\"User %u <user%u@site%u.example>\",\"message_id\":"
	        "\"<%011" PRIX64 ".%u@site%u.example>\",\"subject\":\"%s\",\"rcpt_count\":%u,\"rcpt_sample\":[",
	        client >> 16, (client >> 8) & 255, client & 255, client >> 16, (client >> 8) & 255,
	        client & 255, client, client >> 16, (client >> 8) & 255, client & 255,
	        1024 + (unsigned)(rnd() % 60000), account, domain, account, domain, account, account,
	        domain, qid, account, domain, subjects[rnd() % (sizeof(subjects) / sizeof(subjects[0]))],
	        rcpts);
	for (unsigned i = 0; i < rcpts && i < 10; i++)
		fprintf(fp, "%s\"r%u.%u@dest%u.example\"", i ? "," : "", (unsigned)(rnd() % 100000), i,
		        (unsigned)(rnd() % 3000));
	fputs("],\"rcpt_domains\":[", fp);
	for (unsigned i = 0; i < rcpts && i < 10; i++)
		fprintf(fp, "%s\"dest%u.example\"", i ? "," : "", (unsigned)(rnd() % 3000));
	fputs("],\"hits\":[", fp);
	for (int h = 0; act > 0 && h < 2 + act; h++)
		fprintf(fp, "%s{\"rule\":\"%s\",\"check\":\"rate\",\"count\":\"messages\",\"key\":"
		        "\"sasl:user%u@site%u.example\",\"window\":600,\"figure\":%u,\"limit\":30,\"score\":5}",
		        h ? "," : "", rules[rnd() % (sizeof(rules) / sizeof(rules[0]))], account, domain,
		        31 + (unsigned)(rnd() % 40));
	fputs("],\"exempt\":null,\"rules\":\"7ba25ec4f02b5d50\"}\n", fp);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run ARGV with stdout and stderr to /dev/null; wall seconds and peak RSS (KiB). */
static int run(char *const argv[], double *secs, long *rss_kib, int *status)
{
	struct rusage ru;
	double t0;
	pid_t pid;

	fflush(stdout);             /* the child must not write our buffer again */
	t0 = now_s();
	pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (freopen("/dev/null", "w", stdout) == NULL || freopen("/dev/null", "w", stderr) == NULL)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, status, 0, &ru) != pid)
		return -1;
	*secs = now_s() - t0;
	*rss_kib = ru.ru_maxrss;
	return 0;
}

int main(int argc, char **argv)
{
	const char *tool = argc > 1 ? argv[1] : "./outguard-trace";
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : DEFAULT_RECORDS;
	long runs_each = argc > 3 ? strtol(argv[3], NULL, 10) : 3;
	double load[3] = { 0, 0, 0 };
	char dir[] = "t/tmp-bench-trace-XXXXXX", path[64], gzpath[80], cmd[192];
	int64_t ms = START_S * 1000, step = (int64_t)MONTH_S * 1000 / (n > 0 ? n : 1);
	struct stat st, gst;
	double t0;
	FILE *fp;

	if (n <= 0 || runs_each <= 0 || runs_each > 100 || access(tool, X_OK) != 0) {
		fprintf(stderr, "usage: bench_trace [TOOL [RECORDS [RUNS]]]: %s: %s\n", tool,
		        n <= 0 ? "RECORDS must be a positive number" : runs_each <= 0 || runs_each > 100 ?
		        "RUNS must be a number from 1 to 100" : strerror(errno));
		return 64;
	}
	mkdir("t", 0755);
	if (mkdtemp(dir) == NULL) {
		perror("bench_trace: mkdtemp");
		return 73;
	}
	snprintf(path, sizeof(path), "%s/evidence.jsonl", dir);
	snprintf(gzpath, sizeof(gzpath), "%s/evidence.jsonl.1.gz", dir);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		return 73;
	}
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		/* a busy account now and then, so that its timeline has rows */
		unsigned account = rnd() % 50 == 0 ? 77 : (unsigned)(rnd() % ACCOUNTS);

		put_message(fp, ms, UINT64_C(0x3A0000000) + (uint64_t)i, account,
		            (unsigned)(rnd() % CLIENTS) + 65536);
		if (i % 20000 == 19999) {
			char when[40];

			iso(ms, when, sizeof(when));
			fprintf(fp, "{\"time\":\"%.20s000Z\",\"event\":\"lock\",\"key\":\"sasl:user%ld@site%ld.example\","
			        "\"style\":\"refuse\",\"until\":null,\"by\":\"outguard\",\"reason\":\"10 stops in 600 s\","
			        "\"stops\":10,\"window\":600,\"trigger\":\"%011" PRIX64 "\",\"queue_ids\":[],"
			        "\"rules\":\"7ba25ec4f02b5d50\"}\n", when, i % ACCOUNTS, i % ACCOUNTS % DOMAINS,
			        UINT64_C(0x3A0000000) + (uint64_t)i);
		}
		ms += step;
	}
	if (fclose(fp) != 0 || stat(path, &st) != 0) {
		perror(path);
		return 74;
	}
	printf("generated %ld records, %.0f MB, %.0f bytes a record, in %.1f s\n", n,
	       (double)st.st_size / 1e6, (double)st.st_size / (double)n, now_s() - t0);
	t0 = now_s();
	snprintf(cmd, sizeof(cmd), "gzip -6 -c %s > %s", path, gzpath);
	if (system(cmd) != 0 || stat(gzpath, &gst) != 0) {
		fprintf(stderr, "bench_trace: gzip failed\n");
		return 74;
	}
	printf("gzip -6: %.0f MB in %.1f s\n", (double)gst.st_size / 1e6, now_s() - t0);
	if (getloadavg(load, 3) < 0)
		load[0] = -1;
	printf("%ld processors online, load average %.2f; ", sysconf(_SC_NPROCESSORS_ONLN), load[0]);
	if (runs_each == 1)
		printf("one run each\n\n");
	else
		printf("the best of %ld runs each\n\n", runs_each);
	printf("%-44s %8s %12s %10s %s\n", "RUN", "SECONDS", "RECORDS/S", "PEAK RSS", "STATUS");
	{
		char *const runs[][8] = {
			{ (char *)tool, (char *)"summary", path, NULL },
			{ (char *)tool, (char *)"timeline", (char *)KEY, path, NULL },
			{ (char *)tool, (char *)"queue-ids", (char *)KEY, path, NULL },
			{ (char *)tool, (char *)"find", (char *)"parcel", path, NULL },
			{ (char *)tool, (char *)"report", (char *)KEY, path, NULL },
			{ (char *)tool, (char *)"--since", (char *)"2026-11-30", (char *)"summary", path, NULL },
			{ (char *)tool, (char *)"summary", gzpath, NULL },
			{ (char *)tool, (char *)"timeline", (char *)KEY, gzpath, NULL },
			{ (char *)tool, (char *)"find", (char *)"parcel", gzpath, NULL },
		};

		for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
			char label[128] = "";
			double secs = 0;
			long rss = 0;
			int status = 0;

			for (int k = 1; runs[i][k] != NULL; k++) {
				const char *a = runs[i][k] == path ? "FILE" : runs[i][k] == gzpath ? "FILE.gz" :
				                runs[i][k];

				snprintf(label + strlen(label), sizeof(label) - strlen(label), "%s%s",
				         k > 1 ? " " : "", a);
			}
			for (long k = 0; k < runs_each; k++) {
				double s;
				long kib;

				if (run(runs[i], &s, &kib, &status) < 0) {
					perror("bench_trace: run");
					return 71;
				}
				if (k == 0 || s < secs)
					secs = s;
				if (kib > rss)
					rss = kib;
			}
			printf("%-44s %8.2f %12.0f %7.1f MB %d\n", label, secs, (double)n / secs,
			       (double)rss / 1024.0, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
	}
	unlink(path);
	unlink(gzpath);
	rmdir(dir);
	return 0;
}
