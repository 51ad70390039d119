"""coincurve's cffi handles to libsecp256k1, shared by :class:`por.crypto.group_point.Point` and the
coincurve backend (:mod:`por.crypto.group_coincurve`): the context, the ``secp256k1_ec_pubkey_*``
functions, and :func:`_cc_serialize` of a ``secp256k1_pubkey`` struct.
"""

from __future__ import annotations

try:
    from coincurve._libsecp256k1 import ffi as _ffi
    from coincurve._libsecp256k1 import lib as _lib
    from coincurve.context import GLOBAL_CONTEXT as _GLOBAL_CONTEXT

    _CTX = _GLOBAL_CONTEXT.ctx
    _HAVE_COINCURVE = True
except ImportError:  # pragma: no cover - coincurve is a hard dependency
    _HAVE_COINCURVE = False

if _HAVE_COINCURVE:
    _PK_SIZE = _ffi.sizeof("secp256k1_pubkey")
    _new_pk = _ffi.new
    _tweak_mul = _lib.secp256k1_ec_pubkey_tweak_mul
    _combine = _lib.secp256k1_ec_pubkey_combine
    _negate = _lib.secp256k1_ec_pubkey_negate
    _serialize = _lib.secp256k1_ec_pubkey_serialize
    _parse = _lib.secp256k1_ec_pubkey_parse
    _create = _lib.secp256k1_ec_pubkey_create
    _tweak_add = _lib.secp256k1_ec_pubkey_tweak_add
    _COMPRESSED = _lib.SECP256K1_EC_COMPRESSED
    _UNCOMPRESSED = _lib.SECP256K1_EC_UNCOMPRESSED


def _cc_serialize(cc: object, compressed: bool) -> bytes:
    n = 33 if compressed else 65
    out = _ffi.new("unsigned char[]", n)
    ln = _ffi.new("size_t *", n)
    _serialize(_CTX, out, ln, cc, _COMPRESSED if compressed else _UNCOMPRESSED)
    return bytes(_ffi.buffer(out, n))
