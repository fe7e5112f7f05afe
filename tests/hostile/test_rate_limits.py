"""Rate limits on SMTP ([smtp] connections_per_minute, messages_per_minute,
recipients_per_minute, user_*_per_minute, max_refused_recipients): a client
address that opens connections, sends messages or tries recipients faster
than its allowance gets 421 4.7.0 (connections) or 451 4.7.1, an address
prober is dropped after its refused recipients, an authenticated user is
limited whatever address it comes from, and a well-behaved client beside
them (another 127.0.0.x address) is not affected. Loopback is exempt by
default, so these tests empty rate_limit_exempt."""
import base64

from hostile import PASSWORD, USER, Line, add_users, daemon_with, finish, log_lines

LIMITS = {"greeting_delay": "0", "rate_limit_exempt": ""}


def smtp(d, source, service="smtp"):
    c = Line(d.port(service), source)
    greeting = c.line()
    return c, greeting


def ehlo(c):
    return c.cmd("EHLO client.example").startswith("250") and c.until("250 ")


def send_message(c, rcpt=USER, sender="sender@example.org"):
    """One transaction; returns the first refusal or the final reply."""
    reply = c.cmd(f"MAIL FROM:<{sender}>")
    if not reply.startswith("250"):
        return reply
    reply = c.cmd(f"RCPT TO:<{rcpt}>")
    if not reply.startswith("250"):
        c.cmd("RSET")
        return reply
    assert c.cmd("DATA").startswith("354")
    c.send("Subject: rate\r\n\r\nhello\r\n.\r\n")
    return c.line()


def test_connection_rate_per_address(tmp_path):
    d = daemon_with(tmp_path, {"smtp": dict(LIMITS, connections_per_minute="5")})
    try:
        for _ in range(5):
            c, greeting = smtp(d, "127.0.5.1")
            assert greeting.startswith("220"), greeting
            assert c.cmd("QUIT").startswith("221")
            c.close()
        # The sixth within the minute is refused at once and closed.
        for _ in range(20):
            c, greeting = smtp(d, "127.0.5.1")
            assert greeting.startswith("421 4.7.0"), greeting
            assert c.closed()
            c.close()
        # Other addresses have their own allowance: many of them at once.
        for i in range(2, 60):
            c, greeting = smtp(d, f"127.0.5.{i}")
            assert greeting.startswith("220"), (i, greeting)
            c.close()
        # A well-behaved client keeps sending mail meanwhile.
        c, greeting = smtp(d, "127.0.6.1")
        assert greeting.startswith("220")
        ehlo(c)
        assert send_message(c).startswith("250")
        c.close()
        assert log_lines(d, r"rate limit connections \(5 per minute\) "
                            r"reached by 127\.0\.5\.1")
    finally:
        finish(d)


def test_message_flood_per_address(tmp_path):
    d = daemon_with(tmp_path, {"smtp": dict(LIMITS, messages_per_minute="4")})
    try:
        flood, _ = smtp(d, "127.0.7.1")
        ehlo(flood)
        for _ in range(4):
            assert send_message(flood).startswith("250")
        # Each MAIL past the allowance: 451 4.7.1, nothing stored.
        for _ in range(10):
            assert send_message(flood).startswith("451 4.7.1")
        # A new connection from the same address gets no new allowance.
        again, _ = smtp(d, "127.0.7.1")
        ehlo(again)
        assert send_message(again).startswith("451 4.7.1")
        # A client from elsewhere sends as usual.
        good, _ = smtp(d, "127.0.7.2")
        ehlo(good)
        for _ in range(4):
            assert send_message(good).startswith("250")
        for c in (flood, again, good):
            c.close()
        assert len(d.inbox(USER)) >= 8
        stored = [m for _, m in d.inbox(USER) if b"Subject: rate" in m]
        assert len(stored) == 8
    finally:
        finish(d)


def test_recipient_rate_per_address(tmp_path):
    d = daemon_with(tmp_path, {"smtp": dict(LIMITS, recipients_per_minute="6")})
    try:
        c, _ = smtp(d, "127.0.8.1")
        ehlo(c)
        assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
        for _ in range(6):
            assert c.cmd(f"RCPT TO:<{USER}>").startswith("250")
        assert c.cmd(f"RCPT TO:<{USER}>").startswith("451 4.7.1")
        # The message still goes to the recipients it got.
        assert c.cmd("DATA").startswith("354")
        c.send("Subject: many\r\n\r\nx\r\n.\r\n")
        assert c.line().startswith("250")
        good, _ = smtp(d, "127.0.8.2")
        ehlo(good)
        assert send_message(good).startswith("250")
        c.close()
        good.close()
    finally:
        finish(d)


def test_recipient_probing_drops_the_session(tmp_path):
    d = daemon_with(tmp_path, {"smtp": dict(LIMITS, max_refused_recipients="5")})
    try:
        c, _ = smtp(d, "127.0.9.1")
        ehlo(c)
        assert c.cmd("MAIL FROM:<probe@example.org>").startswith("250")
        # Pipelined guesses: five refusals, then 421 and the end.
        c.send("".join(f"RCPT TO:<guess{i}@localhost>\r\n" for i in range(50)))
        replies = []
        try:
            while True:
                replies.append(c.line())
        except (EOFError, OSError):
            pass
        assert [r[:3] for r in replies[:5]] == ["550"] * 5, replies
        assert replies[5].startswith("421 4.7.0"), replies
        assert len(replies) == 6, replies
        # The prober may come back, and the budget is per session; a real
        # sender beside it is unaffected.
        good, _ = smtp(d, "127.0.9.2")
        ehlo(good)
        assert good.cmd("MAIL FROM:<a@example.org>").startswith("250")
        assert good.cmd("RCPT TO:<nobody@localhost>").startswith("550")
        assert good.cmd(f"RCPT TO:<{USER}>").startswith("250")
        good.close()
        assert log_lines(d, r"5 recipients refused, dropping the session")
    finally:
        finish(d)


def auth_plain(c, user, password=PASSWORD):
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    return c.cmd(f"AUTH PLAIN {token}")


def test_authenticated_user_rate(tmp_path):
    d = daemon_with(tmp_path, {"smtp": dict(LIMITS, user_messages_per_minute="3",
                                            user_recipients_per_minute="100")})
    try:
        other = add_users(d, 1, prefix="other")[0]
        # One user from two addresses shares one allowance.
        a, _ = smtp(d, "127.0.10.1", "submission")
        ehlo(a)
        assert auth_plain(a, USER).startswith("235")
        b, _ = smtp(d, "127.0.10.2", "submission")
        ehlo(b)
        assert auth_plain(b, USER).startswith("235")
        assert send_message(a, sender=USER).startswith("250")
        assert send_message(b, sender=USER).startswith("250")
        assert send_message(a, sender=USER).startswith("250")
        assert send_message(b, sender=USER).startswith("451 4.7.1")
        assert send_message(a, sender=USER).startswith("451 4.7.1")
        # Another user from the same address is not limited by it.
        c, _ = smtp(d, "127.0.10.1", "submission")
        ehlo(c)
        assert auth_plain(c, other).startswith("235")
        for _ in range(3):
            assert send_message(c, sender=other).startswith("250")
        for x in (a, b, c):
            x.close()
        assert log_lines(d, r"rate limit user_messages \(3 per minute\) "
                            r"reached by demo@localhost")
    finally:
        finish(d)


def test_loopback_is_exempt_by_default(tmp_path):
    d = daemon_with(tmp_path, {"smtp": {"greeting_delay": "0",
                                        "messages_per_minute": "2",
                                        "connections_per_minute": "2"}})
    try:
        for _ in range(4):
            c, greeting = smtp(d, "127.0.11.1")
            assert greeting.startswith("220")
            ehlo(c)
            assert send_message(c).startswith("250")
            c.close()
    finally:
        finish(d)
