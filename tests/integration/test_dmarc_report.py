"""posthorn dmarc report: RFC 7489 aggregate reports from the rows the SMTP
server records (put into the store directly here; test_dmarc.py has them
recorded by real mail): listed, written as well-formed .xml.gz with the
counts, and queued to each same-organisation rua mailto: within its !size,
each row reported once."""
import datetime
import glob
import gzip
import os
import xml.etree.ElementTree as ET

YESTERDAY = (datetime.datetime.now(datetime.timezone.utc).date()
             - datetime.timedelta(days=1))
DAY = (YESTERDAY - datetime.date(1970, 1, 1)).days

ROW_COLS = ("day, header_from, policy_domain, source_ip, envelope_from,"
            " disposition, override, dmarc_dkim, dmarc_spf, dkim, spf_result,"
            " spf_domain, spf_scope, count, sent")


def add_row(d, domain, ip, count, disposition="reject", dkim="fail",
            spf="fail", sigs="fail example.org s1", header_from=None,
            override="", day=DAY):
    d.sql(f"INSERT INTO dmarc_rows({ROW_COLS}) VALUES(?, ?, ?, ?, ?, ?, ?,"
          " ?, ?, ?, ?, ?, ?, ?, 0)",
          (day, header_from or domain, domain, ip, "bounce." + domain,
           disposition, override, dkim, spf, sigs, "softfail",
           "bounce." + domain, "mfrom", count))


def add_policy(d, domain, rua, p="reject"):
    d.sql("INSERT INTO dmarc_policies(day, domain, p, sp, pct, adkim, aspf,"
          " fo, rua) VALUES(?, ?, ?, ?, 100, 'r', 's', '0', ?)",
          (DAY, domain, p, p, rua))


def fill(d):
    add_row(d, "example.org", "192.0.2.1", 5)
    add_row(d, "example.org", "192.0.2.2", 2, disposition="none",
            dkim="pass", spf="fail", header_from="news.example.org",
            sigs="pass news.example.org s&<2>;fail other.test x")
    add_row(d, "example.org", "2001:db8::7", 1, disposition="quarantine",
            override="sampled_out")
    add_policy(d, "example.org",
               "mailto:dmarc@example.org!1m,mailto:agg@third-party.test,"
               "https://example.org/dmarc")
    # published no rua: nobody asked for a report
    add_row(d, "norua.test", "192.0.2.9", 3)
    add_policy(d, "norua.test", "")
    # a limit no report fits in
    add_row(d, "small.test", "192.0.2.10", 1)
    add_policy(d, "small.test", "mailto:dmarc@small.test!100")


def test_list_and_files(daemon, tmp_path):
    d = daemon
    fill(d)
    r = d.cli("dmarc", "report", "--day", YESTERDAY.isoformat(), check=True)
    lines = r.stdout.splitlines()
    assert len(lines) == 5, r.stdout
    assert any("example.org from=example.org ip=192.0.2.1 count=5"
               " disposition=reject" in l for l in lines), r.stdout
    assert any("override=sampled_out" in l for l in lines), r.stdout

    out = tmp_path / "reports"
    out.mkdir()
    r = d.cli("dmarc", "report", "--day", YESTERDAY.isoformat(), "--out",
              str(out), check=True)
    files = sorted(glob.glob(str(out / "*.xml.gz")))
    # example.org and small.test published rua; norua.test did not
    assert len(files) == 2, (r.stdout, files)
    name = [f for f in files if "!example.org!" in f][0]
    begin = DAY * 86400
    assert os.path.basename(name).endswith(f"!{begin}!{begin + 86399}"
                                           f"!example.org.{DAY}.0.xml.gz")
    with gzip.open(name) as fh:
        root = ET.fromstring(fh.read())
    assert root.tag == "feedback"
    meta = root.find("report_metadata")
    assert meta.findtext("org_name")
    assert "@" in meta.findtext("email")
    assert meta.findtext("report_id") == f"example.org.{DAY}.0"
    assert meta.findtext("date_range/begin") == str(begin)
    assert meta.findtext("date_range/end") == str(begin + 86399)
    pol = root.find("policy_published")
    assert pol.findtext("domain") == "example.org"
    assert pol.findtext("p") == "reject"
    assert pol.findtext("aspf") == "s"
    assert pol.findtext("pct") == "100"
    records = root.findall("record")
    assert len(records) == 3
    assert sum(int(r.findtext("row/count")) for r in records) == 8
    by_ip = {r.findtext("row/source_ip"): r for r in records}
    assert by_ip["192.0.2.1"].findtext("row/policy_evaluated/disposition") == "reject"
    two = by_ip["192.0.2.2"]
    assert two.findtext("identifiers/header_from") == "news.example.org"
    assert two.findtext("row/policy_evaluated/dkim") == "pass"
    sigs = two.findall("auth_results/dkim")
    assert [(s.findtext("domain"), s.findtext("selector"), s.findtext("result"))
            for s in sigs] == [("news.example.org", "s&<2>", "pass"),
                               ("other.test", "x", "fail")]
    assert two.findtext("auth_results/spf/scope") == "mfrom"
    assert two.findtext("auth_results/spf/result") == "softfail"
    assert by_ip["2001:db8::7"].findtext(
        "row/policy_evaluated/reason/type") == "sampled_out"
    # listing and files mark nothing
    assert d.sql("SELECT count(*) FROM dmarc_rows WHERE sent <> 0") == [(0,)]

    r = d.cli("dmarc", "report", "--day", YESTERDAY.isoformat(), "--xml",
              check=True)
    assert r.stdout.count("<?xml") == 2
    assert "s&amp;&lt;2&gt;" in r.stdout


def test_send_once(daemon):
    d = daemon
    fill(d)
    r = d.cli("dmarc", "report", "--day", YESTERDAY.isoformat(), "--send",
              check=True)
    assert "queued for dmarc@example.org" in r.stdout, r.stdout
    assert "agg@third-party.test: an external destination" in r.stdout
    assert "https://example.org/dmarc: not a mailto: URI" in r.stdout
    assert "dmarc@small.test: the report" in r.stdout and "over the limit" in r.stdout
    assert "1 report(s) queued, 3 destination(s) skipped" in r.stdout
    q = d.cli("queue", "list", check=True).stdout
    assert "to=<dmarc@example.org>" in q, q
    assert "small.test" not in q and "third-party" not in q
    data = d.sql("SELECT b.data FROM queue q JOIN blob_data b"
                 " ON b.id = q.blob_id")
    assert len(data) == 1
    msg = data[0][0]
    assert b"Return-Path: <>" in msg
    assert (f"Subject: Report Domain: example.org Submitter: ".encode()
            in msg)
    assert b"Content-Type: application/gzip" in msg
    # every row of the day is marked with the run
    assert d.sql("SELECT DISTINCT sent FROM dmarc_rows") == [(1,)]

    # a second run sends nothing again
    r = d.cli("dmarc", "report", "--day", YESTERDAY.isoformat(), "--send",
              check=True)
    assert "0 report(s) queued" in r.stdout, r.stdout
    assert len(d.sql("SELECT id FROM queue")) == 1

    # a row counted after the run goes in the next one, alone (the empty
    # run took no number: report ids stay unique)
    add_row(d, "example.org", "192.0.2.1", 1)
    r = d.cli("dmarc", "report", "--day", YESTERDAY.isoformat(), "--send",
              check=True)
    assert f"report example.org.{DAY}.2 queued" in r.stdout, r.stdout
    assert len(d.sql("SELECT id FROM queue")) == 2
    assert d.sql("SELECT count(*) FROM dmarc_rows WHERE sent = 2") == [(1,)]


def test_bad_day(daemon):
    r = daemon.cli("dmarc", "report", "--day", "2026-02-30")
    assert r.returncode == 2
    assert "YYYY-MM-DD" in r.stderr
    r = daemon.cli("dmarc", "report", "--day", "yesterday")
    assert r.returncode == 2
