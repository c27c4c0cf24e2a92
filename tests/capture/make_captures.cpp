// Writes the synthetic captures of the agreement test (tests/capture/README.md):
// each makes some TCP analysis classes happen on purpose, in a different link
// type and file format, so that netlab-pcap facts and tshark read the same
// bytes. Usage: netlab_test_make_captures DIR
#include "synthetic.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>

using namespace netlab::synthetic;

namespace {

constexpr std::int64_t us = 1000, ms = 1000 * us;

// One connection being written: sequence numbers kept for both sides.
class Connection {
 public:
  Connection(CaptureWriter& w, std::uint32_t client_isn, std::uint32_t server_isn, int scale = 7)
      : w_(w), client_(client_isn), server_(server_isn), scale_(scale) {}

  // SYN, SYN-ACK, ACK, 50 µs apart (the initial RTT Wireshark uses for "out of order" is 100 µs).
  Connection& open() {
    send({true, flag::syn, client_, 0, 0, 64240, scale_});
    send({false, flag::syn | flag::ack, server_, client_ + 1, 0, 65160, scale_}, 50 * us);
    ++client_;
    ++server_;
    return send({true, flag::ack, client_, server_, 0, 502}, 50 * us);
  }
  // Data from the client at its next sequence (or `seq` if given), without moving it on.
  Connection& data_at(std::uint32_t seq, std::uint32_t length, std::int64_t after = 10 * us) {
    return send({true, flag::ack | flag::psh, seq, server_, length, 502}, after);
  }
  Connection& data(std::uint32_t length, std::int64_t after = 10 * us) {
    data_at(client_, length, after);
    client_ += length;
    return *this;
  }
  Connection& skip(std::uint32_t length) {  // client data the capture never sees
    client_ += length;
    return *this;
  }
  Connection& ack(std::uint32_t acked, std::uint16_t window = 502, std::int64_t after = 10 * us) {
    return send({false, flag::ack, server_, acked, 0, window}, after);
  }
  Connection& close(std::int64_t after = 10 * us) {
    send({true, flag::fin | flag::ack, client_, server_, 0, 502}, after);
    send({false, flag::fin | flag::ack, server_, client_ + 1, 0, 502}, 10 * us);
    return send({true, flag::ack, client_ + 1, server_ + 1, 0, 502}, 10 * us);
  }
  Connection& send(Segment s, std::int64_t after = 0) {
    s.client_port = port;
    w_.wait(after).segment(s);
    return *this;
  }
  std::uint32_t next() const { return client_; }
  std::uint32_t server_next() const { return server_; }
  std::uint16_t port = 40000;

 private:
  CaptureWriter& w_;
  std::uint32_t client_, server_;
  int scale_;
};

void save(const std::string& dir, const std::string& name, const CaptureWriter& w) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out << w.bytes();
  if (!out) throw std::runtime_error("cannot write " + dir + "/" + name);
}

// Reordering: a segment overtaken by the next one (within the RTT: out of
// order), and one that arrives long after (a retransmission to both tools).
CaptureWriter reorder() {
  CaptureWriter w(Link::ethernet, CaptureWriter::Format::pcapng);
  Connection c(w, 1000, 900000);
  c.open().data(1000);
  const auto first = c.next();
  c.skip(1000).data(1000).data_at(first, 1000, 20 * us);  // swapped: out of order
  w.unknown_block();
  c.ack(c.next());
  const auto late = c.next();
  c.skip(1000).data(1000).data(1000).data_at(late, 1000, 5 * ms);  // 5 ms late: retransmission
  w.unknown_block();
  c.ack(c.next()).close();
  return w;
}

// Duplication: the same segment twice at once (a retransmission to both: it
// ends where the next expected sequence is), and again after it was
// acknowledged (spurious).
CaptureWriter duplication() {
  CaptureWriter w(Link::sll2);
  Connection c(w, 4000000000u, 7);  // the client's sequence wraps past 2^32
  c.open();
  for (int i = 0; i < 100; ++i) c.data(1400, 5 * us);
  const auto last = c.next() - 1400;
  c.data_at(last, 1400, 1 * us);  // duplicated on the wire
  c.ack(c.next());
  c.data_at(last, 1400, 30 * us);  // and again, after the ACK: spurious
  c.close();
  return w;
}

// Loss: segments the capture missed (previous segment not captured, ACKed
// unseen), a loss the sender repairs after duplicate ACKs (fast
// retransmission) and one repaired after a timeout (retransmission).
CaptureWriter loss() {
  CaptureWriter w(Link::sll, CaptureWriter::Format::pcap_ns);
  Connection c(w, 123456, 654321);
  c.open().data(1000).data(1000);
  c.skip(1000).data(1000).data(1000);  // a hole in the capture
  c.ack(c.next());                     // acknowledges what the capture never saw
  // A loss on the wire, repaired fast: three duplicate ACKs, then the segment.
  c.data(1000);
  const auto lost = c.next();
  c.skip(1000).data(1000).data(1000).data(1000);
  c.ack(lost).ack(lost).ack(lost).ack(lost);
  c.data_at(lost, 1000, 100 * us);
  c.ack(c.next());
  // A loss repaired by the retransmission timer (200 ms).
  const auto timed_out = c.next();
  c.skip(1000).data(1000);
  c.ack(timed_out);
  c.data_at(timed_out, 1000, 200 * ms);
  c.ack(c.next()).close();
  return w;
}

// A slow reader: the window closes, the sender probes it, the receiver
// answers each probe, then opens the window again.
CaptureWriter zero_window() {
  CaptureWriter w(Link::null);
  Connection c(w, 5000, 6000);
  c.open().data(1000).data(1000);
  c.ack(c.next(), 0);  // zero window
  for (int i = 0; i < 3; ++i) {
    c.data_at(c.next(), 1, 200 * ms);  // window probe: 1 byte at the next sequence
    c.ack(c.next(), 0);                // still zero: the probe's ACK
  }
  c.ack(c.next(), 502, 50 * ms);  // open again (a window update)
  c.data(1000).ack(c.next()).close();
  return w;
}

// Idle connection kept alive: keep-alives (0 and 1 byte, one before the next
// sequence) and their ACKs; duplicate ACKs from a receiver that sees a hole.
CaptureWriter keepalive() {
  CaptureWriter w(Link::raw, CaptureWriter::Format::pcap_us);
  Connection c(w, 77777, 88888);
  c.open().data(500).ack(c.next());
  for (int i = 0; i < 2; ++i) {
    c.data_at(c.next() - 1, 0, 7200 * ms);  // keep-alive, no byte
    c.ack(c.next());                        // its ACK
  }
  c.data_at(c.next() - 1, 1, 7200 * ms);  // keep-alive with one garbage byte
  c.ack(c.next());
  c.data(100).close();
  return w;
}

// Bad input made on purpose: a billion-byte jump in one flow, port numbers
// reused by a new connection, and a VLAN-tagged Ethernet link.
CaptureWriter jumps() {
  CaptureWriter w(Link::vlan);
  Connection c(w, 10000, 20000);
  c.open().data(1000).data(1000);
  c.data_at(c.next() + 1'000'000'000u, 1000);  // a billion bytes ahead
  c.data(1000);                                // and back to normal
  c.ack(c.next()).close();
  // The same ports again, a new ISN: a new connection for both tools.
  Connection again(w, 3000000, 4000000);
  again.open().data(100).ack(again.next()).close();
  // Another port, a loopback link's worth of data and a loss.
  Connection other(w, 1, 2);
  other.port = 40001;
  other.open().data(10).skip(10).data(10).ack(other.next()).close();
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: netlab_test_make_captures DIR\n";
    return 2;
  }
  try {
    const std::string dir = argv[1];
    save(dir, "reorder.pcapng", reorder());
    save(dir, "duplication.pcap", duplication());
    save(dir, "loss.pcap", loss());
    save(dir, "zero-window.pcap", zero_window());
    save(dir, "keepalive.pcap", keepalive());
    save(dir, "jumps.pcap", jumps());
  } catch (const std::exception& e) {
    std::cerr << "netlab_test_make_captures: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
