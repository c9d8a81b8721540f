/* hget: a tiny HTTP GET client for the lab's busybox containers.
 *
 *   hget [-T SECONDS] http://NAME[:PORT][/PATH]
 *
 * Prints the body on stdout and exits 0 on HTTP 2xx; otherwise one line on stderr and:
 *   2 usage   3 name not resolved   4 connect failed   5 timeout   6 bad or cut response
 *   8 HTTP status not 2xx
 * -T: the whole request (lookup, connect, response) gets SECONDS (default 5).
 *
 * Why: Debian's static busybox wget segfaults on its own timeout (-T, even with an address)
 * and without one waits as long as the resolver does. Built with `musl-gcc -static`, no NSS:
 * getaddrinfo reads /etc/hosts, then the nameservers of /etc/resolv.conf. That is COI's
 * allowlist mode: DNS rejected, its block in /etc/hosts the only resolver. A name that is not
 * in /etc/hosts while every nameserver refuses fails at once (musl alone would retry until its
 * timeout). HTTP/1.0, so no chunked bodies; no redirects, no TLS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define E_USAGE 2
#define E_RESOLVE 3
#define E_CONNECT 4
#define E_TIMEOUT 5
#define E_PROTO 6
#define E_HTTP 8

static char phase[400] = "starting";
static int timeout_s = 5;

static void die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("hget: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

static void on_alarm(int sig) {  /* async-signal-safe: write(2) and _exit(2) only */
    static const char pre[] = "hget: timeout (";
    char secs[12];
    int n = 0, t = timeout_s;
    (void)sig;
    do { secs[sizeof secs - 1 - n++] = (char)('0' + t % 10); t /= 10; } while (t && n < 11);
    (void)!write(2, pre, sizeof pre - 1);
    (void)!write(2, secs + sizeof secs - n, (size_t)n);
    (void)!write(2, "s) ", 3);
    (void)!write(2, phase, strlen(phase));
    (void)!write(2, "\n", 1);
    _exit(E_TIMEOUT);
}

static long ms_left(const struct timespec *deadline) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? ms : 0;
}

/* non-blocking connect, waited for at most until the deadline; 0 or an errno */
static int connect_by(int fd, const struct addrinfo *ai, const struct timespec *deadline) {
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) return errno;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, (int)ms_left(deadline));
        if (r == 0) return ETIMEDOUT;
        if (r < 0) return errno;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) return err;
    }
    fcntl(fd, F_SETFL, flags);
    return 0;
}

/* Does /etc/hosts name it? (what musl's getaddrinfo reads first) */
static int in_hosts(const char *name) {
    FILE *f = fopen("/etc/hosts", "r");
    char line[1024], *tok;
    int found = 0;
    if (!f) return 0;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "#")] = '\0';
        if (!strtok(line, " \t\r\n")) continue;  /* the address */
        while (!found && (tok = strtok(NULL, " \t\r\n"))) found = strcasecmp(tok, name) == 0;
    }
    fclose(f);
    return found;
}

/* Did every nameserver of /etc/resolv.conf refuse (ICMP port unreachable) a query for NAME?
 * COI's allowlist mode rejects DNS so; musl's resolver never sees the ICMP error (unconnected
 * socket) and retries until its timeout. A connected socket sees it at once. Any answer, or
 * none within a second, is left to getaddrinfo. Writes the refusing servers to who. */
static int dns_refused(const char *name, const struct timespec *deadline, char *who, size_t n) {
    unsigned char q[300] = {0x4c, 0x61, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};  /* RD, 1 question */
    size_t len = 12;
    const char *label = name;
    while (*label) {  /* QNAME as labels */
        size_t l = strcspn(label, ".");
        if (l == 0 || l > 63 || len + l + 6 > sizeof q) return 0;
        q[len++] = (unsigned char)l;
        memcpy(q + len, label, l);
        len += l;
        label += l + (label[l] == '.');
    }
    memcpy(q + len, "\0\0\1\0\1", 5);  /* root, type A, class IN */
    len += 5;

    FILE *f = fopen("/etc/resolv.conf", "r");
    struct pollfd p[3];
    char line[256], addr[3][64];
    int count = 0, refused = 0, pending;
    if (!f) return 0;
    while (count < 3 && fgets(line, sizeof line, f)) {  /* musl uses the first three */
        char ns[64];
        struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM}, *ai;
        if (sscanf(line, "nameserver %63s", ns) != 1 || getaddrinfo(ns, "53", &hints, &ai) != 0)
            continue;
        int fd = socket(ai->ai_family, SOCK_DGRAM, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 && send(fd, q, len, 0) >= 0) {
            p[count] = (struct pollfd){.fd = fd, .events = POLLIN};
            snprintf(addr[count++], sizeof addr[0], "%s", ns);
        } else if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
    }
    fclose(f);
    for (pending = count; pending > 0;) {
        long ms = ms_left(deadline);
        if (poll(p, (nfds_t)count, (int)(ms < 1000 ? ms : 1000)) <= 0) break;
        for (int i = 0; i < count; i++) {
            if (p[i].fd < 0 || !p[i].revents) continue;
            unsigned char r[512];
            if (recv(p[i].fd, r, sizeof r, 0) >= 0) pending = -1;  /* an answer: not blocked */
            else if (errno == ECONNREFUSED) {
                if (refused++) strncat(who, ", ", n - strlen(who) - 1);
                strncat(who, addr[i], n - strlen(who) - 1);
            }
            close(p[i].fd);
            p[i].fd = -1;
            if (pending > 0) pending--;
        }
    }
    for (int i = 0; i < count; i++)
        if (p[i].fd >= 0) close(p[i].fd);
    return count > 0 && refused == count;
}

static void write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die(E_PROTO, "write failed: %s", strerror(errno));
        buf += w;
        n -= (size_t)w;
    }
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "T:")) != -1) {
        if (opt == 'T' && atoi(optarg) > 0) timeout_s = atoi(optarg);
        else die(E_USAGE, "usage: hget [-T SECONDS] http://NAME[:PORT][/PATH]");
    }
    if (optind != argc - 1)
        die(E_USAGE, "usage: hget [-T SECONDS] http://NAME[:PORT][/PATH]");
    const char *url = argv[optind];
    if (strncmp(url, "http://", 7) != 0) die(E_USAGE, "%s: only http:// URLs", url);

    /* http://HOST[:PORT][/PATH]; HOST may be [IPv6] */
    char host[256], port[8] = "80", hostport[270];
    const char *p = url + 7, *end, *path;
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end) die(E_USAGE, "%s: bad URL", url);
        p++;
    } else {
        end = p + strcspn(p, ":/?#");
    }
    if (end == p || (size_t)(end - p) >= sizeof host) die(E_USAGE, "%s: bad host", url);
    memcpy(host, p, (size_t)(end - p));
    host[end - p] = '\0';
    if (*end == ']') end++;
    if (*end == ':') {
        size_t n = strspn(end + 1, "0123456789");
        if (n == 0 || n >= sizeof port || atoi(end + 1) > 65535)
            die(E_USAGE, "%s: bad port", url);
        memcpy(port, end + 1, n);
        port[n] = '\0';
        end += 1 + n;
    }
    path = *end ? end : "/";
    if (*path != '/') die(E_USAGE, "%s: bad URL", url);
    snprintf(hostport, sizeof hostport, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_s;
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)timeout_s);

    snprintf(phase, sizeof phase, "resolving %s", host);
    struct in6_addr literal;
    char refusers[200] = "";
    if (inet_pton(AF_INET, host, &literal) != 1 && inet_pton(AF_INET6, host, &literal) != 1 &&
        !in_hosts(host) && dns_refused(host, &deadline, refusers, sizeof refusers))
        die(E_RESOLVE, "%s: cannot resolve: not in /etc/hosts, and DNS refused (%s)", host,
            refusers);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        const char *why = rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc);
        die(E_RESOLVE, "%s: cannot resolve: %s", host, why);
    }

    int fd = -1, err = 0;
    char addr[64] = "?", serv[8];
    for (ai = res; ai; ai = ai->ai_next) {
        getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV);
        snprintf(phase, sizeof phase, "connecting to %s (%s port %s)", host, addr, serv);
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) { err = errno; continue; }
        err = connect_by(fd, ai, &deadline);
        if (err == 0) break;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        char what[400];
        if (strcmp(host, addr) == 0) snprintf(what, sizeof what, "%s port %s", addr, port);
        else snprintf(what, sizeof what, "%s (%s port %s)", host, addr, port);
        if (err == ETIMEDOUT) on_alarm(SIGALRM);
        die(E_CONNECT, "%s: connect failed: %s", what, strerror(err));
    }
    freeaddrinfo(res);

    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: hget\r\nAccept: */*\r\n"
                     "Connection: close\r\n\r\n",
                     path, strcmp(port, "80") ? hostport : host);
    if (n < 0 || (size_t)n >= sizeof req) die(E_USAGE, "%s: URL too long", url);
    snprintf(phase, sizeof phase, "waiting for the response of %s (%s)", host, addr);
    write_all(fd, req, (size_t)n);

    /* the header: up to 16 KiB, then the rest of the body streams through */
    static char buf[16384 + 1];
    size_t have = 0;
    char *body = NULL;
    while (!body) {
        if (have == sizeof buf - 1) die(E_PROTO, "%s: response header too long", host);
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die(E_PROTO, "%s: read failed: %s", host, strerror(errno));
        if (r == 0) die(E_PROTO, "%s: connection closed before a complete HTTP header", host);
        have += (size_t)r;
        buf[have] = '\0';
        char *h = strstr(buf, "\r\n\r\n");
        if (h) body = h + 4;
        else if ((h = strstr(buf, "\n\n"))) body = h + 2;
    }
    int status = 0;
    char reason[80] = "";
    if (sscanf(buf, "HTTP/%*d.%*d %3d %79[^\r\n]", &status, reason) < 1)
        die(E_PROTO, "%s: not an HTTP response", host);
    if (status < 200 || status > 299) {
        char what[120];
        snprintf(what, sizeof what, "HTTP %d%s%s", status, *reason ? " " : "", reason);
        die(E_HTTP, "%s: %s", url, what);
    }
    write_all(1, body, have - (size_t)(body - buf));
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die(E_PROTO, "%s: read failed: %s", host, strerror(errno));
        if (r == 0) break;
        write_all(1, buf, (size_t)r);
    }
    close(fd);
    return 0;
}
