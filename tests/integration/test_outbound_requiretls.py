"""Outbound REQUIRETLS (RFC 8689 5): a message submitted with MAIL FROM
... REQUIRETLS goes out only over authenticated TLS to a peer that offers
REQUIRETLS, and the flag is passed on; plaintext or an unverified
certificate bounces with 5.7.30."""
import smtplib
import ssl
import time

from test_outbound import (Sink, dsn_fields, fast_conf, make_tls_context, message, queue_count,
                           reports, route_conf, sender_daemon, wait_for)
from conftest import Posthornd


def submit_requiretls(daemon, rcpts, data):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", daemon.port("submission"), timeout=10) as s:
        s.starttls(context=ctx)
        s.login("demo@localhost", "demo")
        s.ehlo()
        assert s.has_extn("requiretls")
        return s.sendmail("demo@localhost", rcpts, data, mail_options=["REQUIRETLS"])


def queued_requiretls(daemon):
    return daemon.sql("SELECT requiretls FROM queue")


def test_requiretls_to_a_verified_peer_is_passed_on(tmp_path):
    # the receiver relays for loopback to a route where nobody listens, so
    # the message stays in its queue, where its REQUIRETLS flag is visible
    receiver = Posthornd(tmp_path / "receiver")
    receiver.start()
    receiver.stop()
    with open(receiver.config_path, "a") as fh:
        fh.write("\n[smtp]\ntrusted_networks = 127.0.0.0/8\n"
                 "[queue]\nretry_min = 1h\nretry_max = 2h\n"
                 "[routes]\nfar.test = 127.0.0.1:1\n")
    receiver.start()
    try:
        cert = tmp_path / "receiver" / "tls" / "cert.pem"
        sender = sender_daemon(tmp_path, fast_conf(
            f"ca_file = {cert}\n"
            f"[routes]\nfar.test = localhost:{receiver.port('smtp')} tls=verify\n"))
        try:
            submit_requiretls(sender, ["bob@far.test"], message("secret", "bob@far.test"))
            assert wait_for(lambda: queue_count(sender) == 0)
            assert wait_for(lambda: queued_requiretls(receiver)) == [(1,)]
            assert reports(sender) == []
        finally:
            sender.stop()
            sender.assert_clean()
    finally:
        receiver.stop()
        receiver.assert_clean()


def test_requiretls_without_starttls_bounces(tmp_path):
    sink = Sink().start()
    sender = sender_daemon(tmp_path, route_conf(sink))
    try:
        submit_requiretls(sender, ["x@remote.test"], message("must be tls", "x@remote.test"))
        dsns = wait_for(lambda: reports(sender))
        assert len(dsns) == 1
        _, rcpts = dsn_fields(dsns[0])
        assert rcpts[0]["Action"] == "failed"
        assert rcpts[0]["Status"] == "5.7.30"
        assert "REQUIRETLS" in rcpts[0]["Diagnostic-Code"]
        assert wait_for(lambda: queue_count(sender) == 0)
        # never sent in plaintext; a message without REQUIRETLS still goes
        time.sleep(0.5)
        assert sink.messages == []
        with smtplib.SMTP("127.0.0.1", sender.port("submission"), timeout=10) as s:
            s.login("demo@localhost", "demo")
            s.sendmail("demo@localhost", ["y@remote.test"], message("plain", "y@remote.test"))
        assert wait_for(lambda: len(sink.messages) == 1)
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_requiretls_over_unverified_tls_bounces(tmp_path):
    # STARTTLS works, but the route does not verify the certificate
    sink = Sink(tls_context=make_tls_context(tmp_path)).start()
    sender = sender_daemon(tmp_path, route_conf(sink))
    try:
        submit_requiretls(sender, ["x@remote.test"], message("unverified", "x@remote.test"))
        dsns = wait_for(lambda: reports(sender))
        assert len(dsns) == 1
        _, rcpts = dsn_fields(dsns[0])
        assert rcpts[0]["Status"] == "5.7.30"
        assert "not authenticated" in rcpts[0]["Diagnostic-Code"]
        assert sink.messages == []
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()
