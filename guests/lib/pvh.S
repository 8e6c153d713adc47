/* Second entry path: the Xen/PVH direct boot ABI, so that the same guest
 * ELF also boots under QEMU's -kernel (and any PVH loader). Link with
 * lib/pvh.ld, which keeps the note below in a PT_NOTE segment.
 *
 * The loader enters pvh_start32 in 32-bit protected mode, paging off, with
 * EBX = physical address of the hvm_start_info. We go to long mode on
 * tables built at assembly time (no ring-0 loop: every ring-0 instruction
 * is emulated under PVM): an identity map of the first 4 GiB in 2 MiB
 * pages, every level Present|Writable|User, the same map amalgam gives
 * (guests/README.md). The GDT is the kit's own (gdt in cpu.c, flat code
 * 0x10 and data 0x18, as the AP trampoline uses it). pvh_boot_params()
 * turns the start info into the zero page the kit reads, and _start runs
 * as if amalgam had entered it. Amalgam, like QEMU, enters an ELF with
 * this note here too (src/x86/pvh.h), so these guests take this path
 * under both. */
#include "layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define CR0_PE_PG 0x80000001
#define CR4_PAE (1 << 5)
#define PTE_PWU 0x7		/* Present, Writable, User */
#define PTE_PS (1 << 7)		/* 2 MiB page */

	/* Desc is 8 bytes: some loaders read the entry as a 64-bit value. */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4, 8, XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.quad pvh_start32

	.section .text.pvh, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	cli
	cld
	movl %ebx, %edi			/* start info, for pvh_boot_params */
	lgdtl pvh_gdtr
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pvh_pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $CR0_PE_PG, %eax
	movl %eax, %cr0
	ljmpl $SEL_KCODE, $pvh_start64

	.code64
pvh_start64:
	movq $(kstacks + STACK_SIZE), %rsp
	movl %edi, %edi			/* upper half undefined after 32-bit mode */
	call pvh_boot_params
	movq %rax, %rsi
	jmp _start

	.section .rodata, "a"
	.p2align 2
pvh_gdtr:
	.word GDT_ENTRIES * 8 - 1
	.long gdt

	/* Page tables: 4 KiB aligned, fully initialised in the image. */
	.data
	.p2align 12
pvh_pml4:
	.quad pvh_pdpt + PTE_PWU
	.fill 511, 8, 0
pvh_pdpt:
	.quad pvh_pd + PTE_PWU
	.quad pvh_pd + 0x1000 + PTE_PWU
	.quad pvh_pd + 0x2000 + PTE_PWU
	.quad pvh_pd + 0x3000 + PTE_PWU
	.fill 508, 8, 0
pvh_pd:
	pde = 0
	.rept 2048
	.quad (pde << 21) + PTE_PS + PTE_PWU
	pde = pde + 1
	.endr

	.section .note.GNU-stack, "", @progbits
