/* A vCPU's state out of this node and in again: the request slot, the
 * blob that travels (what KVM keeps, x86/vcpustate.h, behind what only we
 * keep: the guest's state and the lapic), and the two halves of each end
 * of a move. Which thread runs what is said at each function; the states
 * it moves through are vcpu.c's. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "irq/lapic.h"
#include "util/log.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_int.h"
#include "vmm/vm.h"
#include "x86/vcpustate.h"

bool vcpu_here(const struct vcpu *v)
{
	return __atomic_load_n(&v->vm->local[v->index], __ATOMIC_ACQUIRE);
}

bool vcpu_moving(const struct vcpu *v)
{
	return __atomic_load_n(&v->move_to, __ATOMIC_ACQUIRE) >= 0;
}

void vcpu_request_move(struct vcpu *v, int node)
{
	__atomic_store_n(&v->move_to, node, __ATOMIC_RELEASE);
	vcpu_kick(v);
}

/* What KVM does not keep, ahead of KVM's part (x86/vcpustate.h). */
struct blob_hdr {
	uint32_t magic;
	uint32_t state;			/* RUNNING, HALTED or WAIT_SIPI */
	uint32_t extint_pending;
	uint32_t pad;
	struct lapic_state lapic;
};
#define BLOB_MAGIC 0x55504356u	/* "VCPU" */

size_t vcpu_state_max(const struct vcpu *v)
{
	return v->vm->vstate ? sizeof(struct blob_hdr) + vcpustate_max_size(v->vm->vstate) : 0;
}

int vcpu_save(struct vcpu *v, void *buf, size_t cap, size_t *len)
{
	struct blob_hdr *h = buf;
	uint64_t t0 = vcpu_now_ns();
	size_t klen = 0;
	int err;

	if (!v->vm->vstate)
		return -EOPNOTSUPP;
	if (v->state != VCPU_LEAVING)
		return -EINVAL;
	if (cap < sizeof(*h))
		return -ENOSPC;
	err = vcpustate_save(v->vm->vstate, v->fd, v->vm->tsc_offset,
			     (uint8_t *)buf + sizeof(*h), cap - sizeof(*h), &klen);
	if (err)
		return err;
	h->magic = BLOB_MAGIC;
	h->state = v->resume;
	h->extint_pending = v->extint_pending;
	h->pad = 0;
	/* Last: from here on, deliveries go after the vCPU. */
	lapic_depart(v->lapic, vcpu_now_ns(), &h->lapic);
	v->extint_pending = false;
	__atomic_store_n(&v->vm->local[v->index], false, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&v->vm->nr_local, 1, __ATOMIC_SEQ_CST);
	*len = sizeof(*h) + klen;
	v->stats.last_save_ns = vcpu_now_ns() - t0;
	return 0;
}

int vcpu_arrive(struct vcpu *v, const void *buf, size_t len)
{
	const struct blob_hdr *h = buf;
	void *kvm_part;

	if (!v->vm->vstate)
		return -EOPNOTSUPP;
	if (len < sizeof(*h) || h->magic != BLOB_MAGIC || h->state > VCPU_WAIT_SIPI ||
	    h->extint_pending > 1 || vcpu_here(v))
		return -EINVAL;
	/* KVM's part is loaded by the vCPU's own thread: loading MSRs makes
	 * KVM touch guest memory (kvmclock, steal time), which may fault on
	 * a page another node holds, and the caller here is the thread that
	 * receives that page. */
	kvm_part = malloc(len - sizeof(*h));
	if (!kvm_part)
		return -ENOMEM;
	memcpy(kvm_part, (const uint8_t *)buf + sizeof(*h), len - sizeof(*h));
	pthread_mutex_lock(&v->lock);
	/* The vCPU's thread is AWAY (or still LEAVING, having sent it): only
	 * it empties the slot, and a vCPU leaves only from its own thread,
	 * so the slot is empty; free defensively all the same. */
	free(v->incoming);
	v->incoming = kvm_part;
	v->incoming_len = len - sizeof(*h);
	v->incoming_state = (enum vcpu_state)h->state;
	v->incoming_extint = h->extint_pending;
	/* A request made here before it left is stale now. */
	__atomic_store_n(&v->move_to, -1, __ATOMIC_RELEASE);
	lapic_arrive(v->lapic, vcpu_now_ns(), &h->lapic);
	__atomic_add_fetch(&v->vm->nr_local, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&v->vm->local[v->index], true, __ATOMIC_RELEASE);
	__atomic_store_n(&v->kicked, 1, __ATOMIC_SEQ_CST);
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

enum vcpu_state vcpu_load_arrived(struct vcpu *v)
{
	enum vcpu_state next;
	struct kvm_regs regs;
	uint64_t t0, load_ns;
	void *kvm_part;
	size_t len;
	int err;

	pthread_mutex_lock(&v->lock);
	kvm_part = v->incoming;
	len = v->incoming_len;
	next = v->incoming_state;
	v->extint_pending = v->incoming_extint;
	v->incoming = NULL;
	pthread_mutex_unlock(&v->lock);
	t0 = vcpu_now_ns();
	err = vcpustate_restore(v->vm->vstate, v->fd, v->vm->tsc_offset, kvm_part, len);
	free(kvm_part);
	load_ns = vcpu_now_ns() - t0;
	if (!err && ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		err = -errno;
	if (err) {
		vm_stop(v->vm, 1, "vcpu %u arrived but its state could not be loaded: %s",
			v->index, strerror(-err));
		return VCPU_STOPPED;
	}
	/* The run loop reads IF and the injection window from kvm_run before
	 * the next KVM_RUN, and this fd's kvm_run still describes its own
	 * last run (or none: zeros), which would make a vCPU that left
	 * halted with interrupts on look stuck for good. IF from the state;
	 * the window unknown, so inject() asks KVM for one. */
	v->run->if_flag = (regs.rflags & (1u << 9)) != 0;
	v->run->ready_for_interrupt_injection = 0;
	lapic_resume(v->lapic);
	pr_info("vcpu %u arrived: state loaded in %llu us", v->index,
		(unsigned long long)load_ns / 1000);
	return next;
}

/* KVM finishes the instruction of the last exit (the data of an I/O read
 * goes into its register) at the next KVM_RUN, which immediate_exit makes
 * return before the guest runs. It may instead stop at a new exit: the
 * next part of a string I/O or of a split MMIO access; handle those the
 * same way until it returns with nothing left to finish. Before the CPU
 * plane's lock is taken: a completion can write guest memory, and so wait
 * for a page from another node. 0, or -EAGAIN to give up the move (the
 * guest stopped, or it keeps exiting). */
static int finish_last_exit(struct vcpu *v)
{
	for (int i = 0; i < 1024; i++) {
		enum vcpu_state next;
		int r;

		v->run->immediate_exit = 1;
		r = ioctl(v->fd, KVM_RUN, 0);
		v->run->immediate_exit = 0;
		if (r < 0)
			return errno == EINTR || errno == EAGAIN ? 0 : -errno;
		next = vcpu_dispatch_exit(v);
		if (next == VCPU_STOPPED || vm_stopping(v->vm))
			return -EAGAIN;
		if (next == VCPU_HALTED)
			v->resume = VCPU_HALTED;
	}
	return -EAGAIN;
}

enum vcpu_state vcpu_leave(struct vcpu *v)
{
	int node = __atomic_exchange_n(&v->move_to, -1, __ATOMIC_ACQ_REL);
	int err;

	if (node < 0 || !v->vm->hooks.move_out)
		return v->resume;
	err = finish_last_exit(v);
	if (!err)
		err = v->vm->hooks.move_out(v->vm->hooks_opaque, v, (unsigned)node);
	/* Gone, whatever vcpu_here says: the vCPU may be back already, its
	 * state in the arrival slot, which AWAY finds at once. */
	if (!err)
		return VCPU_AWAY;
	pr_warn("vcpu %u cannot move to node %d, stays here: %s", v->index, node,
		strerror(-err));
	/* A plane that saved the vCPU and then failed to send it has stopped
	 * the VM: the vCPU is gone all the same (and cannot come back). */
	return vcpu_here(v) ? v->resume : VCPU_AWAY;
}
