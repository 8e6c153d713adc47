/* Guest RAM: one memfd of the whole guest size, mapped twice.
 *  - the guest view is what KVM's memslots point at (and what the memory
 *    plane will register with userfaultfd);
 *  - the hypervisor view is how the VMM itself reads and writes guest pages
 *    (boot loading, devices, page transfer) without ever faulting.
 * Layout of guest-physical space: RAM from 0 up to MEM_LOW_LIMIT, the MMIO
 * hole [MEM_LOW_LIMIT, 4 GiB) for the APICs and devices, the rest of RAM
 * from 4 GiB up. */
#ifndef AMALGAM_HW_MEM_H
#define AMALGAM_HW_MEM_H

#include <stdint.h>

#define MEM_LOW_LIMIT 0xC0000000ULL
#define MEM_HIGH_BASE 0x100000000ULL
#define MEM_MIN_SIZE (16ULL << 20)
#define MEM_MAX_SIZE (1ULL << 40)

struct guest_mem {
	int fd;
	uint64_t size;		/* total RAM bytes */
	uint64_t low_size;	/* RAM below MEM_LOW_LIMIT */
	uint8_t *guest_view;
	uint8_t *hyp_view;
};

int guest_mem_init(struct guest_mem *m, uint64_t size);
void guest_mem_destroy(struct guest_mem *m);
/* Install the memslots into a KVM VM. */
int guest_mem_map(struct guest_mem *m, int vm_fd);
/* Hypervisor-view pointer for [gpa, gpa+len) if it is all RAM, else NULL. */
void *guest_mem_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Guest-view pointer for the same: an access through it is the guest's
 * own for the memory plane (a page this node lacks is fetched first). */
void *guest_mem_gview(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Offset of gpa inside the memfd, or -1 if gpa is not RAM. */
int64_t guest_mem_offset(const struct guest_mem *m, uint64_t gpa);

#endif
