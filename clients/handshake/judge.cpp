// The failure scenarios' verdicts (see failures.hpp), from the capture on the
// client's link (seq/ack relations), the server's census timeline and accepts
// (its namespace), the wire's rule log and the client's own record. Each
// verdict names what was seen, and what was missing when it is not confirmed.
#include "failures.hpp"

#include "capture/pcap.hpp"

#include <boost/json/serialize.hpp>

#include <optional>
#include <set>

namespace netlab::handshake {
namespace {

namespace json = boost::json;
using namespace tcp_flag;

double number(const json::value* v) { return v && v->is_number() ? v->to_number<double>() : 0; }
double number(const json::object& o, std::string_view key) { return number(o.if_contains(key)); }
const json::object& object_at(const json::object& o, std::string_view key) {
  static const json::object empty;
  const auto* v = o.if_contains(key);
  return v && v->is_object() ? v->as_object() : empty;
}
const json::array& array_at(const json::object& o, std::string_view key) {
  static const json::array empty;
  const auto* v = o.if_contains(key);
  return v && v->is_array() ? v->as_array() : empty;
}
std::string text_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
std::string ms_text(double ms) { return std::to_string(static_cast<long>(ms + 0.5)) + " ms"; }
std::string n(std::size_t value) { return std::to_string(value); }

// One connection's segments in the capture, and the peer name the census uses.
struct Conversation {
  std::vector<Packet> packets;
  std::uint16_t port = 0;
  bool captured = false;  // a capture was given (--no-capture, or no tcpdump: not)
  // Said after each check's evidence when there was no capture to see the segments in.
  std::string unseen() const { return captured ? "" : "; no capture: the segments could not be seen"; }
  bool from_client(const Packet& p) const { return p.src_port == port; }
};

Conversation conversation(const std::string& pcap, std::uint16_t local_port) {
  Conversation c;
  c.port = local_port;
  c.captured = !pcap.empty();
  if (pcap.empty()) return c;
  for (auto& p : read_pcap(pcap))
    if (p.is_tcp && (p.src_port == local_port || p.dst_port == local_port)) c.packets.push_back(std::move(p));
  return c;
}

// The server's census lines and accepts for our peer ("addr:port").
struct ServerView {
  json::array timeline;  // {mono_ms, state}
  std::vector<double> accepts;
  double bytes_received = 0;
  bool census = false;
};

ServerView server_view(const json::object& server, std::uint16_t port) {
  ServerView v;
  const auto& o = object_at(server, "observed");
  const std::string suffix = ":" + std::to_string(port);
  auto ours = [&](const json::object& line) {
    const auto peer = text_at(line, "peer");
    return peer.size() > suffix.size() && peer.ends_with(suffix);
  };
  v.census = o.contains("census_timeline");
  for (const auto& line : array_at(o, "census_timeline"))
    if (ours(line.as_object())) v.timeline.push_back(line);
  for (const auto& a : array_at(o, "accepts"))
    if (ours(a.as_object())) v.accepts.push_back(number(a.as_object(), "mono_ms"));
  v.bytes_received = number(o, "bytes_received");
  return v;
}

// A stretch of SYN-RECV in the census: from the first line saying so to the
// line that changed it (gone, or ESTAB).
struct SynRecv {
  double from_ms = 0, to_ms = 0;
  std::string then;  // "gone", "ESTAB", or "" (still SYN-RECV when the server stopped)
};

std::vector<SynRecv> syn_recv_stretches(const ServerView& v) {
  std::vector<SynRecv> out;
  for (std::size_t i = 0; i < v.timeline.size(); ++i) {
    const auto& line = v.timeline[i].as_object();
    if (text_at(line, "state") != "SYN-RECV") continue;
    SynRecv s{number(line, "mono_ms"), 0, ""};
    if (i + 1 < v.timeline.size()) {
      s.to_ms = number(v.timeline[i + 1].as_object(), "mono_ms");
      s.then = text_at(v.timeline[i + 1].as_object(), "state");
    }
    out.push_back(s);
  }
  return out;
}

// The wire's rule firings, in order.
std::vector<json::object> rule_log(const json::object& wire) {
  std::vector<json::object> out;
  for (const auto& e : array_at(wire, "rule_log"))
    if (e.is_object()) out.push_back(e.as_object());
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : ", ") + p;
  return s;
}

// ---- old-syn -------------------------------------------------------------------------

void judge_old_syn(const Conversation& c, const ServerView& server, const std::vector<json::object>& rules,
                   const FailureRecord& record, json::object& o, Result& result) {
  // Our SYNs: the first is the old one; the first with another ISN, the new one.
  std::optional<std::uint32_t> old_isn, new_isn;
  std::size_t syns = 0;
  for (const auto& p : c.packets)
    if (c.from_client(p) && p.flags == syn) {
      ++syns;
      if (!old_isn)
        old_isn = p.seq;
      else if (!new_isn && p.seq != *old_isn)
        new_isn = p.seq;
    }
  std::optional<std::size_t> old_synack, rst, new_synack, new_ack;
  for (std::size_t i = 0; i < c.packets.size(); ++i) {
    const auto& p = c.packets[i];
    if (!c.from_client(p) && p.flags == (syn | ack)) {
      if (old_isn && p.ack == *old_isn + 1 && !old_synack) old_synack = i;
      if (new_isn && p.ack == *new_isn + 1 && !new_synack) new_synack = i;
    }
    // RFC 9293 §3.10.7.3: in SYN-SENT an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>.
    if (old_synack && !rst && c.from_client(p) && (p.flags & tcp_flag::rst) && p.seq == *old_isn + 1) rst = i;
    if (new_synack && !new_ack && c.from_client(p) && (p.flags & ack) && !(p.flags & (syn | tcp_flag::rst)) &&
        p.ack == c.packets[*new_synack].seq + 1)
      new_ack = i;
  }
  const auto stretches = syn_recv_stretches(server);
  std::optional<SynRecv> dropped;  // SYN-RECV, then gone: the half-open connection the RST removed
  for (const auto& s : stretches)
    if (s.then == "gone" && !dropped) dropped = s;
  const bool gave_up = record.first && record.first->outcome == "gave up";
  const bool reconnected = record.second && record.second->outcome == "connected";
  const std::size_t accepted = server.accepts.size();

  o["capture"] = json::object{{"syn_segments", syns},
                              {"old_isn", old_isn ? json::value(*old_isn) : nullptr},
                              {"new_isn", new_isn ? json::value(*new_isn) : nullptr},
                              {"old_syn_ack_ack", old_synack ? json::value(c.packets[*old_synack].ack) : nullptr},
                              {"rst_seq", rst ? json::value(c.packets[*rst].seq) : nullptr},
                              {"new_syn_ack_ack", new_synack ? json::value(c.packets[*new_synack].ack) : nullptr},
                              {"new_handshake_complete", new_ack.has_value()}};
  o["server"] =
      json::object{{"syn_recv_stretches", stretches.size()},
                   {"half_open_dropped_ms", dropped ? json::value(dropped->to_ms - dropped->from_ms) : nullptr},
                   {"accepted_from_port", accepted}};
  o["wire_rule_firings"] = rules.size();

  std::vector<std::string> seen, missing;
  auto need = [&](bool ok, std::string what) { (ok ? seen : missing).push_back(std::move(what)); };
  need(gave_up && reconnected, "the client gave up on its first connect() and connected again from port " + n(c.port));
  need(old_isn && new_isn, old_isn && new_isn
                               ? "old ISN " + std::to_string(*old_isn) + ", new ISN " + std::to_string(*new_isn)
                               : "two SYNs with different ISNs in the capture");
  need(old_synack.has_value(),
       old_synack ? "the server's SYN-ACK ack " + std::to_string(c.packets[*old_synack].ack) + " (old ISN + 1)"
                  : "a SYN-ACK acknowledging the old ISN");
  need(rst.has_value(), rst ? "our kernel's RST seq " + std::to_string(c.packets[*rst].seq)
                            : "an RST from the client with seq = old ISN + 1");
  need(dropped.has_value(),
       dropped ? "the server's SYN-RECV socket gone after " + ms_text(dropped->to_ms - dropped->from_ms)
               : "a SYN-RECV socket at the server that disappeared (census)");
  need(accepted == 1, "accept() returned " + n(accepted) + " connection(s) from port " + n(c.port));
  need(new_ack.has_value(), "the new connection established (SYN-ACK ack new ISN + 1, ACK)");
  const bool confirmed = missing.empty();
  const bool refuted = accepted > 1;  // the old SYN became a connection the application took
  result.add_check(
      {.id = "old-duplicate-syn-rejected",
       .claim = "为什么三次握手: 防止旧的连接请求被错误地当作新连接 (the note)",
       .expected = "old SYN answered SYN-ACK (ack old ISN + 1), our RST, the half-open socket dropped, "
                   "accept() never sees it, the new connection completes",
       .observed = join(seen) + (missing.empty() ? "" : "; not seen: " + join(missing)),
       .verdict = confirmed ? Verdict::confirmed
                  : refuted ? Verdict::refuted
                            : Verdict::nuanced,
       .evidence = "capture on the client's link (tcpdump -S), the server's census every few ms and its accepts "
                   "(server namespace), the wire's rule log" +
                   c.unseen()});

  // The counterfactual: the socket a two-way handshake would have made ESTABLISHED.
  std::string observed;
  Verdict verdict = Verdict::skipped;
  if (!old_synack) {
    observed = "the old SYN got no SYN-ACK in the capture";
  } else if (dropped) {
    observed = "the server held a SYN-RECV socket for the old SYN for " + ms_text(dropped->to_ms - dropped->from_ms) +
               " and had sent its SYN-ACK (ack " + std::to_string(c.packets[*old_synack].ack) +
               "): with two segments that SYN-ACK would have opened a connection the client (now at ISN " +
               (new_isn ? std::to_string(*new_isn) : std::string("?")) + ") never wanted; only the third " +
               "segment's place — our RST — removed it";
    verdict = Verdict::nuanced;
  } else {
    observed = "the old SYN was answered, but the census never saw a SYN-RECV socket for it (syncookies?)";
    verdict = Verdict::refuted;
  }
  result.add_check({.id = "two-way-would-accept",
                    .claim = "为什么三次握手: with two segments the old SYN would open a connection",
                    .expected = "a SYN-RECV socket for the old SYN existed at the server (census)",
                    .observed = observed,
                    .verdict = verdict,
                    .evidence = "census of the server's namespace; the capture's SYN-ACK" + c.unseen()});
}

// ---- lost-synack ---------------------------------------------------------------------

void judge_lost_synack(const Conversation& c, const std::vector<json::object>& rules, const FailureRecord& record,
                       json::object& o, Result& result) {
  std::optional<std::uint32_t> dropped_seq;
  for (const auto& r : rules)
    if (text_at(r, "dir") == "right>left" && text_at(r, "flags") == "SA" && text_at(r, "action") == "drop")
      dropped_seq = static_cast<std::uint32_t>(number(r, "seq"));
  std::size_t syns = 0, synacks = 0, same = 0;
  std::set<std::uint32_t> isns;
  double first_syn = -1, first_synack = -1;
  bool acked = false;
  for (const auto& p : c.packets) {
    if (c.from_client(p) && p.flags == syn) {
      ++syns;
      isns.insert(p.seq);
      if (first_syn < 0) first_syn = p.time;
    }
    if (!c.from_client(p) && p.flags == (syn | ack)) {
      ++synacks;
      same += dropped_seq && p.seq == *dropped_seq;
      if (first_synack < 0) first_synack = p.time;
    }
    acked = acked || (synacks > 0 && c.from_client(p) && p.flags == ack);
  }
  const ConnectRecord connect = record.connect.value_or(ConnectRecord{});
  const double connect_ms = connect.ms;
  const bool connected = connect.outcome == "connected";
  const double wait_ms = first_syn >= 0 && first_synack >= 0 ? (first_synack - first_syn) * 1000 : -1;
  o["capture"] = json::object{{"syn_segments", syns},
                              {"syn_isns", isns.size()},
                              {"syn_ack_segments", synacks},
                              {"syn_ack_same_seq_as_dropped", same},
                              {"first_syn_to_syn_ack_ms", wait_ms},
                              {"handshake_complete", acked}};
  const bool one_rto = connected && connect_ms >= 800 && connect_ms < 3000;
  const bool segments = dropped_seq && same >= 1 && syns >= 2 && isns.size() == 1 && acked;
  std::string observed = "connect() took " + ms_text(connect_ms) + "; the wire dropped SYN-ACK seq " +
                         (dropped_seq ? std::to_string(*dropped_seq) : std::string("(none)")) + "; the client sent " +
                         n(syns) + " SYN (" + n(isns.size()) + " ISN), " + n(same) +
                         " SYN-ACK with that seq reached it" +
                         (wait_ms >= 0 ? " " + ms_text(wait_ms) + " after the first SYN" : "");
  result.add_check(
      {.id = "lost-synack-costs-one-rto",
       .claim = "asked next: what if the SYN-ACK is lost?",
       .expected = "the SYN and the SYN-ACK are sent again (same ISNs) and connect() waits about one RTO (1 s)",
       .observed = observed,
       .verdict = !dropped_seq                    ? Verdict::skipped
                  : one_rto && segments           ? Verdict::confirmed
                  : connected && connect_ms < 800 ? Verdict::refuted
                                                  : Verdict::nuanced,
       .evidence = "connect() timed in the client; capture on the client's link; the wire's rule log" + c.unseen()});
}

// ---- lost-ack ------------------------------------------------------------------------

void judge_lost_ack(const Conversation& c, const ServerView& server, const std::vector<json::object>& rules,
                    const FailureRecord& record, json::object& o, Result& result) {
  std::size_t acks_dropped = 0;
  for (const auto& r : rules) acks_dropped += text_at(r, "dir") == "left>right" && text_at(r, "action") == "drop";
  std::size_t synacks = 0;
  std::set<std::uint32_t> synack_seqs;
  std::optional<Packet> data;
  for (const auto& p : c.packets) {
    if (!c.from_client(p) && p.flags == (syn | ack)) {
      ++synacks;
      synack_seqs.insert(p.seq);
    }
    if (!data && c.from_client(p) && p.payload_length > 0) data = p;
  }
  const ConnectRecord connect = record.connect.value_or(ConnectRecord{});
  const double connected_at = connect.ended_mono_ms;
  const double data_at = record.data_sent_mono_ms.value_or(0);
  const auto stretches = syn_recv_stretches(server);
  const double accepted_at = server.accepts.empty() ? 0 : server.accepts.front();
  std::optional<SynRecv> waited;
  for (const auto& s : stretches)
    if (!waited) waited = s;
  const double syn_recv_ms = waited && waited->to_ms > 0 ? waited->to_ms - waited->from_ms : 0;
  const double syn_recv_after_connect = waited && waited->to_ms > 0 ? waited->to_ms - connected_at : 0;
  o["capture"] = json::object{{"syn_ack_segments", synacks},
                              {"server_isns", synack_seqs.size()},
                              {"data_ack", data ? json::value(data->ack) : nullptr}};
  o["server"] = json::object{{"syn_recv_ms", syn_recv_ms},
                             {"syn_recv_then", waited ? waited->then : ""},
                             {"accepted", server.accepts.size()},
                             {"accepted_after_data_ms", accepted_at > 0 && data_at > 0 ? accepted_at - data_at : 0},
                             {"bytes_received", server.bytes_received}};
  o["wire_acks_dropped"] = acks_dropped;

  const bool client_connected = connect.outcome == "connected";
  const bool waited_long = waited && syn_recv_after_connect > 300;  // SYN-RECV well after we were ESTABLISHED
  const bool retransmitted = synacks >= 2 && synack_seqs.size() == 1;
  result.add_check(
      {.id = "lost-ack-server-stays-syn-recv",
       .claim = "asked next: what if the third segment (ACK) is lost?",
       .expected = "the client is connected while the server stays SYN-RECV and sends its SYN-ACK again",
       .observed = "the wire dropped " + n(acks_dropped) + " ACK(s); connect() returned after " + ms_text(connect.ms) +
                   " (client " + record.client_state_after_connect.value_or("") +
                   "); the server's census: SYN-RECV seen for " + ms_text(syn_recv_ms) + ", until " +
                   ms_text(syn_recv_after_connect) + " after the client's connect() returned, then " +
                   (waited ? waited->then : std::string("(never SYN-RECV)")) + "; " + n(synacks) + " SYN-ACK(s) with " +
                   n(synack_seqs.size()) + " ISN reached the client",
       .verdict = !client_connected || acks_dropped == 0 ? Verdict::skipped
                  : waited_long && retransmitted         ? Verdict::confirmed
                  : waited_long                          ? Verdict::nuanced
                                                         : Verdict::refuted,
       .evidence = "census of the server's namespace every few ms; capture on the client's link; the wire's rule log" +
                   c.unseen()});
  const bool after_data = accepted_at > 0 && data_at > 0 && accepted_at >= data_at;
  const bool carried = data && !synack_seqs.empty() && data->ack == *synack_seqs.begin() + 1;
  result.add_check(
      {.id = "first-data-completes-handshake",
       .claim = "asked next: who completes the handshake when the ACK is lost?",
       .expected = "the server's connection is ESTABLISHED and accepted only after the client's first data segment "
                   "(which carries the same ACK) arrives",
       .observed =
           "data sent at +" + ms_text(data_at - connected_at) + " after connect(), ack " +
           (data ? std::to_string(data->ack) : std::string("?")) + "; accept() at " +
           (accepted_at > 0 ? (accepted_at >= data_at ? "+" : "") + ms_text(accepted_at - data_at) + " from the data"
                            : std::string("never")) +
           "; the server read " + n(static_cast<std::size_t>(server.bytes_received)) + " bytes",
       .verdict = data_at == 0 || acks_dropped == 0                            ? Verdict::skipped
                  : after_data && carried && waited && waited->then == "ESTAB" ? Verdict::confirmed
                  : accepted_at > 0 && accepted_at < data_at                   ? Verdict::refuted
                                                                               : Verdict::nuanced,
       .evidence =
           "CLOCK_MONOTONIC times of the client's send and the server's accept(); the capture's ack" + c.unseen()});
}

}  // namespace

void judge_failure(const Evidence& evidence, Result& result) {
  const auto run = read_json_object(evidence.run_json, "the scenario's record");
  const auto server = read_json_object(evidence.server_json, "the server's JSON");
  const auto wire = read_json_object(evidence.wire_json, "the wire's stats");
  const auto& params = object_at(run, "params");
  result.params() = params;
  const FailureRecord record = read_failure_record(object_at(run, "observed"));
  // What the judge found goes beside the record.
  json::object o = json::value_from(record).as_object();
  const auto mode = text_at(params, "mode");
  const auto port = record.local_port;
  if (port == 0) throw std::runtime_error(evidence.run_json + " names no local port: the scenario did not run");
  const auto c = conversation(evidence.pcap, port);
  const auto view = server_view(server, port);
  if (!view.census)
    throw std::runtime_error(evidence.server_json + " has no census timeline (run the server with --census-ms)");
  const auto rules = rule_log(wire);
  if (mode == "old-syn")
    judge_old_syn(c, view, rules, record, o, result);
  else if (mode == "lost-synack")
    judge_lost_synack(c, rules, record, o, result);
  else if (mode == "lost-ack")
    judge_lost_ack(c, view, rules, record, o, result);
  else
    throw std::runtime_error(evidence.run_json + ": mode '" + mode + "' has no judge");
  o["capture_segments"] = c.packets.size();
  result.observed() = std::move(o);
}

}  // namespace netlab::handshake
