/* kpingctl: the kping control client. */
#define G_LOG_DOMAIN "kpingctl"

#include <locale.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

typedef struct {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} KpCtlCommand;

static const KpCtlCommand commands[] = {
        { "ping", kp_ctl_ping, "ping a kpingd's PingActor (or any libp2p node with --libp2p)" },
        { "id", kp_ctl_id, "show a peer's identify information" },
        { "resolve", kp_ctl_resolve, "find an actor through the DHT, via the given peer" },
};

static void
print_usage(FILE *out)
{
        fprintf(out, "Usage: kpingctl COMMAND [OPTIONS] MULTIADDR\n\nCommands:\n");
        for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
                fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
        fprintf(out, "\nkpingctl COMMAND --help shows the options of a command.\n"
                     "Options:\n  --version  print the version\n  --help     this text\n");
}

int
main(int argc, char **argv)
{
        /* Only the character set: kpingctl has no translations, its numbers
         * are for scripts too, and loading every locale category costs
         * about a millisecond of a cold ping -c 1. */
        setlocale(LC_CTYPE, "");
        if (sodium_init() < 0) {
                fprintf(stderr, "kpingctl: libsodium failed to initialise\n");
                return KP_CTL_EXIT_ERROR;
        }
        if (argc < 2) {
                print_usage(stderr);
                return KP_CTL_EXIT_ERROR;
        }
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
                printf("kpingctl %s\n", KP_VERSION);
                return KP_CTL_EXIT_OK;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
            || strcmp(argv[1], "help") == 0) {
                print_usage(stdout);
                return KP_CTL_EXIT_OK;
        }
        for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].run(argc - 1, argv + 1);
        }
        fprintf(stderr, "kpingctl: unknown command \"%s\" (see kpingctl --help)\n", argv[1]);
        return KP_CTL_EXIT_ERROR;
}
