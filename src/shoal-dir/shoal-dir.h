/* shoal-dir, the directory authority program: the commands and what they share. Behaviour lives
 * in libshoal (dir/authority.h); this program parses arguments and wires things together. */
#ifndef SHOAL_DIR_PROGRAM_H
#define SHOAL_DIR_PROGRAM_H

#include <stdbool.h>
#include <stdint.h>

#include "dir/authority.h"

#define SHOAL_DIR_VERSION "0.1.0"

enum {
    DIR_EXIT_OK = 0,
    DIR_EXIT_ERROR = 1,
    DIR_EXIT_USAGE = 2,
};

int dir_cmd_keygen(int argc, char **argv);
int dir_cmd_pubkey(int argc, char **argv);
int dir_cmd_init_network(int argc, char **argv);
int dir_cmd_run(int argc, char **argv);

/* Prints "shoal-dir CMD: <sh_err_msg()>" and returns DIR_EXIT_ERROR. */
int dir_fail(const char *cmd);
/* Prints "shoal-dir CMD: <what> '<arg>'" and a pointer to --help; returns DIR_EXIT_USAGE. */
int dir_usage_error(const char *cmd, const char *what, const char *arg);
/* Reads an authority key file into secret memory (*keys, free with sh_secret_free). */
int dir_keys_load(const char *path, sh_dir_auth_keys **keys);
/* Parses a decimal number of 0..max. */
bool dir_parse_u64(const char *s, uint64_t max, uint64_t *out);

#endif
