/* Seeds for the fuzz targets whose input is not a frame (gen_seeds.c). */
#ifndef AMALGAM_FUZZ_GEN_SEEDS_H
#define AMALGAM_FUZZ_GEN_SEEDS_H

#include <stddef.h>

/* Writes target's seeds into dir: 0, 1 on an error, -1 when target's
 * seeds are frames (gen_corpus.c writes those). */
int gen_seeds(const char *dir, const char *target);
/* One seed file dir/name: 0, or -1 with the reason on stderr. */
int seed_write(const char *dir, const char *name, const void *data, size_t size);

#endif
