/* The architectural state of one KVM vCPU as a byte blob, for moving a
 * vCPU to another node (DESIGN.md, "vCPU migration"): general registers,
 * SREGS2 (SREGS where KVM lacks it), XSAVE, XCRs, the MSRs KVM can save,
 * pending events, debug registers and the guest's own TSC adjustment.
 * What KVM does not keep (the local APIC, halt state) is the caller's.
 *
 * Both ends are the same VM built the same way on every node (same CPUID on
 * every fd of a vCPU index), so the blob is KVM's own structures back to
 * back behind a small header; restore checks the header and the sizes, and
 * never trusts a count from the blob beyond the bytes it has.
 *
 * The TSC: every node's fds already carry the cluster's one TSC (each host
 * its own offset for it), so the blob carries only what the guest changed
 * on its own (a write to IA32_TSC or TSC_ADJUST moves its vCPU's offset):
 * the offset minus the node's base offset, applied on top of the
 * destination's base. */
#ifndef AMALGAM_X86_VCPUSTATE_H
#define AMALGAM_X86_VCPUSTATE_H

#include <stddef.h>
#include <stdint.h>

#define VCPUSTATE_FORMAT 1

struct vcpustate_ctx;

/* Per VM: which optional ioctls exist and which MSRs to carry (KVM's
 * list, less those the VMM itself owns, probed readable on probe_fd). */
int vcpustate_ctx_new(struct vcpustate_ctx **out, int kvm_fd, int probe_fd);
void vcpustate_ctx_free(struct vcpustate_ctx *c);
/* Upper bound of a blob's size. */
size_t vcpustate_max_size(const struct vcpustate_ctx *c);

/* Save fd's state into buf (cap bytes); *len gets the size. The vCPU must
 * be stopped at a clean exit (no I/O left to complete). base_tsc_offset is
 * this node's offset for the cluster TSC. 0 or -errno (-ENOSPC). */
int vcpustate_save(const struct vcpustate_ctx *c, int fd, int64_t base_tsc_offset,
		   void *buf, size_t cap, size_t *len);
/* Load a blob into fd. -EINVAL for a blob that is not one of ours (bad
 * header, sizes, counts), -errno from KVM otherwise. */
int vcpustate_restore(const struct vcpustate_ctx *c, int fd, int64_t base_tsc_offset,
		      const void *buf, size_t len);

#endif
