/* The test exit device: a 32-bit write of v to port 0xf4 powers the
 * machine off and makes amalgam exit with status v (0..255; larger values
 * become 1). Our test guests report their result through it. */
#ifndef AMALGAM_DEV_TESTDEV_H
#define AMALGAM_DEV_TESTDEV_H

#include <stdint.h>

#define TESTDEV_PORT 0xf4

struct iobus;
struct testdev;

/* exit_fn(opaque, status) is called once per write. */
struct testdev *testdev_new(void (*exit_fn)(void *opaque, int status), void *opaque);
int testdev_register(struct testdev *t, struct iobus *bus);
void testdev_free(struct testdev *t);

#endif
