"""Broken CSV files and what the error about each must say: shared by the data and the CLI tests."""

BAD_CSVS = [
    (b"", "the file is empty"),
    (b"body\n", "no rows after the header"),
    (b"body\n\xff\xfe broken\n", "not UTF-8 text"),
    (b'body\n"a\x00b"\n', "malformed CSV"),
    (b"body\nok\nyes.\n", "no usable sentences"),
]
