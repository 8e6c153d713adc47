/* Seeds for fuzz_api: one valid request of each kind and a few refusals,
 * in fuzz_api's input format (method byte, path, newline, body). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const struct { unsigned char method; const char *path, *body; } seeds[] = {
	{ 0, "/api/v1/vm", "" },
	{ 0, "/api/v1/nodes", "" },
	{ 0, "/api/v1/vcpus", "" },
	{ 0, "/api/v1/vcpus/3", "" },
	{ 0, "/api/v1/stats", "" },
	{ 0, "/api/v1/devices", "" },
	{ 1, "/api/v1/vm/actions", "{\"action\":\"pause\"}" },
	{ 1, "/api/v1/vm/actions", "{\"action\":\"poweroff\",\"x\":[1,{\"y\":null}]}" },
	{ 1, "/api/v1/vcpus/1/move", "{\"node\":2}" },
	{ 1, "/api/v1/vcpus/1/move", "{\"node\":-1e99}" },
	{ 3, "/api/v1/vm", "" },
	{ 1, "/api/v1/vm/actions", "{\"action\":\"\\ud800\"" },
};

int main(int argc, char **argv)
{
	char name[4096];

	/* A second argument (the target's name, as run-fuzz.sh passes it)
	 * is ignored: these are fuzz_api's seeds. */
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: gen_api_corpus DIR [TARGET]\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) && errno != EEXIST) {
		perror(argv[1]);
		return 1;
	}
	for (unsigned i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		FILE *f;

		snprintf(name, sizeof(name), "%s/seed%02u", argv[1], i);
		f = fopen(name, "w");
		if (!f) {
			perror(name);
			return 1;
		}
		fprintf(f, "%c%s\n%s", seeds[i].method, seeds[i].path, seeds[i].body);
		fclose(f);
	}
	return 0;
}
