/* Fixture shared by the pager tests. Every wait is bounded: a bug fails a
 * test instead of hanging it. */
#ifndef AMALGAM_TESTS_PAGER_HARNESS_H
#define AMALGAM_TESTS_PAGER_HARNESS_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include "memplane/pager.h"
#include "hw/mem.h"

#define PG 4096UL
#define MEM_SIZE (16UL << 20)
#define TIMEOUT_MS 3000

/* What ops->fault reported. */
struct fault_ev {
	uint64_t page;
	bool write, wp;
	pid_t tid;
};

/* A "guest" access on its own thread: userfaultfd treats it like a vCPU's.
 * It reads or writes one byte at offset 8 of the page. */
struct access {
	uint64_t page;
	unsigned offset;
	bool write;
	uint8_t val, got;
	atomic_int done;
	atomic_int tid;
	pthread_t th;
};

/* 16 MiB of guest RAM and a started pager reporting to the queue; as
 * cmocka setup/teardown. Teardown frees the pager (releasing blocked
 * accesses), joins every access, and frees the RAM. */
extern struct guest_mem mem;
extern struct pager *pg;
extern const struct pager_ops ops;
int pager_setup(void **state);
int pager_teardown(void **state);

double now_us(void);
void sleep_ms(int ms);

/* Pops the next reported fault within ms; false on timeout. */
bool pop(struct fault_ev *e, int ms);
unsigned queued(void);
/* Faults lost because the queue was full. */
unsigned fault_overflow(void);

struct access *start_access(uint64_t page, bool write, uint8_t val);
bool wait_done(struct access *a, int ms);
/* An access that must complete at once, with no fault; returns the byte
 * read. */
uint8_t touch_nofault(uint64_t page, bool write, uint8_t val);
/* The next fault is this one (and a's, if a is given). */
void expect_fault(uint64_t page, bool write, bool wp, struct access *a);
/* a is still blocked 30 ms later. */
void expect_blocked(struct access *a);
/* Byte off of page, read through the hypervisor view. */
uint8_t hyp(uint64_t page, unsigned off);
/* A page of v (one static buffer). */
uint8_t *filled(uint8_t v);

#endif
