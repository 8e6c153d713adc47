/* Exit status passing: the guest writes 7 to the exit device (port 0xf4,
 * 32-bit out) and the manifest expects amalgam to exit with status 7. */
#include "libguest.h"

int main(void)
{
	report_info("writing 7 to the exit port");
	exit(7);
}
