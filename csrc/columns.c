/*
 * columns.c — the columnar reader, sc_columns_fill: walk a buffer of whole
 * uncompressed RecordBatch v2 batches (as read from the log) and fill parallel
 * arrays of offsets, timestamps and key/value positions and lengths.
 *
 * The bytes come from the log, where they were validated on append, so CRCs are
 * not recomputed here; every length is still bounds-checked (header bounds via
 * sc_batch_size, record framing via sc_record_iter_next), so a damaged buffer
 * yields SC_ECORRUPT and never a read outside [buf, buf + len).
 *
 * Semantics:
 *  - offset = baseOffset + offsetDelta; timestamp = baseTimestamp +
 *    timestampDelta, or the batch's maxTimestamp for every record when the
 *    LogAppendTime attribute (0x08) is set.
 *  - Records with offset < min_offset are skipped; a batch whose last offset
 *    (baseOffset + lastOffsetDelta) is below min_offset is skipped without
 *    looking at its records, even if it is compressed.
 *  - A compressed batch that holds wanted records stops the walk with
 *    SC_ECOMPRESSED and *consumed = its position.
 *  - *consumed = bytes of the whole batches fully processed.  When max_records
 *    is reached with wanted records left in the current batch, *consumed is that
 *    batch's position, so a caller resuming there with min_offset = last filled
 *    offset + 1 picks up exactly where this call stopped.
 *  - A null key or value has length -1 and start 0.
 *  - On error, *n_out and *consumed still describe what was filled.
 */
#include "sc_internal.h"

int sc_columns_fill(const void *buf, size_t len, int64_t min_offset, size_t max_records,
                    const sc_columns_out *out, size_t *n_out, size_t *consumed, sc_error *err) {
    const uint8_t *b = (const uint8_t *)buf;
    size_t pos = 0, n = 0;
    int rc = 0;

    while (pos < len && n < max_records) {
        sc_batch_header h;
        size_t size;
        rc = sc_batch_size(b + pos, len - pos, &size, &h, err);
        if (SC_UNLIKELY(rc != 0)) {
            if (err) err->position += pos;
            break;
        }
        int64_t base = h.base_offset;
        int64_t last = (int64_t)((uint64_t)base + (uint64_t)(uint32_t)h.last_offset_delta);
        if (last < min_offset) {
            pos += size;
            continue;
        }
        if (h.attributes & SC_ATTR_COMPRESSION_MASK) {
            rc = sc_fail(err, SC_ECOMPRESSED, "compressed batch", pos + SC_BATCH_ATTRIBUTES_OFFSET);
            break;
        }
        int log_append = (h.attributes & SC_ATTR_LOG_APPEND_TIME) != 0;
        sc_record_iter it;
        sc_record r;
        sc_record_iter_init(&it, b + pos + SC_BATCH_HEADER_SIZE, size - SC_BATCH_HEADER_SIZE,
                            h.record_count);
        int mid_batch = 0;
        for (;;) {
            const uint8_t *rec_at = it.pos;
            int s = sc_record_iter_next(&it, &r, err);
            if (s == 0) break;
            if (SC_UNLIKELY(s < 0)) {
                if (err) err->position += (uint64_t)(rec_at - b);
                rc = s;
                break;
            }
            int64_t off = (int64_t)((uint64_t)base + (uint64_t)(int64_t)r.offset_delta);
            if (off < min_offset) continue;
            if (n == max_records) {
                mid_batch = 1;
                break;
            }
            out->offsets[n] = off;
            out->timestamps[n] =
                log_append ? h.max_timestamp
                           : (int64_t)((uint64_t)h.base_timestamp + (uint64_t)r.timestamp_delta);
            out->key_lengths[n] = r.key_len;
            out->key_starts[n] = r.key ? (int64_t)(r.key - b) : 0;
            out->value_lengths[n] = r.value_len;
            out->value_starts[n] = r.value ? (int64_t)(r.value - b) : 0;
            n++;
        }
        if (rc != 0 || mid_batch) break;
        pos += size;
    }
    *n_out = n;
    *consumed = pos;
    return rc;
}
