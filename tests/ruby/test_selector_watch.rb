# frozen_string_literal: true

# Selector#watch (read/write interest, persistent) with the data owned by
# the C selector.  Loopback only, every wait bounded.
require "minitest/autorun"
require "netsocket"

class SelectorWatchTest < Minitest::Test
  def pair
    srv = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options(non_blocking: false))
    c = Netsocket.make_client_socket("127.0.0.1", srv.info[1], Netsocket.socket_options)
    [srv, c, srv.accept]
  end

  def test_watch_reports_ready_bits_and_stays
    srv, c, conn = pair
    sel = Netsocket::Selector.new
    sel.watch(c, Netsocket::NS_WANT_READ | Netsocket::NS_WANT_WRITE, -1, "c")
    events = sel.wait(1_000_000)
    assert_equal [[c, "c", false, Netsocket::NS_WANT_WRITE]], events
    conn.send_all("x")
    assert_equal [[c, "c", false, Netsocket::NS_WANT_READ | Netsocket::NS_WANT_WRITE]], sel.wait(1_000_000)
    assert_equal 1, sel.size
    sel.remove(c)
    assert_equal 0, sel.size
    [c, conn, srv].each(&:close)
  end

  def test_add_is_one_shot_and_closing_leaves
    srv, c, conn = pair
    sel = Netsocket::Selector.new
    sel.add(c, 50_000, :once)
    assert_equal [[c, :once, true, 0]], sel.wait(2_000_000)
    assert_equal 0, sel.size
    sel.watch(c, Netsocket::NS_WANT_READ, -1, :closing)
    c.close
    assert_equal 0, sel.size
    assert_equal [], sel.wait(50_000)
    [conn, srv].each(&:close)
  end

  def test_data_survives_garbage_collection_while_watched
    srv, c, conn = pair
    sel = Netsocket::Selector.new
    sel.watch(c, Netsocket::NS_WANT_READ, -1, "data #{rand}".dup)
    GC.start
    conn.send_all("x")
    events = sel.wait(1_000_000)
    assert_match(/\Adata /, events[0][1])
    [c, conn, srv].each(&:close)
  end
end
