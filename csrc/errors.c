/*
 * errors.c — sc_strerror(): one message per return code, for SC_E* codes and
 * for the errno values the core passes through.
 */
#include <string.h>

#include "streamcore.h"

const char *sc_strerror(int rc) {
    switch (rc) {
    case SC_OK: return "success";
    case SC_ECORRUPT: return "corrupt record batch";
    case SC_ECRC: return "record batch CRC-32C mismatch";
    case SC_ETOOLARGE: return "record batch larger than max_batch_bytes";
    case SC_ERANGE: return "offset out of range";
    case SC_ECLOSED: return "log is closed";
    case SC_EINVAL: return "invalid argument";
    case SC_EBUSY: return "range is pinned by live zero-copy views";
    case SC_EMAGIC: return "unsupported record batch magic (only v2 is stored)";
    case SC_ECOMPRESSED: return "batch is compressed";
    case SC_ENOTFOUND: return "not found";
    case SC_EEXIST: return "a log of that name exists";
    case SC_EREADONLY: return "log is open read-only";
    case SC_EDELETED: return "log was deleted";
    case SC_ETIMEDOUT: return "timed out";
    default: break;
    }
    if (rc > 0) return strerror(rc);
    return "unknown error";
}
