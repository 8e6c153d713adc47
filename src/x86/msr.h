/* Which MSR accesses KVM hands to user space. With no in-kernel irqchip
 * KVM would silently swallow IA32_TSC_DEADLINE and keep its own copy of
 * IA32_APIC_BASE, so a filter sends those and the x2APIC range to our
 * lapic (and KVM's PV EOI MSR, which KVM would accept and then ignore
 * without its own lapic); MSRs KVM does not know at all also exit (and
 * become #GP unless a model claims them). */
#ifndef AMALGAM_X86_MSR_H
#define AMALGAM_X86_MSR_H

/* Architectural MSR numbers the lapic model (irq/lapic.h) serves. */
#define MSR_IA32_APICBASE 0x1b
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_X2APIC_FIRST 0x800
#define MSR_X2APIC_LAST 0x8ff
/* KVM's paravirtual EOI: where the guest keeps its skip-EOI flag. */
#define MSR_KVM_PV_EOI_EN 0x4b564d04

int msr_setup(int vm_fd);

#endif
