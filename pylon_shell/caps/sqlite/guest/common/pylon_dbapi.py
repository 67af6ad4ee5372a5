"""Runs INSIDE both guests, CPython and MicroPython: the DB-API core of the
sqlite3 and duckdb stand-ins, written once so the two guests cannot drift.

It holds what does not depend on the wire: the PEP 249 exception hierarchy
(and DuckDB's classes under it, as the duckdb package has them), the rows of
a statement read lazily a batch at a time, executemany's batches, and the
duckdb connection and relation. Each stand-in gives it a wire: calls that
reach its provider and return plain Python values (MicroPython's bridge,
CPython's WIT interface). So it is written in the Python both run: no
f-strings, no weakref or __init_subclass__ needed (weakref is used when the
interpreter has it), classes made with type(). The sqlite cap's folder holds
it (guest/common/); the duckdb cap declares it as a stand-in of its own
(registry.stand_in_source finds it), as tls shares crypto's `pylon` shim.
"""

try:
    from weakref import ref as _weak
except ImportError:  # MicroPython: a relation lives as long as its connection's turn

    def _weak(value):
        return lambda: value


#: PEP 249's exceptions: name, parent (None: Exception).
PEP249 = (
    ("Warning", None),
    ("Error", None),
    ("InterfaceError", "Error"),
    ("DatabaseError", "Error"),
    ("DataError", "DatabaseError"),
    ("OperationalError", "DatabaseError"),
    ("IntegrityError", "DatabaseError"),
    ("InternalError", "DatabaseError"),
    ("ProgrammingError", "DatabaseError"),
    ("NotSupportedError", "DatabaseError"),
)

#: The duckdb package's own exceptions under PEP 249's (duckdb 1.x and 2.x;
#: it has no InterfaceError).
DUCKDB = (
    ("BinderException", "ProgrammingError"),
    ("CatalogException", "ProgrammingError"),
    ("InvalidInputException", "ProgrammingError"),
    ("InvalidTypeException", "ProgrammingError"),
    ("ParserException", "ProgrammingError"),
    ("SyntaxException", "ProgrammingError"),
    ("ConnectionException", "OperationalError"),
    ("IOException", "OperationalError"),
    ("HTTPException", "IOException"),
    ("OutOfMemoryException", "OperationalError"),
    ("ResourceInUseException", "OperationalError"),
    ("SerializationException", "OperationalError"),
    ("TransactionException", "OperationalError"),
    ("ConstraintException", "IntegrityError"),
    ("ConversionException", "DataError"),
    ("OutOfRangeException", "DataError"),
    ("TypeMismatchException", "DataError"),
    ("InternalException", "InternalError"),
    ("NotImplementedException", "NotSupportedError"),
    ("DependencyException", "DatabaseError"),
    ("FatalException", "DatabaseError"),
    ("InterruptException", "DatabaseError"),
    ("PermissionException", "DatabaseError"),
    ("SequenceException", "DatabaseError"),
)


def exceptions(module, table, leave_out=()):
    """The classes of `table` ((name, parent) pairs, parents first) as the
    exceptions of `module`: {name: class}."""
    classes = {}
    for name, parent in table:
        if name in leave_out:
            continue
        base = classes[parent] if parent is not None else Exception
        classes[name] = type(name, (base,), {"__module__": module})
    return classes


def error(classes, kind, message, module, parent="DatabaseError"):
    """The exception a provider failure of `kind` raises: its class in
    `classes`, or one made on first sight under `parent`, named as the
    provider names it (so `except` clauses and tracebacks match)."""
    cls = classes.get(kind)
    if cls is None:
        cls = classes[kind] = type(kind, (classes[parent],), {"__module__": module})
    return cls(message)


def batches(rows, size, convert):
    """`rows` converted, in lists of at most `size` (executemany's bridge calls);
    at least one list, even for no rows, so the statement is still prepared."""
    batch = []
    sent = False
    for row in rows:
        batch.append(convert(row))
        if len(batch) >= size:
            sent = True
            yield batch
            batch = []
    if batch or not sent:
        yield batch


class Rows:
    """The rows of one statement as they are read: the batch in hand, and
    whether the provider holds more, fetched when a read reaches the batch's
    end: `fetch(n)` -> (rows, more). Reads never hold more than a batch and
    what they return; fetchall asks for `most` rows a call."""

    def __init__(self, rows, more, fetch=None, batch=256, most=None):
        self._rows = rows
        self._position = 0
        self._more = more
        self._fetch = fetch
        self._batch = batch
        self._most = most or batch

    def _ready(self, wanted=None):
        """Whether a row is in hand, fetching the next batch if need be."""
        while self._position >= len(self._rows):
            if not self._more:
                return False
            self._rows, self._more = self._fetch(wanted or self._batch)
            self._position = 0
        return True

    def fetchone(self):
        if not self._ready():
            return None
        self._position += 1
        return self._rows[self._position - 1]

    def fetchmany(self, size):
        rows = []
        while len(rows) < size and self._ready():
            end = self._position + size - len(rows)
            rows += self._rows[self._position : end]
            self._position = min(end, len(self._rows))
        return rows

    def fetchall(self):
        rows = []
        while self._ready(self._most):
            rows += self._rows[self._position :] if self._position else self._rows
            self._position = len(self._rows)
        return rows


NO_ROWS = Rows([], False)


# -- duckdb: one connection and relation for both guests ----------------------


class DuckDBConnection:
    """duckdb's DuckDBPyConnection over a wire. A stand-in subclasses it with
    `_wire` (connect, execute -> (columns, rows, rowcount, more), fetch ->
    (rows, more), close; values already Python's) and `_errors`."""

    _wire = None
    _errors = {}
    #: Rows asked for a fetch; the host bounds a batch by rows and bytes as well.
    BATCH = 4096

    def __init__(self, database=":memory:", read_only=False):
        self._handle = self._wire.connect(str(database), bool(read_only))
        self._result = NO_ROWS
        #: The relation reading this connection's last result, if it still lives.
        self._relation = None
        self.description = None
        self.rowcount = -1

    def _ensure_open(self):
        if self._handle is None:
            raise self._errors["ConnectionException"]("Connection already closed!")

    def execute(self, query, parameters=None):
        self._ensure_open()
        if isinstance(parameters, dict):
            # DuckDB's $name parameters need the names on the wire: not yet.
            raise NotImplementedError(
                "named parameters ($name with a dict) are not supported yet; use ? with a list"
            )
        self._settle()
        columns, rows, rowcount, more = self._wire.execute(
            self._handle, query, list(parameters or [])
        )
        handle, wire = self._handle, self._wire
        self._result = Rows(rows, more, lambda n: wire.fetch(handle, n), self.BATCH)
        self.rowcount = rowcount
        self.description = [(c[0], c[1], None, None, None, None, None) for c in columns] or None
        return self

    def executemany(self, query, parameters):
        for row in parameters:
            self.execute(query, row)
        return self

    def sql(self, query, params=None):
        return DuckDBPyRelation(self.execute(query, params))

    query = sql

    def _settle(self):
        """Before the provider discards this connection's pending rows (a new
        statement, close): a relation still reading them takes them all, so a
        relation keeps its whole result as the package's does."""
        relation = self._relation() if self._relation is not None else None
        self._relation = None
        if relation is not None:
            relation._take_all()

    def _lend(self, relation):
        """Hand the last result to `relation`; the connection's own fetches see no rows."""
        result, self._result = self._result, NO_ROWS
        self._relation = _weak(relation)
        return result

    def fetchone(self):
        self._ensure_open()
        return self._result.fetchone()

    def fetchmany(self, size=1):
        self._ensure_open()
        return self._result.fetchmany(size)

    def fetchall(self):
        self._ensure_open()
        return self._result.fetchall()

    def cursor(self):
        return self

    def close(self):
        if self._handle is not None:
            self._settle()
            self._result = NO_ROWS
            handle, self._handle = self._handle, None
            self._wire.close(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class DuckDBPyRelation:
    """What `sql()` returns: the result of the query, which every fetch reads
    from its start. Its rows are read from the provider as far as a fetch
    needs them and kept; the connection hands over the rest before it runs
    another statement or closes, so the relation always has its whole result."""

    def __init__(self, connection):
        #: Keeps the connection open while the relation may still read from it.
        self._connection = connection
        self._result = connection._lend(self)
        self._rows = []
        self.columns = [d[0] for d in (connection.description or [])]
        self.types = [d[1] for d in (connection.description or [])]
        self.description = connection.description

    def _take(self, count):
        """The first `count` rows, reading from the provider what is not yet here."""
        while self._result is not None and len(self._rows) < count:
            wanted = count - len(self._rows)
            rows = self._result.fetchmany(wanted)
            self._rows += rows
            if len(rows) < wanted:
                self._result = None
        return self._rows[:count]

    def _take_all(self):
        if self._result is not None:
            self._rows += self._result.fetchall()
            self._result = None
        return self._rows

    def fetchall(self):
        return list(self._take_all())

    def fetchone(self):
        rows = self._take(1)
        return rows[0] if rows else None

    def fetchmany(self, size=1):
        return self._take(size)

    def show(self):
        print(self)

    def __len__(self):
        return len(self._take_all())

    def __repr__(self):
        lines = [" | ".join(self.columns)]
        lines += [" | ".join(str(v) for v in row) for row in self._take_all()]
        return "\n".join(lines)


class DuckDBModule:
    """The module-level duckdb calls on a default in-memory connection."""

    def __init__(self, connection_class):
        self._class = connection_class
        self._default = None

    def connect(self, database=":memory:", read_only=False, config=None):
        return self._class(database, read_only)

    def default_connection(self):
        if self._default is None:
            self._default = self._class()
        return self._default

    def sql(self, query, params=None):
        return self.default_connection().sql(query, params)

    def execute(self, query, parameters=None):
        return self.default_connection().execute(query, parameters)
