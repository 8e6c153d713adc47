/* The PVH entry path (lib/pvh.S, link with lib/pvh.ld): lets a test guest
 * boot under QEMU's -kernel too. The kit then runs as under amalgam, with
 * a zero page made from the PVH start info (command line, memory map). */
#ifndef GUEST_PVH_H
#define GUEST_PVH_H

#include <stdint.h>

/* Physical address of the hvm_start_info when the guest was entered
 * through PVH, 0 when amalgam entered it at _start. */
extern uint64_t pvh_start_info;

/* Called by pvh.S in long mode, before _start: returns the zero page. */
void *pvh_boot_params(uint64_t start_info);

#endif
