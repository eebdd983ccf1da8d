// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzers must never touch the network: scripts/fuzz.sh compiles lib/endpoint.c with
 * -Dgetaddrinfo=fuzz_getaddrinfo -Dfreeaddrinfo=fuzz_freeaddrinfo, so endpoint_resolve lands
 * here. Names containing "nx" do not exist; every other name resolves, without any lookup, to
 * a documentation address (IPv6 when the name has an odd length), so the success path of
 * Endpoint = host:port is fuzzed too. Services must be decimal ports, as wg(8) writes them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int fuzz_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		     struct addrinfo **res);
void fuzz_freeaddrinfo(struct addrinfo *ai);

int fuzz_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		     struct addrinfo **res)
{
	struct addrinfo *ai;
	unsigned long port = 0;
	const char *s;
	bool v6;

	if (!node || !*node || strstr(node, "nx"))
		return EAI_NONAME;
	if (!service || !*service)
		return EAI_SERVICE;
	for (s = service; *s; s++) {
		if (*s < '0' || *s > '9' || port > 65535)
			return EAI_SERVICE;
		port = port * 10 + (unsigned long)(*s - '0');
	}
	if (port > 65535)
		return EAI_SERVICE;
	v6 = strlen(node) % 2;
	if (hints && hints->ai_family == AF_INET)
		v6 = false;
	else if (hints && hints->ai_family == AF_INET6)
		v6 = true;
	ai = calloc(1, sizeof(*ai) + sizeof(struct sockaddr_in6));
	if (!ai)
		return EAI_MEMORY;
	ai->ai_addr = (struct sockaddr *)(ai + 1);
	ai->ai_socktype = SOCK_DGRAM;
	ai->ai_protocol = IPPROTO_UDP;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ai->ai_addr;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, "2001:db8::77", &a->sin6_addr);
		ai->ai_family = AF_INET6;
		ai->ai_addrlen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ai->ai_addr;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, "192.0.2.77", &a->sin_addr);
		ai->ai_family = AF_INET;
		ai->ai_addrlen = sizeof(*a);
	}
	*res = ai;
	return 0;
}

void fuzz_freeaddrinfo(struct addrinfo *ai)
{
	free(ai);
}
