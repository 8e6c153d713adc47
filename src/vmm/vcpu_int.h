/* Inside a vCPU (src/vmm/vcpu*.c only): what the run loop (vcpu.c), the
 * exit handlers (vcpu_exit.c) and a move's two ends (vcpu_move.c) share.
 * All of it runs on the vCPU's own thread. */
#ifndef AMALGAM_VMM_VCPU_INT_H
#define AMALGAM_VMM_VCPU_INT_H

#include "vmm/vcpu.h"

/* The exit KVM_RUN returned with, handled: the state to go on in
 * (RUNNING, HALTED, or STOPPED once it called vm_stop). */
enum vcpu_state vcpu_dispatch_exit(struct vcpu *v);

/* LEAVING: take the request, let KVM finish the last exit, have the move_out
 * hook send the vCPU. AWAY once it is gone, else v->resume (it stays). */
enum vcpu_state vcpu_leave(struct vcpu *v);
/* ARRIVED: empty the arrival slot and load KVM's part into this fd. The
 * state the vCPU left the other node in, or STOPPED (vm_stop called). */
enum vcpu_state vcpu_load_arrived(struct vcpu *v);

#endif
