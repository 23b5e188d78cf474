/* Running shell commands and the hop program from the tests. */
#ifndef HOP_TEST_SHELL_H
#define HOP_TEST_SHELL_H

#include <stddef.h>

/* Exit status and captured output of one run of the hop program. */
typedef struct test_run {
    int status;
    char out[16384];
    char err[8192];
} test_run;

/* Converts a status from system() or pclose() to an exit status, or 128 plus the signal. */
int test_exit_status(int raw);

/* Reads at most size - 1 bytes of the file at path into buf, NUL-terminated; "" if missing. */
void test_read_text(const char *path, char *buf, size_t size);

/*
 * Runs command with /bin/sh and reads what it writes to stdout into out, at most size - 1
 * bytes and NUL-terminated. Returns its exit status.
 */
int test_run_command(const char *command, char *out, size_t size);

/* Runs the hop program with args (a shell word list), capturing stdout and stderr apart. */
test_run test_run_hop(const char *args);

#endif
