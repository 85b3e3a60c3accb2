/*
 * batch.c — parsing and validation of Kafka RecordBatch v2 (magic 2) batches:
 * header decoding (sc_batch_header_parse, sc_batch_size), full validation of a
 * produced batch (sc_batch_validate), the baseOffset rewrite
 * (sc_batch_set_base_offset) and the record / record-header iterators
 * (sc_record_iter_*, sc_header_next).  Building batches lives in batch_build.c,
 * the columnar reader in columns.c.
 *
 * RecordBatch v2 byte layout (all fixed-width integers big-endian):
 *
 *   offset size field
 *   ------ ---- ---------------------------------------------------------------
 *        0    8 baseOffset            int64  offset of the first record
 *        8    4 batchLength           int32  bytes after this field (total - 12)
 *       12    4 partitionLeaderEpoch  int32
 *       16    1 magic                 int8   = 2
 *       17    4 crc                   uint32 CRC-32C (Castagnoli) of bytes
 *                                            21 .. end of batch
 *       21    2 attributes            int16  bits 0-2 compression (0 none,
 *                                            1 gzip, 2 snappy, 3 lz4, 4 zstd),
 *                                            bit 3 timestampType (1 =
 *                                            LogAppendTime), bit 4 transactional,
 *                                            bit 5 control, bit 6 delete horizon
 *       23    4 lastOffsetDelta       int32  = recordCount - 1 for a produced batch
 *       27    8 baseTimestamp         int64  (first record's timestamp)
 *       35    8 maxTimestamp          int64
 *       43    8 producerId            int64  -1: none
 *       51    2 producerEpoch         int16
 *       53    4 baseSequence          int32
 *       57    4 recordCount           int32
 *       61      records               recordCount records (compressed as one
 *                                     block when attributes & 7 != 0)
 *
 *   The CRC covers attributes .. end, so baseOffset, batchLength (implicitly:
 *   it fixes the covered range), partitionLeaderEpoch and magic are outside it;
 *   baseOffset and partitionLeaderEpoch can be rewritten without recomputing.
 *
 *   Record (varint = zig-zag base-128 int32, at most 5 bytes; varlong = zig-zag
 *   base-128 int64, at most 10 bytes):
 *     length          varint   bytes of the record after this field
 *     attributes      int8     unused, 0
 *     timestampDelta  varlong  timestamp - baseTimestamp
 *     offsetDelta     varint   offset - baseOffset (= record index when produced)
 *     keyLength       varint   -1: null key
 *     key             keyLength bytes
 *     valueLength     varint   -1: null value
 *     value           valueLength bytes
 *     headerCount     varint   >= 0
 *     headers         headerCount times:
 *       headerKeyLength   varint  >= 0 (header keys are never null)
 *       headerKey         bytes
 *       headerValueLength varint  -1: null value
 *       headerValue       bytes
 *   A record's length must equal exactly the bytes its fields take.
 *
 * Error positions.  sc_batch_header_parse, sc_batch_size and sc_batch_validate
 * report positions relative to buf.  sc_record_iter_next reports them relative
 * to the start of the record it was decoding (it->pos when called) and
 * sc_header_next relative to *pos when called: neither sees the start of the
 * enclosing buffer, so a caller adds its own base.
 */
#include "sc_internal.h"

#if defined(__GNUC__) || defined(__clang__)
#define SC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SC_ALWAYS_INLINE inline
#endif

/* ------------------------------------------------------------------ header */

static SC_ALWAYS_INLINE int parse_header(const uint8_t *b, size_t len, sc_batch_header *h,
                                         sc_error *err) {
    if (SC_UNLIKELY(len < SC_BATCH_MAGIC_OFFSET + 1))
        return sc_fail(err, SC_ECORRUPT, "buffer shorter than batch header", len);
    /* magic first: an old-format (v0/v1) message set is named as such even
     * when it is shorter than a v2 header */
    if (SC_UNLIKELY(b[SC_BATCH_MAGIC_OFFSET] != SC_BATCH_MAGIC))
        return sc_fail(err, SC_EMAGIC, "magic is not 2", SC_BATCH_MAGIC_OFFSET);
    if (SC_UNLIKELY(len < SC_BATCH_HEADER_SIZE))
        return sc_fail(err, SC_ECORRUPT, "buffer shorter than batch header", len);
    int32_t blen = (int32_t)sc_load_be32(b + SC_BATCH_LENGTH_OFFSET);
    if (SC_UNLIKELY(blen < SC_BATCH_HEADER_SIZE - SC_BATCH_LOG_OVERHEAD))
        return sc_fail(err, SC_ECORRUPT, "batchLength below minimum", SC_BATCH_LENGTH_OFFSET);
    if (SC_UNLIKELY((uint64_t)blen > (uint64_t)len - SC_BATCH_LOG_OVERHEAD))
        return sc_fail(err, SC_ECORRUPT, "batch extends past buffer", SC_BATCH_LENGTH_OFFSET);
    int32_t lod = (int32_t)sc_load_be32(b + SC_BATCH_LAST_OFFSET_DELTA_OFFSET);
    if (SC_UNLIKELY(lod < 0))
        return sc_fail(err, SC_ECORRUPT, "lastOffsetDelta is negative",
                       SC_BATCH_LAST_OFFSET_DELTA_OFFSET);
    int32_t count = (int32_t)sc_load_be32(b + SC_BATCH_RECORD_COUNT_OFFSET);
    if (SC_UNLIKELY(count < 0))
        return sc_fail(err, SC_ECORRUPT, "recordCount is negative", SC_BATCH_RECORD_COUNT_OFFSET);
    if (h) {
        h->base_offset = (int64_t)sc_load_be64(b + SC_BATCH_BASE_OFFSET_OFFSET);
        h->batch_length = blen;
        h->partition_leader_epoch = (int32_t)sc_load_be32(b + SC_BATCH_LEADER_EPOCH_OFFSET);
        h->magic = (int8_t)b[SC_BATCH_MAGIC_OFFSET];
        h->crc = sc_load_be32(b + SC_BATCH_CRC_OFFSET);
        h->attributes = (int16_t)sc_load_be16(b + SC_BATCH_ATTRIBUTES_OFFSET);
        h->last_offset_delta = lod;
        h->base_timestamp = (int64_t)sc_load_be64(b + SC_BATCH_BASE_TIMESTAMP_OFFSET);
        h->max_timestamp = (int64_t)sc_load_be64(b + SC_BATCH_MAX_TIMESTAMP_OFFSET);
        h->producer_id = (int64_t)sc_load_be64(b + SC_BATCH_PRODUCER_ID_OFFSET);
        h->producer_epoch = (int16_t)sc_load_be16(b + SC_BATCH_PRODUCER_EPOCH_OFFSET);
        h->base_sequence = (int32_t)sc_load_be32(b + SC_BATCH_BASE_SEQUENCE_OFFSET);
        h->record_count = count;
    }
    return 0;
}

int sc_batch_header_parse(const void *buf, size_t len, sc_batch_header *out, sc_error *err) {
    return parse_header((const uint8_t *)buf, len, out, err);
}

int sc_batch_size(const void *buf, size_t len, size_t *size, sc_batch_header *hdr, sc_error *err) {
    const uint8_t *b = (const uint8_t *)buf;
    int rc = parse_header(b, len, hdr, err);
    if (rc != 0) return rc;
    if (size)
        *size = SC_BATCH_LOG_OVERHEAD + (size_t)(uint32_t)sc_load_be32(b + SC_BATCH_LENGTH_OFFSET);
    return 0;
}

void sc_batch_set_base_offset(void *batch, int64_t base_offset) {
    sc_store_be64((uint8_t *)batch + SC_BATCH_BASE_OFFSET_OFFSET, (uint64_t)base_offset);
}

/* ------------------------------------------------------------------ records */

/* Why a varint at p (bounded by end, at most max bytes) failed to decode. */
static const char *varint_problem(const uint8_t *p, const uint8_t *end, size_t max,
                                  const char *truncated) {
    for (size_t i = 0; i < max; i++) {
        if (p + i >= end) return truncated;
        if (!(p[i] & 0x80)) return "varint exceeds 32 bits"; /* terminated: value too big */
    }
    return "varint too long";
}

#define TRUNC_IN_RECORD "varint runs past record length"

/* Decode the record at p (bounded by end).  check_index >= 0: offsetDelta must
 * equal it.  On success fills *r and *next.  On failure sets *what and *at. */
static SC_ALWAYS_INLINE int parse_record(const uint8_t *p, const uint8_t *end, int32_t check_index,
                                         sc_record *r, const uint8_t **next, const char **what,
                                         const uint8_t **at) {
#define REC_FAIL(msg, ptr)     \
    do {                       \
        *what = (msg);         \
        *at = (ptr);           \
        return SC_ECORRUPT;    \
    } while (0)
#define REC_VARINT(dst, lim)                                                            \
    do {                                                                                \
        const uint8_t *f_ = q;                                                          \
        if (SC_UNLIKELY(sc_get_varint(&q, (lim), (dst)) != 0))                          \
            REC_FAIL(varint_problem(f_, (lim), SC_VARINT_MAX, TRUNC_IN_RECORD), f_);    \
    } while (0)

    const uint8_t *q = p;
    int32_t len;
    if (SC_UNLIKELY(sc_get_varint(&q, end, &len) != 0))
        REC_FAIL(varint_problem(p, end, SC_VARINT_MAX, "record length varint runs past batch end"),
                 p);
    if (SC_UNLIKELY(len < 0)) REC_FAIL("record length is negative", p);
    if (SC_UNLIKELY((size_t)(end - q) < (size_t)len)) REC_FAIL("record length exceeds batch", p);
    const uint8_t *rend = q + len;

    if (SC_UNLIKELY(q >= rend)) REC_FAIL("record fields exceed record length", q);
    r->attributes = (int8_t)*q++;

    {
        const uint8_t *f = q;
        if (SC_UNLIKELY(sc_get_varlong(&q, rend, &r->timestamp_delta) != 0))
            REC_FAIL(varint_problem(f, rend, SC_VARLONG_MAX, TRUNC_IN_RECORD), f);
    }
    {
        const uint8_t *f = q;
        REC_VARINT(&r->offset_delta, rend);
        if (check_index >= 0 && SC_UNLIKELY(r->offset_delta != check_index))
            REC_FAIL("offsetDelta out of order", f);
    }
    {
        const uint8_t *f = q;
        int32_t kl;
        REC_VARINT(&kl, rend);
        r->key_len = kl;
        if (kl < 0) {
            if (SC_UNLIKELY(kl != -1)) REC_FAIL("keyLength below -1", f);
            r->key = NULL;
        } else {
            if (SC_UNLIKELY((size_t)(rend - q) < (size_t)kl)) REC_FAIL("key extends past record", f);
            r->key = q;
            q += kl;
        }
    }
    {
        const uint8_t *f = q;
        int32_t vl;
        REC_VARINT(&vl, rend);
        r->value_len = vl;
        if (vl < 0) {
            if (SC_UNLIKELY(vl != -1)) REC_FAIL("valueLength below -1", f);
            r->value = NULL;
        } else {
            if (SC_UNLIKELY((size_t)(rend - q) < (size_t)vl))
                REC_FAIL("value extends past record", f);
            r->value = q;
            q += vl;
        }
    }
    {
        const uint8_t *f = q;
        int32_t hc;
        REC_VARINT(&hc, rend);
        if (SC_UNLIKELY(hc < 0)) REC_FAIL("header count is negative", f);
        r->header_count = hc;
        r->headers = q;
        /* each header takes at least 2 bytes, so rend bounds the loop */
        for (int32_t i = 0; i < hc; i++) {
            const uint8_t *g = q;
            int32_t hkl, hvl;
            REC_VARINT(&hkl, rend);
            if (SC_UNLIKELY(hkl < 0)) REC_FAIL("header keyLength is negative", g);
            if (SC_UNLIKELY((size_t)(rend - q) < (size_t)hkl))
                REC_FAIL("header key extends past record", g);
            q += hkl;
            g = q;
            REC_VARINT(&hvl, rend);
            if (hvl < 0) {
                if (SC_UNLIKELY(hvl != -1)) REC_FAIL("header valueLength below -1", g);
            } else {
                if (SC_UNLIKELY((size_t)(rend - q) < (size_t)hvl))
                    REC_FAIL("header value extends past record", g);
                q += hvl;
            }
        }
        r->headers_len = (size_t)(q - r->headers);
    }
    if (SC_UNLIKELY(q != rend)) REC_FAIL("record length exceeds its fields", q);
    *next = q;
    return 0;
#undef REC_VARINT
#undef REC_FAIL
}

void sc_record_iter_init(sc_record_iter *it, const void *records, size_t len, int32_t count) {
    it->pos = (const uint8_t *)records;
    it->end = it->pos + len;
    it->remaining = count < 0 ? 0 : count;
    it->index = 0;
}

int sc_record_iter_next(sc_record_iter *it, sc_record *out, sc_error *err) {
    const uint8_t *p = it->pos;
    if (it->remaining <= 0) {
        if (SC_UNLIKELY(p != it->end))
            return sc_fail(err, SC_ECORRUPT, "trailing bytes after last record", 0);
        return 0;
    }
    if (SC_UNLIKELY(p >= it->end))
        return sc_fail(err, SC_ECORRUPT, "recordCount does not match records", 0);
    const char *what;
    const uint8_t *at, *next;
    if (SC_UNLIKELY(parse_record(p, it->end, -1, out, &next, &what, &at) != 0))
        return sc_fail(err, SC_ECORRUPT, what, (uint64_t)(at - p));
    it->pos = next;
    it->remaining--;
    it->index++;
    return 1;
}

int sc_header_next(const uint8_t **pos, const uint8_t *end, sc_bytes *key, sc_bytes *value,
                   sc_error *err) {
    const uint8_t *p0 = *pos, *q = p0;
    if (q >= end) return 0;
    int32_t kl, vl;
    const uint8_t *f = q;
    if (SC_UNLIKELY(sc_get_varint(&q, end, &kl) != 0))
        return sc_fail(err, SC_ECORRUPT,
                       varint_problem(f, end, SC_VARINT_MAX, "varint runs past headers end"), 0);
    if (SC_UNLIKELY(kl < 0))
        return sc_fail(err, SC_ECORRUPT, "header keyLength is negative", 0);
    if (SC_UNLIKELY((size_t)(end - q) < (size_t)kl))
        return sc_fail(err, SC_ECORRUPT, "header key extends past headers", 0);
    key->ptr = q;
    key->len = (size_t)kl;
    q += kl;
    f = q;
    if (SC_UNLIKELY(sc_get_varint(&q, end, &vl) != 0))
        return sc_fail(err, SC_ECORRUPT,
                       varint_problem(f, end, SC_VARINT_MAX, "varint runs past headers end"),
                       (uint64_t)(f - p0));
    if (vl < 0) {
        if (SC_UNLIKELY(vl != -1))
            return sc_fail(err, SC_ECORRUPT, "header valueLength below -1", (uint64_t)(f - p0));
        value->ptr = NULL;
        value->len = 0;
    } else {
        if (SC_UNLIKELY((size_t)(end - q) < (size_t)vl))
            return sc_fail(err, SC_ECORRUPT, "header value extends past headers",
                           (uint64_t)(f - p0));
        value->ptr = q;
        value->len = (size_t)vl;
        q += vl;
    }
    *pos = q;
    return 1;
}

/* ------------------------------------------------------------------ validate */

/* Validate the batch at buf.  `produced`: Kafka's rules for a batch a producer
 * sends (at least one record, offset deltas 0..n-1, lastOffsetDelta n-1,
 * maxTimestamp the largest record timestamp); otherwise the rules for a batch
 * as stored, which compaction may have thinned: fewer records than its offset
 * range (even none), offset deltas increasing up to lastOffsetDelta,
 * maxTimestamp at least every record's. */
static int validate(const uint8_t *b, size_t len, int produced, sc_batch_header *hdr, size_t *size,
                    sc_error *err) {
    sc_batch_header h;
    int rc = parse_header(b, len, &h, err);
    if (rc != 0) return rc;
    size_t total = SC_BATCH_LOG_OVERHEAD + (size_t)h.batch_length;
    if (hdr) *hdr = h;
    if (size) *size = total;

    uint32_t crc = sc_crc32c(0, b + SC_BATCH_ATTRIBUTES_OFFSET, total - SC_BATCH_ATTRIBUTES_OFFSET);
    if (SC_UNLIKELY(crc != h.crc)) return sc_fail(err, SC_ECRC, "CRC mismatch", SC_BATCH_CRC_OFFSET);

    /* What Kafka's broker enforces for a produced v2 batch (LogValidator):
     * a known codec, recordCount > 0 and lastOffsetDelta + 1 == recordCount. */
    int codec = h.attributes & SC_ATTR_COMPRESSION_MASK;
    if (SC_UNLIKELY(codec > 4))
        return sc_fail(err, SC_ECORRUPT, "unknown compression codec",
                       SC_BATCH_ATTRIBUTES_OFFSET + 1);
    if (produced) {
        if (SC_UNLIKELY(h.record_count == 0))
            return sc_fail(err, SC_ECORRUPT, "recordCount is zero", SC_BATCH_RECORD_COUNT_OFFSET);
        if (SC_UNLIKELY(h.last_offset_delta != h.record_count - 1))
            return sc_fail(err, SC_ECORRUPT, "lastOffsetDelta does not match recordCount",
                           SC_BATCH_LAST_OFFSET_DELTA_OFFSET);
    } else if (SC_UNLIKELY((int64_t)h.record_count > (int64_t)h.last_offset_delta + 1)) {
        return sc_fail(err, SC_ECORRUPT, "recordCount exceeds the batch's offset range",
                       SC_BATCH_RECORD_COUNT_OFFSET);
    }
    if (codec != 0) return 0; /* the records are one compressed block */

    const uint8_t *p = b + SC_BATCH_HEADER_SIZE;
    const uint8_t *end = b + total;
    int32_t count = h.record_count;
    sc_record r;
    int64_t max_ts = INT64_MIN;
    int32_t prev_delta = -1;
    for (int32_t i = 0; i < count; i++) {
        const char *what;
        const uint8_t *at;
        if (SC_UNLIKELY(p >= end))
            return sc_fail(err, SC_ECORRUPT, "recordCount does not match records",
                           (uint64_t)(p - b));
        const uint8_t *rec = p;
        if (SC_UNLIKELY(parse_record(p, end, produced ? i : -1, &r, &p, &what, &at) != 0))
            return sc_fail(err, SC_ECORRUPT, what, (uint64_t)(at - b));
        if (!produced && SC_UNLIKELY(r.offset_delta <= prev_delta || r.offset_delta > h.last_offset_delta))
            return sc_fail(err, SC_ECORRUPT, "offsetDelta out of order", (uint64_t)(rec - b));
        prev_delta = r.offset_delta;
        /* timestamps wrap like Kafka's long arithmetic */
        int64_t ts = (int64_t)((uint64_t)h.base_timestamp + (uint64_t)r.timestamp_delta);
        if (ts > max_ts) max_ts = ts;
    }
    if (SC_UNLIKELY(p != end))
        return sc_fail(err, SC_ECORRUPT, "trailing bytes after last record", (uint64_t)(p - b));
    /* Time lookups trust maxTimestamp (Kafka's broker rewrites it; we refuse a
     * batch whose maxTimestamp is not the largest record timestamp). */
    if (!(h.attributes & SC_ATTR_LOG_APPEND_TIME) && count > 0 &&
        SC_UNLIKELY(produced ? max_ts != h.max_timestamp : max_ts > h.max_timestamp))
        return sc_fail(err, SC_ECORRUPT, "maxTimestamp is not the largest record timestamp",
                       SC_BATCH_MAX_TIMESTAMP_OFFSET);
    return 0;
}

int sc_batch_validate(const void *buf, size_t len, sc_batch_header *hdr, size_t *size,
                      sc_error *err) {
    return validate((const uint8_t *)buf, len, 1, hdr, size, err);
}

int sc_batch_validate_stored(const void *buf, size_t len, sc_batch_header *hdr, size_t *size,
                             sc_error *err) {
    return validate((const uint8_t *)buf, len, 0, hdr, size, err);
}
