/* The CSV ledger reader's plain lines, split and converted in one pass (the native half of CsvPlan.parse in
 * por/core/ledger_fast.py, whose numpy code is the reference the tests compare it with).
 *
 *   scan(chunk, n, width, acc_col, bkt_col, buckets, assets, slots)
 *     -> (ids, id_lengths, bucket_index, values, rows)
 *
 * chunk:   n plain lines, each ending in "\n" (CR LF already made LF), as CsvPlan.run matched them: `width`
 *          comma-separated fields, the account id at acc_col, one of `buckets` (a tuple of bytes) at bkt_col,
 *          and at each (column, slot, decimals) of `assets` an amount digits[.digits] with at most `decimals`
 *          fraction digits. Lines that are not so are a caller's error: the scan checks the field counts and
 *          buckets (ValueError), never reads outside the chunk, and trusts nothing else it needs.
 * returns: the account ids concatenated, their lengths (native uint32), each row's bucket index (native int64),
 *          the amounts in minor units as an (n, slots) native uint64 matrix (absent slots 0), and `rows`: how
 *          many rows come before the first with an amount of 2^64 minor units or more (n when none).
 * The GIL is released while scanning.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_FIELDS 4096

typedef struct {
    Py_ssize_t col, slot, decimals;
} Asset;

static const uint64_t POW10[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
                                   100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
                                   10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
                                   10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
                                   10000000000000000000ULL};

/* digits[.digits] at s..e in minor units of `decimals`; 0 on success, 1 when it is 2^64 or more. */
static int amount(const unsigned char *s, const unsigned char *e, Py_ssize_t decimals, uint64_t *out) {
    uint64_t v = 0;
    Py_ssize_t frac = -1;
    for (const unsigned char *p = s; p < e; p++) {
        if (*p == '.') {
            frac = 0;
            continue;
        }
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v)) return 1;
        if (frac >= 0) frac++;
    }
    Py_ssize_t shift = decimals - (frac < 0 ? 0 : frac);
    if (shift < 0 || shift > 19) return 1;  /* more decimals than declared: the pattern never lets it through */
    if (__builtin_mul_overflow(v, POW10[shift], &v)) return 1;
    *out = v;
    return 0;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer chunk;
    Py_ssize_t n, width, acc_col, bkt_col, slots;
    PyObject *buckets, *assets;
    if (!PyArg_ParseTuple(args, "y*nnnnO!O!n", &chunk, &n, &width, &acc_col, &bkt_col, &PyTuple_Type, &buckets,
                          &PyTuple_Type, &assets, &slots))
        return NULL;
    PyObject *result = NULL, *ids = NULL, *lens = NULL, *bidx = NULL, *vals = NULL;
    Asset *as = NULL;
    Py_ssize_t n_assets = PyTuple_GET_SIZE(assets), n_buckets = PyTuple_GET_SIZE(buckets);
    const char **bnames = NULL;
    Py_ssize_t *blens = NULL;
    if (n < 0 || width < 2 || width > MAX_FIELDS || acc_col < 0 || acc_col >= width || bkt_col < 0 ||
        bkt_col >= width || slots < 0 || n_assets > width) {
        PyErr_SetString(PyExc_ValueError, "scan: bad layout");
        goto done;
    }
    as = PyMem_Calloc(n_assets ? n_assets : 1, sizeof(Asset));
    bnames = PyMem_Calloc(n_buckets ? n_buckets : 1, sizeof(char *));
    blens = PyMem_Calloc(n_buckets ? n_buckets : 1, sizeof(Py_ssize_t));
    if (!as || !bnames || !blens) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_assets; i++) {
        PyObject *t = PyTuple_GET_ITEM(assets, i);
        if (!PyArg_ParseTuple(t, "nnn", &as[i].col, &as[i].slot, &as[i].decimals)) goto done;
        if (as[i].col < 0 || as[i].col >= width || as[i].slot < 0 || as[i].slot >= slots || as[i].decimals < 0 ||
            as[i].decimals > 19) {
            PyErr_SetString(PyExc_ValueError, "scan: bad asset column");
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < n_buckets; i++) {
        PyObject *b = PyTuple_GET_ITEM(buckets, i);
        if (!PyBytes_Check(b)) {
            PyErr_SetString(PyExc_TypeError, "scan: bucket ids are bytes");
            goto done;
        }
        bnames[i] = PyBytes_AS_STRING(b);
        blens[i] = PyBytes_GET_SIZE(b);
    }
    ids = PyBytes_FromStringAndSize(NULL, chunk.len);
    lens = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(uint32_t));
    bidx = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    vals = PyBytes_FromStringAndSize(NULL, n * slots * (Py_ssize_t)sizeof(uint64_t));
    if (!ids || !lens || !bidx || !vals) goto done;

    const unsigned char *p = chunk.buf, *end = p + chunk.len;
    unsigned char *idp = (unsigned char *)PyBytes_AS_STRING(ids);
    uint32_t *lp = (uint32_t *)PyBytes_AS_STRING(lens);
    int64_t *bp = (int64_t *)PyBytes_AS_STRING(bidx);
    uint64_t *vp = (uint64_t *)PyBytes_AS_STRING(vals);
    memset(vp, 0, n * slots * sizeof(uint64_t));
    Py_ssize_t rows = n, id_total = 0;
    const char *bad = NULL;
    const unsigned char *fs[MAX_FIELDS], *fe[MAX_FIELDS];
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n && !bad; r++) {
        Py_ssize_t f = 0;
        fs[0] = p;
        while (p < end && *p != '\n') {
            if (*p == ',') {
                if (f + 1 >= width) {
                    bad = "scan: a line has more fields than the header";
                    break;
                }
                fe[f] = p;
                fs[++f] = p + 1;
            }
            p++;
        }
        if (bad) break;
        if (p >= end || f + 1 != width) {
            bad = "scan: a line has fewer fields than the header, or no line end";
            break;
        }
        fe[f] = p;
        p++;  /* past the LF */
        Py_ssize_t len = fe[acc_col] - fs[acc_col];
        memcpy(idp + id_total, fs[acc_col], len);
        id_total += len;
        lp[r] = (uint32_t)len;
        Py_ssize_t blen = fe[bkt_col] - fs[bkt_col], b = 0;
        while (b < n_buckets && !(blens[b] == blen && memcmp(bnames[b], fs[bkt_col], blen) == 0)) b++;
        if (b == n_buckets) {
            bad = "scan: unknown bucket";
            break;
        }
        bp[r] = b;
        for (Py_ssize_t a = 0; a < n_assets; a++) {
            uint64_t v;
            if (amount(fs[as[a].col], fe[as[a].col], as[a].decimals, &v)) {
                if (rows == n) rows = r;
                v = 0;
            }
            vp[r * slots + as[a].slot] = v;
        }
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad);
        goto done;
    }
    if (_PyBytes_Resize(&ids, id_total) < 0) goto done;
    result = Py_BuildValue("(OOOOn)", ids, lens, bidx, vals, rows);
done:
    Py_XDECREF(ids);
    Py_XDECREF(lens);
    Py_XDECREF(bidx);
    Py_XDECREF(vals);
    PyMem_Free(as);
    PyMem_Free(bnames);
    PyMem_Free(blens);
    PyBuffer_Release(&chunk);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(chunk, n, width, acc_col, bkt_col, buckets, assets, slots) -> (ids, id_lengths, bucket_index, values, rows)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ledgerscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__ledgerscan(void) { return PyModule_Create(&module); }
