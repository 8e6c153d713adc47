/* The memory plane's receiving side: checking a DSM message, handing it
 * to the protocol, or holding it for the starvation window (memplane.h). */
#include "memplane/memplane_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Check everything the protocol's own validation cannot see (the wire
 * fields wider than dsm_msg's, the encoding conventions, the page) and
 * fill m. */
static int decode(const struct memplane *mp, unsigned from,
		  const struct net_msg *msg, struct dsm_msg *m)
{
	const struct net_dsm *d = &msg->u.dsm;
	bool data = d->flags & DSM_F_DATA;

	if (msg->type != NET_MSG_DSM || from >= mp->nr_nodes ||
	    from == mp->self || d->node != from || d->src >= mp->nr_nodes ||
	    d->version > UINT32_MAX || d->req_id || d->count || d->arg ||
	    d->gfn >= mp->nr_pages || d->op >= DSM_MSG_TYPES)
		return -EPROTO;
	if (data ? msg->data_len != PG || !msg->data : msg->data_len != 0)
		return -EPROTO;
	*m = (struct dsm_msg){
		.page = d->gfn,
		.version = (uint32_t)d->version,
		.type = d->op,
		.flags = d->flags,
		.from = (uint16_t)from,
		.to = (uint16_t)mp->self,
		.requester = (uint16_t)d->src,
	};
	return 0;
}

/* Hand m to the protocol and carry out what it says. */
static int deliver(struct memplane *mp, const struct dsm_msg *m,
		   const void *data)
{
	int ret = dsm_receive(mp->dsm, m);

	memplane__run_actions(mp, data, m->from);
	if (ret == -EINVAL || ret == -EPROTO)
		return -EPROTO;	/* logged and counted by the protocol */
	if (ret)
		memplane__fail(mp, "protocol receive", m->page, ret);
	return ret;
}

/* Is a message about this page from this sender held? Then m waits
 * behind it (until the same time). */
static bool held_pair(const struct memplane *mp, const struct dsm_msg *m,
		      uint64_t *due)
{
	bool found = false;

	for (const struct held *h = mp->held_head; h; h = h->next)
		if (h->m.page == m->page && h->m.from == m->from) {
			*due = h->due_ns;
			found = true;
		}
	return found;
}

/* The starvation window: a page mapped here lately stays a moment. */
static bool in_window(struct memplane *mp, const struct dsm_msg *m,
		      uint64_t *due)
{
	const struct recent *r = recent_of(mp, m->page);
	uint64_t hold = mp->hold_ns;

	switch (m->type) {
	case DSM_INV:
	case DSM_FWD_READ:
	case DSM_FWD_WRITE:
	case DSM_READ_REQ:
	case DSM_WRITE_REQ:
		break;
	default:
		return false;
	}
	if (!mp->hold_ns || r->key != page_key(m->page) ||
	    now_ns() - r->t_ns >= hold)
		return false;
	*due = r->t_ns + hold;
	return true;
}

static int hold(struct memplane *mp, const struct dsm_msg *m,
		const void *data, uint64_t due)
{
	struct held *h = malloc(sizeof(*h) + (data ? PG : 0));

	if (!h)
		return -ENOMEM;
	h->next = NULL;
	h->due_ns = due;
	h->m = *m;
	h->has_data = data;
	if (data)
		memcpy(h->page, data, PG);
	*mp->held_tail = h;
	mp->held_tail = &h->next;
	mp->nr_held++;
	INC(mp, held, 1);
	pthread_cond_signal(&mp->cond);
	return 0;
}

/* Deliver the held messages that are due (all: every one), in arrival
 * order. Returns the earliest due time left, UINT64_MAX if none. */
uint64_t memplane__release(struct memplane *mp, uint64_t now, bool all)
{
	struct held **pp = &mp->held_head, *h;
	uint64_t next = UINT64_MAX;

	while ((h = *pp)) {
		if (!all && h->due_ns > now) {
			if (h->due_ns < next)
				next = h->due_ns;
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		if (!*pp)
			mp->held_tail = pp;
		mp->nr_held--;
		deliver(mp, &h->m, h->has_data ? h->page : NULL);
		free(h);
	}
	return next;
}

int memplane_receive(struct memplane *mp, unsigned from,
		     const struct net_msg *msg)
{
	struct dsm_msg m;
	uint64_t due = 0;
	int ret;

	if (decode(mp, from, msg, &m)) {
		INC(mp, bad_msgs, 1);
		pr_warn("memory plane: malformed DSM message from node %u "
			"(op %u, page %#llx, %u data bytes)", from,
			msg->u.dsm.op, (unsigned long long)msg->u.dsm.gfn,
			msg->data_len);
		return -EPROTO;
	}
	INC(mp, msgs_recv, 1);
	INC(mp, bytes_recv, sizeof(struct net_dsm) + msg->data_len);
	if (msg->data_len)
		INC(mp, pages_recv, 1);
	pthread_mutex_lock(&mp->lock);
	if (atomic_load(&mp->stopping)) {
		ret = -ESHUTDOWN;
		goto out;
	}
	if (mp->started && mp->nr_held >= HELD_MAX)
		memplane__release(mp, 0, true);	/* order kept, windows cut short */
	if (!mp->started || held_pair(mp, &m, &due) ||
	    in_window(mp, &m, &due)) {
		ret = hold(mp, &m, msg->data, due);
		if (ret)
			memplane__fail(mp, "holding a message", m.page, ret);
	} else {
		ret = deliver(mp, &m, msg->data);
		memplane__drain_inline(mp);
	}
out:
	pthread_mutex_unlock(&mp->lock);
	return ret;
}
