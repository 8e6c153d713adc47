/* Exit status passing: the guest writes status=N from its command line
 * (default 7) to the exit device (port 0xf4, 32-bit out); the manifest
 * says which status amalgam must exit with (N, or 1 when N > 255). */
#include "libguest.h"

int main(void)
{
	long status = cmdline_int("status", 7);

	report_info("writing %#lx to the exit port", status);
	exit((int)status);
}
