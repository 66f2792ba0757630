/* Leveled logging to stderr: one line per event, "<time> <LEVEL> <ident> <area>: <message>".
 * Logs never carry secrets or message contents; peers are named by short id. */
#ifndef SH_UTIL_LOG_H
#define SH_UTIL_LOG_H

typedef enum sh_log_level {
    SH_LOG_ERROR = 0,
    SH_LOG_WARN = 1,
    SH_LOG_INFO = 2,
    SH_LOG_DEBUG = 3,
    SH_LOG_TRACE = 4,
} sh_log_level;

void sh_log_set_level(sh_log_level level);
sh_log_level sh_log_get_level(void);
/* Parses "error", "warn", "info", "debug" or "trace". SH_ERR_INVALID for anything else. */
int sh_log_parse_level(const char *name, sh_log_level *out);
/* A short name for this process in every line (e.g. "shoald:3"). Copied. */
void sh_log_set_ident(const char *ident);

void sh_log(sh_log_level level, const char *area, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SH_LOG_ENABLED(level) ((level) <= sh_log_get_level())
#define sh_log_error(area, ...) sh_log(SH_LOG_ERROR, area, __VA_ARGS__)
#define sh_log_warn(area, ...) sh_log(SH_LOG_WARN, area, __VA_ARGS__)
#define sh_log_info(area, ...) \
    do { if (SH_LOG_ENABLED(SH_LOG_INFO)) sh_log(SH_LOG_INFO, area, __VA_ARGS__); } while (0)
#define sh_log_debug(area, ...) \
    do { if (SH_LOG_ENABLED(SH_LOG_DEBUG)) sh_log(SH_LOG_DEBUG, area, __VA_ARGS__); } while (0)
#define sh_log_trace(area, ...) \
    do { if (SH_LOG_ENABLED(SH_LOG_TRACE)) sh_log(SH_LOG_TRACE, area, __VA_ARGS__); } while (0)

#endif
