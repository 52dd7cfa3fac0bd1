/* Parses the input as a binary multiaddr; one that parses must print to text
 * that parses back to the same bytes and prints the same again, and the
 * DHT's address filter must agree with its scope. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/kp-multiaddr.h"
#include "dht/kp-addr-filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_bytes(data, size, NULL);
        g_autoptr(KpMultiaddr) again = NULL;
        g_autoptr(KpMultiaddr) bare = NULL;
        g_autofree char *text = NULL;
        g_autofree char *text2 = NULL;
        g_autofree char *host = NULL;
        const guint8 *bytes;
        gsize len;
        KpPeerId id;

        if (ma == NULL)
                return 0;
        bytes = kp_multiaddr_get_bytes(ma, &len);
        if (len != size || memcmp(bytes, data, size) != 0)
                abort();
        text = kp_multiaddr_to_string(ma);
        again = kp_multiaddr_new_from_string(text, NULL);
        if (again == NULL || !kp_multiaddr_equal(ma, again))
                abort();
        text2 = kp_multiaddr_to_string(again);
        if (strcmp(text, text2) != 0)
                abort();

        /* The helpers the network layer uses must not trip on anything valid. */
        if (kp_multiaddr_get_peer_id(ma, &id, NULL)) {
                g_autoptr(KpMultiaddr) re = NULL;

                bare = kp_multiaddr_without_p2p(ma);
                /* With /p2p/A/p2p/B the rest still ends in /p2p, and
                 * encapsulating into that is not the inverse. */
                if (bare != NULL && !kp_multiaddr_get_peer_id(bare, NULL, NULL)) {
                        re = kp_multiaddr_encapsulate_p2p(bare, &id, NULL);
                        if (re == NULL || !kp_multiaddr_equal(re, ma))
                                abort();
                }
        }
        (void)kp_multiaddr_get_tcp_endpoint(ma, &host, NULL, NULL, NULL);
        /* The DHT's filter of learned addresses, the input as its own
         * source (never more local than itself): it accepts exactly the IP
         * addresses of a valid scope with a port. */
        {
                guint16 port = 0;
                gboolean valid = kp_addr_scope(ma) != KP_ADDR_SCOPE_INVALID
                                 && kp_multiaddr_get_tcp_endpoint(ma, NULL, &port, NULL, NULL)
                                 && port != 0;
                if (kp_addr_filter_accept(ma, ma, NULL) != valid)
                        abort();
        }
        return 0;
}
