"""Compiled (Cython) twins of the hot-path modules, built from ``ext/*.pyx`` by setup.py.

Each module here has a pure-Python twin under ``minialchemy.orm`` with the same classes
and methods.  Library code does not import this package directly: it asks
``minialchemy._accel``, which loads these twins or falls back to the Python ones.
"""
