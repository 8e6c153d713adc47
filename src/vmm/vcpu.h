/* One vCPU: its KVM fd, its thread and its run loop.
 *
 * The thread is an explicit state machine (enum vcpu_state): vcpu.c's
 * run loop calls the function of the current state, which returns the
 * next. RUNNING, HALTED and WAIT_SIPI are the guest's (and what travels
 * with a vCPU that moves); LEAVING, AWAY and ARRIVED are a move's:
 *
 *   RUNNING <-> HALTED, WAIT_SIPI    (HLT; interrupts, INIT, SIPI, NMI)
 *   any of those -> LEAVING           (a move request in the slot)
 *   LEAVING -> AWAY                   (the CPU plane sent its state)
 *   LEAVING -> where it was           (the move failed: it stays)
 *   AWAY -> ARRIVED                   (vcpu_arrive filled the arrival slot)
 *   ARRIVED -> RUNNING, HALTED, WAIT_SIPI (as it left the other node)
 *   RUNNING, HALTED, WAIT_SIPI -> PAUSED (vm_pause; back with vm_resume)
 *   any -> STOPPED                    (the VM stops)
 *
 * Only the thread writes its state. Other threads never touch the vCPU's
 * registers: they post interrupts to its lapic and call vcpu_kick, which
 * wakes a sleeping thread or signals a running one out of KVM_RUN (the
 * signal handler sets kvm_run.immediate_exit, so a kick that lands just
 * before KVM_RUN is not lost); they ask it to move through one request
 * slot (vcpu_request_move), and hand it a moved vCPU's state through one
 * arrival slot (vcpu_arrive). */
#ifndef AMALGAM_VMM_VCPU_H
#define AMALGAM_VMM_VCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

struct vm;
struct lapic;
struct kvm_run;
struct boot_entry;

/* The first three travel in a moved vCPU's state: their values are fixed. */
enum vcpu_state {
	VCPU_RUNNING = 0,	/* in or around KVM_RUN */
	VCPU_HALTED = 1,	/* the guest executed HLT: sleeps until an interrupt */
	VCPU_WAIT_SIPI = 2,	/* an AP after reset or INIT: only a SIPI wakes it */
	VCPU_LEAVING,		/* asked to move: finish the exit, the CPU plane sends it */
	VCPU_AWAY,		/* runs on another node: the thread sleeps */
	VCPU_ARRIVED,		/* its state came back: the thread loads KVM's part */
	VCPU_STOPPED,		/* the VM stops: the thread ends */
	VCPU_PAUSED,		/* vm_pause: sleeps until vm_resume, then as it was */
};

/* "running", "halted", ... for logs and the API. */
const char *vcpu_state_name(enum vcpu_state s);

struct vcpu_stats {
	uint64_t exits, io_exits, mmio_exits, msr_exits, hlt_exits,
		 irq_window_exits, intr_exits, injected, nmis;
	/* How long the last vcpu_save here took, in ns (for the log). */
	uint64_t last_save_ns;
};

struct vcpu {
	/* Fixed at creation. */
	struct vm *vm;
	unsigned index;
	uint32_t apic_id;
	int fd;
	struct kvm_run *run;		/* the thread's (kicks: immediate_exit) */
	struct lapic *lapic;		/* any thread delivers (its own lock) */
	/* The main thread, before the vCPU runs (vcpu_set_tsc_offset). */
	int64_t tsc_offset;

	/* The main thread only (vcpu_start, vcpu_join). */
	pthread_t thread;
	bool started;
	/* The vCPU's thread, once as it starts (tid 0 until then: others
	 * read it, atomic). */
	pid_t tid;
	timer_t timer;
	bool timer_valid;

	/* The vCPU's thread only (and the main thread before it starts:
	 * vcpu_create, vcpu_boot). */
	enum vcpu_state state;
	/* What LEAVING saves and falls back to if the move fails, and what
	 * PAUSED goes back to: RUNNING, HALTED or WAIT_SIPI. */
	enum vcpu_state resume;
	bool extint_pending;
	/* The lapic's next timer event (CLOCK_MONOTONIC ns, 0 = none), set
	 * through its arm_timer callback, which runs on this thread. */
	uint64_t timer_deadline;
	/* Others read them for statistics (a torn counter is harmless). */
	struct vcpu_stats stats;

	/* The RIP sample: any thread asks (rip_wanted = 1), the vCPU's thread
	 * clears it and writes sampled_rip (both atomic). */
	uint64_t sampled_rip;
	int rip_wanted;

	/* The request slot (atomic): the node to move to, -1 none. Any thread
	 * puts a request (vcpu_request_move), the vCPU's thread takes it
	 * (RUNNING, HALTED or WAIT_SIPI -> LEAVING), and the thread that
	 * receives the vCPU clears it (vcpu_arrive: a request made here before
	 * the vCPU left is stale). */
	int move_to;

	/* Wake-ups and the arrival slot. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock: the thread sets it once it can take the kick signal and
	 * clears it as it ends, so that kicks signal it (by tid) only while
	 * it exists. */
	bool running;
	/* Any thread sets it (vcpu_kick); the vCPU's thread clears it before
	 * it looks for work, and sleeps only while it is clear (atomic; set
	 * under the lock too, so that a sleeper misses no kick). */
	int kicked;
	/* The arrival slot, under lock: the thread that receives the vCPU
	 * fills it (vcpu_arrive); the vCPU's thread takes it (AWAY ->
	 * ARRIVED) and loads KVM's part itself. */
	void *incoming;
	size_t incoming_len;
	enum vcpu_state incoming_state;
	bool incoming_extint;
};

int vcpu_create(struct vm *vm, unsigned index, struct vcpu **out);
void vcpu_destroy(struct vcpu *v);
int vcpu_start(struct vcpu *v);
void vcpu_join(struct vcpu *v);
/* Ask the vCPU to record its RIP at its next exit (any thread); read it
 * back with vcpu_sampled_rip(), 0 if none yet. */
void vcpu_sample_rip(struct vcpu *v);
uint64_t vcpu_sampled_rip(struct vcpu *v);
/* Any thread: make the vCPU re-examine its pending interrupts. */
void vcpu_kick(struct vcpu *v);
/* Ask the vCPU to move to node 'node' at its next exit (any thread): its
 * thread calls the VM's move_out hook there. */
void vcpu_request_move(struct vcpu *v, int node);
/* Is the vCPU running on this node now (any thread)? From vcpu_arrive
 * on, before its thread has loaded it: interrupts for it go into its
 * lapic here. */
bool vcpu_here(const struct vcpu *v);
/* Has a move been asked for that the vCPU has not made yet (any thread)? */
bool vcpu_moving(const struct vcpu *v);
/* The vCPU's whole state as a blob (vcpustate + halt state + lapic), for
 * the move_out hook, on the vCPU's thread in LEAVING, which has let KVM
 * finish the last exit's instruction first. Only reads KVM's state (never
 * guest memory). Once it returns 0 the vCPU is no longer here: its lapic
 * refuses deliveries (the caller sends them after it) and its thread goes
 * AWAY. The caller holds the lock that orders moves (the CPU plane's).
 * 0 or -errno; on an error nothing changed. */
int vcpu_save(struct vcpu *v, void *buf, size_t cap, size_t *len);
/* A moved vCPU's blob, on any thread while the vCPU is not here, under
 * the lock that orders moves: take its lapic at once (deliveries are
 * accepted from here on), mark it here, and put the rest in the arrival
 * slot for its thread, which loads KVM's part (vm_stop if KVM refuses it)
 * and resumes as the vCPU left. Never touches guest memory, so the thread
 * that receives pages may call it. 0 or -errno (-EINVAL: not a blob). */
int vcpu_arrive(struct vcpu *v, const void *buf, size_t len);
/* Upper bound of a blob. */
size_t vcpu_state_max(const struct vcpu *v);

/* Before vcpu_start: enter the guest at the boot protocol's entry, in
 * long mode or 32-bit protected mode (x86/regs.h), rather than wait for a
 * SIPI. 0 or -errno. */
int vcpu_boot(struct vcpu *v, const struct boot_entry *e);
/* Print general and segment registers to stderr (owner thread or stopped). */
void vcpu_dump(struct vcpu *v);
/* Give this vCPU the TSC offset (guest TSC - host TSC). Before it runs. */
int vcpu_set_tsc_offset(struct vcpu *v, int64_t offset);
/* Process-wide setup (the kick signal). Call once before vcpu_start. */
int vcpu_global_init(void);
uint64_t vcpu_now_ns(void);

#endif
