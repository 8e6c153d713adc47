#include "dev/rstcnt.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/iobus.h"

#define SYS_RST (1u << 1)
#define RST_CPU (1u << 2)
#define FULL_RST (1u << 3)

struct rstcnt {
	pthread_mutex_t lock;	/* guards val */
	uint8_t val;
	void (*reset)(void *opaque);
	void *opaque;
};

static int rstcnt_io(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data,
		     unsigned len, bool is_write)
{
	struct rstcnt *r = opaque;
	uint8_t v;

	if (!is_write) {
		memset(data, 0, len);
		pthread_mutex_lock(&r->lock);
		*(uint8_t *)data = r->val;
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	v = *(const uint8_t *)data;
	pthread_mutex_lock(&r->lock);
	r->val = v & (SYS_RST | FULL_RST);
	pthread_mutex_unlock(&r->lock);
	if (v & RST_CPU)
		r->reset(r->opaque);
	return 0;
}

struct rstcnt *rstcnt_new(void (*reset)(void *), void *opaque)
{
	struct rstcnt *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	r->reset = reset;
	r->opaque = opaque;
	return r;
}

int rstcnt_register(struct rstcnt *r, struct iobus *bus)
{
	return iobus_register(bus, IO_PIO, RSTCNT_PORT, 1, rstcnt_io, r, "rstcnt");
}

void rstcnt_free(struct rstcnt *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}
