/* The VMM's additions to a Linux command line; the reasons are in
 * linuxargs.h. */
#include "x86/linuxargs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The length of the word at p: up to a blank outside double quotes,
 * as Linux splits its command line (next_arg). */
static size_t word_len(const char *p)
{
	bool quoted = false;
	size_t w = 0;

	for (; p[w] && (quoted || (p[w] != ' ' && p[w] != '\t')); w++)
		if (p[w] == '"')
			quoted = !quoted;
	return w;
}

bool linux_args_has(const char *cmdline, const char *name)
{
	size_t n = strlen(name);
	const char *p = cmdline;

	if (!p || !n)
		return false;
	while (*p) {
		size_t w;

		while (*p == ' ' || *p == '\t')
			p++;
		w = word_len(p);
		if (w == 2 && !strncmp(p, "--", 2))
			return false;	/* the rest is init's */
		if (w >= n && !strncmp(p, name, n) && (w == n || p[n] == '='))
			return true;
		p += w;
	}
	return false;
}

int linux_args_build(const struct linux_args *a, const char *user, char *buf, size_t len)
{
	char cpus[32];
	struct { const char *name; const char *value; } add[6];
	unsigned k = 0;
	char khz[32];
	size_t off = 0;

	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	if (a->spans && a->cpus > 1) {
		if (a->cpus == 2)
			snprintf(cpus, sizeof(cpus), "1");
		else
			snprintf(cpus, sizeof(cpus), "1-%u", a->cpus - 1);
		add[k++] = (typeof(add[0])){ "nohz_full", cpus };
		add[k++] = (typeof(add[0])){ "rcu_nocbs", cpus };
		add[k++] = (typeof(add[0])){ "numa_balancing", "disable" };
		add[k++] = (typeof(add[0])){ "tsc", "reliable" };
		add[k++] = (typeof(add[0])){ "sysctl.vm.compaction_proactiveness", "0" };
	}
	if (a->tsc_khz) {
		snprintf(khz, sizeof(khz), "%lu", a->tsc_khz);
		add[k++] = (typeof(add[0])){ "tsc_early_khz", khz };
	}
	for (unsigned i = 0; i < k; i++) {
		int w;

		if (linux_args_has(user, add[i].name))
			continue;
		w = snprintf(buf + off, len - off, "%s%s=%s", off ? " " : "", add[i].name,
			     add[i].value);
		if (w < 0 || (size_t)w >= len - off) {
			buf[0] = '\0';
			return -ENOSPC;
		}
		off += (size_t)w;
	}
	return 0;
}
