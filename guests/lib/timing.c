#include "timing.h"

#include "apic.h"
#include "boot.h"
#include "cpu.h"
#include "layout.h"
#include "print.h"
#include "x86.h"

uint64_t tsc_khz, apic_timer_khz;
const char *tsc_source = "none", *apic_timer_source = "none";
static bool kit_timer_allowed = true;

static bool hypervisor_leaf(uint32_t leaf, struct cpuid *r)
{
	if (!(cpuid(1, 0).c & (1u << 31)))
		return false;
	if (cpuid(0x40000000, 0).a < leaf)
		return false;
	*r = cpuid(leaf, 0);
	return true;
}

struct pvclock {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags, pad[2];
} __attribute__((packed));

static bool from_kvmclock(void)
{
	static struct pvclock pv __attribute__((aligned(64)));
	struct cpuid sig, feat;
	uint64_t khz;

	if (!hypervisor_leaf(0x40000000, &sig) || sig.b != 0x4b4d564b ||
	    !hypervisor_leaf(0x40000001, &feat) || !(feat.a & (1u << 3)))
		return false;
	wrmsr(0x4b564d01, (uintptr_t)&pv | 1);	/* MSR_KVM_SYSTEM_TIME_NEW */
	if (!READ_ONCE(pv.tsc_to_system_mul)) {
		wrmsr(0x4b564d01, 0);
		return false;
	}
	khz = 1000000ull * (1ull << 32) / pv.tsc_to_system_mul;
	if (pv.tsc_shift >= 0)
		khz >>= pv.tsc_shift;
	else
		khz <<= -pv.tsc_shift;
	wrmsr(0x4b564d01, 0);
	tsc_khz = khz;
	tsc_source = "kvmclock";
	return true;
}

static uint8_t cmos_read(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

/* Last resort: TSC ticks between two RTC second changes (up to 2 s). */
static void from_rtc(void)
{
	uint8_t s0 = cmos_read(0), s;
	uint64_t t0;

	while ((s = cmos_read(0)) == s0)
		;
	t0 = rdtsc();
	while (cmos_read(0) == s)
		;
	tsc_khz = (rdtsc() - t0) / 1000;
	tsc_source = "CMOS RTC calibration";
}

/* LAPIC timer ticks during 2 ms of TSC. */
static void calibrate_apic_timer(void)
{
	uint64_t end;
	uint32_t left;

	apic_timer_start(APIC_LVT_MASKED, APIC_TDCR_1, 0xffffffff);
	end = rdtsc() + ms_to_tsc(2);
	while (rdtsc() < end)
		;
	left = apic_read(APIC_TMCCT);
	apic_timer_stop();
	apic_timer_khz = (0xffffffffu - left) / 2;
	apic_timer_source = "calibrated against TSC";
}

uint32_t time_scale = 1;

void timing_init(void)
{
	struct cpuid r;
	uint32_t max = cpuid(0, 0).a;

	if (hypervisor_leaf(0x40000010, &r) && r.a) {
		tsc_khz = r.a;
		tsc_source = "CPUID 0x40000010";
		if (r.b) {
			apic_timer_khz = r.b;
			apic_timer_source = "CPUID 0x40000010";
		}
	}
	if (!tsc_khz && max >= 0x15) {
		r = cpuid(0x15, 0);
		if (r.a && r.b && r.c) {
			tsc_khz = (uint64_t)r.c * r.b / r.a / 1000;
			tsc_source = "CPUID 0x15";
			apic_timer_khz = r.c / 1000;
			apic_timer_source = "CPUID 0x15 (crystal)";
		}
	}
	if (!tsc_khz && max >= 0x16) {
		r = cpuid(0x16, 0);
		if (r.a) {
			tsc_khz = (uint64_t)r.a * 1000;
			tsc_source = "CPUID 0x16";
			if (r.c) {
				apic_timer_khz = (uint64_t)r.c * 1000;
				apic_timer_source = "CPUID 0x16 (bus)";
			}
		}
	}
	if (!tsc_khz && !from_kvmclock())
		from_rtc();
	if (!apic_timer_khz)
		calibrate_apic_timer();
	{
		long scale = kit_option_int("timescale", 1);

		time_scale = scale < 1 ? 1 : scale > 100 ? 100 : (uint32_t)scale;
	}
}

void timing_kit_timer(bool allowed)
{
	kit_timer_allowed = allowed;
}

/* One-shot for min(remaining, what fits in 32 bits at divide 128). */
static void arm(uint64_t deadline)
{
	uint64_t now = rdtsc(), us, count;

	us = deadline > now ? tsc_to_us(deadline - now) : 0;
	count = (us + 1) * apic_timer_khz / 1000 / 128 + 1;
	if (count > 0xffffffffu)
		count = 0xffffffffu;
	this_cpu()->kit_timer_fired = false;
	apic_timer_start(VEC_KIT_TIMER, APIC_TDCR_128, (uint32_t)count);
}

static void wait_begin_tsc(struct waiter *w, uint64_t cycles)
{
	w->deadline = rdtsc() + cycles;
	w->timer = kit_timer_allowed && apic_timer_khz && tsc_khz;
	if (w->timer)
		arm(w->deadline);
}

void wait_begin(struct waiter *w, uint64_t ms)
{
	wait_begin_tsc(w, timeout_to_tsc(ms));
}

bool wait_step(struct waiter *w)
{
	if (rdtsc() >= w->deadline)
		return false;
	if (w->timer && this_cpu()->kit_timer_fired)
		arm(w->deadline);
	safe_halt();
	return true;
}

void wait_end(struct waiter *w)
{
	if (w->timer)
		apic_timer_stop();
}

/* A sleep is a duration, not a timeout: never scaled. */
void msleep(uint64_t ms)
{
	struct waiter w;

	wait_begin_tsc(&w, ms_to_tsc(ms));
	while (wait_step(&w))
		;
	wait_end(&w);
}

static struct {
	const volatile uint32_t *p;
	uint32_t v;
	bool changed;
	uint64_t cycles, gap, stolen;
} spin_arg[MAX_CPUS];

static uint64_t spin(uint64_t cpu)
{
	typeof(spin_arg[0]) *a = &spin_arg[cpu];
	uint64_t t0 = rdtsc(), prev = t0, now;

	while ((now = rdtsc()) - t0 < a->cycles) {
		if (now - prev > a->gap)
			a->stolen += now - prev;
		prev = now;
		if (a->p && *a->p != a->v) {
			a->changed = true;
			break;
		}
		pause();
	}
	return 0;
}

static void spin_common(const volatile uint32_t *p, uint32_t v, uint64_t cycles)
{
	unsigned cpu = smp_id();

	spin_arg[cpu].p = p;
	spin_arg[cpu].v = v;
	spin_arg[cpu].changed = false;
	spin_arg[cpu].cycles = cycles;
	spin_arg[cpu].gap = us_to_tsc(STOLEN_GAP_US);
	spin_arg[cpu].stolen = 0;
	run_user(spin, cpu);
}

uint64_t spin_user_stolen(void)
{
	return spin_arg[smp_id()].stolen;
}

uint64_t spin_user(uint64_t cycles)
{
	spin_common(NULL, 0, cycles);
	return spin_user_stolen();
}

bool spin_user_while(const volatile uint32_t *p, uint32_t v, uint64_t cycles)
{
	spin_common(p, v, cycles);
	return spin_arg[smp_id()].changed;
}
