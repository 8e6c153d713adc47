/* The userfaultfd mechanism under the coherence protocol: it owns the
 * userfaultfd of a node's guest view, reports every guest fault, and carries
 * out the protocol's decisions on the local copy of a page (fill and map,
 * write-protect, unprotect, drop, wake).
 *
 * Pages are numbered as in dsm.h: page = memfd offset / 4096 (not gpa >> 12;
 * RAM has a hole below 4 GiB). guest_mem_offset() converts a gpa.
 *
 * Mode: MISSING | WP, not MINOR
 * -----------------------------
 * The whole guest view is registered UFFDIO_REGISTER_MODE_MISSING |
 * UFFDIO_REGISTER_MODE_WP (shmem write protection needs
 * UFFD_FEATURE_WP_HUGETLBFS_SHMEM, Linux 5.19+). A local copy exists iff the
 * page is in the memfd's page cache; Invalid pages are holes.
 *  - Read-only copies are installed atomically with UFFDIO_COPY_MODE_WP, on
 *    6.1 too. Minor mode would install with UFFDIO_CONTINUE, which maps the
 *    page writable on 6.1 even over a write-protect marker (measured here:
 *    6.1 rejects UFFDIO_CONTINUE_MODE_WP with EINVAL, the flag came in 6.4);
 *    a vCPU could write a Shared copy in the window before a separate
 *    UFFDIO_WRITEPROTECT. That breaks single-writer: not acceptable.
 *  - Invalid pages give their memory back (punch hole); in minor mode every
 *    page a node ever touched would stay in its memfd.
 *  - Pages already in the memfd (what node 0 loaded through the hypervisor
 *    view) need no fault or copy to become local: see populate below.
 * Nothing newer than 6.1 is needed: shmem keeps write-protect markers on
 * unpopulated PTEs without UFFD_FEATURE_WP_UNPOPULATED (that feature is for
 * anonymous memory), and UFFDIO_CONTINUE_MODE_WP is a minor-mode matter.
 * pager_kernel_features() reports what the running kernel offers.
 * Minor mode is cheaper per invalidate+refill cycle (MADV_DONTNEED ~1.8 us +
 * memcpy/CONTINUE ~1.6 us, against punch hole ~3.7 us + UFFDIO_COPY ~2.9 us
 * here), a few microseconds on a ~150 us remote fault.
 *
 * Verified semantics (shmem memfd, MISSING|WP; identical on Debian's
 * 6.1.0-56 under QEMU and on this 6.18 host; tests/unit/pager checks them):
 *  - An access through the guest view faults MISSING iff the page is not in
 *    the memfd (hole). A page present in the memfd (written through the
 *    hypervisor view, fallocated, or installed) is mapped on first touch
 *    with no message at all, read or write.
 *  - A write to a page whose guest-view PTE is write-protected (installed
 *    with !writable, or downgraded) faults WP with the write flag. Reads
 *    never fault on it.
 *  - Write protection on a page that is present in the memfd but not mapped
 *    yet (or not present at all) is kept as a PTE marker: the first read
 *    maps it read-only, the first write faults WP.
 *  - Punch hole drops the page from the memfd and from both views; the next
 *    guest access faults MISSING again. A write-protect marker survives the
 *    punch but is overridden by the next install (writable or not, as
 *    asked).
 *  - MADV_DONTNEED on the guest view only zaps the PTE: the next access maps
 *    the memfd's copy again without a fault. Never use it to invalidate.
 *  - HAZARD: any access through the hypervisor view to an Invalid page
 *    (even a read) allocates a zero page in the memfd, which the guest view
 *    then maps silently, no fault: the local guest reads zeros and its
 *    writes are lost to the cluster. The VMM must touch through the
 *    hypervisor view only pages the protocol holds locally.
 *  - Writes through the hypervisor view are never write-protected (only
 *    the guest view is registered).
 *  - KVM: registering the guest view does not disturb
 *    KVM_SET_USER_MEMORY_REGION. KVM's own accesses block on the
 *    userfaultfd like user-space ones and are reported with the vCPU
 *    thread's tid: an instruction fetch from a missing page faults MISSING
 *    read, a guest store to a read-only copy faults WP write. Downgrade and
 *    punch hole reach KVM's mappings (the next guest store faults WP, the
 *    next fetch faults MISSING). Checked on Debian 6.1 with nested SVM/NPT
 *    under QEMU, and under this host's PVM. With async page faults exposed
 *    to the guest the faulting task may be a kernel worker instead of the
 *    vCPU thread: do not expose KVM_FEATURE_ASYNC_PF.
 *
 * Costs measured here (nested, 2 shared CPUs; all vary 2-3x with the
 * host's load): fault round trip (touch -> ops->fault -> queue -> another
 * thread installs -> resume) median 25-33 us, p99 65-110 us; UFFDIO_COPY
 * of 4 KiB 3-10 us; write-protect on or off 1-1.5 us a call, 0.1-0.2 us a
 * page over a range; punch hole 4-16 us a mapped page, 1-3 us a page over
 * a range. tests/unit/pager/test_pager_host.c prints current figures.
 *
 * Threads and locking. The fault thread (pager_start) only reads messages
 * and calls ops->fault; it never touches guest memory through either view.
 * The pager itself blocks on nothing but poll; what ops->fault does is
 * its owner's business (the memory plane sends the request inline, so the
 * thread may wait on a socket, memplane.c). Every other call is thread-safe
 * and may run on any thread (the kernel serializes the ioctls; the pager
 * keeps only counters: which faults are pending, and for how long, is the
 * memory plane's to know, faults.h).
 * The caller (the protocol) serializes decisions per page; the pager does
 * not check that a call makes sense in the page's protocol state.
 * pager_new/start/stop/free belong to one control thread, never to an ops
 * callback.
 */
#ifndef AMALGAM_MEMPLANE_PAGER_H
#define AMALGAM_MEMPLANE_PAGER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct guest_mem;
struct pager;

struct pager_ops {
	/* A guest-view access faulted; the faulting thread is blocked until
	 * a resolution call wakes the page. Runs on the fault thread; must not
	 * wait for another fault to be resolved (no fault is read meanwhile),
	 * but may send on a socket (the memory plane does). write: the access was a write. wp: the page
	 * is mapped write-protected (wants an upgrade); otherwise it is
	 * missing. tid: the faulting thread, in the pager's pid namespace.
	 * Several faults may be reported for one page (several threads, or a
	 * thread that was woken while its access was still not allowed). */
	void (*fault)(void *opaque, uint64_t page, bool write, bool wp,
		      pid_t tid);
	/* Optional: the fault thread stopped on an unrecoverable error
	 * (-errno); the node cannot make progress and should stop. */
	void (*error)(void *opaque, int err);
};

/* Opens a userfaultfd (the syscall, else /dev/userfaultfd), negotiates the
 * features and registers mem's whole guest view. mem must outlive the
 * pager. Errors: -EPERM (userfaultfd denied both ways), -EOPNOTSUPP (kernel
 * lacks shmem MISSING or WP support: Linux 5.19+ needed), -EINVAL, -ENOMEM. */
int pager_new(struct pager **out, struct guest_mem *mem,
	      const struct pager_ops *ops, void *opaque);
/* Stops the fault thread if running, unregisters the guest view and closes
 * the userfaultfd. Unregistering wakes every blocked thread; they then
 * access the memfd as plain shared memory (holes read as zeros). */
void pager_free(struct pager *p);

/* Starts / stops the fault thread. pager_stop returns once the thread has
 * exited (bounded: it waits only for the ops->fault call in progress).
 * Threads blocked on a fault stay blocked until a resolution call or
 * pager_free. */
int pager_start(struct pager *p);
void pager_stop(struct pager *p);

/* Resolution calls. All return 0 or -errno: -EINVAL for a page out of
 * range, else the kernel's error (e.g. -ENOENT/-ESRCH once the mapping or
 * the process is going away). Transient -EAGAIN is retried inside. */

/* Fill a missing page with 4096 bytes from data (NULL: zeros), map it
 * writable or write-protected, and wake its waiters. If the page is
 * unexpectedly present already (see HAZARD above), its contents are
 * overwritten through the hypervisor view and its protection set as asked;
 * counted in installs_present. */
int pager_install(struct pager *p, uint64_t page, const void *data,
		  bool writable);
/* Write-protection off, and wake the waiters (a WP fault resolved). */
int pager_upgrade(struct pager *p, uint64_t page);
/* Write-protection on. When this returns no guest write (user space or
 * KVM) can still land in the page; read it through the hypervisor view. */
int pager_downgrade(struct pager *p, uint64_t page);
int pager_downgrade_range(struct pager *p, uint64_t first, uint64_t count);
/* Drop the local copy (punch a hole in the memfd): memory is freed and the
 * next guest access faults MISSING. Does not wake anyone. */
int pager_invalidate(struct pager *p, uint64_t page);
int pager_invalidate_range(struct pager *p, uint64_t first, uint64_t count);
/* Wake the threads waiting on page; those whose access is still not
 * allowed fault again. */
int pager_wake(struct pager *p, uint64_t page);
/* Make the memfd's current contents of the page the local copy, without
 * copying: a page already present keeps its contents (e.g. loaded through
 * the hypervisor view); a hole becomes a zero page (memory is allocated).
 * Then protect as asked and wake waiters. Note that pages present in the
 * memfd are accessible to the guest view from the start anyway (no fault);
 * this call is what sets their protection and fills the holes. */
int pager_populate_local(struct pager *p, uint64_t page, bool writable);
int pager_populate_local_range(struct pager *p, uint64_t first,
			       uint64_t count, bool writable);

/* 1 if the page holds data in the memfd (so a guest access would not fault
 * MISSING), 0 if it is a hole, or -errno. */
int pager_resident(struct pager *p, uint64_t page);
/* First page >= from holding data in the memfd, or -ENXIO if none: a
 * fast scan of what was loaded through the hypervisor view. */
int64_t pager_next_resident(struct pager *p, uint64_t from);

uint64_t pager_nr_pages(const struct pager *p);
/* Feature bits the kernel offered in UFFDIO_API, for the log. */
uint64_t pager_kernel_features(const struct pager *p);

struct pager_stats {
	uint64_t faults_missing_read;
	uint64_t faults_missing_write;
	uint64_t faults_wp;
	uint64_t faults_bad;		/* outside the guest view, or not a
					 * page fault event */
	uint64_t installs;		/* with contents */
	uint64_t zero_installs;
	uint64_t installs_present;	/* install found the page present */
	uint64_t upgrades;
	uint64_t downgrades;		/* pages */
	uint64_t invalidations;		/* pages */
	uint64_t populated;		/* pages */
	uint64_t wakes;
	uint64_t retries;		/* transient -EAGAIN, retried */
};

void pager_get_stats(struct pager *p, struct pager_stats *out);

#endif
