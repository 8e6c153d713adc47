/* Small key files (the cluster key, a node's secret key, a trust list):
 * made exclusively with mode 0600, read whole with a bound, a warning when
 * a secret one is readable by others, and every failure logged with what
 * the file is and its path. */
#ifndef AMALGAM_NET_KEYFILE_H
#define AMALGAM_NET_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Create path (mode 0600; -EEXIST if present) holding len bytes of text;
 * removed again on a failed write. 0 or -errno. */
int keyfile_create(const char *what, const char *path, const void *text, size_t len);
/* Read the whole of path, at most max bytes, into a fresh buffer of max + 2
 * bytes (NUL-terminated; *out, to wipe with sodium_memzero over *len and
 * free). 0 or -errno (-EINVAL: not a regular file, or too large). */
int keyfile_read(const char *what, const char *path, size_t max, bool secret, char **out,
		 size_t *len);

#endif
