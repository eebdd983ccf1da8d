// SPDX-License-Identifier: GPL-2.0
/*
 * Our routes in a kernel table of our own (nl_table.h). One netlink socket kept for the table's
 * lifetime: a gateway that takes over a thousand sessions at once adds a thousand routes, and a
 * socket per request (as netlink.c's queries do) would cost three system calls more each.
 * Control thread only.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "nl_table.h"

enum {
	NL_TABLE_BUF_LEN = 8192,
	/* a dump of a large table is a few hundred buffers; bounded all the same */
	NL_TABLE_MAX_READS = 65536,
	/* the kernel's own tables: default, main, local */
	NL_TABLE_KERNEL_FIRST = RT_TABLE_DEFAULT,
};

struct nl_table {
	struct mnl_socket *sock;
	unsigned int portid, seq;
	uint32_t table;
	uint8_t proto;
};

/* One of our routes found by a flush's dump. */
struct nl_table_entry {
	int family;
	uint8_t cidr;
	uint8_t addr[16];
};

struct nl_table_dump {
	const struct nl_table *t;
	struct nl_table_entry *e;
	size_t n, cap;
	int err;
};

struct nl_table *nl_table_open(uint32_t table, uint8_t proto)
{
	struct nl_table *t;
	int err;

	if (table == RT_TABLE_UNSPEC ||
	    (table >= NL_TABLE_KERNEL_FIRST && table <= RT_TABLE_LOCAL)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->table = table;
	t->proto = proto;
	t->seq = (unsigned int)time(NULL);
	t->sock = mnl_socket_open(NETLINK_ROUTE);
	if (!t->sock)
		goto err;
	if (mnl_socket_bind(t->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err;
	t->portid = mnl_socket_get_portid(t->sock);
	return t;
err:
	err = errno;
	nl_table_close(t);
	errno = err;
	return NULL;
}

void nl_table_close(struct nl_table *t)
{
	if (!t)
		return;
	if (t->sock)
		mnl_socket_close(t->sock);
	free(t);
}

/* Send nlh and read until its answer: the ack (or error) of a request, NLMSG_DONE of a dump,
 * each message to cb. 0 or -errno. */
static int nl_table_talk(struct nl_table *t, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[NL_TABLE_BUF_LEN];
	int ret = MNL_CB_OK;

	nlh->nlmsg_seq = ++t->seq;
	if (mnl_socket_sendto(t->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (int i = 0; i < NL_TABLE_MAX_READS && ret > MNL_CB_STOP; i++) {
		ssize_t n = mnl_socket_recvfrom(t->sock, buf, sizeof(buf));

		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, t->seq, t->portid, cb, data);
		if (ret == MNL_CB_ERROR)
			return -errno;
	}
	return 0;
}

/* The route message both add and delete start from. */
static struct nlmsghdr *nl_table_msg(const struct nl_table *t, char *buf, uint16_t type,
				     uint16_t flags, int family, const void *addr, uint8_t cidr)
{
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	memset(buf, 0, NL_TABLE_BUF_LEN);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)family;
	rtm->rtm_dst_len = cidr;
	rtm->rtm_table = t->table < 256 ? (unsigned char)t->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = t->proto;
	rtm->rtm_type = RTN_UNICAST;
	/* on the link (no gateway); a delete matches any scope */
	if (type == RTM_DELROUTE)
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	else
		rtm->rtm_scope = family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	mnl_attr_put_u32(nlh, RTA_TABLE, t->table);
	mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, addr);
	return nlh;
}

static bool nl_table_valid(int family, uint8_t cidr)
{
	return (family == AF_INET && cidr <= 32) || (family == AF_INET6 && cidr <= 128);
}

int nl_table_replace(struct nl_table *t, int family, const void *addr, uint8_t cidr, int oif)
{
	char buf[NL_TABLE_BUF_LEN];
	struct nlmsghdr *nlh;

	if (!nl_table_valid(family, cidr) || oif <= 0)
		return -EINVAL;
	nlh = nl_table_msg(t, buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, family, addr, cidr);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	return nl_table_talk(t, nlh, NULL, NULL);
}

int nl_table_delete(struct nl_table *t, int family, const void *addr, uint8_t cidr)
{
	char buf[NL_TABLE_BUF_LEN];
	int ret;

	if (!nl_table_valid(family, cidr))
		return -EINVAL;
	ret = nl_table_talk(t, nl_table_msg(t, buf, RTM_DELROUTE, 0, family, addr, cidr), NULL,
			    NULL);
	/* gone already: with its interface, or by someone else's hand */
	return ret == -ESRCH || ret == -ENOENT ? 0 : ret;
}

static int nl_table_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, RTA_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

/* One route of the dump: ours (table and protocol) is kept for deletion. */
static int nl_table_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = { 0 };
	struct nl_table_dump *d = data;
	struct nl_table_entry *e;
	size_t alen = rtm->rtm_family == AF_INET ? 4 : 16;
	uint32_t table = rtm->rtm_table;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_protocol != d->t->proto ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), nl_table_attr, tb);
	if (tb[RTA_TABLE])
		table = mnl_attr_get_u32(tb[RTA_TABLE]);
	if (table != d->t->table)
		return MNL_CB_OK;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;

		e = realloc(d->e, cap * sizeof(*e));
		if (!e) {
			d->err = -ENOMEM;
			return MNL_CB_OK;
		}
		d->e = e;
		d->cap = cap;
	}
	e = &d->e[d->n];
	memset(e, 0, sizeof(*e));
	e->family = rtm->rtm_family;
	e->cidr = rtm->rtm_dst_len;
	if (tb[RTA_DST] && mnl_attr_get_payload_len(tb[RTA_DST]) >= alen)
		memcpy(e->addr, mnl_attr_get_payload(tb[RTA_DST]), alen);
	d->n++;
	return MNL_CB_OK;
}

int nl_table_flush(struct nl_table *t)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct nl_table_dump d = { .t = t };
	char buf[NL_TABLE_BUF_LEN];
	int ret = 0, n = 0;

	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]) && !ret && !d.err; f++) {
		struct nlmsghdr *nlh;
		struct rtmsg *rtm;

		memset(buf, 0, sizeof(buf));
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_GETROUTE;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = (unsigned char)families[f];
		ret = nl_table_talk(t, nlh, nl_table_dump_cb, &d);
	}
	if (!ret)
		ret = d.err;
	/* delete only after the dumps: deleting while the kernel walks the table skips routes */
	for (size_t i = 0; i < d.n && !ret; i++) {
		ret = nl_table_delete(t, d.e[i].family, d.e[i].addr, d.e[i].cidr);
		n += !ret;
	}
	free(d.e);
	return ret < 0 ? ret : n;
}
