// SPDX-License-Identifier: GPL-2.0
/*
 * rtnetlink queries and the change monitor. Queries open a short-lived socket each: they run on the
 * control thread at configuration time or after a change notification, never per packet.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netlink.h"

enum {
	NL_BUF_LEN = 8192
};

struct nl_monitor {
	struct mnl_socket *sock;
};

static int nl_request(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	/* a dump ends with NLMSG_DONE; a plain request is answered by one message */
	bool dump = nlh->nlmsg_flags & NLM_F_DUMP;
	char buf[NL_BUF_LEN];
	struct mnl_socket *nl;
	unsigned int seq, portid;
	ssize_t n;
	int ret;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	seq = (unsigned int)time(NULL);
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	ret = MNL_CB_OK;
	/* bounded: a dump of a large table is a few dozen buffers at most */
	for (int i = 0; i < 4096 && ret > MNL_CB_STOP; i++) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (ret < 0) {
			ret = -errno;
			goto out;
		}
		if (!dump)
			break;
	}
	ret = 0;
out:
	mnl_socket_close(nl);
	return ret;
}

struct nl_route_ctx {
	struct nl_route *out;
	bool found;
};

static int nl_route_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, RTA_MAX) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static void nl_copy_addr(union nl_addr *dst, const struct nlattr *a, int family)
{
	size_t len = family == AF_INET ? 4 : 16;

	memset(dst, 0, sizeof(*dst));
	if (mnl_attr_get_payload_len(a) >= len)
		memcpy(dst->bytes, mnl_attr_get_payload(a), len);
}

static int nl_route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_route_ctx *ctx = data;
	const struct nlattr *tb[RTA_MAX + 1] = { 0 };
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), nl_route_attr, tb);
	ctx->out->family = rtm->rtm_family;
	if (tb[RTA_OIF])
		ctx->out->oif = (int)mnl_attr_get_u32(tb[RTA_OIF]);
	if (tb[RTA_PREFSRC]) {
		nl_copy_addr(&ctx->out->prefsrc, tb[RTA_PREFSRC], rtm->rtm_family);
		ctx->out->has_prefsrc = true;
	}
	if (tb[RTA_GATEWAY]) {
		nl_copy_addr(&ctx->out->gateway, tb[RTA_GATEWAY], rtm->rtm_family);
		ctx->out->has_gateway = true;
	}
	ctx->found = true;
	return MNL_CB_OK;
}

int nl_route_get(const struct sockaddr *dst, uint32_t fwmark, struct nl_route *out)
{
	return nl_route_get_from(dst, NULL, fwmark, out);
}

int nl_route_get_from(const struct sockaddr *dst, const union nl_addr *src, uint32_t fwmark,
		      struct nl_route *out)
{
	char buf[NL_BUF_LEN];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct nl_route_ctx ctx = { .out = out };
	int ret;

	memset(out, 0, sizeof(*out));
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)dst->sa_family;
	if (dst->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)dst;

		rtm->rtm_dst_len = 32;
		mnl_attr_put(nlh, RTA_DST, 4, &in4->sin_addr);
		if (src) {
			rtm->rtm_src_len = 32;
			mnl_attr_put(nlh, RTA_SRC, 4, &src->v4);
		}
	} else if (dst->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)dst;

		rtm->rtm_dst_len = 128;
		mnl_attr_put(nlh, RTA_DST, 16, &in6->sin6_addr);
		if (src) {
			rtm->rtm_src_len = 128;
			mnl_attr_put(nlh, RTA_SRC, 16, &src->v6);
		}
	} else {
		return -EAFNOSUPPORT;
	}
	if (fwmark)
		mnl_attr_put_u32(nlh, RTA_MARK, fwmark);
	ret = nl_request(nlh, nl_route_cb, &ctx);
	if (ret < 0)
		return ret;
	return ctx.found ? 0 : -ENETUNREACH;
}

struct nl_neigh_ctx {
	int ifindex;
	int family;
	const union nl_addr *addr;
	uint8_t *mac;
	bool found;
};

static int nl_neigh_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, NDA_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int nl_neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_neigh_ctx *ctx = data;
	const struct nlattr *tb[NDA_MAX + 1] = { 0 };
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	size_t alen = ctx->family == AF_INET ? 4 : 16;
	const uint16_t usable =
		NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;

	if (nlh->nlmsg_type != RTM_NEWNEIGH || ndm->ndm_family != ctx->family ||
	    ndm->ndm_ifindex != ctx->ifindex || !(ndm->ndm_state & usable))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ndm), nl_neigh_attr, tb);
	if (!tb[NDA_DST] || !tb[NDA_LLADDR] || mnl_attr_get_payload_len(tb[NDA_DST]) != alen ||
	    mnl_attr_get_payload_len(tb[NDA_LLADDR]) != 6)
		return MNL_CB_OK;
	if (memcmp(mnl_attr_get_payload(tb[NDA_DST]), ctx->addr->bytes, alen))
		return MNL_CB_OK;
	memcpy(ctx->mac, mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
	ctx->found = true;
	return MNL_CB_OK;
}

/* The neighbours of family on ifindex, each through cb. A dump filtered by the callback rather
 * than RTM_GETNEIGH for one entry: the single-entry get needs NDA_DST support that older kernels
 * lack, and the table is small. */
static int nl_neigh_dump(int ifindex, int family, mnl_cb_t cb, void *ctx)
{
	char buf[NL_BUF_LEN];
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = (uint8_t)family;
	ndm->ndm_ifindex = ifindex;
	return nl_request(nlh, cb, ctx);
}

int nl_neigh_get(int ifindex, int family, const union nl_addr *addr, uint8_t mac[6])
{
	struct nl_neigh_ctx ctx = {
		.ifindex = ifindex, .family = family, .addr = addr, .mac = mac
	};
	int ret;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	ret = nl_neigh_dump(ifindex, family, nl_neigh_cb, &ctx);
	if (ret < 0)
		return ret;
	return ctx.found ? 0 : -ENOENT;
}

struct nl_static_ctx {
	int ifindex;
	int family;
	const union nl_addr *addr;
	bool found;
};

static int nl_static_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_static_ctx *ctx = data;
	const struct nlattr *tb[NDA_MAX + 1] = { 0 };
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	size_t alen = ctx->family == AF_INET ? 4 : 16;

	if (nlh->nlmsg_type != RTM_NEWNEIGH || ndm->ndm_family != ctx->family ||
	    ndm->ndm_ifindex != ctx->ifindex || !(ndm->ndm_state & (NUD_PERMANENT | NUD_NOARP)))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ndm), nl_neigh_attr, tb);
	if (tb[NDA_DST] && mnl_attr_get_payload_len(tb[NDA_DST]) == alen &&
	    !memcmp(mnl_attr_get_payload(tb[NDA_DST]), ctx->addr->bytes, alen))
		ctx->found = true;
	return MNL_CB_OK;
}

int nl_neigh_keep(int ifindex, int family, const union nl_addr *addr, bool on)
{
	char buf[NL_BUF_LEN];
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (on) {
		/* an operator's static entry is resolved for good, and not ours to replace */
		struct nl_static_ctx st = { .ifindex = ifindex, .family = family, .addr = addr };
		int ret;

		ret = nl_neigh_dump(ifindex, family, nl_static_cb, &st);
		if (ret < 0)
			return ret;
		if (st.found)
			return -EEXIST;
	}
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = on ? RTM_NEWNEIGH : RTM_DELNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (on)
		nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_REPLACE;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = (uint8_t)family;
	ndm->ndm_ifindex = ifindex;
	/* not permanent: the kernel refuses a managed entry that it could not re-resolve */
	ndm->ndm_state = NUD_NONE;
	mnl_attr_put(nlh, NDA_DST, family == AF_INET ? 4 : 16, addr->bytes);
	if (on)
		mnl_attr_put_u32(nlh, NDA_FLAGS_EXT, NTF_EXT_MANAGED);
	return nl_request(nlh, NULL, NULL);
}

struct nl_addrs_ctx {
	int ifindex;
	nl_addr_cb cb;
	void *cb_ctx;
	int err; /* the first callback error */
};

static int nl_ifa_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, IFA_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int nl_addrs_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_addrs_ctx *ctx = data;
	const struct nlattr *tb[IFA_MAX + 1] = { 0 };
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	union nl_addr addr;
	int ret;

	if (nlh->nlmsg_type != RTM_NEWADDR || ctx->err ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) ||
	    (ctx->ifindex && (int)ifa->ifa_index != ctx->ifindex))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), nl_ifa_attr, tb);
	/* IFA_LOCAL is our end on a point-to-point link (IFA_ADDRESS is then the peer's); IPv6
	 * usually sends IFA_ADDRESS alone */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || mnl_attr_get_payload_len(a) < (ifa->ifa_family == AF_INET ? 4u : 16u))
		return MNL_CB_OK;
	nl_copy_addr(&addr, a, ifa->ifa_family);
	ret = ctx->cb(ctx->cb_ctx, ifa->ifa_family, (int)ifa->ifa_index, &addr);
	if (ret < 0)
		ctx->err = ret;
	return MNL_CB_OK;
}

/* A dump of type whose request header (hdrlen bytes: struct ifaddrmsg, struct rtmsg, ...)
 * starts with its family byte, as all of rtnetlink's do. */
static int nl_dump_family(uint16_t type, size_t hdrlen, int family, mnl_cb_t cb, void *data)
{
	char buf[NL_BUF_LEN];
	struct nlmsghdr *nlh;
	uint8_t *hdr;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	hdr = mnl_nlmsg_put_extra_header(nlh, hdrlen);
	hdr[0] = (uint8_t)family;
	return nl_request(nlh, cb, data);
}

int nl_dump_addrs(int ifindex, nl_addr_cb cb, void *cb_ctx)
{
	struct nl_addrs_ctx ctx = { .ifindex = ifindex, .cb = cb, .cb_ctx = cb_ctx };
	/* both families in one dump */
	int ret =
		nl_dump_family(RTM_GETADDR, sizeof(struct ifaddrmsg), AF_UNSPEC, nl_addrs_cb, &ctx);

	return ret < 0 ? ret : ctx.err;
}

struct nl_link_ctx {
	uint8_t *mac;
	bool found;
};

static int nl_link_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int nl_link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_link_ctx *ctx = data;
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(struct ifinfomsg), nl_link_attr, tb);
	if (!tb[IFLA_ADDRESS] || mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) != 6)
		return MNL_CB_OK;
	memcpy(ctx->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
	ctx->found = true;
	return MNL_CB_OK;
}

/* Over rtnetlink rather than /sys/class/net: sysfs shows the namespace it was mounted in. */
int nl_link_mac(int ifindex, uint8_t mac[6])
{
	char buf[NL_BUF_LEN];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nl_link_ctx ctx = { .mac = mac };
	int ret;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ret = nl_request(nlh, nl_link_cb, &ctx);
	if (ret < 0)
		return ret;
	return ctx.found ? 0 : -ENOENT;
}

struct nl_monitor *nl_monitor_open(bool want_neigh)
{
	struct nl_monitor *m = calloc(1, sizeof(*m));
	unsigned int groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
			      RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;

	if (!m)
		return NULL;
	if (want_neigh)
		groups |= RTMGRP_NEIGH;
	m->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!m->sock)
		goto err;
	if (mnl_socket_bind(m->sock, groups, MNL_SOCKET_AUTOPID) < 0)
		goto err;
	return m;
err:
	if (m->sock)
		mnl_socket_close(m->sock);
	free(m);
	return NULL;
}

void nl_monitor_close(struct nl_monitor *m)
{
	if (!m)
		return;
	mnl_socket_close(m->sock);
	free(m);
}

int nl_monitor_fd(const struct nl_monitor *m)
{
	return mnl_socket_get_fd(m->sock);
}

static int nl_monitor_cb(const struct nlmsghdr *nlh, void *data)
{
	int *bits = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		*bits |= NL_CHANGE_LINK;
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		*bits |= NL_CHANGE_ADDR;
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		*bits |= NL_CHANGE_ROUTE;
		break;
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		*bits |= NL_CHANGE_NEIGH;
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

int nl_monitor_read(struct nl_monitor *m)
{
	char buf[NL_BUF_LEN];
	int bits = 0;

	/* bounded drain: a flapping link cannot keep the control thread here */
	for (int i = 0; i < 256; i++) {
		ssize_t n = mnl_socket_recvfrom(m->sock, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS)
				return NL_CHANGE_LINK | NL_CHANGE_ADDR | NL_CHANGE_ROUTE |
				       NL_CHANGE_NEIGH;
			return -errno;
		}
		mnl_cb_run(buf, (size_t)n, 0, 0, nl_monitor_cb, &bits);
	}
	return bits;
}

struct nl_defaults_ctx {
	int family;
	nl_default_cb cb;
	void *cb_ctx;
};

static int nl_defaults_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_defaults_ctx *ctx = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = { 0 };
	uint32_t table, metric = 0;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != ctx->family || rtm->rtm_dst_len ||
	    rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), nl_route_attr, tb);
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (table != RT_TABLE_MAIN || !tb[RTA_OIF])
		return MNL_CB_OK;
	if (tb[RTA_PRIORITY])
		metric = mnl_attr_get_u32(tb[RTA_PRIORITY]);
	ctx->cb(ctx->cb_ctx, (int)mnl_attr_get_u32(tb[RTA_OIF]), metric);
	return MNL_CB_OK;
}

int nl_default_routes(int family, nl_default_cb cb, void *cb_ctx)
{
	struct nl_defaults_ctx ctx = { .family = family, .cb = cb, .cb_ctx = cb_ctx };

	return nl_dump_family(RTM_GETROUTE, sizeof(struct rtmsg), family, nl_defaults_cb, &ctx);
}
