/* i8042 keyboard controller with nothing plugged into its two PS/2 ports,
 * at ports 0x60 (data) and 0x64 (status on read, command on write). It is
 * here so that Linux's i8042 probe completes and so that a guest can reset
 * the machine.
 *
 * Guest contract:
 * - Status (0x64 read): OBF while a byte waits at 0x60, AUXDATA if that
 *   byte comes from the aux side, SYS mirrors the command byte's system
 *   flag, CMD/DATA says whether the last write went to 0x64, the keylock
 *   bit reads "not locked". IBF is always clear: input is consumed at once.
 * - Controller commands: 0x20-0x3f read and 0x60-0x7f write the controller
 *   RAM (byte 0 is the command byte; initially 0x45: translate, system
 *   flag, keyboard interrupt), 0xa4 password test -> 0xf1 (none), 0xa7/0xa8
 *   disable/enable the aux port (command byte bit 5), 0xa9 and 0xab
 *   interface tests -> 0x00, 0xaa self-test -> 0x55, 0xad/0xae disable/enable
 *   the keyboard port (bit 4), 0xd0/0xd1 read/write the output port,
 *   0xd2/0xd3 echo the next data byte as keyboard/aux data, 0xd4 send to the
 *   aux device, 0xdd/0xdf A20 off/on, 0xf0-0xff pulse output port bits.
 *   Unknown commands are ignored and counted.
 * - Reset: a pulse of output port bit 0 (0xfe, or any even 0xf0-0xfe) or a
 *   0xd1 write with bit 0 clear calls cfg.reset(). A20 is recorded in the
 *   output port but never masks addresses.
 * - Bytes for the absent keyboard (0x60 writes outside a command) and for
 *   the absent aux device (0xd4) are dropped without a reply, as with empty
 *   sockets: Linux's atkbd/psmouse probes time out in the background.
 * - Output buffer: a short queue. IRQ lines are level: the keyboard line is
 *   high while the byte at the head is keyboard data and command byte bit
 *   0 is set, the aux line likewise with bit 1. With the aux line wired,
 *   Linux's aux IRQ test passes and it registers an (empty) aux port; with
 *   it NULL, Linux gives up on aux after a 250 ms wait.
 *
 * Locking: one mutex per device; irq set() runs under it and must not
 * call back. cfg.reset() runs with the lock released, on the vCPU thread
 * that asked for it. */
#ifndef AMALGAM_DEV_I8042_H
#define AMALGAM_DEV_I8042_H

#include <stdint.h>

#include "irq/irqline.h"

struct iobus;
struct i8042;

#define I8042_DATA_PORT		0x60
#define I8042_CMD_PORT		0x64
#define I8042_KBD_IRQ		1
#define I8042_AUX_IRQ		12

struct i8042_config {
	struct irq_line kbd_irq;	/* set may be NULL */
	struct irq_line aux_irq;	/* set may be NULL */
	void (*reset)(void *opaque);	/* may be NULL */
	void *reset_opaque;
};

struct i8042_stats {
	uint64_t resets;
	uint64_t commands;
	uint64_t unknown_commands;
	uint64_t dropped;	/* bytes for absent devices */
};

/* NULL with errno set on failure. */
struct i8042 *i8042_new(const struct i8042_config *cfg);
void i8042_free(struct i8042 *k);
int i8042_register(struct i8042 *k, struct iobus *bus);
void i8042_get_stats(struct i8042 *k, struct i8042_stats *out);

#endif
