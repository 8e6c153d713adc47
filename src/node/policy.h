/* The node's confinement policy: the system calls each kind of thread may
 * make (the lists and their reasons are in policy.c; the mechanism is
 * util/confine.h). */
#ifndef AMALGAM_NODE_POLICY_H
#define AMALGAM_NODE_POLICY_H

#include "util/confine.h"

/* Fill o->policy for every kind. */
void node_policy(struct confine_options *o);

#endif
