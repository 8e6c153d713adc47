/* vCPU state blob; the contract is in vcpustate.h. */
#include "x86/vcpustate.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"

#define MAGIC 0x54534356u	/* "VCST" */
#define MAX_MSRS 512
#define XSAVE_LEGACY 4096	/* struct kvm_xsave */

enum { F_SREGS2 = 1, F_XCRS = 2, F_DEBUGREGS = 4, F_TSC = 8 };

/* Older headers may lack these (the running kernel is what counts). */
#ifndef KVM_CAP_SREGS2
#define KVM_CAP_SREGS2 200
#endif
#ifndef KVM_CAP_XSAVE2
#define KVM_CAP_XSAVE2 208
#endif

struct hdr {
	uint32_t magic;
	uint16_t format;
	uint16_t flags;
	uint32_t xsave_size;
	uint32_t nmsrs;
	int64_t tsc_adjust;	/* this vCPU's offset minus the node's base */
};

struct vcpustate_ctx {
	unsigned flags;		/* F_*: what this KVM can carry */
	uint32_t xsave_size;
	uint32_t nmsrs;
	uint32_t msrs[MAX_MSRS];
};

/* MSRs the VMM owns or that travel some other way: the TSC (as an offset,
 * see the header), the APIC base (in SREGS), TSC deadline and the x2APIC
 * range (the user-space lapic); and kvmclock's wall clock, which is the
 * VM's, not a vCPU's: writing it makes KVM write the guest's boot time
 * into guest memory again. */
static bool skip_msr(uint32_t i)
{
	return i == 0x10 || i == 0x1b || i == 0x6e0 || (i >= 0x800 && i <= 0x8ff) ||
	       i == 0x11 || i == 0x4b564d00;
}

static bool msr_readable(int fd, uint32_t index)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = index };

	return ioctl(fd, KVM_GET_MSRS, &m) == 1;
}

static int probe_msrs(struct vcpustate_ctx *c, int kvm_fd, int fd)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	int err = 0;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return -errno;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	if (!list)
		return -ENOMEM;
	list->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		err = -errno;
		goto out;
	}
	for (uint32_t i = 0; i < list->nmsrs; i++) {
		uint32_t idx = list->indices[i];

		if (skip_msr(idx) || !msr_readable(fd, idx))
			continue;
		if (c->nmsrs == MAX_MSRS) {
			pr_warn("vcpustate: more than %d MSRs to save; the rest are left out",
				MAX_MSRS);
			break;
		}
		c->msrs[c->nmsrs++] = idx;
	}
out:
	free(list);
	return err;
}

int vcpustate_ctx_new(struct vcpustate_ctx **out, int kvm_fd, int probe_fd)
{
	struct vcpustate_ctx *c = calloc(1, sizeof(*c));
	uint64_t off;
	struct kvm_device_attr attr = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (uint64_t)(uintptr_t)&off,
	};
	int r, err;

	if (!c)
		return -ENOMEM;
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SREGS2) > 0)
		c->flags |= F_SREGS2;
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0)
		c->flags |= F_XCRS;
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DEBUGREGS) > 0)
		c->flags |= F_DEBUGREGS;
	if (ioctl(probe_fd, KVM_HAS_DEVICE_ATTR, &attr) == 0)
		c->flags |= F_TSC;
	else
		pr_warn("this KVM has no per-vCPU TSC offset control: a vCPU that moves "
			"loses any TSC adjustment its guest made");
	r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	c->xsave_size = r > XSAVE_LEGACY ? (uint32_t)r : XSAVE_LEGACY;
	err = probe_msrs(c, kvm_fd, probe_fd);
	if (err) {
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void vcpustate_ctx_free(struct vcpustate_ctx *c)
{
	free(c);
}

static size_t sregs_size(unsigned flags)
{
	return flags & F_SREGS2 ? sizeof(struct kvm_sregs2) : sizeof(struct kvm_sregs);
}

static size_t blob_size(unsigned flags, uint32_t xsave_size, uint32_t nmsrs)
{
	return sizeof(struct hdr) + sizeof(struct kvm_regs) + sregs_size(flags) +
	       (flags & F_XCRS ? sizeof(struct kvm_xcrs) : 0) + xsave_size +
	       sizeof(struct kvm_vcpu_events) +
	       (flags & F_DEBUGREGS ? sizeof(struct kvm_debugregs) : 0) +
	       (size_t)nmsrs * sizeof(struct kvm_msr_entry);
}

size_t vcpustate_max_size(const struct vcpustate_ctx *c)
{
	return blob_size(c->flags, c->xsave_size, c->nmsrs);
}

static int get_tsc_offset(int fd, int64_t *off)
{
	struct kvm_device_attr attr = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (uint64_t)(uintptr_t)off,
	};

	return ioctl(fd, KVM_GET_DEVICE_ATTR, &attr) < 0 ? -errno : 0;
}

static int set_tsc_offset(int fd, int64_t off)
{
	struct kvm_device_attr attr = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (uint64_t)(uintptr_t)&off,
	};

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &attr) < 0 ? -errno : 0;
}

/* One KVM get into the blob at *p, advancing it. */
static int get(int fd, unsigned long req, uint8_t **p, size_t size)
{
	if (ioctl(fd, req, *p) < 0)
		return -errno;
	*p += size;
	return 0;
}

int vcpustate_save(const struct vcpustate_ctx *c, int fd, int64_t base_tsc_offset,
		   void *buf, size_t cap, size_t *len)
{
	size_t need = vcpustate_max_size(c);
	struct hdr *h = buf;
	uint8_t *p = (uint8_t *)buf + sizeof(*h);
	struct kvm_msrs *msrs;
	int64_t off = 0;
	int r;

	if (cap < need)
		return -ENOSPC;
	memset(buf, 0, need);
	*h = (struct hdr){ .magic = MAGIC, .format = VCPUSTATE_FORMAT,
			   .flags = (uint16_t)c->flags, .xsave_size = c->xsave_size,
			   .nmsrs = c->nmsrs };
	if ((r = get(fd, KVM_GET_REGS, &p, sizeof(struct kvm_regs))) ||
	    (r = get(fd, c->flags & F_SREGS2 ? KVM_GET_SREGS2 : KVM_GET_SREGS, &p,
		     sregs_size(c->flags))))
		return r;
	if ((c->flags & F_XCRS) && (r = get(fd, KVM_GET_XCRS, &p, sizeof(struct kvm_xcrs))))
		return r;
	if ((r = get(fd, c->xsave_size > XSAVE_LEGACY ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
		     &p, c->xsave_size)) ||
	    (r = get(fd, KVM_GET_VCPU_EVENTS, &p, sizeof(struct kvm_vcpu_events))))
		return r;
	if ((c->flags & F_DEBUGREGS) &&
	    (r = get(fd, KVM_GET_DEBUGREGS, &p, sizeof(struct kvm_debugregs))))
		return r;
	if (c->nmsrs) {
		msrs = calloc(1, sizeof(*msrs) + c->nmsrs * sizeof(struct kvm_msr_entry));
		if (!msrs)
			return -ENOMEM;
		msrs->nmsrs = c->nmsrs;
		for (uint32_t i = 0; i < c->nmsrs; i++)
			msrs->entries[i].index = c->msrs[i];
		r = ioctl(fd, KVM_GET_MSRS, msrs);
		if (r != (int)c->nmsrs) {
			pr_warn("vcpustate: MSR %#x unreadable", r >= 0 && r < (int)c->nmsrs ?
				c->msrs[r] : 0);
			free(msrs);
			return -EIO;
		}
		memcpy(p, msrs->entries, c->nmsrs * sizeof(msrs->entries[0]));
		free(msrs);
	}
	if (c->flags & F_TSC) {
		r = get_tsc_offset(fd, &off);
		if (r)
			return r;
		h->tsc_adjust = off - base_tsc_offset;
	}
	*len = need;
	return 0;
}

static int set(int fd, unsigned long req, const void *at)
{
	return ioctl(fd, req, at) < 0 ? -errno : 0;
}

/* in: n entries as KVM_GET_MSRS left them (possibly unaligned in the blob). */
static int set_msrs(int fd, const void *in, uint32_t n)
{
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + n * sizeof(struct kvm_msr_entry));
	int r = 0;

	if (!msrs)
		return -ENOMEM;
	memcpy(msrs->entries, in, n * sizeof(msrs->entries[0]));
	msrs->nmsrs = n;
	/* KVM stops at the first MSR it refuses; say which, skip it, go on:
	 * one odd MSR must not strand the vCPU. */
	while (msrs->nmsrs) {
		r = ioctl(fd, KVM_SET_MSRS, msrs);
		if (r < 0) {
			r = -errno;
			break;
		}
		if ((uint32_t)r >= msrs->nmsrs) {
			r = 0;
			break;
		}
		/* A zero that KVM refuses is a feature the guest was not given
		 * (so it is zero here too); anything else is worth a word. */
		if (msrs->entries[r].data)
			pr_warn("vcpustate: KVM refused MSR %#x=%#llx; left as it was",
				msrs->entries[r].index,
				(unsigned long long)msrs->entries[r].data);
		msrs->nmsrs -= (uint32_t)r + 1;
		memmove(msrs->entries, msrs->entries + r + 1,
			msrs->nmsrs * sizeof(msrs->entries[0]));
		r = 0;
	}
	free(msrs);
	return r;
}

int vcpustate_restore(const struct vcpustate_ctx *c, int fd, int64_t base_tsc_offset,
		      const void *buf, size_t len)
{
	const struct hdr *h = buf;
	const uint8_t *regs, *sregs, *xcrs = NULL, *xsave, *events, *dregs = NULL;
	const uint8_t *p = (const uint8_t *)buf + sizeof(*h);
	struct kvm_vcpu_events ev;
	int r;

	if (len < sizeof(*h) || h->magic != MAGIC || h->format != VCPUSTATE_FORMAT ||
	    h->flags != c->flags || h->xsave_size != c->xsave_size ||
	    h->nmsrs > MAX_MSRS || len != blob_size(h->flags, h->xsave_size, h->nmsrs))
		return -EINVAL;
	/* The blob's order (that of vcpustate_save). */
	regs = p;
	p += sizeof(struct kvm_regs);
	sregs = p;
	p += sregs_size(c->flags);
	if (c->flags & F_XCRS) {
		xcrs = p;
		p += sizeof(struct kvm_xcrs);
	}
	xsave = p;
	p += c->xsave_size;
	events = p;
	p += sizeof(struct kvm_vcpu_events);
	if (c->flags & F_DEBUGREGS) {
		dregs = p;
		p += sizeof(struct kvm_debugregs);
	}
	/* KVM's order: modes (SREGS: CR0/CR4/EFER) before what depends on
	 * them, XCR0 before the XSAVE area it sizes, MSRs, then the events
	 * (an injected interrupt or exception is checked against the mode). */
	if ((r = set(fd, c->flags & F_SREGS2 ? KVM_SET_SREGS2 : KVM_SET_SREGS, sregs)) ||
	    (r = set(fd, KVM_SET_REGS, regs)))
		return r;
	if (xcrs && (r = set(fd, KVM_SET_XCRS, xcrs)))
		return r;
	if ((r = set(fd, KVM_SET_XSAVE, xsave)))
		return r;
	if ((r = set_msrs(fd, p, h->nmsrs)))
		return r;
	memcpy(&ev, events, sizeof(ev));
	ev.flags &= KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING;
	if ((r = set(fd, KVM_SET_VCPU_EVENTS, &ev)))
		return r;
	if (dregs && (r = set(fd, KVM_SET_DEBUGREGS, dregs)))
		return r;
	if (c->flags & F_TSC)
		return set_tsc_offset(fd, base_tsc_offset + h->tsc_adjust);
	return 0;
}
