/* The live web console (console.html, built into the binary by
 * scripts/embed): one page served at / by the API's threads. It draws
 * each node as a box holding its vCPUs, moves them as the event stream
 * (GET /api/v1/events) says, shows node 0's page traffic with every
 * other node, the fault latency over time (from /api/v1/stats each
 * second) and the guest's serial console. Over TCP it takes the token
 * as ?access_token=, which it passes on to every request it makes. */
#ifndef AMALGAM_API_CONSOLE_H
#define AMALGAM_API_CONSOLE_H

#include <stddef.h>

extern const char api_console_html[];
extern const size_t api_console_html_len;

#endif
