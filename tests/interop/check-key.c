/* check-key: the kping side of the js-libp2p key interop test.
 *   check-key [--cid] FILE             print the peer id of a PrivateKey file
 *   check-key [--cid] --create-identity DIR
 *                                      create (or load) DIR/identity.key as
 *                                      kpingd does, print its peer id */
#include <stdio.h>
#include <string.h>

#include "core/kp-peer-id.h"
#include "net/kp-identity.h"

static int
usage(void)
{
        fprintf(stderr,
                "usage: check-key [--cid] FILE | check-key [--cid] --create-identity DIR\n");
        return 2;
}

int
main(int argc, char **argv)
{
        g_autoptr(KpKeypair) keypair = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        gboolean cid = FALSE;
        gboolean create = FALSE;
        KpPeerId id;
        int i = 1;

        if (i < argc && strcmp(argv[i], "--cid") == 0) {
                cid = TRUE;
                i++;
        }
        if (i < argc && strcmp(argv[i], "--create-identity") == 0) {
                create = TRUE;
                i++;
        }
        if (i != argc - 1)
                return usage();

        if (create) {
                keypair = kp_identity_load_or_create(argv[i], NULL, &error);
        } else {
                g_autofree char *contents = NULL;
                gsize len = 0;

                if (g_file_get_contents(argv[i], &contents, &len, &error))
                        keypair = kp_keypair_from_private_key_protobuf((const guint8 *)contents,
                                                                       len, &error);
        }
        if (keypair == NULL) {
                fprintf(stderr, "check-key: %s: %s\n", argv[i], error->message);
                return 1;
        }
        kp_peer_id_from_public_key(kp_keypair_get_public_key(keypair), &id);
        text = cid ? kp_peer_id_to_cid_string(&id) : kp_peer_id_to_string(&id);
        printf("%s\n", text);
        return 0;
}
