#include "dev/debugexit.h"

#include <stdlib.h>
#include <string.h>

#include "hw/iobus.h"

struct debugexit {
	uint16_t iobase;
	uint8_t iosize;
	void (*exit_fn)(void *opaque, int status);
	void *opaque;
};

int debugexit_status(uint32_t v)
{
	return (int)(((v << 1) | 1) & 0xff);
}

static int debugexit_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
			void *data, unsigned len, bool is_write)
{
	struct debugexit *d = opaque;
	uint32_t v = 0;

	if (!is_write) {
		memset(data, 0, len);
		return 0;
	}
	memcpy(&v, data, len < 4 ? len : 4);
	d->exit_fn(d->opaque, debugexit_status(v));
	return 0;
}

struct debugexit *debugexit_new(uint16_t iobase, uint8_t iosize,
				void (*exit_fn)(void *, int), void *opaque)
{
	struct debugexit *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	*d = (struct debugexit){ iobase, iosize ? iosize : 1, exit_fn, opaque };
	return d;
}

int debugexit_register(struct debugexit *d, struct iobus *bus)
{
	return iobus_register(bus, IO_PIO, d->iobase, d->iosize, debugexit_io, d,
			      "isa-debug-exit");
}

void debugexit_free(struct debugexit *d)
{
	free(d);
}
