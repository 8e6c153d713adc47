/* Start-all mode (amalgam run --start all): every vCPU starts at the ELF
 * entry point at once, each on the node --place puts it on. The memory
 * tests (guests/mem/) use it: across nodes there are no IPIs yet, so the
 * kit's INIT/SIPI bring-up, on_cpu() and wake_cpu() work only within a node.
 *
 * The BSP (APIC ID 0) boots the kit as usual and runs main(). The others
 * wait in _start, spinning on a flag alone on its page (their first reads
 * across nodes), until main() calls start_all(fn): then each loads the
 * kit's GDT and IDT and its own TSS, enables its LAPIC and runs fn(cpu) in
 * ring 0 with interrupts off, like on_cpu() work; when fn returns, that
 * vCPU halts for good (cli; hlt). Only the BSP should print or exit: the
 * devices of a node serve only that node's vCPUs for now.
 *
 * Waiting across nodes cannot count on a wake-up IPI: poll_until() checks
 * its condition every millisecond (halting on the local LAPIC timer in
 * between), and ring-3 code waits with wait_user(): it spins a little,
 * then naps (user_nap()) between checks. Spinning alone is no good where
 * vCPUs outnumber host cores: a spinning vCPU keeps its host thread busy
 * for a whole time slice while the vCPU it waits for, or its node's
 * protocol threads, wait for a core. */
#ifndef GUEST_STARTALL_H
#define GUEST_STARTALL_H

#include <stdbool.h>
#include <stdint.h>

#include "timing.h"
#include "x86.h"

/* BSP, in main(): release the vCPUs waiting in _start to run fn(cpu) and
 * wait up to timeout_ms until every CPU of the MP table has entered fn.
 * Returns how many CPUs run (the BSP included): nr_cpus on success, 1 if
 * amalgam did not start the others (not in start-all mode). Once only. */
unsigned start_all(void (*fn)(unsigned cpu), unsigned timeout_ms);
/* CPUs that entered fn, the BSP included. */
unsigned start_all_started(void);
/* BSP: wait up to timeout_ms until fn has returned on every started AP.
 * Returns whether it has. */
bool start_all_wait(unsigned timeout_ms);

/* Ring 0: wait until cond holds, checking it every millisecond; false if it
 * still does not after ms (a timeout: scaled by time_scale). */
#define poll_until(cond, ms)                                              \
	({                                                                \
		uint64_t __end = rdtsc() + timeout_to_tsc(ms);            \
		bool __ok;                                                \
		while (!(__ok = (cond)) && rdtsc() < __end)               \
			msleep(1);                                        \
		__ok;                                                     \
	})

/* Any ring (meant for ring 3): spin until cond holds; false if it still
 * does not after ms. Burns the host core meanwhile (see above). */
#define spin_until(cond, ms)                                              \
	({                                                                \
		uint64_t __end = rdtsc() + timeout_to_tsc(ms);            \
		bool __ok;                                                \
		while (!(__ok = (cond)) && rdtsc() < __end)               \
			pause();                                          \
		__ok;                                                     \
	})

/* Ring 3, after start_all(): halt this vCPU for about us microseconds
 * (1..10^6), giving its host core away; interrupts are taken meanwhile.
 * A trap into ring 0 and back: a few hundred emulated instructions under
 * PVM, so nap for longer than that takes. */
void user_nap(uint64_t us);

/* Ring 3, after start_all(): wait until cond holds, spinning for
 * wait_spin_us, then checking between naps that grow from wait_nap_us to
 * wait_nap_max_us; false if cond still does not hold after ms. */
extern uint32_t wait_spin_us, wait_nap_us, wait_nap_max_us;
#define wait_user(cond, ms)                                               \
	({                                                                \
		uint64_t __now = rdtsc(), __end = __now + timeout_to_tsc(ms); \
		uint64_t __spin = __now + us_to_tsc(wait_spin_us);        \
		uint64_t __nap = wait_nap_us;                             \
		bool __ok;                                                \
		while (!(__ok = (cond)) && (__now = rdtsc()) < __end) {   \
			if (__now < __spin) {                             \
				pause();                                  \
				continue;                                 \
			}                                                 \
			user_nap(__nap);                                  \
			if (__nap < wait_nap_max_us)                      \
				__nap *= 2;                               \
		}                                                         \
		__ok;                                                     \
	})

/* A barrier for n CPUs that works in ring 3. The arrival counter and the
 * generation the waiters spin on live on separate pages, so that under a
 * page-granular memory plane the waiters' read-only copies are invalidated
 * once per round, not once per arrival. Zero-initialized or
 * ubarrier_init(). */
struct ubarrier {
	volatile uint32_t count __attribute__((aligned(4096)));
	volatile uint32_t gen __attribute__((aligned(4096)));
};

void ubarrier_init(struct ubarrier *b);
/* Wait (wait_user()) until n CPUs have arrived; false after ms (the
 * barrier is then unusable: the caller should give up). */
bool ubarrier_wait(struct ubarrier *b, unsigned n, unsigned ms);

#endif
