"""The pre-greeting pause of port 25 no longer caps the rate of senders
that open a connection per message: an address that waited it out once is
greeted at once next time (postscreen's idea, a bounded expiring cache);
one that talked first is refused and not remembered; trusted networks and
submission never wait."""
import time

from hostile import Line, daemon_with, finish


def greeting_time(d, source, service="smtp"):
    c = Line(d.port(service), source, timeout=20)
    start = time.monotonic()
    assert c.line().startswith("220")
    took = time.monotonic() - start
    assert c.cmd("QUIT").startswith("221")
    c.close()
    return took


def test_passed_clients_are_greeted_at_once(tmp_path):
    d = daemon_with(tmp_path, {"smtp": {"greeting_delay": "2s",
                                        "trusted_networks": "127.0.3.9/32"}})
    try:
        assert greeting_time(d, "127.0.3.1") >= 1.9
        # Remembered: the next connections from there are greeted at once.
        for _ in range(5):
            assert greeting_time(d, "127.0.3.1") < 1
        # Another address waits its own pause.
        assert greeting_time(d, "127.0.3.2") >= 1.9
        # An early talker is refused and not remembered.
        c = Line(d.port("smtp"), "127.0.3.3")
        c.send(b"EHLO spammer\r\n")
        assert c.line().startswith("554 5.5.0")
        assert c.closed()
        assert greeting_time(d, "127.0.3.3") >= 1.9
        # Trusted networks and submission never wait.
        assert greeting_time(d, "127.0.3.9") < 1
        assert greeting_time(d, "127.0.3.4", "submission") < 1
    finally:
        finish(d)


def test_cache_is_bounded(tmp_path):
    d = daemon_with(tmp_path, {"smtp": {"greeting_delay": "1s",
                                        "greeting_cache_size": "2"}})
    try:
        for src in ("127.0.4.1", "127.0.4.2", "127.0.4.3"):
            assert greeting_time(d, src) >= 0.9
        # 127.0.4.1 was the oldest of three in a cache of two.
        assert greeting_time(d, "127.0.4.3") < 0.9
        assert greeting_time(d, "127.0.4.1") >= 0.9
    finally:
        finish(d)
