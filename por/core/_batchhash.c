/* SHA-256 and HMAC-SHA256 over many messages in one call (the native half of por/core/batchhash.py).
 *
 * This file knows no protocol layout: it streams, for each row i, the concatenation of its segments
 * into OpenSSL's SHA-256 and returns the 32-byte digests, row after row. The byte layouts (domain tags,
 * length prefixes, endianness) are built by por/core/encoding.py and the modes, in Python, and the
 * pure-Python twin in batchhash.py defines the same function; the tests compare the two.
 *
 *   hash_rows(n, segments, key=None) -> bytes (32 * n)
 *
 * segments: a sequence, each one of
 *   bytes-like B           -- the same bytes in every row;
 *   (buffer, width: int)   -- row i takes buffer[i*width : (i+1)*width];
 *   (buffer, offsets)      -- offsets: n+1 native uint64, row i takes buffer[off[i] : off[i+1]].
 * key: None for SHA-256, or a key of at most 64 bytes for HMAC-SHA256 (RFC 2104).
 *
 * The GIL is released while hashing. Every bound is checked before the first row is hashed.
 *
 * take(blob, offsets, index) -> bytes: the strings of a ragged column at the given positions, concatenated
 * (a gather; no hashing), for the same columns.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

enum { SEG_CONST, SEG_FIXED, SEG_RAGGED };

typedef struct {
    int kind;
    Py_buffer data;
    Py_buffer offs;
    Py_ssize_t width;
} Segment;

static void release(Segment *segs, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++) {
        PyBuffer_Release(&segs[i].data);
        if (segs[i].kind == SEG_RAGGED) PyBuffer_Release(&segs[i].offs);
    }
}

/* Parse one segment; on failure set an exception and return -1 (nothing left acquired). */
static int parse_segment(PyObject *obj, Py_ssize_t n, Segment *seg) {
    memset(seg, 0, sizeof(*seg));
    if (!PyTuple_Check(obj)) {
        if (PyObject_GetBuffer(obj, &seg->data, PyBUF_SIMPLE) < 0) return -1;
        seg->kind = SEG_CONST;
        return 0;
    }
    if (PyTuple_GET_SIZE(obj) != 2) {
        PyErr_SetString(PyExc_ValueError, "a segment tuple is (buffer, width) or (buffer, offsets)");
        return -1;
    }
    PyObject *buf = PyTuple_GET_ITEM(obj, 0), *second = PyTuple_GET_ITEM(obj, 1);
    if (PyObject_GetBuffer(buf, &seg->data, PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (PyLong_Check(second)) {
        Py_ssize_t w = PyLong_AsSsize_t(second);
        if (w < 0 || (w > 0 && n > seg->data.len / w)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "fixed segment shorter than n * width");
            PyBuffer_Release(&seg->data);
            return -1;
        }
        seg->kind = SEG_FIXED;
        seg->width = w;
        return 0;
    }
    if (PyObject_GetBuffer(second, &seg->offs, PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&seg->data);
        return -1;
    }
    seg->kind = SEG_RAGGED;
    const uint64_t *off = (const uint64_t *)seg->offs.buf;
    int bad = seg->offs.len != (Py_ssize_t)((n + 1) * sizeof(uint64_t));
    for (Py_ssize_t i = 0; !bad && i < n; i++)
        bad = off[i] > off[i + 1];
    if (!bad && n >= 0) bad = off[n] > (uint64_t)seg->data.len;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "ragged segment: offsets must be n+1 non-decreasing uint64 within the buffer");
        PyBuffer_Release(&seg->data);
        PyBuffer_Release(&seg->offs);
        return -1;
    }
    return 0;
}

static void feed(SHA256_CTX *ctx, const Segment *segs, Py_ssize_t count, Py_ssize_t row) {
    for (Py_ssize_t s = 0; s < count; s++) {
        const Segment *g = &segs[s];
        const unsigned char *base = (const unsigned char *)g->data.buf;
        switch (g->kind) {
        case SEG_CONST:
            SHA256_Update(ctx, base, (size_t)g->data.len);
            break;
        case SEG_FIXED:
            SHA256_Update(ctx, base + row * g->width, (size_t)g->width);
            break;
        default: {
            const uint64_t *off = (const uint64_t *)g->offs.buf;
            SHA256_Update(ctx, base + off[row], (size_t)(off[row + 1] - off[row]));
        }
        }
    }
}

static PyObject *hash_rows(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"n", "segments", "key", NULL};
    Py_ssize_t n;
    PyObject *segments, *key = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "nO|O", kwlist, &n, &segments, &key)) return NULL;
    if (n < 0 || n > PY_SSIZE_T_MAX / 32) {
        PyErr_SetString(PyExc_ValueError, "n must be >= 0 (and its digests fit in memory)");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(segments, "segments must be a sequence");
    if (seq == NULL) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    Segment *segs = PyMem_Calloc(count ? count : 1, sizeof(Segment));
    if (segs == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    Py_ssize_t ok = 0;
    for (; ok < count; ok++)
        if (parse_segment(PySequence_Fast_GET_ITEM(seq, ok), n, &segs[ok]) < 0) break;
    PyObject *out = NULL;
    if (ok < count) goto done;

    int keyed = key != Py_None;
    SHA256_CTX inner0, outer0;
    if (keyed) {
        Py_buffer kb;
        if (PyObject_GetBuffer(key, &kb, PyBUF_SIMPLE) < 0) goto done;
        if (kb.len > SHA256_CBLOCK) {
            PyBuffer_Release(&kb);
            PyErr_SetString(PyExc_ValueError, "HMAC key longer than the SHA-256 block");
            goto done;
        }
        unsigned char ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];
        memset(ipad, 0x36, sizeof ipad);
        memset(opad, 0x5c, sizeof opad);
        for (Py_ssize_t i = 0; i < kb.len; i++) {
            ipad[i] ^= ((const unsigned char *)kb.buf)[i];
            opad[i] ^= ((const unsigned char *)kb.buf)[i];
        }
        PyBuffer_Release(&kb);
        SHA256_Init(&inner0);
        SHA256_Update(&inner0, ipad, sizeof ipad);
        SHA256_Init(&outer0);
        SHA256_Update(&outer0, opad, sizeof opad);
    }
    out = PyBytes_FromStringAndSize(NULL, 32 * n);
    if (out == NULL) goto done;
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    SHA256_CTX ctx;
    unsigned char mid[SHA256_DIGEST_LENGTH];
    for (Py_ssize_t row = 0; row < n; row++) {
        if (keyed) {
            ctx = inner0;
            feed(&ctx, segs, count, row);
            SHA256_Final(mid, &ctx);
            ctx = outer0;
            SHA256_Update(&ctx, mid, sizeof mid);
        } else {
            SHA256_Init(&ctx);
            feed(&ctx, segs, count, row);
        }
        SHA256_Final(dst + 32 * row, &ctx);
    }
    Py_END_ALLOW_THREADS

done:
    release(segs, ok);
    PyMem_Free(segs);
    Py_DECREF(seq);
    return out;
}

/* take(blob, offsets, index) -> bytes: the strings blob[off[i]:off[i+1]] for i in index, concatenated
 * (offsets: n+1 non-decreasing native uint64 within blob; index: native int64, each in [0, n)). */
static PyObject *take(PyObject *self, PyObject *args) {
    Py_buffer blob, offs, idx;
    if (!PyArg_ParseTuple(args, "y*y*y*", &blob, &offs, &idx)) return NULL;
    PyObject *out = NULL;
    const uint64_t *off = (const uint64_t *)offs.buf;
    const int64_t *ix = (const int64_t *)idx.buf;
    Py_ssize_t n = offs.len / (Py_ssize_t)sizeof(uint64_t) - 1, m = idx.len / (Py_ssize_t)sizeof(int64_t);
    int bad = n < 0 || offs.len % sizeof(uint64_t) || idx.len % sizeof(int64_t);
    for (Py_ssize_t i = 0; !bad && i < n; i++) bad = off[i] > off[i + 1];
    if (!bad && n >= 0) bad = off[n] > (uint64_t)blob.len;
    uint64_t total = 0;
    for (Py_ssize_t j = 0; !bad && j < m; j++) {
        bad = ix[j] < 0 || ix[j] >= n;
        if (!bad) total += off[ix[j] + 1] - off[ix[j]];
    }
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "take: bad offsets or index");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (out == NULL) goto done;
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
    const unsigned char *src = (const unsigned char *)blob.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t j = 0; j < m; j++) {
        uint64_t a = off[ix[j]], len = off[ix[j] + 1] - a;
        memcpy(dst, src + a, len);
        dst += len;
    }
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&blob);
    PyBuffer_Release(&offs);
    PyBuffer_Release(&idx);
    return out;
}

static PyMethodDef methods[] = {
    {"take", take, METH_VARARGS, "take(blob, offsets, index) -> bytes: the indexed strings of a ragged column, concatenated."},
    {"hash_rows", (PyCFunction)(void (*)(void))hash_rows, METH_VARARGS | METH_KEYWORDS,
     "hash_rows(n, segments, key=None) -> bytes: SHA-256 (or HMAC-SHA256 under key) of each row's segments."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_batchhash", NULL, -1, methods};

PyMODINIT_FUNC PyInit__batchhash(void) { return PyModule_Create(&module); }
