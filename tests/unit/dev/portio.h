/* Port I/O through an iobus, as a vCPU's exit would do it, for the device
 * tests. Include after cmocka.h. */
#ifndef AMALGAM_TESTS_DEV_PORTIO_H
#define AMALGAM_TESTS_DEV_PORTIO_H

#include <stdint.h>

#include "hw/iobus.h"

static inline void bus_out8(struct iobus *bus, uint16_t port, uint8_t v)
{
	assert_int_equal(iobus_access(bus, IO_PIO, NULL, port, &v, 1, true), 0);
}

static inline uint8_t bus_in8(struct iobus *bus, uint16_t port)
{
	uint8_t v = 0;

	assert_int_equal(iobus_access(bus, IO_PIO, NULL, port, &v, 1, false), 0);
	return v;
}

#endif
