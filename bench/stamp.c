/* stamp.c - the probe a benchmark job runs: appends "TAG SEC.NSEC\n"
 * (CLOCK_REALTIME, read first thing in main) to FILE and exits.
 *
 * Linked statically by bench/run so that the dynamic loader does not add
 * to the measured start; evd and the bare programs run the same binary,
 * so whatever exec itself costs is on both sides of the ratio.
 *
 * usage: stamp FILE TAG */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (argc < 3)
                return 2;
        char line[128];
        int n = snprintf(line, sizeof line, "%s %lld.%09ld\n", argv[2], (long long)ts.tv_sec, ts.tv_nsec);
        int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return 1;
        /* One write of a short line to an O_APPEND file: lines from
         * concurrent stamps do not interleave. */
        if (write(fd, line, (size_t)n) != n)
                return 1;
        return close(fd) < 0;
}
