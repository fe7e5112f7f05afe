"""DANE (RFC 7672) end to end: a DNSSEC-signed zone (ldns-signzone) served
by an unprivileged unbound auth-zone on loopback, the sending posthornd
validating with the zone's DS as trust anchor, and TLSA 3 1 1 records for
the receiving posthornd's dev certificate: a match is delivered over TLS,
a mismatch is deferred and never sent in plaintext. DANE also counts as
authenticated TLS for REQUIRETLS."""
import hashlib
import shutil
import subprocess
import time

import pytest

from test_outbound import (free_port, inbox, message, queue_count, sender_daemon,
                           fast_conf, submit, wait_for)
from test_outbound_requiretls import submit_requiretls
from conftest import Posthornd

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
LDNS_KEYGEN = shutil.which("ldns-keygen") or "/usr/bin/ldns-keygen"
LDNS_SIGNZONE = shutil.which("ldns-signzone") or "/usr/bin/ldns-signzone"


def spki_sha256(cert_path):
    """SHA-256 of the certificate's SubjectPublicKeyInfo (TLSA 3 1 1)."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert_path), "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def signed_zone_server(zdir, port, smtp_port, good_hash):
    """Sign dane.test and serve it with unbound on 127.0.0.1:port; returns
    (process, trust anchor file)."""
    zdir.mkdir()
    zone = zdir / "dane.test.zone"
    zone.write_text(
        "$ORIGIN dane.test.\n$TTL 300\n"
        "@ IN SOA ns.dane.test. admin.dane.test. 1 3600 600 86400 300\n"
        "@ IN NS ns.dane.test.\nns IN A 127.0.0.1\n"
        # the good MX: its TLSA matches the receiver's key
        "@ IN MX 10 mx.dane.test.\nmx IN A 127.0.0.1\n"
        f"_{smtp_port}._tcp.mx IN TLSA 3 1 1 {good_hash}\n"
        # the bad one: same server, a TLSA for some other key
        "bad IN MX 10 mxbad.dane.test.\nmxbad IN A 127.0.0.1\n"
        f"_{smtp_port}._tcp.mxbad IN TLSA 3 1 1 {'ab' * 32}\n")
    key = subprocess.run([LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-k", "dane.test"],
                         cwd=zdir, check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([LDNS_SIGNZONE, "-n", "-f", "dane.test.zone.signed", "dane.test.zone", key],
                   cwd=zdir, check=True, capture_output=True)
    conf = zdir / "unbound.conf"
    conf.write_text(
        "server:\n"
        f"  interface: 127.0.0.1\n  port: {port}\n  do-ip6: no\n"
        f'  username: ""\n  chroot: ""\n  directory: "{zdir}"\n  pidfile: ""\n'
        '  use-syslog: no\n  logfile: ""\n  do-daemonize: no\n'
        "  access-control: 127.0.0.0/8 allow\n"
        '  module-config: "iterator"\n'
        '  local-zone: "test." nodefault\n'
        "auth-zone:\n"
        '  name: "dane.test."\n'
        f'  zonefile: "{zdir / "dane.test.zone.signed"}"\n'
        "  for-upstream: yes\n  for-downstream: yes\n  fallback-enabled: no\n")
    proc = subprocess.Popen([UNBOUND, "-d", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    if proc.poll() is not None:
        pytest.fail("unbound did not start")
    return proc, zdir / f"{key}.ds"


def test_dane_match_delivers_over_tls_and_mismatch_defers(tmp_path):
    receiver = Posthornd(tmp_path / "receiver").start()
    dns_port = free_port()
    unbound = None
    try:
        receiver.cli("domain", "add", "dane.test", check=True)
        receiver.cli("domain", "add", "bad.dane.test", check=True)
        receiver.cli("user", "add", "bob@dane.test", "--password-stdin",
                     input="secret\n", check=True)
        receiver.cli("user", "add", "eve@bad.dane.test", "--password-stdin",
                     input="secret\n", check=True)
        good = spki_sha256(tmp_path / "receiver" / "tls" / "cert.pem")
        unbound, anchor = signed_zone_server(tmp_path / "zone", dns_port,
                                             receiver.port("smtp"), good)
        sender = sender_daemon(tmp_path, fast_conf(
            f"smtp_port = {receiver.port('smtp')}\n"
            f"[dns]\nupstream = 127.0.0.1@{dns_port}\ntrust_anchor = {anchor}\n"))
        try:
            submit(sender, ["bob@dane.test"], message("dane ok", "bob@dane.test"))
            got = wait_for(lambda: inbox(receiver, "bob@dane.test"))
            assert len(got) == 1 and b"Subject: dane ok" in got[0]
            # the receiver's Received: header shows ESMTPS (TLS)
            assert b"with ESMTPS" in got[0]
            assert wait_for(lambda: queue_count(sender) == 0)

            # DANE authenticates the peer: enough for REQUIRETLS (RFC 8689 5)
            submit_requiretls(sender, ["bob@dane.test"], message("dane rtls", "bob@dane.test"))
            assert wait_for(lambda: len(inbox(receiver, "bob@dane.test")) == 2)
            assert wait_for(lambda: queue_count(sender) == 0)

            submit(sender, ["eve@bad.dane.test"], message("dane bad", "eve@bad.dane.test"))
            listing = wait_for(lambda: (lambda q: q if "refused" in q else None)(
                sender.cli("queue", "list").stdout))
            assert listing is not None and "certificate of" in listing
            time.sleep(1.5)	# a retry or two: still nothing, never plaintext
            assert inbox(receiver, "eve@bad.dane.test") == []
            assert queue_count(sender) == 1
        finally:
            sender.stop()
            sender.assert_clean()
    finally:
        if unbound is not None:
            unbound.terminate()
            unbound.wait()
        receiver.stop()
        receiver.assert_clean()
