/* libFuzzer target for the API's request decoding (src/api/request.c):
 * whatever the method, path and body, api_decode must neither crash nor
 * read out of bounds, and must give either a command of a known kind with
 * its fields in range, or a documented 4xx with a reason and a message.
 *
 * Input: the first byte picks the method, the bytes up to the first
 * newline are the path, the rest is the body (passed with its length, not
 * NUL-terminated, as the server does not promise one). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_cmd cmd;
	enum api_reject why = API_REJ_NR;
	char err[200], path[512];
	const uint8_t *nl;
	size_t plen;
	char *body;
	int r;

	if (size < 1)
		return 0;
	const char *method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	data++;
	size--;
	nl = memchr(data, '\n', size);
	plen = nl ? (size_t)(nl - data) : size;
	if (plen >= sizeof(path))
		plen = sizeof(path) - 1;
	memcpy(path, data, plen);
	path[plen] = 0;
	size_t blen = nl ? size - (size_t)(nl - data) - 1 : 0;
	/* An exact-size copy, so that ASan sees any read past the body. */
	body = malloc(blen ? blen : 1);
	if (!body)
		return 0;
	if (blen)
		memcpy(body, nl + 1, blen);
	memset(err, 0x55, sizeof(err));
	r = api_decode(method, path, blen ? body : NULL, blen, &cmd, &why, err, sizeof(err));
	if (r == 0) {
		CHECK(cmd.kind >= API_GET_VM && cmd.kind < API_CMD_NR);
		CHECK(cmd.vcpu <= 255 && cmd.node <= 255);
		if (cmd.kind == API_VM_ACTION)
			CHECK(cmd.action >= API_ACTION_PAUSE && cmd.action <= API_ACTION_RESET);
		CHECK(blen <= API_BODY_MAX);
	} else {
		CHECK(r == 400 || r == 404 || r == 405 || r == 413);
		CHECK((unsigned)why < API_REJ_NR);
		CHECK(memchr(err, 0, sizeof(err)) != NULL && err[0]);
	}
	free(body);
	return 0;
}
