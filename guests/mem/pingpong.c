/* A token passed round the CPUs (on different nodes), rounds= times
 * (default 2000): in round k the CPU k mod n waits until turn == k, checks
 * that value == k, then writes value = k + 1 and turn = k + 1. The final
 * value is exact, and no CPU ever finds a value other than the one the
 * previous holder wrote.
 * Twice: turn and value on one page (homed on node home=, default the
 * last), then value on a page homed on the next node, so that the reader
 * sees the turn page change before it reads the value page (message
 * passing across pages). */
#include "memtest.h"

#define TURN_MS 20000

static struct {
	volatile uint32_t *turn, *value;
	uint32_t rounds;
} cur;

/* Returns how many times the value was not what the last holder wrote, or
 * ~0 on a timeout. */
static uint64_t pass_user(uint64_t cpu)
{
	uint64_t wrong = 0;

	if (!mem_sync())
		return ~0ull;
	for (uint32_t k = (uint32_t)cpu; k < cur.rounds; k += mem_cpus) {
		if (!wait_user(*cur.turn == k, TURN_MS))
			return ~0ull;
		wrong += *cur.value != k;
		*cur.value = k + 1;
		*cur.turn = k + 1;
	}
	return wrong;
}

static bool run(bool two_pages)
{
	unsigned home = mem_home();
	const char *layout = two_pages ? "two pages" : "one page";
	uint64_t wrong = 0;

	cur.turn = home_page(home, two_pages ? 1 : 0);
	cur.value = two_pages ? home_page((home + 1) % mem_nodes(), 2)
			      : cur.turn + 16;
	if (!cur.turn || !cur.value) {
		report(false, "%s: no pages", layout);
		return false;
	}
	if (!mem_phase(layout, pass_user, 120000))
		return false;
	for (unsigned c = 0; c < mem_cpus; c++) {
		if (mem_result[c] == ~0ull) {
			report(false, "%s: cpu %u waited for the token in vain "
			       "(turn %u, value %u)", layout, c, *cur.turn,
			       *cur.value);
			return false;
		}
		wrong += mem_result[c];
	}
	report(*cur.value == cur.rounds && *cur.turn == cur.rounds,
	       "%s: %u handoffs among %u CPUs: value %u, turn %u", layout,
	       cur.rounds, mem_cpus, *cur.value, *cur.turn);
	report(!wrong, "%s: every holder found the value its predecessor "
	       "wrote (%lu did not)", layout, wrong);
	report_info("%s: %lu us per handoff", layout,
		    tsc_to_us(mem_phase_cycles) / cur.rounds);
	return true;
}

int main(void)
{
	cur.rounds = (uint32_t)cmdline_int("rounds", 2000);
	if (!mem_start(30000))
		return report_summary();
	if (mem_cpus < 2) {
		report(false, "pingpong needs 2 CPUs or more");
		return report_summary();
	}
	if (run(false))
		run(true);
	return report_summary();
}
