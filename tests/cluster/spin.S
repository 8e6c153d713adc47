/* A guest that never ends by itself: every vCPU (start mode "all")
 * increments a shared counter forever with lock-prefixed adds, so the
 * memory plane keeps moving one page between nodes. vCPU 0 prints one
 * line first so the test knows the guest is running.
 * Built with -DIDLE it idles instead: every vCPU halts with interrupts on,
 * for ever (nothing interrupts it), so that a slow platform's CPU is left
 * to the browser of the console test; a halted vCPU still moves when
 * asked. */
	.globl _start
	.text
_start:
	mov $1, %eax
	cpuid
	shr $24, %ebx
	test %ebx, %ebx
	jnz 2f
	lea msg(%rip), %rsi
	mov $0x3f8, %dx
1:	lodsb
	test %al, %al
	jz 2f
	out %al, %dx
	jmp 1b
#ifdef IDLE
2:	sti
	hlt
#else
2:	lock incq counter(%rip)
#endif
	jmp 2b

	.data
#ifdef IDLE
msg:	.asciz "idle: running\n"
#else
msg:	.asciz "spin: running\n"
#endif
	.balign 4096
counter:
	.quad 0
