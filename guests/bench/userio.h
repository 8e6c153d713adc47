/* Port I/O from ring 3 for the benchmark guests, which time their accesses
 * in ring 3 because ring 0 is emulated (slow) under PVM.
 *
 * The kit's TSS has no I/O permission bitmap and enters ring 3 with
 * IOPL 0, so an in/out from ring 3 raises #GP; PVM also drops IOPL from
 * ring-3 RFLAGS but honours the bitmap. userio_allow() switches the calling
 * CPU to a TSS of its own with a bitmap that opens the given ports. */
#ifndef GUEST_BENCH_USERIO_H
#define GUEST_BENCH_USERIO_H

#include <stdbool.h>
#include <stdint.h>

#define USERIO_CPUS 2		/* CPUs 0 .. USERIO_CPUS-1 can use it */

/* Ring 0, on the CPU concerned: allow ring 3 the ports [port, port + n) on
 * this CPU (the kit's #DF stack is kept; run_user() finds the new TSS
 * through percpu). False if this CPU is not one of the first USERIO_CPUS
 * or the range leaves the port space. */
bool userio_allow(uint16_t port, unsigned n);

#endif
