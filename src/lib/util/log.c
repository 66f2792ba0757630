/* Leveled logging to stderr. The level starts from $SHOAL_LOG (default "warn") so that tests and
 * operators can turn on debug output without a flag. One fprintf per line keeps lines whole when
 * several threads log at once. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/err.h"

static int log_level = -1;
static char log_ident[32] = "shoal";

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

int sh_log_parse_level(const char *name, sh_log_level *out)
{
    for (int i = 0; i <= SH_LOG_TRACE; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (sh_log_level)i;
            return SH_OK;
        }
    }
    return sh_err_set(SH_ERR_INVALID,
                      "unknown log level '%s' (use error, warn, info, debug or trace)", name);
}

sh_log_level sh_log_get_level(void)
{
    if (log_level < 0) {
        const char *env = getenv("SHOAL_LOG");
        sh_log_level level = SH_LOG_WARN;

        if (env != NULL && *env != '\0')
            (void)sh_log_parse_level(env, &level);
        log_level = (int)level;
    }
    return (sh_log_level)log_level;
}

void sh_log_set_level(sh_log_level level)
{
    log_level = (int)level;
}

void sh_log_set_ident(const char *ident)
{
    snprintf(log_ident, sizeof log_ident, "%s", ident);
}

void sh_log(sh_log_level level, const char *area, const char *fmt, ...)
{
    char msg[1024];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (!SH_LOG_ENABLED(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %-5s %s %s: %s\n", stamp, ts.tv_nsec / 1000000L,
            level_names[level], log_ident, area, msg);
}
