#include "userio.h"

#include "libguest.h"

/* One bit per port (set = denied) and the 0xff byte the CPU may read past
 * the last one. */
#define IOMAP_BYTES (0x10000 / 8 + 1)

extern uint64_t gdt[];		/* the kit's (cpu.c) */

/* Each CPU's on pages of its own: run_user() writes rsp0 into it, which
 * must not take the page away from another node's CPU. The bitmaps are
 * initialised in the image to deny every port: no ring-0 loop. */
static struct iotss {
	struct tss t;
	uint8_t map[IOMAP_BYTES];
} __attribute__((packed, aligned(4096))) iotss[USERIO_CPUS] = {
	[0 ... USERIO_CPUS - 1] = {
		.t.iomap_base = sizeof(struct tss),
		.map = { [0 ... IOMAP_BYTES - 1] = 0xff },
	},
};

bool userio_allow(uint16_t port, unsigned n)
{
	unsigned cpu = smp_id(), idx = (SEL_TSS0 >> 3) + 2 * cpu;
	struct percpu *pc = &percpu[cpu];
	struct iotss *io = &iotss[cpu];
	uint64_t base = (uintptr_t)io, limit = sizeof(*io) - 1;

	if (cpu >= USERIO_CPUS || port + n > 0x10000)
		return false;
	for (unsigned p = port; p < port + n; p++)
		io->map[p / 8] &= (uint8_t)~(1u << (p % 8));
	io->t.ist[0] = pc->tss->ist[0];
	gdt[idx] = (limit & 0xffff) | (base & 0xffffff) << 16 |
		   (uint64_t)0x89 << 40 | (limit >> 16 & 0xf) << 48 |
		   (base >> 24 & 0xff) << 56;
	gdt[idx + 1] = base >> 32;
	pc->tss = &io->t;
	__asm__ __volatile__("ltr %w0" : : "r"(SEL_TSS0 + 16 * cpu));
	return true;
}
