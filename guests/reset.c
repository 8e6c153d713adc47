/* Reset through the i8042: 0xfe to port 0x64 stops amalgam with status 0.
 * The summary is printed first (the runner wants it for status 0); if the
 * reset does not stop the machine, the guest exits with status 1. */
#include "libguest.h"

int main(void)
{
	report(true, "about to pulse the reset line through the i8042");
	report_summary();
	outb(0x64, 0xfe);
	msleep(1000);
	printf("FAIL: still running 1 s after the i8042 reset\n");
	return 1;
}
