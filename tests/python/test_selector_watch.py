"""Selector.watch (read/write interest, persistent) and data owned by the
C selector: released when the socket leaves, no table in Python."""
import gc
import weakref

import netsocket


class Data:
    pass


def pair(plain_server):
    c = netsocket.make_client_socket("127.0.0.1", plain_server.info()[1], netsocket.socket_options())
    return c, plain_server.accept()


def test_watch_reports_writable_and_readable_with_ready_bits(plain_server):
    c, conn = pair(plain_server)
    sel = netsocket.Selector()
    sel.watch(c, netsocket.NS_WANT_READ | netsocket.NS_WANT_WRITE, -1, "c")
    events = sel.wait(1_000_000)
    assert [(e.socket is c, e.data, e.timed_out, e.ready) for e in events] == [
        (True, "c", False, netsocket.NS_WANT_WRITE)]
    conn.send_all(b"x")
    events = sel.wait(1_000_000)  # still watched: persistent
    assert [(e.data, e.ready) for e in events] == [("c", netsocket.NS_WANT_READ | netsocket.NS_WANT_WRITE)]
    sock, data, timed_out = events[0]  # still a 3-tuple
    assert (sock is c, data, timed_out) == (True, "c", False)
    assert len(sel) == 1
    sel.remove(c)
    assert len(sel) == 0
    c.close()
    conn.close()


def test_add_is_one_shot_and_watch_idle_timeout_reports_once(plain_server):
    c, conn = pair(plain_server)
    sel = netsocket.Selector()
    sel.add(c, 50_000, "once")
    assert [(e.data, e.timed_out, e.ready) for e in sel.wait(2_000_000)] == [("once", True, 0)]
    assert len(sel) == 0
    sel.watch(c, netsocket.NS_WANT_READ, 50_000, "idle")
    assert [(e.data, e.timed_out) for e in sel.wait(2_000_000)] == [("idle", True)]
    assert len(sel) == 1  # watched on, without a timeout
    assert sel.wait(100_000) == []
    c.close()
    conn.close()


def test_data_is_released_when_the_socket_leaves(plain_server):
    sel = netsocket.Selector()
    released = {}
    for leave in ("close", "remove", "event", "free_selector"):
        c, conn = pair(plain_server)
        d = Data()
        released[leave] = weakref.ref(d)
        other = netsocket.Selector()
        if leave == "event":
            sel.add(c, data=d)
        else:
            (other if leave == "free_selector" else sel).watch(c, data=d)
        del d
        if leave == "close":
            c.close()
        elif leave == "remove":
            sel.remove(c)
        elif leave == "event":
            conn.send_all(b"x")
            assert len(sel.wait(1_000_000)) == 1
        del other  # frees the selector ("free_selector": with c in it)
        gc.collect()
        c.close()
        conn.close()
    assert {leave: r() is None for leave, r in released.items()} == {
        "close": True, "remove": True, "event": True, "free_selector": True}
    assert len(sel) == 0


def test_watch_rejects_a_bad_interest(plain_server):
    c, conn = pair(plain_server)
    sel = netsocket.Selector()
    d = Data()
    r = weakref.ref(d)
    try:
        sel.watch(c, 4, -1, d)
    except ValueError as e:
        assert e.status == "NS_ERR_INVALID"
    else:
        raise AssertionError("watch with interest 4 did not fail")
    del d
    gc.collect()
    assert r() is None and len(sel) == 0  # the failed watch released its data
    c.close()
    conn.close()
