/*
 * netaddr - IPv4/IPv6 addresses and CIDR networks for the scope's
 * trusted client networks and the exemption lists.
 */
#ifndef OG_NETADDR_H
#define OG_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct og_cidr {
	int family;           /* AF_INET or AF_INET6 */
	uint8_t addr[16];     /* network bytes, host part cleared */
	unsigned prefix;      /* 0..32 or 0..128 */
};

/* Parse "192.0.2.0/24", "2001:db8::/32" or a bare address (full prefix);
 * host bits ("192.0.2.1/24") are accepted and cleared.  OUT and ERR may be
 * NULL.  Returns false with a reason in ERR: "prefix 40 is longer than 32",
 * "not an IP address: \"abc\"", "bad prefix \"x\"" (values sanitised). */
bool og_cidr_parse(const char *text, struct og_cidr *out, char *err, size_t errlen);
/* Is the textual address ADDR (v4, v6, or v4-mapped v6) inside NET?
 * ::ffff:192.0.2.1 is inside 192.0.2.0/24 and 192.0.2.1 inside ::ffff:192.0.2.0/120.
 * False for NULL or unparsable ADDR. */
bool og_cidr_contains(const struct og_cidr *net, const char *addr);
/* Is ADDR inside any of the N networks? */
bool og_cidr_list_contains(const struct og_cidr *nets, size_t n, const char *addr);

#endif
