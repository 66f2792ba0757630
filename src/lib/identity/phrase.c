/* Recovery phrases (Session-compatible; ../shared/vectors/session/README.md, "The phrase"): each
 * 4 bytes, read as a little-endian 32-bit value, become 3 words of the 1626-word list; a checksum
 * word repeats the data word chosen by CRC-32 over the data words' 3-letter prefixes. Words count
 * by their first 3 letters in any case, so truncation and typos past the prefix are accepted. */
#include <shoal/identity.h>

#include <sodium.h>
#include <string.h>

#include "identity/crc32.h"
#include "identity/wordlist.h"
#include "util/buf.h"
#include "util/err.h"

#define N SH_WORDLIST_SIZE
#define PREFIX SH_WORDLIST_PREFIX_CHARS
#define QUOTE_CHARS 20 /* of a word repeated in an error message */

_Static_assert((uint64_t)N * N * N > UINT32_MAX, "3 words cover every 32-bit value");

/* The first 3 letters of a word as one number that sorts like the letters. */
static uint32_t prefix_key(const char *w)
{
    return (uint32_t)(uint8_t)w[0] << 16 | (uint32_t)(uint8_t)w[1] << 8 | (uint8_t)w[2];
}

int sh__identity_word_find(const char *word, size_t len)
{
    char lower[PREFIX];
    uint32_t key;
    int lo = 0, hi = N;

    if (len < PREFIX)
        return -1;
    for (int i = 0; i < PREFIX; i++)
        lower[i] = (word[i] >= 'A' && word[i] <= 'Z') ? (char)(word[i] - 'A' + 'a') : word[i];
    key = prefix_key(lower);
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        uint32_t here = prefix_key(sh__identity_words[mid]);

        if (here == key)
            return mid;
        if (here < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Finds the next word from *pos on, and moves *pos past it. False at the end of the text. */
static bool next_word(const char **pos, const char **word, size_t *len)
{
    const char *p = *pos;

    while (*p != '\0' && is_space(*p))
        p++;
    if (*p == '\0') {
        *pos = p;
        return false;
    }
    *word = p;
    while (*p != '\0' && !is_space(*p))
        p++;
    *len = (size_t)(p - *word);
    *pos = p;
    return true;
}

static size_t count_words(const char *phrase)
{
    const char *pos = phrase, *word;
    size_t len, n = 0;

    while (next_word(&pos, &word, &len))
        n++;
    return n;
}

/* A word as it was typed, safe to print: at most QUOTE_CHARS characters, others as '?'. */
static void quote_word(char out[static QUOTE_CHARS + 4], const char *word, size_t len)
{
    size_t n = len > QUOTE_CHARS ? QUOTE_CHARS : len;

    for (size_t i = 0; i < n; i++)
        out[i] = (word[i] > ' ' && word[i] < 0x7f) ? word[i] : '?';
    memcpy(out + n, len > n ? "..." : "", len > n ? 4 : 1);
}

static void u32_to_triplet(uint32_t v, uint16_t w[static 3])
{
    w[0] = (uint16_t)(v % N);
    w[1] = (uint16_t)((v / N + w[0]) % N);
    w[2] = (uint16_t)((v / N / N + w[1]) % N);
}

/* The inverse of u32_to_triplet; false when the three words encode no 32-bit value. */
static bool triplet_to_u32(const uint16_t w[static 3], uint32_t *out)
{
    uint64_t v = w[0] + (uint64_t)((N - w[0] + w[1]) % N) * N +
                 (uint64_t)((N - w[1] + w[2]) % N) * N * N;

    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* The word index of data word number `i` (0-based) of the encoded bytes. */
static uint16_t data_word(const uint8_t *bytes, size_t i)
{
    uint16_t w[3], r;

    u32_to_triplet(sh_load_u32le(bytes + i / 3 * 4), w);
    r = w[i % 3];
    sodium_memzero(w, sizeof w);
    return r;
}

static void append_word(char *out, size_t *pos, uint16_t index)
{
    size_t len = strlen(sh__identity_words[index]);

    if (*pos > 0)
        out[(*pos)++] = ' ';
    memcpy(out + *pos, sh__identity_words[index], len);
    *pos += len;
}

int sh_phrase_encode_bytes(char *out, size_t out_size, const uint8_t *bytes, size_t len,
                           bool checksum)
{
    size_t ndata = len / 4 * 3, pos = 0;
    uint32_t crc = 0;
    uint16_t w[3];

    if (len == 0 || len % 4 != 0)
        return sh_err_set(SH_ERR_INVALID, "a phrase encodes a multiple of 4 bytes, not %zu", len);
    if (ndata + 1 > SIZE_MAX / (SH_PHRASE_WORD_MAX_CHARS + 1) ||
        out_size < SH_PHRASE_TEXT_BYTES(ndata + checksum))
        return sh_err_set(SH_ERR_LIMIT, "the buffer for the phrase of %zu bytes is too small", len);
    for (size_t i = 0; i < len; i += 4) {
        u32_to_triplet(sh_load_u32le(bytes + i), w);
        for (int j = 0; j < 3; j++) {
            append_word(out, &pos, w[j]);
            crc = sh__identity_crc32(crc, sh__identity_words[w[j]], PREFIX);
        }
    }
    if (checksum)
        append_word(out, &pos, data_word(bytes, crc % ndata));
    out[pos] = '\0';
    sodium_memzero(w, sizeof w);
    sodium_memzero(&crc, sizeof crc);
    return SH_OK;
}

int sh_phrase_encode(char *out, size_t out_size, const uint8_t seed[static SH_SEED_BYTES])
{
    return sh_phrase_encode_bytes(out, out_size, seed, SH_SEED_BYTES, true);
}

/* Every word must be in the list before anything else is judged: a typo is the likeliest fault. */
static int check_words_known(const char *phrase)
{
    const char *pos = phrase, *word;
    char quoted[QUOTE_CHARS + 4];
    size_t len, n = 0;

    while (next_word(&pos, &word, &len)) {
        n++;
        if (sh__identity_word_find(word, len) >= 0)
            continue;
        quote_word(quoted, word, len);
        return sh_err_set(SH_ERR_FORMAT, "word %zu, '%s', is not in the word list", n, quoted);
    }
    return SH_OK;
}

static int triplet_error(size_t first, const char *spans[static 3], const size_t lens[static 3])
{
    char q[3][QUOTE_CHARS + 4];

    for (int j = 0; j < 3; j++)
        quote_word(q[j], spans[j], lens[j]);
    return sh_err_set(SH_ERR_RANGE,
                      "words %zu to %zu, '%s %s %s', do not encode a valid group of 4 bytes; "
                      "one of them is wrong",
                      first, first + 2, q[0], q[1], q[2]);
}

/* Decodes the 3k data words that start the phrase into 4k bytes; leaves *pos after them and the
 * CRC of their prefixes in *crc. */
static int decode_data_words(uint8_t *out, size_t ndata, const char **pos, uint32_t *crc)
{
    const char *spans[3];
    size_t lens[3];
    uint16_t w[3];
    uint32_t v = 0;
    int rc = SH_OK;

    for (size_t i = 0; i < ndata; i++) {
        if (!next_word(pos, &spans[i % 3], &lens[i % 3])) {
            rc = sh_err_set(SH_ERR_INTERNAL, "phrase ended early");
            goto done;
        }
        w[i % 3] = (uint16_t)sh__identity_word_find(spans[i % 3], lens[i % 3]);
        *crc = sh__identity_crc32(*crc, sh__identity_words[w[i % 3]], PREFIX);
        if (i % 3 != 2)
            continue;
        if (!triplet_to_u32(w, &v)) {
            rc = triplet_error(i - 1, spans, lens);
            goto done;
        }
        sh_store_u32le(out + i / 3 * 4, v);
    }
done:
    sodium_memzero(w, sizeof w);
    sodium_memzero(&v, sizeof v);
    return rc;
}

static int check_checksum_word(const uint8_t *out, size_t ndata, const char **pos, uint32_t crc)
{
    const char *word;
    size_t len;
    char quoted[QUOTE_CHARS + 4];

    if (!next_word(pos, &word, &len))
        return sh_err_set(SH_ERR_INTERNAL, "phrase ended before its checksum word");
    if (sh__identity_word_find(word, len) == data_word(out, crc % ndata))
        return SH_OK;
    quote_word(quoted, word, len);
    return sh_err_set(SH_ERR_CHECKSUM,
                      "the checksum word (word %zu, '%s') does not match the other words; "
                      "a word is wrong or out of order",
                      ndata + 1, quoted);
}

int sh_phrase_decode_bytes(uint8_t *out, size_t out_size, size_t *out_len, const char *phrase)
{
    size_t n = count_words(phrase), ndata = n / 3 * 3, nbytes = n / 3 * 4;
    const char *pos = phrase;
    uint32_t crc = 0;
    int rc;

    if (n == 0)
        return sh_err_set(SH_ERR_INVALID, "the phrase is empty");
    if (n % 3 == 2 || ndata == 0)
        return sh_err_set(SH_ERR_INVALID,
                          "a phrase has 3 words for every 4 bytes and maybe a checksum word; "
                          "%zu words cannot be one",
                          n);
    if (out_size < nbytes)
        return sh_err_set(SH_ERR_LIMIT, "a phrase of %zu words needs %zu bytes, not %zu", n,
                          nbytes, out_size);
    rc = check_words_known(phrase);
    if (rc == SH_OK)
        rc = decode_data_words(out, ndata, &pos, &crc);
    if (rc == SH_OK && n % 3 == 1)
        rc = check_checksum_word(out, ndata, &pos, crc);
    sodium_memzero(&crc, sizeof crc);
    if (rc != SH_OK) {
        sodium_memzero(out, nbytes);
        return rc;
    }
    *out_len = nbytes;
    return SH_OK;
}

int sh_phrase_decode(uint8_t seed[static SH_SEED_BYTES], const char *phrase)
{
    size_t n = count_words(phrase), len = 0;

    if (n != SH_PHRASE_WORDS)
        return sh_err_set(SH_ERR_INVALID, "a recovery phrase has %d words; this one has %zu",
                          SH_PHRASE_WORDS, n);
    return sh_phrase_decode_bytes(seed, SH_SEED_BYTES, &len, phrase);
}
