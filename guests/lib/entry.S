/* Kit entry points in assembly: BSP entry (and the start-all wait of the
 * other vCPUs), GDT/segment reload, exception and interrupt stubs, the
 * ring-3 round trip and the AP real-mode trampoline.
 * Every instruction here runs in ring 0 or real mode, i.e. emulated under
 * PVM: keep the paths short. */
#include "layout.h"

/* ---- BSP entry (64-bit, from amalgam: RSI = boot_params, no stack) ---- */
	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	cli
	/* In start-all mode (amalgam run --start all) every vCPU comes here at
	 * once with the same registers: tell them apart by the initial APIC ID
	 * (CPUID.1:EBX[31:24]) before touching memory. bswap, movzbl and jrcxz
	 * leave RFLAGS alone, so entry_state still gets amalgam's value. */
	movl $1, %eax
	cpuid
	bswapl %ebx
	movzbl %bl, %ecx
	jrcxz 2f
	jmp start_all_entry
2:	movq $(kstacks + STACK_SIZE), %rsp
	movq %rsi, %r12
	/* Record the entry state for tests of the boot ABI (struct
	 * entry_state in boot.h; it lives in .data, not .bss). */
	movq %rsi, entry_state + 0
	pushfq
	popq entry_state + 8
	movq %cr0, %rax
	movq %rax, entry_state + 16
	movq %cr3, %rax
	movq %rax, entry_state + 24
	movq %cr4, %rax
	movq %rax, entry_state + 32
	movl $0xc0000080, %ecx
	rdmsr
	movl %eax, entry_state + 40
	movl %edx, entry_state + 44
	movw %cs, entry_state + 48
	movw %ds, entry_state + 50
	movw %es, entry_state + 52
	movw %ss, entry_state + 54
	/* Zero .bss (small by design, see guest.ld). */
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq
	movq %r12, %rdi
	call kit_main
1:	cli
	hlt
	jmp 1b

	.text
/* void load_gdt(const struct desc_ptr *gdtr): lgdt and reload every
 * segment register (CS with a far return). FS/GS are null. */
	.globl load_gdt
load_gdt:
	lgdt (%rdi)
	pushq $SEL_KCODE
	leaq 1f(%rip), %rax
	pushq %rax
	lretq
1:	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	ret

/* ---- Interrupt and exception entry ----
 * One 16-byte stub per vector pushes a dummy error code when the CPU does
 * not, then the vector. Exceptions (0-31) save every GPR for the dump;
 * interrupts save only the caller-saved ones (C preserves the rest) and
 * leave the callee-saved slots of struct irq_frame unwritten. */
	.p2align 4
	.globl irq_stubs
irq_stubs:
	vec = 0
	.rept 256
	.p2align 4
	.if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
	pushq $0
	.endif
	pushq $vec
	.if vec < 32
	jmp exc_common
	.else
	jmp irq_common
	.endif
	vec = vec + 1
	.endr

exc_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rbx
	pushq %rbp
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	call irq_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rbp
	popq %rbx
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp
	iretq

irq_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	subq $16, %rsp		/* rbx, rbp slots */
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	subq $32, %rsp		/* r12-r15 slots */
	movq %rsp, %rdi
	call irq_dispatch
	addq $32, %rsp
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	addq $16, %rsp
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp
	iretq

/* ---- Ring 3 ----
 * uint64_t run_user(uint64_t (*fn)(uint64_t), uint64_t arg)
 * Saves the callee-saved registers on this kernel stack, points TSS.RSP0
 * just below them, and irets to user_entry in ring 3 with IF=1 on this
 * CPU's user stack. user_entry calls fn(arg) and executes ud2 at
 * user_exit: irq_dispatch recognises that #UD and calls user_return with
 * fn's result, which resets RSP to TSS.RSP0, restores the registers and
 * returns from run_user. (A trap rather than int $n or syscall: under PVM
 * a software interrupt from ring 3 raises #UD anyway, and exceptions are
 * what every ring-3 setup must deliver.) */
	.globl run_user
run_user:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	subq $8, %rsp		/* RSP0 must be 16-byte aligned */
	movq %rsp, %rax
	andq $-STACK_SIZE, %rax
	movq (%rax), %rax	/* struct percpu * */
	movq PERCPU_TSS(%rax), %rcx
	movq %rsp, 4(%rcx)	/* tss.rsp0 */
	pushq $SEL_UDATA
	pushq PERCPU_USTACK_TOP(%rax)
	pushq $0x202
	pushq $SEL_UCODE
	pushq $user_entry
	iretq

user_entry:
	movq %rdi, %rax
	movq %rsi, %rdi
	call *%rax
	.globl user_exit
user_exit:
	ud2

/* void user_nap(uint64_t us), ring 3 (start-all tests): a #UD at a known
 * address, which startall.c's handler turns into a halt of about us
 * microseconds before it resumes us after the ud2. */
	.globl user_nap
user_nap:
	ud2
	ret

/* noreturn void user_return(uint64_t result), in ring 0 on the kernel
 * stack run_user left (any depth below TSS.RSP0). */
	.globl user_return
user_return:
	movq %rdi, %rax
	movq %rsp, %rcx
	andq $-STACK_SIZE, %rcx
	movq (%rcx), %rcx
	movq PERCPU_TSS(%rcx), %rcx
	movq 4(%rcx), %rsp
	addq $8, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

/* ---- AP bring-up ----
 * The trampoline is copied to TRAMPOLINE_ADDR and entered in real mode at
 * CS:IP = 0x0800:0000 after SIPI. It goes straight to long mode (PAE, CR3,
 * EFER.LME, then CR0.PE|PG together) using the BSP's control register
 * values patched into it, and far-jumps to ap_entry64 through the kit's
 * GDT. */
	.section .rodata, "a"
	.code16
	.globl tramp_start, tramp_end, tramp_cr0, tramp_cr3, tramp_cr4, tramp_efer
tramp_start:
	movl %cs:tramp_cr4 - tramp_start, %eax
	movl %eax, %cr4
	movl %cs:tramp_cr3 - tramp_start, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	movl %cs:tramp_efer - tramp_start, %eax
	xorl %edx, %edx
	wrmsr
	lgdtl %cs:tramp_gdtr - tramp_start
	movl %cs:tramp_cr0 - tramp_start, %eax
	movl %eax, %cr0
	ljmpl *%cs:tramp_far - tramp_start
	.p2align 2
tramp_cr0:	.long 0
tramp_cr3:	.long 0
tramp_cr4:	.long 0
tramp_efer:	.long 0
tramp_far:	.long ap_entry64
		.word SEL_KCODE
tramp_gdtr:	.word GDT_ENTRIES * 8 - 1
		.long gdt
tramp_end:

	.text
	.code64
/* Long mode, on the kit's GDT. Find our CPU index from the xAPIC ID
 * (after INIT the APIC is in xAPIC mode), take that CPU's kernel stack. */
ap_entry64:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movl $(XAPIC_BASE + 0x20), %edx
	movl (%rdx), %eax
	shrl $24, %eax
	movzbl apic_to_cpu(%rax), %edi
	movl %edi, %eax
	shlq $STACK_SHIFT, %rax
	leaq (kstacks + STACK_SIZE)(%rax), %rsp
	lidt idt_desc
	call ap_main
1:	cli
	hlt
	jmp 1b

/* ---- Start-all mode: the other vCPUs at _start ----
 * ECX = initial APIC ID. Wait, with no stack and writing nothing, until
 * the BSP has set the kit up and called start_all() (startall.c), which
 * sets start_all_page.go last. Then take the kernel stack of our CPU index
 * (from the MP table) and enter C. The wait spins in ring 0 (emulated:
 * a few microseconds an iteration): without an IDT, no interrupt could
 * wake a halted vCPU. A vCPU the MP table does not list parks for good. */
start_all_entry:
	movl %ecx, %ebx
1:	pause
	cmpl $0, start_all_page
	je 1b
	movzbl apic_to_cpu(%rbx), %edi
	testl %edi, %edi
	jz 3f
	movl %edi, %eax
	shlq $STACK_SHIFT, %rax
	leaq (kstacks + STACK_SIZE)(%rax), %rsp
	call start_all_ap
3:	cli
	hlt
	jmp 3b

/* Stacks: not zeroed (see guest.ld). */
	.section .noinit, "aw", @nobits
	.p2align STACK_SHIFT
	.globl kstacks, ustacks, istacks
kstacks:	.skip STACK_SIZE * MAX_CPUS
ustacks:	.skip STACK_SIZE * MAX_CPUS
istacks:	.skip STACK_SIZE * MAX_CPUS

	.section .note.GNU-stack, "", @progbits
