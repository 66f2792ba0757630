/* libFuzzer target: the Session ID parser on arbitrary text. Whatever parses must format back
 * to the same text in lower case. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/identity.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[128], back[SH_SESSION_ID_HEX_BYTES];
    uint8_t pk[SH_X25519_PK_BYTES];

    if (size >= sizeof text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (sh_session_id_parse(pk, text) != SH_OK)
        return 0;
    sh_session_id_format(back, pk);
    /* Text after an embedded NUL is not part of the string that was parsed. */
    for (size_t i = 0; i < strlen(text); i++)
        if (tolower((unsigned char)text[i]) != back[i])
            abort();
    return 0;
}
