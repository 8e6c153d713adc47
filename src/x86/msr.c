#include "x86/msr.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

int msr_setup(int vm_fd)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args = { KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_UNKNOWN |
			  KVM_MSR_EXIT_REASON_FILTER },
	};
	/* A zero bit in a range's bitmap denies the access in KVM, which then
	 * exits to user space with KVM_MSR_EXIT_REASON_FILTER. */
	static uint8_t deny_one[1];
	static uint8_t deny_x2apic[256 / 8];
	struct kvm_msr_filter f;

	if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return -errno;
	memset(&f, 0, sizeof(f));
	f.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
	f.ranges[0] = (struct kvm_msr_filter_range){
		.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
		.nmsrs = 1, .base = MSR_IA32_APICBASE, .bitmap = deny_one,
	};
	f.ranges[1] = (struct kvm_msr_filter_range){
		.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
		.nmsrs = 1, .base = MSR_IA32_TSC_DEADLINE, .bitmap = deny_one,
	};
	f.ranges[2] = (struct kvm_msr_filter_range){
		.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
		.nmsrs = 256, .base = MSR_X2APIC_FIRST, .bitmap = deny_x2apic,
	};
	f.ranges[3] = (struct kvm_msr_filter_range){
		.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
		.nmsrs = 1, .base = MSR_KVM_PV_EOI_EN, .bitmap = deny_one,
	};
	if (ioctl(vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0)
		return -errno;
	return 0;
}
