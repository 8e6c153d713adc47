/* The PC board around the CPUs: which legacy devices exist, where, and on
 * which interrupt lines. Today all on this node. */
#ifndef AMALGAM_VMM_BOARD_H
#define AMALGAM_VMM_BOARD_H

struct vm;
struct board;

struct board *board_create(struct vm *vm, int console_out, int console_in);
void board_destroy(struct board *b);
/* Flush console output (at exit). */
void board_flush(struct board *b);

#endif
