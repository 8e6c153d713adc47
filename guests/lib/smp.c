#include "smp.h"

#include "apic.h"
#include "kstring.h"
#include "print.h"
#include "timing.h"
#include "x86.h"

struct mp_info mp;
unsigned nr_cpus = 1;
uint8_t apic_to_cpu[256];
static volatile uint32_t online = 1;

extern char tramp_start[], tramp_end[];
extern uint32_t tramp_cr0, tramp_cr3, tramp_cr4, tramp_efer;
noreturn void ap_main(unsigned cpu);

struct mp_fps {
	char sig[4];
	uint32_t table;
	uint8_t length, rev, checksum, features[5];
} __attribute__((packed));

struct mp_table {
	char sig[4];
	uint16_t length;
	uint8_t rev, checksum;
	char oem[8], product[12];
	uint32_t oem_table;
	uint16_t oem_size, count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum, reserved;
} __attribute__((packed));

static uint8_t sum(const void *p, unsigned n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return s;
}

static const struct mp_fps *scan(uint32_t start, uint32_t len)
{
	for (uint32_t a = start; a + 16 <= start + len; a += 16) {
		const struct mp_fps *f = (const void *)(uintptr_t)a;

		if (!memcmp(f->sig, "_MP_", 4))
			return f;
	}
	return NULL;
}

static void add_cpu(uint32_t id)
{
	if (nr_cpus >= MAX_CPUS || id > 255)
		return;
	percpu[nr_cpus].apic_id = id;
	apic_to_cpu[id] = (uint8_t)nr_cpus;
	nr_cpus++;
}

void mp_init(void)
{
	const struct mp_fps *f;
	const struct mp_table *t;
	const uint8_t *e, *end;
	uint32_t bsp = percpu[0].apic_id;

	for (unsigned i = 0; i < 16; i++)
		mp.isa_irq_pin[i] = -1;
	apic_to_cpu[bsp] = 0;
	f = scan(0xf0000, 0x10000);
	if (!f)
		f = scan(0x9fc00, 0x400);
	if (!f)
		return;
	mp.fps_addr = (uint32_t)(uintptr_t)f;
	mp.table_addr = f->table;
	mp.spec_rev = f->rev;
	mp.checksums_ok = sum(f, 16) == 0 && f->length == 1;
	if (!f->table)
		return;		/* default configurations: not supported */
	t = (const void *)(uintptr_t)f->table;
	if (memcmp(t->sig, "PCMP", 4)) {
		mp.checksums_ok = false;
		return;
	}
	mp.found = true;
	if (sum(t, t->length))
		mp.checksums_ok = false;
	mp.lapic_addr = t->lapic;
	e = (const uint8_t *)(t + 1);
	end = (const uint8_t *)t + t->length;
	for (unsigned i = 0; i < t->count && e < end; i++) {
		switch (e[0]) {
		case 0:		/* processor */
			if (e[3] & 1) {
				mp.nr_cpus_listed++;
				if (e[1] != bsp)
					add_cpu(e[1]);
			}
			e += 20;
			break;
		case 2:		/* IOAPIC */
			if (!mp.nr_ioapics++) {
				mp.ioapic_id = e[1];
				mp.ioapic_addr = *(const uint32_t *)(e + 4);
			}
			e += 8;
			break;
		case 3:		/* I/O interrupt: type, flags, bus, irq, apic, pin */
			if (e[1] == 0 && e[5] < 16)
				mp.isa_irq_pin[e[5]] = e[7];
			e += 8;
			break;
		default:	/* bus (1), local interrupt (4) */
			e += 8;
			break;
		}
	}
}

unsigned cpus_online(void)
{
	return READ_ONCE(online);
}

void wake_cpu(unsigned cpu)
{
	apic_send_ipi(percpu[cpu].apic_id, APIC_DM_FIXED | VEC_WAKE);
}

static noreturn void idle(struct percpu *pc)
{
	for (;;) {
		uint32_t seq = READ_ONCE(pc->work_seq);

		if (seq != pc->done_seq) {
			barrier();
			pc->work(pc->work_arg);
			WRITE_ONCE(pc->done_seq, seq);
			wake_cpu(pc->work_from);
			continue;
		}
		safe_halt();
	}
}

noreturn void ap_main(unsigned cpu)
{
	struct percpu *pc = &percpu[cpu];

	cpu_load(cpu);
	apic_init_cpu();
	pc->apic_id = apic_id();
	WRITE_ONCE(pc->online, true);
	atomic_inc(&online);
	wake_cpu(0);
	idle(pc);
}

unsigned smp_init(unsigned timeout_ms)
{
	char *tramp = (char *)TRAMPOLINE_ADDR;
	uint64_t cr4 = read_cr4();

#define PATCH(sym, v) \
	(*(uint32_t *)(tramp + ((char *)&(sym) - tramp_start)) = (uint32_t)(v))
	if (nr_cpus == 1)
		return 1;
	memcpy(tramp, tramp_start, (size_t)(tramp_end - tramp_start));
	/* PCIDE needs long mode already; SMEP/SMAP are off in the kit. */
	PATCH(tramp_cr4, cr4 & ~((1ull << 17) | (3ull << 20)));
	PATCH(tramp_cr3, read_cr3());
	PATCH(tramp_efer, rdmsr(MSR_EFER) & ~(1ull << 10));	/* not LMA */
	PATCH(tramp_cr0, read_cr0());
#undef PATCH
	for (unsigned c = 1; c < nr_cpus; c++)
		cpu_prepare(c);
	/* MP spec B.4: INIT, 10 ms, STARTUP, 200 us, STARTUP. */
	for (unsigned c = 1; c < nr_cpus; c++)
		apic_send_ipi(percpu[c].apic_id, APIC_DM_INIT | APIC_INT_ASSERT);
	msleep(10);
	for (int round = 0; round < 2; round++) {
		for (unsigned c = 1; c < nr_cpus; c++)
			apic_send_ipi(percpu[c].apic_id,
				      APIC_DM_STARTUP | (TRAMPOLINE_ADDR >> 12));
		if (!round)
			msleep(1);
	}
	wait_until(cpus_online() == nr_cpus, timeout_ms);
	return cpus_online();
}

void on_cpu_async(unsigned cpu, work_fn fn, void *arg)
{
	struct percpu *pc = &percpu[cpu];

	if (cpu == smp_id()) {
		fn(arg);
		return;
	}
	wait_until(READ_ONCE(pc->done_seq) == pc->work_seq, 5000);
	pc->work = fn;
	pc->work_arg = arg;
	pc->work_from = smp_id();
	barrier();
	WRITE_ONCE(pc->work_seq, pc->work_seq + 1);
	wake_cpu(cpu);
}

bool on_cpu_wait(unsigned cpu, unsigned timeout_ms)
{
	struct percpu *pc = &percpu[cpu];

	return wait_until(READ_ONCE(pc->done_seq) == pc->work_seq, timeout_ms);
}

bool on_cpu(unsigned cpu, work_fn fn, void *arg)
{
	on_cpu_async(cpu, fn, arg);
	return on_cpu_wait(cpu, 5000);
}
