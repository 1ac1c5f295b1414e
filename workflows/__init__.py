"""The definition format, the template engine and the interpreter.

Pure code: nothing here does I/O, so it runs inside Temporal's deterministic sandbox and
validation needs no server.
"""
