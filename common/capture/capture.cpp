#include "capture/capture.hpp"

#include <algorithm>

namespace netlab {

namespace {

constexpr std::uint8_t syn_fin_rst = tcp_flag::syn | tcp_flag::fin | tcp_flag::rst;

// Sequence space a segment occupies: its payload, plus one for SYN and for FIN.
std::uint32_t sequence_length(const SegmentInfo& s) {
  return static_cast<std::uint32_t>(s.payload_length) + ((s.flags & tcp_flag::syn) ? 1u : 0u) +
         ((s.flags & tcp_flag::fin) ? 1u : 0u);
}

// a - b in sequence space (wraps at 2^32): > 0 when a is after b.
std::int32_t seq_diff(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b); }
bool after(std::uint32_t a, std::uint32_t b) { return seq_diff(a, b) > 0; }
bool before(std::uint32_t a, std::uint32_t b) { return seq_diff(a, b) < 0; }

// Nanoseconds from `then` to `now`. Stamps can run backwards in a capture
// (packets stamped on different CPUs, 2 us apart on a loopback capture
// measured here): a negative gap then counts as a huge one, as in tshark,
// so such a segment is never "out of order" by time.
std::uint64_t elapsed(std::int64_t then, std::int64_t now) { return static_cast<std::uint64_t>(now - then); }

}  // namespace

SegmentInfo segment_info(const Packet& p) {
  return {p.number, p.stamp_ns, p.is_tcp,       p.flags,          p.seq,
          p.ack,    p.window,   p.window_scale, p.payload_length, p.ip_bytes};
}

SegmentInfo segment_info(const PacketView& p, const Frame& frame) {
  return {frame.number, frame.stamp_ns, p.is_tcp,       p.flags,          p.seq,
          p.ack,        p.window,       p.window_scale, p.payload_length, p.ip_bytes};
}

namespace {

struct ClassName {
  std::uint32_t bits;
  const char* name;
};
constexpr ClassName class_names[] = {
    {tcp_analysis::any_retransmission, "retransmission"},
    {tcp_analysis::fast_retransmission, "fast_retransmission"},
    {tcp_analysis::spurious_retransmission, "spurious_retransmission"},
    {tcp_analysis::out_of_order, "out_of_order"},
    {tcp_analysis::lost_segment, "lost_segment"},
    {tcp_analysis::ack_lost_segment, "ack_lost_segment"},
    {tcp_analysis::duplicate_ack, "duplicate_ack"},
    {tcp_analysis::zero_window, "zero_window"},
    {tcp_analysis::zero_window_probe, "zero_window_probe"},
    {tcp_analysis::zero_window_probe_ack, "zero_window_probe_ack"},
    {tcp_analysis::keep_alive, "keep_alive"},
    {tcp_analysis::keep_alive_ack, "keep_alive_ack"},
    {tcp_analysis::sequence_jump, "sequence_jump"},
};

}  // namespace

std::string tcp_analysis_names(std::uint32_t flags) {
  std::string names;
  for (const auto& c : class_names) {
    if (!(flags & c.bits)) continue;
    if (!names.empty()) names += ',';
    names += c.name;
  }
  return names;
}

const std::vector<std::string>& tcp_analysis_classes() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const auto& c : class_names) all.emplace_back(c.name);
    return all;
  }();
  return names;
}

void TcpAnalysisCounts::add(std::uint32_t flags) {
  namespace a = tcp_analysis;
  if (flags & a::any_retransmission) ++retransmission;
  if (flags & a::fast_retransmission) ++fast_retransmission;
  if (flags & a::spurious_retransmission) ++spurious_retransmission;
  if (flags & a::out_of_order) ++out_of_order;
  if (flags & a::lost_segment) ++lost_segment;
  if (flags & a::ack_lost_segment) ++ack_lost_segment;
  if (flags & a::duplicate_ack) ++duplicate_ack;
  if (flags & a::zero_window) ++zero_window;
  if (flags & a::zero_window_probe) ++zero_window_probe;
  if (flags & a::zero_window_probe_ack) ++zero_window_probe_ack;
  if (flags & a::keep_alive) ++keep_alive;
  if (flags & a::keep_alive_ack) ++keep_alive_ack;
  if (flags & a::sequence_jump) ++sequence_jump;
}

TcpAnalysisCounts& TcpAnalysisCounts::operator+=(const TcpAnalysisCounts& o) {
  retransmission += o.retransmission;
  fast_retransmission += o.fast_retransmission;
  spurious_retransmission += o.spurious_retransmission;
  out_of_order += o.out_of_order;
  lost_segment += o.lost_segment;
  ack_lost_segment += o.ack_lost_segment;
  duplicate_ack += o.duplicate_ack;
  zero_window += o.zero_window;
  zero_window_probe += o.zero_window_probe;
  zero_window_probe_ack += o.zero_window_probe_ack;
  keep_alive += o.keep_alive;
  keep_alive_ack += o.keep_alive_ack;
  sequence_jump += o.sequence_jump;
  return *this;
}

// ---- TCP analysis -------------------------------------------------------------
//
// The reference is the Wireshark User's Guide, "TCP Analysis"
// (https://www.wireshark.org/docs/wsug_html_chunked/ChAdvTCPAnalysis.html),
// and where the guide is silent, tshark 4.0's behaviour on the captures of
// tests/capture/ (each difference found is listed there). The code is ours.
// Per direction ("forward" = the segment's sender, "reverse" = its peer) it
// keeps: the next expected sequence number (just past the highest sent), the
// end of the contiguous sequence space seen, the last ACK and window sent, a
// run count of duplicate ACKs, and the classes of its last segment. In order:
//
//  zero window probe   1 byte at exactly the next expected sequence while the
//                      reverse direction's last window was 0. Nothing below
//                      up to "ACKed unseen" is checked for it, and it does not
//                      move the next expected sequence.
//  zero window         window 0, none of SYN, FIN, RST.
//  previous segment    the sequence is beyond the next expected one (not for
//  not captured        RST): the capture missed what lies between.
//  keep-alive          0 or 1 byte starting one byte before the next expected
//                      sequence, none of SYN, FIN, RST.
//  keep-alive ACK      no payload, same non-zero window, at the next expected
//                      sequence, same ACK, and the reverse direction's last
//                      segment was a keep-alive. Not then a duplicate ACK.
//  window probe ACK    the same for a zero window probe, the window still 0.
//  duplicate ACK       no payload, same non-zero window, at the next expected
//                      sequence, same ACK as this direction's last, none of
//                      SYN, FIN, RST. A new ACK number ends the run.
//  ACKed unseen        acknowledges beyond the end of the contiguous data the
//  segment             capture saw in the reverse direction. Said once per
//                      hole (tshark 4.0 does so; see tests/capture/): the end
//                      moves up to the highest sequence seen, and the notice
//                      is not repeated until the reverse direction shows a
//                      new hole ("previous segment not captured") or a new
//                      ACK number.
// Then, for a segment with payload, SYN or FIN that is not a keep-alive, the
// first that applies ("below" = before the next expected sequence; a segment
// of 2 bytes or more starting one byte before it is not below: new data after
// a probe byte):
//  spurious            its data ends at or before the reverse direction's last
//  retransmission      ACK: the receiver had it already.
//  fast retransmission below, at the ACK the reverse direction repeated in at
//                      least two duplicate ACKs, within 20 ms of the last one.
//  out of order        below, within one initial RTT (SYN to the first ACK;
//                      3 ms when the handshake was not seen) of the segment
//                      that set the next expected sequence, and not ending
//                      exactly there.
//  retransmission      below, otherwise.
// A SYN without ACK whose sequence differs from the first one of its
// direction opens a new connection on the same ports (Wireshark's "port
// numbers reused"): the analysis starts over.

void TcpAnalyser::restart() {
  sides_[0] = Direction{};
  sides_[1] = Direction{};
  last_syn_time_ = 0;
  first_rtt_ = 0;
}

std::uint32_t TcpAnalyser::classify(const SegmentInfo& s, int side) {
  namespace a = tcp_analysis;
  const std::int64_t now = s.stamp_ns;
  const std::uint32_t seglen = static_cast<std::uint32_t>(s.payload_length);
  const bool syn = s.flags & tcp_flag::syn, ack_flag = s.flags & tcp_flag::ack;
  if (syn && !ack_flag && sides_[side].base_set && s.seq != sides_[side].base_seq) restart();
  Direction& fwd = sides_[side];
  Direction& rev = sides_[1 - side];

  // The round trip of the handshake: from the last SYN to the first ACK after it.
  if (syn && !ack_flag) last_syn_time_ = now;
  if (ack_flag && !syn && last_syn_time_ != 0 && first_rtt_ == 0) first_rtt_ = elapsed(last_syn_time_, now);

  // Window scaling: the SYN and SYN-ACK each name a shift; unless both do, neither side scales.
  if (syn) {
    fwd.window_scale = s.window_scale;
    if (ack_flag && (fwd.window_scale < 0 || rev.window_scale == -1)) fwd.window_scale = rev.window_scale = -1;
  }
  const std::uint32_t window = s.window;  // compared as sent: both sides of a comparison share the scale

  if (!fwd.base_set) {
    fwd.base_set = true;
    fwd.base_seq = syn ? s.seq : s.seq - 1;
  }
  if (!rev.base_set && ack_flag) {
    rev.base_set = true;
    rev.base_seq = s.ack - 1;
  }

  std::uint32_t flags = 0;
  const bool plain = (s.flags & syn_fin_rst) == 0;
  if (seglen == 1 && s.seq == fwd.next_seq && rev.window == 0) {
    flags |= a::zero_window_probe;
  } else {
    if (window == 0 && plain) flags |= a::zero_window;
    if (fwd.next_seq != 0 && after(s.seq, fwd.next_seq) && !(s.flags & tcp_flag::rst)) {
      flags |= a::lost_segment;
      // Further ahead than twice anything the receiver allowed (2^30, the
      // largest TCP window, when its window scale is unknown): see sequence_jump.
      const std::uint64_t allowed =
          rev.window_scale == -2 ? (std::uint64_t{1} << 30) : std::max<std::uint64_t>(2 * rev.max_window, 1u << 20);
      if (static_cast<std::uint32_t>(s.seq - fwd.next_seq) > allowed) flags |= a::sequence_jump;
    }
    if ((seglen == 0 || seglen == 1) && s.seq == fwd.next_seq - 1 && plain) flags |= a::keep_alive;
    const bool at_next = seglen == 0 && s.seq == fwd.next_seq && s.ack == fwd.last_ack && plain;
    const bool repeats = at_next && window == fwd.window;
    if (repeats && window != 0 && (rev.last_flags & a::keep_alive)) {
      flags |= a::keep_alive_ack;
    } else if (repeats && window == 0 && (rev.last_flags & a::zero_window_probe)) {
      flags |= a::zero_window_probe_ack;
    } else if (repeats && window != 0) {
      flags |= a::duplicate_ack;
      // A run broken by an "ACKed unseen" notice (see below) starts again at 1.
      fwd.duplicate_acks = fwd.duplicate_acks == unseen_noted ? 1 : fwd.duplicate_acks + 1;
    }
  }
  // A new ACK number ends a run of duplicate ACKs; so does a hole in this direction.
  if (s.ack != fwd.last_ack || (flags & a::lost_segment)) fwd.duplicate_acks = 0;

  if (rev.max_seq_to_be_acked != 0 && ack_flag && after(s.ack, rev.max_seq_to_be_acked)) {
    if (after(rev.max_seq_to_be_acked, rev.next_seq)) {
      rev.max_seq_to_be_acked = rev.next_seq;
      flags |= a::ack_lost_segment;
    } else {
      // Once per hole: the reverse direction's run counter holds the notice
      // (a large count: like tshark, a resend at its ACK within 20 ms is then
      // "fast"), and the contiguous end moves up to what was seen.
      if (rev.duplicate_acks == 0) flags |= a::ack_lost_segment;
      rev.duplicate_acks = unseen_noted;
      rev.max_seq_to_be_acked = rev.next_seq;
    }
  }

  if ((seglen > 0 || (s.flags & (tcp_flag::syn | tcp_flag::fin))) && !(flags & a::keep_alive)) {
    bool below_next = fwd.next_seq != 0 && before(s.seq, fwd.next_seq);
    if (seglen > 1 && fwd.next_seq - 1 == s.seq) below_next = false;  // new data after a probe byte
    const std::uint64_t out_of_order_limit = first_rtt_ != 0 ? first_rtt_ : 3'000'000;
    if (seglen > 0 && rev.last_ack != 0 && !after(s.seq + seglen, rev.last_ack)) {
      flags |= a::spurious_retransmission;
    } else if (below_next && rev.duplicate_acks >= 2 && rev.last_ack == s.seq &&
               elapsed(rev.last_ack_time, now) < 20'000'000) {
      flags |= a::fast_retransmission;
    } else if (below_next && elapsed(fwd.next_seq_time, now) < out_of_order_limit &&
               fwd.next_seq != s.seq + sequence_length(s)) {
      flags |= a::out_of_order;
    } else if (below_next) {
      flags |= a::retransmission;
    }
  }

  // Advance this direction's state; a window probe does not move it.
  const std::uint32_t end = s.seq + sequence_length(s);
  if (!(flags & a::zero_window_probe)) {
    if (fwd.next_seq == 0 || after(end, fwd.next_seq)) {
      fwd.next_seq = end;
      fwd.next_seq_time = now;
    }
    if (fwd.max_seq_to_be_acked == 0 || s.seq == fwd.max_seq_to_be_acked) fwd.max_seq_to_be_acked = fwd.next_seq;
  }
  fwd.window = window;
  if (!syn) {
    const int shift = fwd.window_scale > 0 ? fwd.window_scale : 0;
    fwd.max_window = std::max(fwd.max_window, std::uint64_t{window} << shift);
  }
  fwd.last_ack = s.ack;
  fwd.last_ack_time = now;
  fwd.last_flags = flags;
  return flags;
}

// ---- facts of a flow ----------------------------------------------------------

FlowAnalyser::FlowAnalyser(bool is_tcp, std::string client, std::string server) {
  facts_.is_tcp = is_tcp;
  facts_.client = std::move(client);
  facts_.server = std::move(server);
}

std::uint32_t FlowAnalyser::add(const SegmentInfo& p, bool from_client) {
  auto& facts = facts_;
  const int side = from_client ? 0 : 1;
  ++facts.packets;
  facts.payload_bytes += p.payload_length;
  facts.ip_bytes += p.ip_bytes;
  if (!facts.is_tcp) {
    facts.stream_bytes = facts.payload_bytes;
    return 0;
  }
  if (p.payload_length > 0) {
    const auto end = static_cast<std::uint32_t>(p.seq + p.payload_length);
    if (!data_seen_[side]) {
      data_seen_[side] = true;
      data_begin_[side] = p.seq;
      data_end_[side] = end;
    } else {
      if (before(p.seq, data_begin_[side])) data_begin_[side] = p.seq;
      if (after(end, data_end_[side])) data_end_[side] = end;
    }
    facts.stream_bytes = std::size_t{data_end_[0] - data_begin_[0]} + std::size_t{data_end_[1] - data_begin_[1]};
  }
  const std::uint32_t classes = tcp_.classify(p, side);
  facts.analysis.add(classes);
  facts.analysis_by_side[side].add(classes);
  const bool retransmitted = classes & tcp_analysis::any_retransmission;

  if (p.payload_length > 0) ++facts.data_segments;
  if ((p.flags & tcp_flag::syn) && (p.flags & tcp_flag::ack))
    ++facts.syn_ack_segments;
  else if (p.flags & tcp_flag::syn)
    ++facts.syn_segments;

  // Handshake: count from the SYN until the client acknowledges the SYN-ACK.
  if (!facts.handshake_complete) {
    if (p.flags & tcp_flag::syn) {
      syn_seen_ = true;
      if (p.flags & tcp_flag::ack) {
        if (!syn_ack_seen_) facts.server_isn = p.seq;
        syn_ack_seen_ = true;
      } else if (facts.syn_segments == 1) {
        facts.client_isn = p.seq;
      }
    }
    if (syn_seen_) ++facts.handshake_segments;
    if (syn_ack_seen_ && side == 0 && !(p.flags & tcp_flag::syn) && (p.flags & tcp_flag::ack))
      facts.handshake_complete = true;
  }

  if (p.flags & tcp_flag::rst) {
    if (facts.rst_segments++ == 0) facts.first_rst_from = side == 0 ? "client" : "server";
    if (side == 1) ++facts.rst_from_server;
  } else if (p.window == 0 && !(p.flags & tcp_flag::syn)) {
    ++facts.zero_window_segments;
    if (side == 1) ++facts.zero_window_from_server;
  }

  // Close: FINs, and the first segment of each side that acknowledges the other's FIN.
  bool counts_in_close = false;
  if (p.flags & tcp_flag::fin) {
    ++facts.fin_segments;
    if (retransmitted) ++facts.fin_retransmissions;
    if (!fin_sent_[side]) {
      fin_sent_[side] = true;
      fin_end_[side] = p.seq + sequence_length(p);
      if (facts.first_fin_from.empty()) facts.first_fin_from = side == 0 ? "client" : "server";
    }
    counts_in_close = true;
  }
  const int other = 1 - side;
  if (fin_sent_[other] && !fin_acked_[other] && (p.flags & tcp_flag::ack) && seq_diff(p.ack, fin_end_[other]) >= 0) {
    fin_acked_[other] = true;
    counts_in_close = true;
  }
  if (counts_in_close) ++facts.close_segments;
  return classes;
}

std::vector<std::uint32_t> tcp_analysis_of(const Flow& flow) {
  FlowAnalyser analyser(flow.is_tcp, flow.client, flow.server);
  std::vector<std::uint32_t> classes;
  classes.reserve(flow.packets.size());
  for (const auto& p : flow.packets) classes.push_back(analyser.add(segment_info(p), flow.from_client(p)));
  return classes;
}

FlowFacts analyse_flow(const Flow& flow) {
  FlowAnalyser analyser(flow.is_tcp, flow.client, flow.server);
  for (const auto& p : flow.packets) analyser.add(segment_info(p), flow.from_client(p));
  return analyser.facts();
}

std::vector<bool> retransmissions(const Flow& flow) {
  std::vector<bool> resent;
  resent.reserve(flow.packets.size());
  for (const auto classes : tcp_analysis_of(flow)) resent.push_back((classes & tcp_analysis::any_retransmission) != 0);
  return resent;
}

// ---- searching the payloads ---------------------------------------------------

void StreamSearch::add(int side, std::string_view payload) {
  if (found_ || payload.empty()) return;
  if (needle_.empty() || payload.find(needle_) != std::string_view::npos) {
    found_ = true;
    return;
  }
  // Laid end to end in capture order (retransmissions included): a needle
  // split over two segments is still found. Only the last needle-1 bytes of
  // the direction can start a match.
  std::string& tail = tail_[side];
  const std::size_t keep = needle_.size() - 1;
  if (!tail.empty()) {
    std::string joint = tail;
    joint.append(payload.substr(0, std::min(payload.size(), keep)));
    if (joint.find(needle_) != std::string::npos) {
      found_ = true;
      return;
    }
  }
  if (payload.size() >= keep) {
    tail.assign(payload.substr(payload.size() - keep));
  } else {
    tail.append(payload);
    if (tail.size() > keep) tail.erase(0, tail.size() - keep);
  }
}

bool capture_contains(const std::vector<Flow>& flows, std::string_view needle) {
  if (needle.empty()) return true;
  for (const auto& flow : flows) {
    StreamSearch search{std::string(needle)};
    for (const auto& p : flow.packets) search.add(flow.from_client(p) ? 0 : 1, p.payload);
    if (search.found()) return true;
  }
  return false;
}

}  // namespace netlab
