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
#include "util/confine.h"
#include "util/log.h"
#include "vmm/vcpu_int.h"
#include "vmm/vm.h"
#include "x86/cpuid.h"
#include "x86/regs.h"

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

/* PV EOI's flag: the guest view, so that the memory plane sees our
 * access as the guest's (the flag's page may be on another node). */
static void *cb_guest_ptr(void *opaque, uint64_t gpa, unsigned len)
{
	struct vcpu *v = opaque;

	return guest_mem_gview(&v->vm->mem, gpa, len);
}

static const struct lapic_ops lapic_cbs = {
	.guest_ptr = cb_guest_ptr,
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
	/* vm_create has placed the vCPUs: those on other nodes wait for
	 * theirs to arrive. */
	if (!vm->local[index])
		v->state = VCPU_AWAY;
	else
		v->state = index == 0 ? VCPU_RUNNING : VCPU_WAIT_SIPI;
	v->resume = v->state;
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

int vcpu_boot(struct vcpu *v, const struct boot_entry *e)
{
	int err = regs_set_boot(v->fd, e);

	if (!err && v->state == VCPU_WAIT_SIPI)
		v->state = VCPU_RUNNING;
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
	/* Under the lock, which the thread takes to say it ends: a kick
	 * (e.g. from a device thread after the VM stopped) never signals a
	 * thread that is gone, whose id may be another's by then. */
	if (v->running && cur_run != v->run)
		syscall(SYS_tgkill, getpid(), v->tid, kick_signal);
	pthread_mutex_unlock(&v->lock);
}

/* ---- the guest's states: events, injection, sleeping ---------------------- */

/* The lapic's INIT, SIPI and NMI change the state s the vCPU is in;
 * ExtINT (the PIC's) is kept for injection. */
static enum vcpu_state take_events(struct vcpu *v, enum vcpu_state s)
{
	struct lapic_events ev = { 0 };

	lapic_poll(v->lapic, vcpu_now_ns(), &ev);
	if (ev.flags & LAPIC_EV_INIT) {
		lapic_reset(v->lapic, true);
		v->extint_pending = false;
		s = VCPU_WAIT_SIPI;
		pr_debug("vcpu %u: INIT", v->index);
	}
	if ((ev.flags & LAPIC_EV_SIPI) && s == VCPU_WAIT_SIPI) {
		if (regs_set_sipi(v->fd, ev.sipi_vector) == 0)
			s = VCPU_RUNNING;
		pr_debug("vcpu %u: SIPI vector %#x", v->index, ev.sipi_vector);
	}
	if (s == VCPU_WAIT_SIPI)
		return s;
	if (ev.flags & LAPIC_EV_NMI) {
		if (ioctl(v->fd, KVM_NMI) == 0)
			v->stats.nmis++;
		s = VCPU_RUNNING;
	}
	if (ev.flags & LAPIC_EV_EXTINT)
		v->extint_pending = true;
	return s;
}

/* What each of the guest's states does first: a move request goes before
 * anything else (LEAVING, which saves s); then the kick flag is cleared,
 * so that a kick from now on is seen (by the sleep, or by KVM_RUN through
 * immediate_exit), and the lapic's events may change the state. */
static enum vcpu_state step_in(struct vcpu *v, enum vcpu_state s)
{
	if (__atomic_load_n(&v->move_to, __ATOMIC_ACQUIRE) >= 0) {
		v->resume = s;
		return VCPU_LEAVING;
	}
	if (vm_paused(v->vm)) {
		v->resume = s;
		return VCPU_PAUSED;
	}
	__atomic_store_n(&v->kicked, 0, __ATOMIC_SEQ_CST);
	return take_events(v, s);
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

/* Sleep while halted or waiting for SIPI, until kicked or (halted) the
 * lapic timer deadline passes. */
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

/* A vCPU that only another vCPU can wake (waiting for SIPI, or halted
 * with interrupts off) counts itself in vm->stuck while it sleeps. */
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

/* ---- one function per state, each returning the next ---------------------- */

static enum vcpu_state st_running(struct vcpu *v)
{
	enum vcpu_state next = step_in(v, VCPU_RUNNING);
	int err;

	if (next != VCPU_RUNNING)
		return next;
	inject(v);
	lapic_pv_eoi_enter(v->lapic);
	if (ioctl(v->fd, KVM_RUN, 0) < 0) {
		err = errno;
		lapic_pv_eoi_exit(v->lapic);
		v->run->immediate_exit = 0;
		take_rip_sample(v);
		if (err == EINTR || err == EAGAIN) {
			v->stats.intr_exits++;
			return VCPU_RUNNING;
		}
		vcpu_dump(v);
		vm_stop(v->vm, 1, "vcpu %u: KVM_RUN failed: %s", v->index, strerror(err));
		return VCPU_STOPPED;
	}
	lapic_pv_eoi_exit(v->lapic);
	v->run->immediate_exit = 0;
	take_rip_sample(v);
	return vcpu_dispatch_exit(v);
}

static enum vcpu_state st_halted(struct vcpu *v)
{
	enum vcpu_state next = step_in(v, VCPU_HALTED);

	if (next != VCPU_HALTED)
		return next;
	/* Interrupts wake HLT only when the guest can take them. */
	if (v->run->if_flag &&
	    (v->extint_pending || lapic_get_interrupt(v->lapic) >= 0))
		return VCPU_RUNNING;
	if (!v->run->if_flag && !v->extint_pending)
		stuck_wait(v);
	else
		wait_for_work(v);
	return VCPU_HALTED;
}

static enum vcpu_state st_wait_sipi(struct vcpu *v)
{
	enum vcpu_state next = step_in(v, VCPU_WAIT_SIPI);

	if (next != VCPU_WAIT_SIPI)
		return next;
	stuck_wait(v);
	return VCPU_WAIT_SIPI;
}

/* vm_pause: sleep until vm_resume (which kicks), then go on as before.
 * A move asked for meanwhile is made at once: a paused vCPU may move. */
static enum vcpu_state st_paused(struct vcpu *v)
{
	struct timespec ts;

	if (__atomic_load_n(&v->move_to, __ATOMIC_ACQUIRE) >= 0)
		return VCPU_LEAVING;
	if (!vm_paused(v->vm))
		return v->resume;
	/* Not wait_for_work: a LAPIC timer that falls due must not wake it. */
	pthread_mutex_lock(&v->lock);
	if (!__atomic_load_n(&v->kicked, __ATOMIC_SEQ_CST) && !vm_stopping(v->vm)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&v->cond, &v->lock, &ts);
	}
	__atomic_store_n(&v->kicked, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&v->lock);
	return VCPU_PAUSED;
}

static enum vcpu_state st_leaving(struct vcpu *v)
{
	return vcpu_leave(v);
}

/* Sleep until the vCPU's state arrives (vcpu_arrive fills the slot), also
 * when it came back before this thread, having sent it away, got here. */
static enum vcpu_state st_away(struct vcpu *v)
{
	struct timespec ts;
	bool arrived;

	pthread_mutex_lock(&v->lock);
	while (!v->incoming && !vm_stopping(v->vm)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&v->cond, &v->lock, &ts);
	}
	arrived = v->incoming != NULL;
	pthread_mutex_unlock(&v->lock);
	return arrived ? VCPU_ARRIVED : VCPU_STOPPED;
}

static enum vcpu_state st_arrived(struct vcpu *v)
{
	return vcpu_load_arrived(v);
}

typedef enum vcpu_state (*state_fn)(struct vcpu *v);

static const state_fn state_fns[] = {
	[VCPU_RUNNING] = st_running,
	[VCPU_HALTED] = st_halted,
	[VCPU_WAIT_SIPI] = st_wait_sipi,
	[VCPU_LEAVING] = st_leaving,
	[VCPU_AWAY] = st_away,
	[VCPU_ARRIVED] = st_arrived,
	[VCPU_PAUSED] = st_paused,
};

const char *vcpu_state_name(enum vcpu_state s)
{
	static const char *const names[] = {
		[VCPU_RUNNING] = "running", [VCPU_HALTED] = "halted",
		[VCPU_WAIT_SIPI] = "wait_sipi", [VCPU_LEAVING] = "leaving",
		[VCPU_AWAY] = "away", [VCPU_ARRIVED] = "arrived",
		[VCPU_STOPPED] = "stopped", [VCPU_PAUSED] = "paused",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) && names[s] ? names[s] : "?";
}

/* The vCPU's thread: the state machine, until the VM stops. */
static void run(struct vcpu *v)
{
	sigset_t set;

	cur_run = v->run;
	sigemptyset(&set);
	sigaddset(&set, kick_signal);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	pthread_mutex_lock(&v->lock);
	v->running = true;
	pthread_mutex_unlock(&v->lock);
	while (v->state != VCPU_STOPPED && !vm_stopping(v->vm))
		v->state = state_fns[v->state](v);
	v->state = VCPU_STOPPED;
	pthread_mutex_lock(&v->lock);
	v->running = false;
	pthread_mutex_unlock(&v->lock);
	cur_run = NULL;
}

/* ---- the thread ------------------------------------------------------------ */
static void *vcpu_thread_start(void *arg)
{
	struct vcpu *v = arg;
	struct sigevent sev = { 0 };

	__atomic_store_n(&v->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
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
	confine_thread(CONFINE_VCPU, v->index);
	run(v);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	sigset_t set, old;
	int err;

	/* Block the kick signal in the new thread until its handler state is
	 * ready; run() unblocks it. */
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

