# frozen_string_literal: true

# Ruby's own conventions (issue 13): a call that would block raises an
# error that is IO::WaitReadable or IO::WaitWritable, or with
# `exception: false` returns :wait_readable / :wait_writable, as
# IO#read_nonblock, #write_nonblock and Socket#accept_nonblock do.
require "timeout"
require "minitest/autorun"
require "netsocket"

class ConventionsTest < Minitest::Test
  def setup
    @srv = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options)
    @c = Netsocket.make_client_socket("127.0.0.1", @srv.info[1], Netsocket.socket_options(non_blocking: true))
    @conn = @srv.accept(exception: false)
    @conn = @srv.accept(exception: false) while @conn == :wait_readable
  end

  def teardown
    [@c, @conn, @srv].each(&:close)
  end

  def test_recv_would_block_is_wait_readable
    e = assert_raises(Netsocket::WaitReadableError) { @c.recv(10) }
    assert_kind_of IO::WaitReadable, e
    assert_kind_of Netsocket::WouldBlockError, e
    assert_equal "recv from 127.0.0.1:#{@srv.info[1]}: no data yet (non-blocking)", e.message
    assert_equal :wait_readable, @c.recv(10, exception: false)
    @conn.send_all("hi")
    got = nil
    Timeout.timeout(10) { got = @c.recv(10, exception: false) until got.is_a?(String) }
    assert_equal "hi", got
  end

  def test_send_on_a_full_buffer_is_wait_writable
    chunk = "x" * 65_536
    e = assert_raises(Netsocket::WaitWritableError) { 10_000.times { @c.send(chunk) } }
    assert_kind_of IO::WaitWritable, e
    refute_kind_of IO::WaitReadable, e
    assert_equal :wait_writable, @c.send(chunk, exception: false)
  end

  def test_accept_with_nothing_pending
    assert_raises(Netsocket::WaitReadableError) { @srv.accept }
    assert_equal :wait_readable, @srv.accept(exception: false)
  end
end
