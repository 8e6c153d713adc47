#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>

static int node_id;
static enum log_level cur_level = LOG_WARN;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *names[] = { "error", "warn", "info", "debug" };

void log_init(int id, enum log_level level)
{
	node_id = id;
	cur_level = level;
}

void log_set_level(enum log_level level) { cur_level = level; }
enum log_level log_get_level(void) { return cur_level; }
int log_node_id(void) { return node_id; }

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > cur_level)
		return;
	/* One lock so that a line from one thread is never split by another. */
	pthread_mutex_lock(&lock);
	fprintf(stderr, "amalgam[%d] %s: ", node_id, names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&lock);
}
