/* Which MSR accesses KVM hands to user space. With no in-kernel irqchip
 * KVM would silently swallow IA32_TSC_DEADLINE and keep its own copy of
 * IA32_APIC_BASE, so a filter sends those and the x2APIC range to our
 * lapic; MSRs KVM does not know at all also exit (and become #GP unless a
 * model claims them). */
#ifndef AMALGAM_X86_MSR_H
#define AMALGAM_X86_MSR_H

int msr_setup(int vm_fd);

#endif
