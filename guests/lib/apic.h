/* Local APIC (xAPIC MMIO at 0xfee00000, or x2APIC MSRs once enabled) and
 * IOAPIC (0xfec00000) access. Register offsets are the xAPIC ones; in
 * x2APIC mode they map to MSR 0x800 + offset / 16. */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#include <stdbool.h>
#include <stdint.h>

#define APIC_ID 0x20
#define APIC_LVR 0x30
#define APIC_TPR 0x80
#define APIC_PPR 0xa0
#define APIC_EOI 0xb0
#define APIC_LDR 0xd0
#define APIC_DFR 0xe0
#define APIC_SVR 0xf0
#define APIC_ISR 0x100
#define APIC_TMR 0x180
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR 0x300
#define APIC_ICR2 0x310
#define APIC_LVTT 0x320
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_LVTERR 0x370
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR 0x3e0
#define APIC_SELF_IPI 0x3f0	/* x2APIC only */

/* ICR low word. */
#define APIC_DM_FIXED 0x000
#define APIC_DM_LOWEST 0x100
#define APIC_DM_NMI 0x400
#define APIC_DM_INIT 0x500
#define APIC_DM_STARTUP 0x600
#define APIC_DEST_LOGICAL 0x800
#define APIC_ICR_BUSY 0x1000
#define APIC_INT_ASSERT 0x4000
#define APIC_INT_LEVEL 0x8000
#define APIC_DEST_SELF 0x40000
#define APIC_DEST_ALL 0x80000
#define APIC_DEST_ALLBUT 0xc0000

/* LVT bits. */
#define APIC_LVT_MASKED 0x10000
#define APIC_TIMER_ONESHOT 0x00000
#define APIC_TIMER_PERIODIC 0x20000
#define APIC_TIMER_TSCDEADLINE 0x40000
#define APIC_TDCR_1 0xb
#define APIC_TDCR_128 0xa

uint32_t apic_read(unsigned reg);
void apic_write(unsigned reg, uint32_t val);
bool apic_x2apic_mode(void);
/* Switch this CPU to x2APIC mode; false if CPUID does not offer it. */
bool apic_enable_x2apic(void);
/* Software-enable this CPU's LAPIC (SVR, TPR 0, LVTs masked). */
void apic_init_cpu(void);
uint32_t apic_id(void);
void apic_eoi(void);
/* Send an IPI: icr_lo is vector | delivery mode | dest mode | shorthand;
 * dest is an APIC ID (physical) or logical mask. Waits until the xAPIC
 * reports the IPI sent. */
void apic_send_ipi(uint32_t dest, uint32_t icr_lo);
/* Timer: lvt is mode | vector (| APIC_LVT_MASKED); count 0 stops it. */
void apic_timer_start(uint32_t lvt, uint32_t divide, uint32_t count);
void apic_timer_stop(void);

#define IOAPIC_BASE 0xfec00000
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REDIR(pin) (0x10 + 2 * (pin))

/* Redirection entry bits. */
#define IOAPIC_DELIVS (1ull << 12)
#define IOAPIC_ACTIVE_LOW (1ull << 13)
#define IOAPIC_REMOTE_IRR (1ull << 14)
#define IOAPIC_LEVEL (1ull << 15)
#define IOAPIC_MASKED (1ull << 16)
#define IOAPIC_DEST(apic) ((uint64_t)(apic) << 56)

uint32_t ioapic_read(unsigned reg);
void ioapic_write(unsigned reg, uint32_t val);
uint64_t ioapic_redir_get(unsigned pin);
/* Writes the high word first, so an unmasking low word goes last. */
void ioapic_redir_set(unsigned pin, uint64_t entry);

#endif
