/* `amalgam ctl`: the API's command-line client (libcurl over the Unix
 * socket or TCP with the token; jansson for the answers). Tables for
 * people, --json for scripts. Exit status 0, 1 when the VM is unreachable
 * or refuses (one line on stderr saying which), 2 for bad usage. */
#ifndef AMALGAM_CLI_CTL_H
#define AMALGAM_CLI_CTL_H

int ctl_main(int argc, char **argv);

#endif
