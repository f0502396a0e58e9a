/*
 * soname — libmdevmig.so.0 is the static library's code, linked whole;
 * CMake wants a source for the shared target, and this is it.
 */
#include <mdevmig/mdevmig.h>
