/* Hooks for the constant-time check (tools/ct-check.sh). That check runs the KEMs under valgrind
 * memcheck with the secret inputs marked undefined, so that every branch or memory index that
 * depends on a secret is reported. A few values are computed from secrets but are public by
 * design (ML-KEM's matrix seed rho, which is published in the encapsulation key); the code marks
 * them public with SH_CT_DECLASSIFY. In every other build the hooks compile to nothing. */
#ifndef SH_CRYPTO_CT_H
#define SH_CRYPTO_CT_H

#ifdef SH_CT_CHECK
#include <valgrind/memcheck.h>
#define SH_CT_DECLASSIFY(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#define SH_CT_CLASSIFY(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#else
#define SH_CT_DECLASSIFY(p, n) ((void)(p), (void)(n))
#define SH_CT_CLASSIFY(p, n) ((void)(p), (void)(n))
#endif

#endif
