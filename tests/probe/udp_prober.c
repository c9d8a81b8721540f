/* Sends one UDP datagram every PERIOD_US microseconds to DST:PORT, each from a fresh socket
 * (a new source port, so every probe is a NEW conntrack flow judged by the FORWARD rules on its
 * own), never waiting for a reply. Absolute pacing on CLOCK_MONOTONIC, no catch-up bursts.
 * Usage: udp_prober DST PORT PERIOD_US SECONDS      (see docs/exposure-window.md §3) */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s DST PORT PERIOD_US SECONDS\n", argv[0]); return 2; }
    struct sockaddr_in dst = {0};
    dst.sin_family = AF_INET;
    dst.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) return 2;
    long period_ns = atol(argv[3]) * 1000L;
    double seconds = atof(argv[4]);
    struct timespec next, start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    next = start;
    unsigned long seq = 0;
    char payload[64];
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 >= seconds) break;
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd >= 0) {
            int n = snprintf(payload, sizeof payload, "%lu\n", seq++);
            sendto(fd, payload, (size_t)n, 0, (struct sockaddr *)&dst, sizeof dst);
            close(fd);
        }
        next.tv_nsec += period_ns;
        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    printf("%lu\n", seq);
    return 0;
}
