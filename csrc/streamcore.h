/*
 * streamcore.h — the public C interface of the streamcore storage engine.
 *
 * streamcore stores ordered, replayable logs of Kafka RecordBatch v2 batches in
 * segment files, exactly as Kafka lays them out on disk:
 *
 *   <dir>/00000000000000000000.log        batches, byte for byte as on the wire
 *   <dir>/00000000000000000000.index      sparse offset index (offset -> position)
 *   <dir>/00000000000000000000.timeindex  sparse time index (timestamp -> offset)
 *
 * The core is pure C99 + POSIX (C11 atomics), with no Python in it, so any
 * program can embed it: link libstreamcore.a and include this header.
 *
 * Errors.  Every fallible function returns an int: 0 on success, a positive
 * errno value for an operating-system failure (ENOSPC, EIO, ...), or one of the
 * negative SC_E* codes below.  sc_strerror() names either kind.  Functions that
 * judge bytes (batch validation) also fill an optional sc_error with a static
 * description of what is wrong and where.  Nothing in the core prints, aborts or
 * trusts a length read from disk or wire without a bounds check.
 *
 * Threads.  An sc_log serialises its appenders internally (one append at a time;
 * with SC_FLUSH_ALWAYS concurrent appenders share one fdatasync: group commit).
 * Any number of readers may run alongside the appender.  sc_log_close() waits for
 * calls in progress on other threads to return, then refuses new ones with
 * SC_ECLOSED; sc_log_free() must only be called once no thread uses the handle.
 *
 * Lifetimes.  A read returns an sc_log_slice that holds a reference on its
 * segment (its file descriptor stays open even if retention deletes the file),
 * and a mapping obtained from a slice holds a reference on the segment's memory
 * map.  Release each with its release function; the memory stays valid until
 * then, whatever happens to the log (roll, retention, close).  Truncating a
 * segment whose mapping is referenced fails with SC_EBUSY rather than pulling
 * pages out from under a reader.
 */
#ifndef STREAMCORE_H
#define STREAMCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SC_VERSION "0.1.0"

/* ------------------------------------------------------------------ errors */

enum {
    SC_OK = 0,
    SC_ECORRUPT = -1,     /* malformed batch or record framing */
    SC_ECRC = -2,         /* batch CRC-32C does not match its contents */
    SC_ETOOLARGE = -3,    /* batch larger than the log's max_batch_bytes */
    SC_ERANGE = -4,       /* offset outside [start_offset, end_offset] */
    SC_ECLOSED = -5,      /* the log has been closed */
    SC_EINVAL = -6,       /* invalid argument or configuration */
    SC_EBUSY = -7,        /* zero-copy views pin the range being truncated */
    SC_EMAGIC = -8,       /* batch magic is not 2 (only RecordBatch v2 is stored) */
    SC_ECOMPRESSED = -9,  /* records of a compressed batch need decompressing first */
    SC_ENOTFOUND = -10,   /* nothing matches (e.g. no timestamp that late, no such log) */
    SC_EEXIST = -11,      /* a log of that name exists already */
    SC_EREADONLY = -12,   /* the log was opened read-only */
    SC_EDELETED = -13,    /* the log was deleted (through its log set) */
    SC_ETIMEDOUT = -14    /* a wait ended before its condition held */
};

/* A static description of a return code (negative SC_E*, positive errno). */
const char *sc_strerror(int rc);

/* Where and why bytes were judged bad.  `what` is a static string. */
typedef struct sc_error {
    const char *what;
    uint64_t position; /* byte position in the buffer (or segment) examined */
} sc_error;

typedef struct sc_bytes {
    const uint8_t *ptr;
    size_t len;
} sc_bytes;

/* ------------------------------------------------------------------ CRC-32C */

/* CRC-32C (Castagnoli) of buf, continuing from crc (0 to start).
 * sc_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t sc_crc32c(uint32_t crc, const void *buf, size_t len);

/* Implementations: "vpclmul" (x86-64 AVX-512 + VPCLMULQDQ folding), "sse42"
 * (crc32 instruction, 3-way interleave), "pclmul" (PCLMULQDQ folding), "armv8"
 * (ARMv8 CRC), "sw" (portable slicing-by-8).  "auto" picks the first of these,
 * in this order, that the CPU supports (measured: sse42 beats 128-bit folding).
 * Returns 0, or SC_EINVAL if the name is unknown or the CPU lacks it.  The
 * environment variable STREAMCORE_CRC32C_IMPL, read on first use, has the same
 * effect.  Not thread-safe against concurrent sc_crc32c calls: select before
 * use (tests and benchmarks). */
int sc_crc32c_select(const char *name);
/* The name of the implementation sc_crc32c uses now. */
const char *sc_crc32c_impl(void);
/* 1 if this CPU (and this build) can run the named implementation. */
int sc_crc32c_available(const char *name);

/* ------------------------------------------------- RecordBatch v2 (batch.c) */

/* Layout of the 61-byte batch header; all integers big-endian.  The CRC covers
 * bytes SC_BATCH_ATTRIBUTES_OFFSET .. end of batch, so baseOffset and
 * partitionLeaderEpoch can be rewritten without recomputing it. */
#define SC_BATCH_BASE_OFFSET_OFFSET 0            /* int64 */
#define SC_BATCH_LENGTH_OFFSET 8                 /* int32: bytes after this field */
#define SC_BATCH_LEADER_EPOCH_OFFSET 12          /* int32 */
#define SC_BATCH_MAGIC_OFFSET 16                 /* int8, = 2 */
#define SC_BATCH_CRC_OFFSET 17                   /* uint32 */
#define SC_BATCH_ATTRIBUTES_OFFSET 21            /* int16 */
#define SC_BATCH_LAST_OFFSET_DELTA_OFFSET 23     /* int32 */
#define SC_BATCH_BASE_TIMESTAMP_OFFSET 27        /* int64 */
#define SC_BATCH_MAX_TIMESTAMP_OFFSET 35         /* int64 */
#define SC_BATCH_PRODUCER_ID_OFFSET 43           /* int64 */
#define SC_BATCH_PRODUCER_EPOCH_OFFSET 51        /* int16 */
#define SC_BATCH_BASE_SEQUENCE_OFFSET 53         /* int32 */
#define SC_BATCH_RECORD_COUNT_OFFSET 57          /* int32 */
#define SC_BATCH_HEADER_SIZE 61
#define SC_BATCH_LOG_OVERHEAD 12                 /* baseOffset + batchLength */
#define SC_BATCH_MAGIC 2

#define SC_ATTR_COMPRESSION_MASK 0x07 /* 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd */
#define SC_ATTR_LOG_APPEND_TIME 0x08
#define SC_ATTR_TRANSACTIONAL 0x10
#define SC_ATTR_CONTROL 0x20
#define SC_ATTR_DELETE_HORIZON 0x40

typedef struct sc_batch_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} sc_batch_header;

/* Decode the header at buf.  Checks only what the header alone can show:
 * len >= 61, magic == 2, 49 <= batchLength and 12 + batchLength <= len,
 * lastOffsetDelta >= 0, recordCount >= 0.  No CRC check. */
int sc_batch_header_parse(const void *buf, size_t len, sc_batch_header *out, sc_error *err);

/* Total size in bytes (12 + batchLength) of the batch at buf, after the same
 * bounds checks as sc_batch_header_parse (which fills *hdr when not NULL). */
int sc_batch_size(const void *buf, size_t len, size_t *size, sc_batch_header *hdr, sc_error *err);

/* Validate the one batch at the start of buf (len may extend past it): header
 * bounds, magic, CRC-32C over attributes..end, and for uncompressed batches the
 * framing of every record (lengths within the batch, varints well formed,
 * offsetDelta == index, exactly recordCount records, lastOffsetDelta ==
 * recordCount - 1, no trailing bytes).  Compressed batches are checked up to
 * their CRC and recordCount/lastOffsetDelta agreement.  Fills *size. */
int sc_batch_validate(const void *buf, size_t len, sc_batch_header *hdr, size_t *size,
                      sc_error *err);

/* Validate a batch as stored in a log (or served by a broker): the checks of
 * sc_batch_validate, except that compaction may have thinned it: fewer
 * records than lastOffsetDelta + 1 (even none), offset deltas increasing and
 * at most lastOffsetDelta, maxTimestamp at least every record's timestamp. */
int sc_batch_validate_stored(const void *buf, size_t len, sc_batch_header *hdr, size_t *size,
                             sc_error *err);

/* Check the records of a batch against its header hdr (as filled by
 * sc_batch_validate): `records` is the batch's record bytes, decompressed for
 * a compressed batch (for an uncompressed one, the bytes after the 61-byte
 * header).  The checks sc_batch_validate makes of an uncompressed batch's
 * records: framing of every record, offsetDelta == index, exactly recordCount
 * records (so lastOffsetDelta == recordCount - 1 holds too), no trailing bytes,
 * and maxTimestamp == the largest record timestamp unless the batch uses
 * LogAppendTime.  Positions in *err are relative to `records`; a maxTimestamp
 * that does not match is reported at position len. */
int sc_batch_validate_records(const void *records, size_t len, const sc_batch_header *hdr,
                              sc_error *err);

/* Decompression, supplied by the embedder (the core links no codec library).
 * decompress: the records of a batch compressed with `codec` (1 gzip,
 * 2 snappy, 3 lz4, 4 zstd) are the `len` bytes at src; on success point
 * *out at the decompressed bytes (at most max_len of them) and return 0;
 * *token is handed back to release() once the core is done with *out.
 * Return SC_ECOMPRESSED if the codec is not available, SC_ECORRUPT if the
 * bytes do not decompress, SC_ETOOLARGE if they decompress to more than
 * max_len bytes, or an errno (ENOMEM); set err->what (a static string) when
 * err is not NULL.  Called from the appending thread, with no lock of the
 * core held; may be called by several threads at once. */
typedef struct sc_decompressor {
    int (*decompress)(void *user, int codec, const uint8_t *src, size_t len, size_t max_len,
                      sc_bytes *out, void **token, sc_error *err);
    void (*release)(void *user, void *token); /* may be NULL */
    void *user;
} sc_decompressor;

/* Records of a compressed batch may decompress to at most this many times
 * the log's max_batch_bytes (and never past INT32_MAX bytes): a bound on what
 * one stored batch makes every reader hold in memory. */
#define SC_DECOMPRESSED_MAX_FACTOR 64

/* Check a compressed batch's records (the batch at buf, size bytes, header
 * hdr, already through sc_batch_validate): decompress them with dec (at most
 * max_len bytes) and sc_batch_validate_records the result.  SC_ECOMPRESSED
 * if dec is NULL or has no decompress function.  Positions in *err are
 * relative to buf (a fault inside the decompressed records is reported at the
 * start of the compressed block, byte 61). */
int sc_batch_validate_compressed(const void *buf, size_t size, const sc_batch_header *hdr,
                                 const sc_decompressor *dec, size_t max_len, sc_error *err);

/* Rewrite the baseOffset field in place (the CRC does not cover it). */
void sc_batch_set_base_offset(void *batch, int64_t base_offset);

/* One record, pointing into the batch (or decompressed records) it came from. */
typedef struct sc_record {
    int32_t offset_delta;
    int64_t timestamp_delta;
    int8_t attributes;
    int32_t key_len;   /* -1: null key (key == NULL) */
    int32_t value_len; /* -1: null value (value == NULL) */
    const uint8_t *key;
    const uint8_t *value;
    int32_t header_count;
    const uint8_t *headers; /* header_count headers; walk with sc_header_next */
    size_t headers_len;
} sc_record;

typedef struct sc_record_iter {
    const uint8_t *pos;
    const uint8_t *end;
    int32_t remaining;
    int32_t index;
} sc_record_iter;

/* Iterate `count` records encoded in [records, records + len): for an
 * uncompressed batch that is buf + 61 .. buf + 12 + batchLength. */
void sc_record_iter_init(sc_record_iter *it, const void *records, size_t len, int32_t count);
/* 1: *out holds the next record; 0: done (and no bytes left over); <0: error. */
int sc_record_iter_next(sc_record_iter *it, sc_record *out, sc_error *err);

/* Walk a record's headers: *pos starts at rec.headers, end is
 * rec.headers + rec.headers_len.  1: a header; 0: none left; <0: error.
 * A null header value has value->ptr == NULL and value->len == 0. */
int sc_header_next(const uint8_t **pos, const uint8_t *end, sc_bytes *key, sc_bytes *value,
                   sc_error *err);

/* ----------------------------------------------------- building (batch_build.c) */

typedef struct sc_header_in {
    const void *key;
    const void *value; /* NULL with value_len -1: null value */
    int32_t key_len;
    int32_t value_len;
} sc_header_in;

typedef struct sc_record_in {
    const void *key;   /* NULL with key_len -1: null key */
    const void *value; /* NULL with value_len -1: null value */
    int32_t key_len;
    int32_t value_len;
    int64_t timestamp;
    const sc_header_in *headers;
    int32_t header_count;
} sc_record_in;

/* Batch-level fields a builder sets; sc_batch_meta_init gives Kafka's
 * "no producer" defaults (producerId -1, epoch -1, sequence -1, leader epoch -1,
 * attributes 0, base offset 0). */
typedef struct sc_batch_meta {
    int64_t base_offset;
    int32_t partition_leader_epoch;
    int16_t attributes;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
} sc_batch_meta;

void sc_batch_meta_init(sc_batch_meta *meta);

/* Exact encoded size of a batch of these records, or 0 if it would exceed
 * INT32_MAX or a length is invalid. */
size_t sc_batch_encoded_size(const sc_record_in *recs, size_t n);

/* Encode n >= 1 records as one uncompressed batch into out (capacity cap),
 * CRC included; baseTimestamp is the first record's timestamp and maxTimestamp
 * the largest.  *written = bytes used.  SC_EINVAL if cap is too small. */
int sc_batch_build(void *out, size_t cap, const sc_batch_meta *meta, const sc_record_in *recs,
                   size_t n, size_t *written);

/* Columnar input: record i's value is value_lengths[i] bytes of values (consecutive,
 * -1 = null and takes no bytes); keys likewise, or keys == NULL for all-null keys;
 * timestamps == NULL means every record gets default_timestamp.  values_len and
 * keys_len are the sizes of the two buffers: the builder never reads past them,
 * whatever the lengths arrays say (they may be changed by another thread). */
typedef struct sc_columns_in {
    const uint8_t *values;
    const int32_t *value_lengths;
    const uint8_t *keys;
    const int32_t *key_lengths;
    const int64_t *timestamps;
    int64_t default_timestamp;
    size_t count;
    size_t values_len;
    size_t keys_len;
} sc_columns_in;

/* How many records, starting at record `first` (whose value starts at byte
 * value_pos of values and key at key_pos of keys), fit in one batch of at most
 * max_bytes; at least 1.  *n_out records, *size_out encoded bytes. */
int sc_columns_plan(const sc_columns_in *in, size_t first, size_t max_bytes, size_t *n_out,
                    size_t *size_out);
/* Encode records [first, first + n) as one batch into out (cap bytes).  *value_pos and
 * *key_pos are advanced past the bytes consumed.  SC_EINVAL if a length is invalid,
 * a record would read past values_len or keys_len, or the batch exceeds cap. */
int sc_columns_build(void *out, size_t cap, const sc_batch_meta *meta, const sc_columns_in *in,
                     size_t first, size_t n, size_t *value_pos, size_t *key_pos,
                     size_t *written);
/* Encode, from record `first`, as many records as sc_columns_plan would put in
 * one batch of at most max_bytes (at least one) into out (cap bytes), in one
 * pass; *n_out records were encoded.  SC_EINVAL as for sc_columns_build, and
 * when the first record alone exceeds cap. */
int sc_columns_build_fit(void *out, size_t cap, size_t max_bytes, const sc_batch_meta *meta,
                         const sc_columns_in *in, size_t first, size_t *n_out,
                         size_t *value_pos, size_t *key_pos, size_t *written);

/* Columnar output over a buffer of whole uncompressed batches: for each record
 * with offset >= min_offset, up to max_records, its offset, timestamp and the
 * position/length of its key and value within buf (length -1: null).  Stops
 * early with SC_ECOMPRESSED at a compressed batch (*consumed = its position),
 * so the caller can decompress it.  *n_out records were filled. */
typedef struct sc_columns_out {
    int64_t *offsets;
    int64_t *timestamps;
    int64_t *key_starts;
    int32_t *key_lengths;
    int64_t *value_starts;
    int32_t *value_lengths;
} sc_columns_out;

int sc_columns_fill(const void *buf, size_t len, int64_t min_offset, size_t max_records,
                    const sc_columns_out *out, size_t *n_out, size_t *consumed, sc_error *err);

/* ------------------------------------------------------------- the log */

typedef enum sc_flush_policy {
    SC_FLUSH_NEVER = 0,    /* page cache only: survives a process crash */
    SC_FLUSH_INTERVAL = 1, /* the background flusher fdatasyncs every flush_interval_ms */
    SC_FLUSH_ALWAYS = 2    /* append returns after fdatasync; concurrent appends share one */
} sc_flush_policy;

typedef struct sc_log_config {
    uint64_t segment_bytes;        /* roll before the active segment would exceed this (<= 2 GiB - 1) */
    int64_t segment_ms;            /* roll when the active segment's first batch is this old; -1: never */
    uint32_t index_interval_bytes; /* bytes of log between index entries */
    uint32_t max_index_bytes;      /* size cap of one index file; the segment rolls when full */
    uint32_t max_batch_bytes;      /* larger batches are refused with SC_ETOOLARGE */
    sc_flush_policy flush;
    uint32_t flush_interval_ms;
    int64_t retention_bytes; /* -1: unlimited */
    int64_t retention_ms;    /* -1: unlimited */
    /* Checks the records of compressed batches on append (see sc_decompressor).
     * Without a decompress function, compressed batches are refused with
     * SC_ECOMPRESSED unless the caller passes SC_APPEND_RECORDS_CHECKED. */
    sc_decompressor decompressor;
} sc_log_config;

/* Kafka's defaults: 1 GiB segments, 4096-byte index interval, 10 MiB index
 * cap, 1 MiB batches, flush never, unlimited retention. */
void sc_log_config_init(sc_log_config *cfg);
/* 1 if every field is in range (what sc_log_open and sc_log_configure accept). */
int sc_log_config_valid(const sc_log_config *cfg);

/* What opening a log found and did.
 *
 * The recovery rule (Kafka's, with one refinement):
 *  - after a clean shutdown nothing is cut: indexes are trusted after sanity
 *    checks and each segment's tail past its last index entry is walked
 *    (headers only) to find where it ends;
 *  - after an unclean one, only what may not have reached the disk is
 *    validated batch by batch (CRC included) and cut at the first bad batch:
 *    when the machine did not restart since the log was opened (a process
 *    crash; the page cache survived) that is the active segment past its last
 *    index entry; otherwise every segment from the persisted recovery point on;
 *  - damage found anywhere else is reported here (damaged, first_damage_*)
 *    and never removed: reads that reach it fail with SC_ECORRUPT;
 *  - files named like segments that contradict their neighbours (an offset
 *    range overlapping the previous segment, an empty file below the end, a
 *    first batch outside the name's range) are renamed to <name>.stray and
 *    counted in set_aside, never adopted and never deleted. */
typedef struct sc_recovery_report {
    int clean_shutdown;        /* the clean-shutdown marker was present */
    int same_boot;             /* unclean, but the machine did not restart (a process crash) */
    uint32_t segments;         /* segment files opened */
    uint32_t indexes_rebuilt;  /* index files missing or inconsistent, rebuilt from the log */
    uint64_t bytes_scanned;    /* log bytes validated during recovery */
    uint64_t bytes_truncated;  /* torn or corrupt tail cut from the log */
    int64_t truncated_at_offset; /* end offset after the cut, -1 if nothing was cut */
    const char *truncation_reason; /* static description, NULL if nothing was cut */
    uint32_t damaged;          /* segments with damage recovery reported but did not cut */
    int64_t first_damage_segment;  /* base offset of the first such segment, -1 if none */
    uint64_t first_damage_position;
    const char *damage_reason;     /* static description, NULL if none */
    uint32_t set_aside;        /* stray segment files renamed to .stray */
} sc_recovery_report;

typedef struct sc_log sc_log;
typedef struct sc_segment sc_segment;
typedef struct sc_map sc_map;
typedef struct sc_pin sc_pin;

#define SC_OPEN_READONLY 1u /* no lock, no recovery, never writes; follows a live writer */

/* Open (creating if needed) the log in directory dir.  Takes an exclusive
 * advisory lock on the directory: a second writable open, in any process,
 * fails with EWOULDBLOCK; a log that belongs to a log set (its .managed file)
 * fails with SC_EBUSY (open it through the set, or read-only).  With SC_OPEN_READONLY the log must exist, no lock
 * is taken and nothing is written: the handle sees batches a writer (in this
 * or another process) appends, as whole CRC-valid batches only.  report may
 * be NULL. */
int sc_log_open(const char *dir, const sc_log_config *cfg, sc_log **out, sc_recovery_report *report);
int sc_log_open_ex(const char *dir, const sc_log_config *cfg, unsigned flags, sc_log **out,
                   sc_recovery_report *report);
/* Flush, write the clean-shutdown marker, release the files; waiters wake
 * with SC_ECLOSED.  Waits for calls in progress on other threads.  Idempotent.
 * A log opened through a log set is closed by sc_logset_close. */
int sc_log_close(sc_log *log);
/* Close if needed and free the handle (not for logs of a log set). */
void sc_log_free(sc_log *log);
/* What opening the log found and did (also for logs opened by a log set). */
void sc_log_recovery(const sc_log *log, sc_recovery_report *out);

typedef struct sc_append_info {
    int64_t base_offset; /* offset assigned to the first record */
    int64_t last_offset; /* offset of the last record */
    uint32_t batches;
    uint64_t position;   /* where the first batch landed in its segment */
} sc_append_info;

#define SC_APPEND_TRUSTED 1u /* the bytes come from sc_batch_build: skip validation */
/* The caller has checked the records of every compressed batch in buf
 * (sc_batch_validate_records on the decompressed bytes): skip the decompressor. */
#define SC_APPEND_RECORDS_CHECKED 2u

/* With SC_FLUSH_ALWAYS, return once the bytes are written, without waiting for
 * their fdatasync: the background flusher syncs them (group commit across
 * appends) and sc_log_durable_offset / SC_WATCH_DURABLE say when. */
#define SC_APPEND_NOSYNC 4u

/* Append one or more whole batches from buf (len bytes exactly), assigning
 * consecutive offsets from the log end.  The caller's bytes are never modified:
 * the new baseOffset is written through an iovec.  Either every batch is
 * appended or none is.  With SC_FLUSH_ALWAYS (and no SC_APPEND_NOSYNC),
 * returns once the bytes are durable.  Every batch is validated
 * (sc_batch_validate) unless flags has SC_APPEND_TRUSTED, and the records of a
 * compressed one are decompressed with the config's decompressor and checked
 * (sc_batch_validate_compressed, at most SC_DECOMPRESSED_MAX_FACTOR x
 * max_batch_bytes) unless flags has SC_APPEND_RECORDS_CHECKED; with no
 * decompressor such a batch is refused with SC_ECOMPRESSED. */
int sc_log_append(sc_log *log, const void *buf, size_t len, unsigned flags, sc_append_info *info,
                  sc_error *err);

int64_t sc_log_start_offset(sc_log *log);
int64_t sc_log_end_offset(sc_log *log); /* the next offset to be assigned */
/* Every offset below this is on disk (fdatasync'ed). */
int64_t sc_log_durable_offset(sc_log *log);
uint64_t sc_log_size_bytes(sc_log *log);
uint32_t sc_log_segment_count(sc_log *log);
const char *sc_log_dir(const sc_log *log);
/* The options in force. */
void sc_log_get_config(sc_log *log, sc_log_config *out);
/* Change options of an open log (all fields; SC_EINVAL if invalid).  New
 * segment and index sizes apply from the next roll; retention and flush at once. */
int sc_log_configure(sc_log *log, const sc_log_config *cfg);

/* fdatasync every segment that has unsynced bytes.  A failed fdatasync is
 * sticky: every later append and flush returns that errno until the log is
 * closed and reopened (the kernel may have dropped the unsynced pages, so a
 * retry that "succeeds" would prove nothing). */
int sc_log_flush(sc_log *log);

/* Remove every batch holding an offset >= offset (whole batches: the new end is
 * the base offset of the first batch removed).  *new_end may be NULL.
 * SC_ERANGE if offset < start_offset; SC_EBUSY if a live mapping or slice
 * covers a segment that would have to shrink.  Fails whole or succeeds whole. */
int sc_log_truncate(sc_log *log, int64_t offset, int64_t *new_end);

/* Kafka's DeleteRecords: move the log start offset up to `offset` (persisted:
 * it holds after a restart or a crash) and remove the segments wholly below
 * it.  Reads below the start offset fail with SC_ERANGE.  SC_ERANGE if offset
 * > end_offset; an offset at or below the start changes nothing.  *new_start
 * may be NULL. */
int sc_log_delete_records(sc_log *log, int64_t offset, int64_t *new_start);

/* Seal the active segment and start a new one at end_offset, as an append
 * that no longer fits would (Kafka's roll).  Nothing happens when the active
 * segment is empty.  Lets a writer that is about to delete_records() up to
 * its end give back the whole of what lies below.  *base (the active
 * segment's base offset afterwards) may be NULL. */
int sc_log_roll_segment(sc_log *log, int64_t *base);

/* Delete whole old segments beyond retention_bytes / retention_ms (as of
 * now_ms).  The active segment is rolled first if it alone has expired.
 * *deleted may be NULL. */
int sc_log_apply_retention(sc_log *log, int64_t now_ms, uint32_t *deleted);

/* A range of whole batches in one segment file. */
typedef struct sc_log_slice {
    sc_segment *segment;         /* referenced; sc_log_slice_release drops it */
    sc_pin *pin;                 /* keeps truncation out of the range until released */
    int fd;                      /* the segment file, open read-only */
    uint64_t position;           /* byte position in the segment file */
    uint64_t length;             /* bytes; 0 when offset == end_offset */
    int64_t base_offset;         /* baseOffset of the first batch */
    int64_t next_offset;         /* last offset of the last batch + 1 */
    int64_t segment_base_offset;
    int exact;                   /* 1: each batch starts where the one before ends (no
                                  * compaction gaps): a reader can check that it does */
} sc_log_slice;

/* The whole batches from the one holding `offset`, within one segment: as many
 * as fit in max_bytes (a long range stops at the last indexed batch that fits,
 * up to index_interval_bytes short, so the lookup costs the same for any
 * max_bytes), but at least one (so a reader always progresses).  An
 * offset in a gap (between segments, or left by compaction) gets the next
 * batch stored (as a Kafka fetch does).  At offset == end_offset the slice is
 * empty.  SC_ERANGE outside [start, end]; SC_ECORRUPT when the batches there
 * do not frame or do not chain (each baseOffset at or after the previous
 * batch's next offset, inside the segment's range). */
int sc_log_read(sc_log *log, int64_t offset, size_t max_bytes, sc_log_slice *out);
void sc_log_slice_release(sc_log_slice *slice);

/* A pointer to the slice's bytes in the segment's read-only shared mapping,
 * valid until sc_map_release(*map). */
int sc_log_slice_map(const sc_log_slice *slice, sc_map **map, const uint8_t **ptr);
void sc_map_retain(sc_map *map);
void sc_map_release(sc_map *map);

/* sendfile(2) bytes [skip, length) of the slice to out_fd.  *sent = bytes
 * written by this call (may be short on a non-blocking socket; EAGAIN with
 * nothing sent is returned as EAGAIN). */
int sc_log_slice_sendfile(const sc_log_slice *slice, int out_fd, uint64_t skip, uint64_t *sent);

/* The first batch whose maxTimestamp >= ts, as a one-batch slice; its exact
 * record is found by iterating the batch.  SC_ENOTFOUND if no record is that
 * late. */
int sc_log_find_timestamp(sc_log *log, int64_t ts, sc_log_slice *out);

/* Segment listing for tools. */
typedef struct sc_segment_info {
    int64_t base_offset;
    int64_t next_offset;
    uint64_t size;
    int64_t max_timestamp; /* -1 when empty */
    uint32_t index_entries;
    uint32_t time_index_entries;
} sc_segment_info;

/* Fill up to cap entries, oldest first; *n = segments in the log. */
int sc_log_segments(sc_log *log, sc_segment_info *out, size_t cap, size_t *n);

/* ------------------------------------------------------------- compaction */

typedef struct sc_compact_options {
    int64_t now_ms;                /* the cleaner's clock; -1: now */
    int64_t delete_retention_ms;   /* tombstones live this long after first cleaned */
    int64_t min_compaction_lag_ms; /* segments with records this young are left alone */
    uint64_t buffer_bytes;         /* memory for the key map (24 bytes a key) */
} sc_compact_options;

/* Kafka's defaults: 1 day of tombstones, no lag, a 128 MiB key map. */
void sc_compact_options_init(sc_compact_options *opt);

typedef struct sc_compact_report {
    uint32_t passes;              /* key maps built (more than one when keys did not fit) */
    uint32_t segments_rewritten;
    uint32_t groups_skipped;      /* left alone: truncation or retention changed them meanwhile */
    uint64_t bytes_before, bytes_after;   /* of the segments rewritten */
    uint64_t records_removed;
    uint64_t tombstones_removed;
    int64_t first_dirty_offset;   /* the cleaner checkpoint afterwards */
} sc_compact_report;

/* Kafka's log cleaner over the sealed segments (never the active one): keep
 * the newest record of each key; keep a tombstone (null value) until
 * delete_retention_ms after its batch was first cleaned; offsets, order,
 * producer fields and control batches are kept; compressed batches are
 * copied as they are.  Runs alongside appends and reads; the swap of each
 * rewritten group of segments is crash-safe (.cleaned -> .swap -> .log).
 * The cleaner checkpoint (first dirty offset) is persisted. */
int sc_log_compact(sc_log *log, const sc_compact_options *opt, sc_compact_report *rep);

/* The cleaner checkpoint and the bytes of sealed segments below it (clean)
 * and from it (dirty): dirty / (clean + dirty) is Kafka's dirty ratio. */
int sc_log_cleaner_state(sc_log *log, int64_t *first_dirty, uint64_t *clean_bytes,
                         uint64_t *dirty_bytes);

/* ------------------------------------------------------------- waiting */

/* Block until end_offset > offset (returns 1), the log is truncated while
 * waiting (1: end_offset tells which), or timeout_ms passes (0); a negative
 * timeout waits forever.  SC_ECLOSED / SC_EDELETED when the log is closed or
 * deleted meanwhile.  No polling: appends signal waiters. */
int sc_log_wait(sc_log *log, int64_t offset, int64_t timeout_ms);
/* Block until durable_offset >= offset (1), asking the background flusher for
 * a sync if needed; 0 on timeout; errors as sc_log_wait, or a sync's errno. */
int sc_log_wait_durable(sc_log *log, int64_t offset, int64_t timeout_ms);

/* A notifier turns watches into readiness of one file descriptor, so an
 * event loop can wait on any number of logs with no thread per waiter. */
typedef struct sc_notifier sc_notifier;
int sc_notifier_new(sc_notifier **out);
int sc_notifier_fd(const sc_notifier *n);
/* Take up to cap fired tokens (oldest first) and reset the fd's readiness
 * once none are left; returns how many were taken. */
size_t sc_notifier_drain(sc_notifier *n, uint64_t *tokens, size_t cap);
/* Drop the caller's reference (watches keep it alive until they fire). */
void sc_notifier_release(sc_notifier *n);

#define SC_WATCH_DATA 0    /* end_offset > offset, or a truncation */
#define SC_WATCH_DURABLE 1 /* durable_offset >= offset (a sync is requested) */

/* Register a one-shot watch: when its condition holds, or the log is closed,
 * deleted or (for SC_WATCH_DATA) truncated, `token` is queued on n and n's fd
 * becomes readable.  Returns 1 (and registers nothing) if the condition holds
 * already, 0 once registered, or an error (SC_ECLOSED...). */
int sc_log_watch(sc_log *log, int kind, int64_t offset, sc_notifier *n, uint64_t token);
/* Cancel a registered watch; returns 1 if it was still pending. */
int sc_log_unwatch(sc_log *log, sc_notifier *n, uint64_t token);

/* ------------------------------------------------------------- log sets */

/* A log set owns one directory of logs (<root>/<name>/): one lock and one
 * clean-shutdown marker for all of them, logs opened lazily on first use,
 * open files and mappings kept within a budget (least recently used segments
 * of idle logs are closed and reopened on demand; a live view or slice keeps
 * what it holds), per-log options persisted beside each log, and deletion by
 * rename (to a hidden .deleted-<...> name, removed in the background), so a
 * crash never resurrects half a log.  Flushing and retention for every log are done by
 * the process's background threads, a fixed number however many logs. */
typedef struct sc_logset sc_logset;

typedef struct sc_logset_config {
    sc_log_config defaults;       /* options of logs that do not override them */
    uint32_t max_open_files;      /* segment files kept open; 0: derive from RLIMIT_NOFILE */
    uint64_t max_mapped_bytes;    /* bytes of segment and index files kept mapped */
    int64_t retention_check_ms;   /* how often retention runs over every log */
} sc_logset_config;

void sc_logset_config_init(sc_logset_config *cfg);

/* Which fields of an sc_log_config a log overrides (persisted with the log). */
enum {
    SC_CFG_SEGMENT_BYTES = 1u << 0,
    SC_CFG_SEGMENT_MS = 1u << 1,
    SC_CFG_INDEX_INTERVAL_BYTES = 1u << 2,
    SC_CFG_MAX_INDEX_BYTES = 1u << 3,
    SC_CFG_MAX_BATCH_BYTES = 1u << 4,
    SC_CFG_FLUSH = 1u << 5,
    SC_CFG_FLUSH_INTERVAL_MS = 1u << 6,
    SC_CFG_RETENTION_BYTES = 1u << 7,
    SC_CFG_RETENTION_MS = 1u << 8,
    SC_CFG_ALL = (1u << 9) - 1
};

/* Open (creating if needed) the log set at root; *clean_shutdown (may be
 * NULL) says whether the previous session closed it cleanly.  Leftover
 * <name>.deleted directories are removed in the background. */
int sc_logset_open(const char *root, const sc_logset_config *cfg, sc_logset **out,
                   int *clean_shutdown);
/* Close every open log, sync what is dirty (once, for the whole set), write
 * the one clean-shutdown marker, release the lock.  Idempotent. */
int sc_logset_close(sc_logset *set);
void sc_logset_free(sc_logset *set);

#define SC_LOGSET_OPEN 0      /* an existing log; SC_ENOTFOUND if absent */
#define SC_LOGSET_CREATE 1    /* open it, creating it if absent */
#define SC_LOGSET_EXCLUSIVE 2 /* create it; SC_EEXIST if present */

/* The named log, opened (and recovered) on first use; the handle belongs to
 * the set and stays valid until the set is freed.  `overrides` (fields named
 * by the mask) are persisted when the log is created; NULL or mask 0 for
 * none.  Names are 1-255 characters of [A-Za-z0-9._-], not starting with '.'. */
int sc_logset_get(sc_logset *set, const char *name, int mode, const sc_log_config *overrides,
                  unsigned mask, sc_log **out);
/* Replace the named log's persisted overrides and apply them at once. */
int sc_logset_configure(sc_logset *set, const char *name, const sc_log_config *overrides,
                        unsigned mask);
/* The named log's overrides (*mask) and effective options (*out). */
int sc_logset_get_config(sc_logset *set, const char *name, sc_log_config *out, unsigned *mask);
/* Delete the named log: renamed at once (its handle then fails with
 * SC_EDELETED and its waiters wake), its files removed in the background. */
int sc_logset_delete(sc_logset *set, const char *name);
/* Names of the logs, sorted; free the array with sc_logset_free_names. */
int sc_logset_names(sc_logset *set, char ***names, size_t *n);
void sc_logset_free_names(char **names, size_t n);
/* fdatasync every log of the set that has unsynced bytes. */
int sc_logset_flush(sc_logset *set);

typedef struct sc_logset_stats {
    size_t logs;              /* logs in the directory */
    size_t open_logs;         /* logs opened in this session */
    size_t resident_segments; /* segments whose files are open */
    size_t open_files;        /* descriptors held for segment files */
    uint64_t mapped_bytes;    /* file bytes of resident segments */
} sc_logset_stats;
void sc_logset_get_stats(sc_logset *set, sc_logset_stats *out);

/* Current wall-clock time in milliseconds since the epoch. */
int64_t sc_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif /* STREAMCORE_H */
