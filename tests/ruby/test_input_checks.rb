# frozen_string_literal: true

# Input a script gets wrong is an error naming the cause, never silently
# something else (issue 13): timeouts, ports, NUL bytes, a string for a
# list.  Loopback only.
require "minitest/autorun"
require "netsocket"

class InputChecksTest < Minitest::Test
  TIMEOUT_RANGE = "a timeout is 0 or more microseconds, or -1 for no limit"
  NUL = "a string given to netsocket must not contain a NUL character"

  def blocking = Netsocket.socket_options(non_blocking: false, read_timeout: 5_000_000)

  def test_timeouts_are_integers_minus_one_or_more
    e = assert_raises(TypeError) { Netsocket.socket_options(read_timeout: 1.5) }
    assert_equal "socket_options: read_timeout takes an integer (microseconds, -1 = no limit), not Float",
                 e.message
    [-2, -5, -(2**63)].each do |value|
      e = assert_raises(ArgumentError) { Netsocket.socket_options(connection_timeout: value) }
      assert_equal TIMEOUT_RANGE, e.message
      e = assert_raises(ArgumentError) { Netsocket.socket_options.set_read_timeout(value) }
      assert_equal TIMEOUT_RANGE, e.message
    end
    o = Netsocket.socket_options(read_timeout: -1, connection_timeout: 0)
    assert_equal [-1, 0], [o.read_timeout, o.connection_timeout]
  end

  # Beyond int64: a RangeError naming the method, the parameter, the value,
  # the unit and the range (not "must be Integer" for an Integer).
  def test_timeouts_beyond_int64_name_the_unit_and_range
    beyond = "%s: us = %d is out of range: a timeout is -1 (no limit) or 0 to 9223372036854775807 \u00b5s"
    e = assert_raises(RangeError) { Netsocket.socket_options(read_timeout: 2**63) }
    assert_equal format(beyond, "Netsocket::Options#set_read_timeout", 2**63), e.message
    e = assert_raises(RangeError) { Netsocket.socket_options.set_connection_timeout(-(2**63) - 1) }
    assert_equal format(beyond, "Netsocket::Options#set_connection_timeout", -(2**63) - 1), e.message
    server = Netsocket.make_server_socket("127.0.0.1", 0, blocking)
    e = assert_raises(RangeError) { server.set_read_timeout(2**64) }
    assert_equal format(beyond, "Netsocket::Socket#set_read_timeout", 2**64), e.message
  ensure
    server&.close
  end

  def test_ports_over_65535_are_refused_not_wrapped
    server = Netsocket.make_server_socket("127.0.0.1", 0, blocking)
    wrapped = server.info[1] + 65_536
    [wrapped, wrapped.to_s].each do |service|
      e = assert_raises(Netsocket::ValueError) { Netsocket.make_client_socket("127.0.0.1", service, blocking) }
      assert_equal "connect to 127.0.0.1:#{wrapped}: port #{wrapped} is out of range (0 to 65535)", e.message
    end
    e = assert_raises(Netsocket::ValueError) { Netsocket.make_server_socket("127.0.0.1", 70_000) }
    assert_equal "listen on 127.0.0.1:70000: port 70000 is out of range (0 to 65535)", e.message
  ensure
    server&.close
  end

  def test_strings_with_nul_bytes_are_refused
    e = assert_raises(ArgumentError) { Netsocket.make_client_socket("localhost\0.corp.example", "1", blocking) }
    assert_equal NUL, e.message
    e = assert_raises(ArgumentError) { Netsocket.tls_socket_options(alpn: ["h2\0http/1.1"]) }
    assert_equal NUL, e.message
    e = assert_raises(ArgumentError) { Netsocket.tls_socket_options(trusted_certificate_files: ["/etc/ssl/certs\0/x"]) }
    assert_equal NUL, e.message
  end

  def test_a_single_string_for_a_list_names_the_list
    e = assert_raises(TypeError) { Netsocket.tls_socket_options(alpn: "h2") }
    assert_equal "tls_socket_options: alpn takes a list of strings, not String", e.message
  end
end
