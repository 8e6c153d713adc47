#include "x86/cpuid.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "x86/topo.h"

#define MAX_ENTRIES 256

/* KVM paravirt features that need KVM's in-kernel LAPIC or hypercalls we
 * do not serve: hide them so the guest uses the architectural paths that
 * reach our user-space interrupt controllers. PV EOI (bit 6) is served:
 * our lapic keeps the guest's flag (lapic.h, "Paravirtual EOI"). */
#define KVM_FEATURE_PV_UNHALT_BIT 7
#define KVM_FEATURE_PV_TLB_FLUSH_BIT 9
#define KVM_FEATURE_ASYNC_PF_VMEXIT_BIT 10
#define KVM_FEATURE_PV_SEND_IPI_BIT 11
#define KVM_FEATURE_POLL_CONTROL_BIT 12
#define KVM_FEATURE_PV_SCHED_YIELD_BIT 13
#define KVM_FEATURE_ASYNC_PF_INT_BIT 14
#define KVM_FEATURE_ASYNC_PF_BIT 4
#define KVM_FEATURE_STEAL_TIME_BIT 5
#define KVM_FEATURE_CLOCKSOURCE_BIT 0
#define KVM_FEATURE_CLOCKSOURCE2_BIT 3
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT 24

int cpuid_template(int kvm_fd, struct kvm_cpuid2 **out)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) +
				      MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));

	if (!c)
		return -ENOMEM;
	c->nent = MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int err = -errno;
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t fn,
				     uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn &&
		    (!(c->entries[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		     c->entries[i].index == idx))
			return &c->entries[i];
	return NULL;
}

static struct kvm_cpuid_entry2 *add(struct kvm_cpuid2 *c, uint32_t fn)
{
	struct kvm_cpuid_entry2 *e = find(c, fn, 0);

	if (e)
		return e;
	if (c->nent >= MAX_ENTRIES)
		return NULL;
	e = &c->entries[c->nent++];
	memset(e, 0, sizeof(*e));
	e->function = fn;
	return e;
}

/* Deterministic cache parameters (Intel leaf 4, AMD 0x8000001d): EAX bits
 * 25:14 are the logical processors sharing the cache, minus one. With one
 * thread per core, L1 and L2 are private and L3 is the package's (the
 * node's): the guest's LLC id is apic_id >> shift, never across nodes. */
static void cache_sharing(struct kvm_cpuid_entry2 *e, unsigned shift)
{
	unsigned level = (e->eax >> 5) & 7, sharing = level >= 3 ? 1u << shift : 1;

	if (!(e->eax & 0x1f))	/* no cache at this index */
		return;
	e->eax = (e->eax & ~(0xfffu << 14)) | ((sharing - 1) << 14);
}

int cpuid_apply(int vcpu_fd, const struct kvm_cpuid2 *tmpl, const struct topo *t,
		unsigned index, uint64_t tsc_khz, bool kvmclock)
{
	uint32_t apic_id = t->apic_id[index];
	unsigned shift = t->shift, cores = t->cores[index];
	size_t sz = sizeof(*tmpl) + MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(sz);
	struct kvm_cpuid_entry2 *e;
	int err = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, tmpl, sizeof(*tmpl) + tmpl->nent * sizeof(struct kvm_cpuid_entry2));

	for (uint32_t i = 0; i < c->nent; i++) {
		e = &c->entries[i];
		switch (e->function) {
		case 1:
			/* Addressable ids per package. */
			e->ebx = (e->ebx & 0x0000ffff) | (apic_id << 24) |
				 ((1u << shift > 255 ? 255 : 1u << shift) << 16);
			e->edx |= (1u << 9);		/* APIC */
			e->edx |= (1u << 28);		/* HTT: several logical CPUs */
			e->ecx |= (1u << 21);		/* x2APIC */
			e->ecx |= (1u << 24);		/* TSC-deadline */
			e->ecx |= (1u << 31);		/* hypervisor */
			break;
		case 4:
			cache_sharing(e, shift);
			/* Addressable core ids per package, minus one. */
			e->eax = (e->eax & 0x03ffffffu) | (((1u << shift) - 1) << 26);
			break;
		case 0x8000001d:
			cache_sharing(e, shift);
			break;
		case 6:
			e->eax |= (1u << 2);		/* ARAT: APIC timer always runs */
			break;
		case 0xb:
		case 0x1f:
			/* One thread per core, one package per node. */
			e->edx = apic_id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = shift;
				e->ebx = cores;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000007:
			/* Invariant TSC. Every vCPU on every node runs on one
			 * TSC: one offset, and a join refuses a host whose TSC
			 * frequency differs (tscsync). Without this bit an AMD
			 * guest with several CPUs marks its TSC unstable, and
			 * each AP calibrates its delay loop by watching jiffies
			 * tick, instead of taking a sibling's value. */
			e->edx |= (1u << 8);
			break;
		case 0x80000008:
			/* Cores per package and the APIC id bits they take,
			 * for AMD topology. */
			e->ecx = (e->ecx & ~0xf0ffu) | (shift << 12) | (cores - 1);
			break;
		case 0x8000001e:
			/* Extended APIC id, core id, node (die) id. */
			e->eax = apic_id;
			e->ebx = apic_id & ((1u << shift) - 1);
			e->ecx = t->package[index];
			break;
		case 0x40000000:
			if (e->eax < 0x40000010)
				e->eax = 0x40000010;
			break;
		case 0x40000001:
			e->eax &= ~((1u << KVM_FEATURE_PV_UNHALT_BIT) |
				    (1u << KVM_FEATURE_PV_TLB_FLUSH_BIT) |
				    (1u << KVM_FEATURE_ASYNC_PF_VMEXIT_BIT) |
				    (1u << KVM_FEATURE_PV_SEND_IPI_BIT) |
				    (1u << KVM_FEATURE_POLL_CONTROL_BIT) |
				    (1u << KVM_FEATURE_PV_SCHED_YIELD_BIT) |
				    (1u << KVM_FEATURE_ASYNC_PF_INT_BIT) |
				    (1u << KVM_FEATURE_ASYNC_PF_BIT) |
				    (1u << KVM_FEATURE_STEAL_TIME_BIT));
			if (!kvmclock)
				e->eax &= ~((1u << KVM_FEATURE_CLOCKSOURCE_BIT) |
					    (1u << KVM_FEATURE_CLOCKSOURCE2_BIT) |
					    (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT));
			break;
		}
	}
	/* VMware-style timing leaf, read by our test guests: TSC and APIC
	 * timer input frequencies in kHz. */
	e = add(c, 0x40000010);
	if (!e) {
		err = -ENOSPC;
		goto out;
	}
	e->eax = (uint32_t)tsc_khz;
	e->ebx = 1000000;	/* the lapic timer counts at 1 GHz */
	e->ecx = e->edx = 0;

	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		err = -errno;
out:
	free(c);
	return err;
}
