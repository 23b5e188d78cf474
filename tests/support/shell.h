/* Running shell commands from the tests. */
#ifndef HOP_TEST_SHELL_H
#define HOP_TEST_SHELL_H

#include <stddef.h>

/*
 * Runs command with /bin/sh and reads what it writes to stdout into out, at most size - 1
 * bytes and NUL-terminated. Returns its exit status, or 128 plus the signal that ended it.
 */
int test_run_command(const char *command, char *out, size_t size);

#endif
