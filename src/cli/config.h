/* The command line's side of the configuration (node/config.h): parsing
 * `amalgam run` and `amalgam node` arguments into it. */
#ifndef AMALGAM_CLI_CONFIG_H
#define AMALGAM_CLI_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "node/config.h"

/* --node-cpus N, the same on 'run' and 'node': 0, or -EINVAL with a
 * one-line message in err. */
int config_parse_node_cpus(const char *s, unsigned *out, char *err, size_t errlen);
/* --cache SIZE, the same on 'run' and 'node' (bytes, whole pages). */
int config_parse_cache(const char *s, uint64_t *out, char *err, size_t errlen);
/* --read-ahead PAGES: 0 (off) to MEMPLANE_READAHEAD_MAX. */
int config_parse_read_ahead(const char *s, int *out, char *err, size_t errlen);
/* --stats-every MS, for run and node alike. */
int config_parse_stats_every(const char *s, unsigned *out, char *err, size_t errlen);
/* --confine-selftest KIND: the kind + 1 in *out, or -EINVAL with the reason. */
int config_parse_selftest(const char *s, int *out, char *err, size_t errlen);

/* Parse 'amalgam run' arguments (argv[0] is "run"). Returns 0, 1 if help
 * was printed, or -EINVAL with a one-line message in err. */
int config_parse_run(struct config *cfg, int argc, char **argv, char *err,
		     size_t errlen);
void config_usage_run(void);

#endif
