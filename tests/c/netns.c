/* See netns.h.  The namespaces are the process's own: call netns_enter in
 * a child (or a process that needs nothing outside afterwards). */
#include "netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A user namespace first: it gives the rights to make the others and to
 * mount, without root. */
int netns_enter(const char *hosts, const char *resolv)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0)
        return -1;
    char map[64];
    snprintf(map, sizeof map, "0 %d 1", (int)uid);
    write_file("/proc/self/setgroups", "deny");
    if (write_file("/proc/self/uid_map", map) != 0)
        return -1;
    snprintf(map, sizeof map, "0 %d 1", (int)gid);
    if (write_file("/proc/self/gid_map", map) != 0)
        return -1;
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
        return -1;
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    int up = sock >= 0 && ioctl(sock, SIOCGIFFLAGS, &ifr) == 0 &&
             (ifr.ifr_flags |= IFF_UP, ioctl(sock, SIOCSIFFLAGS, &ifr) == 0);
    if (sock >= 0)
        close(sock);
    if (!up)
        return -1;
    char dir[] = "/tmp/ns-netns-XXXXXX", path[64];
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/hosts", dir);
    if (write_file(path, hosts) != 0 || mount(path, "/etc/hosts", "none", MS_BIND, "") != 0)
        return -1;
    unlink(path);
    snprintf(path, sizeof path, "%s/resolv.conf", dir);
    if (write_file(path, resolv) != 0 || mount(path, "/etc/resolv.conf", "none", MS_BIND, "") != 0)
        return -1;
    unlink(path);
    rmdir(dir);
    return 0;
}

int netns_blackhole(int family, const char *addr, int port)
{
    int fd = socket(family, SOCK_STREAM, 0), one = 1;
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, addr, &a->sin6_addr);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, addr, &a->sin_addr);
        len = sizeof *a;
    }
    /* A full queue: the kernel drops SYNs instead of refusing them. */
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 0) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) /* the port, if 0 was asked */
        return -1;
    for (int i = 0; i < 3; i++) { /* fill the queue (backlog 0 holds one) */
        int c = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(c, (struct sockaddr *)&ss, len);
    }
    usleep(50000);
    return fd;
}

int netns_bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

