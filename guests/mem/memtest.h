/* Shared scaffolding of the memory-plane tests in guests/mem/.
 *
 * They run in start-all mode (startall.h), usually one or two vCPUs per
 * node: amalgam run --nodes K --start all --place ... The BSP drives the
 * test in phases: mem_phase() runs fn(cpu) in ring 3 on every CPU at once
 * and waits for all of them, then the BSP checks the results in shared
 * memory and reports; the other CPUs wait for the next phase (halting,
 * polling every millisecond). Only the BSP prints.
 *
 * Command-line words every test understands:
 *   nodes=K   how many nodes amalgam runs (for home_page(); default 1)
 *   home=N    the node whose home range test variables come from (default
 *             the last node), for tests that use home_page()
 */
#ifndef GUEST_MEM_MEMTEST_H
#define GUEST_MEM_MEMTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "libguest.h"

/* CPUs running (nr_cpus once mem_start() succeeded). */
extern unsigned mem_cpus;
/* fn's return value on each CPU in the last phase (0 = fine, by
 * convention; a test may return counts). */
extern uint64_t mem_result[MAX_CPUS];

/* Start every vCPU (start_all) and report whether all came up within
 * timeout_ms. On failure the test should stop (return report_summary()). */
bool mem_start(unsigned timeout_ms);
/* Run fn(cpu) in ring 3 on every CPU, the BSP included, and wait up to
 * timeout_ms for all to return. Reports a failure (naming the phase and the
 * CPUs still busy) and returns false if they did not. The TSC cycles the
 * BSP spent in fn are in mem_phase_cycles. */
bool mem_phase(const char *name, uint64_t (*fn)(uint64_t cpu),
	       unsigned timeout_ms);
extern uint64_t mem_phase_cycles;
/* The same in ring 0 (interrupts off): every instruction emulated under
 * PVM, so every memory access is KVM's own. fn must not use mem_sync() or
 * wait_user(), which are for ring 3. */
bool mem_phase_ring0(const char *name, uint64_t (*fn)(uint64_t cpu),
		     unsigned timeout_ms);

/* Ring 3: a barrier of every CPU (mem_cpus) with a generous deadline;
 * false if it passed (the caller should return an error). */
bool mem_sync(void);

/* cmdline nodes=K, home=N. */
unsigned mem_nodes(void);
unsigned mem_home(void);
/* The address of page index (0, 1, ...) counted down from the end of
 * node's home range (guest RAM split evenly among the nodes, as amalgam
 * does). These pages are never part of the image or the kit, start zero
 * and are never touched by anyone before the test: do not combine them
 * with large alloc()s, which grow up from the image. NULL if out of RAM. */
void *home_page(unsigned node, unsigned index);

/* A working set of pages page addresses spread round-robin over every
 * node's home range (page i is home_page(i % K, i / K)), in an array from
 * alloc(); NULL if they do not fit in RAM. */
uint64_t **mem_spread_pages(uint32_t pages);

/* Word i of a working set written with seed: a new seed per pass, so a
 * stale page cannot pass a check. */
static inline uint64_t mem_pattern(uint64_t i, uint64_t seed)
{
	return i * 0x9e3779b97f4a7c15ull + seed;
}

/* xorshift64 for jitter, any ring. */
static inline uint64_t mem_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Ring 3: spin for about us microseconds. */
static inline void mem_delay_us(uint64_t us)
{
	uint64_t end = rdtsc() + us_to_tsc(us);

	while (rdtsc() < end)
		pause();
}

#endif
