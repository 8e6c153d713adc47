/* CPUID seen by the guest: KVM_GET_SUPPORTED_CPUID, filtered to what
 * Amalgam emulates (no in-kernel LAPIC features), with the APIC ids and
 * topology of this VM and the TSC frequency in leaf 0x40000010. */
#ifndef AMALGAM_X86_CPUID_H
#define AMALGAM_X86_CPUID_H

#include <stdbool.h>
#include <stdint.h>

struct kvm_cpuid2;
struct topo;

/* Allocates the template; free() it. */
int cpuid_template(int kvm_fd, struct kvm_cpuid2 **out);
/* Patch a copy of the template for vCPU 'index' of topology t (its APIC
 * id, package = node, cores and caches per package) and KVM_SET_CPUID2 it.
 * kvmclock: false hides the paravirtual clock (see vm.h, multi-node). */
int cpuid_apply(int vcpu_fd, const struct kvm_cpuid2 *tmpl, const struct topo *t,
		unsigned index, uint64_t tsc_khz, bool kvmclock);

#endif
