/* A vCPU's exits out of KVM_RUN: one handler per exit reason, each
 * returning the state the vCPU goes on in (RUNNING, HALTED after HLT, or
 * STOPPED once it called vm_stop). On the vCPU's thread. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hw/iobus.h"
#include "irq/lapic.h"
#include "util/log.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_int.h"
#include "vmm/vm.h"

/* ---- register dump ------------------------------------------------------ */

void vcpu_dump(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		pr_err("vcpu %u: cannot read registers: %s", v->index, strerror(errno));
		return;
	}
	fprintf(stderr,
		"vcpu %u registers:\n"
		" RIP=%016llx RSP=%016llx RFLAGS=%016llx\n"
		" RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
		" RSI=%016llx RDI=%016llx RBP=%016llx\n"
		" R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
		" R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
		" CS=%04x base=%llx l=%d dpl=%d  SS=%04x  DS=%04x\n"
		" CR0=%llx CR2=%llx CR3=%llx CR4=%llx EFER=%llx\n"
		" GDT=%llx/%x IDT=%llx/%x\n",
		v->index, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx,
		r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13,
		r.r14, r.r15, s.cs.selector, s.cs.base, s.cs.l, s.cs.dpl,
		s.ss.selector, s.ds.selector, s.cr0, s.cr2, s.cr3, s.cr4, s.efer,
		s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
}

/* ---- exit handlers ------------------------------------------------------ */

static enum vcpu_state exit_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;

	v->stats.io_exits++;
	/* String I/O (rep outs/ins) arrives as 'count' elements back to back. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		iobus_access(v->vm->iobus, IO_PIO, v, run->io.port, data,
			     run->io.size, write);
		data += run->io.size;
	}
	return VCPU_RUNNING;
}

static enum vcpu_state exit_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	v->stats.mmio_exits++;
	if (run->mmio.len > 8)
		return VCPU_RUNNING;
	iobus_access(v->vm->iobus, IO_MMIO, v, run->mmio.phys_addr,
		     run->mmio.data, run->mmio.len, run->mmio.is_write);
	return VCPU_RUNNING;
}

static enum vcpu_state exit_rdmsr(struct vcpu *v)
{
	uint64_t val = 0;
	int err;

	v->stats.msr_exits++;
	err = lapic_msr_read(v->lapic, v->run->msr.index, &val);
	if (err == -ENOENT)
		pr_debug("vcpu %u: rdmsr %#x unhandled -> #GP", v->index,
			 v->run->msr.index);
	v->run->msr.error = err ? 1 : 0;
	v->run->msr.data = err ? 0 : val;
	return VCPU_RUNNING;
}

static enum vcpu_state exit_wrmsr(struct vcpu *v)
{
	int err;

	v->stats.msr_exits++;
	err = lapic_msr_write(v->lapic, v->run->msr.index, v->run->msr.data);
	if (err == -ENOENT)
		pr_debug("vcpu %u: wrmsr %#x=%#llx unhandled -> #GP", v->index,
			 v->run->msr.index, (unsigned long long)v->run->msr.data);
	v->run->msr.error = err ? 1 : 0;
	return VCPU_RUNNING;
}

static enum vcpu_state exit_hlt(struct vcpu *v)
{
	v->stats.hlt_exits++;
	return VCPU_HALTED;
}

static enum vcpu_state exit_irq_window(struct vcpu *v)
{
	v->stats.irq_window_exits++;
	return VCPU_RUNNING;
}

static enum vcpu_state exit_shutdown(struct vcpu *v)
{
	vcpu_dump(v);
	vm_stop(v->vm, 1, "vcpu %u: triple fault (shutdown)", v->index);
	return VCPU_STOPPED;
}

static enum vcpu_state exit_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	vcpu_dump(v);
	vm_stop(v->vm, 1, "vcpu %u: KVM internal error, suberror %u%s", v->index,
		run->internal.suberror,
		run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
		" (instruction emulation failed)" : "");
	return VCPU_STOPPED;
}

static enum vcpu_state exit_fail_entry(struct vcpu *v)
{
	vcpu_dump(v);
	vm_stop(v->vm, 1, "vcpu %u: VM entry failed, reason %#llx", v->index,
		(unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
	return VCPU_STOPPED;
}

static enum vcpu_state exit_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_stop(v->vm, 0, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_stop(v->vm, 0, "guest reset");
		break;
	default:
		vcpu_dump(v);
		vm_stop(v->vm, 1, "vcpu %u: system event %u", v->index,
			v->run->system_event.type);
	}
	return VCPU_STOPPED;
}

typedef enum vcpu_state (*exit_fn)(struct vcpu *v);

static const exit_fn exit_handlers[] = {
	[KVM_EXIT_IO] = exit_io,
	[KVM_EXIT_MMIO] = exit_mmio,
	[KVM_EXIT_HLT] = exit_hlt,
	[KVM_EXIT_IRQ_WINDOW_OPEN] = exit_irq_window,
	[KVM_EXIT_SHUTDOWN] = exit_shutdown,
	[KVM_EXIT_INTERNAL_ERROR] = exit_internal_error,
	[KVM_EXIT_FAIL_ENTRY] = exit_fail_entry,
	[KVM_EXIT_SYSTEM_EVENT] = exit_system_event,
	[KVM_EXIT_X86_RDMSR] = exit_rdmsr,
	[KVM_EXIT_X86_WRMSR] = exit_wrmsr,
};

enum vcpu_state vcpu_dispatch_exit(struct vcpu *v)
{
	uint32_t reason = v->run->exit_reason;

	v->stats.exits++;
	if (reason < sizeof(exit_handlers) / sizeof(exit_handlers[0]) &&
	    exit_handlers[reason])
		return exit_handlers[reason](v);
	vcpu_dump(v);
	vm_stop(v->vm, 1, "vcpu %u: unexpected KVM exit reason %u", v->index, reason);
	return VCPU_STOPPED;
}

