/* Replays a libFuzzer corpus without libFuzzer, so that every build (and the
 * ASan+UBSan one) runs each target over its committed inputs. */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
        g_autofree char *contents = NULL;
        gsize len = 0;
        g_autoptr(GError) error = NULL;

        if (!g_file_get_contents(path, &contents, &len, &error)) {
                fprintf(stderr, "%s\n", error->message);
                return -1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)contents, len);
        return 1;
}

int
main(int argc, char **argv)
{
        int count = 0;

        for (int i = 1; i < argc; i++) {
                g_autoptr(GDir) dir = NULL;
                const char *name;

                if (!g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
                        if (replay_file(argv[i]) < 0)
                                return 1;
                        count++;
                        continue;
                }
                dir = g_dir_open(argv[i], 0, NULL);
                if (dir == NULL)
                        return 1;
                while ((name = g_dir_read_name(dir)) != NULL) {
                        g_autofree char *path = g_build_filename(argv[i], name, NULL);
                        if (replay_file(path) < 0)
                                return 1;
                        count++;
                }
        }
        if (count == 0) {
                fprintf(stderr, "no corpus input replayed\n");
                return 1;
        }
        printf("replayed %d inputs\n", count);
        return 0;
}
