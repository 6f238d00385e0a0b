# frozen_string_literal: true

# Issue 12: the Ruby Selector's cost with 100 active sockets while 10,000
# idle ones are registered, against none idle (as bench_selector.c and
# bench_selector_python.py; see there).  Target: wait <= 1.2x.
#   ruby bench_selector_ruby.rb [--quick] [--runs N] [--rows-only]
require "netsocket"
require "socket"

QUICK = ARGV.include?("--quick")
RUNS = ARGV.include?("--runs") ? Integer(ARGV[ARGV.index("--runs") + 1]) : (QUICK ? 1 : 5)
IDLE = QUICK ? 1000 : 10_000
ACTIVE = 100
CYCLES = QUICK ? 20 : 200
TIMEOUT_US = 60_000_000

def now = Process.clock_gettime(Process::CLOCK_MONOTONIC)

def cycle_times(sel, active, peers)
  add = wait = 0.0
  CYCLES.times do
    peers.each { |p| p.write("x") }
    t0 = now
    active.each { |s| sel.add(s, TIMEOUT_US) }
    t1 = now
    got = 0
    1000.times do
      got += sel.wait(5_000_000).size
      break if got >= ACTIVE
    end
    t2 = now
    raise "got #{got}" unless got == ACTIVE

    active.each { |s| s.recv(1) }
    add += t1 - t0
    wait += t2 - t1
  end
  [add / CYCLES * 1e6, wait / CYCLES * 1e6]
end

def median(values) = values.sort[values.size / 2]

soft, hard = Process.getrlimit(:NOFILE)
Process.setrlimit(:NOFILE, [hard, [soft, IDLE + 2 * ACTIVE + 64].max].min, hard)
server = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options(non_blocking: false,
                                                                              read_timeout: 5_000_000))
port = server.info[1]
holder = IO.popen(["/usr/bin/python3", File.join(__dir__, "hold_peers.py"), port.to_s, IDLE.to_s], "r+")
idle = Array.new(IDLE) { server.accept }
raise "hold_peers.py failed" unless holder.gets == "ready\n"

peers = Array.new(ACTIVE) { TCPSocket.new("127.0.0.1", port) }
active = Array.new(ACTIVE) { server.accept }
crowded = Netsocket::Selector.new
empty = Netsocket::Selector.new
idle.each { |s| crowded.add(s, TIMEOUT_US) }
cycle_times(crowded, active, peers) # warm-up
cycle_times(empty, active, peers)
rows = { "wait" => [], "add" => [] }
RUNS.times do |run|
  order = run.even? ? [crowded, empty] : [empty, crowded]
  t = order.to_h { |sel| [sel, cycle_times(sel, active, peers)] }
  rows["add"] << [t[crowded][0], t[empty][0]]
  rows["wait"] << [t[crowded][1], t[empty][1]]
end
raise "idle sockets left the selector" unless crowded.size == IDLE

unless ARGV.include?("--rows-only")
  puts "| item | figure | netsocket | baseline | ratio | target |"
  puts "|---|---|---:|---:|---:|---|"
end
rows.each do |what, pairs|
  ratio = median(pairs.map { |a, b| a / b })
  target = what == "wait" ? "<= 1.20 #{ratio <= 1.2 ? "met" : "**missed**"}" : "(info)"
  printf("| 12 selector (Ruby) | %s %d active, %d idle vs 0 idle (us/cycle) | %.1f us | %.1f us | %.3f | %s |\n",
         what, ACTIVE, IDLE, median(pairs.map(&:first)), median(pairs.map(&:last)), ratio, target)
end
holder.close
(idle + active).each(&:close)
