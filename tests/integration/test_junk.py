"""Junk filing on port 25 ([smtp] junk_score): a message whose spam
verdict (X-Spam-Flag, X-Spam-Status, X-Spamd-Result, X-Rspamd-Score) was
written by a trusted relay (trusted_networks) lands in the Junk mailbox
of its local recipients, seen over IMAP in the folder with \\Junk (made
with \\Junk when the user deleted it); the same fields from an untrusted
client are not believed; the outbound copy is not touched; junk_score =
off files nothing."""
import imaplib
import re
import socket

from test_smtp import held_daemon, queued  # noqa: F401

USER, PASSWORD = "demo@localhost", "demo"
RELAY, STRANGER = "127.0.0.40", "127.0.0.41"


def configured(tmp_path, keys=""):
    return held_daemon(tmp_path / "data",
                       "\n[smtp]\ngreeting_delay = 0\n"
                       f"trusted_networks = {RELAY}/32\n" + keys)


def finish(d):
    status = d.stop()
    d.assert_clean()
    assert status == 0, d.log()


def message(tag, fields):
    return (f"{fields}From: Alice <alice@example.org>\r\n"
            f"To: demo@localhost\r\nSubject: {tag}\r\n"
            f"Message-ID: <{tag}@example.org>\r\n\r\nbody of {tag}\r\n").encode()


def send(d, source, data, rcpts=(USER,)):
    """One transaction from source over a raw socket (smtplib cannot bind
    a source address on every Python); returns the final reply line."""
    sock = socket.create_connection(("127.0.0.1", d.port("smtp")), timeout=10,
                                    source_address=(source, 0))
    f = sock.makefile("rwb")

    def cmd(line):
        if line is not None:
            f.write(line.encode() + b"\r\n")
            f.flush()
        while True:
            reply = f.readline().decode()
            if reply[3:4] != "-":
                return reply

    assert cmd(None).startswith("220")
    assert cmd("EHLO relay.example").startswith("250")
    assert cmd("MAIL FROM:<alice@example.org>").startswith("250")
    for r in rcpts:
        assert cmd(f"RCPT TO:<{r}>").startswith("250")
    assert cmd("DATA").startswith("354")
    f.write(data + b".\r\n")
    f.flush()
    reply = cmd(None)
    cmd("QUIT")
    sock.close()
    return reply


def imap(d):
    c = imaplib.IMAP4("127.0.0.1", d.port("imap"))
    c.login(USER, PASSWORD)
    return c


def junk_folder(c):
    """The name of the mailbox LIST shows with \\Junk, or None."""
    typ, lines = c.list()
    assert typ == "OK"
    for line in lines:
        text = line.decode()
        if "\\Junk" in text:
            return re.search(r'"([^"]*)"$|(\S+)$', text).group(1) or text.split()[-1]
    return None


def subjects(c, mailbox):
    typ, exists = c.select(f'"{mailbox}"')
    assert typ == "OK", mailbox
    if int(exists[0]) == 0:
        return []
    typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    return sorted(part[1].decode().split(":", 1)[1].strip()
                  for part in data if isinstance(part, tuple))


def test_trusted_relay_verdict_files_to_junk(tmp_path):
    d = configured(tmp_path)
    try:
        assert send(d, RELAY, message("relay-flag", "X-Spam-Flag: YES\r\n")).startswith("250")
        assert send(d, RELAY, message("relay-score",
                                      "X-Spamd-Result: default: False [7.50 / 15.00];\r\n"
                                      "\tBAYES_SPAM(5.10)[99.99%]\r\n"
                                      "X-Rspamd-Score: 7.5\r\n")).startswith("250")
        assert send(d, RELAY, message("relay-ham",
                                      "X-Spam-Status: No, score=2.1 required=5.0\r\n"
                                      "X-Spam-Flag: NO\r\n")).startswith("250")
        # The same fields from a stranger on port 25 are not believed.
        assert send(d, STRANGER, message("forged-flag", "X-Spam-Flag: YES\r\n"
                                         "X-Rspamd-Score: 99\r\n")).startswith("250")
        c = imap(d)
        junk = junk_folder(c)
        assert junk == "Junk"
        assert subjects(c, junk) == ["relay-flag", "relay-score"]
        assert {"forged-flag", "relay-ham"} <= set(subjects(c, "INBOX"))
        assert not {"relay-flag", "relay-score"} & set(subjects(c, "INBOX"))
        c.logout()
        assert re.search(r"junk: trusted relay verdict flag=yes", d.log())
    finally:
        finish(d)


def test_junk_recreated_and_outbound_copy_untouched(tmp_path):
    d = configured(tmp_path)
    try:
        c = imap(d)
        typ, _ = c.delete("Junk")
        assert typ == "OK"
        assert junk_folder(c) is None
        assert send(d, RELAY, message("spam-mixed", "X-Spam-Flag: YES\r\n"),
                    rcpts=(USER, "someone@remote.example")).startswith("250")
        # Made again, with \Junk, holding the message; INBOX untouched.
        assert junk_folder(c) == "Junk"
        assert subjects(c, "Junk") == ["spam-mixed"]
        assert "spam-mixed" not in subjects(c, "INBOX")
        c.logout()
        # The remote recipient's copy is queued as it came.
        rows = [r for r in queued(d) if r[1] == "someone@remote.example"]
        assert len(rows) == 1 and b"Subject: spam-mixed" in rows[0][2]
    finally:
        finish(d)


def test_threshold_and_off(tmp_path):
    d = configured(tmp_path, "junk_score = 8\n")
    try:
        assert send(d, RELAY, message("below", "X-Rspamd-Score: 7.9\r\n")).startswith("250")
        assert send(d, RELAY, message("at", "X-Rspamd-Score: 8.0\r\n")).startswith("250")
        c = imap(d)
        assert subjects(c, "Junk") == ["at"]
        c.logout()
    finally:
        finish(d)
    d = configured(tmp_path / "off", "junk_score = off\n")
    try:
        assert send(d, RELAY, message("off", "X-Spam-Flag: YES\r\n")).startswith("250")
        c = imap(d)
        assert subjects(c, "Junk") == []
        assert "off" in subjects(c, "INBOX")
        c.logout()
    finally:
        finish(d)
