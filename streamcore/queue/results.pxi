# Included by _native.pyx.
#
# What a send and a receive hand back, SendResult and Message, as C types:
# the queue builds ten of them per batch, so their construction is on the hot
# path.  results.py exports them with BatchError and MoveTask.  The MD5 of a
# body is computed the first time it is read: the HTTP face reads it for every
# message; an embedded caller that never does, never pays for it.

try:  # CPython's own MD5 is quicker than OpenSSL's for message-sized inputs
    from _md5 import md5 as _md5
except ImportError:  # other Pythons
    from hashlib import md5 as _md5


def md5_hex(data):
    """The MD5 of ``data`` in lowercase hex, as SQS's MD5Of* fields carry it."""
    return _md5(data).hexdigest()


cdef tuple _SEND_FIELDS = ("message_id", "md5_of_body", "md5_of_message_attributes",
                           "md5_of_message_system_attributes", "sequence_number", "id")
cdef tuple _MESSAGE_FIELDS = ("message_id", "receipt_handle", "body", "md5_of_body",
                              "attributes", "message_attributes", "md5_of_message_attributes")


cdef str _fields_repr(object obj, tuple names):
    inner = ", ".join([f"{n}={getattr(obj, n)!r}" for n in names])
    return f"{type(obj).__name__}({inner})"


@cython.auto_pickle(False)
cdef class SendResult:
    """An accepted SendMessage (or batch entry)."""

    cdef public str message_id
    cdef object _md5_of_body  # str once computed
    cdef bytes _body  # the UTF-8 body, kept until its digest is read
    cdef public object md5_of_message_attributes
    cdef public object md5_of_message_system_attributes
    cdef public object sequence_number  # FIFO queues only
    cdef public object id  # the batch entry's Id

    def __init__(self, str message_id not None, object md5_of_body,
                 object md5_of_message_attributes=None,
                 object md5_of_message_system_attributes=None,
                 object sequence_number=None, object id=None, *, bytes body not None=b""):
        self.message_id = message_id
        self._md5_of_body = md5_of_body
        self._body = body
        self.md5_of_message_attributes = md5_of_message_attributes
        self.md5_of_message_system_attributes = md5_of_message_system_attributes
        self.sequence_number = sequence_number
        self.id = id

    @property
    def md5_of_body(self) -> str:
        if self._md5_of_body is None:
            self._md5_of_body = _md5(self._body).hexdigest()
            self._body = b""
        return self._md5_of_body

    def __eq__(self, other):
        if not isinstance(other, SendResult):
            return NotImplemented
        return all([getattr(self, n) == getattr(other, n) for n in _SEND_FIELDS])

    __hash__ = None

    def __repr__(self):
        return _fields_repr(self, _SEND_FIELDS)

    def __reduce__(self):
        return (SendResult, (self.message_id, self.md5_of_body, self.md5_of_message_attributes,
                             self.md5_of_message_system_attributes, self.sequence_number,
                             self.id))


cdef SendResult _send_result(str message_id, object entry_id, bytes body):
    cdef SendResult r = SendResult.__new__(SendResult)
    r.message_id = message_id
    r._md5_of_body = None
    r._body = body
    r.id = entry_id
    return r


def plain_send_results(list message_ids not None, list entry_ids not None,
                       list bodies not None):
    """The SendResults of a batch of plain messages (no attributes, not FIFO)."""
    cdef Py_ssize_t i, n = len(message_ids)
    if len(entry_ids) != n or len(bodies) != n:
        raise ValueError("one id, entry id and body per message")
    return [_send_result(message_ids[i], entry_ids[i], bodies[i]) for i in range(n)]


@cython.auto_pickle(False)
cdef class Message:
    """A received message.  ``attributes`` are the system attributes asked for
    (SentTimestamp, ApproximateReceiveCount, ...), ``message_attributes`` the
    message attributes asked for ({name: {"DataType", "StringValue" or
    "BinaryValue"}}) and ``md5_of_message_attributes`` the MD5 of exactly those."""

    cdef public str message_id
    cdef public str receipt_handle
    cdef public str body
    cdef object _md5_of_body
    cdef public dict attributes
    cdef public dict message_attributes
    cdef public object md5_of_message_attributes

    def __init__(self, str message_id not None, str receipt_handle not None, str body not None,
                 object md5_of_body=None, dict attributes=None, dict message_attributes=None,
                 object md5_of_message_attributes=None):
        self.message_id = message_id
        self.receipt_handle = receipt_handle
        self.body = body
        self._md5_of_body = md5_of_body
        self.attributes = {} if attributes is None else attributes
        self.message_attributes = {} if message_attributes is None else message_attributes
        self.md5_of_message_attributes = md5_of_message_attributes

    @property
    def md5_of_body(self) -> str:
        if self._md5_of_body is None:
            self._md5_of_body = _md5(self.body.encode()).hexdigest()
        return self._md5_of_body

    def __eq__(self, other):
        if not isinstance(other, Message):
            return NotImplemented
        return all([getattr(self, n) == getattr(other, n) for n in _MESSAGE_FIELDS])

    __hash__ = None

    def __repr__(self):
        return _fields_repr(self, _MESSAGE_FIELDS)

    def __reduce__(self):
        return (Message, (self.message_id, self.receipt_handle, self.body, self._md5_of_body,
                          self.attributes, self.message_attributes,
                          self.md5_of_message_attributes))


cdef Message _plain_message(str message_id, str receipt_handle, str body, dict attributes):
    cdef Message m = Message.__new__(Message)
    m.message_id = message_id
    m.receipt_handle = receipt_handle
    m.body = body
    m._md5_of_body = None
    m.attributes = attributes
    m.message_attributes = {}
    m.md5_of_message_attributes = None
    return m
