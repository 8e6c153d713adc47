/* The test-guest kit: include this one header.
 *
 * A test defines int main(void), which runs on the BSP in ring 0 with
 * interrupts off after the kit has loaded its GDT/TSS/IDT, enabled the
 * LAPIC, learnt the TSC frequency and parsed the MP table; main's return
 * value (usually report_summary()) is written to the exit device. */
#ifndef GUEST_LIBGUEST_H
#define GUEST_LIBGUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apic.h"
#include "boot.h"
#include "cpu.h"
#include "kstring.h"
#include "layout.h"
#include "print.h"
#include "report.h"
#include "smp.h"
#include "startall.h"
#include "timing.h"
#include "x86.h"

#endif
