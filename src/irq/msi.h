/* An MSI or MSI-X message (address, data) as the APIC message it stands
 * for (Intel SDM vol. 3, 11.11): destination id in address bits 19:12
 * (bits 11:5 extend it to 15 bits, the extended destination id that KVM
 * and Linux agree on for x2APIC guests without an IOMMU), destination
 * mode in bit 2, vector in data bits 7:0, delivery mode in 10:8, trigger
 * mode in bit 15. Pure. */
#ifndef AMALGAM_IRQ_MSI_H
#define AMALGAM_IRQ_MSI_H

#include <stdint.h>

#include "irq/apic_msg.h"

#define MSI_ADDR_BASE 0xfee00000u

/* 0, or -EINVAL for an address outside the interrupt window or a delivery
 * mode an MSI may not use (SIPI, and the reserved 3). */
int msi_decode(uint64_t address, uint32_t data, struct apic_msg *out);

#endif
