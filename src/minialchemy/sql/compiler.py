"""The SQL compiler: walks an expression tree and writes SQLite SQL (a Visitor over the tree).

Every Python value becomes a bound parameter: the compiler writes ``?`` (for sqlite3) or
``:name_1`` (for ``str(stmt)``, readable, as SQLAlchemy shows it) and records the
:class:`BindParameter` in order; :meth:`Compiled.construct_params` later turns the execution
parameters into the tuple sqlite3 wants.  Identifiers that are SQL keywords or not plain
lower-case names (``"order"``, ``"first name"``) are quoted everywhere.

Where it sits: called by the engine (``Connection.execute``) and by ``str(statement)``.  The
ORM's flush builds Core ``insert()`` / ``update()`` / ``delete()`` statements and compiles them
here once per mapper and column set; this module is the only place SQL text is written.  The
batched ``INSERT ... RETURNING`` form (:meth:`Compiled.insertmanyvalues_sql`) is rendered here
too, from the single-row INSERT, for :mod:`minialchemy.engine.insertmanyvalues`.
"""

from __future__ import annotations

from collections.abc import Mapping

from minialchemy.exc import CompileError, InvalidRequestError, StatementError
from minialchemy.sql import elements as el
from minialchemy.sql import selectable as sel
from minialchemy.sql import types as sqltypes
from minialchemy.sql.schema import Column, Table

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    import re
    from typing import Any, Iterable, Sequence

__all__ = ["Compiled", "compile_element", "process_parameters", "quote", "quote_function_name", "validate_sql_phrase", "ddl_create_table", "ddl_drop_table"]

# SQLite's keywords (sqlite.org/lang_keywords.html): a name equal to one of them is quoted.
RESERVED_WORDS = frozenset(
    """abort action add after all alter always analyze and as asc attach autoincrement before
    begin between by cascade case cast check collate column commit conflict constraint create
    cross current current_date current_time current_timestamp database default deferrable
    deferred delete desc detach distinct do drop each else end escape except exclude exclusive
    exists explain fail filter first following for foreign from full generated glob group groups
    having if ignore immediate in index indexed initially inner insert instead intersect into is
    isnull join key last left like limit match materialized natural no not nothing notnull null
    nulls of offset on or order others outer over partition plan pragma preceding primary query
    raise range recursive references regexp reindex release rename replace restrict returning
    right rollback row rows savepoint select set table temp temporary then ties to transaction
    trigger unbounded union unique update using vacuum values view virtual when where window with
    without""".split()
)
# Names are checked with sets of characters, not regular expressions: quote() runs for every
# statement, and importing re costs more than most modules here (issue 12).
_NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz_")  # [a-z_]
_NAME_REST = _NAME_FIRST | frozenset("0123456789$")  # [a-z0-9_$]
_UPPER_CASE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _made_of(name: str, first: frozenset[str], rest: frozenset[str]) -> bool:
    """The regular expression ``[first][rest]*`` matches all of ``name``."""
    return name[:1] in first and rest.issuperset(name)


def quote(name: str) -> str:
    """Quote an identifier when it must be: a keyword, upper case, spaces or other characters."""
    if _made_of(name, _NAME_FIRST, _NAME_REST) and name not in RESERVED_WORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


# a function name is written as given (``lower``, ``MyFunc``) when it is made of letters,
# digits, ``_`` and ``$`` and does not start with a digit or ``$``; anything else is quoted
_FUNCTION_NAME_FIRST = _NAME_FIRST | _UPPER_CASE  # [A-Za-z_]
_FUNCTION_NAME_REST = _NAME_REST | _UPPER_CASE  # [A-Za-z0-9_$]


def quote_function_name(name: str) -> str:
    """A function name is an identifier: ``func.lower`` renders ``lower(...)``, while
    ``getattr(func, "(SELECT secret FROM t) --")`` renders a quoted (and harmless) name,
    never SQL.  Case is kept, as SQL function names are case-insensitive."""
    if _made_of(name, _FUNCTION_NAME_FIRST, _FUNCTION_NAME_REST):
        return name
    return '"' + name.replace('"', '""') + '"'


# ON DELETE / ON UPDATE take one or more SQL keywords ("CASCADE", "SET NULL"): keywords are
# never quoted, so a phrase holding anything else (quotes, parentheses, ";") is refused
# (text, compiled and cached by ``re`` on first use: importing re is deferred, see quote())
_SQL_KEYWORD_PHRASE = r"^\w+(?:\s+\w+)*$"


def validate_sql_phrase(phrase: str, what: str) -> str:
    """Return ``phrase`` when it is a plain keyword sequence; raise :class:`CompileError` naming
    ``what`` (``"ForeignKey('user_account.id', ondelete=...)"``) otherwise."""
    import re  # deferred: see quote()

    if not isinstance(phrase, str) or not re.match(_SQL_KEYWORD_PHRASE, phrase):
        raise CompileError(
            f"Unexpected SQL phrase {phrase!r} for {what}: expected SQL keywords only, such as "
            f"CASCADE, SET NULL, SET DEFAULT, RESTRICT or NO ACTION"
        )
    return phrase


#: characters a ``:name`` placeholder cannot hold, and what ``str()`` shows instead (the
#: same substitutions as SQLAlchemy, so ``"first name"`` renders as ``:first_name``); the
#: parameter is still looked up under its real name
_BIND_NAME_ESCAPES = str.maketrans({" ": "_", ".": "_", "[": "_", "]": "_", "%": "P", "(": "A", ")": "Z", ":": "C"})


class Compiled:
    """A statement rendered to SQL, with its binds in order and its result columns.

    ``string`` is the SQL; ``binds`` the parameters in the order of their placeholders;
    ``result_columns`` a list of ``(key, type, element)`` for each selected column.
    """

    def __init__(self, statement: Any, dialect: str) -> None:
        self.statement = statement
        self.dialect = dialect
        self.positional = dialect == "sqlite"
        self.string = ""
        self.binds: list[tuple[str, el.BindParameter]] = []
        self.result_columns: list[tuple[str, sqltypes.TypeEngine, Any]] = []
        self.insert_columns: list[Column] = []
        self.returning_columns: list[Any] = []
        self._bind_counts: dict[str, int] = {}
        self._bind_names: dict[int, str] = {}
        self._processors: list[Any] | None = None
        #: for an INSERT whose every value is one bound parameter: ``(INSERT INTO t (a, b),
        #: number of columns, RETURNING clause)``, from which :meth:`insertmanyvalues_sql`
        #: renders the many-row form; None for any other statement
        self._insert_many_form: tuple[str, int, str] | None = None

    def __str__(self) -> str:
        return self.string

    @property
    def params(self) -> dict[str, Any]:
        """The values known at compile time, by bind name (``{"name_1": "sandy"}``)."""
        return {name: bind.effective_value() for name, bind in self.binds}

    def construct_params(self, params: Mapping[str, Any] | None = None) -> tuple[Any, ...]:
        """The positional parameter tuple for one execution.

        Each bind takes, in order: the execution parameter of its name, else its own value (a
        column default is called once per row here); a ``bindparam()`` with neither raises
        :class:`StatementError` naming it.  The values then pass their type's bind processor
        (:func:`process_parameters`); a value the type refuses, or a default that raises,
        raises :class:`StatementError` with the original exception as ``.orig``.
        """
        if self._processors is None:
            found = [bind.type.bind_processor() for _, bind in self.binds]
            self._processors = found if any(p is not None for p in found) else []
        out = []
        for name, bind in self.binds:
            if params is not None and name in params:
                out.append(params[name])
            elif bind.callable is not None:
                try:
                    out.append(bind.callable())
                except Exception as error:
                    raise StatementError.from_exception(error, self.string, _shown(params)) from error
            elif bind.required:
                raise StatementError(
                    f"A value is required for bind parameter {name!r}",
                    self.string,
                    _shown(params),
                )
            else:
                out.append(bind.value)
        if self._processors:
            return process_parameters(self._processors, out, self.string, params)
        return tuple(out)

    def bind_processors(self) -> list[Any] | None:
        """The bind processor of each placeholder, in order (None: no placeholder needs one).

        A caller that builds positional parameters itself (the ORM's flush) applies them;
        :meth:`construct_params` applies them for you."""
        if self._processors is None:
            found = [bind.type.bind_processor() for _, bind in self.binds]
            self._processors = found if any(p is not None for p in found) else []
        return self._processors or None

    @property
    def supports_insertmanyvalues(self) -> bool:
        """True for an INSERT whose values are all bound parameters: it has a many-row form."""
        return self._insert_many_form is not None

    def insertmanyvalues_sql(self, n_rows: int, key_column: Column) -> str:
        """The batched form of this single-row INSERT for ``n_rows`` parameter rows::

            INSERT INTO t (a, b) SELECT column1, column2
            FROM (VALUES (?, ?, 0), (?, ?, 1), ...) ORDER BY column3 RETURNING <returning>, key

        The third value of each VALUES row is its position, written as a literal: the ORDER BY
        makes SQLite insert the rows in parameter order (the argument is in
        :mod:`minialchemy.engine.insertmanyvalues`).  SQLite names the columns of a VALUES
        clause ``column1``, ``column2``, ...  ``key_column`` (the rowid alias) is returned as the
        last column, added to the statement's own RETURNING unless that already ends with it.
        """
        if self._insert_many_form is None:
            raise CompileError(
                f"{self.string!r} has no many-row form: only an INSERT whose values are all "
                f"bound parameters has one"
            )
        head, width, returning = self._insert_many_form
        if width == 0:
            raise CompileError("a batched INSERT needs at least one column to write")
        key = quote(key_column.name)
        if not self.returning_columns:
            returning = f" RETURNING {key}"
        elif self.returning_columns[-1] is not key_column:
            returning = f"{returning}, {key}"
        picked = ", ".join(f"column{i}" for i in range(1, width + 1))
        marks = ", ".join("?" * width)
        rows = ", ".join(f"({marks}, {position})" for position in range(n_rows))
        return f"{head} SELECT {picked} FROM (VALUES {rows}) ORDER BY column{width + 1}{returning}"


def _shown(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(params) if params else None


def process_parameters(
    processors: Sequence[Any], values: Sequence[Any], statement: str, params: Any = None
) -> tuple[Any, ...]:
    """One row of parameters through the bind processors of its columns' types (None: the value
    goes as it is).  The single place where values are converted and checked on their way to
    the database, for Core statements and for the ORM's flush alike.

    A value its type refuses (``Boolean`` given ``'false'``, ``Float`` given ``'abc'``) raises
    :class:`StatementError` with the statement, the parameters (``params``, else ``values``)
    and the TypeError or ValueError as ``.orig``; nothing has been sent yet.
    """
    try:
        return tuple([v if p is None else p(v) for p, v in zip(processors, values)])
    except Exception as error:
        shown = _shown(params) if isinstance(params, Mapping) else (params if params is not None else tuple(values))
        raise StatementError.from_exception(error, statement, shown) from error


def compile_element(element: Any, dialect: str = "default", column_keys: Iterable[str] | None = None) -> Compiled:
    """Render ``element`` for ``dialect`` (``"sqlite"``: ``?`` binds; ``"default"``: named)."""
    compiled = Compiled(element, dialect)
    visitor = _SQLCompiler(compiled, column_keys)
    compiled.string = visitor.process(element, top=True)
    if visitor.ctes:
        visitor.prefix_ctes()
    return compiled


class _SQLCompiler:
    """The visitor: one ``visit_<name>`` method per kind of element."""

    def __init__(self, compiled: Compiled, column_keys: Iterable[str] | None) -> None:
        self.compiled = compiled
        self.column_keys = list(column_keys) if column_keys is not None else None
        self.anon_labels: dict[str, int] = {}
        #: names given to anonymous aliases, subqueries and CTEs in this statement
        self._from_names: dict[int, str] = {}
        #: the FROM lists of the enclosing SELECTs (None: a FROM subquery, correlation stops there)
        self._select_stack: list[list[Any] | None] = []
        #: CTEs met so far: key -> (definition SQL, its binds), written before the statement
        self.ctes: dict[Any, tuple[str, list[tuple[str, el.BindParameter]]]] = {}
        self._ctes_recursive = False

    # -- entry points ------------------------------------------------------------------------

    def process(self, element: Any, top: bool = False, **kw: Any) -> str:
        name = getattr(element, "__visit_name__", None)
        if name is None:
            element = el.coerce_expression(element)
            name = element.__visit_name__
        method = getattr(self, f"visit_{name}", None)
        if method is None:
            raise CompileError(f"Don't know how to render {element!r} ({type(element).__name__})")
        return method(element, **kw)

    def _bind_placeholder(self, bind: el.BindParameter) -> str:
        names = self.compiled._bind_names
        name = names.get(id(bind))
        if name is None:
            if bind.unique:
                count = self.compiled._bind_counts.get(bind.key, 0) + 1
                self.compiled._bind_counts[bind.key] = count
                name = f"{bind.key}_{count}"
            else:
                name = bind.key
            names[id(bind)] = name
        self.compiled.binds.append((name, bind))
        return "?" if self.compiled.positional else f":{name.translate(_BIND_NAME_ESCAPES)}"

    # -- columns, binds, literals --------------------------------------------------------------

    def visit_column(self, column: Column, include_table: bool = True, **kw: Any) -> str:
        name = quote(column.name) if column.name else "?"
        if include_table and column.table is not None:
            return f"{self._from_name(column.table)}.{name}"
        return name

    def visit_bindparam(self, bind: el.BindParameter, **kw: Any) -> str:
        return self._bind_placeholder(bind)

    def visit_null(self, element: Any, **kw: Any) -> str:
        return "NULL"

    def visit_true(self, element: Any, **kw: Any) -> str:
        return "1" if self.compiled.positional else "true"

    def visit_false(self, element: Any, **kw: Any) -> str:
        return "0" if self.compiled.positional else "false"

    def visit_expanding_list(self, element: el.ExpandingList, **kw: Any) -> str:
        return "(" + ", ".join(self.process(b, **kw) for b in element.binds) + ")"

    def visit_label(self, label: el.Label, within_columns: bool = False, order_by_labels: Any = None, **kw: Any) -> str:
        if order_by_labels is not None and any(label is other for other in order_by_labels):
            return quote(label.name)  # ORDER BY a label of the columns clause: by its name
        inner = self.process(label.element, **kw)
        return f"{inner} AS {quote(label.name)}" if within_columns else inner

    def visit_function(self, fn: el.Function, **kw: Any) -> str:
        if fn.name.lower() == "count" and not fn.args:
            return "count(*)"
        if not fn.args and fn.name.lower() in el.ANSI_FUNCTIONS:
            return el.ANSI_FUNCTIONS[fn.name.lower()]
        return f"{quote_function_name(fn.name)}(" + ", ".join(self.process(a, **kw) for a in fn.args) + ")"

    def visit_textclause(self, clause: el.TextClause, **kw: Any) -> str:
        def replace(match: "re.Match[str]") -> str:
            name = match.group(1)
            bind = clause._bindparams.get(name)
            if bind is None:
                bind = el.BindParameter(name, required=True)
            return self._bind_placeholder(bind)

        import re  # deferred: see quote(); only text() needs it

        sql = re.sub(_TEXT_BIND, replace, clause.text)
        return sql.replace("\\:", ":")

    # -- operators ------------------------------------------------------------------------------

    def visit_binary(self, binary: el.BinaryExpression, **kw: Any) -> str:
        op = binary.operator
        right = binary.right
        if op in (el.in_op, el.not_in_op) and isinstance(right, el.ExpandingList) and not right.binds:
            # an empty IN list: nothing is IN it, everything is NOT IN it
            return "1 != 1" if op is el.in_op else "1 = 1"
        left_sql = self._operand(binary.left, **kw)
        right_sql = self._operand(right, **kw)
        if op in el.CASE_INSENSITIVE:
            left_sql, right_sql = f"lower({left_sql})", f"lower({right_sql})"
        return f"{left_sql} {el.OPERATOR_SQL[op]} {right_sql}"

    def _operand(self, element: Any, **kw: Any) -> str:
        sql = self.process(element, **kw)
        if isinstance(element, (el.BooleanClauseList, el.BinaryExpression, el.Between)):
            return f"({sql})"
        return sql

    def visit_boolean_clauselist(self, clauses: el.BooleanClauseList, **kw: Any) -> str:
        parts = []
        for clause in clauses.clauses:
            sql = self.process(clause, **kw)
            if isinstance(clause, el.BooleanClauseList) and clause.operator != clauses.operator:
                sql = f"({sql})"
            parts.append(sql)
        return f" {clauses.operator} ".join(parts)

    def visit_unary(self, unary: el.UnaryExpression, **kw: Any) -> str:
        inner = self.process(unary.element, **kw)
        if unary.operator == "NOT":
            if isinstance(unary.element, (el.BooleanClauseList, el.BinaryExpression, el.Between, sel.Exists)):
                inner = f"({inner})"
            return f"NOT {inner}"
        if unary.operator:
            return f"{unary.operator} {inner}"
        return f"{inner} {unary.modifier}" if unary.modifier else inner

    def visit_between(self, between: el.Between, **kw: Any) -> str:
        if between.symmetric:
            raise CompileError("SQLite has no BETWEEN SYMMETRIC; order the two ends yourself")
        keyword = "NOT BETWEEN" if between.negated else "BETWEEN"
        return (
            f"{self._operand(between.element, **kw)} {keyword} "
            f"{self._operand(between.lower, **kw)} AND {self._operand(between.upper, **kw)}"
        )

    def visit_case(self, case: el.Case, **kw: Any) -> str:
        parts = ["CASE"]
        if case.value is not None:
            parts.append(self.process(case.value, **kw))
        for condition, result in case.whens:
            parts.append(f"WHEN {self._operand(condition, **kw)} THEN {self.process(result, **kw)}")
        if case.else_ is not None:
            parts.append(f"ELSE {self.process(case.else_, **kw)}")
        parts.append("END")
        return " ".join(parts)

    def visit_cast(self, cast: el.Cast, **kw: Any) -> str:
        return f"CAST({self.process(cast.element, **kw)} AS {cast.type.ddl()})"

    def visit_literal_column(self, column: el.LiteralColumn, **kw: Any) -> str:
        return column.text

    def visit_label_reference(
        self, reference: el.LabelReference, select_names: Any = None, bare_columns: bool = False, **kw: Any
    ) -> str:
        for expression, key, name, _ in select_names or ():
            if isinstance(expression, el.Label) and expression.name == reference.name:
                return quote(name)
        for expression, key, name, _ in select_names or ():
            if key == reference.name or name == reference.name:
                return quote(name) if bare_columns else self.process(expression)
        raise CompileError(
            f"Can't resolve label reference for ORDER BY / GROUP BY {reference.name!r}: no column or "
            f"label of that name in the SELECT. Textual SQL expression {reference.name!r} should be "
            f"explicitly declared as text({reference.name!r})"
        )

    # -- statements ------------------------------------------------------------------------------

    def _result_column(self, column: Any, seen: dict[str, int]) -> str:
        if isinstance(column, Column):
            key = column.key or column.name or "column"
            sql = self.process(column)
            name = column.name or key
        elif isinstance(column, el.Label):
            key = column.name
            sql = self.process(column, within_columns=True)
            name = column.name
            seen[name] = seen.get(name, 0) + 1
            self.compiled.result_columns.append((key, column.type, column))
            return sql
        elif isinstance(column, el.Function):
            key = column.name
            name = self._anon_label(column.name)
            sql = f"{self.process(column)} AS {quote(name)}"
            seen[name] = 1
            self.compiled.result_columns.append((key, column.type, column))
            return sql
        else:
            key = getattr(column, "key", None) or "anon"
            name = self._anon_label("anon")
            sql = f"{self.process(column)} AS {name}"
            self.compiled.result_columns.append((key, column.type, column))
            return sql
        if name in seen:
            # two columns of the same name (user_account.id, address.id): label the second
            seen[name] += 1
            label = f"{name}_{seen[name] - 1}"
            sql = f"{sql} AS {quote(label)}"
            key = label
        else:
            seen[name] = 1
        self.compiled.result_columns.append((key, column.type, column))
        return sql

    def _anon_label(self, base: str) -> str:
        count = self.anon_labels.get(base, 0) + 1
        self.anon_labels[base] = count
        return f"{base}_{count}"

    # -- SELECT ------------------------------------------------------------------------------------

    def visit_select(
        self,
        select: Any,
        record_columns: bool | None = None,
        correlate: bool = False,
        subquery: bool = False,
        **kw: Any,
    ) -> str:
        """``SELECT``; ``record_columns``: this SELECT's columns are the result's (the outermost);
        ``correlate``: nested as a value, so FROMs of the enclosing SELECT are left out;
        ``subquery``: nested as a FROM, so every column is named with ``AS``."""
        if record_columns is None:
            record_columns = not self._select_stack
        froms = select._final_froms()
        if correlate:
            froms = self._correlated(select, froms)
        names = select._selected_names()
        self._select_stack.append(froms)
        try:
            columns = []
            for expression, key, name, labeled in names:
                if type(expression) is Column:
                    sql = self.visit_column(expression)
                else:
                    sql = self.process(expression.element if isinstance(expression, el.Label) else expression)
                if labeled or (subquery and sql != quote(name)):
                    sql = f"{sql} AS {quote(name)}"
                columns.append(sql)
                if record_columns:
                    self.compiled.result_columns.append((key, expression.type, expression))
            sql = "SELECT " + ("DISTINCT " if select._distinct else "") + (", ".join(columns) or "*")
            if froms:
                sql += " \nFROM " + ", ".join(self.process(f, asfrom=True) for f in froms)
            where = select.whereclause
            if where is not None:
                sql += " \nWHERE " + self.process(where)
            if select._group_by:
                sql += " GROUP BY " + ", ".join(self.process(c, select_names=names) for c in select._group_by)
            if select._having:
                sql += " \nHAVING " + self.process(el.and_(*select._having))
            if select._order_by:
                labels = [expression for expression, _, _, _ in names if isinstance(expression, el.Label)]
                sql += " ORDER BY " + ", ".join(
                    self.process(c, select_names=names, order_by_labels=labels) for c in select._order_by
                )
            sql += self._limit_offset(select)
        finally:
            self._select_stack.pop()
        return sql

    def _limit_offset(self, statement: Any) -> str:
        if statement._limit is None and statement._offset is None:
            return ""
        limit = statement._limit if statement._limit is not None else -1
        sql = "\n LIMIT " + self._bind_placeholder(el.BindParameter("param", limit, unique=True))
        if statement._offset is not None:
            sql += " OFFSET " + self._bind_placeholder(el.BindParameter("param", statement._offset, unique=True))
        return sql

    def _correlated(self, select: Any, froms: list[Any]) -> list[Any]:
        """``froms`` without those the enclosing SELECTs read (auto-correlation), or as
        ``correlate()`` / ``correlate_except()`` say."""
        enclosing: set[int] = set()
        for entry in reversed(self._select_stack):
            if entry is None:
                break
            for from_ in entry:
                enclosing.update(id(f) for f in sel._covered_froms(from_))
        if not enclosing or select._correlate == ():
            return froms
        if select._correlate is None and select._correlate_except is None and len(froms) < 2:
            return froms  # automatic correlation keeps a SELECT's only FROM (as SQLAlchemy does)
        if select._correlate is not None:
            chosen = {id(f) for f in select._correlate}
            omitted = [f for f in froms if id(f) in chosen and id(f) in enclosing]
        elif select._correlate_except is not None:
            kept = {id(f) for f in select._correlate_except}
            omitted = [f for f in froms if id(f) in enclosing and id(f) not in kept]
        else:
            omitted = [f for f in froms if id(f) in enclosing]
        remaining = [f for f in froms if f not in omitted]
        if froms and not remaining and select._correlate is None:
            raise InvalidRequestError(
                f"Select statement returned no FROM clauses due to auto-correlation: every table it "
                f"reads ({', '.join(sel._description(f) for f in froms)}) is read by the enclosing "
                f"SELECT; specify correlate(<tables>) to control correlation manually"
            )
        return remaining

    def _dml_where(self, statement: Any) -> str:
        """`` WHERE ...`` of an UPDATE / DELETE; a SELECT nested in it (``EXISTS``, ``IN``)
        correlates to the table being changed, as it would to an enclosing SELECT's FROM."""
        where = statement.whereclause
        if where is None:
            return ""
        self._select_stack.append([statement.table])
        try:
            return " WHERE " + self.process(where)
        finally:
            self._select_stack.pop()

    def visit_scalar_select(self, scalar: Any, **kw: Any) -> str:
        return "(" + self.process(scalar.element, correlate=True, record_columns=False) + ")"

    def visit_exists(self, exists: Any, **kw: Any) -> str:
        return "EXISTS (" + self.process(exists.element, correlate=True, record_columns=False) + ")"

    def visit_compound_select(self, compound: Any, record_columns: bool | None = None, subquery: bool = False, **kw: Any) -> str:
        if record_columns is None:
            record_columns = not self._select_stack
        parts = [
            self.process(statement, record_columns=record_columns and index == 0, subquery=subquery)
            for index, statement in enumerate(compound.selects)
        ]
        sql = f" {compound.keyword} ".join(parts)
        if compound._order_by:
            names = compound._selected_names()
            labels = [expression for expression, _, _, _ in names if isinstance(expression, el.Label)]
            sql += " ORDER BY " + ", ".join(
                self.process(c, select_names=names, order_by_labels=labels, include_table=False, bare_columns=True)
                for c in compound._order_by
            )
        return sql + self._limit_offset(compound)

    # -- FROM --------------------------------------------------------------------------------------

    def _from_name(self, from_: Any) -> str:
        """The name a FROM goes by in this statement (anonymous ones numbered: ``anon_1``)."""
        key = id(getattr(from_, "_cte_key", from_))
        name = self._from_names.get(key)
        if name is None:
            if getattr(from_, "_anonymous", False):
                name = quote(self._anon_label(from_.name))
            else:
                name = quote(from_.name)
            self._from_names[key] = name
        return name

    def visit_table(self, table: Table, **kw: Any) -> str:
        return quote(table.name)

    def visit_alias(self, alias: Any, **kw: Any) -> str:
        return f"{self.process(alias.element, asfrom=True)} AS {self._from_name(alias)}"

    def visit_subquery(self, subquery: Any, **kw: Any) -> str:
        self._select_stack.append(None)  # a FROM subquery does not correlate
        try:
            inner = self.process(subquery.element, record_columns=False, subquery=True)
        finally:
            self._select_stack.pop()
        return f"({inner}) AS {self._from_name(subquery)}"

    def visit_cte(self, cte: Any, **kw: Any) -> str:
        name = self._from_name(cte)
        key = cte._cte_key
        if key in self.ctes:
            return name  # defined already, or being defined (a recursive CTE reading itself)
        self.ctes[key] = ("", [])
        binds = self.compiled.binds
        start = len(binds)
        self._select_stack.append(None)
        try:
            body = self.process(cte.element, record_columns=False, subquery=True)
        finally:
            self._select_stack.pop()
        own_binds = binds[start:]
        del binds[start:]
        head = name
        if cte.recursive:
            self._ctes_recursive = True
            head += "(" + ", ".join(quote(c.name) for c in cte.columns) + ")"
        # re-insert so the definition follows any CTE it reads (those finished first)
        del self.ctes[key]
        self.ctes[key] = (f"{head} AS \n({body})", own_binds)
        return name

    def prefix_ctes(self) -> None:
        """Write ``WITH ...`` before the statement; the CTEs' binds come first, as in the text."""
        definitions = [definition for definition, _ in self.ctes.values()]
        keyword = "WITH RECURSIVE " if self._ctes_recursive else "WITH "
        self.compiled.string = keyword + ", ".join(definitions) + "\n " + self.compiled.string
        leading = [bind for _, binds in self.ctes.values() for bind in binds]
        self.compiled.binds[:0] = leading

    def visit_join(self, join: Any, **kw: Any) -> str:
        keyword = "FULL OUTER JOIN" if join.full else "LEFT OUTER JOIN" if join.isouter else "JOIN"
        return (
            f"{self.process(join.left, asfrom=True)} {keyword} {self.process(join.right, asfrom=True)} "
            f"ON {self.process(join.onclause)}"
        )

    def visit_insert(self, insert: Any, **kw: Any) -> str:
        table: Table = insert.table
        if insert._multi_values:
            return self._insert_multi_values(insert)
        given_keys = set(insert._values)
        if self.column_keys is not None:
            given_keys.update(self.column_keys)
        elif not insert._values:
            # str(insert(t)) with nothing given shows every column, as SQLAlchemy does
            given_keys.update(table.c.keys())
        names: list[str] = []
        values: list[str] = []
        all_bound = True  # every value one bound parameter (then a many-row form exists)
        for column in table.columns:
            if column.key in insert._values:
                value = insert._values[column.key]
                element = value if isinstance(value, el.ClauseElement) else el.BindParameter(
                    column.key, value, type_=column.type
                )
            elif column.key in given_keys:
                element = el.BindParameter(column.key, type_=column.type, required=True)
            elif column.default is not None:
                element = el.BindParameter(column.key, type_=column.type, callable_=column.default_value)
            else:
                continue
            if not isinstance(element, el.BindParameter):
                all_bound = False
            self.compiled.insert_columns.append(column)
            names.append(quote(column.name))
            values.append(self.process(element))
        unknown = given_keys - set(table.c.keys())
        if unknown:
            raise CompileError(
                f"Unconsumed column names: {', '.join(sorted(unknown))} (table {table.name!r})"
            )
        returning = self._returning(insert)
        if names:
            head = f"INSERT INTO {quote(table.name)} ({', '.join(names)})"
            sql = f"{head} VALUES ({', '.join(values)})"
            if all_bound and self.compiled.positional:
                self.compiled._insert_many_form = (head, len(names), returning)
        else:
            sql = f"INSERT INTO {quote(table.name)} DEFAULT VALUES"
        return sql + returning

    def _insert_multi_values(self, insert: Any) -> str:
        table: Table = insert.table
        keys = set().union(*(row.keys() for row in insert._multi_values))
        columns = [c for c in table.columns if c.key in keys or c.default is not None]
        self.compiled.insert_columns.extend(columns)
        groups = []
        for index, row in enumerate(insert._multi_values):
            parts = []
            for column in columns:
                if column.key in row:
                    value = row[column.key]
                    element = value if isinstance(value, el.ClauseElement) else el.BindParameter(
                        f"{column.key}_m{index}", value, type_=column.type
                    )
                elif column.default is not None:
                    element = el.BindParameter(
                        f"{column.key}_m{index}", type_=column.type, callable_=column.default_value
                    )
                else:
                    element = el.Null()
                parts.append(self.process(element))
            groups.append("(" + ", ".join(parts) + ")")
        names = ", ".join(quote(c.name) for c in columns)
        return f"INSERT INTO {quote(table.name)} ({names}) VALUES {', '.join(groups)}" + self._returning(insert)

    def _returning(self, statement: Any) -> str:
        if not statement._returning:
            return ""
        seen: dict[str, int] = {}
        parts = []
        for column in statement._returning:
            self.compiled.returning_columns.append(column)
            if isinstance(column, Column):
                parts.append(self.visit_column(column, include_table=False))
                self.compiled.result_columns.append((column.key, column.type, column))
            else:
                parts.append(self._result_column(column, seen))
        return " RETURNING " + ", ".join(parts)

    def visit_update(self, update: Any, **kw: Any) -> str:
        table: Table = update.table
        sets = []
        values = dict(update._values)
        if self.column_keys is not None:
            for key in self.column_keys:
                values.setdefault(key, el.BindParameter(key, required=True))
        for column in table.columns:
            if column.key not in values:
                continue
            value = values[column.key]
            if isinstance(value, el.BindParameter) and value.required:
                value.type = column.type
                element: Any = value
            elif isinstance(value, el.ClauseElement) or hasattr(value, "__clause_element__"):
                element = el.coerce_expression(value)
            else:
                element = el.BindParameter(column.key, value, type_=column.type)
            sets.append(f"{quote(column.name)}={self.process(element)}")
        if not sets:
            raise CompileError(f"UPDATE of {table.name!r} has no values to SET")
        sql = f"UPDATE {quote(table.name)} SET {', '.join(sets)}"
        sql += self._dml_where(update)
        return sql + self._returning(update)

    def visit_delete(self, delete: Any, **kw: Any) -> str:
        sql = f"DELETE FROM {quote(delete.table.name)}"
        sql += self._dml_where(delete)
        return sql + self._returning(delete)


#: ``:name`` in ``text()`` (as text: compiled and cached by ``re`` on first use, see quote())
_TEXT_BIND = r"(?<![:\w\\]):(\w+)(?!:)"


def ddl_create_table(table: Table) -> str:
    """``CREATE TABLE`` for ``table``, laid out as SQLAlchemy prints it."""
    lines = []
    for column in table.columns:
        line = f"{quote(column.name)} {column.type.ddl()}"
        if not column.nullable:
            line += " NOT NULL"
        if column.server_default is not None:
            # a string is a literal value (server_default="(unknown)" stores '(unknown)');
            # SQL is given as text("(lower(hex(randomblob(8))))")
            default = column.server_default
            line += " DEFAULT " + (default.text if isinstance(default, el.TextClause) else _sql_literal(default))
        lines.append(line)
    pk = list(table.primary_key.columns)
    if pk:
        lines.append("PRIMARY KEY (" + ", ".join(quote(c.name) for c in pk) + ")")
    for column in table.columns:
        if column.unique:
            lines.append(f"UNIQUE ({quote(column.name)})")
    for constraint in table.constraints:
        lines.append("UNIQUE (" + ", ".join(quote(n) for n in constraint.column_names) + ")")
    for column in table.columns:
        for fk in column.foreign_keys:
            target = fk.column
            line = (
                f"FOREIGN KEY({quote(column.name)}) REFERENCES "
                f"{quote(target.table.name)} ({quote(target.name)})"
            )
            if fk.ondelete is not None:
                line += " ON DELETE " + validate_sql_phrase(fk.ondelete, f"{fk!r} ondelete")
            if fk.onupdate is not None:
                line += " ON UPDATE " + validate_sql_phrase(fk.onupdate, f"{fk!r} onupdate")
            lines.append(line)
    return f"CREATE TABLE {quote(table.name)} (\n\t" + ", \n\t".join(lines) + "\n)"


def ddl_drop_table(table: Table) -> str:
    """``DROP TABLE`` for ``table``."""
    return f"DROP TABLE {quote(table.name)}"


def _sql_literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    raise CompileError(f"Cannot render {value!r} as a SQL literal in DDL")

