#include "apic.h"

#include "cpu.h"
#include "layout.h"
#include "x86.h"

#define APIC_BASE_X2APIC (1u << 10)
#define APIC_BASE_ENABLE (1u << 11)

/* Per CPU: x2APIC mode is a per-LAPIC state. */
static bool x2apic[MAX_CPUS];

bool apic_x2apic_mode(void)
{
	return x2apic[smp_id()];
}

uint32_t apic_read(unsigned reg)
{
	if (apic_x2apic_mode())
		return (uint32_t)rdmsr(0x800 + (reg >> 4));
	return mmio_read32(XAPIC_BASE + reg);
}

void apic_write(unsigned reg, uint32_t val)
{
	if (apic_x2apic_mode())
		wrmsr(0x800 + (reg >> 4), val);
	else
		mmio_write32(XAPIC_BASE + reg, val);
}

bool apic_enable_x2apic(void)
{
	if (!(cpuid(1, 0).c & (1u << 21)))
		return false;
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE |
			     APIC_BASE_X2APIC);
	x2apic[smp_id()] = true;
	return true;
}

void apic_init_cpu(void)
{
	apic_write(APIC_SVR, 0x100 | VEC_SPURIOUS);
	apic_write(APIC_TPR, 0);
	apic_write(APIC_LVTT, APIC_LVT_MASKED);
}

uint32_t apic_id(void)
{
	uint32_t id = apic_read(APIC_ID);

	return apic_x2apic_mode() ? id : id >> 24;
}

void apic_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

void apic_send_ipi(uint32_t dest, uint32_t icr_lo)
{
	if (apic_x2apic_mode()) {
		wrmsr(0x830, (uint64_t)dest << 32 | icr_lo);
		return;
	}
	mmio_write32(XAPIC_BASE + APIC_ICR2, dest << 24);
	mmio_write32(XAPIC_BASE + APIC_ICR, icr_lo);
	while (mmio_read32(XAPIC_BASE + APIC_ICR) & APIC_ICR_BUSY)
		pause();
}

void apic_timer_start(uint32_t lvt, uint32_t divide, uint32_t count)
{
	apic_write(APIC_LVTT, lvt);
	apic_write(APIC_TDCR, divide);
	apic_write(APIC_TMICT, count);
}

void apic_timer_stop(void)
{
	apic_write(APIC_TMICT, 0);
	apic_write(APIC_LVTT, APIC_LVT_MASKED);
}

uint32_t ioapic_read(unsigned reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_write(unsigned reg, uint32_t val)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, val);
}

uint64_t ioapic_redir_get(unsigned pin)
{
	uint64_t lo = ioapic_read(IOAPIC_REDIR(pin));

	return (uint64_t)ioapic_read(IOAPIC_REDIR(pin) + 1) << 32 | lo;
}

void ioapic_redir_set(unsigned pin, uint64_t entry)
{
	ioapic_write(IOAPIC_REDIR(pin) + 1, (uint32_t)(entry >> 32));
	ioapic_write(IOAPIC_REDIR(pin), (uint32_t)entry);
}
