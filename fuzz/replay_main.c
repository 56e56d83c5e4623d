/* replay_main.c - main() for replaying fuzz corpora without libFuzzer: feeds
 * every regular file in the directories (or files) named on the command line
 * to LLVMFuzzerTestOneInput(), so a corpus runs as an ordinary test.
 * Exit 0 when every input ran; 1 when an input could not be read. A crash or
 * an abort() in the target fails the test by itself. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        FILE *f = fopen(path, "rbe");
        uint8_t *buf = NULL;
        size_t n = 0, cap = 0;

        if (!f) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -1;
        }
        for (;;) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 4096;
                        uint8_t *b = realloc(buf, cap);
                        if (!b) {
                                free(buf);
                                fclose(f);
                                return -1;
                        }
                        buf = b;
                }
                size_t k = fread(buf + n, 1, cap - n, f);
                n += k;
                if (k == 0)
                        break;
        }
        int bad = ferror(f);
        fclose(f);
        if (bad) {
                free(buf);
                fprintf(stderr, "replay: %s: read error\n", path);
                return -1;
        }
        /* an exact-size copy, so out-of-bounds reads are caught by ASan */
        uint8_t *exact = malloc(n ? n : 1);
        if (!exact) {
                free(buf);
                return -1;
        }
        if (n)
                memcpy(exact, buf, n);
        free(buf);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
        return 0;
}

int main(int argc, char **argv) {
        int failed = 0, count = 0;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s DIR|FILE...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
                        failed = 1;
                        continue;
                }
                if (!S_ISDIR(st.st_mode)) {
                        failed |= run_file(argv[i]) < 0;
                        count++;
                        continue;
                }
                struct dirent **names;
                int n = scandir(argv[i], &names, NULL, alphasort);
                if (n < 0) {
                        fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
                        failed = 1;
                        continue;
                }
                for (int k = 0; k < n; k++) {
                        char path[4096];
                        struct stat fst;
                        snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
                        if (names[k]->d_name[0] != '.' && stat(path, &fst) == 0 && S_ISREG(fst.st_mode)) {
                                failed |= run_file(path) < 0;
                                count++;
                        }
                        free(names[k]);
                }
                free(names);
        }
        printf("replayed %d inputs\n", count);
        return failed ? 1 : 0;
}
