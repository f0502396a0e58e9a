/*
 * errname — the errno names mdevmig can meet from sysfs, FUSE and sockets.
 * A table rather than strerror(): names are stable across locales and are
 * what the kernel source and vendor documentation use.
 */
#include "errname.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct errname_entry {
    int value;
    const char *name;
};

#define ERRNAME(e)                                                                                 \
    {                                                                                              \
        e, #e                                                                                      \
    }
static const struct errname_entry errname_table[] = {
    ERRNAME(EPERM),        ERRNAME(ENOENT),       ERRNAME(ESRCH),        ERRNAME(EINTR),
    ERRNAME(EIO),          ERRNAME(ENXIO),        ERRNAME(E2BIG),        ERRNAME(ENOEXEC),
    ERRNAME(EBADF),        ERRNAME(EAGAIN),       ERRNAME(ENOMEM),       ERRNAME(EACCES),
    ERRNAME(EFAULT),       ERRNAME(EBUSY),        ERRNAME(EEXIST),       ERRNAME(EXDEV),
    ERRNAME(ENODEV),       ERRNAME(ENOTDIR),      ERRNAME(EISDIR),       ERRNAME(EINVAL),
    ERRNAME(ENFILE),       ERRNAME(EMFILE),       ERRNAME(ENOTTY),       ERRNAME(EFBIG),
    ERRNAME(ENOSPC),       ERRNAME(ESPIPE),       ERRNAME(EROFS),        ERRNAME(EPIPE),
    ERRNAME(EDOM),         ERRNAME(ERANGE),       ERRNAME(EDEADLK),      ERRNAME(ENAMETOOLONG),
    ERRNAME(ENOSYS),       ERRNAME(ENOTEMPTY),    ERRNAME(ELOOP),        ERRNAME(ENOMSG),
    ERRNAME(ENODATA),      ERRNAME(ETIME),        ERRNAME(EPROTO),       ERRNAME(EBADMSG),
    ERRNAME(EOVERFLOW),    ERRNAME(EILSEQ),       ERRNAME(EOPNOTSUPP),   ERRNAME(EADDRINUSE),
    ERRNAME(ENETDOWN),     ERRNAME(ECONNRESET),   ERRNAME(ENOBUFS),      ERRNAME(ENOTCONN),
    ERRNAME(ETIMEDOUT),    ERRNAME(ECONNREFUSED), ERRNAME(EHOSTUNREACH), ERRNAME(EALREADY),
    ERRNAME(ESTALE),       ERRNAME(EDQUOT),       ERRNAME(ECANCELED),    ERRNAME(ENOKEY),
    ERRNAME(EKEYREJECTED),
};
#undef ERRNAME

const char *errname_of(int err)
{
    for (size_t i = 0; i < sizeof errname_table / sizeof errname_table[0]; i++) {
        if (errname_table[i].value == err)
            return errname_table[i].name;
    }
    return NULL;
}

int errname_parse(const char *text)
{
    if (text == NULL || *text == '\0')
        return 0;
    if (text[0] >= '0' && text[0] <= '9') {
        char *end;
        long v = strtol(text, &end, 10);
        if (*end != '\0' || v <= 0 || v > 4095)
            return 0;
        return (int)v;
    }
    for (size_t i = 0; i < sizeof errname_table / sizeof errname_table[0]; i++) {
        if (strcmp(errname_table[i].name, text) == 0)
            return errname_table[i].value;
    }
    /* Aliases Linux defines as the same value as a listed name. */
    if (strcmp(text, "ENOTSUP") == 0)
        return ENOTSUP;
    if (strcmp(text, "EWOULDBLOCK") == 0)
        return EWOULDBLOCK;
    return 0;
}
