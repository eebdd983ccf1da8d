// SPDX-License-Identifier: GPL-2.0
/*
 * The routes of the sessions this gateway holds (cluster_routes.h), kept in a kernel table of
 * their own for the routing daemon to announce.
 *
 * The engine tells which peer a new receiving index belongs to (session_add) but an index that
 * goes says only its number (session_del), so each held peer keeps its indexes, found again
 * through a table of its own. What a hook asks for is done after the engine has finished with
 * the handshake (cluster_routes_flush): the allowed IPs are read through the engine, which
 * takes the device's lock, and the hooks may run with that lock held. The peer itself is never
 * kept: a held peer is its public key, looked up when needed.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster_routes.h"
#include "config.h"
#include "crypto.h"
#include "device.h"
#include "log.h"
#include "nl_table.h"

/* One peer whose session this gateway holds. */
struct cr_peer {
	uint8_t pub[WG_KEY_LEN];
	struct cr_peer *next_by_key;
	struct cr_peer *next_pending; /* on cr->pending while pending */
	bool pending;		      /* its routes are to be (re)computed at the next flush */
	bool told;		      /* the held hook was told it is held */
	uint64_t session_ns;	      /* the last session_add */
	uint32_t idx[CLUSTER_ROUTES_MAX_INDEXES];
	unsigned int n_idx;
	struct conf_allowedip *ips; /* the routes installed */
	size_t n_ips;
};

/* A local index -> its held peer. */
struct cr_index {
	uint32_t index;
	struct cr_peer *p;
	struct cr_index *next;
};

struct cluster_routes {
	struct wg_device *dev;
	struct nl_table *nt;
	char ifname[IFNAMSIZ];
	uint32_t table;
	int oif;
	int ioctl_fd;	       /* for the tunnel device's flags */
	bool link_up;	       /* at the last tick */
	bool retry;	       /* a flush could not do everything: again on the tick */
	uint64_t last_walk_ns; /* the tick's last walk over every held peer */
	unsigned int n_held;
	struct cr_peer *pending;
	cluster_routes_held_fn held_fn;
	void *held_ctx;
	struct cr_peer *by_key[CLUSTER_ROUTES_BUCKETS];
	struct cr_index *by_index[CLUSTER_ROUTES_BUCKETS];
};

/* Public keys are uniformly random (device.c's peers_by_key does the same); indexes are
 * random too (engine/index.c). */
static struct cr_peer **cr_key_bucket(struct cluster_routes *cr, const uint8_t pub[WG_KEY_LEN])
{
	uint32_t h;

	memcpy(&h, pub, sizeof(h));
	return &cr->by_key[h % CLUSTER_ROUTES_BUCKETS];
}

static struct cr_index **cr_index_bucket(struct cluster_routes *cr, uint32_t index)
{
	return &cr->by_index[index % CLUSTER_ROUTES_BUCKETS];
}

static struct cr_peer *cr_lookup(struct cluster_routes *cr, const uint8_t pub[WG_KEY_LEN])
{
	struct cr_peer *p;

	for (p = *cr_key_bucket(cr, pub); p; p = p->next_by_key)
		if (!memcmp(p->pub, pub, WG_KEY_LEN))
			return p;
	return NULL;
}

static void cr_index_forget(struct cluster_routes *cr, uint32_t index)
{
	struct cr_index **pp, *e;

	for (pp = cr_index_bucket(cr, index); (e = *pp); pp = &e->next) {
		if (e->index == index) {
			*pp = e->next;
			free(e);
			return;
		}
	}
}

static const char *cr_name(const struct cr_peer *p, char buf[CRYPTO_KEY_BASE64_LEN + 1])
{
	crypto_key_to_base64(buf, p->pub);
	return buf;
}

static void cr_route_del(struct cluster_routes *cr, const struct cr_peer *p,
			 const struct conf_allowedip *ip)
{
	char pfx[64], name[CRYPTO_KEY_BASE64_LEN + 1];
	int ret = nl_table_delete(cr->nt, ip->family, &ip->ip6, ip->cidr);

	if (ret < 0) {
		conf_format_allowedip(ip, pfx, sizeof(pfx));
		log_warn("%s: peer %s: cannot delete the route to %s from table %u: %s", cr->ifname,
			 cr_name(p, name), pfx, cr->table, strerror(-ret));
	}
}

/* Take every route of p away and forget it; tell the held hook unless the cluster asked. */
static void cr_release(struct cluster_routes *cr, struct cr_peer *p, bool tell)
{
	struct cr_peer **pp;
	char name[CRYPTO_KEY_BASE64_LEN + 1];

	for (size_t i = 0; i < p->n_ips; i++)
		cr_route_del(cr, p, &p->ips[i]);
	for (unsigned int i = 0; i < p->n_idx; i++)
		cr_index_forget(cr, p->idx[i]);
	for (pp = cr_key_bucket(cr, p->pub); *pp; pp = &(*pp)->next_by_key) {
		if (*pp == p) {
			*pp = p->next_by_key;
			break;
		}
	}
	if (p->pending) {
		for (pp = &cr->pending; *pp; pp = &(*pp)->next_pending) {
			if (*pp == p) {
				*pp = p->next_pending;
				break;
			}
		}
	}
	log_debug("%s: peer %s: session no longer held here, %zu route%s withdrawn", cr->ifname,
		  cr_name(p, name), p->n_ips, p->n_ips == 1 ? "" : "s");
	cr->n_held--;
	if (tell && p->told && cr->held_fn)
		cr->held_fn(cr->held_ctx, p->pub, false);
	free(p->ips);
	free(p);
}

static void cr_mark_pending(struct cluster_routes *cr, struct cr_peer *p)
{
	if (p->pending)
		return;
	p->pending = true;
	p->next_pending = cr->pending;
	cr->pending = p;
}

struct cluster_routes *cluster_routes_new(struct wg_device *dev, const char *ifname, uint32_t table,
					  int oif)
{
	struct cluster_routes *cr = calloc(1, sizeof(*cr));
	int ret;

	if (!cr) {
		log_err("%s: --cluster-table: out of memory", ifname);
		return NULL;
	}
	cr->dev = dev;
	strncpy(cr->ifname, ifname, IFNAMSIZ - 1);
	cr->table = table;
	cr->oif = oif;
	cr->ioctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (cr->ioctl_fd < 0) {
		log_err("%s: --cluster-table: socket: %s", ifname, strerror(errno));
		goto err;
	}
	cr->nt = nl_table_open(table, CLUSTER_RTPROT);
	if (!cr->nt) {
		log_err("%s: --cluster-table %u: %s", ifname, table, strerror(errno));
		goto err;
	}
	/* a daemon killed before it could clean up left its routes: the sessions they stood for
	 * are gone with it, and announcing them would draw their traffic here */
	ret = nl_table_flush(cr->nt);
	if (ret < 0) {
		log_err("%s: --cluster-table %u: cannot flush what an earlier run left: %s", ifname,
			table, strerror(-ret));
		goto err;
	}
	if (ret > 0)
		log_info("%s: table %u: %d stale route%s of an earlier run removed", ifname, table,
			 ret, ret == 1 ? "" : "s");
	log_info("%s: the routes of the sessions held here go into table %u", ifname, table);
	return cr;
err:
	cluster_routes_free(cr);
	return NULL;
}

void cluster_routes_free(struct cluster_routes *cr)
{
	if (!cr)
		return;
	for (size_t b = 0; b < CLUSTER_ROUTES_BUCKETS; b++) {
		while (cr->by_key[b])
			cr_release(cr, cr->by_key[b], true);
	}
	nl_table_close(cr->nt);
	if (cr->ioctl_fd >= 0)
		close(cr->ioctl_fd);
	free(cr);
}

void cluster_routes_session_add(struct cluster_routes *cr, uint32_t index, struct wg_peer *peer)
{
	const uint8_t *pub = wg_peer_public_key(peer);
	struct cr_index *e;
	struct cr_peer *p;

	if (!cr)
		return;
	p = cr_lookup(cr, pub);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p) {
			log_err("%s: out of memory: a session's routes not installed", cr->ifname);
			return;
		}
		memcpy(p->pub, pub, WG_KEY_LEN);
		p->next_by_key = *cr_key_bucket(cr, pub);
		*cr_key_bucket(cr, pub) = p;
		cr->n_held++;
	}
	p->session_ns = wg_monotonic_ns();
	cr_mark_pending(cr, p);
	e = calloc(1, sizeof(*e));
	if (!e)
		return; /* held all the same, until it expires */
	/* the oldest index out when full: it lingers in the engine at most until the session
	 * expires, and expiry lets go of the peer without it */
	if (p->n_idx == CLUSTER_ROUTES_MAX_INDEXES) {
		cr_index_forget(cr, p->idx[0]);
		memmove(p->idx, p->idx + 1, (p->n_idx - 1) * sizeof(p->idx[0]));
		p->n_idx--;
	}
	p->idx[p->n_idx++] = index;
	e->index = index;
	e->p = p;
	e->next = *cr_index_bucket(cr, index);
	*cr_index_bucket(cr, index) = e;
}

void cluster_routes_session_del(struct cluster_routes *cr, uint32_t index)
{
	struct cr_index *e;
	struct cr_peer *p = NULL;

	if (!cr)
		return;
	for (e = *cr_index_bucket(cr, index); e; e = e->next) {
		if (e->index == index) {
			p = e->p;
			break;
		}
	}
	if (!p)
		return;
	cr_index_forget(cr, index);
	for (unsigned int i = 0; i < p->n_idx; i++) {
		if (p->idx[i] == index) {
			memmove(p->idx + i, p->idx + i + 1, (p->n_idx - i - 1) * sizeof(p->idx[0]));
			p->n_idx--;
			break;
		}
	}
	/* the last keypair that could receive here is gone: so is the session */
	if (!p->n_idx)
		cr_release(cr, p, true);
}

void cluster_routes_peer_removed(struct cluster_routes *cr, struct wg_peer *peer)
{
	struct cr_peer *p;

	if (!cr)
		return;
	p = cr_lookup(cr, wg_peer_public_key(peer));
	if (p)
		cr_release(cr, p, true);
}

bool cluster_routes_release(struct cluster_routes *cr, const uint8_t pub[WG_KEY_LEN])
{
	struct cr_peer *p;

	if (!cr)
		return false;
	p = cr_lookup(cr, pub);
	if (!p)
		return false;
	cr_release(cr, p, false);
	return true;
}

void cluster_routes_set_held_fn(struct cluster_routes *cr, cluster_routes_held_fn fn, void *ctx)
{
	if (!cr)
		return;
	cr->held_fn = fn;
	cr->held_ctx = ctx;
}

unsigned int cluster_routes_held(const struct cluster_routes *cr)
{
	return cr ? cr->n_held : 0;
}

static bool cr_contains(const struct conf_allowedip *ips, size_t n, const struct conf_allowedip *ip)
{
	size_t alen = ip->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < n; i++) {
		if (ips[i].family == ip->family && ips[i].cidr == ip->cidr &&
		    !memcmp(&ips[i].ip6, &ip->ip6, alen))
			return true;
	}
	return false;
}

/* p's routes from its allowed IPs now: the ones it lost deleted, the new ones added. 0, or
 * -errno when something is to be tried again; -ENOENT: the peer is gone. */
static int cr_sync(struct cluster_routes *cr, struct cr_peer *p)
{
	struct conf_allowedip *ips = NULL, *done = NULL;
	size_t n = 0, n_done = 0;
	char pfx[64], name[CRYPTO_KEY_BASE64_LEN + 1];
	int ret, err = 0;

	ret = wg_device_peer_allowedips(cr->dev, p->pub, &ips, &n);
	if (ret < 0)
		return ret;
	done = calloc(n + p->n_ips + 1, sizeof(*done));
	if (!done) {
		free(ips);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->n_ips; i++) {
		if (cr_contains(ips, n, &p->ips[i]))
			done[n_done++] = p->ips[i];
		else
			cr_route_del(cr, p, &p->ips[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (cr_contains(done, n_done, &ips[i]))
			continue;
		ret = nl_table_replace(cr->nt, ips[i].family, &ips[i].ip6, ips[i].cidr, cr->oif);
		if (ret == -ENETDOWN || ret == -ENOMEM || ret == -ENOBUFS) {
			/* the tunnel device is down, or memory is short: the tick tries again */
			err = ret;
			continue;
		}
		if (ret < 0) {
			/* what the kernel refuses for good (IPv6 off on the device, say) is said
			 * once and not retried every tick */
			conf_format_allowedip(&ips[i], pfx, sizeof(pfx));
			log_warn("%s: peer %s: cannot add the route to %s to table %u: %s",
				 cr->ifname, cr_name(p, name), pfx, cr->table, strerror(-ret));
			continue;
		}
		done[n_done++] = ips[i];
	}
	free(ips);
	free(p->ips);
	p->ips = done;
	p->n_ips = n_done;
	if (!err)
		log_debug("%s: peer %s: session held here, %zu route%s in table %u", cr->ifname,
			  cr_name(p, name), n_done, n_done == 1 ? "" : "s", cr->table);
	return err;
}

void cluster_routes_flush(struct cluster_routes *cr)
{
	struct cr_peer *p, *again = NULL;

	if (!cr || !cr->pending)
		return;
	cr->retry = false;
	/* bounded: each peer leaves the list once, those to retry go to another */
	while ((p = cr->pending)) {
		int ret;

		cr->pending = p->next_pending;
		p->pending = false;
		ret = cr_sync(cr, p);
		if (ret == -ENOENT) {
			cr_release(cr, p, true);
			continue;
		}
		if (!p->told && cr->held_fn) {
			p->told = true;
			cr->held_fn(cr->held_ctx, p->pub, true);
		}
		if (ret < 0) {
			p->pending = true;
			p->next_pending = again;
			again = p;
			cr->retry = true;
		}
	}
	cr->pending = again;
}

void cluster_routes_applied(struct cluster_routes *cr, const struct conf_dev *req)
{
	struct cr_peer *p;

	if (!cr)
		return;
	if (req->flags & CONF_DEV_REPLACE_PEERS) {
		for (size_t b = 0; b < CLUSTER_ROUTES_BUCKETS; b++)
			for (p = cr->by_key[b]; p; p = p->next_by_key)
				cr_mark_pending(cr, p);
	} else {
		for (size_t i = 0; i < req->n_peers; i++) {
			p = cr_lookup(cr, req->peers[i].public_key);
			if (p)
				cr_mark_pending(cr, p);
		}
	}
	cluster_routes_flush(cr);
}

static bool cr_link_up(struct cluster_routes *cr)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, cr->ifname, IFNAMSIZ); /* NUL-terminated: cluster_routes_new */
	return ioctl(cr->ioctl_fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
}

void cluster_routes_tick(struct cluster_routes *cr, uint64_t now_ns)
{
	const int64_t max_age = (int64_t)REJECT_AFTER_TIME * (int64_t)NSEC_PER_SEC;
	bool up, came_up;

	if (!cr)
		return;
	up = cr_link_up(cr);
	came_up = up && !cr->link_up;
	cr->link_up = up;
	/* a walk over every held peer: once a second is enough for sessions of 180 s (a tick
	 * comes as often as every few ms) */
	if (came_up || (int64_t)(now_ns - cr->last_walk_ns) >= (int64_t)NSEC_PER_SEC) {
		cr->last_walk_ns = now_ns;
		for (size_t b = 0; b < CLUSTER_ROUTES_BUCKETS && cr->n_held; b++) {
			struct cr_peer *p = cr->by_key[b], *next;

			for (; p; p = next) {
				next = p->next_by_key;
				/* no handshake here for REJECT_AFTER_TIME: the session cannot carry
				 * data any more, whoever holds the client now */
				if ((int64_t)(now_ns - p->session_ns) > max_age) {
					cr_release(cr, p, true);
					continue;
				}
				/* the device came back up: the kernel took our routes with it */
				if (came_up) {
					free(p->ips);
					p->ips = NULL;
					p->n_ips = 0;
					cr_mark_pending(cr, p);
				}
			}
		}
	}
	if (up && (cr->retry || cr->pending))
		cluster_routes_flush(cr);
}
