#include "util/outfd.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

uint64_t outfd_write(struct outfd *o, const void *buf, size_t n)
{
	const char *p = buf;

	if (o->fd < 0)
		return 0;
	while (n) {
		struct pollfd pfd = { .fd = o->fd, .events = POLLOUT };
		int ready = poll(&pfd, 1, o->stalled ? 0 : OUTFD_STALL_MS);
		ssize_t r;

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready == 0) {
			if (!o->stalled)
				pr_warn("%s: output stalled for %d ms: guest output is dropped "
					"(and counted) until it drains", o->name, OUTFD_STALL_MS);
			o->stalled = true;
			return n;
		}
		if (o->stalled) {
			pr_warn("%s: output flows again", o->name);
			o->stalled = false;
		}
		r = write(o->fd, p, n < PIPE_BUF ? n : PIPE_BUF);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;	/* poll again, within the bound */
		if (!o->error_logged) {
			pr_warn("%s: output lost: %s", o->name,
				r < 0 ? strerror(errno) : "short write");
			o->error_logged = true;
		}
		return n;
	}
	return 0;
}
