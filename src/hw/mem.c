#include "hw/mem.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"

int guest_mem_init(struct guest_mem *m, uint64_t size)
{
	int err;

	m->fd = -1;
	m->guest_view = m->hyp_view = MAP_FAILED;
	if (size < MEM_MIN_SIZE || size > MEM_MAX_SIZE || (size & 0xfff))
		return -EINVAL;
	m->size = size;
	m->low_size = size < MEM_LOW_LIMIT ? size : MEM_LOW_LIMIT;
	m->fd = memfd_create("amalgam-ram", MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, size) < 0)
		goto fail;
	/* Two shared mappings of one file: writes through either are seen by
	 * the other, but only the guest view will carry userfaultfd. */
	m->guest_view = mmap(NULL, size, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (m->guest_view == MAP_FAILED)
		goto fail;
	m->hyp_view = mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (m->hyp_view == MAP_FAILED)
		goto fail;
	return 0;
fail:
	err = -errno;
	guest_mem_destroy(m);
	return err;
}

void guest_mem_destroy(struct guest_mem *m)
{
	if (m->guest_view != MAP_FAILED)
		munmap(m->guest_view, m->size);
	if (m->hyp_view != MAP_FAILED)
		munmap(m->hyp_view, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	m->guest_view = m->hyp_view = MAP_FAILED;
}

int guest_mem_map(struct guest_mem *m, int vm_fd)
{
	struct kvm_userspace_memory_region r = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = m->low_size,
		.userspace_addr = (uint64_t)(uintptr_t)m->guest_view,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	if (m->size > m->low_size) {
		r.slot = 1;
		r.guest_phys_addr = MEM_HIGH_BASE;
		r.memory_size = m->size - m->low_size;
		r.userspace_addr = (uint64_t)(uintptr_t)(m->guest_view + m->low_size);
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return -errno;
	}
	return 0;
}

int64_t guest_mem_offset(const struct guest_mem *m, uint64_t gpa)
{
	if (gpa < m->low_size)
		return (int64_t)gpa;
	if (gpa >= MEM_HIGH_BASE && gpa - MEM_HIGH_BASE < m->size - m->low_size)
		return (int64_t)(gpa - MEM_HIGH_BASE + m->low_size);
	return -1;
}

/* The offset of [gpa, gpa+len) if it is all RAM (one run in the memfd),
 * else -1. */
static int64_t ram_offset(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	int64_t a = guest_mem_offset(m, gpa);
	int64_t b = len ? guest_mem_offset(m, gpa + len - 1) : a;

	if (a < 0 || b < 0 || b - a != (int64_t)(len ? len - 1 : 0))
		return -1;
	return a;
}

void *guest_mem_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	int64_t a = ram_offset(m, gpa, len);

	return a < 0 ? NULL : m->hyp_view + a;
}

void *guest_mem_gview(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	int64_t a = ram_offset(m, gpa, len);

	return a < 0 ? NULL : m->guest_view + a;
}
