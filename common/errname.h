/*
 * errname — errno values by name, both ways.
 *
 * The mdev protocol reports compatibility through the errno a vendor's
 * driver picks, so errnos travel through fixtures, JSON and logs. Names
 * ("EINVAL") are what operators read; numbers are what syscalls return.
 */
#ifndef MDEVMIG_ERRNAME_H
#define MDEVMIG_ERRNAME_H

/* The symbolic name of err ("EINVAL"), or NULL when it has none here. */
const char *errname_of(int err);

/* Parse "EINVAL" or a positive decimal number. Returns the errno value,
 * or 0 when text names no errno known here. */
int errname_parse(const char *text);

#endif
