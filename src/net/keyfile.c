#include "net/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "util/log.h"

int keyfile_create(const char *what, const char *path, const void *text, size_t len)
{
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		pr_err("%s %s: cannot create: %s", what, path, strerror(errno));
		return err;
	}
	if (write(fd, text, len) != (ssize_t)len) {
		err = errno ? -errno : -EIO;
		pr_err("%s %s: write failed", what, path);
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err)
		unlink(path);
	return err;
}

int keyfile_read(const char *what, const char *path, size_t max, bool secret, char **out,
		 size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, err = 0;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_err("%s %s: cannot open: %s", what, path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		pr_err("%s %s: not a regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	if (secret && (st.st_mode & 077))
		pr_warn("%s %s is readable by group or others (mode %03o)", what, path,
			(unsigned)(st.st_mode & 0777));
	buf = calloc(1, max + 2);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (*len <= max) {
		n = read(fd, buf + *len, max + 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			pr_err("%s %s: read: %s", what, path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	if (!err && *len > max) {
		pr_err("%s %s: file too large for a key", what, path);
		err = -EINVAL;
	}
	if (err) {
		sodium_memzero(buf, max + 2);
		free(buf);
		*len = 0;
		return err;
	}
	*out = buf;
	return 0;
}
