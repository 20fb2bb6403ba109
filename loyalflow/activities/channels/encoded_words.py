"""RFC 2047 encoded words for header text, folded so every line stays within RFC 2047's limits.

The standard library's encoders miss one rule or another: the modern folder
(`email.policy.default`, Python 3.11) moves the space between two words outside the encoded words
when it folds, and readers drop it ("attend, Zoé" comes back as "attend,Zoé"); the legacy
`email.header.Header` keeps the spaces but writes encoded words of up to 77 characters on lines of
78, over RFC 2047's 75 and 76. This module does what both RFCs ask:

- each encoded word holds whole characters (RFC 2047 5: never part of a UTF-8 sequence), and
  every space stays inside an encoded word, so the text round-trips exactly;
- each encoded word is at most 75 characters and each line at most 76 (RFC 2047 2);
- each word is Q or B encoded, whichever is shorter (Q for mostly Latin text, B for the rest).
"""

from email import base64mime, quoprimime

CHARSET = "utf-8"
MAX_WORD = 75  # RFC 2047 2: an encoded word
MAX_LINE = 76  # RFC 2047 2: a line holding encoded words
_SMALLEST_ROOM = 20  # room for any one character (4 UTF-8 bytes as B: 8) and the word's frame


def needs_encoding(text: str, first_line_room: int) -> bool:
    """True when `text` cannot be written as plain folded ASCII: non-ASCII, something a reader
    would take for an encoded word ("=?"), or a word longer than any line could hold."""
    if not text.isascii() or "=?" in text:
        return True
    return any(len(word) > first_line_room for word in text.split())


def encode_word(text: str) -> str:
    """One encoded word for `text`, Q or B, whichever is shorter."""
    data = text.encode(CHARSET)
    q_word = quoprimime.header_encode(data, charset=CHARSET)
    b_word = base64mime.header_encode(data, charset=CHARSET)
    return q_word if len(q_word) <= len(b_word) else b_word


def fold_encoded(text: str, first_line_room: int) -> str:
    """`text` as encoded words joined by folding whitespace ("\\n "), the first fitting in
    `first_line_room` characters (what is left of the first line after "Name: "), the others
    on lines of their own."""
    room = max(min(first_line_room, MAX_WORD), _SMALLEST_ROOM)
    words: list[str] = []
    chunk = ""
    for character in text:
        candidate = chunk + character
        if chunk and len(encode_word(candidate)) > room:
            words.append(encode_word(chunk))
            chunk, room = character, MAX_LINE - 1  # a continuation line starts with one space
        else:
            chunk = candidate
    if chunk:
        words.append(encode_word(chunk))
    return "\n ".join(words)
