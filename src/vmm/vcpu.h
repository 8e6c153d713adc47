/* One vCPU: its KVM fd, its thread and its run loop.
 *
 * The thread is a small state machine: RUNNABLE (in or around KVM_RUN),
 * HALTED (guest executed HLT; sleeps until an interrupt or its timer),
 * WAIT_SIPI (an AP after reset or INIT). Other threads never touch its
 * registers; they post interrupts to its lapic and call vcpu_kick, which
 * wakes a halted vCPU or signals a running one out of KVM_RUN (the signal
 * handler sets kvm_run.immediate_exit, so a kick that lands just before
 * KVM_RUN is not lost). */
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

enum vcpu_state { VCPU_RUNNABLE, VCPU_HALTED, VCPU_WAIT_SIPI };

struct vcpu_stats {
	uint64_t exits, io_exits, mmio_exits, msr_exits, hlt_exits,
		 irq_window_exits, intr_exits, injected, nmis;
	/* How long the last vcpu_save here took, in ns (for the log). */
	uint64_t last_save_ns;
};

struct vcpu {
	struct vm *vm;
	unsigned index;
	uint32_t apic_id;
	int fd;
	struct kvm_run *run;
	struct lapic *lapic;
	int64_t tsc_offset;

	pthread_t thread;
	pid_t tid;
	bool started;
	timer_t timer;
	bool timer_valid;

	/* Owner thread only. */
	enum vcpu_state state;
	bool extint_pending;
	uint64_t timer_deadline;	/* CLOCK_MONOTONIC ns, 0 = none */
	struct vcpu_stats stats;
	/* Where the guest was at the exit after the last vcpu_sample_rip():
	 * for the statistics, to see what a slow guest is doing. */
	uint64_t sampled_rip;
	int rip_wanted;

	/* Moving to another node: the node to go to, -1 none (any thread
	 * sets it and kicks; the vCPU goes at its next exit). */
	int move_to;
	/* KVM's part of an arrived vCPU's state, for its thread to load. */
	void *incoming;			/* under lock */
	size_t incoming_len;
	int arrived;			/* atomic: incoming is there to load */

	/* Halt wait. 'kicked' is also read lock-free by the run loop. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int kicked;
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
/* Is the vCPU running on this node now (any thread)? */
bool vcpu_here(const struct vcpu *v);
/* Has a move been asked for that the vCPU has not made yet (any thread)? */
bool vcpu_moving(const struct vcpu *v);
/* The vCPU's whole state as a blob (vcpustate + halt state + lapic), for
 * move_out, on the owner thread, which has let KVM finish the last exit's
 * instruction first. Only reads KVM's state (never guest memory). Once it
 * returns 0 the vCPU is no longer here: its lapic refuses deliveries (the
 * caller sends them after it) and its thread parks. 0 or -errno; on an
 * error nothing changed. */
int vcpu_save(struct vcpu *v, void *buf, size_t cap, size_t *len);
/* A moved vCPU's blob, on any thread while the vCPU is not here: take its
 * lapic and halt state, mark it here and wake its thread, which loads
 * KVM's part (vm_stop if KVM refuses it). Never touches guest memory, so
 * the thread that receives pages may call it. 0 or -errno (-EINVAL: not a
 * blob). */
int vcpu_arrive(struct vcpu *v, const void *buf, size_t len);
/* Upper bound of a blob. */
size_t vcpu_state_max(const struct vcpu *v);

/* Before vcpu_start: enter the guest at the 64-bit boot protocol's entry
 * (x86/regs.h) rather than wait for a SIPI. 0 or -errno. */
int vcpu_boot64(struct vcpu *v, const struct boot_entry *e);
/* Print general and segment registers to stderr (owner thread or stopped). */
void vcpu_dump(struct vcpu *v);
/* Give this vCPU the TSC offset (guest TSC - host TSC). Before it runs. */
int vcpu_set_tsc_offset(struct vcpu *v, int64_t offset);
/* Process-wide setup (the kick signal). Call once before vcpu_start. */
int vcpu_global_init(void);
uint64_t vcpu_now_ns(void);

#endif
