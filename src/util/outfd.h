/* Guest output to a host fd (a console's terminal, pipe or file) that
 * never holds its writer for long: a chunk is written only once poll says
 * the fd has room (for a pipe that means a whole PIPE_BUF chunk fits, so
 * the write cannot block), waiting at most OUTFD_STALL_MS. An fd that
 * stays full that long is stalled: what comes is dropped and counted,
 * without waiting, until the fd takes bytes again (so a stopped terminal
 * or pipe never hangs the node). Write errors drop the data, counted and
 * logged once. The caller should ignore SIGPIPE.
 *
 * Not thread-safe: one writer at a time (the device's lock or thread). */
#ifndef AMALGAM_UTIL_OUTFD_H
#define AMALGAM_UTIL_OUTFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OUTFD_STALL_MS 100

struct outfd {
	int fd;			/* -1 discards (not counted as dropped) */
	const char *name;	/* for the log */
	bool stalled;		/* full for OUTFD_STALL_MS: dropping */
	bool error_logged;
};

/* Returns the bytes dropped (0 when all were written). */
uint64_t outfd_write(struct outfd *o, const void *p, size_t n);

#endif
