#include "vmm/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#include "irq/lapic.h"
#include "irq/apicbus.h"
#include "irq/ioapic.h"
#include "irq/pic.h"
#include "util/log.h"
#include "hw/iobus.h"
#include "vmm/vm.h"
#include "x86/cpuid.h"
#include "x86/regs.h"
#include "x86/vcpustate.h"

enum { EXIT_CONTINUE, EXIT_STOP };

#define VCPU_NICE 5

static int kick_signal;
static __thread struct kvm_run *cur_run;

static void kick_handler(int sig)
{
	/* Only the vCPU thread has cur_run set; a stray delivery elsewhere is
	 * harmless. */
	if (cur_run)
		cur_run->immediate_exit = 1;
}

int vcpu_global_init(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	kick_signal = SIGRTMIN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(kick_signal, &sa, NULL) < 0)
		return -errno;
	return 0;
}

uint64_t vcpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- lapic callbacks ---------------------------------------------------- */

static void cb_kick(void *opaque)
{
	vcpu_kick(opaque);
}

static void cb_arm_timer(void *opaque, uint64_t deadline_ns)
{
	struct vcpu *v = opaque;
	struct itimerspec its = { 0 };

	v->timer_deadline = deadline_ns;
	if (!v->timer_valid)
		return;
	if (deadline_ns) {
		its.it_value.tv_sec = deadline_ns / 1000000000ull;
		its.it_value.tv_nsec = deadline_ns % 1000000000ull;
	}
	timer_settime(v->timer, TIMER_ABSTIME, &its, NULL);
}

static void cb_send(void *opaque, const struct apic_msg *msg)
{
	struct vcpu *v = opaque;

	apicbus_send(v->vm->apicbus, msg);
}

static void cb_eoi(void *opaque, uint8_t vector)
{
	struct vcpu *v = opaque;

	if (v->vm->remote_devices && v->vm->hooks.eoi)
		v->vm->hooks.eoi(v->vm->hooks_opaque, vector);
	else
		ioapic_eoi(v->vm->ioapic, vector);
}

/* The TSC this vCPU reads, from KVM itself: on a host whose TSC KVM
 * distrusts it moves the offset at every vCPU load to keep the guest's TSC
 * monotonic, and a deadline computed from host TSC + our offset would fire
 * early, over and over (an interrupt storm seen in the nested lab). */
static uint64_t cb_guest_tsc(void *opaque)
{
	struct vcpu *v = opaque;
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = 0x10 };	/* IA32_TIME_STAMP_COUNTER */

	if (ioctl(v->fd, KVM_GET_MSRS, &m) != 1)
		return 0;
	return m.e.data;
}

static void cb_route_changed(void *opaque, const struct lapic_route *r)
{
	struct vcpu *v = opaque;

	if (v->vm->hooks.route_changed)
		v->vm->hooks.route_changed(v->vm->hooks_opaque, v, r);
}

static const struct lapic_ops lapic_cbs = {
	.kick = cb_kick,
	.arm_timer = cb_arm_timer,
	.send = cb_send,
	.eoi = cb_eoi,
	.route_changed = cb_route_changed,
	.guest_tsc = cb_guest_tsc,
};

/* ---- creation ----------------------------------------------------------- */

/* All vCPUs must see one TSC, or Linux declares it unstable. KVM only
 * synchronizes vCPUs created close together in time, which nested or slow
 * hosts do not guarantee, so give every vCPU vCPU 0's offset explicitly. */
static int sync_tsc(struct vcpu *v)
{
	struct kvm_device_attr attr = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = 0x10 };
	uint64_t off, before;

	attr.addr = (uint64_t)(uintptr_t)&off;
	if (ioctl(v->fd, KVM_HAS_DEVICE_ATTR, &attr) == 0) {
		if (v->index == 0) {
			if (ioctl(v->fd, KVM_GET_DEVICE_ATTR, &attr) < 0)
				return -errno;
			v->vm->tsc_offset = (int64_t)off;
		} else {
			off = (uint64_t)v->vm->tsc_offset;
			if (ioctl(v->fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
				return -errno;
		}
		v->tsc_offset = v->vm->tsc_offset;
		return 0;
	}
	/* Older KVM: estimate the offset; KVM's own matching keeps them equal. */
	before = __rdtsc();
	if (ioctl(v->fd, KVM_GET_MSRS, &m) != 1)
		return -EIO;
	v->tsc_offset = (int64_t)(m.e.data - before);
	return 0;
}

int vcpu_set_tsc_offset(struct vcpu *v, int64_t offset)
{
	uint64_t off = (uint64_t)offset;
	struct kvm_device_attr attr = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (uint64_t)(uintptr_t)&off,
	};

	if (ioctl(v->fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return -errno;
	v->tsc_offset = offset;
	lapic_set_tsc_offset(v->lapic, offset);
	return 0;
}

int vcpu_create(struct vm *vm, unsigned index, struct vcpu **out)
{
	struct vcpu *v = calloc(1, sizeof(*v));
	struct lapic_config lc;
	int err;

	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->index = index;
	v->apic_id = vm->topo.apic_id[index];
	v->state = index == 0 ? VCPU_RUNNABLE : VCPU_WAIT_SIPI;
	v->move_to = -1;
	pthread_mutex_init(&v->lock, NULL);
	{
		/* Halt deadlines are CLOCK_MONOTONIC, like the lapic timer. */
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&v->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, index);
	if (v->fd < 0) {
		err = -errno;
		goto fail;
	}
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		err = -errno;
		v->run = NULL;
		goto fail;
	}
	if (!vm->tsc_khz) {
		int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
		vm->tsc_khz = khz > 0 ? (uint64_t)khz : 1000000;
	}
	err = cpuid_apply(v->fd, vm->cpuid, &vm->topo, index, vm->tsc_khz,
			  !vm->hide_kvmclock);
	if (err)
		goto fail;
	err = sync_tsc(v);
	if (err)
		goto fail;
	lc = (struct lapic_config){
		.apic_id = v->apic_id,
		.index = index,
		.bsp = index == 0,
		.tsc_khz = vm->tsc_khz,
		.tsc_offset = v->tsc_offset,
		.timer_hz = 1000000000u,
	};
	v->lapic = lapic_new(&lc, &lapic_cbs, v);
	if (!v->lapic) {
		err = -ENOMEM;
		goto fail;
	}
	*out = v;
	return 0;
fail:
	vcpu_destroy(v);
	return err;
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	if (v->timer_valid)
		timer_delete(v->timer);
	if (v->lapic)
		lapic_free(v->lapic);
	free(v->incoming);
	if (v->run)
		munmap(v->run, v->vm->run_size);
	if (v->fd >= 0)
		close(v->fd);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	free(v);
}

int vcpu_boot64(struct vcpu *v, const struct boot_entry *e)
{
	int err = regs_set_boot64(v->fd, e);

	if (!err)
		v->state = VCPU_RUNNABLE;
	return err;
}

/* Owner thread, after KVM_RUN returned. */
static void take_rip_sample(struct vcpu *v)
{
	struct kvm_regs r;

	if (!__atomic_load_n(&v->rip_wanted, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&v->rip_wanted, 0, __ATOMIC_RELAXED);
	if (ioctl(v->fd, KVM_GET_REGS, &r) == 0)
		__atomic_store_n(&v->sampled_rip, r.rip, __ATOMIC_RELEASE);
}

void vcpu_sample_rip(struct vcpu *v)
{
	__atomic_store_n(&v->rip_wanted, 1, __ATOMIC_RELEASE);
	vcpu_kick(v);
}

uint64_t vcpu_sampled_rip(struct vcpu *v)
{
	return __atomic_load_n(&v->sampled_rip, __ATOMIC_ACQUIRE);
}

void vcpu_kick(struct vcpu *v)
{
	__atomic_store_n(&v->kicked, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&v->lock);
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->lock);
	if (v->started && !pthread_equal(pthread_self(), v->thread))
		pthread_kill(v->thread, kick_signal);
}

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

static int exit_io(struct vcpu *v)
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
	return EXIT_CONTINUE;
}

static int exit_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	v->stats.mmio_exits++;
	if (run->mmio.len > 8)
		return EXIT_CONTINUE;
	iobus_access(v->vm->iobus, IO_MMIO, v, run->mmio.phys_addr,
		     run->mmio.data, run->mmio.len, run->mmio.is_write);
	return EXIT_CONTINUE;
}

static int exit_rdmsr(struct vcpu *v)
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
	return EXIT_CONTINUE;
}

static int exit_wrmsr(struct vcpu *v)
{
	int err;

	v->stats.msr_exits++;
	err = lapic_msr_write(v->lapic, v->run->msr.index, v->run->msr.data);
	if (err == -ENOENT)
		pr_debug("vcpu %u: wrmsr %#x=%#llx unhandled -> #GP", v->index,
			 v->run->msr.index, (unsigned long long)v->run->msr.data);
	v->run->msr.error = err ? 1 : 0;
	return EXIT_CONTINUE;
}

static int exit_hlt(struct vcpu *v)
{
	v->stats.hlt_exits++;
	v->state = VCPU_HALTED;
	return EXIT_CONTINUE;
}

static int exit_irq_window(struct vcpu *v)
{
	v->stats.irq_window_exits++;
	return EXIT_CONTINUE;
}

static int exit_shutdown(struct vcpu *v)
{
	vcpu_dump(v);
	vm_stop(v->vm, 1, "vcpu %u: triple fault (shutdown)", v->index);
	return EXIT_STOP;
}

static int exit_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	vcpu_dump(v);
	vm_stop(v->vm, 1, "vcpu %u: KVM internal error, suberror %u%s", v->index,
		run->internal.suberror,
		run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
		" (instruction emulation failed)" : "");
	return EXIT_STOP;
}

static int exit_fail_entry(struct vcpu *v)
{
	vcpu_dump(v);
	vm_stop(v->vm, 1, "vcpu %u: VM entry failed, reason %#llx", v->index,
		(unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
	return EXIT_STOP;
}

static int exit_system_event(struct vcpu *v)
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
	return EXIT_STOP;
}

typedef int (*exit_fn)(struct vcpu *v);

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

static int dispatch_exit(struct vcpu *v)
{
	uint32_t reason = v->run->exit_reason;

	v->stats.exits++;
	if (reason < sizeof(exit_handlers) / sizeof(exit_handlers[0]) &&
	    exit_handlers[reason])
		return exit_handlers[reason](v);
	vcpu_dump(v);
	vm_stop(v->vm, 1, "vcpu %u: unexpected KVM exit reason %u", v->index, reason);
	return EXIT_STOP;
}

/* ---- interrupts --------------------------------------------------------- */

static void handle_events(struct vcpu *v)
{
	struct lapic_events ev = { 0 };

	lapic_poll(v->lapic, vcpu_now_ns(), &ev);
	if (ev.flags & LAPIC_EV_INIT) {
		lapic_reset(v->lapic, true);
		v->extint_pending = false;
		v->state = VCPU_WAIT_SIPI;
		pr_debug("vcpu %u: INIT", v->index);
	}
	if ((ev.flags & LAPIC_EV_SIPI) && v->state == VCPU_WAIT_SIPI) {
		if (regs_set_sipi(v->fd, ev.sipi_vector) == 0)
			v->state = VCPU_RUNNABLE;
		pr_debug("vcpu %u: SIPI vector %#x", v->index, ev.sipi_vector);
	}
	if (v->state == VCPU_WAIT_SIPI)
		return;
	if (ev.flags & LAPIC_EV_NMI) {
		if (ioctl(v->fd, KVM_NMI) == 0)
			v->stats.nmis++;
		v->state = VCPU_RUNNABLE;
	}
	if (ev.flags & LAPIC_EV_EXTINT)
		v->extint_pending = true;
}

/* Inject one interrupt if the guest can take it now, else ask KVM to exit
 * when it can. */
static void inject(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	int vector = -1;
	bool pending = v->extint_pending || lapic_get_interrupt(v->lapic) >= 0;

	if (pending && run->ready_for_interrupt_injection && run->if_flag) {
		if (v->extint_pending) {
			v->extint_pending = false;
			vector = pic_ack(v->vm->pic);
		} else {
			vector = lapic_get_interrupt(v->lapic);
			if (vector >= 0)
				lapic_ack(v->lapic, vector);
		}
		if (vector >= 0) {
			struct kvm_interrupt irq = { .irq = (uint32_t)vector };
			if (ioctl(v->fd, KVM_INTERRUPT, &irq) == 0)
				v->stats.injected++;
			else
				pr_warn("vcpu %u: KVM_INTERRUPT %d: %s", v->index,
					vector, strerror(errno));
		}
		pending = v->extint_pending || lapic_get_interrupt(v->lapic) >= 0;
	}
	run->request_interrupt_window = pending;
}

/* Sleep while halted or waiting for SIPI, until kicked or the lapic timer
 * deadline passes. */
static void wait_for_work(struct vcpu *v)
{
	struct timespec ts;

	pthread_mutex_lock(&v->lock);
	while (!__atomic_load_n(&v->kicked, __ATOMIC_SEQ_CST) && !vm_stopping(v->vm)) {
		uint64_t dl = v->timer_deadline;
		if (dl && v->state != VCPU_WAIT_SIPI) {
			if (vcpu_now_ns() >= dl)
				break;
			ts.tv_sec = dl / 1000000000ull;
			ts.tv_nsec = dl % 1000000000ull;
		} else {
			/* Bounded so that a missed wake-up can never hang. */
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
		}
		pthread_cond_timedwait(&v->cond, &v->lock, &ts);
	}
	__atomic_store_n(&v->kicked, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&v->lock);
}

/* A vCPU that only another vCPU can wake. */
static bool is_stuck(struct vcpu *v)
{
	return v->state == VCPU_WAIT_SIPI ||
	       (v->state == VCPU_HALTED && !v->run->if_flag && !v->extint_pending);
}

static void stuck_wait(struct vcpu *v)
{
	struct vm *vm = v->vm;

	/* Only a node that runs every vCPU can tell that the machine is dead;
	 * across nodes this needs the CPU plane's global view. */
	if (__atomic_add_fetch(&vm->stuck, 1, __ATOMIC_SEQ_CST) == vm->nr_vcpus &&
	    __atomic_load_n(&vm->nr_local, __ATOMIC_SEQ_CST) == vm->nr_vcpus)
		vm_stop(vm, 0, "guest halted: every vCPU stopped with interrupts off");
	wait_for_work(v);
	__atomic_sub_fetch(&vm->stuck, 1, __ATOMIC_SEQ_CST);
}

static bool halted_has_work(struct vcpu *v)
{
	/* Interrupts wake HLT only when the guest can take them. */
	if (v->extint_pending && v->run->if_flag)
		return true;
	return v->run->if_flag && lapic_get_interrupt(v->lapic) >= 0;
}

/* ---- moving between nodes ---------------------------------------------- */

bool vcpu_here(const struct vcpu *v)
{
	return __atomic_load_n(&v->vm->local[v->index], __ATOMIC_ACQUIRE);
}

bool vcpu_moving(const struct vcpu *v)
{
	return __atomic_load_n(&v->move_to, __ATOMIC_ACQUIRE) >= 0;
}

void vcpu_request_move(struct vcpu *v, int node)
{
	__atomic_store_n(&v->move_to, node, __ATOMIC_RELEASE);
	vcpu_kick(v);
}

/* What KVM does not keep, ahead of KVM's part (x86/vcpustate.h). */
struct blob_hdr {
	uint32_t magic;
	uint32_t state;			/* enum vcpu_state */
	uint32_t extint_pending;
	uint32_t pad;
	struct lapic_state lapic;
};
#define BLOB_MAGIC 0x55504356u	/* "VCPU" */

size_t vcpu_state_max(const struct vcpu *v)
{
	return v->vm->vstate ? sizeof(struct blob_hdr) + vcpustate_max_size(v->vm->vstate) : 0;
}

int vcpu_save(struct vcpu *v, void *buf, size_t cap, size_t *len)
{
	struct blob_hdr *h = buf;
	uint64_t t0 = vcpu_now_ns();
	size_t klen = 0;
	int err;

	if (!v->vm->vstate)
		return -EOPNOTSUPP;
	if (cap < sizeof(*h))
		return -ENOSPC;
	err = vcpustate_save(v->vm->vstate, v->fd, v->vm->tsc_offset,
			     (uint8_t *)buf + sizeof(*h), cap - sizeof(*h), &klen);
	if (err)
		return err;
	h->magic = BLOB_MAGIC;
	h->state = v->state;
	h->extint_pending = v->extint_pending;
	h->pad = 0;
	/* Last: from here on, deliveries go after the vCPU. */
	lapic_depart(v->lapic, vcpu_now_ns(), &h->lapic);
	v->extint_pending = false;
	__atomic_store_n(&v->vm->local[v->index], false, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&v->vm->nr_local, 1, __ATOMIC_SEQ_CST);
	*len = sizeof(*h) + klen;
	v->stats.last_save_ns = vcpu_now_ns() - t0;
	return 0;
}

int vcpu_arrive(struct vcpu *v, const void *buf, size_t len)
{
	const struct blob_hdr *h = buf;
	void *kvm_part;

	if (!v->vm->vstate)
		return -EOPNOTSUPP;
	if (len < sizeof(*h) || h->magic != BLOB_MAGIC || h->state > VCPU_WAIT_SIPI ||
	    h->extint_pending > 1 || vcpu_here(v))
		return -EINVAL;
	/* KVM's part is loaded by the vCPU's own thread: loading MSRs makes
	 * KVM touch guest memory (kvmclock, steal time), which may fault on
	 * a page another node holds, and the caller here is the thread that
	 * receives that page. */
	kvm_part = malloc(len - sizeof(*h));
	if (!kvm_part)
		return -ENOMEM;
	memcpy(kvm_part, (const uint8_t *)buf + sizeof(*h), len - sizeof(*h));
	pthread_mutex_lock(&v->lock);
	free(v->incoming);
	v->incoming = kvm_part;
	v->incoming_len = len - sizeof(*h);
	__atomic_store_n(&v->arrived, 1, __ATOMIC_RELEASE);
	/* A request made here before it left is stale now. */
	__atomic_store_n(&v->move_to, -1, __ATOMIC_RELEASE);
	v->state = (enum vcpu_state)h->state;
	v->extint_pending = h->extint_pending;
	lapic_arrive(v->lapic, vcpu_now_ns(), &h->lapic);
	__atomic_add_fetch(&v->vm->nr_local, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&v->vm->local[v->index], true, __ATOMIC_RELEASE);
	v->kicked = 1;
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

/* Not here: sleep until the vCPU arrives (or the VM stops), then load
 * what KVM keeps of it. Also when it is back before this thread, having
 * sent it away, got here. */
static void wait_away(struct vcpu *v)
{
	struct kvm_regs regs;
	struct timespec ts;
	uint64_t t0, load_ns;
	void *kvm_part;
	size_t len;
	int err;

	pthread_mutex_lock(&v->lock);
	while (!vcpu_here(v) && !vm_stopping(v->vm)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&v->cond, &v->lock, &ts);
	}
	kvm_part = v->incoming;
	len = v->incoming_len;
	v->incoming = NULL;
	__atomic_store_n(&v->arrived, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&v->lock);
	if (!vcpu_here(v) || !kvm_part)
		return;
	t0 = vcpu_now_ns();
	err = vcpustate_restore(v->vm->vstate, v->fd, v->vm->tsc_offset, kvm_part, len);
	free(kvm_part);
	load_ns = vcpu_now_ns() - t0;
	if (!err && ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		err = -errno;
	if (err) {
		vm_stop(v->vm, 1, "vcpu %u arrived but its state could not be loaded: %s",
			v->index, strerror(-err));
		return;
	}
	/* The run loop reads IF and the injection window from kvm_run before
	 * the next KVM_RUN, and this fd's kvm_run still describes its own
	 * last run (or none: zeros), which would make a vCPU that left
	 * halted with interrupts on look stuck for good. IF from the state;
	 * the window unknown, so inject() asks KVM for one. */
	v->run->if_flag = (regs.rflags & (1u << 9)) != 0;
	v->run->ready_for_interrupt_injection = 0;
	lapic_resume(v->lapic);
	pr_info("vcpu %u arrived: state loaded in %llu us", v->index,
		(unsigned long long)load_ns / 1000);
}

/* KVM finishes the instruction of the last exit (the data of an I/O read
 * goes into its register) at the next KVM_RUN, which immediate_exit makes
 * return before the guest runs. It may instead stop at a new exit: the
 * next part of a string I/O or of a split MMIO access; handle those the
 * same way until it returns with nothing left to finish. Before the CPU
 * plane's lock is taken: a completion can write guest memory, and so wait
 * for a page from another node. 0, or -EAGAIN to give up the move (the
 * guest stopped, or it keeps exiting). */
static int finish_last_exit(struct vcpu *v)
{
	for (int i = 0; i < 1024; i++) {
		int r;

		v->run->immediate_exit = 1;
		r = ioctl(v->fd, KVM_RUN, 0);
		v->run->immediate_exit = 0;
		if (r < 0)
			return errno == EINTR || errno == EAGAIN ? 0 : -errno;
		if (dispatch_exit(v) == EXIT_STOP || vm_stopping(v->vm))
			return -EAGAIN;
	}
	return -EAGAIN;
}

static void move_out(struct vcpu *v)
{
	int node = __atomic_exchange_n(&v->move_to, -1, __ATOMIC_ACQ_REL);
	int err;

	if (node < 0 || !v->vm->hooks.move_out)
		return;
	err = finish_last_exit(v);
	if (!err)
		err = v->vm->hooks.move_out(v->vm->hooks_opaque, v, (unsigned)node);
	if (err)
		pr_warn("vcpu %u cannot move to node %d, stays here: %s", v->index, node,
			strerror(-err));
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;

	cur_run = v->run;
	sigemptyset(&set);
	sigaddset(&set, kick_signal);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!vm_stopping(v->vm)) {
		if (!vcpu_here(v) || __atomic_load_n(&v->arrived, __ATOMIC_ACQUIRE)) {
			wait_away(v);
			continue;
		}
		if (__atomic_load_n(&v->move_to, __ATOMIC_ACQUIRE) >= 0) {
			move_out(v);
			continue;
		}
		__atomic_store_n(&v->kicked, 0, __ATOMIC_SEQ_CST);
		handle_events(v);
		if (v->state == VCPU_WAIT_SIPI) {
			stuck_wait(v);
			continue;
		}
		if (v->state == VCPU_HALTED) {
			if (!halted_has_work(v)) {
				if (is_stuck(v))
					stuck_wait(v);
				else
					wait_for_work(v);
				continue;
			}
			v->state = VCPU_RUNNABLE;
		}
		inject(v);
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			int err = errno;
			v->run->immediate_exit = 0;
			take_rip_sample(v);
			if (err == EINTR || err == EAGAIN) {
				v->stats.intr_exits++;
				continue;
			}
			vcpu_dump(v);
			vm_stop(v->vm, 1, "vcpu %u: KVM_RUN failed: %s", v->index,
				strerror(err));
			break;
		}
		v->run->immediate_exit = 0;
		take_rip_sample(v);
		if (dispatch_exit(v) == EXIT_STOP)
			break;
	}
	cur_run = NULL;
	return NULL;
}

static void *vcpu_thread_start(void *arg)
{
	struct vcpu *v = arg;
	struct sigevent sev = { 0 };

	v->tid = (pid_t)syscall(SYS_gettid);
	/* A vCPU that spins (waiting for a lock another node's vCPU holds)
	 * must not starve the threads that serve page requests and forwarded
	 * interrupts for the rest of the cluster: on a busy host they would
	 * wait a whole time slice behind it. So vCPU threads run at a lower
	 * CFS weight than the node's service threads. Where this node's vCPUs
	 * alone fill the host's CPUs and other nodes depend on it, even that
	 * is too slow: a woken service thread waits for the vCPU's slice to
	 * end (milliseconds per remote fault, measured in the lab), so there
	 * they run SCHED_IDLE, which any service thread preempts at once. */
	if (v->vm->nr_local < v->vm->nr_vcpus &&
	    sysconf(_SC_NPROCESSORS_ONLN) <= (long)v->vm->nr_local) {
		struct sched_param sp = { 0 };

		if (sched_setscheduler((pid_t)v->tid, SCHED_IDLE, &sp) < 0)
			pr_debug("vcpu %u: SCHED_IDLE: %s", v->index, strerror(errno));
	} else if (setpriority(PRIO_PROCESS, (id_t)v->tid, VCPU_NICE) < 0) {
		pr_debug("vcpu %u: setpriority: %s", v->index, strerror(errno));
	}
	/* The lapic timer signals this very thread, so an expiry during
	 * KVM_RUN forces an exit just like a kick. */
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = kick_signal;
	sev._sigev_un._tid = v->tid;
	if (timer_create(CLOCK_MONOTONIC, &sev, &v->timer) == 0) {
		v->timer_valid = true;
		if (v->timer_deadline)
			cb_arm_timer(v, v->timer_deadline);
	} else {
		pr_warn("vcpu %u: timer_create: %s", v->index, strerror(errno));
	}
	return vcpu_thread(v);
}

int vcpu_start(struct vcpu *v)
{
	sigset_t set, old;
	int err;

	/* Block the kick signal in the new thread until its handler state is
	 * ready; vcpu_thread unblocks it. */
	sigemptyset(&set);
	sigaddset(&set, kick_signal);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	err = pthread_create(&v->thread, NULL, vcpu_thread_start, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	v->started = true;
	return 0;
}

void vcpu_join(struct vcpu *v)
{
	if (v->started) {
		pthread_join(v->thread, NULL);
		v->started = false;
	}
}
