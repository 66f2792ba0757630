/* The recovery-phrase word list (Session's English list of 1626 words, generated into a C table
 * at build time from english.txt by tools/gen-wordlist.py) and lookup by 3-letter prefix. */
#ifndef SH_IDENTITY_WORDLIST_H
#define SH_IDENTITY_WORDLIST_H

#include <stddef.h>

#include <shoal/identity.h>

#define SH_WORDLIST_SIZE 1626
#define SH_WORDLIST_PREFIX_CHARS 3

extern const char sh__identity_words[SH_WORDLIST_SIZE][SH_PHRASE_WORD_MAX_CHARS + 1];

/* Index of the word whose 3-letter prefix is that of `word` (any case), or -1 when none is. */
int sh__identity_word_find(const char *word, size_t len);

#endif
