/* QEMU's isa-debug-exit (`--device isa-debug-exit[,iobase=N][,iosize=N]`,
 * default iobase 0x501, iosize 2): a write of v to any of its ports, of any
 * width, ends the run with status (v << 1) | 1, as QEMU's process exits
 * (so only odd statuses, and exit() keeps the low 8 bits). Reads return 0.
 * Test kernels written for QEMU report through it; our own exit port
 * (testdev.h) stays. No state, no lock: exit_fn may be called
 * concurrently from several vCPU threads and must not mind. */
#ifndef AMALGAM_DEV_DEBUGEXIT_H
#define AMALGAM_DEV_DEBUGEXIT_H

#include <stdint.h>

#define DEBUGEXIT_DEFAULT_IOBASE 0x501
#define DEBUGEXIT_DEFAULT_IOSIZE 2

struct iobus;
struct debugexit;

struct debugexit *debugexit_new(uint16_t iobase, uint8_t iosize,
				void (*exit_fn)(void *opaque, int status), void *opaque);
/* 0, or -EEXIST if the ports are taken by another device. */
int debugexit_register(struct debugexit *d, struct iobus *bus);
void debugexit_free(struct debugexit *d);

/* The status a write of v gives. */
int debugexit_status(uint32_t v);

#endif
