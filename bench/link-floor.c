/* link-floor: what a process costs before it does any work of its own.
 * Built twice, each linked (without --as-needed) against exactly the shared
 * libraries of one program of the default build: ctl-link-floor those of
 * kpingctl, kpingd-link-floor those of kpingd. Not installed.
 *
 *   ctl-link-floor            exits at once: run-all.sh's figure 3 times it
 *                             as the floor of a cold kpingctl ping -c 1
 *                             (exec, dynamic loading, library constructors)
 *   kpingd-link-floor --idle  waits in a GLib main loop until SIGTERM or
 *                             SIGINT: figure 5 reads its RSS as the floor of
 *                             an idle kpingd */
#include <glib-unix.h>
#include <signal.h>
#include <string.h>

static gboolean
on_stop(gpointer user_data)
{
        g_main_loop_quit(user_data);
        return G_SOURCE_REMOVE;
}

int
main(int argc, char **argv)
{
        g_autoptr(GMainLoop) loop = NULL;

        if (argc < 2 || strcmp(argv[1], "--idle") != 0)
                return 0;
        loop = g_main_loop_new(NULL, FALSE);
        g_unix_signal_add(SIGTERM, on_stop, loop);
        g_unix_signal_add(SIGINT, on_stop, loop);
        g_main_loop_run(loop);
        return 0;
}
