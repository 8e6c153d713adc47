#include "dev/testdev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/iobus.h"

struct testdev {
	void (*exit_fn)(void *opaque, int status);
	void *opaque;
};

static int testdev_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
		      void *data, unsigned len, bool is_write)
{
	struct testdev *t = opaque;
	uint32_t v = 0;

	if (!is_write) {
		memset(data, 0, len);
		return 0;
	}
	memcpy(&v, data, len < 4 ? len : 4);
	t->exit_fn(t->opaque, v > 255 ? 1 : (int)v);
	return 0;
}

struct testdev *testdev_new(void (*exit_fn)(void *, int), void *opaque)
{
	struct testdev *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->exit_fn = exit_fn;
	t->opaque = opaque;
	return t;
}

int testdev_register(struct testdev *t, struct iobus *bus)
{
	return iobus_register(bus, IO_PIO, TESTDEV_PORT, 4, testdev_io, t, "testdev");
}

void testdev_free(struct testdev *t)
{
	free(t);
}
