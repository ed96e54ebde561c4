# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled header codecs: the same contract as `_headers_py.py` (see its docstring).

`Headers` keeps no index: a lookup walks the raw list in C, compares each name's length
and then its bytes (ASCII case folded through a table) with the latin-1 data of the str
it was given, and decodes only the value it returns. `parse_cookie` walks the header
once by index; `encode_header` checks and copies each character once.

Keep in sync with _headers_py.py.
"""

from collections.abc import Mapping
from operator import index

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_CheckExact, PyDict_Contains, PyDict_SetItem
from cpython.list cimport PyList_CheckExact
from cpython.ref cimport PyObject
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeLatin1, PyUnicode_Substring

cdef extern from "Python.h":
    # PERF: pointer forms, so the scan takes no references on names and values.
    bint _is_bytes "PyBytes_Check"(PyObject* o)
    char* _bytes_data "PyBytes_AS_STRING"(PyObject* o)
    Py_ssize_t _bytes_size "PyBytes_GET_SIZE"(PyObject* o)
    PyObject* _pair_item "PyTuple_GET_ITEM"(object pair, Py_ssize_t i)
    Py_ssize_t PySequence_Fast_GET_SIZE(object o)
    PyObject* PySequence_Fast_GET_ITEM(object o, Py_ssize_t i)
    bint PyUnicode_Check(object o)
    int PyUnicode_KIND(object o)
    int PyUnicode_1BYTE_KIND
    void* PyUnicode_DATA(object o)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t i)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    Py_ssize_t PyUnicode_FindChar(object, Py_UCS4, Py_ssize_t, Py_ssize_t, int) except -2

cdef enum:
    SHOWN = 50  # at most this many characters of a name in an error message

cdef unsigned char _LOWER[256]  # ASCII lowering, as bytes.lower
cdef unsigned char _TCHAR[256]  # RFC 9110 tchar
cdef unsigned char _BAD[256]    # refused in values: controls except HTAB

cdef int _c
for _c in range(256):
    _LOWER[_c] = _c + 32 if 65 <= _c <= 90 else _c
    _TCHAR[_c] = 0
    _BAD[_c] = (_c < 32 and _c != 9) or _c == 127
for _c in b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _TCHAR[_c] = 1


# Reading the raw list.

cdef int _not_bytes(PyObject* o) except -1:
    raise TypeError(f"raw header names and values must be bytes, not {type(<object>o).__name__}")


cdef inline object _sequence(object raw):
    """`raw` as a list or tuple to index; anything else is copied, as iteration reads it."""
    # NOTE: not PySequence_Fast: `list()` raises what `for ... in raw` raises in the twin.
    if PyList_CheckExact(raw) or PyTuple_CheckExact(raw):
        return raw
    return list(raw)


cdef object _bad_pair(object item):
    kind = type(item).__name__
    if isinstance(item, (tuple, list)):
        return ValueError(f"a header must be a (name, value) pair, not a {kind} of {len(item)}")
    return TypeError(f"a header must be a (name, value) pair, not {kind}")


cdef tuple _unpack(object item):
    # NOTE: Cython's unpacking words its errors unlike the interpreter's, and both twins
    # replace them with the same message anyway.
    try:
        name, value = item
    except (TypeError, ValueError):
        raise _bad_pair(item) from None
    return (name, value)


cdef inline tuple _pair(object item):
    if PyTuple_CheckExact(item) and PyTuple_GET_SIZE(item) == 2:
        return <tuple>item
    return _unpack(item)


cdef inline bint _key(object name, const unsigned char** key, Py_ssize_t* size) except -1:
    """Point `key` at the latin-1 data of `name`; False if `name` is not latin-1."""
    if not PyUnicode_Check(name):
        raise TypeError(f"header name must be str, not {type(name).__name__}")
    if PyUnicode_KIND(name) != PyUnicode_1BYTE_KIND:
        return False
    key[0] = <const unsigned char*>PyUnicode_DATA(name)
    size[0] = PyUnicode_GET_LENGTH(name)
    return True


cdef inline bint _name_is(tuple pair, const unsigned char* key, Py_ssize_t size) except -1:
    cdef PyObject* name = _pair_item(pair, 0)
    cdef const unsigned char* data
    cdef Py_ssize_t i
    if not _is_bytes(name):
        _not_bytes(name)
    if _bytes_size(name) != size:
        return False
    data = <const unsigned char*>_bytes_data(name)
    for i in range(size):
        if _LOWER[data[i]] != _LOWER[key[i]]:
            return False
    return True


cdef inline str _value_text(tuple pair):
    cdef PyObject* value = _pair_item(pair, 1)
    if not _is_bytes(value):
        _not_bytes(value)
    return PyUnicode_DecodeLatin1(_bytes_data(value), _bytes_size(value), NULL)


cdef str _name_text(tuple pair):
    cdef PyObject* name = _pair_item(pair, 0)
    cdef const unsigned char* data
    cdef Py_ssize_t size, i
    cdef bytes lowered
    cdef char* out
    if not _is_bytes(name):
        _not_bytes(name)
    data = <const unsigned char*>_bytes_data(name)
    size = _bytes_size(name)
    for i in range(size):
        if _LOWER[data[i]] != data[i]:
            break
    else:  # PERF: already lower case, as most servers send them
        return PyUnicode_DecodeLatin1(<const char*>data, size, NULL)
    lowered = PyBytes_FromStringAndSize(NULL, size)
    out = PyBytes_AS_STRING(lowered)
    for i in range(size):
        out[i] = <char>_LOWER[data[i]]
    return PyUnicode_DecodeLatin1(out, size, NULL)


cdef bint _is_headers(object other):
    # NOTE: same test as the pure twin: a view of either implementation, or a subclass.
    for cls in type(other).__mro__:
        if cls.__name__ == "Headers" and cls.__module__ in ("bare._headers", "bare._headers_py"):
            return True
    return False


cdef class Headers:
    """Request headers: read-only, case-insensitive, multi-valued (see `_headers_py`)."""

    cdef readonly object raw

    def __init__(self, raw=()):
        self.raw = raw

    cdef object _first(self, object name):
        """The first value of `name`, or None."""
        cdef const unsigned char* key
        cdef Py_ssize_t size
        cdef Py_ssize_t i = 0
        cdef object seq
        cdef object item
        cdef tuple pair
        if not _key(name, &key, &size):
            return None
        seq = _sequence(self.raw)
        # NOTE: unpacking a pair that is not a tuple runs Python code, which may change
        # the list: hold the item, and read the length again each time.
        while i < PySequence_Fast_GET_SIZE(seq):
            item = <object>PySequence_Fast_GET_ITEM(seq, i)  # a reference of our own
            pair = _pair(item)
            if _name_is(pair, key, size):
                return _value_text(pair)
            i += 1
        return None

    def get(self, name, default=None):
        """The first value of `name`, or `default`."""
        value = self._first(name)
        return default if value is None else value

    def __getitem__(self, name):
        value = self._first(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name):
        return PyUnicode_Check(name) and self._first(name) is not None

    def getlist(self, name):
        """Every value of `name`, in the order they came."""
        cdef const unsigned char* key
        cdef Py_ssize_t size
        cdef Py_ssize_t i = 0
        cdef object seq
        cdef object item
        cdef tuple pair
        cdef list values = []
        if not _key(name, &key, &size):
            return values
        seq = _sequence(self.raw)
        while i < PySequence_Fast_GET_SIZE(seq):
            item = <object>PySequence_Fast_GET_ITEM(seq, i)  # a reference of our own
            pair = _pair(item)
            if _name_is(pair, key, size):
                values.append(_value_text(pair))
            i += 1
        return values

    def items(self):
        """Every (name, value) pair, repeated names included, names lowered."""
        cdef Py_ssize_t i = 0
        cdef object seq = _sequence(self.raw)
        cdef object item
        cdef tuple pair
        cdef list items = []
        while i < PySequence_Fast_GET_SIZE(seq):
            item = <object>PySequence_Fast_GET_ITEM(seq, i)  # a reference of our own
            pair = _pair(item)
            items.append((_name_text(pair), _value_text(pair)))
            i += 1
        return items

    cdef dict _firsts(self):
        cdef dict firsts = {}
        for name, value in self.items():
            if not PyDict_Contains(firsts, name):
                PyDict_SetItem(firsts, name, value)
        return firsts

    def keys(self):
        """Each distinct name once, lowered, in order of first appearance."""
        return list(self._firsts())

    def values(self):
        """The first value of each distinct name, in the order of `keys()`."""
        return list(self._firsts().values())

    def __iter__(self):
        return iter(self._firsts())

    def __len__(self):
        return len(self._firsts())

    def __eq__(self, other):
        if not _is_headers(other):
            return NotImplemented
        return self.items() == other.items()

    __hash__ = None
    __reversed__ = None  # NOTE: as on Mapping, so reversed() refuses it in both twins

    def __repr__(self):
        return f"Headers({self.items()!r})"


Mapping.register(Headers)


cdef inline bint _blank(Py_UCS4 ch):
    return ch == u' ' or ch == u'\t'


def parse_cookie(header, max_count=200):
    """The cookies of a `Cookie` header: `{name: value}`, first value wins."""
    cdef Py_ssize_t length, cap, start, end, eq, a, b
    cdef Py_ssize_t kept = 0
    cdef int kind
    cdef void* data
    cdef dict cookies = {}
    cdef str name
    if not PyUnicode_Check(header):
        raise TypeError(f"cookie header must be str, not {type(header).__name__}")
    limit = index(max_count)
    if limit <= 0:
        return cookies
    length = PyUnicode_GET_LENGTH(header)
    # PERF: a header of n characters holds at most n + 1 pieces; the cap then fits in C.
    cap = length + 1 if limit > length else limit
    kind = PyUnicode_KIND(header)
    data = PyUnicode_DATA(header)
    start = 0
    while start <= length:
        end = PyUnicode_FindChar(header, u';', start, length, 1)
        if end == -1:
            end = length
        eq = PyUnicode_FindChar(header, u'=', start, end, 1)
        if eq != -1:
            a = start
            b = eq
            while a < b and _blank(PyUnicode_READ(kind, data, a)):
                a += 1
            while b > a and _blank(PyUnicode_READ(kind, data, b - 1)):
                b -= 1
            if b > a:
                name = PyUnicode_Substring(header, a, b)
                if not PyDict_Contains(cookies, name):
                    a = eq + 1
                    b = end
                    while a < b and _blank(PyUnicode_READ(kind, data, a)):
                        a += 1
                    while b > a and _blank(PyUnicode_READ(kind, data, b - 1)):
                        b -= 1
                    if (b - a > 1 and PyUnicode_READ(kind, data, a) == u'"'
                            and PyUnicode_READ(kind, data, b - 1) == u'"'):
                        a += 1
                        b -= 1
                    PyDict_SetItem(cookies, name, PyUnicode_Substring(header, a, b))
                    kept += 1
                    if kept >= cap:
                        break
        start = end + 1
    return cookies


# Response headers.

cdef tuple _encode(object name, object value):
    cdef Py_ssize_t size, i
    cdef int kind
    cdef void* data
    cdef const unsigned char* chars
    cdef Py_UCS4 ch
    cdef bytes lowered
    cdef bytes encoded
    cdef char* out
    if not PyUnicode_Check(name) or not PyUnicode_Check(value):
        raise _type_error(name, value)
    size = PyUnicode_GET_LENGTH(name)
    if size == 0 or PyUnicode_KIND(name) != PyUnicode_1BYTE_KIND:
        raise _name_error(name)
    chars = <const unsigned char*>PyUnicode_DATA(name)
    lowered = PyBytes_FromStringAndSize(NULL, size)
    out = PyBytes_AS_STRING(lowered)
    for i in range(size):
        if not _TCHAR[chars[i]]:
            raise _name_error(name)
        out[i] = <char>_LOWER[chars[i]]
    kind = PyUnicode_KIND(value)
    data = PyUnicode_DATA(value)
    size = PyUnicode_GET_LENGTH(value)
    # The order of the twin: whitespace at the start, any bad character, whitespace at the end.
    if size and _blank(PyUnicode_READ(kind, data, 0)):
        raise _value_error(name, value, 0)
    if kind == PyUnicode_1BYTE_KIND:
        chars = <const unsigned char*>data
        for i in range(size):
            if _BAD[chars[i]]:
                raise _value_error(name, value, i)
    else:
        # A wider str holds at least one character beyond latin-1: find the first offender.
        for i in range(size):
            ch = PyUnicode_READ(kind, data, i)
            if ch > 255 or _BAD[ch]:
                raise _value_error(name, value, i)
    if size and _blank(PyUnicode_READ(kind, data, size - 1)):
        raise _value_error(name, value, size - 1)
    if kind == PyUnicode_1BYTE_KIND:
        encoded = PyBytes_FromStringAndSize(<const char*>data, size)
    else:
        encoded = value.encode("latin-1")
    return (lowered, encoded)


def encode_header(name, value):
    """Check one response header and encode it for ASGI: `(lowered name, value)` as bytes."""
    return _encode(name, value)


def encode_headers(headers):
    """`encode_header` over each pair; a mapping gives its items (never its keys)."""
    cdef list encoded = []
    cdef tuple pair
    # Dicts, lists and tuples skip the (slow) abstract Mapping check.
    if PyDict_CheckExact(headers):
        headers = (<dict>headers).items()
    elif not PyList_CheckExact(headers) and not PyTuple_CheckExact(headers):
        if isinstance(headers, Mapping):
            headers = headers.items()
    for item in headers:
        pair = _pair(item)
        encoded.append(_encode(<object>_pair_item(pair, 0), <object>_pair_item(pair, 1)))
    return encoded


# NOTE: the error messages below are the same, word for word, in _headers_py.py. `name`
# and `value` stay untyped: a `str` parameter would refuse str subclasses.

cdef str _shown(object name):
    if len(name) <= SHOWN:
        return repr(name)
    return repr(name[:SHOWN]) + "..."


cdef object _type_error(object name, object value):
    if not PyUnicode_Check(name):
        return TypeError(f"header name must be str, not {type(name).__name__}")
    return TypeError(f"header value for {_shown(name)} must be str, not {type(value).__name__}")


cdef object _name_error(object name):
    cdef Py_ssize_t at
    cdef Py_UCS4 ch
    if not name:
        return ValueError("invalid header name '': it must be a non-empty token")
    for at in range(len(name)):
        ch = ord(name[at])
        if ch > 255 or not _TCHAR[ch]:
            break
    return ValueError(
        f"invalid header name {_shown(name)}: U+{<long>ch:04X} at index {at} "
        "is not a token character (RFC 9110)"
    )


cdef object _value_error(object name, object value, Py_ssize_t at):
    cdef Py_UCS4 ch = ord(value[at])
    if ch > 255:
        problem = "contains a character that is not latin-1"
    elif _blank(ch):  # refused at either end only
        problem = "starts with whitespace" if at == 0 else "ends with whitespace"
    else:
        problem = "contains CR, LF or another control character"
    return ValueError(
        f"invalid header value for {_shown(name)}: {problem} (U+{<long>ch:04X} at index {at})"
    )


# Request framing. NOTE: the same messages as _headers_py.

cdef int _unread_name(object name) except -1:
    """Let a name that is not bytes pass, as the twin does, unless its length is one
    of the names looked for (or it has none)."""
    try:
        size = len(name)
    except (TypeError, ValueError):
        raise TypeError(
            f"raw header names and values must be bytes, not {type(name).__name__}"
        ) from None
    if size == 4 or size == 14 or size == 17:
        raise TypeError(f"raw header names and values must be bytes, not {type(name).__name__}")
    return 0


def framing_problem(raw):
    """Why the framing of a request with headers `raw` is ambiguous, or None."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t size
    cdef int content_length = 0
    cdef int transfer_encoding = 0
    cdef int host = 0
    cdef object seq = _sequence(raw)
    cdef object item
    cdef tuple pair
    cdef PyObject* name
    while i < PySequence_Fast_GET_SIZE(seq):
        item = <object>PySequence_Fast_GET_ITEM(seq, i)  # a reference of our own
        pair = _pair(item)
        name = _pair_item(pair, 0)
        if not _is_bytes(name):
            _unread_name(<object>name)
            i += 1
            continue
        size = _bytes_size(name)
        if size == 14 and _name_is(pair, <const unsigned char*>b"content-length", 14):
            content_length += 1
        elif size == 4 and _name_is(pair, <const unsigned char*>b"host", 4):
            host += 1
        elif size == 17 and _name_is(pair, <const unsigned char*>b"transfer-encoding", 17):
            transfer_encoding += 1
        i += 1
    if content_length and transfer_encoding:
        return "Request has both Content-Length and Transfer-Encoding"
    if content_length > 1:
        return "Request has more than one Content-Length header"
    if host > 1:
        return "Request has more than one Host header"
    return None
