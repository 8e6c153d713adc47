#include "virtio/virtq.h"

#include <errno.h>
#include <string.h>

static int fail(struct virtq *q, const char *why)
{
	q->broken = true;
	q->why = why;
	return -EBADMSG;
}

static uint16_t load16(volatile uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

int virtq_start(struct virtq *q)
{
	uint64_t n = q->size;

	q->broken = false;
	q->why = NULL;
	q->last_avail = q->used_idx = q->signalled_used = 0;
	q->signalled_valid = false;
	if (!n || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	/* The alignments of 2.7 (desc 16, avail 2, used 4): checked so that
	 * the ring fields are naturally aligned for atomic access. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3)) {
		fail(q, "misaligned ring");
		return -EFAULT;
	}
	q->desc = q->map(q->map_opaque, q->desc_gpa, 16 * n, false);
	q->avail = q->map(q->map_opaque, q->avail_gpa, 6 + 2 * n, false);
	q->used = q->map(q->map_opaque, q->used_gpa, 6 + 8 * n, true);
	if (!q->desc || !q->avail || !q->used) {
		fail(q, "ring outside RAM");
		return -EFAULT;
	}
	return 0;
}

static int add_seg(struct virtq *q, struct virtq_elem *e, const struct virtq_desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	void *p;

	if (!write && e->n_in)
		return fail(q, "device-readable buffer after a device-writable one");
	if (!d->len)
		return 0;	/* nothing to transfer; allowed */
	if (e->n_out + e->n_in == VIRTQ_MAX_SEGS)
		return fail(q, "too many buffers in a chain");
	if (d->addr + d->len < d->addr)
		return fail(q, "buffer wraps the address space");
	p = q->map(q->map_opaque, d->addr, d->len, write);
	if (!p)
		return fail(q, "buffer outside RAM");
	e->iov[e->n_out + e->n_in] = (struct iovec){ p, d->len };
	if (write) {
		e->n_in++;
		e->in_len += d->len;
	} else {
		e->n_out++;
		e->out_len += d->len;
	}
	return 0;
}

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
	const struct virtq_desc *table;
	unsigned tsize, count = 0, idx;
	bool in_indirect = false;
	uint16_t avail_idx, head;

	if (q->broken)
		return -EBADMSG;
	avail_idx = load16(&q->avail[1]);
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return fail(q, "available index ran more than a queue ahead");
	if (avail_idx == q->last_avail)
		return 0;
	head = load16(&q->avail[2 + q->last_avail % q->size]);
	if (head >= q->size)
		return fail(q, "head descriptor index past the queue");
	e->head = head;
	e->n_out = e->n_in = 0;
	e->out_len = e->in_len = 0;
	table = q->desc;
	tsize = q->size;
	idx = head;
	for (;;) {
		struct virtq_desc d;

		if (idx >= tsize)
			return fail(q, "descriptor index past its table");
		if (++count > tsize)
			return fail(q, "descriptor chain loops");
		/* One copy, then only the copy is looked at: the driver may
		 * change the descriptor under us. */
		memcpy(&d, &table[idx], sizeof(d));
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!q->indirect)
				return fail(q, "indirect descriptor not negotiated");
			if (in_indirect)
				return fail(q, "indirect table inside an indirect table");
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return fail(q, "indirect descriptor with NEXT");
			if (!d.len || d.len % 16 || d.len / 16 > VIRTQ_MAX_SEGS)
				return fail(q, "bad indirect table length");
			table = q->map(q->map_opaque, d.addr, d.len, false);
			if (!table)
				return fail(q, "indirect table outside RAM");
			tsize = d.len / 16;
			idx = 0;
			count = 0;
			in_indirect = true;
			continue;
		}
		if (add_seg(q, e, &d))
			return -EBADMSG;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		idx = d.next;
	}
	q->last_avail++;
	return 1;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	uint8_t *slot = (uint8_t *)q->used + 4 + 8 * (q->used_idx % q->size);
	uint32_t id = head;

	memcpy(slot, &id, 4);
	memcpy(slot + 4, &written, 4);
	q->used_idx++;
	/* The entry is visible before the index that publishes it. */
	__atomic_store_n(&q->used[1], q->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx, event;
	bool valid = q->signalled_valid;

	/* Our used index must be visible before we read what the driver
	 * asked for, or both sides may wait for each other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(load16(&q->avail[0]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	event = load16(&q->avail[2 + q->size]);
	q->signalled_used = now;
	q->signalled_valid = true;
	/* vring_need_event (2.7.10): has the index passed used_event since
	 * the last interrupt? */
	return !valid || (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

bool virtq_arm_notify(struct virtq *q)
{
	if (q->event_idx)
		__atomic_store_n(&q->used[2 + 4 * q->size], q->last_avail, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&q->used[0], 0, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(&q->avail[1]) != q->last_avail;
}

static uint64_t copy(const struct virtq_elem *e, unsigned first, unsigned n, uint64_t off,
		     uint8_t *buf, uint64_t len, bool to_guest)
{
	uint64_t done = 0;

	for (unsigned i = first; i < first + n && done < len; i++) {
		const struct iovec *v = &e->iov[i];
		uint64_t take;

		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		take = v->iov_len - off;
		if (take > len - done)
			take = len - done;
		if (to_guest)
			memcpy((uint8_t *)v->iov_base + off, buf + done, take);
		else
			memcpy(buf + done, (uint8_t *)v->iov_base + off, take);
		done += take;
		off = 0;
	}
	return done;
}

uint64_t virtq_elem_read(const struct virtq_elem *e, uint64_t off, void *buf, uint64_t len)
{
	return copy(e, 0, e->n_out, off, buf, len, false);
}

uint64_t virtq_elem_write(const struct virtq_elem *e, uint64_t off, const void *buf,
			  uint64_t len)
{
	return copy(e, e->n_out, e->n_in, off, (uint8_t *)buf, len, true);
}
