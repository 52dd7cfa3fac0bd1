/* Parses the input as a text multiaddr; one that parses must print a
 * canonical text that parses to the same bytes and prints identically, and
 * its bytes must parse back as well. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/kp-multiaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autofree char *input = g_strndup((const char *)data, size);
        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string(input, NULL);
        g_autoptr(KpMultiaddr) from_text = NULL;
        g_autoptr(KpMultiaddr) from_bytes = NULL;
        g_autofree char *text = NULL;
        g_autofree char *text2 = NULL;
        const guint8 *bytes;
        gsize len;

        if (ma == NULL)
                return 0;
        text = kp_multiaddr_to_string(ma);
        from_text = kp_multiaddr_new_from_string(text, NULL);
        if (from_text == NULL || !kp_multiaddr_equal(ma, from_text))
                abort();
        text2 = kp_multiaddr_to_string(from_text);
        if (strcmp(text, text2) != 0)
                abort();
        bytes = kp_multiaddr_get_bytes(ma, &len);
        from_bytes = kp_multiaddr_new_from_bytes(bytes, len, NULL);
        if (from_bytes == NULL || !kp_multiaddr_equal(ma, from_bytes))
                abort();
        return 0;
}
