#include "dev/fwcfg.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hw/iobus.h"

#define ITEM_MAX 16

struct item {
	uint16_t key;
	uint8_t len;
	uint8_t data[ITEM_MAX];
};

struct fwcfg {
	pthread_mutex_t lock;	/* guards sel and off */
	uint16_t sel;
	uint32_t off;
	unsigned nr;
	struct item items[8];
};

static void add(struct fwcfg *f, uint16_t key, const void *data, uint8_t len)
{
	struct item *it = &f->items[f->nr++];

	it->key = key;
	it->len = len;
	memcpy(it->data, data, len);
}

static const struct item *find(const struct fwcfg *f, uint16_t key)
{
	for (unsigned i = 0; i < f->nr; i++)
		if (f->items[i].key == key)
			return &f->items[i];
	return NULL;
}

static int sel_io(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data,
		  unsigned len, bool is_write)
{
	struct fwcfg *f = opaque;
	uint16_t v = 0;

	if (!is_write) {
		memset(data, 0, len);
		return 0;
	}
	memcpy(&v, data, len < 2 ? len : 2);
	pthread_mutex_lock(&f->lock);
	f->sel = v;
	f->off = 0;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static int data_io(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data,
		   unsigned len, bool is_write)
{
	struct fwcfg *f = opaque;
	uint8_t *out = data;
	const struct item *it;

	if (is_write)
		return 0;
	pthread_mutex_lock(&f->lock);
	it = find(f, f->sel);
	/* A wider read at 0x511 gives consecutive bytes, as QEMU's does. */
	for (unsigned i = 0; i < len; i++) {
		out[i] = it && f->off < it->len ? it->data[f->off] : 0;
		if (it && f->off < it->len)
			f->off++;
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

struct fwcfg *fwcfg_new(const struct fwcfg_config *cfg)
{
	struct fwcfg *f = calloc(1, sizeof(*f));
	uint32_t id = 1;		/* the traditional interface, no DMA */
	uint8_t uuid[16] = { 0 };
	uint16_t zero16 = 0;
	uint8_t dir[4] = { 0 };	/* file count, big-endian: none */

	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	add(f, FW_CFG_SIGNATURE, "QEMU", 4);
	add(f, FW_CFG_ID, &id, 4);
	add(f, FW_CFG_UUID, uuid, 16);
	add(f, FW_CFG_RAM_SIZE, &cfg->ram_size, 8);
	add(f, FW_CFG_NOGRAPHIC, &zero16, 2);
	add(f, FW_CFG_NB_CPUS, &cfg->nr_cpus, 2);
	add(f, FW_CFG_MAX_CPUS, &cfg->max_cpus, 2);
	add(f, FW_CFG_FILE_DIR, dir, 4);
	return f;
}

int fwcfg_register(struct fwcfg *f, struct iobus *bus)
{
	int r = iobus_register(bus, IO_PIO, FWCFG_PORT_SEL, 1, sel_io, f, "fw_cfg");

	/* The selector is 16 bits wide but its second byte is the data port:
	 * a 16-bit write at 0x510 reaches sel_io whole (the registry matches
	 * the access's first port). */
	if (!r)
		r = iobus_register(bus, IO_PIO, FWCFG_PORT_DATA, 1, data_io, f, "fw_cfg data");
	return r;
}

void fwcfg_free(struct fwcfg *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f);
}
