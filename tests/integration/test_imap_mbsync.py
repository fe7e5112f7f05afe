"""A real sync client against posthornd: mbsync (Debian's isync) copies a
1000-message INBOX to a local Maildir over STARTTLS, flags change on both
sides (server through IMAP STORE, local by renaming Maildir files per the
":2,FLAGS" convention) plus a new message on each side, a second sync
carries everything both ways, and a third sync changes nothing."""
import os
import re
import shutil
import smtplib
import subprocess
import threading

import pytest

from test_imap import fetch_items, logged_in

COUNT = 1000
# Maildir info letters and their IMAP flags (mbsync's mapping).
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered",
                 "S": "\\Seen", "T": "\\Deleted"}


def msg(n):
    return (f"From: Sender {n} <sender{n}@example.org>\r\n"
            f"To: Demo <demo@localhost>\r\n"
            f"Subject: sync message {n}\r\n"
            f"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <sync-{n}@example.org>\r\n"
            f"\r\n"
            f"Body of message {n}.\r\n" + "filler text for the sync test\r\n" * 5).encode()


def fill(daemon):
    """Deliver COUNT messages over 4 SMTP sessions, many per session."""
    errors = []

    def worker(k):
        try:
            with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=30) as s:
                for n in range(k, COUNT, 4):
                    s.sendmail("sender@example.org", ["demo@localhost"], msg(n))
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors


def mbsyncrc(daemon, home):
    rc = os.path.join(home, "mbsyncrc")
    mail = os.path.join(home, "mail")
    os.makedirs(mail, exist_ok=True)
    with open(rc, "w") as fh:
        fh.write(f"""IMAPAccount posthorn
Host 127.0.0.1
Port {daemon.port('imap')}
User demo@localhost
Pass demo
SSLType STARTTLS
CertificateFile {daemon.data_dir}/tls/cert.pem
Timeout 60

IMAPStore remote
Account posthorn

MaildirStore local
Path {mail}/
Inbox {mail}/INBOX
SubFolders Verbatim

Channel inbox
Far :remote:INBOX
Near :local:INBOX
Sync All
Create Both
Expunge None
SyncState *

Channel folders
Far :remote:
Near :local:
Patterns * !INBOX
Sync All
Create Near
Expunge None
SyncState *
""")
    return rc, os.path.join(mail, "INBOX")


def mbsync(rc):
    out = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def local_messages(inbox):
    """{Message-ID: (relative path, set of IMAP flags)} of the Maildir."""
    out = {}
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(inbox, sub)):
            path = os.path.join(inbox, sub, name)
            with open(path, "rb") as fh:
                m = re.search(rb"^Message-ID: (<[^>]+>)", fh.read(), re.M | re.I)
            assert m, path
            info = name.split(":2,", 1)[1] if ":2," in name else ""
            flags = {MAILDIR_FLAGS[c] for c in info if c in MAILDIR_FLAGS}
            out[m.group(1).decode()] = (os.path.join(sub, name), flags)
    return out


def server_messages(daemon):
    """{Message-ID: set of flags} of the server INBOX, and HIGHESTMODSEQ."""
    r = logged_in(daemon)
    rep = r.ok("EXAMINE INBOX (CONDSTORE)")
    hms = [re.search(rb"HIGHESTMODSEQ (\d+)", x) for x in rep.untagged]
    hms = [int(h.group(1)) for h in hms if h]
    rep = r.ok("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    out = {}
    for v in fetch_items(rep.untagged).values():
        hdr = [x for k, x in v.items() if k.startswith("BODY[HEADER.FIELDS")][0]
        mid = re.search(rb"(<[^>]+>)", hdr).group(1).decode()
        out[mid] = set(v["FLAGS"]) - {"\\Recent"}
    r.close()
    return out, (hms[0] if hms else None)


def set_local_flags(inbox, path, letters):
    """Move a Maildir message to cur/ with the given info letters."""
    src = os.path.join(inbox, path)
    base = os.path.basename(path).split(":2,", 1)[0]
    dst = os.path.join(inbox, "cur", f"{base}:2,{''.join(sorted(letters))}")
    os.rename(src, dst)


def test_mbsync_1000_messages_flags_both_ways(daemon, tmp_path):
    if shutil.which("mbsync") is None:
        pytest.fail("mbsync is not installed: run scripts/install-deps")
    fill(daemon)
    rc, inbox = mbsyncrc(daemon, str(tmp_path))

    # 1. first sync: every message arrives
    mbsync(rc)
    local = local_messages(inbox)
    assert set(local) == {f"<sync-{n}@example.org>" for n in range(COUNT)}
    # the message as sent (mbsync stores Maildir files with LF line ends
    # and adds its own X-TUID header)
    some = local["<sync-7@example.org>"][0]
    with open(os.path.join(inbox, some), "rb") as fh:
        got = re.sub(rb"(?m)^X-TUID: .*\n", b"", fh.read())
    assert got.endswith(msg(7).replace(b"\r\n", b"\n"))
    # the special-use folders came along
    for name in ("Drafts", "Sent", "Trash", "Junk", "Archive"):
        assert os.path.isdir(os.path.join(str(tmp_path), "mail", name)), name

    # 2. changes on both sides
    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    rep = r.ok("SEARCH HEADER Message-ID sync-1")   # sync-1, sync-1x, sync-1xx
    server_changed = [int(x) for x in rep.named("SEARCH")[0].split()]
    assert len(server_changed) == 111
    r.ok("STORE " + ",".join(map(str, server_changed)) + " +FLAGS.SILENT (\\Seen)")
    r.ok("STORE " + ",".join(map(str, server_changed[:20])) + " +FLAGS.SILENT (\\Flagged)")
    r.ok('APPEND INBOX (\\Seen) {}', msg(COUNT))
    r.close()
    server_changed_ids = {f"<sync-{n}@example.org>" for n in
                          [1] + list(range(10, 20)) + list(range(100, 200))}
    local_changed_ids = {f"<sync-{n}@example.org>" for n in range(500, 560)}
    for mid in local_changed_ids:
        n = int(re.search(r"sync-(\d+)", mid).group(1))
        set_local_flags(inbox, local[mid][0], "RS" if n % 2 else "F")
    with open(os.path.join(inbox, "new", "1700000000.P1Q1.localhost"), "wb") as fh:
        fh.write(msg(COUNT + 1).replace(b"\r\n", b"\n"))

    # 3. second sync, both ways
    mbsync(rc)
    local = local_messages(inbox)
    server, _ = server_messages(daemon)
    assert set(local) == set(server) == {f"<sync-{n}@example.org>" for n in range(COUNT + 2)}
    for mid in server_changed_ids:
        assert "\\Seen" in local[mid][1], (mid, local[mid])
    flagged = [m for m in server_changed_ids if "\\Flagged" in server[m]]
    assert len(flagged) == 20
    for mid in flagged:
        assert "\\Flagged" in local[mid][1]
    for mid in local_changed_ids:
        n = int(re.search(r"sync-(\d+)", mid).group(1))
        want = {"\\Answered", "\\Seen"} if n % 2 else {"\\Flagged"}
        assert server[mid] == want, (mid, server[mid])
    assert server[f"<sync-{COUNT}@example.org>"] == {"\\Seen"}
    assert "\\Seen" in local[f"<sync-{COUNT}@example.org>"][1]
    # both sides agree on every flag mbsync maps
    for mid in server:
        assert server[mid] & set(MAILDIR_FLAGS.values()) == local[mid][1], mid

    # 4. third sync changes nothing on either side
    listing = sorted(p for p, _ in local_messages(inbox).values())
    before, modseq = server_messages(daemon)
    mbsync(rc)
    assert sorted(p for p, _ in local_messages(inbox).values()) == listing
    after, modseq_after = server_messages(daemon)
    assert after == before
    assert modseq_after == modseq
