/*
 * consumer — a program outside the tree that uses libmdevmig as a
 * deployer would: built against the installed header with
 * `pkg-config --cflags --libs mdevmig`, it opens a registry and runs a
 * select. It also plays an older caller whose info struct is shorter
 * than the library's, to show the library writes no byte past it.
 *
 * usage: consumer REGISTRY TOKEN_FILE INSTANCE
 * prints: "version V", "destination H" lines, "host H VERDICT" lines.
 */
#include <mdevmig/mdevmig.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static int consumer_token(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(out, (int)len, f) == NULL) {
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* An older caller's view: the struct as it ended after migratable. */
struct consumer_old_info {
    struct mdevmig_result_info head;
    unsigned char canary[64];
};

static int consumer_old_caller(const struct mdevmig_result *r)
{
    struct consumer_old_info old;
    memset(&old, 0xA5, sizeof old);
    old.head.size = offsetof(struct mdevmig_result_info, reason);
    if (mdevmig_result_info(r, &old.head) != MDEVMIG_OK)
        return -1;
    const unsigned char *after = (const unsigned char *)&old.head + old.head.size;
    for (size_t i = 0; i < sizeof old.head - old.head.size; i++) {
        if (after[i] != 0xA5) {
            fprintf(stderr, "consumer: the library wrote past an older caller's info\n");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: consumer REGISTRY TOKEN_FILE INSTANCE\n");
        return 2;
    }
    char token[512];
    if (consumer_token(argv[2], token, sizeof token) < 0) {
        fprintf(stderr, "consumer: cannot read %s\n", argv[2]);
        return 2;
    }
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", MDEVMIG_VERSION_MAJOR, MDEVMIG_VERSION_MINOR,
             MDEVMIG_VERSION_PATCH);
    if (strcmp(expected, mdevmig_version()) != 0) {
        fprintf(stderr, "consumer: header %s, library %s\n", expected, mdevmig_version());
        return 1;
    }
    printf("version %s\n", mdevmig_version());

    struct mdevmig_options options = MDEVMIG_OPTIONS_INIT;
    options.registry_path = argv[1];
    options.token = token;
    char err[1024];
    struct mdevmig *m = mdevmig_open(&options, err, sizeof err);
    if (m == NULL) {
        fprintf(stderr, "consumer: %s\n", err);
        return 1;
    }
    struct mdevmig_request request = MDEVMIG_REQUEST_INIT;
    request.instance = argv[3];
    request.count = 5;
    struct mdevmig_result *result = NULL;
    int rc = mdevmig_select(m, &request, &result, err, sizeof err);
    if (rc != MDEVMIG_OK) {
        fprintf(stderr, "consumer: select: %s\n", err);
        mdevmig_close(m);
        return 1;
    }
    struct mdevmig_result_info info = {.size = sizeof info};
    mdevmig_result_info(result, &info);
    for (size_t i = 0; i < info.destination_count; i++)
        printf("destination %s\n", mdevmig_result_destination(result, i));
    for (size_t i = 0; i < info.host_count; i++) {
        struct mdevmig_host_info host = {.size = sizeof host};
        mdevmig_result_host(result, i, &host);
        printf("host %s %s\n", host.name, mdevmig_verdict_name(host.verdict));
    }
    int status = consumer_old_caller(result) == 0 ? 0 : 1;
    mdevmig_result_free(result);
    mdevmig_close(m);
    return status;
}
