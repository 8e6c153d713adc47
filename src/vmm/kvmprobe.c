/* kvm_probe: see kvmprobe.h. Self-contained on purpose (no struct vm): it
 * must work, and say why not, on a host where the real VM setup would
 * fail for reasons of its own (missing capabilities, no userfaultfd). */
#include "vmm/kvmprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PROBE_GPA   0x1000u
#define PROBE_PORT  0x10
#define PROBE_BYTE  0x2a
#define PROBE_EXITS 201  /* the first is not timed (first-run costs) */

/* Real mode at PROBE_GPA: mov al, 0x2a; 1: out 0x10, al; jmp 1b. Every
 * iteration is one KVM_EXIT_IO with a known port and byte, so a vCPU that
 * runs anything but these instructions is caught. */
static const uint8_t probe_code[] = {
	0xb0, PROBE_BYTE,       /* mov $0x2a, %al */
	0xe6, PROBE_PORT,       /* out %al, $0x10 */
	0xeb, 0xfc,             /* jmp back to the out */
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static enum kvm_flavor flavor(void)
{
	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		return KVM_FLAVOR_PVM;
	if (access("/sys/module/kvm_intel", F_OK) == 0)
		return KVM_FLAVOR_VMX;
	if (access("/sys/module/kvm_amd", F_OK) == 0)
		return KVM_FLAVOR_SVM;
	return KVM_FLAVOR_UNKNOWN;
}

const char *kvm_flavor_name(enum kvm_flavor f)
{
	switch (f) {
	case KVM_FLAVOR_VMX: return "kvm_intel (VT-x)";
	case KVM_FLAVOR_SVM: return "kvm_amd (AMD-V)";
	case KVM_FLAVOR_PVM: return "kvm_pvm (software)";
	default:             return "unknown module";
	}
}

static int fail(struct kvm_probe *p, const char *step, int err)
{
	p->step = step;
	p->err = err ? err : -EIO;
	return p->err;
}

static int run_vcpu(struct kvm_probe *p, int vcpu_fd, struct kvm_run *run)
{
	double t[PROBE_EXITS];
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return fail(p, "KVM_GET_SREGS", -errno);
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return fail(p, "KVM_SET_SREGS", -errno);
	memset(&regs, 0, sizeof(regs));
	regs.rip = PROBE_GPA;
	regs.rflags = 2;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return fail(p, "KVM_SET_REGS", -errno);

	for (int i = 0; i < PROBE_EXITS; i++) {
		double t0 = now_us();
		int r;

		do
			r = ioctl(vcpu_fd, KVM_RUN, 0);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return fail(p, "KVM_RUN", -errno);
		t[i] = now_us() - t0;
		if (run->exit_reason != KVM_EXIT_IO ||
		    run->io.direction != KVM_EXIT_IO_OUT ||
		    run->io.port != PROBE_PORT || run->io.size != 1 ||
		    ((uint8_t *)run)[run->io.data_offset] != PROBE_BYTE)
			return fail(p, "running the probe's instructions", -EPROTO);
	}
	qsort(t + 1, PROBE_EXITS - 1, sizeof(t[0]), cmp_double);
	p->exits = PROBE_EXITS - 1;
	p->exit_us = t[1 + (PROBE_EXITS - 1) / 2];
	return 0;
}

int kvm_probe(struct kvm_probe *p)
{
	struct kvm_userspace_memory_region region;
	int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1, run_size;
	struct kvm_run *run = MAP_FAILED;
	void *ram = MAP_FAILED;

	memset(p, 0, sizeof(*p));
	p->flavor = flavor();
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		fail(p, "open /dev/kvm", -errno);
		goto out;
	}
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fail(p, "KVM_GET_API_VERSION", -ENOTSUP);
		goto out;
	}
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0) {
		fail(p, "KVM_CREATE_VM", -errno);
		goto out;
	}
	ram = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) {
		fail(p, "mmap", -errno);
		goto out;
	}
	memcpy(ram, probe_code, sizeof(probe_code));
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = PROBE_GPA, .memory_size = 4096,
		.userspace_addr = (uintptr_t)ram,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		fail(p, "KVM_SET_USER_MEMORY_REGION", -errno);
		goto out;
	}
	/* Real mode on VMX without unrestricted guest needs a TSS; harmless
	 * elsewhere, and its failure is not the probe's business. */
	ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0) {
		fail(p, "KVM_CREATE_VCPU", -errno);
		goto out;
	}
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0) {
		fail(p, "KVM_GET_VCPU_MMAP_SIZE", run_size < 0 ? -errno : -EIO);
		goto out;
	}
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED) {
		fail(p, "mmap of the vCPU", -errno);
		goto out;
	}
	run_vcpu(p, vcpu_fd, run);
	munmap(run, run_size);
out:
	if (ram != MAP_FAILED)
		munmap(ram, 4096);
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	if (vm_fd >= 0)
		close(vm_fd);
	if (kvm_fd >= 0)
		close(kvm_fd);
	return p->err;
}
