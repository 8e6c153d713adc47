/* userfaultfd mechanism of the memory plane; the contract and the verified
 * kernel semantics are in pager.h. */
#include "memplane/pager.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/confine.h"
#include "util/log.h"
#include "hw/mem.h"

/* Headers older than the running kernel may lack these (6.1's have them,
 * older distributions' may not). */
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif

#define PAGE_SHIFT 12
#define PAGE_SZ (1UL << PAGE_SHIFT)
/* Zero source for read-only zero fills (UFFDIO_ZEROPAGE cannot map
 * write-protected) and for populating ranges, in chunks of this size. */
#define ZERO_CHUNK (16 * PAGE_SZ)
/* A transient -EAGAIN (mmap changing) is retried this many times. */
#define MAX_RETRIES 1000
#define MSG_BATCH 32

static uint8_t zeros[ZERO_CHUNK] __attribute__((aligned(4096)));

/* Counters are updated with relaxed atomics from any thread. */
struct counters {
	_Atomic uint64_t faults_missing_read, faults_missing_write, faults_wp,
		faults_bad, installs, zero_installs, installs_present, upgrades,
		downgrades, invalidations, populated, wakes, retries;
};

struct pager {
	struct guest_mem *mem;
	struct pager_ops ops;
	void *opaque;
	int uffd;
	int stop_fd;
	uint64_t nr_pages;
	uint64_t features;	/* offered by the kernel */
	pthread_t thread;
	bool running;

	struct counters c;
};

#define INC(p, field, n) atomic_fetch_add_explicit(&(p)->c.field, (n), \
						   memory_order_relaxed)

/* ---- userfaultfd setup ---- */

static int uffd_open(void)
{
	int fd, dev, err;

	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		return fd;
	err = -errno;
	/* vm.unprivileged_userfaultfd=0 denies the syscall to processes
	 * without CAP_SYS_PTRACE unless they ask for user-mode faults only,
	 * which would not catch KVM's accesses; /dev/userfaultfd (Linux 6.1+)
	 * is governed by its file mode instead. */
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		pr_debug("pager: userfaultfd syscall: %s; /dev/userfaultfd: %s",
			 strerror(-err), strerror(errno));
		return err;
	}
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		err = -errno;
	else
		pr_debug("pager: userfaultfd syscall: %s; using /dev/userfaultfd",
			 strerror(-err));
	close(dev);
	return fd >= 0 ? fd : err;
}

static int uffd_api(int fd, uint64_t features, uint64_t *offered)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };

	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return -errno;
	if (offered)
		*offered = api.features;
	return 0;
}

static const struct {
	uint64_t bit;
	const char *name;
} required[] = {
	{ UFFD_FEATURE_MISSING_SHMEM, "MISSING_SHMEM" },
	{ UFFD_FEATURE_PAGEFAULT_FLAG_WP, "PAGEFAULT_FLAG_WP" },
	{ UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
	  "WP_HUGETLBFS_SHMEM (write protection of shmem, Linux 5.19+ with "
	  "CONFIG_PTE_MARKER_UFFD_WP)" },
	{ UFFD_FEATURE_THREAD_ID, "THREAD_ID" },
};

/* UFFDIO_API may be called once per descriptor (6.1): ask what the kernel
 * offers on a throwaway descriptor, then open the real one. */
static int uffd_setup(struct pager *p)
{
	uint64_t want = 0;
	int fd, err;

	fd = uffd_open();
	if (fd < 0) {
		pr_err("pager: cannot open a userfaultfd: %s", strerror(-fd));
		return fd;
	}
	err = uffd_api(fd, 0, &p->features);
	close(fd);
	if (err) {
		pr_err("pager: UFFDIO_API: %s", strerror(-err));
		return err;
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!(p->features & required[i].bit)) {
			pr_err("pager: kernel lacks userfaultfd feature %s",
			       required[i].name);
			return -EOPNOTSUPP;
		}
		want |= required[i].bit;
	}
	fd = uffd_open();
	if (fd < 0)
		return fd;
	err = uffd_api(fd, want, NULL);
	if (err) {
		pr_err("pager: UFFDIO_API(%#llx): %s", (unsigned long long)want,
		       strerror(-err));
		close(fd);
		return err;
	}
	p->uffd = fd;
	return 0;
}

static int uffd_register(struct pager *p)
{
	const uint64_t need = 1ULL << _UFFDIO_COPY | 1ULL << _UFFDIO_ZEROPAGE |
			      1ULL << _UFFDIO_WAKE | 1ULL << _UFFDIO_WRITEPROTECT;
	struct uffdio_register r = {
		.range = { .start = (uint64_t)(uintptr_t)p->mem->guest_view,
			   .len = p->mem->size },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(p->uffd, UFFDIO_REGISTER, &r) < 0) {
		int err = -errno;

		pr_err("pager: UFFDIO_REGISTER MISSING|WP: %s", strerror(-err));
		return err;
	}
	if ((r.ioctls & need) != need) {
		pr_err("pager: registered range lacks ioctls (%#llx)",
		       (unsigned long long)r.ioctls);
		return -EOPNOTSUPP;
	}
	return 0;
}

int pager_new(struct pager **out, struct guest_mem *mem,
	      const struct pager_ops *ops, void *opaque)
{
	struct pager *p;
	int err;

	*out = NULL;
	if (!mem || mem->guest_view == MAP_FAILED || mem->fd < 0 ||
	    !mem->size || (mem->size & (PAGE_SZ - 1)) || !ops || !ops->fault)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->mem = mem;
	p->ops = *ops;
	p->opaque = opaque;
	p->uffd = p->stop_fd = -1;
	p->nr_pages = mem->size >> PAGE_SHIFT;

	/* A huge folio in the memfd (allocated through the unregistered
	 * hypervisor view) would survive a 4 KiB punch hole zeroed but present
	 * if it cannot be split, and the guest would map it without a fault.
	 * Keep both views on small pages; failure only means no THP. */
	madvise(mem->guest_view, mem->size, MADV_NOHUGEPAGE);
	madvise(mem->hyp_view, mem->size, MADV_NOHUGEPAGE);

	err = uffd_setup(p);
	if (err)
		goto fail;
	err = uffd_register(p);
	if (err)
		goto fail;
	p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->stop_fd < 0) {
		err = -errno;
		goto fail;
	}
	pr_debug("pager: %llu pages registered MISSING|WP, kernel features %#llx",
		 (unsigned long long)p->nr_pages,
		 (unsigned long long)p->features);
	*out = p;
	return 0;
fail:
	pager_free(p);
	return err;
}

void pager_free(struct pager *p)
{
	if (!p)
		return;
	pager_stop(p);
	if (p->uffd >= 0) {
		struct uffdio_range r = {
			.start = (uint64_t)(uintptr_t)p->mem->guest_view,
			.len = p->mem->size,
		};

		/* Wakes every waiter; close() alone would too. */
		ioctl(p->uffd, UFFDIO_UNREGISTER, &r);
		close(p->uffd);
	}
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	free(p);
}

/* ---- fault thread ---- */

static void handle_msg(struct pager *p, const struct uffd_msg *m)
{
	uint64_t base = (uint64_t)(uintptr_t)p->mem->guest_view, addr, page;
	uint64_t flags;
	bool write, wp;

	if (m->event != UFFD_EVENT_PAGEFAULT) {
		INC(p, faults_bad, 1);
		pr_warn("pager: unexpected userfaultfd event %#x", m->event);
		return;
	}
	addr = m->arg.pagefault.address;
	flags = m->arg.pagefault.flags;
	if (addr < base || addr - base >= p->mem->size) {
		INC(p, faults_bad, 1);
		pr_warn("pager: fault outside the guest view at %#llx",
			(unsigned long long)addr);
		return;
	}
	page = (addr - base) >> PAGE_SHIFT;
	write = flags & UFFD_PAGEFAULT_FLAG_WRITE;
	wp = flags & UFFD_PAGEFAULT_FLAG_WP;
	if (wp)
		INC(p, faults_wp, 1);
	else if (write)
		INC(p, faults_missing_write, 1);
	else
		INC(p, faults_missing_read, 1);
	p->ops.fault(p->opaque, page, write, wp,
		     (pid_t)m->arg.pagefault.feat.ptid);
}

/* Returns 0 when asked to stop, -errno on a fatal error. */
static int fault_loop(struct pager *p)
{
	struct uffd_msg msgs[MSG_BATCH];

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = p->uffd, .events = POLLIN },
			{ .fd = p->stop_fd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents)
			return 0;
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			return -EIO;
		if (!(pfd[0].revents & POLLIN))
			continue;
		n = read(p->uffd, msgs, sizeof(msgs));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (n % (ssize_t)sizeof(msgs[0]))
			return -EIO;
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++)
			handle_msg(p, &msgs[i]);
	}
}

static void *fault_thread(void *arg)
{
	struct pager *p = arg;
	int err;

	confine_thread(CONFINE_PAGER, 0);
	err = fault_loop(p);

	if (err) {
		pr_err("pager: fault thread stops: %s", strerror(-err));
		if (p->ops.error)
			p->ops.error(p->opaque, err);
	}
	return NULL;
}

int pager_start(struct pager *p)
{
	sigset_t all, old;
	uint64_t v;
	int err;

	if (p->running)
		return -EBUSY;
	/* Drain a stop request left from an earlier pager_stop. */
	while (read(p->stop_fd, &v, sizeof(v)) == sizeof(v))
		;
	/* Signals (vCPU kicks, the node's own) are for other threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&p->thread, NULL, fault_thread, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return err;
	pthread_setname_np(p->thread, "pager");
	p->running = true;
	return 0;
}

void pager_stop(struct pager *p)
{
	uint64_t one = 1;

	if (!p->running)
		return;
	if (write(p->stop_fd, &one, sizeof(one)) != sizeof(one))
		pr_err("pager: cannot signal the fault thread: %s",
		       strerror(errno));
	pthread_join(p->thread, NULL);
	p->running = false;
}

/* ---- resolution ---- */

static uint64_t page_addr(const struct pager *p, uint64_t page)
{
	return (uint64_t)(uintptr_t)p->mem->guest_view + (page << PAGE_SHIFT);
}

static bool bad_range(const struct pager *p, uint64_t first, uint64_t count)
{
	return !count || first >= p->nr_pages || count > p->nr_pages - first;
}

/* One UFFDIO_COPY (src != NULL or wp) or UFFDIO_ZEROPAGE over
 * [addr, addr + len). Returns the bytes filled (> 0) or -errno; -EEXIST
 * means the first page is present already. Wakes what it filled. */
static long fill_once(struct pager *p, uint64_t addr, uint64_t len,
		      const void *src, bool wp)
{
	long done;
	int ret;

	if (src || wp) {
		struct uffdio_copy c = {
			.dst = addr,
			.src = (uint64_t)(uintptr_t)(src ? src : zeros),
			.len = len,
			.mode = wp ? UFFDIO_COPY_MODE_WP : 0,
		};

		ret = ioctl(p->uffd, UFFDIO_COPY, &c);
		done = (long)c.copy;
	} else {
		struct uffdio_zeropage z = {
			.range = { .start = addr, .len = len },
		};

		ret = ioctl(p->uffd, UFFDIO_ZEROPAGE, &z);
		done = (long)z.zeropage;
	}
	if (ret == 0)
		return (long)len;
	/* A partial fill returns -EAGAIN with the count done. */
	if (done > 0)
		return done;
	return -errno;
}

static int protect(struct pager *p, uint64_t first, uint64_t count, bool wp,
		   bool wake)
{
	struct uffdio_writeprotect w = {
		.range = { .start = page_addr(p, first),
			   .len = count << PAGE_SHIFT },
		.mode = (wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0) |
			(!wp && !wake ? UFFDIO_WRITEPROTECT_MODE_DONTWAKE : 0),
	};

	for (int i = 0; i < MAX_RETRIES; i++) {
		if (ioctl(p->uffd, UFFDIO_WRITEPROTECT, &w) == 0)
			return 0;
		if (errno != EAGAIN)
			return -errno;
		INC(p, retries, 1);
		sched_yield();
	}
	return -EAGAIN;
}

static int wake(struct pager *p, uint64_t first, uint64_t count)
{
	struct uffdio_range r = {
		.start = page_addr(p, first),
		.len = count << PAGE_SHIFT,
	};

	return ioctl(p->uffd, UFFDIO_WAKE, &r) < 0 ? -errno : 0;
}

/* The page is present in the memfd although the caller believes it is
 * not (HAZARD in pager.h): write the contents through the hypervisor view,
 * protected first if it must end up read-only. */
static int install_present(struct pager *p, uint64_t page, const void *data,
			   bool writable)
{
	uint8_t *dst = p->mem->hyp_view + (page << PAGE_SHIFT);
	int err;

	INC(p, installs_present, 1);
	pr_debug("pager: install: page %llu was present already",
		 (unsigned long long)page);
	if (!writable) {
		err = protect(p, page, 1, true, false);
		if (err)
			return err;
	}
	if (data)
		memcpy(dst, data, PAGE_SZ);
	else
		memset(dst, 0, PAGE_SZ);
	return writable ? protect(p, page, 1, false, true) : wake(p, page, 1);
}

int pager_install(struct pager *p, uint64_t page, const void *data,
		  bool writable)
{
	int err = 0;

	if (bad_range(p, page, 1))
		return -EINVAL;
	for (int i = 0;; i++) {
		long r = fill_once(p, page_addr(p, page), PAGE_SZ, data,
				   !writable);

		if (r > 0)
			break;
		if (r == -EEXIST) {
			err = install_present(p, page, data, writable);
			break;
		}
		if (r != -EAGAIN || i == MAX_RETRIES)
			return (int)r;
		INC(p, retries, 1);
		sched_yield();
	}
	if (err)
		return err;
	if (data)
		INC(p, installs, 1);
	else
		INC(p, zero_installs, 1);
	return 0;
}

int pager_upgrade(struct pager *p, uint64_t page)
{
	int err;

	if (bad_range(p, page, 1))
		return -EINVAL;
	err = protect(p, page, 1, false, true);
	if (err)
		return err;
	INC(p, upgrades, 1);
	return 0;
}

int pager_downgrade_range(struct pager *p, uint64_t first, uint64_t count)
{
	int err;

	if (bad_range(p, first, count))
		return -EINVAL;
	err = protect(p, first, count, true, false);
	if (err)
		return err;
	INC(p, downgrades, count);
	return 0;
}

int pager_downgrade(struct pager *p, uint64_t page)
{
	return pager_downgrade_range(p, page, 1);
}

int pager_invalidate_range(struct pager *p, uint64_t first, uint64_t count)
{
	if (bad_range(p, first, count))
		return -EINVAL;
	if (fallocate(p->mem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(first << PAGE_SHIFT),
		      (off_t)(count << PAGE_SHIFT)) < 0)
		return -errno;
	INC(p, invalidations, count);
	return 0;
}

int pager_invalidate(struct pager *p, uint64_t page)
{
	return pager_invalidate_range(p, page, 1);
}

int pager_wake(struct pager *p, uint64_t page)
{
	int err;

	if (bad_range(p, page, 1))
		return -EINVAL;
	err = wake(p, page, 1);
	if (err)
		return err;
	INC(p, wakes, 1);
	return 0;
}

int pager_populate_local_range(struct pager *p, uint64_t first,
			       uint64_t count, bool writable)
{
	uint64_t addr = page_addr(p, first), end, filled = 0;
	int err, retries = 0;

	if (bad_range(p, first, count))
		return -EINVAL;
	end = addr + (count << PAGE_SHIFT);
	/* Fill the holes with zero pages, skipping the pages present (a
	 * fill stops at the first one); read-only fills are atomic copies of
	 * zeros with write protection, in chunks of the zero buffer. */
	while (addr < end) {
		uint64_t len = end - addr;
		long r;

		if (!writable && len > ZERO_CHUNK)
			len = ZERO_CHUNK;
		r = fill_once(p, addr, len, NULL, !writable);
		if (r > 0) {
			addr += (uint64_t)r;
			filled += (uint64_t)r >> PAGE_SHIFT;
		} else if (r == -EEXIST) {
			addr += PAGE_SZ;
		} else if (r == -EAGAIN && retries++ < MAX_RETRIES) {
			INC(p, retries, 1);
			sched_yield();
		} else {
			return (int)r;
		}
	}
	/* The pages that were present get their protection here, and their
	 * waiters (if any) a wake-up. */
	err = protect(p, first, count, !writable, false);
	if (!err)
		err = wake(p, first, count);
	if (err)
		return err;
	pr_debug("pager: populated %llu pages from %llu (%llu were holes)",
		 (unsigned long long)count, (unsigned long long)first,
		 (unsigned long long)filled);
	INC(p, populated, count);
	return 0;
}

int pager_populate_local(struct pager *p, uint64_t page, bool writable)
{
	return pager_populate_local_range(p, page, 1, writable);
}

/* ---- queries ---- */

int64_t pager_next_resident(struct pager *p, uint64_t from)
{
	off_t off;

	if (from >= p->nr_pages)
		return -ENXIO;
	/* SEEK_DATA counts shmem pages that are swapped out as data, which
	 * mincore() would not. */
	off = lseek(p->mem->fd, (off_t)(from << PAGE_SHIFT), SEEK_DATA);
	if (off < 0)
		return -errno;
	return (int64_t)((uint64_t)off >> PAGE_SHIFT);
}

int pager_resident(struct pager *p, uint64_t page)
{
	int64_t next;

	if (bad_range(p, page, 1))
		return -EINVAL;
	next = pager_next_resident(p, page);
	if (next == -ENXIO)
		return 0;
	if (next < 0)
		return (int)next;
	return (uint64_t)next == page;
}

uint64_t pager_nr_pages(const struct pager *p)
{
	return p->nr_pages;
}

uint64_t pager_kernel_features(const struct pager *p)
{
	return p->features;
}

void pager_get_stats(struct pager *p, struct pager_stats *out)
{
#define GET(f) out->f = atomic_load_explicit(&p->c.f, memory_order_relaxed)
	GET(faults_missing_read);
	GET(faults_missing_write);
	GET(faults_wp);
	GET(faults_bad);
	GET(installs);
	GET(zero_installs);
	GET(installs_present);
	GET(upgrades);
	GET(downgrades);
	GET(invalidations);
	GET(populated);
	GET(wakes);
	GET(retries);
#undef GET
}
