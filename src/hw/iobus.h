/* One registry for port I/O and MMIO ranges (kvmtool's idea): every device
 * registers its ranges here, and every exit is dispatched through one call.
 * A range's handler may be local or, later, a stub that forwards the access
 * to the node that owns the device: the registry does not care.
 *
 * Ranges are registered before vCPUs start and never removed while they
 * run, so lookups take no lock. Handlers run on vCPU threads concurrently
 * and do their own locking. */
#ifndef AMALGAM_HW_IOBUS_H
#define AMALGAM_HW_IOBUS_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

enum io_space { IO_PIO, IO_MMIO, IO_NR_SPACES };

/* offset is relative to the range's base; data holds len bytes
 * (little-endian). For reads the handler fills data. Returns 0 or -errno;
 * an error is logged by the caller and the access treated as unhandled. */
typedef int (*io_fn)(void *opaque, struct vcpu *vcpu, uint64_t offset,
		     void *data, unsigned len, bool is_write);

struct iobus;

struct iobus *iobus_new(void);
void iobus_free(struct iobus *bus);

/* -EEXIST if the range overlaps one already registered. */
int iobus_register(struct iobus *bus, enum io_space space, uint64_t base,
		   uint64_t len, io_fn fn, void *opaque, const char *name);

/* Dispatch an access. Unclaimed reads return all ones, unclaimed writes are
 * dropped; both are counted. Returns 0, or the handler's error. */
int iobus_access(struct iobus *bus, enum io_space space, struct vcpu *vcpu,
		 uint64_t addr, void *data, unsigned len, bool is_write);

/* Where unclaimed accesses go instead of being dropped: on a node without
 * the devices, to the node that has them. Set before vCPUs start. */
typedef int (*io_fallback_fn)(void *opaque, struct vcpu *vcpu, enum io_space space,
			      uint64_t addr, void *data, unsigned len, bool is_write);
void iobus_set_fallback(struct iobus *bus, io_fallback_fn fn, void *opaque);

/* Name of the device claiming addr, or NULL. */
const char *iobus_owner(struct iobus *bus, enum io_space space, uint64_t addr);

/* The i-th range of a space, by base (for listing devices): false past
 * the last. Ranges never change while vCPUs run, so no lock. */
struct iobus_range {
	uint64_t base, len;
	const char *name;
};
bool iobus_range_at(struct iobus *bus, enum io_space space, unsigned i,
		    struct iobus_range *out);

struct iobus_stats {
	uint64_t accesses[IO_NR_SPACES];
	uint64_t unclaimed[IO_NR_SPACES];
};
void iobus_stats(struct iobus *bus, struct iobus_stats *out);

#endif
