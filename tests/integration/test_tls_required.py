"""RFC 8689 "TLS-Required: No": a message carrying the header field (and
not sent with REQUIRETLS) is delivered despite a `tls = required` or
`tls = verify` route or a DANE TLSA mismatch, with the header intact; the
same message without the field stays deferred. With REQUIRETLS the field
is ignored."""
from test_outbound import (Sink, fast_conf, free_port, inbox, make_tls_context, message,
                           queue_count, queue_show, reports, route_conf, sender_daemon, submit,
                           wait_for)
from test_outbound_dane import signed_zone_server, spki_sha256
from test_outbound_requiretls import submit_requiretls
from test_sendmail import sendmail
from conftest import Posthornd


def relaxed(subject, to="x@remote.test"):
    """A message whose header says TLS-Required: No (folded, lower case)."""
    return message(subject, to).replace(b"\r\n\r\n", b"\r\nTLS-Required:\r\n no\r\n\r\n", 1)


def queued_flags(daemon):
    return daemon.sql("SELECT requiretls, tls_optional FROM queue ORDER BY id")


def subjects(sink):
    return [m[2].split(b"Subject: ")[1].split(b"\r\n")[0].decode() for m in sink.messages]


def test_tls_required_route_without_starttls(tmp_path):
    sink = Sink().start()	# no STARTTLS
    sender = sender_daemon(tmp_path, route_conf(sink, opts=" tls=required",
                                                retry_min="1h", retry_max="2h"))
    try:
        # without the field: deferred, nothing sent
        submit(sender, ["x@remote.test"], message("strict", "x@remote.test"))
        assert wait_for(lambda: "TLS is required" in queue_show(sender))
        assert sink.messages == []
        assert queued_flags(sender) == [(0, 0)]

        # with it: delivered in plaintext, the field travels on
        submit(sender, ["y@remote.test"], relaxed("relaxed", "y@remote.test"))
        assert wait_for(lambda: len(sink.messages) == 1)
        mail_from, rcpts, content, _ = sink.messages[0]
        assert rcpts == ["y@remote.test"]
        assert b"\r\nTLS-Required:\r\n no\r\n\r\n" in content
        assert subjects(sink) == ["relaxed"]
        assert "TLS-Required: No relaxed the TLS policy" in sender.log()
        # the strict one is still waiting; no report for either
        assert wait_for(lambda: queue_count(sender) == 1)
        assert queued_flags(sender) == [(0, 0)]
        assert reports(sender) == []

        # `posthorn sendmail` takes the same path
        r = sendmail(sender, ["z@remote.test"], relaxed("by sendmail", "z@remote.test"))
        assert r.returncode == 0, r.stderr
        assert wait_for(lambda: len(sink.messages) == 2)
        assert subjects(sink) == ["relaxed", "by sendmail"]
        assert b"TLS-Required:" in sink.messages[1][2]
        assert wait_for(lambda: queue_count(sender) == 1)	# the sink has it before the queue forgets it
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_field_in_the_body_does_not_count(tmp_path):
    sink = Sink().start()
    sender = sender_daemon(tmp_path, route_conf(sink, opts=" tls=required",
                                                retry_min="1h", retry_max="2h"))
    try:
        submit(sender, ["x@remote.test"],
               message("quoted", "x@remote.test", body="TLS-Required: No\r\n"))
        assert wait_for(lambda: "TLS is required" in queue_show(sender))
        assert queued_flags(sender) == [(0, 0)]
        assert sink.messages == []
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_tls_verify_route_with_an_unverifiable_certificate(tmp_path):
    # STARTTLS works, but the self-signed certificate cannot verify
    sink = Sink(tls_context=make_tls_context(tmp_path)).start()
    sender = sender_daemon(tmp_path, route_conf(sink, opts=" tls=verify",
                                                retry_min="1h", retry_max="2h"))
    try:
        submit(sender, ["x@remote.test"], message("must verify", "x@remote.test"))
        assert wait_for(lambda: "does not verify" in queue_show(sender))
        assert sink.messages == []

        submit(sender, ["y@remote.test"], relaxed("unverified is fine", "y@remote.test"))
        assert wait_for(lambda: len(sink.messages) == 1)
        assert subjects(sink) == ["unverified is fine"]
        assert b"TLS-Required:" in sink.messages[0][2]
        assert ("TLS-Required: No relaxed the TLS policy: certificate does not verify"
                in sender.log())
        assert queue_count(sender) == 1
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_requiretls_ignores_the_field(tmp_path):
    sink = Sink().start()	# no STARTTLS
    sender = sender_daemon(tmp_path, route_conf(sink, opts=" tls=required",
                                                retry_min="1h", retry_max="2h"))
    try:
        submit_requiretls(sender, ["x@remote.test"], relaxed("both", "x@remote.test"))
        assert wait_for(lambda: "TLS is required" in queue_show(sender))
        assert queued_flags(sender) == [(1, 0)]
        assert sink.messages == []
        assert "TLS-Required: No relaxed" not in sender.log()
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_dane_mismatch(tmp_path):
    # the MX of bad.dane.test publishes a TLSA record for another key
    receiver = Posthornd(tmp_path / "receiver").start()
    dns_port = free_port()
    unbound = None
    try:
        receiver.cli("domain", "add", "bad.dane.test", check=True)
        receiver.cli("user", "add", "eve@bad.dane.test", "--password-stdin",
                     input="secret\n", check=True)
        good = spki_sha256(tmp_path / "receiver" / "tls" / "cert.pem")
        unbound, anchor = signed_zone_server(tmp_path / "zone", dns_port,
                                             receiver.port("smtp"), good)
        sender = sender_daemon(tmp_path, fast_conf(
            f"smtp_port = {receiver.port('smtp')}\n"
            f"[dns]\nupstream = 127.0.0.1@{dns_port}\ntrust_anchor = {anchor}\n",
            retry_min="1h", retry_max="2h"))
        try:
            submit(sender, ["eve@bad.dane.test"], message("strict", "eve@bad.dane.test"))
            assert wait_for(lambda: "refused" in queue_show(sender))
            assert inbox(receiver, "eve@bad.dane.test") == []

            submit(sender, ["eve@bad.dane.test"], relaxed("relaxed", "eve@bad.dane.test"))
            got = wait_for(lambda: inbox(receiver, "eve@bad.dane.test"))
            assert len(got) == 1 and b"Subject: relaxed" in got[0]
            assert b"\r\nTLS-Required:\r\n no\r\n" in got[0]
            # still over TLS, just not authenticated
            assert b"with ESMTPS" in got[0]
            assert ("TLS-Required: No relaxed the TLS policy: certificate refused"
                    in sender.log())
            assert wait_for(lambda: queue_count(sender) == 1)
        finally:
            sender.stop()
            sender.assert_clean()
    finally:
        if unbound is not None:
            unbound.terminate()
            unbound.wait()
        receiver.stop()
        receiver.assert_clean()
