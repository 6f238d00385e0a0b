# frozen_string_literal: true

# The C heap in use, for leak tests: `include HeapHelpers`.
module HeapHelpers
  # Bytes of C heap in use (tests/heap_probe.c, named by NS_HEAP_PROBE),
  # after a full GC.
  def heap_in_use
    skip "NS_HEAP_PROBE (the test-only heap probe) is not set" unless ENV["NS_HEAP_PROBE"]
    require "fiddle"
    @heap_probe ||= Fiddle::Function.new(Fiddle.dlopen(ENV["NS_HEAP_PROBE"])["ns_test_heap_in_use"],
                                         [], Fiddle::TYPE_SIZE_T)
    GC.start
    @heap_probe.call
  end

  # How many bytes the C heap grew over `cycle.call(n)`, after a warm-up
  # of `warm_up` cycles (until Ruby's own heap stops growing).
  def heap_growth(n, warm_up: n / 10, &cycle)
    cycle.call(warm_up)
    before = heap_in_use
    cycle.call(n)
    heap_in_use - before
  end
end
