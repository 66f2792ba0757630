/* Fault injection for the store (style.md item 11), for tests: make the Nth following SQLite
 * step, or the Nth following COMMIT, fail as an I/O error would, so tests can check that a failed
 * write is reported to every caller it concerns and that nothing uncommitted is acknowledged.
 * Built only without NDEBUG (debug and fuzz builds); a release build says SH_ERR_UNSUPPORTED. */
#ifndef SH_STORE_FAULT_H
#define SH_STORE_FAULT_H

#include <stdint.h>

typedef enum sh__store_fault_point {
    SH__STORE_FAULT_STEP = 1,   /* any sqlite3_step of the store, on any connection */
    SH__STORE_FAULT_COMMIT = 2, /* the COMMIT of a write transaction (before it runs) */
} sh__store_fault_point;

/* The nth (1 = the next) call at `point` fails; nth = 0 disarms. Process-wide. */
int sh__store_fault_arm(sh__store_fault_point point, uint64_t nth);
/* How many faults have fired since the process started. */
uint64_t sh__store_fault_fired(void);

#endif
