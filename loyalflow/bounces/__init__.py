"""Bounces and complaints after the SMTP conversation (issue 16): an SMTP/LMTP receiver for the
mail server's bounce mail, RFC 3464 and RFC 5965 parsing, and their effect on members."""
