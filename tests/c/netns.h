/* Network namespaces of a test's own (user + mount + net, loopback only),
 * and addresses in them that never answer: for bad networks without root
 * or any change to the machine. */
#ifndef NS_NETNS_H
#define NS_NETNS_H

/* Enters new user, mount and network namespaces with loopback up, and
 * /etc/hosts and /etc/resolv.conf bind-mounted with the given contents.
 * 0 on success; -1 (errno says why) where none can be made. */
int netns_enter(const char *hosts, const char *resolv);
/* A listener on addr:port (family AF_INET or AF_INET6, port 0: any free
 * one) whose accept queue is full, so SYNs to it are dropped: a connect
 * there waits until its own timeout.  The descriptor, or -1. */
int netns_blackhole(int family, const char *addr, int port);
/* The local port of a bound socket. */
int netns_bound_port(int fd);

#endif
