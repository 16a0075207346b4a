#ifndef RUNBOOK_CSOCKDIAG_SHIM_H
#define RUNBOOK_CSOCKDIAG_SHIM_H

/* The kernel's socket diagnostics (NETLINK_SOCK_DIAG, what `ss` uses), asked for listening TCP
 * sockets only: the kernel walks its listening table alone, where reading /proc/net/tcp walks
 * every connection bucket (milliseconds on a machine with a large hash table). */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

/* Fills ports[i] and inodes[i] with the local port and socket inode of each listening TCP socket
 * of `family` (AF_INET or AF_INET6), at most `capacity` of them. Returns how many there are (more
 * than `capacity` means: call again with room for that many), or -1 with errno set. */
static inline int runbook_listening_tcp(int family, uint32_t *ports, uint64_t *inodes, int capacity) {
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -1;
    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 request;
    } message;
    memset(&message, 0, sizeof message);
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.request.sdiag_family = (uint8_t)family;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = 1u << 10; /* TCP_LISTEN */
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof kernel);
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int error = errno;
        close(fd);
        errno = error;
        return -1;
    }
    long buffer[8192 / sizeof(long)];
    int count = 0;
    for (;;) {
        ssize_t length = recv(fd, buffer, sizeof buffer, 0);
        if (length < 0) {
            if (errno == EINTR) continue;
            int error = errno;
            close(fd);
            errno = error;
            return -1;
        }
        if (length == 0) break;
        for (struct nlmsghdr *header = (struct nlmsghdr *)buffer; NLMSG_OK(header, length); header = NLMSG_NEXT(header, length)) {
            if (header->nlmsg_type == NLMSG_DONE) {
                close(fd);
                return count;
            }
            if (header->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *failure = (struct nlmsgerr *)NLMSG_DATA(header);
                int error = header->nlmsg_len >= NLMSG_LENGTH(sizeof *failure) && failure->error < 0 ? -failure->error : EIO;
                close(fd);
                errno = error;
                return -1;
            }
            if (header->nlmsg_flags & NLM_F_DUMP_INTR) {
                /* The table changed during the dump: the answer may miss a socket. */
                close(fd);
                errno = EAGAIN;
                return -1;
            }
            if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY || header->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) continue;
            struct inet_diag_msg *socket_info = (struct inet_diag_msg *)NLMSG_DATA(header);
            if (count < capacity) {
                ports[count] = ntohs(socket_info->id.idiag_sport);
                inodes[count] = socket_info->idiag_inode;
            }
            count++;
        }
    }
    close(fd);
    return count;
}

#endif
