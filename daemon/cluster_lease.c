// SPDX-License-Identifier: GPL-2.0
/*
 * The cluster's registrar thread (cluster_internal.h): this gateway's membership under a lease,
 * kept alive, registered again when it expired, revoked on a clean stop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_held.h"
#include "cluster_internal.h"
#include "log.h"

/* --- the registrar thread: this gateway's membership under a lease --- */

static int cluster_register(struct cluster *c, struct etcd *e, int64_t *lease)
{
	struct cluster_gateway gw = { .id = c->self_id, .underlay = c->underlay };
	char key[CLUSTER_PREFIX_MAX + 64], *val = cluster_gateway_format(&gw);
	int ret;

	if (!val)
		return -ENOMEM;
	snprintf(key, sizeof(key), "%sgateways/%u", c->prefix, c->self_id);
	ret = etcd_lease_grant(e, CLUSTER_LEASE_TTL_S, lease);
	/* never over another gateway's registration: two gateways with one id would take each
	 * other's forwarded packets. A gateway restarted after a crash waits for its old lease
	 * (CLUSTER_LEASE_TTL_S at most). */
	if (ret == 0)
		ret = etcd_create(e, key, val, strlen(val), *lease);
	if (ret < 0 && *lease) {
		if (etcd_lease_revoke(e, *lease) < 0)
			log_debug("%s: cluster: lease revoke: %s", c->d->ifname, etcd_error(e));
		*lease = 0;
	}
	free(val);
	if (ret == 0)
		cluster_held_set_lease(c->held, *lease);
	if (ret == 0)
		log_info("%s: cluster %s: registered as gateway %u (%s, lease %llx, TTL %d s)",
			 c->d->ifname, c->name, c->self_id, key, (unsigned long long)*lease,
			 CLUSTER_LEASE_TTL_S);
	return ret;
}

void *cluster_registrar(void *arg)
{
	struct cluster *c = arg;
	char err[ETCD_ERR_LEN];
	struct etcd *e = etcd_new(c->etcd, err, sizeof(err));
	int64_t lease = 0;
	bool failing = false;

	if (!e) {
		log_err("%s: cluster: etcd: %s", c->d->ifname, err);
		return NULL;
	}
	etcd_set_abort(e, &c->stop);
	while (!atomic_load(&c->stop)) {
		int ret = lease ? etcd_lease_keepalive(e, lease) : cluster_register(c, e, &lease);

		if (atomic_load(&c->stop))
			break;
		if (ret == -EEXIST) {
			if (!failing)
				log_warn("%s: cluster: gateway id %u is taken (another gateway, or "
					 "this one before a crash): waiting for it to go",
					 c->d->ifname, c->self_id);
			failing = true;
			cluster_sleep_ms(c, CLUSTER_KEEPALIVE_MS);
			continue;
		}
		if (ret == -ENOENT) {
			/* expired (etcd unreachable longer than the TTL): register again */
			log_warn("%s: cluster: membership lease expired; registering again",
				 c->d->ifname);
			lease = 0;
			cluster_held_set_lease(c->held, 0);
			continue;
		}
		if (ret < 0 && !failing)
			log_warn("%s: cluster: cannot %s the membership: %s", c->d->ifname,
				 lease ? "renew" : "register", etcd_error(e));
		failing = ret < 0;
		cluster_sleep_ms(c, CLUSTER_KEEPALIVE_MS);
	}
	/* a clean stop leaves the membership at once rather than after the TTL; bounded, so
	 * that an unreachable etcd does not hold the daemon's exit */
	etcd_set_abort(e, NULL);
	etcd_set_timeout(e, CLUSTER_REVOKE_MS);
	if (lease && etcd_lease_revoke(e, lease) < 0)
		log_debug("%s: cluster: lease revoke: %s", c->d->ifname, etcd_error(e));
	etcd_free(e);
	return NULL;
}
