/* amalgam-scale: the parallel kernels of `scripts/bench scale`, run inside
 * the Linux test guest (installed as /bin/amalgam-scale by scripts/guest,
 * built static so that it needs nothing from the initramfs).
 *
 *   amalgam-scale KERNEL THREADS SIZE [REPS]
 *     ep      each thread draws its own pseudo-random pairs and counts
 *             Gaussian deviates by annulus (NAS EP's shape): nothing is
 *             shared in user space; SIZE is log2 of the pairs drawn.
 *     triad   a[i] = b[i] + s * c[i] over three arrays of SIZE MiB each,
 *             every thread's slice first touched by that thread (STREAM's
 *             shape), REPS times (default 20).
 *     stencil a 1-D three-point Jacobi sweep over SIZE MiB, REPS sweeps
 *             (default 200): neighbours' edges are read every sweep and a
 *             residual is summed over all threads at every sweep (real
 *             sharing: halos, a reduction and a barrier).
 *   amalgam-scale kmap
 *             where the running kernel put itself, for naming hot pages
 *             by symbol (from /proc/kallsyms and /proc/kcore).
 *   amalgam-scale syms PAGE,...
 *             the symbols in each page: iOFF is the page at _text + OFF
 *             (the kernel image; the same in every boot of one kernel,
 *             whatever KASLR chose), pOFF the page at offset OFF of a
 *             per-CPU area (hex offsets). Prints one line a page:
 *               scale: sym PAGE NAME+0xN,NAME,...
 *             the symbol that covers the page's start (with how far into
 *             it the page starts), then those that start in it; aOFF is
 *             the instruction at _text + OFF: the function it is in.
 *
 * Thread t is pinned to CPU t (as OMP_PROC_BIND=true would do). Prints
 *   scale: KERNEL threads=T size=S seconds=X check=C tsc=BEGIN,END done=D0,D1,...
 * where check is the same for any thread count (the partition of the
 * work never changes what is computed), tsc the time stamp counter at
 * the start and end of the timed part, for the hypervisor's counters, and
 * Dt the seconds thread t took to finish its share (which vCPU held the
 * others up).
 * Exit status 0, or 1 with one line on stderr. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define MAX_THREADS 256
#define EP_BLOCK_LOG 16		/* pairs per block: the unit of work */
#define EP_ANNULI 10

static unsigned nthreads;
static pthread_barrier_t barrier;

static void die(const char *msg)
{
	fprintf(stderr, "amalgam-scale: %s\n", msg);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin(unsigned t)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t % CPU_SETSIZE, &set);
	/* Fewer CPUs than threads: the scheduler places them. */
	sched_setaffinity(0, sizeof(set), &set);
}

/* ---- ep ------------------------------------------------------------------ */

static unsigned ep_log;
static uint64_t ep_counts[MAX_THREADS][EP_ANNULI];

/* splitmix64: a block's stream depends on the block number only. */
static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
	return (double)(mix(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static void ep_thread(unsigned t)
{
	uint64_t blocks = 1ull << (ep_log > EP_BLOCK_LOG ? ep_log - EP_BLOCK_LOG : 0);
	uint64_t per = 1ull << (ep_log < EP_BLOCK_LOG ? ep_log : EP_BLOCK_LOG);
	uint64_t q[EP_ANNULI] = { 0 };

	for (uint64_t b = t; b < blocks; b += nthreads) {
		uint64_t s = b * 0x2545f4914f6cdd1dull;

		for (uint64_t i = 0; i < per; i++) {
			double x = uniform(&s), y = uniform(&s), r = x * x + y * y;

			if (r > 1.0 || r == 0.0)
				continue;
			double f = sqrt(-2.0 * log(r) / r);
			double gx = fabs(x * f), gy = fabs(y * f);
			unsigned l = (unsigned)(gx > gy ? gx : gy);

			if (l < EP_ANNULI)
				q[l]++;
		}
	}
	memcpy(ep_counts[t], q, sizeof(q));
}

static uint64_t ep_check(void)
{
	uint64_t h = 0;

	for (unsigned l = 0; l < EP_ANNULI; l++) {
		uint64_t sum = 0;

		for (unsigned t = 0; t < nthreads; t++)
			sum += ep_counts[t][l];
		h = h * 1000003 + sum;
	}
	return h;
}

/* ---- triad and stencil ----------------------------------------------------- */

static double *va, *vb, *vc;
static size_t n_elems;
static unsigned reps;
static double partial[MAX_THREADS][8];	/* one cache line each */

static void slice(unsigned t, size_t *lo, size_t *hi)
{
	*lo = n_elems * t / nthreads;
	*hi = n_elems * (t + 1) / nthreads;
}

static void triad_thread(unsigned t)
{
	size_t lo, hi;

	slice(t, &lo, &hi);
	for (unsigned r = 0; r < reps; r++)
		for (size_t i = lo; i < hi; i++)
			va[i] = vb[i] + 3.0 * vc[i];
}

static void triad_touch(unsigned t)
{
	size_t lo, hi;

	slice(t, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		va[i] = 0;
		vb[i] = (double)(i % 1000);
		vc[i] = (double)(i % 7);
	}
}

static void stencil_touch(unsigned t)
{
	size_t lo, hi;

	slice(t, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		va[i] = vb[i] = (double)(i % 4096);
}

static void stencil_thread(unsigned t)
{
	size_t lo, hi;
	double *in = va, *out = vb, *tmp;

	slice(t, &lo, &hi);
	for (unsigned r = 0; r < reps; r++) {
		double res = 0;

		for (size_t i = lo; i < hi; i++) {
			double v = i == 0 || i == n_elems - 1 ? in[i] :
				   (in[i - 1] + in[i] + in[i + 1]) / 3.0;

			res += fabs(v - in[i]);
			out[i] = v;
		}
		partial[t][0] = res;
		pthread_barrier_wait(&barrier);
		/* Everyone sums everyone's residual: the reduction. */
		res = 0;
		for (unsigned u = 0; u < nthreads; u++)
			res += partial[u][0];
		partial[t][1] = res;
		pthread_barrier_wait(&barrier);
		tmp = in, in = out, out = tmp;
	}
}

/* ---- threads ----------------------------------------------------------------- */

enum kernel { EP, TRIAD, STENCIL };
static enum kernel kernel;
static uint64_t tsc_begin, tsc_end;
static double t_begin, t_end;
static double t_done[MAX_THREADS];

static void *thread_main(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;

	pin(t);
	if (kernel == TRIAD)
		triad_touch(t);
	else if (kernel == STENCIL)
		stencil_touch(t);
	pthread_barrier_wait(&barrier);
	if (t == 0) {
		t_begin = now();
		tsc_begin = __rdtsc();
	}
	pthread_barrier_wait(&barrier);
	if (kernel == EP)
		ep_thread(t);
	else if (kernel == TRIAD)
		triad_thread(t);
	else
		stencil_thread(t);
	t_done[t] = now();
	pthread_barrier_wait(&barrier);
	if (t == 0) {
		tsc_end = __rdtsc();
		t_end = now();
	}
	return NULL;
}

static unsigned long parse(const char *s, unsigned long max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max) {
		fprintf(stderr, "amalgam-scale: %s must be 1..%lu, not '%s'\n", what, max, s);
		exit(1);
	}
	return v;
}

/* ---- kmap ------------------------------------------------------------------------ */

static int ksym(const char *name, uint64_t *addr)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], sym[256], type;
	unsigned long long a;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &a, &type, sym) == 3 && !strcmp(sym, name)) {
			fclose(f);
			*addr = a;
			return 0;
		}
	fclose(f);
	return -1;
}

/* Read len bytes at kernel virtual address va through /proc/kcore. */
static int kread(int fd, uint64_t vaddr, void *buf, size_t len)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh))
		return -1;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != sizeof(ph))
			return -1;
		if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
		    vaddr + len <= ph.p_vaddr + ph.p_memsz)
			return pread(fd, buf, len, (off_t)(ph.p_offset + vaddr - ph.p_vaddr)) ==
			       (ssize_t)len ? 0 : -1;
	}
	return -1;
}

/* scale: kmap text=V phys_base=P page_offset_base=O percpu=A,B,...
 * text is _text's virtual address (with KASLR's slide), phys_base where
 * the kernel image sits in physical memory (image address - text map),
 * page_offset_base the direct map's start, and percpu each CPU's
 * __per_cpu_offset (the virtual address of its per-CPU area). */
static int kmap(void)
{
	uint64_t text, pb_sym, pob_sym, pco_sym, phys_base, pob;
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	int fd = open("/proc/kcore", O_RDONLY);

	if (fd < 0 || ksym("_text", &text) || ksym("phys_base", &pb_sym) ||
	    ksym("page_offset_base", &pob_sym) || ksym("__per_cpu_offset", &pco_sym) ||
	    kread(fd, pb_sym, &phys_base, 8) || kread(fd, pob_sym, &pob, 8))
		die("cannot read the kernel's layout (/proc/kallsyms, /proc/kcore)");
	printf("scale: kmap text=%#" PRIx64 " phys_base=%#" PRIx64
	       " page_offset_base=%#" PRIx64 " percpu=", text, phys_base, pob);
	for (long c = 0; c < cpus && c < MAX_THREADS; c++) {
		uint64_t off;

		if (kread(fd, pco_sym + 8 * (uint64_t)c, &off, 8))
			die("cannot read __per_cpu_offset");
		printf("%s%#" PRIx64, c ? "," : "", off);
	}
	printf("\n");
	close(fd);
	return 0;
}

struct ksym {
	uint64_t addr;
	char name[64];
};

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Kernel symbols, sorted: the per-CPU ones (type A, their offsets) or the
 * image's (relative to _text). */
static struct ksym *load_syms(bool percpu, size_t *n)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], name[256], type, mod[2];
	unsigned long long a;
	uint64_t text;
	struct ksym *s = NULL;
	size_t cap = 0;

	*n = 0;
	if (!f || ksym("_text", &text))
		die("cannot read /proc/kallsyms");
	while (fgets(line, sizeof(line), f)) {
		/* Module symbols ("[mod]") are neither. */
		if (sscanf(line, "%llx %c %255s %1s", &a, &type, name, mod) != 3)
			continue;
		if (percpu != (type == 'A') || (!percpu && a < text))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 4096;
			s = realloc(s, cap * sizeof(*s));
			if (!s)
				die("out of memory");
		}
		s[*n].addr = percpu ? a : a - text;
		snprintf(s[*n].name, sizeof(s[*n].name), "%.63s", name);
		(*n)++;
	}
	fclose(f);
	qsort(s, *n, sizeof(*s), ksym_cmp);
	return s;
}

static int syms(char *list)
{
	size_t n[2];
	struct ksym *tab[2] = { load_syms(false, &n[0]), load_syms(true, &n[1]) };

	for (char *save = NULL, *item = strtok_r(list, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		bool pc = item[0] == 'p';
		const struct ksym *s = tab[pc];
		uint64_t addr = strtoull(item + 1, NULL, 16), page = addr & ~0xfffull;
		size_t i = 0, shown = 0;

		if (item[0] == 'a') {
			/* An instruction: the symbol it is in. */
			while (i < n[0] && tab[0][i].addr <= addr)
				i++;
			printf("scale: sym %s %s+%#llx\n", item, i ? tab[0][i - 1].name : "?",
			       i ? (unsigned long long)(addr - tab[0][i - 1].addr) : 0ull);
			continue;
		}
		if (item[0] != 'p' && item[0] != 'i')
			die("a page is iOFF or pOFF, an instruction aOFF (hex)");
		while (i < n[pc] && s[i].addr <= page)
			i++;
		printf("scale: sym %s ", item);
		if (i > 0) {
			printf("%s+%#llx", s[i - 1].name, (unsigned long long)(page - s[i - 1].addr));
			shown++;
		}
		for (; i < n[pc] && s[i].addr < page + 4096 && shown < 12; i++, shown++)
			printf("%s%s", shown ? "," : "", s[i].name);
		printf("%s\n", shown ? "" : "?");
	}
	free(tab[0]);
	free(tab[1]);
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	unsigned long size;
	uint64_t check = 0;

	if (argc == 2 && !strcmp(argv[1], "kmap"))
		return kmap();
	if (argc == 3 && !strcmp(argv[1], "syms"))
		return syms(argv[2]);
	if (argc < 4 || argc > 5)
		die("usage: amalgam-scale ep|triad|stencil THREADS SIZE [REPS] | kmap | syms PAGE,...");
	if (!strcmp(argv[1], "ep"))
		kernel = EP;
	else if (!strcmp(argv[1], "triad"))
		kernel = TRIAD;
	else if (!strcmp(argv[1], "stencil"))
		kernel = STENCIL;
	else
		die("the kernel must be ep, triad or stencil");
	nthreads = (unsigned)parse(argv[2], MAX_THREADS, "THREADS");
	size = parse(argv[3], kernel == EP ? 40 : 65536, "SIZE");
	reps = argc == 5 ? (unsigned)parse(argv[4], 1000000, "REPS") :
	       kernel == TRIAD ? 20 : 200;
	if (kernel == EP) {
		ep_log = (unsigned)size;
	} else {
		n_elems = size * 1024 * 1024 / sizeof(double);
		if (n_elems < nthreads * 2)
			die("SIZE too small for that many threads");
		va = malloc(n_elems * sizeof(double));
		vb = malloc(n_elems * sizeof(double));
		vc = kernel == TRIAD ? malloc(n_elems * sizeof(double)) : vb;
		if (!va || !vb || !vc)
			die("out of memory");
	}
	if (pthread_barrier_init(&barrier, NULL, nthreads))
		die("pthread_barrier_init failed");
	for (unsigned t = 0; t < nthreads; t++)
		if (pthread_create(&th[t], NULL, thread_main, (void *)(uintptr_t)t))
			die("pthread_create failed");
	for (unsigned t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	if (kernel == EP) {
		check = ep_check();
	} else {
		double sum = 0;
		/* The stencil's result is in va after an even number of sweeps. */
		const double *res = kernel == STENCIL && reps % 2 ? vb : va;

		for (size_t i = 0; i < n_elems; i++)
			sum += res[i];
		memcpy(&check, &sum, sizeof(check));
	}
	printf("scale: %s threads=%u size=%lu seconds=%.3f check=%016" PRIx64
	       " tsc=%" PRIu64 ",%" PRIu64, argv[1], nthreads, size, t_end - t_begin, check,
	       tsc_begin, tsc_end);
	printf(" done=");
	for (unsigned t = 0; t < nthreads; t++)
		printf("%s%.3f", t ? "," : "", t_done[t] - t_begin);
	printf("\n");
	return 0;
}
