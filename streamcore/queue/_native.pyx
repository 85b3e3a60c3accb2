# cython: language_level=3, boundscheck=False, wraparound=False
"""The queue's per-message work that Python would spend microseconds on, in C:
receipt handles (build, sign, encode; decode, verify), message ids, the
record keys of a batch of plain messages, what a send and a receive hand
back (``results.pxi``) and a standard queue's message state
(``standard_state.pxi``).

A version 2 receipt handle is URL-safe base64 (no padding) of

    version 2 (1) | incarnation (u64) | offset (u64) | receive number (u32) | tag (16)

big-endian, where the tag is SipHash-2-4 with 128-bit output over the 21
bytes before it, under a 16-byte key (``handles.HandleSigner`` derives it
from the data directory's key).  SipHash is a PRF made for short inputs, so
the tag is a MAC; it is compared in constant time.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_Check
from libc.stdint cimport uint8_t, uint32_t, uint64_t

cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    int PyUnicode_KIND(object o)
    int PyUnicode_1BYTE_KIND
    bint PyUnicode_IS_COMPACT_ASCII(object o)

cdef extern from "siphash.h":
    void sc_siphash(const uint8_t *key, const uint8_t *data, size_t n, uint8_t *out,
                    int out_len) nogil

cdef enum:
    PAYLOAD = 21
    RAW = 37  # payload + 16-byte tag
    ENCODED = 50  # base64 of 37 bytes without padding

HANDLE_VERSION = 2
HANDLE_LENGTH = ENCODED

cdef const char *_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
cdef const char *_HEX = b"0123456789abcdef"
cdef signed char _UNB64[256]


cdef void _init_tables():
    cdef int i
    for i in range(256):
        _UNB64[i] = -1
    for i in range(64):
        _UNB64[<uint8_t>_B64[i]] = i


_init_tables()

from os import urandom as _urandom


cdef const uint8_t *_key16(bytes key) except NULL:
    if PyBytes_GET_SIZE(key) != 16:
        raise ValueError("a handle key is 16 bytes")
    return <const uint8_t *>PyBytes_AS_STRING(key)


def siphash(bytes key not None, bytes data not None, int out_len=16):
    """SipHash-2-4 of ``data`` under a 16-byte key: 8 or 16 bytes, little-endian."""
    cdef uint8_t out[16]
    if out_len != 8 and out_len != 16:
        raise ValueError("out_len is 8 or 16")
    sc_siphash(_key16(key), <const uint8_t *>PyBytes_AS_STRING(data),
               <size_t>PyBytes_GET_SIZE(data), out, out_len)
    return PyBytes_FromStringAndSize(<char *>out, out_len)


cdef inline void _put_be(uint8_t *p, uint64_t v, int n):
    cdef int i
    for i in range(n):
        p[n - 1 - i] = <uint8_t>(v >> (8 * i))


cdef inline uint64_t _get_be(const uint8_t *p, int n):
    cdef uint64_t v = 0
    cdef int i
    for i in range(n):
        v = (v << 8) | p[i]
    return v


def issue_handle(bytes key not None, uint64_t incarnation, uint64_t offset, uint32_t number):
    """A signed version 2 receipt handle (50 URL-safe base64 characters)."""
    return _issue(_key16(key), incarnation, offset, number)


cdef str _issue(const uint8_t *k, uint64_t incarnation, uint64_t offset, uint32_t number):
    cdef uint8_t raw[RAW]
    cdef int i, j = 0
    raw[0] = 2
    _put_be(raw + 1, incarnation, 8)
    _put_be(raw + 9, offset, 8)
    _put_be(raw + 17, number, 4)
    sc_siphash(k, raw, PAYLOAD, raw + PAYLOAD, 16)
    out = PyUnicode_New(ENCODED, 127)
    cdef char *s = <char *>PyUnicode_DATA(out)
    for i in range(0, 36, 3):
        s[j] = _B64[raw[i] >> 2]
        s[j + 1] = _B64[((raw[i] & 3) << 4) | (raw[i + 1] >> 4)]
        s[j + 2] = _B64[((raw[i + 1] & 15) << 2) | (raw[i + 2] >> 6)]
        s[j + 3] = _B64[raw[i + 2] & 63]
        j += 4
    s[48] = _B64[raw[36] >> 2]
    s[49] = _B64[(raw[36] & 3) << 4]
    return out


def check_handle(bytes key not None, object handle):
    """(incarnation, offset, receive number) of a genuine version 2 handle;
    None for anything else (wrong length, alphabet, version or tag)."""
    cdef uint64_t incarnation, offset
    cdef uint32_t number
    if not _check(_key16(key), handle, &incarnation, &offset, &number):
        return None
    return incarnation, offset, number


cdef bint _check(const uint8_t *k, object handle, uint64_t *incarnation, uint64_t *offset,
                 uint32_t *number):
    """Whether ``handle`` is a genuine version 2 handle under ``k``; its fields if so."""
    cdef uint8_t raw[RAW]
    cdef uint8_t tag[16]
    cdef const uint8_t *s
    cdef int i, j = 0
    cdef int a, b, c, d
    cdef uint8_t diff = 0
    if not PyUnicode_Check(handle) or PyUnicode_KIND(handle) != PyUnicode_1BYTE_KIND \
            or PyUnicode_GET_LENGTH(handle) != ENCODED:
        return False
    s = <const uint8_t *>PyUnicode_DATA(handle)
    for i in range(0, 48, 4):
        a = _UNB64[s[i]]
        b = _UNB64[s[i + 1]]
        c = _UNB64[s[i + 2]]
        d = _UNB64[s[i + 3]]
        if (a | b | c | d) < 0:
            return False
        raw[j] = <uint8_t>((a << 2) | (b >> 4))
        raw[j + 1] = <uint8_t>(((b & 15) << 4) | (c >> 2))
        raw[j + 2] = <uint8_t>(((c & 3) << 6) | d)
        j += 3
    a = _UNB64[s[48]]
    b = _UNB64[s[49]]
    if (a | b) < 0 or (b & 15) != 0:  # one encoding per handle: the unused bits are zero
        return False
    raw[36] = <uint8_t>((a << 2) | (b >> 4))
    if raw[0] != 2:
        return False
    sc_siphash(k, raw, PAYLOAD, tag, 16)
    for i in range(16):
        diff |= tag[i] ^ raw[PAYLOAD + i]
    if diff != 0:
        return False
    incarnation[0] = _get_be(raw + 1, 8)
    offset[0] = _get_be(raw + 9, 8)
    number[0] = <uint32_t>_get_be(raw + 17, 4)
    return True


cdef str _format_id(const uint8_t *p):
    out = PyUnicode_New(36, 127)
    cdef char *s = <char *>PyUnicode_DATA(out)
    cdef int i, j = 0
    for i in range(16):
        if i == 4 or i == 6 or i == 8 or i == 10:
            s[j] = b'-'
            j += 1
        s[j] = _HEX[p[i] >> 4]
        s[j + 1] = _HEX[p[i] & 15]
        j += 2
    return out


def format_message_id(bytes raw not None):
    """A 16-byte message id as SQS shows it: 8-4-4-4-12 lowercase hex digits."""
    if PyBytes_GET_SIZE(raw) != 16:
        raise ValueError("a message id is 16 bytes")
    return _format_id(<const uint8_t *>PyBytes_AS_STRING(raw))


def new_message_ids(Py_ssize_t n):
    """``n`` random 16-byte message ids (from os.urandom), each laid out as a
    version 4 UUID, concatenated."""
    cdef bytes raw = _urandom(16 * n)
    cdef uint8_t *p = <uint8_t *>PyBytes_AS_STRING(raw)  # fresh and unshared: ours to edit
    cdef Py_ssize_t i
    for i in range(n):
        p[16 * i + 6] = (p[16 * i + 6] & 0x0F) | 0x40
        p[16 * i + 8] = (p[16 * i + 8] & 0x3F) | 0x80
    return raw


def message_keys(Py_ssize_t n, bytes suffix not None):
    """Message ids and record keys for a batch of ``n`` messages
    (``new_message_ids``): every key is its id then ``suffix`` (the delay and
    any fields the batch shares).  (keys, message id strings)."""
    cdef bytes ids_raw = new_message_ids(n)
    cdef const uint8_t *r = <const uint8_t *>PyBytes_AS_STRING(ids_raw)
    cdef Py_ssize_t slen = PyBytes_GET_SIZE(suffix)
    cdef const char *sfx = PyBytes_AS_STRING(suffix)
    cdef Py_ssize_t i
    cdef int b
    cdef char *k
    keys = []
    ids = []
    for i in range(n):
        key = PyBytes_FromStringAndSize(NULL, 16 + slen)
        k = PyBytes_AS_STRING(key)
        for b in range(16):
            k[b] = <char>r[16 * i + b]
        for b in range(slen):
            k[16 + b] = sfx[b]
        keys.append(key)
        ids.append(_format_id(r + 16 * i))
    return keys, ids


def plain_bodies(list entries not None, Py_ssize_t limit, tuple default_ids not None,
                 object check_body, object error):
    """The UTF-8 bodies of a batch whose every entry is plain: a str, or a dict
    of MessageBody (a non-empty str) and perhaps Id.  (bodies, entry ids,
    whether any entry named its Id, total bytes); None when an entry is not
    plain, or its body is invalid (``check_body`` raises ``error``) or longer
    than ``limit``.  ASCII bodies are checked here; others by ``check_body``."""
    cdef list bodies = [], ids = []
    cdef Py_ssize_t i, j, n, total = 0
    cdef bint named = False
    cdef const uint8_t *p
    cdef uint8_t c
    cdef object e, body, raw
    if len(entries) > len(default_ids):
        return None
    for i in range(len(entries)):
        e = entries[i]
        if type(e) is str:
            body = e
            ids.append(default_ids[i])
        elif type(e) is dict and "MessageBody" in e and len(<dict>e) == 1 + ("Id" in e):
            body = (<dict>e)["MessageBody"]
            ids.append((<dict>e).get("Id", default_ids[i]))
            named = True
        else:
            return None
        if type(body) is not str or not body:
            return None
        if PyUnicode_IS_COMPACT_ASCII(body):
            p = <const uint8_t *>PyUnicode_DATA(body)
            n = PyUnicode_GET_LENGTH(body)
            for j in range(n):
                c = p[j]
                if c < 0x20 and c != 9 and c != 10 and c != 13:
                    return None  # the general path reports it
            raw = PyBytes_FromStringAndSize(<const char *>p, n)
        else:
            try:
                raw = check_body(body)
            except error:
                return None
        n = PyBytes_GET_SIZE(raw)
        if n > limit:
            return None
        total += n
        bodies.append(raw)
    return bodies, ids, named, total


include "results.pxi"
include "standard_state.pxi"
