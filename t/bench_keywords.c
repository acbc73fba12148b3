/*
 * bench_keywords - throughput of the trap-phrase scan.
 *
 * Builds 1,000 trap phrases (common spam phrases, then generated ones of
 * one to three words) and a 100 KB English-like body with a few of them in
 * it, and times, in the same run, three ways over the body:
 *   plain pass    memchr for line ends and a byte sum: what the keyword
 *                 path costs without a pattern (touching every byte once);
 *   1 phrase      og_pattern_search with a one-phrase list;
 *   1000 phrases  og_pattern_search with the full list.
 * Each round times every variant once, in an order that rotates from
 * round to round, so that machine noise falls on all of them alike.
 * Prints the median and best throughput and the ratios of the medians.
 * Not a test: it asserts nothing about time.  Usage: bench_keywords [ROUNDS]
 * Build: gcc -std=gnu11 -O2 -I milter t/bench_keywords.c BUILD/libogcore.a \
 *        $(pkg-config --libs libpcre2-8 jansson) -pthread
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pattern.h"

#define N_PHRASES 1000
#define TEXT_BYTES (100 * 1024)
#define DEFAULT_ROUNDS 200
#define N_VARIANTS 3

static const char *const spam[] = {
	"viagra", "cialis", "free money", "wire transfer", "western union", "lottery winner",
	"act now", "limited time offer", "click here", "100% free", "no credit check",
	"bitcoin investment", "dear beneficiary", "inheritance", "claim your prize",
	"urgent reply", "bank account details", "crypto wallet", "double your income",
	"work from home", "make money fast", "risk free", "cash bonus", "unsecured loan",
	"weight loss", "miracle cure", "casino bonus", "you have won", "verify your account",
	"password expired", "account suspended", "gift card", "apple id locked",
	"paypal security", "invoice attached", "fund transfer", "million dollars",
	"diplomatic courier", "next of kin", "compensation fund", "atm card",
	"money gram", "moneygram", "bulk email", "cheap meds", "online pharmacy",
	"rolex replica", "replica watches", "hot singles", "adult content", "enlargement",
	"earn extra cash", "financial freedom", "guaranteed income", "lowest price",
	"best rates", "special promotion", "exclusive deal", "order now", "buy direct",
	"no prescription", "investment opportunity", "forex signals", "binary options",
	"trading bot", "airdrop", "seed phrase", "recover your funds", "tax refund",
	"irs notice", "final notice", "delivery failed", "package on hold", "customs fee",
	"dear friend", "dear sir/madam", "god bless you", "business proposal",
	"confidential transaction", "barrister", "attorney at law", "unclaimed funds",
	"lucky draw", "sweepstakes", "prize money", "jackpot", "bonus code", "promo code",
	"click below", "unsubscribe here", "this is not spam", "remove me", "opt out",
	"héritage", "transfert d'argent", "gewinnspiel", "geld verdienen", "préstamo",
};

static const char *const vocab[] = {
	"cheap", "free", "instant", "secret", "fast", "easy", "bonus", "cash", "crypto",
	"loan", "credit", "offer", "deal", "prize", "winner", "pills", "meds", "casino",
	"profit", "income", "invest", "wallet", "token", "refund", "claim", "urgent",
	"exclusive", "discount", "luxury", "replica", "dating", "singles", "miracle",
	"diet", "guaranteed", "approved", "selected", "reward", "voucher", "coupon",
};

static const char *const english[] = {
	"the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on",
	"are", "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one",
	"had", "by", "word", "but", "not", "what", "all", "were", "we", "when", "your", "can",
	"said", "there", "use", "an", "each", "which", "she", "do", "how", "their", "if",
	"will", "up", "other", "about", "out", "many", "then", "them", "these", "so", "some",
	"her", "would", "make", "like", "him", "into", "time", "has", "look", "two", "more",
	"write", "go", "see", "number", "no", "way", "could", "people", "my", "than", "first",
	"water", "been", "call", "who", "oil", "its", "now", "find", "long", "down", "day",
	"did", "get", "come", "made", "may", "part", "meeting", "report", "project", "team",
	"schedule", "thanks", "regards", "attached", "please", "review", "update", "monday",
	"quarter", "budget", "customer", "service", "office", "weekend", "family", "garden",
	"weather", "dinner", "question", "answer", "document", "picture", "holiday", "train",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A fixed-seed generator, so that every run measures the same text. */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The trap list: the spam phrases, then vocabulary combinations; caller frees. */
static char **make_phrases(size_t n)
{
	char **list = calloc(n, sizeof(*list));

	if (list == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char buf[128];

		if (i < COUNT(spam)) {
			snprintf(buf, sizeof(buf), "%s", spam[i]);
		} else {
			size_t words = 1 + i % 3;
			const char *a = vocab[next_rand() % COUNT(vocab)];
			const char *b = vocab[next_rand() % COUNT(vocab)];

			if (words == 1)
				snprintf(buf, sizeof(buf), "%s%zu", a, i);
			else if (words == 2)
				snprintf(buf, sizeof(buf), "%s %s%zu", a, b, i);
			else
				snprintf(buf, sizeof(buf), "%s %s %s", a, b,
				         english[next_rand() % COUNT(english)]);
		}
		if ((list[i] = strdup(buf)) == NULL)
			return NULL;
	}
	return list;
}

/*
 * LEN bytes of English-like text: sentences, commas, CRLF line breaks near
 * 72 columns, and a trap phrase about every 20 KB; caller frees.
 */
static char *make_text(size_t len, char *const *phrases)
{
	char *t = malloc(len + 1);
	size_t o = 0, col = 0, words = 0;

	if (t == NULL)
		return NULL;
	while (o < len) {
		const char *w = english[next_rand() % COUNT(english)];
		char word[160];
		size_t k;

		if (o / 20000 != (o + 8) / 20000)
			w = phrases[next_rand() % COUNT(spam)];
		k = (size_t)snprintf(word, sizeof(word), "%s%s", w,
		                     ++words % 11 == 0 ? "." : words % 5 == 0 ? "," : "");
		if (words % 11 == 1 && word[0] >= 'a' && word[0] <= 'z')
			word[0] = (char)(word[0] - 'a' + 'A');
		if (col + k + 1 > 72) {
			if (o + 2 > len)
				break;
			memcpy(t + o, "\r\n", 2);
			o += 2;
			col = 0;
		} else if (col > 0) {
			t[o++] = ' ';
			col++;
		}
		if (o + k > len)
			break;
		memcpy(t + o, word, k);
		o += k;
		col += k;
	}
	while (o < len)
		t[o++] = ' ';
	t[len] = '\0';
	return t;
}

/* The pass over the text that any keyword check makes: line ends and a byte sum. */
static size_t plain_pass(const char *t, size_t len)
{
	size_t lines = 0, sum = 0;
	const char *p = t, *end = t + len, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p = nl + 1;
	}
	for (size_t i = 0; i < len; i++)
		sum += (unsigned char)t[i];
	return lines + sum;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const char *const names[N_VARIANTS] = { "plain pass", "1 phrase", "1000 phrases" };
	long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : DEFAULT_ROUNDS;
	char **phrases, *text, err[256];
	const char *one[1];
	struct og_pattern *pat[N_VARIANTS] = { NULL, NULL, NULL };
	double *times[N_VARIANTS], median[N_VARIANTS];
	size_t bad, found[16], want_count[N_VARIANTS] = { 0, 0, 0 };
	volatile size_t sink = 0;
	uint32_t jit = 0;
	bool limited = false;

	if (rounds < 1 || rounds > 1000000) {
		fprintf(stderr, "usage: bench_keywords [ROUNDS]\n");
		return 2;
	}
	if ((phrases = make_phrases(N_PHRASES)) == NULL ||
	    (text = make_text(TEXT_BYTES, phrases)) == NULL) {
		fprintf(stderr, "bench_keywords: out of memory\n");
		return 1;
	}
	one[0] = phrases[0];
	pat[1] = og_pattern_phrases(one, 1, &bad, err, sizeof(err));
	pat[2] = og_pattern_phrases((const char *const *)phrases, N_PHRASES, &bad, err,
	                            sizeof(err));
	if (pat[1] == NULL || pat[2] == NULL) {
		fprintf(stderr, "bench_keywords: phrase %zu: %s\n", bad, err);
		return 1;
	}
	for (int v = 0; v < N_VARIANTS; v++)
		if ((times[v] = calloc((size_t)rounds, sizeof(double))) == NULL)
			return 1;
	for (int v = 1; v < N_VARIANTS; v++) {
		struct og_pattern_result r;

		og_pattern_search(pat[v], text, TEXT_BYTES, found, 16, &r);
		want_count[v] = r.count;
		limited |= r.limited;
	}

	for (long i = 0; i < rounds; i++) {
		for (int k = 0; k < N_VARIANTS; k++) {
			int v = (int)((i + k) % N_VARIANTS);
			struct og_pattern_result r = { 0, false };
			double t0 = now();

			if (v == 0)
				sink += plain_pass(text, TEXT_BYTES);
			else if (og_pattern_search(pat[v], text, TEXT_BYTES, found, 16, &r) != 0)
				return 1;
			times[v][i] = now() - t0;
			if (v > 0 && (r.count != want_count[v] || r.limited))
				limited = true;
		}
	}

	pcre2_config(PCRE2_CONFIG_JIT, &jit);
	printf("bench_keywords: %d phrases, %d bytes of text, %ld rounds, PCRE2 JIT %s\n",
	       N_PHRASES, TEXT_BYTES, rounds, jit ? "available" : "not available");
	printf("phrases found in the text: %zu of 1000, %zu of 1%s\n\n", want_count[2],
	       want_count[1], limited ? " (WARNING: a search was limited or varied)" : "");
	printf("%-14s %12s %12s %12s\n", "variant", "median MB/s", "best MB/s", "median us");
	for (int v = 0; v < N_VARIANTS; v++) {
		qsort(times[v], (size_t)rounds, sizeof(double), cmp_double);
		median[v] = times[v][rounds / 2];
		printf("%-14s %12.1f %12.1f %12.1f\n", names[v], TEXT_BYTES / median[v] / 1e6,
		       TEXT_BYTES / times[v][0] / 1e6, median[v] * 1e6);
	}
	printf("\n1000 phrases take %.1fx the time of the plain pass, %.2fx that of 1 phrase\n",
	       median[2] / median[0], median[2] / median[1]);

	for (int v = 0; v < N_VARIANTS; v++) {
		og_pattern_free(pat[v]);
		free(times[v]);
	}
	for (size_t i = 0; i < N_PHRASES; i++)
		free(phrases[i]);
	free(phrases);
	free(text);
	(void)sink;
	return 0;
}
