"""The SQL expression language: schema objects, expressions, statements and their compiler.

Nothing here talks to a database: these modules only build trees of Python objects and turn
them into SQL text plus parameters.  :mod:`minialchemy.engine` executes the result.
"""
