/* kameo SwarmRequest / SwarmResponse CBOR decoders. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"

#include "core/kp-kameo.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(KpKameoRequest) req = kp_kameo_request_decode(data, size, NULL);
        g_autoptr(KpKameoResponse) resp = kp_kameo_response_decode(data, size, NULL);

        /* What we accept we can re-encode, and the canonical form decodes
         * to the same and re-encodes identically. */
        if (req != NULL) {
                g_autoptr(GBytes) enc = kp_kameo_request_encode(req, NULL);
                g_autoptr(KpKameoRequest) back = NULL;
                g_autoptr(GBytes) enc2 = NULL;

                if (enc == NULL)
                        abort();
                back = kp_kameo_request_decode(g_bytes_get_data(enc, NULL), g_bytes_get_size(enc),
                                               NULL);
                if (back == NULL)
                        abort();
                enc2 = kp_kameo_request_encode(back, NULL);
                if (enc2 == NULL || !g_bytes_equal(enc, enc2))
                        abort();
        }
        if (resp != NULL) {
                g_autoptr(GBytes) enc = kp_kameo_response_encode(resp, NULL);
                g_autoptr(KpKameoResponse) back = NULL;
                g_autoptr(GBytes) enc2 = NULL;

                if (enc == NULL)
                        abort();
                back = kp_kameo_response_decode(g_bytes_get_data(enc, NULL), g_bytes_get_size(enc),
                                                NULL);
                if (back == NULL)
                        abort();
                enc2 = kp_kameo_response_encode(back, NULL);
                if (enc2 == NULL || !g_bytes_equal(enc, enc2))
                        abort();
        }
        return 0;
}
