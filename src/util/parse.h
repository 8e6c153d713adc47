/* Parsing of user-supplied numbers: strict, with range checks, so that every
 * bad flag gets a clear message instead of a silent default. */
#ifndef AMALGAM_UTIL_PARSE_H
#define AMALGAM_UTIL_PARSE_H

#include <stdint.h>

/* "512M", "1G", "4096K", "1048576" (bytes). Returns 0 or -EINVAL. */
int parse_size(const char *s, uint64_t *out);
/* Decimal unsigned in [min, max]. Returns 0, -EINVAL or -ERANGE. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
