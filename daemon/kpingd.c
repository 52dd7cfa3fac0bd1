/* kpingd: the kping daemon. */
#define G_LOG_DOMAIN "kpingd"

#include <glib.h>
#include <locale.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/kp-peer-id.h"
#include "net/kp-identity.h"

#define KPINGD_DEFAULT_STATE_DIR "/var/lib/kpingd"

typedef struct {
        char *state_dir;
        gboolean print_peer_id;
        gboolean version;
} KpingdOptions;

static void
kpingd_options_clear (KpingdOptions *o)
{
        g_clear_pointer (&o->state_dir, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (KpingdOptions, kpingd_options_clear)

static const char *
default_state_dir (void)
{
        /* systemd's StateDirectory= sets this; it may list several, ':'-separated. */
        const char *env = g_getenv ("STATE_DIRECTORY");

        if (env != NULL && env[0] != '\0')
                return env;
        return KPINGD_DEFAULT_STATE_DIR;
}

static gboolean
parse_options (int *argc, char ***argv, KpingdOptions *o, GError **error)
{
        g_autoptr (GOptionContext) ctx = NULL;
        const GOptionEntry entries[] = {
                { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->state_dir,
                  "State directory (identity key, counter); default $STATE_DIRECTORY or "
                  KPINGD_DEFAULT_STATE_DIR,
                  "DIR" },
                { "print-peer-id", 0, 0, G_OPTION_ARG_NONE, &o->print_peer_id,
                  "Print the node's peer id (creating the identity if needed) and exit", NULL },
                { "version", 0, 0, G_OPTION_ARG_NONE, &o->version, "Print the version and exit",
                  NULL },
                { NULL },
        };

        ctx = g_option_context_new ("- kping daemon");
        g_option_context_set_summary (ctx, "Hosts a PingActor reachable over libp2p.");
        g_option_context_add_main_entries (ctx, entries, NULL);
        if (!g_option_context_parse (ctx, argc, argv, error))
                return FALSE;
        if (*argc > 1) {
                g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                             "unexpected argument \"%s\"", (*argv)[1]);
                return FALSE;
        }
        if (o->state_dir == NULL) {
                g_auto (GStrv) dirs = g_strsplit (default_state_dir (), ":", 2);
                o->state_dir = g_strdup (dirs[0]);
        }
        return TRUE;
}

static int
print_peer_id (const KpingdOptions *o)
{
        g_autoptr (GError) error = NULL;
        g_autoptr (KpKeypair) keypair = NULL;
        g_autofree char *text = NULL;
        KpPeerId id;

        keypair = kp_identity_load_or_create (o->state_dir, NULL, &error);
        if (keypair == NULL) {
                fprintf (stderr, "kpingd: %s\n", error->message);
                return EXIT_FAILURE;
        }
        kp_peer_id_from_public_key (kp_keypair_get_public_key (keypair), &id);
        text = kp_peer_id_to_string (&id);
        printf ("%s\n", text);
        return EXIT_SUCCESS;
}

int
main (int argc, char **argv)
{
        g_auto (KpingdOptions) o = { 0 };
        g_autoptr (GError) error = NULL;

        setlocale (LC_ALL, "");
        if (sodium_init () < 0) {
                fprintf (stderr, "kpingd: libsodium failed to initialise\n");
                return EXIT_FAILURE;
        }
        if (!parse_options (&argc, &argv, &o, &error)) {
                fprintf (stderr, "kpingd: %s (see kpingd --help)\n", error->message);
                return 2;
        }
        if (o.version) {
                printf ("kpingd %s\n", KP_VERSION);
                return EXIT_SUCCESS;
        }
        if (o.print_peer_id)
                return print_peer_id (&o);
        fprintf (stderr, "kpingd: nothing to do yet without --print-peer-id\n");
        return 2;
}
