/* A guest that idles: vCPU 0 prints one line, then every vCPU (start mode
 * "all") halts with interrupts on, for ever (nothing interrupts it), so
 * that a slow platform's CPU is left to the browser of the console test.
 * A halted vCPU still moves when asked. */
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
2:	sti
	hlt
	jmp 2b

	.data
msg:	.asciz "idle: running\n"
