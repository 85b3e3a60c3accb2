/*
 * batch_build.c — encoding uncompressed RecordBatch v2 batches: the batch-meta
 * defaults (sc_batch_meta_init), exact sizing (sc_batch_encoded_size), building
 * from an array of records (sc_batch_build) and the columnar planner/builder
 * (sc_columns_plan, sc_columns_build).  The byte layout is described at the top
 * of batch.c.
 *
 * This is the hot path of append: each record's body size is computed once
 * (branch-light varint sizing), written in a single pass with a capacity check
 * per record, and the CRC-32C over attributes..end is computed last.
 * baseTimestamp is the first record's timestamp, maxTimestamp the largest;
 * offsetDelta is the record's index in the batch; lastOffsetDelta = n - 1.
 * Timestamp deltas are computed with wrapping (two's complement) arithmetic, as
 * Kafka's Java code does, so a reader's baseTimestamp + delta gives back the
 * record's timestamp for every int64.
 */
#include "sc_internal.h"

/* Bytes of the unsigned varint v (1..10), without a loop. */
static SC_ALWAYS_INLINE size_t uv_size(uint64_t v) {
#if defined(__GNUC__) || defined(__clang__)
    unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1u);
    return (size_t)((bits * 9u + 64u) / 64u);
#else
    return sc_uvarint_size(v);
#endif
}
static SC_ALWAYS_INLINE size_t vi_size(int32_t v) { return uv_size(sc_zigzag32(v)); }
static SC_ALWAYS_INLINE size_t vl_size(int64_t v) { return uv_size(sc_zigzag64(v)); }
/* Bytes of a record's length field: a zig-zag varint of the non-negative body
 * size (so 64..127 already takes two bytes). */
static SC_ALWAYS_INLINE size_t len_size(uint64_t body) { return uv_size(body << 1); }

static SC_ALWAYS_INLINE uint8_t *put_uv(uint8_t *p, uint64_t v) {
    if (SC_LIKELY(v < 0x80)) {
        *p = (uint8_t)v;
        return p + 1;
    }
    return sc_put_uvarint(p, v);
}

static SC_ALWAYS_INLINE int64_t ts_delta(int64_t ts, int64_t base) {
    return (int64_t)((uint64_t)ts - (uint64_t)base);
}

/* Bytes of a record's fields before headerCount: attributes, timestampDelta,
 * offsetDelta, key and value with their lengths (-1: null, no bytes). */
static SC_ALWAYS_INLINE uint64_t fields_size(int64_t delta, int32_t idx, int32_t kl, int32_t vl) {
    return 1u + vl_size(delta) + vi_size(idx) + vi_size(kl) + vi_size(vl) +
           (uint64_t)(kl > 0 ? kl : 0) + (uint64_t)(vl > 0 ? vl : 0);
}

/* Write a record's length (of a body of `body` bytes) and its fields up to
 * headerCount; the caller writes headerCount and the headers.  The one place
 * records are laid out (see the record layout in batch.c). */
static SC_ALWAYS_INLINE uint8_t *put_record_fields(uint8_t *p, uint64_t body, int64_t delta,
                                                   int32_t idx, const void *key, int32_t kl,
                                                   const void *value, int32_t vl) {
    p = put_uv(p, sc_zigzag32((int32_t)body));
    *p++ = 0; /* record attributes */
    p = put_uv(p, sc_zigzag64(delta));
    p = put_uv(p, sc_zigzag32(idx));
    p = put_uv(p, sc_zigzag32(kl));
    if (kl > 0) {
        memcpy(p, key, (size_t)kl);
        p += kl;
    }
    p = put_uv(p, sc_zigzag32(vl));
    if (vl > 0) {
        memcpy(p, value, (size_t)vl);
        p += vl;
    }
    return p;
}

/* Largest batch we build: batchLength must fit an int32. */
#define MAX_BATCH ((size_t)INT32_MAX)

void sc_batch_meta_init(sc_batch_meta *meta) {
    meta->base_offset = 0;
    meta->partition_leader_epoch = -1;
    meta->attributes = 0;
    meta->producer_id = -1;
    meta->producer_epoch = -1;
    meta->base_sequence = -1;
}

/* Write the 61-byte header and the CRC once the records are in place. */
static void finish_batch(uint8_t *o, size_t total, const sc_batch_meta *meta, int32_t n,
                         int64_t base_ts, int64_t max_ts) {
    sc_batch_meta def;
    if (!meta) {
        sc_batch_meta_init(&def);
        meta = &def;
    }
    sc_store_be64(o + SC_BATCH_BASE_OFFSET_OFFSET, (uint64_t)meta->base_offset);
    sc_store_be32(o + SC_BATCH_LENGTH_OFFSET, (uint32_t)(total - SC_BATCH_LOG_OVERHEAD));
    sc_store_be32(o + SC_BATCH_LEADER_EPOCH_OFFSET, (uint32_t)meta->partition_leader_epoch);
    o[SC_BATCH_MAGIC_OFFSET] = SC_BATCH_MAGIC;
    sc_store_be16(o + SC_BATCH_ATTRIBUTES_OFFSET, (uint16_t)meta->attributes);
    sc_store_be32(o + SC_BATCH_LAST_OFFSET_DELTA_OFFSET, (uint32_t)(n - 1));
    sc_store_be64(o + SC_BATCH_BASE_TIMESTAMP_OFFSET, (uint64_t)base_ts);
    sc_store_be64(o + SC_BATCH_MAX_TIMESTAMP_OFFSET, (uint64_t)max_ts);
    sc_store_be64(o + SC_BATCH_PRODUCER_ID_OFFSET, (uint64_t)meta->producer_id);
    sc_store_be16(o + SC_BATCH_PRODUCER_EPOCH_OFFSET, (uint16_t)meta->producer_epoch);
    sc_store_be32(o + SC_BATCH_BASE_SEQUENCE_OFFSET, (uint32_t)meta->base_sequence);
    sc_store_be32(o + SC_BATCH_RECORD_COUNT_OFFSET, (uint32_t)n);
    uint32_t crc = sc_crc32c(0, o + SC_BATCH_ATTRIBUTES_OFFSET, total - SC_BATCH_ATTRIBUTES_OFFSET);
    sc_store_be32(o + SC_BATCH_CRC_OFFSET, crc);
}

/* ------------------------------------------------------------ record array */

/* Body size (bytes after the length varint) of record r at index idx, or -1
 * if one of its lengths is invalid or it cannot fit a batch. */
static SC_ALWAYS_INLINE int64_t body_size(const sc_record_in *r, int64_t delta, int32_t idx) {
    int32_t kl = r->key_len, vl = r->value_len, hc = r->header_count;
    if (SC_UNLIKELY(kl < -1 || vl < -1 || hc < 0)) return -1;
    if (SC_UNLIKELY((kl > 0 && !r->key) || (vl > 0 && !r->value) || (hc > 0 && !r->headers)))
        return -1;
    int64_t s = (int64_t)fields_size(delta, idx, kl, vl) + (int64_t)vi_size(hc);
    for (int32_t h = 0; h < hc; h++) {
        const sc_header_in *hd = &r->headers[h];
        int32_t hk = hd->key_len, hv = hd->value_len;
        if (SC_UNLIKELY(hk < 0 || hv < -1 || (hk > 0 && !hd->key) || (hv > 0 && !hd->value)))
            return -1;
        s += (int64_t)vi_size(hk) + hk + (int64_t)vi_size(hv) + (hv > 0 ? hv : 0);
        if (SC_UNLIKELY(s > INT32_MAX)) return -1;
    }
    if (SC_UNLIKELY(s > INT32_MAX)) return -1;
    return s;
}

size_t sc_batch_encoded_size(const sc_record_in *recs, size_t n) {
    if (!recs || n == 0 || n > (size_t)INT32_MAX) return 0;
    int64_t base = recs[0].timestamp;
    uint64_t total = SC_BATCH_HEADER_SIZE;
    for (size_t i = 0; i < n; i++) {
        int64_t body = body_size(&recs[i], ts_delta(recs[i].timestamp, base), (int32_t)i);
        if (body < 0) return 0;
        total += len_size((uint64_t)body) + (uint64_t)body;
        if (total > MAX_BATCH) return 0;
    }
    return (size_t)total;
}

int sc_batch_build(void *out, size_t cap, const sc_batch_meta *meta, const sc_record_in *recs,
                   size_t n, size_t *written) {
    if (!out || !recs || n == 0 || n > (size_t)INT32_MAX) return SC_EINVAL;
    if (meta && (meta->attributes & SC_ATTR_COMPRESSION_MASK)) return SC_EINVAL;
    if (cap < SC_BATCH_HEADER_SIZE) return SC_EINVAL;
    uint8_t *o = (uint8_t *)out;
    uint8_t *p = o + SC_BATCH_HEADER_SIZE;
    const uint8_t *lim = o + (cap < MAX_BATCH ? cap : MAX_BATCH);
    int64_t base = recs[0].timestamp, max_ts = base;

    for (size_t i = 0; i < n; i++) {
        const sc_record_in *r = &recs[i];
        int64_t ts = r->timestamp;
        if (ts > max_ts) max_ts = ts;
        int64_t delta = ts_delta(ts, base);
        int64_t body = body_size(r, delta, (int32_t)i);
        if (SC_UNLIKELY(body < 0)) return SC_EINVAL;
        size_t need = len_size((uint64_t)body) + (size_t)body;
        if (SC_UNLIKELY((size_t)(lim - p) < need)) return SC_EINVAL;

        p = put_record_fields(p, (uint64_t)body, delta, (int32_t)i, r->key, r->key_len, r->value,
                              r->value_len);
        int32_t hc = r->header_count;
        p = put_uv(p, sc_zigzag32(hc));
        for (int32_t h = 0; h < hc; h++) {
            const sc_header_in *hd = &r->headers[h];
            int32_t hk = hd->key_len, hv = hd->value_len;
            p = put_uv(p, sc_zigzag32(hk));
            if (hk > 0) {
                memcpy(p, hd->key, (size_t)hk);
                p += hk;
            }
            p = put_uv(p, sc_zigzag32(hv));
            if (hv > 0) {
                memcpy(p, hd->value, (size_t)hv);
                p += hv;
            }
        }
    }
    size_t total = (size_t)(p - o);
    finish_batch(o, total, meta, (int32_t)n, base, max_ts);
    if (written) *written = total;
    return 0;
}

/* ------------------------------------------------------------ columnar */

/* Body size of a header-less record (headerCount 0 takes one byte). */
static SC_ALWAYS_INLINE uint64_t col_body_size(int64_t delta, int32_t idx, int32_t kl,
                                                int32_t vl) {
    return fields_size(delta, idx, kl, vl) + 1u;
}

int sc_columns_plan(const sc_columns_in *in, size_t first, size_t max_bytes, size_t *n_out,
                    size_t *size_out) {
    if (!in || !n_out || !size_out || first >= in->count || !in->value_lengths) return SC_EINVAL;
    if (in->keys && !in->key_lengths) return SC_EINVAL;
    const int32_t *vls = in->value_lengths;
    const int32_t *kls = in->keys ? in->key_lengths : NULL;
    const int64_t *tss = in->timestamps;
    int64_t base = tss ? tss[first] : in->default_timestamp;
    size_t avail = in->count - first;
    if (avail > (size_t)INT32_MAX) avail = (size_t)INT32_MAX;
    size_t size = SC_BATCH_HEADER_SIZE, n = 0;
    for (; n < avail; n++) {
        size_t i = first + n;
        int32_t kl = kls ? kls[i] : -1, vl = vls[i];
        int64_t delta = tss ? ts_delta(tss[i], base) : 0;
        uint64_t rs = col_body_size(delta, (int32_t)n, kl, vl); /* < 2^32 + 64 */
        rs += len_size(rs);
        /* a record past the limit is not looked at further */
        if (n > 0 && (size >= max_bytes || rs > (uint64_t)(max_bytes - size))) break;
        if (SC_UNLIKELY(kl < -1 || vl < -1)) return SC_EINVAL;
        if (SC_UNLIKELY(rs > (uint64_t)(MAX_BATCH - size))) {
            if (n == 0) return SC_EINVAL;
            break;
        }
        size += (size_t)rs;
    }
    *n_out = n;
    *size_out = size;
    return 0;
}

/* Encode records from `first` as one batch: all `n` of them, or (limit_bytes
 * other than SIZE_MAX) as many of them as fit in limit_bytes, at least one,
 * by the rule sc_columns_plan follows.  *n_done records were encoded. */
static int columns_build(void *out, size_t cap, size_t limit_bytes, const sc_batch_meta *meta,
                         const sc_columns_in *in, size_t first, size_t n, size_t *n_done,
                         size_t *value_pos, size_t *key_pos, size_t *written) {
    if (!out || !in || !value_pos || n == 0 || n > (size_t)INT32_MAX || first > in->count ||
        n > in->count - first || !in->value_lengths)
        return SC_EINVAL;
    if (in->keys && (!in->key_lengths || !key_pos)) return SC_EINVAL;
    if (meta && (meta->attributes & SC_ATTR_COMPRESSION_MASK)) return SC_EINVAL;
    if (cap < SC_BATCH_HEADER_SIZE) return SC_EINVAL;

    const uint8_t *values = in->values, *keys = in->keys;
    const int32_t *vls = in->value_lengths + first;
    const int32_t *kls = keys ? in->key_lengths + first : NULL;
    const int64_t *tss = in->timestamps ? in->timestamps + first : NULL;
    size_t vpos = *value_pos, kpos = keys ? *key_pos : 0;
    int64_t base = tss ? tss[0] : in->default_timestamp, max_ts = base;

    uint8_t *o = (uint8_t *)out;
    uint8_t *p = o + SC_BATCH_HEADER_SIZE;
    const uint8_t *lim = o + (cap < MAX_BATCH ? cap : MAX_BATCH);

    size_t j = 0;
    for (; j < n; j++) {
        int32_t kl = kls ? kls[j] : -1, vl = vls[j];
        if (SC_UNLIKELY(kl < -1 || vl < -1 || (vl > 0 && !values))) return SC_EINVAL;
        /* Never read past the input buffers, whatever the lengths say now. */
        if (SC_UNLIKELY((vl > 0 && (size_t)vl > in->values_len - vpos) ||
                        (kl > 0 && (size_t)kl > in->keys_len - kpos)))
            return SC_EINVAL;
        int64_t delta = 0, ts = base;
        if (tss) {
            ts = tss[j];
            delta = ts_delta(ts, base);
        }
        uint64_t body = col_body_size(delta, (int32_t)j, kl, vl);
        if (SC_UNLIKELY(body > (uint64_t)INT32_MAX)) return SC_EINVAL;
        size_t need = len_size(body) + (size_t)body;
        if (j > 0 && limit_bytes != SIZE_MAX) {
            size_t used = (size_t)(p - o);
            if (used >= limit_bytes || need > limit_bytes - used) break;
        }
        if (SC_UNLIKELY((size_t)(lim - p) < need)) return SC_EINVAL;
        if (ts > max_ts) max_ts = ts;

        p = put_record_fields(p, body, delta, (int32_t)j, kl > 0 ? keys + kpos : NULL, kl,
                              vl > 0 ? values + vpos : NULL, vl);
        *p++ = 0; /* headerCount */
        if (kl > 0) kpos += (size_t)kl;
        if (vl > 0) vpos += (size_t)vl;
    }
    size_t total = (size_t)(p - o);
    finish_batch(o, total, meta, (int32_t)j, base, max_ts);
    *n_done = j;
    *value_pos = vpos;
    if (keys) *key_pos = kpos;
    if (written) *written = total;
    return 0;
}

int sc_columns_build(void *out, size_t cap, const sc_batch_meta *meta, const sc_columns_in *in,
                     size_t first, size_t n, size_t *value_pos, size_t *key_pos,
                     size_t *written) {
    size_t done;
    return columns_build(out, cap, SIZE_MAX, meta, in, first, n, &done, value_pos, key_pos,
                         written);
}

int sc_columns_build_fit(void *out, size_t cap, size_t max_bytes, const sc_batch_meta *meta,
                         const sc_columns_in *in, size_t first, size_t *n_out,
                         size_t *value_pos, size_t *key_pos, size_t *written) {
    if (!n_out || !in || first >= in->count || max_bytes == SIZE_MAX) return SC_EINVAL;
    size_t avail = in->count - first;
    if (avail > (size_t)INT32_MAX) avail = (size_t)INT32_MAX;
    return columns_build(out, cap, max_bytes, meta, in, first, avail, n_out, value_pos, key_pos,
                         written);
}
