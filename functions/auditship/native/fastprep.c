/* auditship._fastprep: the Logz.io hot path (split, validate, normalize, serialize) in C.

Contract (see auditship/fastpath.py, the only caller):

    prepare(data, pos, base, spec, kinds, offsets, payloads, sizes) -> (pos, status)

Starting at `data[pos]`, for each record that is *plainly* fine, appends one prepared
Logz.io line to the window columns (kinds += RECORD, offsets += base + record start,
payloads += line bytes, sizes += len(line)) and moves on. It stops, and returns the
position of the record it did not take, as soon as anything is not plainly fine, so that
the Python path (repair.RecordSplitter + normalize + sinks.logzio.prepare), which is the
reference implementation, decides what that stretch is:

    status DONE        only separators (whitespace , [ ]) remain after pos
    status INCOMPLETE  the buffer ends inside the record at pos (more bytes may complete it)
    status HANDOVER    anything else at pos: not a `{`, invalid JSON, an empty object,
                       duplicate keys anywhere in the record, an integer beyond 64
                       bits (Python keeps its digits), a Logging wrapper, a
                       numeric event time, a non-ASCII key in a redaction container, a
                       record longer than max_record_bytes, a line longer than max_line,
                       or something other than separators and `{` right after the record.

"Plainly fine" is chosen so that, for every record taken here, the Python path would
take the same bytes as one record at the same offset and produce the same JSON value
(tests/test_fastpath.py checks this differentially): the parse is yyjson's strict RFC 8259
parser (UTF-8 validated, lone surrogates and infinite numbers refused, as orjson does), and
the edits are exactly normalize.Normalizer + LogzioSink.prepare:
  - event time: `time` if it is a non-empty string, else `eventTime` if it is one; no
    `@timestamp` when neither is usable; a number in either hands over (epoch conversion
    is Python's);
  - redaction: for each (container path, lower-cased names) step, every key of that
    container whose ASCII-lower-cased name is listed and whose value is not null gets
    "[REDACTED]", or ["[REDACTED]"] for an array;
  - `eventType` = the original `type` (when not null and `eventType` is absent), then
    `type` = the configured type, `@timestamp` = the event time.
Numbers are written back as yyjson parsed them (integers exactly; reals as the shortest
text that reads back as the same double, as orjson does).

The parse and the edits run without the GIL, so windows can be prepared by threads.

yyjson.c and yyjson.h beside this file are yyjson 0.10.0 (MIT licence, in their headers),
unmodified, as the yyjson package on PyPI (4.0.6) ships them.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "yyjson.h"

#define RECORD_KIND 0x72 /* prepare.RECORD */

enum { DONE = 0, INCOMPLETE = 1, HANDOVER = 2 };

#define MAX_STEPS 16
#define MAX_DEPTH 8
#define MAX_NAMES 32
#define MAX_NAME 128

typedef struct {
    int depth;
    const char *path[MAX_DEPTH];
    size_t path_len[MAX_DEPTH];
    int n_names;
    char names[MAX_NAMES][MAX_NAME]; /* lower-cased ASCII */
    size_t name_len[MAX_NAMES];
} step_t;

typedef struct {
    int n_steps;
    step_t steps[MAX_STEPS];
    const char *type_value;
    size_t type_len;
    size_t max_line;
    size_t max_record;
} spec_t;

typedef struct {
    char *buf; /* lines back to back */
    size_t len, cap;
    size_t *start, *line_len, *offset; /* per record */
    size_t n, ncap;
} out_t;

static const char REDACTED[] = "[REDACTED]";

static inline int is_sep(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == '[' || c == ']';
}

static inline unsigned char ascii_lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int out_push(out_t *o, const char *line, size_t len, size_t offset) {
    if (o->len + len > o->cap) {
        size_t cap = o->cap ? o->cap : 1 << 20;
        while (cap < o->len + len) cap *= 2;
        char *b = realloc(o->buf, cap);
        if (!b) return -1;
        o->buf = b;
        o->cap = cap;
    }
    if (o->n == o->ncap) {
        size_t ncap = o->ncap ? o->ncap * 2 : 1024;
        size_t *s = realloc(o->start, ncap * sizeof(size_t));
        if (!s) return -1;
        o->start = s;
        s = realloc(o->line_len, ncap * sizeof(size_t));
        if (!s) return -1;
        o->line_len = s;
        s = realloc(o->offset, ncap * sizeof(size_t));
        if (!s) return -1;
        o->offset = s;
        o->ncap = ncap;
    }
    memcpy(o->buf + o->len, line, len);
    o->start[o->n] = o->len;
    o->line_len[o->n] = len;
    o->offset[o->n] = offset;
    o->len += len;
    o->n++;
    return 0;
}

/* State kept per thread between calls: fresh multi-MiB allocations come from mmap and
   cost a page fault per 4 KiB, and yyjson's per-record documents did the same through
   malloc; together that measured as a third of the time. So each thread keeps its line
   buffer, its parse region and a yyjson allocator that reuses its memory record after
   record. A thread's state is freed when the thread ends (pthread key destructor), and
   buffers that grew past KEEP_BYTES (huge windows) are given back after each call. */
#define KEEP_BYTES (16u << 20)
#define LARGE_RECORD (64u << 10)

typedef struct {
    out_t out;
    char *region;
    size_t region_cap;
    yyjson_alc *alc;
} state_t;

static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;
static int state_key_ok;

static void state_free(void *ptr) {
    state_t *st = ptr;
    if (!st) return;
    free(st->out.buf);
    free(st->out.start);
    free(st->out.line_len);
    free(st->out.offset);
    free(st->region);
    if (st->alc) yyjson_alc_dyn_free(st->alc);
    free(st);
}

static void state_key_init(void) { state_key_ok = pthread_key_create(&state_key, state_free) == 0; }

/* This thread's state (NULL when out of memory). */
static state_t *thread_state(void) {
    pthread_once(&state_once, state_key_init);
    if (!state_key_ok) return NULL;
    state_t *st = pthread_getspecific(state_key);
    if (st) return st;
    st = calloc(1, sizeof(*st));
    if (!st) return NULL;
    st->alc = yyjson_alc_dyn_new();
    if (!st->alc || pthread_setspecific(state_key, st) != 0) {
        state_free(st);
        return NULL;
    }
    return st;
}

static void out_release(out_t *o) {
    if (o->cap > KEEP_BYTES || o->ncap * sizeof(size_t) > KEEP_BYTES) {
        free(o->buf);
        free(o->start);
        free(o->line_len);
        free(o->offset);
        memset(o, 0, sizeof(*o));
    } else {
        o->len = 0;
        o->n = 0;
    }
}

typedef struct {
    const char *str;
    size_t len;
} key_t_;

static int key_cmp(const void *a, const void *b) {
    const key_t_ *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->str, y->str, x->len);
}

/* orjson writes at most 255 levels of nesting (and the Python path then refuses the
   record); yyjson's mutable copy recurses once per level. Deeper records are handed over. */
#define MAX_NESTING 254

/* One pass over the document, which yyjson stores flat in document order. Returns 0 when
   the record can be taken here, 1 when it must be handed over, -1 when out of memory:
   - duplicate keys in any object: orjson keeps the last of them; writing both back would
     differ from the Python path (and Elasticsearch refuses duplicate fields);
   - nesting deeper than MAX_NESTING.
   Sets *reals to the number of real numbers: yyjson writes `1e21` where orjson writes
   `1e+21`, so a line can be up to one byte per real shorter here than in Python. */
static int check_doc(yyjson_doc *doc, size_t *reals) {
    yyjson_val *val = yyjson_doc_get_root(doc);
    yyjson_val *end = val + yyjson_doc_get_val_count(doc);
    yyjson_val *open_ends[MAX_NESTING + 1]; /* where each open container's values end */
    int depth = 0;
    *reals = 0;
    for (; val < end; val++) {
        while (depth > 0 && val >= open_ends[depth - 1]) depth--;
        if (yyjson_is_real(val)) (*reals)++;
        if (!yyjson_is_ctn(val)) continue;
        if (depth == MAX_NESTING) return 1;
        open_ends[depth++] = unsafe_yyjson_get_next(val);
        if (!yyjson_is_obj(val)) continue;
        size_t n = unsafe_yyjson_get_len(val);
        if (n < 2) continue;
        if (n <= 16) { /* the usual case: pairwise, no allocation */
            yyjson_val *ki = unsafe_yyjson_get_first(val);
            for (size_t i = 0; i < n; i++) {
                size_t li = unsafe_yyjson_get_len(ki);
                const char *si = unsafe_yyjson_get_str(ki);
                yyjson_val *kj = unsafe_yyjson_get_next(ki + 1);
                for (size_t j = i + 1; j < n; j++) {
                    if (unsafe_yyjson_get_len(kj) == li &&
                        memcmp(unsafe_yyjson_get_str(kj), si, li) == 0)
                        return 1;
                    kj = unsafe_yyjson_get_next(kj + 1);
                }
                ki = unsafe_yyjson_get_next(ki + 1);
            }
            continue;
        }
        key_t_ *keys = malloc(n * sizeof(key_t_)); /* large objects: sort, then neighbours */
        if (!keys) return -1;
        yyjson_val *k = unsafe_yyjson_get_first(val);
        for (size_t i = 0; i < n; i++) {
            keys[i].str = unsafe_yyjson_get_str(k);
            keys[i].len = unsafe_yyjson_get_len(k);
            k = unsafe_yyjson_get_next(k + 1);
        }
        qsort(keys, n, sizeof(key_t_), key_cmp);
        int dup = 0;
        for (size_t i = 1; i < n && !dup; i++) dup = key_cmp(&keys[i - 1], &keys[i]) == 0;
        free(keys);
        if (dup) return 1;
    }
    return 0;
}

static inline int is_usable_time(yyjson_val *v) {
    return yyjson_is_str(v) && unsafe_yyjson_get_len(v) > 0;
}

/* The event time as normalize._time_value would pick it; sets *handover for numbers. */
static yyjson_val *event_time(yyjson_val *root, int *handover) {
    static const char *keys[2] = {"time", "eventTime"};
    static const size_t lens[2] = {4, 9};
    for (int i = 0; i < 2; i++) {
        yyjson_val *v = yyjson_obj_getn(root, keys[i], lens[i]);
        if (is_usable_time(v)) return v;
        if (yyjson_is_num(v)) {
            *handover = 1;
            return NULL;
        }
    }
    return NULL;
}

static int name_listed(const step_t *st, const char *key, size_t len, int *non_ascii) {
    for (size_t k = 0; k < len; k++) {
        if ((unsigned char)key[k] >= 0x80) {
            *non_ascii = 1;
            return 0;
        }
    }
    for (int i = 0; i < st->n_names; i++) {
        if (st->name_len[i] != len) continue;
        size_t k = 0;
        while (k < len && ascii_lower((unsigned char)key[k]) == (unsigned char)st->names[i][k])
            k++;
        if (k == len) return 1;
    }
    return 0;
}

/* Apply the redaction plan to the mutable copy. Returns -1 to hand over. */
static int redact(yyjson_mut_doc *mdoc, yyjson_mut_val *root, const spec_t *spec) {
    for (int s = 0; s < spec->n_steps; s++) {
        const step_t *st = &spec->steps[s];
        yyjson_mut_val *node = root;
        for (int d = 0; d < st->depth && node; d++) {
            node = yyjson_mut_obj_getn(node, st->path[d], st->path_len[d]);
            if (!yyjson_mut_is_obj(node)) node = NULL;
        }
        if (!node) continue;
        yyjson_mut_obj_iter it;
        yyjson_mut_obj_iter_init(node, &it);
        yyjson_mut_val *key;
        while ((key = yyjson_mut_obj_iter_next(&it))) {
            yyjson_mut_val *val = yyjson_mut_obj_iter_get_val(key);
            int non_ascii = 0;
            int listed =
                name_listed(st, yyjson_mut_get_str(key), yyjson_mut_get_len(key), &non_ascii);
            if (non_ascii) return -1; /* Unicode lower-casing is Python's call */
            if (!listed || yyjson_mut_is_null(val)) continue;
            if (yyjson_mut_is_arr(val)) {
                yyjson_mut_set_arr(val);
                if (!yyjson_mut_arr_add_strn(mdoc, val, REDACTED, sizeof(REDACTED) - 1))
                    return -1;
            } else {
                yyjson_mut_set_strn(val, REDACTED, sizeof(REDACTED) - 1);
            }
        }
    }
    return 0;
}

/* Prepare the record in doc; on success sets line and len (the line is malloc-ed). */
/* True when the document holds a number read as raw text: an integer beyond 64 bits (or
   a real beyond a double, which orjson refuses). Python writes big integers with their
   exact digits; the values of a document sit side by side, so this is one short pass. */
static int has_raw_number(yyjson_doc *doc) {
    yyjson_val *val = yyjson_doc_get_root(doc);
    size_t count = yyjson_doc_get_val_count(doc);
    for (size_t i = 0; i < count; i++) {
        if (unsafe_yyjson_get_type(&val[i]) == YYJSON_TYPE_RAW) return 1;
    }
    return 0;
}

static int prepare_one(yyjson_doc *doc, const spec_t *spec, const yyjson_alc *alc, char **line,
                       size_t *len, size_t *reals) {
    yyjson_val *root = yyjson_doc_get_root(doc);
    if (!yyjson_is_obj(root) || unsafe_yyjson_get_len(root) == 0) return -1;
    if (check_doc(doc, reals) != 0) return -1;
    /* A Logging search-result wrapper is unwrapped by the Python path. */
    if (yyjson_is_obj(yyjson_obj_get(root, "logContent")) && yyjson_obj_get(root, "datetime"))
        return -1;
    int handover = 0;
    yyjson_val *when = event_time(root, &handover);
    if (handover) return -1;

    yyjson_mut_doc *mdoc = yyjson_doc_mut_copy(doc, alc);
    if (!mdoc) return -1;
    int rc = -1;
    yyjson_mut_val *mroot = yyjson_mut_doc_get_root(mdoc);
    if (redact(mdoc, mroot, spec) < 0) goto done;

    yyjson_mut_val *type = yyjson_mut_obj_get(mroot, "type");
    if (type && !yyjson_mut_is_null(type) && !yyjson_mut_obj_get(mroot, "eventType")) {
        yyjson_mut_val *copy = yyjson_mut_val_mut_copy(mdoc, type);
        if (!copy || !yyjson_mut_obj_add(mroot, yyjson_mut_str(mdoc, "eventType"), copy))
            goto done;
    }
    if (type) {
        yyjson_mut_set_strn(type, spec->type_value, spec->type_len);
    } else if (!yyjson_mut_obj_add(mroot, yyjson_mut_str(mdoc, "type"),
                                   yyjson_mut_strn(mdoc, spec->type_value, spec->type_len))) {
        goto done;
    }
    if (when) {
        /* The string lives in the parse region (read in place), which outlives the write. */
        const char *ts = unsafe_yyjson_get_str(when);
        size_t ts_len = unsafe_yyjson_get_len(when);
        yyjson_mut_val *stamp = yyjson_mut_obj_get(mroot, "@timestamp");
        if (stamp) {
            yyjson_mut_set_strn(stamp, ts, ts_len);
        } else if (!yyjson_mut_obj_add(mroot, yyjson_mut_str(mdoc, "@timestamp"),
                                       yyjson_mut_strn(mdoc, ts, ts_len))) {
            goto done;
        }
    }
    yyjson_write_err werr;
    *line = yyjson_mut_write_opts(mdoc, YYJSON_WRITE_NOFLAG, alc, len, &werr);
    rc = *line ? 0 : -1;
done:
    yyjson_mut_doc_free(mdoc);
    return rc;
}

/* The loop over records, without the GIL. Returns the status; *pos is where it stopped.

   yyjson copies its whole input unless it parses in place (INSITU), and in place needs a
   writable, zero-padded buffer: records are parsed from `region`, a copy of a stretch of
   `data` that is refilled from the record start when a record runs past its end (and
   doubled, up to max_record, when one record does not fit). In-place parsing rewrites the
   bytes of the records it reads; `data` itself is never written. */
static int run(const char *data, size_t n, size_t *pos, size_t base, const spec_t *spec,
               state_t *st, int *oom) {
    out_t *out = &st->out;
    const yyjson_alc *alc = st->alc;
    size_t p = *pos, largest = 0;
    size_t cap = st->region_cap ? st->region_cap : 256 * 1024, r0 = 0, rlen = 0;
    char *region = st->region;
    int loaded = 0;
    int status;
    for (;;) {
        while (p < n && is_sep((unsigned char)data[p])) p++;
        if (p >= n) {
            status = DONE;
            break;
        }
        if (data[p] != '{') {
            status = HANDOVER;
            break;
        }
        if (!loaded || p < r0 || p >= r0 + rlen) {
            if (!region && !(region = malloc(cap + YYJSON_PADDING_SIZE))) goto nomem;
            loaded = 1;
            r0 = p;
            rlen = n - p < cap ? n - p : cap;
            memcpy(region, data + p, rlen);
            memset(region + rlen, 0, YYJSON_PADDING_SIZE);
        }
        yyjson_read_err err;
        yyjson_doc *doc =
            yyjson_read_opts(region + (p - r0), rlen - (p - r0),
                             YYJSON_READ_INSITU | YYJSON_READ_STOP_WHEN_DONE |
                                 YYJSON_READ_BIGNUM_AS_RAW,
                             alc, &err);
        if (!doc) {
            if (err.pos > largest) largest = err.pos; /* what it allocated for, roughly */
            if (err.code == YYJSON_READ_ERROR_MEMORY_ALLOCATION) goto nomem;
            if (err.code != YYJSON_READ_ERROR_UNEXPECTED_END) {
                status = HANDOVER;
                break;
            }
            if (r0 + rlen >= n) {
                status = INCOMPLETE; /* the data itself ends inside this record */
                break;
            }
            /* The region ends inside this record: refill from its start, larger if the
               record alone filled the region. */
            if (p == r0) {
                if (cap > spec->max_record) {
                    status = HANDOVER; /* longer than max_record: Python's call */
                    break;
                }
                char *grown = realloc(region, 2 * cap + YYJSON_PADDING_SIZE);
                if (!grown) goto nomem;
                region = grown;
                cap *= 2;
            }
            rlen = 0; /* forces a refill at p */
            continue;
        }
        size_t used = yyjson_doc_get_read_size(doc);
        if (used > largest) largest = used;
        /* What follows must be separators and then `{` or the end of the buffer. */
        size_t q = p + used;
        while (q < n && is_sep((unsigned char)data[q])) q++;
        char *line = NULL;
        size_t len = 0, reals = 0;
        int ok = used <= spec->max_record && (q >= n || data[q] == '{') &&
                 !has_raw_number(doc) && prepare_one(doc, spec, alc, &line, &len, &reals) == 0;
        yyjson_doc_free(doc);
        if (ok && len + reals > spec->max_line) { /* maybe too long as Python writes it */
            alc->free(alc->ctx, line);
            ok = 0;
        }
        if (!ok) {
            status = HANDOVER;
            break;
        }
        int pushed = out_push(out, line, len, base + p);
        alc->free(alc->ctx, line);
        if (pushed < 0) goto nomem;
        p += used;
    }
    *pos = p;
    goto keep;
nomem:
    *oom = 1;
    status = HANDOVER;
keep:
    /* yyjson's allocator keeps what its largest document needed (~20 bytes per input byte
       for small values): start afresh after a large record. */
    if (largest > LARGE_RECORD) {
        yyjson_alc *fresh = yyjson_alc_dyn_new();
        if (fresh) {
            yyjson_alc_dyn_free(st->alc);
            st->alc = fresh;
        }
    }
    if (cap > KEEP_BYTES) {
        free(region);
        region = NULL;
        cap = 0;
    }
    st->region = region;
    st->region_cap = cap;
    *pos = p;
    return status;
}

static int parse_spec(PyObject *spec_obj, spec_t *spec) {
    /* spec = (steps, type_value, max_line, max_record); steps = ((path, names), ...).
       Strings stay owned by spec_obj, which the caller keeps alive for the call. */
    PyObject *steps, *type_value;
    Py_ssize_t max_line, max_record;
    if (!PyArg_ParseTuple(spec_obj, "O!Unn", &PyTuple_Type, &steps, &type_value, &max_line,
                          &max_record))
        return -1;
    Py_ssize_t n_steps = PyTuple_GET_SIZE(steps);
    if (n_steps > MAX_STEPS) {
        PyErr_SetString(PyExc_ValueError, "too many redaction containers for the fast path");
        return -1;
    }
    memset(spec, 0, sizeof(*spec));
    spec->n_steps = (int)n_steps;
    for (Py_ssize_t s = 0; s < n_steps; s++) {
        PyObject *path, *names;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(steps, s), "O!O!", &PyTuple_Type, &path,
                              &PyTuple_Type, &names))
            return -1;
        step_t *st = &spec->steps[s];
        if (PyTuple_GET_SIZE(path) > MAX_DEPTH || PyTuple_GET_SIZE(names) > MAX_NAMES) {
            PyErr_SetString(PyExc_ValueError, "redaction plan too large for the fast path");
            return -1;
        }
        st->depth = (int)PyTuple_GET_SIZE(path);
        for (int d = 0; d < st->depth; d++) {
            Py_ssize_t len;
            const char *s8 = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(path, d), &len);
            if (!s8) return -1;
            st->path[d] = s8;
            st->path_len[d] = (size_t)len;
        }
        st->n_names = (int)PyTuple_GET_SIZE(names);
        for (int i = 0; i < st->n_names; i++) {
            Py_ssize_t len;
            const char *s8 = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(names, i), &len);
            if (!s8) return -1;
            if (len >= MAX_NAME) {
                PyErr_SetString(PyExc_ValueError, "redaction name too long for the fast path");
                return -1;
            }
            for (Py_ssize_t k = 0; k < len; k++) {
                if ((unsigned char)s8[k] >= 0x80 || ascii_lower((unsigned char)s8[k]) != (unsigned char)s8[k]) {
                    PyErr_SetString(PyExc_ValueError,
                                    "redaction names must be lower-case ASCII for the fast path");
                    return -1;
                }
            }
            memcpy(st->names[i], s8, (size_t)len);
            st->name_len[i] = (size_t)len;
        }
    }
    Py_ssize_t tlen;
    spec->type_value = PyUnicode_AsUTF8AndSize(type_value, &tlen);
    if (!spec->type_value) return -1;
    spec->type_len = (size_t)tlen;
    spec->max_line = max_line < 0 ? 0 : (size_t)max_line;
    spec->max_record = max_record < 0 ? 0 : (size_t)max_record;
    return 0;
}

static PyObject *fp_prepare(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer data;
    Py_ssize_t pos, base;
    PyObject *spec_obj, *kinds, *offsets, *payloads, *sizes;
    if (!PyArg_ParseTuple(args, "y*nnO!O!O!O!O!", &data, &pos, &base, &PyTuple_Type, &spec_obj,
                          &PyByteArray_Type, &kinds, &PyList_Type, &offsets, &PyList_Type,
                          &payloads, &PyList_Type, &sizes))
        return NULL;
    spec_t spec;
    PyObject *result = NULL;
    state_t *st = thread_state();
    if (!st) {
        PyErr_NoMemory();
        PyBuffer_Release(&data);
        return NULL;
    }
    out_t *out = &st->out;
    if (pos < 0 || pos > data.len || base < 0) {
        PyErr_SetString(PyExc_ValueError, "position out of range");
        goto fail;
    }
    if (parse_spec(spec_obj, &spec) < 0) goto fail;
    size_t p = (size_t)pos;
    int status, oom = 0;
    Py_BEGIN_ALLOW_THREADS
    status = run((const char *)data.buf, (size_t)data.len, &p, (size_t)base, &spec, st, &oom);
    Py_END_ALLOW_THREADS
    if (oom) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_ssize_t old = PyByteArray_GET_SIZE(kinds);
    if (PyByteArray_Resize(kinds, old + (Py_ssize_t)out->n) < 0) goto fail;
    memset(PyByteArray_AS_STRING(kinds) + old, RECORD_KIND, out->n);
    for (size_t i = 0; i < out->n; i++) {
        PyObject *line =
            PyBytes_FromStringAndSize(out->buf + out->start[i], (Py_ssize_t)out->line_len[i]);
        PyObject *off = PyLong_FromSize_t(out->offset[i]);
        PyObject *size = PyLong_FromSize_t(out->line_len[i]);
        int bad = !line || !off || !size || PyList_Append(payloads, line) < 0 ||
                  PyList_Append(offsets, off) < 0 || PyList_Append(sizes, size) < 0;
        Py_XDECREF(line);
        Py_XDECREF(off);
        Py_XDECREF(size);
        if (bad) goto fail;
    }
    result = Py_BuildValue("(ni)", (Py_ssize_t)p, status);
fail:
    out_release(out);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"prepare", fp_prepare, METH_VARARGS,
     "prepare(data, pos, base, spec, kinds, offsets, payloads, sizes) -> (pos, status)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastprep", "Logz.io hot path in C (see fastpath.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__fastprep(void) {
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddIntConstant(m, "DONE", DONE) < 0 ||
        PyModule_AddIntConstant(m, "INCOMPLETE", INCOMPLETE) < 0 ||
        PyModule_AddIntConstant(m, "HANDOVER", HANDOVER) < 0 ||
        PyModule_AddStringConstant(m, "YYJSON_VERSION", YYJSON_VERSION_STRING) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
