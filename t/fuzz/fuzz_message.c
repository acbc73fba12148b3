/*
 * libFuzzer harness: a whole message as an attacker sends it (headers,
 * MIME body, QP/base64, HTML), read into facts, keyed, and judged by the
 * default rules (trap phrases, Message-ID, From, brands, scripts ...), then
 * written as an evidence record.  The first byte chooses who submits it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eml.h"
#include "engine.h"
#include "evidence.h"
#include "identity.h"
#include "ratelimit.h"
#include "rules.h"

#include "fuzz_rules_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct og_rules *rules;
static struct og_ratetable *rates;
static struct og_state *state;

static void init(void)
{
	rules = fuzz_rules_load("fuzz_message");
	rates = og_rate_new(10000);
	state = og_state_new(rates);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct og_webmail wm;
	struct og_facts f;
	struct og_eml e;
	struct og_identity id;
	struct og_verdict *v;
	bool local;
	char *line;

	if (rules == NULL)
		init();
	if (size < 1)
		return 0;
	local = data[0] & 1;
	wm.entries = (const char *const *)rules->webmail;
	wm.n = rules->n_webmail;
	og_facts_init(&f);
	og_facts_want(&f, (const char *const *)rules->want_headers, rules->n_want_headers,
	              rules->body_bytes);
	og_facts_set(&f, &f.client_addr, local ? "127.0.0.1" : "127.0.0.7");
	f.client_port_known = true;
	f.client_port = local ? 0 : 2525;
	if (!local && (data[0] & 2))
		og_facts_set(&f, &f.auth_authen, "alice@example.com");
	og_facts_set(&f, &f.queue_id, "FUZZ1");
	og_facts_set_sender(&f, local ? "www-data" : "<alice@example.com>");
	og_facts_add_rcpt(&f, "<r@remote.example>");
	if (og_eml_read((const char *)data + 1, size - 1, &f, &e) == 0) {
		for (size_t i = 0; i < e.n_header_rcpts && i < 100; i++)
			og_facts_add_rcpt(&f, e.header_rcpts[i]);
		og_eml_free(&e);
	}
	if (og_identity_of(&f, local, &wm, &id) == 0) {
		if ((v = malloc(sizeof(*v))) != NULL) {
			if (og_engine_evaluate(rules, &f, &id, OG_SCOPE_AUTHENTICATED, state, 1000, v) == 0 &&
			    (line = og_evidence_format(&f, &id, v, rules->digest, 1000000)) != NULL)
				free(line);
			free(v);
		}
		og_identity_free(&id);
	}
	og_facts_free(&f);
	return 0;
}
