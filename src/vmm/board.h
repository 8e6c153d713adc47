/* The PC board around the CPUs: which legacy devices exist, where, and on
 * which interrupt lines. Today all on this node. */
#ifndef AMALGAM_VMM_BOARD_H
#define AMALGAM_VMM_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmm/pcibus.h"
#include "x86/boot.h"

struct vm;
struct board;

/* What the board may add besides the fixed devices. */
struct board_options {
	bool with_pit;		/* the 8254 PIT (the guest's TSC calibration
				 * when it has no kvmclock) */
	bool debug_exit;	/* QEMU's isa-debug-exit (dev/debugexit.h) */
	uint16_t debug_exit_iobase;
	uint8_t debug_exit_iosize;
	/* virtio devices on a PCI host bridge (vmm/pcibus.h); none: no PCI. */
	struct pcibus_devices pci;
	const struct pcibus_links *pci_links;	/* NULL: a node alone */
};

/* The fixed devices, at QEMU q35's ports: COM1 0x3f8 IRQ 4, the i8042 at
 * 0x60/0x64 (0xFE to 0x64 resets), the RTC 0x70/0x71, the ACPI PM1a
 * blocks at 0x600 (PM1a_CNT 0x604, SCI 9), the reset control at 0xCF9
 * (the FADT's reset register, 0x0F), fw_cfg at 0x510/0x511; and our test
 * exit port 0xf4. */
/* NULL on failure, with a one-line reason in err for the user (a disk
 * that cannot be opened, ports taken). */
struct board *board_create(struct vm *vm, int console_out, int console_in,
			   const struct board_options *opt, char *err, size_t errlen);
void board_destroy(struct board *b);
/* Flush console output (at exit). */
void board_flush(struct board *b);
/* Where the board's power and reset controls are, for the firmware tables
 * (the same for every board this file builds), and with 'pci' its PCI
 * host bridge. */
void board_boot_facts(struct boot_board *out, bool pci);
void board_print_stats(struct board *b, FILE *f);

#endif
