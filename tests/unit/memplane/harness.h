/* A cluster in one process for the memory plane tests: two or three
 * memplanes, each with its own guest RAM, joined by an in-memory network
 * (one FIFO and one delivery thread per ordered pair of nodes, like one TCP
 * connection each way), and "vCPU" threads touching the guest views.
 * Every message goes through wire_encode/wire_decode on its way, so what
 * the plane sends is what the wire validator accepts. Every wait is
 * bounded: a bug fails a test instead of hanging it. */
#ifndef AMALGAM_TESTS_MEMPLANE_HARNESS_H
#define AMALGAM_TESTS_MEMPLANE_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include "memplane/memplane.h"
#include "hw/mem.h"

#define PG 4096UL
#define MEM_SIZE (16UL << 20)
#define NR_PAGES (MEM_SIZE / PG)
#define MAX_NODES 3
#define JOIN_MS 20000

struct tnode {
	unsigned id;
	struct guest_mem mem;
	struct memplane *mp;
	atomic_int fatal;	/* ops->fatal calls */
	char why[200];
	atomic_bool fail_sends;	/* ops->send fails with -EPIPE */
	atomic_uint fault_tag;	/* the tag of the workers spawned next */
};

extern struct tnode nodes[MAX_NODES];
extern unsigned nr_nodes;
extern struct dsm_layout layout;
/* Set at teardown: every worker loop must watch it. */
extern atomic_bool abort_all;

/* Create n nodes (guest RAM, plane, links); not started, so that a test
 * can write through hypervisor views and preload first. Read-ahead off
 * (the tests count single faults). */
void cluster_create(unsigned n);
/* Start the links and every plane; or the links alone, then each plane. */
void cluster_start(void);
void cluster_start_links(void);
void node_start(unsigned node);
/* No plane reported a fatal error, no receiver refused a message. */
void cluster_check(void);
/* cmocka teardown: stop every plane (releasing blocked workers), join the
 * workers, stop the links, free everything. */
int cluster_teardown(void **state);

/* Messages from..to stop being delivered until resumed. */
void link_pause(unsigned from, unsigned to, bool paused);
/* Receive calls that returned an error other than -ESHUTDOWN. */
unsigned link_errors(void);

/* The page idx of node's home range, and its address in a view. */
uint64_t home_page(unsigned node, uint64_t idx);
volatile uint8_t *gview(unsigned node, uint64_t page);
uint8_t *hview(unsigned node, uint64_t page);

/* A "vCPU": a thread that touches guest views. */
struct worker;
typedef void (*work_fn)(struct worker *w);
struct worker {
	pthread_t th;
	unsigned node;
	work_fn fn;
	void *arg;
	uint64_t a, b, c;	/* the test's parameters */
	uint64_t out;		/* the test's result */
	unsigned tag;		/* ops->remote_fault's answer for its faults */
	atomic_int tid;
	atomic_int done;
	atomic_int failed;
	char msg[160];
};

struct worker *spawn(unsigned node, work_fn fn, uint64_t a, uint64_t b,
		     uint64_t c);
/* Joined within ms; fails the test otherwise (or if the worker failed). */
void join(struct worker *w, int ms);
void worker_fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

double now_us(void);
void sleep_ms(int ms);

#endif
