#include "memtest.h"

unsigned mem_cpus = 1;
uint64_t mem_result[MAX_CPUS];
uint64_t mem_phase_cycles;

/* The BSP posts a phase here (fn, then seq); everyone else reads it. Each
 * of these structs fills a page of its own (aligned type: size rounds up). */
static struct {
	volatile uint32_t seq;
	bool ring0;
	uint64_t (*fn)(uint64_t cpu);
} __attribute__((aligned(4096))) post;
/* Phases finished by the APs, cumulative: written by all. */
static struct {
	volatile uint32_t n;
} __attribute__((aligned(4096))) done;
static struct ubarrier sync_bar;

/* Generous: a barrier waits for the slowest CPU of a phase. */
#define SYNC_MS 60000
/* How long an AP waits for the next phase before giving up. */
#define IDLE_MS 600000

static void ap_loop(unsigned cpu)
{
	uint32_t seen = 0;

	for (;;) {
		if (!poll_until(READ_ONCE(post.seq) != seen, IDLE_MS))
			return;
		seen = READ_ONCE(post.seq);
		mem_result[cpu] = post.ring0 ? post.fn(cpu)
					     : run_user(post.fn, cpu);
		atomic_inc(&done.n);
	}
}

bool mem_start(unsigned timeout_ms)
{
	uint64_t t0 = rdtsc();

	wait_spin_us = (uint32_t)cmdline_int("spin", wait_spin_us);
	wait_nap_us = (uint32_t)cmdline_int("nap", wait_nap_us);
	wait_nap_max_us = (uint32_t)cmdline_int("napmax", wait_nap_max_us);
	mem_cpus = start_all(ap_loop, timeout_ms);
	report(mem_cpus == nr_cpus, "start-all: %u of %u vCPUs running",
	       mem_cpus, nr_cpus);
	report_info("start-all: %u vCPUs up after %lu ms", mem_cpus,
		    tsc_to_us(rdtsc() - t0) / 1000);
	return mem_cpus == nr_cpus;
}

static bool phase(const char *name, uint64_t (*fn)(uint64_t cpu),
		  unsigned timeout_ms, bool ring0)
{
	uint32_t seq = post.seq + 1;
	uint32_t want = seq * (mem_cpus - 1);
	uint64_t t0;
	bool ok;

	post.fn = fn;
	post.ring0 = ring0;
	barrier();
	WRITE_ONCE(post.seq, seq);
	t0 = rdtsc();
	mem_result[0] = ring0 ? fn(0) : run_user(fn, 0);
	mem_phase_cycles = rdtsc() - t0;
	ok = poll_until(READ_ONCE(done.n) == want, timeout_ms);
	if (!ok)
		report(false, "phase %s: only %u of %u other CPUs finished in %u ms",
		       name, READ_ONCE(done.n) - (seq - 1) * (mem_cpus - 1),
		       mem_cpus - 1, timeout_ms);
	return ok;
}

bool mem_phase(const char *name, uint64_t (*fn)(uint64_t cpu),
	       unsigned timeout_ms)
{
	return phase(name, fn, timeout_ms, false);
}

bool mem_phase_ring0(const char *name, uint64_t (*fn)(uint64_t cpu),
		     unsigned timeout_ms)
{
	return phase(name, fn, timeout_ms, true);
}

bool mem_sync(void)
{
	return ubarrier_wait(&sync_bar, mem_cpus, SYNC_MS);
}

unsigned mem_nodes(void)
{
	long k = cmdline_int("nodes", 1);

	return k < 1 ? 1 : (unsigned)k;
}

unsigned mem_home(void)
{
	long h = cmdline_int("home", (long)mem_nodes() - 1);

	return h < 0 || h >= (long)mem_nodes() ? mem_nodes() - 1 : (unsigned)h;
}

void *home_page(unsigned node, unsigned index)
{
	uint64_t top = 0, pages, end = 0, page;
	unsigned k = mem_nodes();

	/* Guest RAM below 4 GiB is the start of the memory file (amalgam's
	 * memory map); the test guests run with far less than 3 GiB. */
	for (unsigned i = 0; i < e820_count(); i++) {
		const struct e820_entry *e = &e820_table()[i];

		if (e->type == 1 && e->addr + e->size <= (1ull << 32) &&
		    e->addr + e->size > top)
			top = e->addr + e->size;
	}
	pages = top / 4096;
	if (node >= k || index >= pages / k)
		return NULL;
	for (unsigned i = 0; i <= node; i++)
		end += pages / k + (i < pages % k);
	page = end - 1 - index;
	if (page < 0x100)	/* below 1 MiB: not for tests */
		return NULL;
	return (void *)(uintptr_t)(page * 4096);
}

static struct {
	uint64_t **page;
	uint32_t pages;
} spread;

static uint64_t spread_user(uint64_t unused)
{
	unsigned k = mem_nodes();

	for (uint32_t p = 0; p < spread.pages; p++) {
		spread.page[p] = home_page(p % k, p / k);
		if (!spread.page[p])
			return 1;
	}
	return 0;
}

uint64_t **mem_spread_pages(uint32_t pages)
{
	spread.pages = pages;
	spread.page = alloc(pages * sizeof(*spread.page), 4096);
	if (!spread.page || run_user(spread_user, 0))
		return NULL;
	return spread.page;
}
