# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled route matcher: the same contract and walk as `_router_py.py`.

The table is copied into typed C-level node objects once, at construction; `match`
then walks the path string by index (no `str.split`), checks `int` segments with a
C loop and builds the params dict only on success.

Keep in sync with _router_py.py.
"""

from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.ref cimport PyObject, Py_XDECREF, Py_XINCREF
from cpython.unicode cimport PyUnicode_Substring

from libc.string cimport memcmp

cdef extern from "Python.h":
    # PERF: pointer forms, so the scan of literal children takes no references.
    PyObject* _tuple_item "PyTuple_GET_ITEM"(object, Py_ssize_t)
    Py_ssize_t _length "PyUnicode_GET_LENGTH"(PyObject*)
    int _kind "PyUnicode_KIND"(PyObject*)
    char* _data "PyUnicode_DATA"(PyObject*)
    Py_ssize_t PyUnicode_FindChar(object, Py_UCS4, Py_ssize_t, Py_ssize_t, int) except -2
    Py_ssize_t PyUnicode_Tailmatch(object, object, Py_ssize_t, Py_ssize_t, int) except -1
    Py_ssize_t PyUnicode_Find(object, object, Py_ssize_t, Py_ssize_t, int) except -2

# NOTE: the result codes, as in _router_py.
cdef enum:
    C_FOUND = 0
    C_METHOD_NOT_ALLOWED = 1
    C_NOT_FOUND = 2
    C_UNDECIDED = 3  # the first-branch loop cannot tell: run the full walk

FOUND = C_FOUND
METHOD_NOT_ALLOWED = C_METHOD_NOT_ALLOWED
NOT_FOUND = C_NOT_FOUND

# NOTE: converter kinds, as in bare.converters.
cdef enum:
    KIND_STR = 0
    KIND_INT = 1
    MAX_INT_DIGITS = 18
    SMALL_NODE = 32  # up to this many literal children, scan instead of hashing

cdef object _NO_MATCH = object()

cdef enum:
    MAX_FAST_VALUES = 16  # more parameters than this: the full walk, with a list


cdef struct _Values:
    Py_ssize_t count
    PyObject* items[MAX_FAST_VALUES]  # owned references
cdef tuple _NOT_FOUND_RESULT = (C_NOT_FOUND, None, None)
cdef str _HEAD = "HEAD"
cdef str _GET = "GET"
cdef str _ANY = "*"


cdef class _Slot:
    cdef int kind
    cdef object convert

    def __cinit__(self, tuple plain):
        self.kind = plain[0]
        self.convert = plain[1]


cdef class _Leaf:
    cdef dict handlers
    cdef tuple allow

    def __cinit__(self, tuple plain):
        self.handlers = plain[0]
        self.allow = plain[1]


cdef class _Mixed:
    cdef tuple literals
    cdef list slots
    cdef _Node child


cdef class _Param:
    cdef _Slot slot
    cdef _Node child


cdef class _Node:
    cdef dict static
    cdef tuple static_keys
    cdef tuple static_nodes
    cdef Py_ssize_t nstatic
    cdef list mixed
    cdef list params
    cdef _Leaf rest
    cdef _Leaf leaf
    cdef bint forks  # anything but a literal child may match a segment here
    cdef _Param first  # the one parameter to follow when nothing else can, or None
    cdef bint many_params

    def __cinit__(self, dict plain):
        cdef _Mixed mixed
        cdef _Param param
        self.static = {key: _Node(value) for key, value in plain["static"].items()}
        self.static_keys = tuple(self.static)
        self.static_nodes = tuple(self.static.values())
        self.nstatic = len(self.static)
        self.mixed = []
        for literals, slots, child in plain["mixed"]:
            mixed = _Mixed.__new__(_Mixed)
            mixed.literals = literals
            mixed.slots = [_Slot(slot) for slot in slots]
            mixed.child = _Node(child)
            self.mixed.append(mixed)
        self.params = []
        for slot, child in plain["params"]:
            param = _Param.__new__(_Param)
            param.slot = _Slot(slot)
            param.child = _Node(child)
            self.params.append(param)
        self.rest = _Leaf(plain["rest"][1]) if plain["rest"] is not None else None
        self.leaf = _Leaf(plain["leaf"]) if plain["leaf"] is not None else None
        self.forks = bool(self.params or self.mixed or self.rest is not None)
        self.many_params = len(self.params) > 1
        if self.params and not self.mixed and self.rest is None:
            self.first = self.params[0]


cdef inline object _static_child(_Node node, str path, Py_ssize_t pos, Py_ssize_t end):
    """The literal child for path[pos:end], or None."""
    cdef Py_ssize_t i
    cdef Py_ssize_t size = end - pos
    cdef PyObject* key
    cdef PyObject* text = <PyObject*>path
    cdef int kind
    cdef PyObject* child
    if node.nstatic == 0:
        return None
    if node.nstatic <= SMALL_NODE:
        # PERF: compare in place; no substring to allocate and hash.
        kind = _kind(text)
        for i in range(node.nstatic):
            key = _tuple_item(node.static_keys, i)
            if _length(key) != size:
                continue
            if _kind(key) == kind:  # same storage: the bytes decide
                if memcmp(_data(text) + pos * kind, _data(key), size * kind) == 0:
                    return node.static_nodes[i]
            elif PyUnicode_Tailmatch(path, <object>key, pos, end, -1):
                return node.static_nodes[i]
        return None
    child = PyDict_GetItem(node.static, PyUnicode_Substring(path, pos, end))
    return <object>child if child != NULL else None


cdef inline object _pick(dict handlers, str method):
    cdef PyObject* handler = PyDict_GetItem(handlers, method)
    if handler == NULL and method == _HEAD:
        handler = PyDict_GetItem(handlers, _GET)
    if handler == NULL:
        handler = PyDict_GetItem(handlers, _ANY)
    if handler == NULL:
        return None
    return <object>handler


cdef object _convert(_Slot slot, str segment):
    """The converted value, or _NO_MATCH when the converter rejects the segment."""
    cdef Py_ssize_t length
    cdef long long number = 0
    cdef Py_UCS4 ch
    if slot.kind == KIND_STR:
        return segment
    if slot.kind == KIND_INT:
        length = len(segment)
        if length > MAX_INT_DIGITS:
            return _NO_MATCH
        for ch in segment:
            if ch < 48 or ch > 57:  # '0'..'9'
                return _NO_MATCH
            number = number * 10 + (<long long>ch - 48)
        return number
    try:
        return slot.convert(segment)
    except ValueError:
        return _NO_MATCH


cdef bint _split_mixed(_Mixed mixed, str segment, list values) except -1:
    # NOTE: same split as _router_py._split_mixed: interior text found from the right.
    cdef tuple literals = mixed.literals
    cdef str first = literals[0]
    cdef str last = literals[len(literals) - 1]
    cdef str literal
    cdef Py_ssize_t count = len(mixed.slots)
    cdef Py_ssize_t start = len(first)
    cdef Py_ssize_t high = len(segment) - len(last)
    cdef Py_ssize_t pos, k
    cdef list pieces
    cdef object value
    if high - start < count:
        return False
    if not PyUnicode_Tailmatch(segment, first, 0, start, -1):
        return False
    if not PyUnicode_Tailmatch(segment, last, high, len(segment), 1):
        return False
    pieces = [None] * count
    for k in range(count - 1, 0, -1):
        literal = literals[k]
        pos = PyUnicode_Find(segment, literal, start + 1, high - 1, -1)
        if pos == -1:
            return False
        pieces[k] = PyUnicode_Substring(segment, pos + len(literal), high)
        high = pos
    if high <= start:
        return False
    pieces[0] = PyUnicode_Substring(segment, start, high)
    for k in range(count):
        value = _convert(<_Slot>mixed.slots[k], <str>pieces[k])
        if value is _NO_MATCH:
            return False
        pieces[k] = value
    values.extend(pieces)
    return True


cdef object _walk(_Node node, str path, Py_ssize_t pos, Py_ssize_t length,
                  list values, str method, list partial):
    # `pos` is where the current segment starts; pos > length: no segment left.
    cdef object handler
    cdef Py_ssize_t end
    cdef str segment
    cdef object child
    cdef _Mixed mixed
    cdef _Param param
    cdef object value
    cdef Py_ssize_t count
    if pos > length:
        if node.leaf is not None:
            handler = _pick(node.leaf.handlers, method)
            if handler is not None:
                return handler
            partial.append(node.leaf.allow)
        return None
    end = PyUnicode_FindChar(path, u'/', pos, length, 1)
    if end == -1:
        end = length
    child = _static_child(node, path, pos, end)
    if child is not None:
        handler = _walk(<_Node>child, path, end + 1, length, values, method, partial)
        if handler is not None:
            return handler
    if end > pos and (node.mixed or node.params):  # parameters never match an empty segment
        segment = PyUnicode_Substring(path, pos, end)
        for mixed in node.mixed:
            if _split_mixed(mixed, segment, values):
                handler = _walk(mixed.child, path, end + 1, length, values, method, partial)
                if handler is not None:
                    return handler
                count = len(mixed.slots)
                del values[len(values) - count:]
        for param in node.params:
            value = _convert(param.slot, segment)
            if value is not _NO_MATCH:
                values.append(value)
                handler = _walk(param.child, path, end + 1, length, values, method, partial)
                if handler is not None:
                    return handler
                values.pop()
    if node.rest is not None:
        handler = _pick(node.rest.handlers, method)
        if handler is not None:
            values.append(PyUnicode_Substring(path, pos, length))
            return handler
        partial.append(node.rest.allow)
    return None


cdef class Matcher:
    """Matches request paths against a route table; see `bare._router_py.Matcher`."""

    cdef dict _static
    cdef _Node _root

    def __init__(self, dict table):
        self._static = table["static"]
        self._root = _Node(table["root"])

    cpdef tuple match(self, str method, str path):
        cdef PyObject* leaf
        cdef object handler
        cdef list values
        cdef list partial = None
        cdef tuple names
        cdef dict params
        cdef Py_ssize_t i
        cdef int code
        cdef PyObject* found = NULL
        cdef _Values fast
        # PERF: fully literal paths first, as in the pure twin.
        leaf = PyDict_GetItem(self._static, path)
        if leaf != NULL:
            handler = _pick(<dict>(<tuple>leaf)[0], method)
            if handler is not None:
                return (C_FOUND, (<tuple>handler)[0], {})
        if len(path) == 0 or path[0] != u'/':
            return _NOT_FOUND_RESULT
        # PERF: the walk's first branch in a loop (see the pure twin), keeping the values
        # in a C array rather than a list.
        fast.count = 0
        try:
            code = self._first_branch(method, path, &fast, &found)
            if code == C_FOUND:
                names = (<tuple><object>found)[1]
                params = {}
                for i in range(fast.count):
                    PyDict_SetItem(params, names[i], <object>fast.items[i])
                return (C_FOUND, (<tuple><object>found)[0], params)
        finally:
            for i in range(fast.count):
                Py_XDECREF(fast.items[i])
        if code == C_METHOD_NOT_ALLOWED:
            return (C_METHOD_NOT_ALLOWED, <object>found, None)
        if code == C_NOT_FOUND:
            return _NOT_FOUND_RESULT
        values = []
        partial = []
        handler = _walk(self._root, path, 1, len(path), values, method, partial)
        if handler is not None:
            names = (<tuple>handler)[1]
            params = {}
            for i in range(len(names)):
                PyDict_SetItem(params, names[i], values[i])
            return (C_FOUND, (<tuple>handler)[0], params)
        if not partial:
            return _NOT_FOUND_RESULT
        if len(partial) == 1:
            return (C_METHOD_NOT_ALLOWED, partial[0], None)
        return (C_METHOD_NOT_ALLOWED, tuple(sorted(set().union(*partial))), None)

    cdef int _first_branch(self, str method, str path, _Values* values,
                           PyObject** found) except -1:
        """The walk's first branch, in a loop (see the pure twin).

        Returns C_FOUND (`found`: the handler), C_METHOD_NOT_ALLOWED (`found`: the allow
        tuple) or C_NOT_FOUND when that is the answer, C_UNDECIDED when the full walk must
        run. `found` is borrowed from the table, which outlives the call.
        """
        cdef _Node node = self._root
        cdef _Param param
        cdef Py_ssize_t length = len(path)
        cdef Py_ssize_t pos = 1
        cdef Py_ssize_t end
        cdef object child
        cdef object value
        cdef object handler
        cdef bint forked = False
        while pos <= length:
            end = PyUnicode_FindChar(path, u'/', pos, length, 1)
            if end == -1:
                end = length
            child = _static_child(node, path, pos, end)
            if child is not None:
                forked = forked or node.forks
                node = <_Node>child
            else:
                param = node.first
                if param is None or end == pos:
                    return C_UNDECIDED if forked or node.forks else C_NOT_FOUND
                value = _convert(param.slot, PyUnicode_Substring(path, pos, end))
                if value is _NO_MATCH or values.count == MAX_FAST_VALUES:
                    return C_UNDECIDED
                forked = forked or node.many_params
                Py_XINCREF(<PyObject*>value)  # released by match()
                values.items[values.count] = <PyObject*>value
                values.count += 1
                node = param.child
            pos = end + 1
        if node.leaf is None:
            return C_UNDECIDED if forked else C_NOT_FOUND
        handler = _pick(node.leaf.handlers, method)
        if handler is not None:
            found[0] = <PyObject*>handler  # borrowed: the leaf's dict keeps it alive
            return C_FOUND
        if forked:
            return C_UNDECIDED
        found[0] = <PyObject*>node.leaf.allow
        return C_METHOD_NOT_ALLOWED
