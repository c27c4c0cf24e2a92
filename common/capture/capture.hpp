#pragma once
// Questions answered from a capture, so that the packet-level checks of the
// labs ("three segments to connect", "three or four to close", "RST instead
// of FIN", "TCP retransmits what was lost", "the page text is not on the
// wire") come from the packets.
//
// Every TCP segment is also classified as Wireshark's TCP analysis does
// (retransmission, fast and spurious retransmission, out of order, previous
// segment not captured, duplicate ACK, zero window, window probe, keep-alive;
// see TcpAnalyser below), per flow and direction, so that reordering and the
// capture's own losses are not counted as retransmissions. State is kept per
// flow, never per packet: FlowAnalyser takes one packet at a time, and a
// capture of any size is read in constant memory per flow.
#include "capture/pcap.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace netlab {

// What the analysis needs of one packet (from a Packet or a streamed PacketView).
struct SegmentInfo {
  std::uint64_t number = 0;   // frame number in the file
  std::int64_t stamp_ns = 0;  // capture time
  bool is_tcp = false;
  std::uint8_t flags = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint16_t window = 0;        // as sent
  std::int8_t window_scale = -1;   // SYN / SYN-ACK option, -1 when absent
  std::size_t payload_length = 0;  // as sent
  std::size_t ip_bytes = 0;
};
SegmentInfo segment_info(const Packet& p);
SegmentInfo segment_info(const PacketView& p, const Frame& frame);

// The classes of Wireshark's TCP analysis (its display filter tcp.analysis.<name>),
// one bit each. A segment has at most one of the first five (retransmission
// kinds and out of order); the others can combine.
namespace tcp_analysis {
inline constexpr std::uint32_t retransmission = 1u << 0,  // resent data, none of the two kinds below
    fast_retransmission = 1u << 1,                        // resent right after >= 2 duplicate ACKs asked for it
    spurious_retransmission = 1u << 2,                    // resent data the receiver had already acknowledged
    out_of_order = 1u << 3,      // below the highest sequence sent, but too soon to be a resend
    lost_segment = 1u << 4,      // "previous segment not captured": a hole in the capture
    ack_lost_segment = 1u << 5,  // "ACKed unseen segment": acknowledges data the capture never saw
    duplicate_ack = 1u << 6, zero_window = 1u << 7, zero_window_probe = 1u << 8, zero_window_probe_ack = 1u << 9,
                               keep_alive = 1u << 10, keep_alive_ack = 1u << 11,
                               // Not Wireshark's: a segment further ahead of the highest sequence seen
                               // than the receiver ever allowed (twice its largest window): a corrupt or
                               // forged segment, or a capture that missed several windows. Counted as an
                               // anomaly besides lost_segment, which Wireshark also sets.
    sequence_jump = 1u << 12;
inline constexpr std::uint32_t any_retransmission = retransmission | fast_retransmission | spurious_retransmission;
}  // namespace tcp_analysis

// The classes' names, comma-separated, as Wireshark's filters match them:
// "fast_retransmission,retransmission" (tcp.analysis.retransmission matches
// the fast and spurious ones too); "" for none.
std::string tcp_analysis_names(std::uint32_t flags);
// Every class name, in that order (for tables and tests).
const std::vector<std::string>& tcp_analysis_classes();

// Counts of each class, named as Wireshark's filters are. `retransmission`
// counts all three kinds, as tcp.analysis.retransmission matches them all.
struct TcpAnalysisCounts {
  std::size_t retransmission = 0, fast_retransmission = 0, spurious_retransmission = 0, out_of_order = 0,
              lost_segment = 0, ack_lost_segment = 0, duplicate_ack = 0, zero_window = 0, zero_window_probe = 0,
              zero_window_probe_ack = 0, keep_alive = 0, keep_alive_ack = 0, sequence_jump = 0;
  void add(std::uint32_t flags);
  TcpAnalysisCounts& operator+=(const TcpAnalysisCounts& other);
  // True when the capture itself missed segments of the flow: a retransmission
  // count from it cannot be confirmed (the resent segment may be the only copy seen).
  bool capture_has_gaps() const { return lost_segment + ack_lost_segment + sequence_jump > 0; }
};

// The classifier of one TCP connection (both directions). See capture.cpp for
// the rules, each next to Wireshark's documented definition it follows.
class TcpAnalyser {
 public:
  // The segment's classes (tcp_analysis bits); `side` 0 or 1 names its direction.
  std::uint32_t classify(const SegmentInfo& s, int side);

 private:
  struct Direction {
    bool base_set = false;
    std::uint32_t base_seq = 0;
    std::uint32_t next_seq = 0;  // just past the highest sequence sent; 0 = nothing seen yet
    std::int64_t next_seq_time = 0;
    std::uint32_t max_seq_to_be_acked = 0;  // the end of the contiguous sequence space seen
    std::uint32_t last_ack = 0;
    std::int64_t last_ack_time = 0;
    std::uint32_t window = ~std::uint32_t{0};  // last window as sent; unknown at first
    std::uint64_t max_window = 0;              // largest window announced, scaled
    std::uint32_t duplicate_acks = 0;          // in a row (or unseen_noted)
    std::uint32_t last_flags = 0;              // classes of its last segment
    int window_scale = -2;                     // -2 unknown (no SYN seen), -1 none, else the shift
  };
  // A direction's duplicate-ACK counter after its peer's "ACKed unseen
  // segment" notice: large (>= 2 counts as a run), and no new notice until reset.
  static constexpr std::uint32_t unseen_noted = ~std::uint32_t{0};
  void restart();
  Direction sides_[2];
  std::int64_t last_syn_time_ = 0;  // of the most recent SYN (without ACK)
  std::uint64_t first_rtt_ = 0;     // SYN to the first ACK (0 = not seen): the out-of-order time limit
};

struct FlowFacts {
  std::string client, server;
  bool is_tcp = false;
  std::size_t packets = 0;
  std::size_t payload_bytes = 0;  // application bytes, both directions, as sent (retransmissions again)
  // Application bytes, both directions, each counted once: for TCP the span of
  // sequence numbers that carried payload in each direction (a retransmission
  // or a window probe adds nothing; a hole the capture missed still counts);
  // for UDP the same as payload_bytes.
  std::size_t stream_bytes = 0;
  std::size_t ip_bytes = 0;       // everything above the link layer, both directions
  std::size_t data_segments = 0;  // segments carrying payload
  // Segments from the first SYN to the client's first ACK of the SYN-ACK
  // (3 for a clean handshake; more when a SYN was retransmitted); 0 if no SYN was captured.
  std::size_t handshake_segments = 0;
  bool handshake_complete = false;
  std::size_t syn_segments = 0;  // SYN without ACK, sent again ones included
  std::size_t syn_ack_segments = 0;
  std::uint32_t client_isn = 0, server_isn = 0;  // of the first SYN and SYN-ACK; 0 when none was captured
  // FIN segments plus the first segment of each side acknowledging the other's
  // FIN: 4 for FIN/ACK/FIN/ACK, 3 when the ACK of the first FIN rides on the
  // second FIN; 0 if no FIN was captured.
  std::size_t close_segments = 0;
  std::string first_fin_from;    // "client", "server" or "" (no FIN)
  std::size_t fin_segments = 0;  // segments with FIN, both sides, sent again ones included
  // Of those, FINs the TCP analysis calls a retransmission (of any kind): the
  // peer did not acknowledge it in time (e.g. the last ACK of a close was lost).
  std::size_t fin_retransmissions = 0;
  std::size_t rst_segments = 0;
  std::size_t rst_from_server = 0;  // of those, sent by the server (the side the SYN went to)
  std::string first_rst_from;
  std::size_t zero_window_segments = 0;     // a receiver announcing a window of 0 (flow control), FINs included
  std::size_t zero_window_from_server = 0;  // of those, sent by the server: its receive buffer was full
  TcpAnalysisCounts analysis;               // Wireshark's classes, both directions
  TcpAnalysisCounts analysis_by_side[2];    // from the client, from the server
};

// Facts of one flow, one packet at a time, in capture order.
class FlowAnalyser {
 public:
  FlowAnalyser(bool is_tcp, std::string client, std::string server);
  // Returns the packet's TCP analysis classes (0 for UDP).
  std::uint32_t add(const SegmentInfo& s, bool from_client);
  const FlowFacts& facts() const { return facts_; }

 private:
  FlowFacts facts_;
  TcpAnalyser tcp_;
  bool fin_sent_[2] = {false, false};
  std::uint32_t fin_end_[2] = {0, 0};  // per direction: sequence just past its FIN
  bool fin_acked_[2] = {false, false};
  bool syn_seen_ = false, syn_ack_seen_ = false;
  // Per direction: the sequence numbers from the first to past the last payload byte seen.
  bool data_seen_[2] = {false, false};
  std::uint32_t data_begin_[2] = {0, 0}, data_end_[2] = {0, 0};
};

FlowFacts analyse_flow(const Flow& flow);

// For each packet of a flow: its TCP analysis classes (tcp_analysis bits).
std::vector<std::uint32_t> tcp_analysis_of(const Flow& flow);

// For each packet of a flow: true when the TCP analysis calls it a
// retransmission of any kind (not out of order, not a keep-alive). Always
// false for UDP.
std::vector<bool> retransmissions(const Flow& flow);

// Looks for `needle` in each payload and across the payloads of one direction
// laid end to end, keeping only the last needle-length bytes of each direction.
class StreamSearch {
 public:
  explicit StreamSearch(std::string needle) : needle_(std::move(needle)) {}
  void add(int side, std::string_view payload);
  bool found() const { return found_; }

 private:
  std::string needle_;
  std::string tail_[2];
  bool found_ = false;
};

// True when `needle` appears in a packet's payload or across the payloads of
// one direction of a flow laid end to end.
bool capture_contains(const std::vector<Flow>& flows, std::string_view needle);

}  // namespace netlab
