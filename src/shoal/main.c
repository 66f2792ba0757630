/* shoal: the command-line client. Argument parsing and wiring only; behaviour lives in libshoal. */
#include <stdio.h>
#include <string.h>

#define SHOAL_VERSION "0.1.0"

static void usage(FILE *out)
{
    fputs("usage: shoal [--version] [--help] <command> [<args>]\n", out);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("shoal %s\n", SHOAL_VERSION);
        return 0;
    }
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
