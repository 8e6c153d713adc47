/* The KVM VM of one node: the VM fd, guest RAM, the I/O registry, the
 * interrupt controllers and the vCPUs. It is the owner of those parts, not
 * a bag every module reaches into: devices get an iobus and irq lines,
 * vCPUs get the few things listed here.
 *
 * Lifecycle: vm_create -> (load guest, add devices) -> vm_start ->
 * vm_wait (returns when something called vm_stop) -> vm_destroy. */
#ifndef AMALGAM_VMM_VM_H
#define AMALGAM_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/iobus.h"
#include "hw/mem.h"
#include "irq/apicbus.h"
#include "x86/topo.h"

#define VM_MAX_VCPUS 64

struct iobus;
struct apicbus;
struct ioapic;
struct pic;
struct vcpu;
struct lapic_route;
struct kvm_cpuid2;
struct vcpustate_ctx;

struct vm_config {
	unsigned nr_vcpus;
	uint64_t mem_size;
	/* Which vCPUs run here: place[i] is vCPU i's node; self is this node.
	 * Every node creates every vCPU fd; it runs only its own. */
	unsigned self;
	const uint8_t *place;		/* NULL: all here */
	/* The PIC and IOAPIC live on the devices' node only; elsewhere their
	 * addresses fall through to the I/O forwarder. */
	bool remote_devices;
	/* Hide kvmclock: Linux keeps every CPU's kvmclock structure in one
	 * page that each node's KVM writes for its own vCPUs; without a KVM
	 * master clock it does so at every vCPU load, and across nodes that
	 * page would bounce (node/node.c decides). The guest then uses the
	 * invariant TSC (one offset everywhere). */
	bool hide_kvmclock;
};

/* The one way a plane hooks into the VM: given to vm_create and fixed from
 * then on, so that no plane writes the VM's struct (nor a vCPU's). The
 * node fills it, as it wires every plane; a member left NULL is a feature
 * this node does without. All are called with no lock of the VM held. */
struct vm_hooks {
	/* The first vm_stop (e.g. to tell the other nodes). Any thread. */
	void (*stopped)(void *opaque, int status, const char *reason);
	/* Send vCPU v to node 'node' (vcpu_request_move): on v's thread, the
	 * last exit's instruction finished; it calls vcpu_save. 0 once the
	 * vCPU is gone, else -errno and it stays. NULL: vCPUs never move. */
	int (*move_out)(void *opaque, struct vcpu *v, unsigned node);
	/* vCPU v's routing registers changed here (lapic_ops.route_changed),
	 * for the other nodes' copies. On v's thread. */
	void (*route_changed)(void *opaque, struct vcpu *v, const struct lapic_route *r);
	/* An APIC message for vCPUs that run on other nodes
	 * (apicbus_set_forward). Any thread. */
	apicbus_forward_fn irq_out;
	/* Only with vm_config.remote_devices, for the devices' node: a port or
	 * MMIO access no device here claims (iobus_set_fallback), and the EOI
	 * of a level-triggered vector (its IOAPIC is there). On the vCPU's
	 * thread. */
	io_fallback_fn io_out;
	void (*eoi)(void *opaque, uint8_t vector);
	/* A device here is about to read (write false) or write guest RAM
	 * [gpa, gpa + len), one range inside RAM: ask the memory plane for
	 * what this node does not hold, without waiting. Any thread; NULL:
	 * every page is here. */
	void (*prefetch)(void *opaque, uint64_t gpa, uint64_t len, bool write);
};

struct vm {
	int kvm_fd;
	int vm_fd;
	int run_size;			/* mmap size of struct kvm_run */
	struct guest_mem mem;
	struct iobus *iobus;
	struct apicbus *apicbus;
	struct ioapic *ioapic;
	struct pic *pic;
	struct kvm_cpuid2 *cpuid;	/* template, patched per vCPU */
	uint64_t tsc_khz;
	bool hide_kvmclock;
	/* One TSC for every vCPU: the offset (guest TSC - host TSC) of vCPU 0,
	 * imposed on the others at creation. */
	int64_t tsc_offset;
	unsigned nr_vcpus;
	struct topo topo;		/* APIC ids, packages = nodes */
	/* vCPUs that run on this node now (atomic). Written at creation, then
	 * by a vCPU's moves, under the lock that orders them (the CPU
	 * plane's): vcpu_save on the vCPU's own thread as it leaves,
	 * vcpu_arrive on the thread that receives it. */
	unsigned nr_local;
	bool local[VM_MAX_VCPUS];
	struct vcpu *vcpus[VM_MAX_VCPUS];

	/* Moving vCPUs (several nodes only): what a vCPU's state is made of
	 * here; NULL when vCPUs cannot move. */
	struct vcpustate_ctx *vstate;
	bool remote_devices;
	/* Fixed by vm_create. */
	struct vm_hooks hooks;
	void *hooks_opaque;

	/* vCPUs that nothing but an IPI from another vCPU can wake (waiting for
	 * SIPI, or halted with interrupts off). When it reaches nr_vcpus the
	 * machine is dead: that is how a guest without ACPI powers off.
	 * Atomic: each vCPU thread counts itself in and out as it sleeps. */
	unsigned stuck;

	/* vm_pause/vm_resume (atomic): the vCPUs here sleep in PAUSED. */
	bool paused;

	/* Stop state: the first vm_stop wins and fixes the exit status. */
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopping;
	int exit_status;
	char stop_reason[160];
};

/* Opens /dev/kvm and creates the VM, RAM, interrupt controllers and vCPUs,
 * hooked to the planes above through 'hooks' (copied; NULL: none), which
 * get 'opaque'. Errors: -ENOENT/-EACCES for /dev/kvm, -EINVAL for bad
 * sizes. */
int vm_create(struct vm *vm, const struct vm_config *cfg,
	      const struct vm_hooks *hooks, void *opaque);
void vm_destroy(struct vm *vm);

/* Route GSI 'gsi' to the PIC (if < 16) and the IOAPIC: an irq_line set fn. */
void vm_set_irq(void *vm, unsigned gsi, int level);

/* Adopt a TSC offset for every vCPU (before they run). */
int vm_set_tsc_offset(struct vm *vm, int64_t offset);

int vm_start(struct vm *vm);
/* Ask every vCPU to stop; 'status' becomes the process exit status. Any
 * thread; only the first call counts. */
void vm_stop(struct vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool vm_stopping(struct vm *vm);
/* Pause or resume every vCPU running here (any thread): each goes to
 * PAUSED at its next step and back to its state on resume. A vCPU that
 * arrives while paused pauses too. Guest time (the TSC) goes on. */
void vm_pause(struct vm *vm, bool paused);
bool vm_paused(struct vm *vm);
/* Block until vm_stop; returns the exit status. */
int vm_wait_stopped(struct vm *vm);
/* Join the vCPU threads (after anything that blocks them was released). */
void vm_join(struct vm *vm);
/* Both. */
int vm_wait(struct vm *vm);

#endif
