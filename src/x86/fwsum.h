/* The checksum byte of the firmware tables the guest reads (MP table,
 * ACPI): the value that makes the bytes of a structure sum to zero. */
#ifndef AMALGAM_X86_FWSUM_H
#define AMALGAM_X86_FWSUM_H

#include <stddef.h>
#include <stdint.h>

static inline uint8_t fw_checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return (uint8_t)(-s);
}

#endif
