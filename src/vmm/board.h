/* The PC board around the CPUs: which legacy devices exist, where, and on
 * which interrupt lines. Today all on this node. */
#ifndef AMALGAM_VMM_BOARD_H
#define AMALGAM_VMM_BOARD_H

#include <stdbool.h>

#include "x86/boot.h"

struct vm;
struct board;

/* with_pit: add the 8254 PIT (the guest's TSC calibration when it has no
 * kvmclock). */
struct board *board_create(struct vm *vm, int console_out, int console_in,
			   bool with_pit);
void board_destroy(struct board *b);
/* Flush console output (at exit). */
void board_flush(struct board *b);
/* Where the board's power and reset controls are, for the firmware tables
 * (the same for every board this file builds). */
void board_boot_facts(struct boot_board *out);

#endif
