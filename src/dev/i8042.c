#include "dev/i8042.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/log.h"
#include "hw/iobus.h"

#define STR_OBF		0x01
#define STR_SYS		0x04
#define STR_CMD		0x08
#define STR_UNLOCKED	0x10
#define STR_AUXDATA	0x20

#define CTR_KBDINT	0x01
#define CTR_AUXINT	0x02
#define CTR_SYS		0x04
#define CTR_KBDDIS	0x10
#define CTR_AUXDIS	0x20
#define CTR_XLATE	0x40

#define OUT_RESET	0x01	/* active low */
#define OUT_A20		0x02

enum {
	CMD_READ_RAM = 0x20, CMD_WRITE_RAM = 0x60, CMD_PASSWORD_TEST = 0xa4,
	CMD_AUX_DISABLE = 0xa7, CMD_AUX_ENABLE = 0xa8, CMD_AUX_TEST = 0xa9,
	CMD_SELF_TEST = 0xaa, CMD_KBD_TEST = 0xab, CMD_KBD_DISABLE = 0xad,
	CMD_KBD_ENABLE = 0xae, CMD_READ_OUTPORT = 0xd0,
	CMD_WRITE_OUTPORT = 0xd1, CMD_KBD_ECHO = 0xd2, CMD_AUX_ECHO = 0xd3,
	CMD_AUX_SEND = 0xd4, CMD_A20_OFF = 0xdd, CMD_A20_ON = 0xdf,
	CMD_PULSE = 0xf0,
};

#define RAM_SIZE	32
#define OUTQ		8

struct i8042 {
	pthread_mutex_t lock;	/* everything below */
	struct i8042_config cfg;
	uint8_t ram[RAM_SIZE];	/* ram[0] is the command byte */
	uint8_t outport;
	uint8_t last_data;
	bool last_was_cmd;
	uint8_t pending_cmd;	/* command waiting for its data byte, or 0 */

	struct { uint8_t byte; bool aux; } outq[OUTQ];
	unsigned out_head, out_count;

	int kbd_level, aux_level;
	struct i8042_stats stats;
};

static void update_irq(struct i8042 *k)
{
	bool aux = k->out_count && k->outq[k->out_head].aux;
	int kbd_level = k->out_count && !aux && (k->ram[0] & CTR_KBDINT);
	int aux_level = k->out_count && aux && (k->ram[0] & CTR_AUXINT);

	if (kbd_level != k->kbd_level) {
		k->kbd_level = kbd_level;
		irq_line_set(&k->cfg.kbd_irq, kbd_level);
	}
	if (aux_level != k->aux_level) {
		k->aux_level = aux_level;
		irq_line_set(&k->cfg.aux_irq, aux_level);
	}
}

static void push(struct i8042 *k, uint8_t b, bool aux)
{
	unsigned tail;

	if (k->out_count == OUTQ) {	/* drop the oldest, like an overwrite */
		k->out_head = (k->out_head + 1) % OUTQ;
		k->out_count--;
	}
	tail = (k->out_head + k->out_count) % OUTQ;
	k->outq[tail].byte = b;
	k->outq[tail].aux = aux;
	k->out_count++;
}

static uint8_t read_data(struct i8042 *k)
{
	if (k->out_count) {
		k->last_data = k->outq[k->out_head].byte;
		k->out_head = (k->out_head + 1) % OUTQ;
		k->out_count--;
	}
	return k->last_data;
}

static uint8_t read_status(const struct i8042 *k)
{
	uint8_t s = STR_UNLOCKED;

	if (k->out_count) {
		s |= STR_OBF;
		if (k->outq[k->out_head].aux)
			s |= STR_AUXDATA;
	}
	if (k->ram[0] & CTR_SYS)
		s |= STR_SYS;
	if (k->last_was_cmd)
		s |= STR_CMD;
	return s;
}

/* Returns true if the guest asked for a system reset. */
static bool write_outport(struct i8042 *k, uint8_t v)
{
	k->outport = v | OUT_RESET;
	return !(v & OUT_RESET);
}

static bool command(struct i8042 *k, uint8_t cmd)
{
	k->stats.commands++;
	k->pending_cmd = 0;

	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + RAM_SIZE) {
		push(k, k->ram[cmd - CMD_READ_RAM], false);
		return false;
	}
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + RAM_SIZE) {
		k->pending_cmd = cmd;
		return false;
	}
	if (cmd >= CMD_PULSE) {
		/* Low nibble: 0 bits are pulsed low; bit 0 is the reset line. */
		return !(cmd & OUT_RESET);
	}
	switch (cmd) {
	case CMD_PASSWORD_TEST:
		push(k, 0xf1, false);	/* no password installed */
		break;
	case CMD_AUX_DISABLE:
		k->ram[0] |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		k->ram[0] &= ~CTR_AUXDIS;
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		push(k, 0x00, false);	/* no clock or data line stuck */
		break;
	case CMD_SELF_TEST:
		k->ram[0] |= CTR_SYS;
		push(k, 0x55, false);
		break;
	case CMD_KBD_DISABLE:
		k->ram[0] |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ram[0] &= ~CTR_KBDDIS;
		break;
	case CMD_READ_OUTPORT:
		push(k, k->outport, false);
		break;
	case CMD_WRITE_OUTPORT:
	case CMD_KBD_ECHO:
	case CMD_AUX_ECHO:
	case CMD_AUX_SEND:
		k->pending_cmd = cmd;
		break;
	case CMD_A20_OFF:
		k->outport &= ~OUT_A20;
		break;
	case CMD_A20_ON:
		k->outport |= OUT_A20;
		break;
	default:
		k->stats.unknown_commands++;
		pr_debug("i8042: unknown command %#x", cmd);
	}
	return false;
}

static bool data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + RAM_SIZE) {
		k->ram[cmd - CMD_WRITE_RAM] = v;
		return false;
	}
	switch (cmd) {
	case CMD_WRITE_OUTPORT:
		return write_outport(k, v);
	case CMD_KBD_ECHO:
		push(k, v, false);
		break;
	case CMD_AUX_ECHO:
		push(k, v, true);
		break;
	default:	/* CMD_AUX_SEND or a byte for the keyboard */
		k->stats.dropped++;
	}
	return false;
}

/* One byte at one of the two ports; the bytes of a wider access after the
 * first belong to the next ports, which are not ours. */
static int port_access(struct i8042 *k, bool cmd_port, uint8_t *b,
		       unsigned len, bool is_write)
{
	bool reset = false;

	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->last_was_cmd = cmd_port;
		reset = cmd_port ? command(k, b[0]) : data(k, b[0]);
	} else {
		b[0] = cmd_port ? read_status(k) : read_data(k);
		for (unsigned i = 1; i < len; i++)
			b[i] = 0xff;
	}
	update_irq(k);
	if (reset)
		k->stats.resets++;
	pthread_mutex_unlock(&k->lock);

	if (reset) {
		pr_info("i8042: guest requested a system reset");
		if (k->cfg.reset)
			k->cfg.reset(k->cfg.reset_opaque);
	}
	return 0;
}

static int data_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
		   void *buf, unsigned len, bool is_write)
{
	return port_access(opaque, false, buf, len, is_write);
}

static int cmd_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
		  void *buf, unsigned len, bool is_write)
{
	return port_access(opaque, true, buf, len, is_write);
}

struct i8042 *i8042_new(const struct i8042_config *cfg)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->cfg = *cfg;
	pthread_mutex_init(&k->lock, NULL);
	k->ram[0] = CTR_XLATE | CTR_SYS | CTR_KBDINT;	/* as firmware leaves it */
	k->outport = OUT_RESET | OUT_A20;
	return k;
}

void i8042_free(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

int i8042_register(struct i8042 *k, struct iobus *bus)
{
	int r;

	/* Two ranges: 0x61-0x63 between them belong to other devices. */
	r = iobus_register(bus, IO_PIO, I8042_DATA_PORT, 1, data_io, k,
			   "i8042-data");
	if (r)
		return r;
	return iobus_register(bus, IO_PIO, I8042_CMD_PORT, 1, cmd_io, k,
			      "i8042-cmd");
}

void i8042_get_stats(struct i8042 *k, struct i8042_stats *out)
{
	pthread_mutex_lock(&k->lock);
	*out = k->stats;
	pthread_mutex_unlock(&k->lock);
}
