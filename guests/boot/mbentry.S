/* Entry of the multiboot test kernel (mbtest.c). The loader enters
 * mb_start in 32-bit protected mode, paging off, EAX = 0x2BADB002,
 * EBX = the multiboot information; the stack is ours to set. Built twice:
 * as an ELF32 image (the header asks for page-aligned modules and memory
 * information), and with -DAOUT_KLUDGE as a flat binary whose header also
 * gives the load addresses (flag 16), as kernels without an ELF loader
 * do. */
#define MB_MAGIC 0x1BADB002
#ifdef AOUT_KLUDGE
#define MB_FLAGS 0x00010003
#else
#define MB_FLAGS 0x00000003
#endif

	.section .multiboot, "a"
	.p2align 2
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
#ifdef AOUT_KLUDGE
	.long mb_header		/* header_addr */
	.long __image_start	/* load_addr */
	.long __data_end	/* load_end_addr */
	.long __image_end	/* bss_end_addr */
	.long mb_start		/* entry_addr */
#endif

	.text
	.code32
	.globl mb_start
mb_start:
	cli
	cld
	movl $(stack + 8192), %esp
	/* The flat binary's .bss is zeroed by the loader (bss_end_addr), the
	 * ELF's by its segment's memsz: nothing to clear here. */
	pushl %ebx
	pushl %eax
	call mb_main
1:	hlt
	jmp 1b

	.bss
	.p2align 4
stack:
	.skip 8192

	.section .note.GNU-stack, "", @progbits
