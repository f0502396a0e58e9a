/*
 * mdevsimctl — send one command to a running mdevsim's control socket and
 * print the reply, so shell tests and the quickstart can drive a driver
 * upgrade or a fault without a socket tool of their own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 3 ? stderr : stdout,
                "Usage: mdevsimctl SOCKET COMMAND [ARG...]\n"
                "Send one control command to mdevsim (see mdevsim --help for the commands)\n"
                "and print its reply. Exit 0 on \"ok\", 1 on \"err\", 2 when the socket\n"
                "cannot be used.\n");
        return argc < 3 ? 2 : 0;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "mdevsimctl: socket path too long: %s\n", argv[1]);
        return 2;
    }
    strcpy(addr.sun_path, argv[1]);

    size_t len = 1;
    for (int i = 2; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *line = malloc(len + 1);
    if (line == NULL) {
        fprintf(stderr, "mdevsimctl: out of memory\n");
        return 2;
    }
    line[0] = '\0';
    for (int i = 2; i < argc; i++) {
        strcat(line, argv[i]);
        strcat(line, i + 1 < argc ? " " : "\n");
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "mdevsimctl: cannot connect to %s: %s\n", argv[1], strerror(errno));
        free(line);
        if (fd >= 0)
            close(fd);
        return 2;
    }
    size_t off = 0, total = strlen(line);
    while (off < total) {
        ssize_t n = write(fd, line + off, total - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "mdevsimctl: write to %s: %s\n", argv[1], strerror(errno));
            free(line);
            close(fd);
            return 2;
        }
        off += (size_t)n;
    }
    free(line);

    char reply[8192];
    size_t used = 0;
    while (used < sizeof reply - 1) {
        ssize_t n = read(fd, reply + used, sizeof reply - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        if (memchr(reply, '\n', used) != NULL)
            break;
    }
    close(fd);
    reply[used] = '\0';
    char *newline = strchr(reply, '\n');
    if (newline == NULL) {
        fprintf(stderr, "mdevsimctl: no reply from %s\n", argv[1]);
        return 2;
    }
    *newline = '\0';
    printf("%s\n", reply);
    return strncmp(reply, "ok", 2) == 0 ? 0 : 1;
}
