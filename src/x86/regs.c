#include "x86/regs.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#define CR0_PE (1u << 0)
#define CR0_MP (1u << 1)
#define CR0_ET (1u << 4)
#define CR0_NE (1u << 5)
#define CR0_WP (1u << 16)
#define CR0_AM (1u << 18)
#define CR0_PG (1u << 31)
#define CR0_CD (1u << 30)
#define CR0_NW (1u << 29)
#define CR4_PAE (1u << 5)
#define CR4_PGE (1u << 7)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define EFER_NXE (1u << 11)

static struct kvm_segment flat(uint16_t sel, uint8_t type, int code64)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1,
		.l = code64, .g = 1,
	};
}

static int set_boot64(int fd, const struct boot_entry *e)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cs = flat(BOOT_CS, 0xb, 1);
	s.ds = s.es = s.fs = s.gs = s.ss = flat(BOOT_DS, 0x3, 0);
	s.gdt.base = e->gdt_base;
	s.gdt.limit = e->gdt_limit;
	s.cr3 = e->cr3;
	s.cr4 = CR4_PAE;
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
	s.efer = EFER_LME | EFER_LMA | EFER_NXE;
	if (ioctl(fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	memset(&r, 0, sizeof(r));
	r.rip = e->rip;
	r.rsi = e->rsi;
	r.rflags = 2;
	if (ioctl(fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

/* Multiboot and PVH: the state both specifications describe, with the
 * rest as after reset. */
static int set_boot32(int fd, const struct boot_entry *e)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cs = flat(BOOT_CS, 0xb, 0);
	s.ds = s.es = s.fs = s.gs = s.ss = flat(BOOT_DS, 0x3, 0);
	/* A busy 32-bit TSS, base 0, limit 0x67 (PVH's TR). */
	s.tr = (struct kvm_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s.gdt.base = e->gdt_base;
	s.gdt.limit = e->gdt_limit;
	s.cr0 = CR0_PE | CR0_ET;
	s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	if (ioctl(fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	memset(&r, 0, sizeof(r));
	r.rip = e->rip;
	r.rax = e->eax;
	r.rbx = e->ebx;
	r.rflags = 2;
	if (ioctl(fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

int regs_set_boot(int fd, const struct boot_entry *e)
{
	switch (e->mode) {
	case BOOT_MODE_LONG64:
		return set_boot64(fd, e);
	case BOOT_MODE_PROT32:
		return set_boot32(fd, e);
	default:
		return -EINVAL;
	}
}

static struct kvm_segment real_seg(uint16_t sel, uint8_t type)
{
	return (struct kvm_segment){
		.base = (uint64_t)sel << 4, .limit = 0xffff, .selector = sel,
		.type = type, .present = 1, .s = 1,
	};
}

int regs_set_sipi(int fd, uint8_t vector)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	/* The state after INIT (SDM vol. 3 "Processor state after reset"),
	 * then CS:IP = VV00:0000 from the SIPI vector. */
	s.cs = real_seg((uint16_t)vector << 8, 0xb);
	s.ds = s.es = s.fs = s.gs = s.ss = real_seg(0, 0x3);
	s.tr = (struct kvm_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
	s.ldt = (struct kvm_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
	s.gdt.base = 0;
	s.gdt.limit = 0xffff;
	s.idt.base = 0;
	s.idt.limit = 0xffff;
	s.cr0 = CR0_ET | CR0_CD | CR0_NW;
	s.cr2 = s.cr3 = s.cr4 = 0;
	s.efer = 0;
	if (ioctl(fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	memset(&r, 0, sizeof(r));
	r.rflags = 2;
	r.rdx = 0x600;	/* family/model/stepping signature, as hardware does */
	if (ioctl(fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}
