"""The rule language: reading, checking and evaluating rule files. Pure: no I/O, no clock."""
