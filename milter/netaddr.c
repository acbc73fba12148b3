/*
 * netaddr - IPv4/IPv6 addresses and CIDR networks ("192.0.2.0/24",
 * "2001:db8::/32", or a bare address meaning /32 or /128) for the trusted
 * client networks and exemption lists.  Host bits set in a network
 * ("192.0.2.1/24") are accepted and cleared: the admin meant the network,
 * and refusing the file would stop the daemon.  A v4-mapped IPv6 address
 * (::ffff:192.0.2.1, what a dual-stack socket reports) matches IPv4
 * networks, and IPv4 addresses match networks written in mapped form.
 *
 * Errors (og_cidr_parse, into the caller's buffer):
 *   not an IP address: "abc"
 *   bad prefix "x"
 *   prefix 40 is longer than 32
 * See also: netaddr.h, inet_pton(3).
 */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "strutil.h"

/* Longest text inet_pton could accept, with room to spare. */
#define ADDR_TEXT_MAX 64
/* How much of a bad value is quoted back in an error. */
#define QUOTE_MAX 80

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* A parsed address: FAMILY and network-order BYTES (4 or 16 used). */
struct addr {
	int family;
	uint8_t bytes[16];
};

/* Parse the first LEN bytes of TEXT as a bare address; false if it is not one. */
static bool addr_parse(const char *text, size_t len, struct addr *a)
{
	char buf[ADDR_TEXT_MAX];

	if (len == 0 || len >= sizeof(buf) || memchr(text, '\0', len) != NULL)
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	memset(a->bytes, 0, sizeof(a->bytes));
	if (strchr(buf, ':') != NULL) {
		a->family = AF_INET6;
		return inet_pton(AF_INET6, buf, a->bytes) == 1;
	}
	a->family = AF_INET;
	return inet_pton(AF_INET, buf, a->bytes) == 1;
}

/* Clear every bit after the first PREFIX bits of BYTES. */
static void clear_host_bits(uint8_t *bytes, size_t size, unsigned prefix)
{
	for (size_t i = 0; i < size; i++) {
		if (prefix >= 8) {
			prefix -= 8;
			continue;
		}
		bytes[i] &= (uint8_t)(0xff << (8 - prefix));
		prefix = 0;
	}
}

/* Do the first PREFIX bits of A and B agree? */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	size_t whole = prefix / 8;
	unsigned rest = prefix % 8;
	uint8_t mask;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* Write "WHAT \"VALUE\"" to ERR (if any), VALUE sanitised and cut to QUOTE_MAX
 * bytes with "..." marking the cut; always returns false for the caller's return. */
static bool parse_error(char *err, size_t errlen, const char *what, const char *value,
                        size_t vlen)
{
	char raw[QUOTE_MAX + 1], clean[4 * QUOTE_MAX + 1];
	size_t n = vlen < QUOTE_MAX ? vlen : QUOTE_MAX;

	if (err == NULL || errlen == 0)
		return false;
	memcpy(raw, value, n);
	raw[n] = '\0';
	og_sanitize(clean, sizeof(clean), raw);
	snprintf(err, errlen, "%s \"%s%s\"", what, clean, vlen > n ? "..." : "");
	return false;
}

bool og_cidr_parse(const char *text, struct og_cidr *out, char *err, size_t errlen)
{
	const char *slash;
	size_t alen;
	struct addr a;
	unsigned max;
	uint64_t prefix;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (text == NULL)
		return parse_error(err, errlen, "not an IP address:", "", 0);
	slash = strchr(text, '/');
	alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (!addr_parse(text, alen, &a))
		return parse_error(err, errlen, "not an IP address:", text, alen);
	max = a.family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		prefix = max;
	} else {
		const char *p = slash + 1;

		if (!og_parse_u64(p, 0, UINT64_MAX, &prefix))
			return parse_error(err, errlen, "bad prefix", p, strlen(p));
		if (prefix > max) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "prefix %llu is longer than %u",
				         (unsigned long long)prefix, max);
			return false;
		}
	}
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
		out->family = a.family;
		out->prefix = (unsigned)prefix;
		memcpy(out->addr, a.bytes, sizeof(out->addr));
		clear_host_bits(out->addr, a.family == AF_INET ? 4 : 16, out->prefix);
	}
	return true;
}

/* Does A fall in NET, bridging IPv4 and v4-mapped IPv6 either way? */
static bool net_contains(const struct og_cidr *net, const struct addr *a)
{
	uint8_t mapped[16];

	if (net->family == AF_INET && net->prefix <= 32) {
		if (a->family == AF_INET)
			return prefix_equal(net->addr, a->bytes, net->prefix);
		if (memcmp(a->bytes, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0)
			return prefix_equal(net->addr, a->bytes + 12, net->prefix);
		return false;
	}
	if (net->family == AF_INET6 && net->prefix <= 128) {
		if (a->family == AF_INET6)
			return prefix_equal(net->addr, a->bytes, net->prefix);
		memcpy(mapped, v4_mapped_prefix, sizeof(v4_mapped_prefix));
		memcpy(mapped + 12, a->bytes, 4);
		return prefix_equal(net->addr, mapped, net->prefix);
	}
	return false;
}

bool og_cidr_contains(const struct og_cidr *net, const char *addr)
{
	struct addr a;

	if (net == NULL || addr == NULL || !addr_parse(addr, strlen(addr), &a))
		return false;
	return net_contains(net, &a);
}

/* Parse ADDR once, then test each network. */
bool og_cidr_list_contains(const struct og_cidr *nets, size_t n, const char *addr)
{
	struct addr a;

	if (nets == NULL || addr == NULL || !addr_parse(addr, strlen(addr), &a))
		return false;
	for (size_t i = 0; i < n; i++)
		if (net_contains(&nets[i], &a))
			return true;
	return false;
}
