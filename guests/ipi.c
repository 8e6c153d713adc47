/* Inter-processor interrupts, counted exactly per CPU: fixed physical
 * (BSP to each AP, AP to AP, self by ID and by shorthand), shorthand
 * broadcasts, physical broadcast ID, flat logical destinations (xAPIC) or
 * cluster logical destinations (x2APIC), lowest priority to a logical set
 * (exactly one of the set takes each), and NMI.
 * Command line: "x2apic" runs everything with every LAPIC in x2APIC mode. */
#include "libguest.h"

#define VEC_TEST 0x40
#define ROUNDS 5

static volatile uint32_t count[MAX_CPUS], nmis[MAX_CPUS];
static bool x2;

static void test_handler(struct irq_frame *f)
{
	unsigned c = smp_id();

	count[c]++;
	apic_eoi();
	if (c)
		wake_cpu(0);
}

static void nmi_handler(struct irq_frame *f)
{
	unsigned c = smp_id();

	nmis[c]++;
	if (c)
		wake_cpu(0);
}

static bool reached(const uint32_t *want)
{
	for (unsigned c = 0; c < nr_cpus; c++)
		if (READ_ONCE(count[c]) < want[c])
			return false;
	return true;
}

/* Wait until every CPU got at least want[], let stragglers arrive, then
 * require exactly want[] and reset the counts. */
static void expect(const uint32_t *want, const char *what)
{
	char got[8 * MAX_CPUS] = "", *p = got;
	bool exact = true;

	wait_until(reached(want), 2000);
	msleep(20);
	for (unsigned c = 0; c < nr_cpus; c++) {
		exact &= count[c] == want[c];
		p += snprintf(p, sizeof(got) - (size_t)(p - got), "%s%u/%u",
			      c ? " " : "", count[c], want[c]);
		count[c] = 0;
	}
	report(exact, "%s: received/expected per CPU: %s", what, got);
}

static void set_flat_ldr(void *arg)
{
	apic_write(APIC_DFR, 0xffffffff);
	apic_write(APIC_LDR, (1u << smp_id()) << 24);
}

/* Flat model, the bits reversed: CPU c answers to bit n-1-c. */
static void set_reversed_ldr(void *arg)
{
	apic_write(APIC_LDR, (1u << (nr_cpus - 1 - smp_id())) << 24);
}

static void to_x2apic(void *arg)
{
	apic_enable_x2apic();
}

static void ap_sends(void *arg)
{
	apic_send_ipi(percpu[(uintptr_t)arg].apic_id, VEC_TEST);
}

/* A fixed IPI to a set of CPUs by logical destination: flat xAPIC (LDR
 * bit = CPU number), one message; or x2APIC cluster mode (cluster = id >>
 * 4, bit = id & 15), one message per cluster the set touches, since a
 * cluster destination names one cluster only (APIC ids across nodes are
 * sparse: node k's start at k << 3 or more, so 3+ nodes pass 15). */
static void send_logical(uint32_t cpus, uint32_t vec)
{
	uint32_t done = 0;

	if (!x2) {
		apic_send_ipi(cpus, vec | APIC_DEST_LOGICAL);
		return;
	}
	for (unsigned c = 0; c < nr_cpus; c++) {
		uint32_t cluster = percpu[c].apic_id >> 4, bits = 0;

		if (!(cpus & (1u << c)) || (done & (1u << c)))
			continue;
		for (unsigned d = c; d < nr_cpus; d++)
			if ((cpus & (1u << d)) && percpu[d].apic_id >> 4 == cluster) {
				bits |= 1u << (percpu[d].apic_id & 15);
				done |= 1u << d;
			}
		apic_send_ipi(cluster << 16 | bits, vec | APIC_DEST_LOGICAL);
	}
}

static uint32_t sum_of(uint32_t cpus)
{
	uint32_t s = 0;

	for (unsigned c = 0; c < nr_cpus; c++)
		if (cpus & (1u << c))
			s += READ_ONCE(count[c]);
	return s;
}

/* Lowest priority to the set cpus (flat: LDR bit = CPU; x2APIC: those of
 * cpu 1's cluster), one IPI at a time: each must reach exactly one CPU of
 * the set, whichever nodes they run on, and no other CPU. */
static bool lowest_reversed;	/* LDR bit of CPU c is n-1-c */

static void lowest_to_set(uint32_t cpus)
{
	uint32_t dest = cpus, cluster = percpu[1].apic_id >> 4, s = 0, others = 0;
	char got[8 * MAX_CPUS] = "", *p = got;

	if (lowest_reversed) {
		dest = 0;
		for (unsigned c = 0; c < nr_cpus; c++)
			if (cpus & (1u << c))
				dest |= 1u << (nr_cpus - 1 - c);
	}

	if (x2) {
		dest = cluster << 16;
		for (unsigned c = 1; c < nr_cpus; c++)
			if (percpu[c].apic_id >> 4 == cluster && (cpus & (1u << c)))
				dest |= 1u << (percpu[c].apic_id & 15);
			else
				cpus &= ~(1u << c);
	}
	for (uint32_t k = 1; k <= ROUNDS; k++) {
		apic_send_ipi(dest, VEC_TEST | APIC_DEST_LOGICAL | APIC_DM_LOWEST);
		wait_until(sum_of(cpus) >= k, 1000);
	}
	msleep(20);
	for (unsigned c = 0; c < nr_cpus; c++) {
		if (cpus & (1u << c))
			s += count[c];
		else
			others += count[c];
		p += snprintf(p, sizeof(got) - (size_t)(p - got), "%s%u",
			      c ? " " : "", count[c]);
		count[c] = 0;
	}
	report(s == ROUNDS && !others,
	       "lowest priority to logical set %#x x%d: each to exactly one of it "
	       "(per CPU: %s)", cpus, ROUNDS, got);
}

int main(void)
{
	uint32_t want[MAX_CPUS] = { 0 };
	unsigned n;

	x2 = cmdline_has("x2apic");
	irq_set_handler(VEC_TEST, test_handler);
	irq_set_handler(2, nmi_handler);
	n = smp_init(5000);
	report(n == nr_cpus && n >= 3, "%u CPUs online (need 3+)", n);
	if (n != nr_cpus || n < 3)
		return report_summary();

	if (x2) {
		bool ok = apic_enable_x2apic();

		for (unsigned c = 1; c < n; c++)
			ok &= on_cpu(c, to_x2apic, NULL);
		report(ok && apic_x2apic_mode(), "all LAPICs in x2APIC mode");
		if (!ok)
			return report_summary();
	}

	/* Fixed, physical, BSP to each AP, one at a time so none coalesce. */
	for (unsigned t = 1; t < n; t++) {
		char what[64];

		for (uint32_t k = 1; k <= ROUNDS; k++) {
			apic_send_ipi(percpu[t].apic_id, VEC_TEST);
			wait_until(count[t] >= k, 1000);
		}
		want[t] = ROUNDS;
		snprintf(what, sizeof(what), "fixed physical to cpu %u x%d",
			 t, ROUNDS);
		expect(want, what);
		want[t] = 0;
	}

	/* AP to AP. */
	on_cpu(1, ap_sends, (void *)2);
	want[2] = 1;
	expect(want, "fixed physical cpu 1 -> cpu 2");
	want[2] = 0;

	/* To self, by ID and by shorthand. */
	apic_send_ipi(percpu[0].apic_id, VEC_TEST);
	want[0] = 1;
	expect(want, "fixed physical to self by ID");
	apic_send_ipi(0, VEC_TEST | APIC_DEST_SELF);
	expect(want, "self shorthand");
	want[0] = 0;

	/* All excluding self. */
	for (unsigned c = 1; c < n; c++)
		want[c] = 3;
	for (uint32_t k = 1; k <= 3; k++) {
		uint32_t step[MAX_CPUS] = { 0 };

		for (unsigned c = 1; c < n; c++)
			step[c] = k;
		apic_send_ipi(0, VEC_TEST | APIC_DEST_ALLBUT);
		wait_until(reached(step), 1000);
	}
	expect(want, "all-excluding-self shorthand x3");

	/* All including self, and the physical broadcast ID. */
	for (unsigned c = 0; c < n; c++)
		want[c] = 1;
	apic_send_ipi(0, VEC_TEST | APIC_DEST_ALL);
	expect(want, "all-including-self shorthand");
	apic_send_ipi(x2 ? 0xffffffff : 0xff, VEC_TEST);
	expect(want, "physical broadcast ID");
	for (unsigned c = 0; c < n; c++)
		want[c] = 0;

	/* Logical destinations. */
	if (x2) {
		/* x2APIC LDR is read-only, derived from the ID. */
		uint32_t id = percpu[0].apic_id;

		report(apic_read(APIC_LDR) == ((id >> 4) << 16 | 1u << (id & 15)),
		       "x2APIC LDR %#x derived from the APIC ID",
		       apic_read(APIC_LDR));
	} else {
		bool ok = true;

		for (unsigned c = 0; c < n; c++)
			ok &= on_cpu(c, set_flat_ldr, NULL);
		report(ok && apic_read(APIC_LDR) == 1u << 24,
		       "flat model, LDR = 1 << cpu on every CPU");
	}
	send_logical(0x6, VEC_TEST);
	want[1] = want[2] = 1;
	expect(want, "logical destination {cpu1, cpu2}");
	want[1] = want[2] = 0;
	if (n >= 4) {
		send_logical(0x9, VEC_TEST);
		want[0] = want[3] = 1;
		expect(want, "logical destination {cpu0, cpu3} (incl. self)");
		want[0] = want[3] = 0;
	}

	lowest_to_set(0x6);
	if (n >= 4)
		lowest_to_set(0xe);
	if (!x2 && n >= 4) {
		/* Every CPU moves its LDR bit (on its own node, wherever that
		 * is by now): the other nodes' copies must follow, or a
		 * lowest-priority IPI goes to a CPU outside the set. */
		bool ok = true;

		for (unsigned c = 0; c < n; c++)
			ok &= on_cpu(c, set_reversed_ldr, NULL);
		report(ok && apic_read(APIC_LDR) == (1u << (n - 1)) << 24,
		       "flat model, LDR bits reversed on every CPU");
		/* CPUs 1 and 3 (bits n-2 and 0): by the old bits that set
		 * would be CPUs 0 and 2. */
		lowest_reversed = true;
		lowest_to_set(0xa);
		lowest_reversed = false;
		for (unsigned c = 0; c < n; c++)
			ok &= on_cpu(c, set_flat_ldr, NULL);
	}

	/* NMI, physical, to cpu 1. */
	apic_send_ipi(percpu[1].apic_id, APIC_DM_NMI);
	wait_until(nmis[1] == 1, 1000);
	msleep(20);
	report(nmis[0] == 0 && nmis[1] == 1 && count[1] == 0,
	       "NMI to cpu 1: cpu1 %u NMIs, cpu0 %u", nmis[1], nmis[0]);

	return report_summary();
}
