#include "irq/msi.h"

#include <errno.h>

int msi_decode(uint64_t address, uint32_t data, struct apic_msg *out)
{
	unsigned mode = (data >> 8) & 7;

	if ((address >> 20) != (MSI_ADDR_BASE >> 20) || mode == 3 || mode == APIC_DM_SIPI)
		return -EINVAL;
	*out = (struct apic_msg){
		.dest = (uint32_t)((address >> 12) & 0xff) |
			(uint32_t)((address >> 5) & 0x7f) << 8,
		.source = -1,
		.vector = (uint8_t)data,
		.delivery = (uint8_t)mode,
		.dest_logical = (address >> 2) & 1,
		.shorthand = APIC_SH_NONE,
		.level = 1,
		.trigger_level = (data >> 15) & 1,
		.x2apic = ((address >> 5) & 0x7f) != 0,
	};
	return 0;
}
