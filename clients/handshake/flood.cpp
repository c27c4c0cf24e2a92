// syn-flood (asked_next.hpp): a bounded burst of SYNs from spoofed sources,
// then one legitimate connect(). The sources are on the server's link
// (198.18.0.100 and up) but no host owns them: the server's SYN-ACKs wait for
// an ARP answer that never comes, and no ACK ever completes a handshake, as
// in a flood (RFC 4987 §2). What the server's kernel does with them is read
// in its namespace: its request sockets (census), its counters
// (/proc/net/netstat: TcpExt ListenDrops, TCPReqQFullDrop, SyncookiesSent,
// SyncookiesRecv ...), its sysctls. tcp_conn_request() finds the SYN queue
// full (inet_csk_reqsk_queue_is_full: as many request sockets as the
// listen() backlog): with tcp_syncookies=0 it drops the SYN; with 1,
// tcp_syn_flood_action() answers it with a cookie (cookie_v4_init_sequence)
// and keeps nothing; an ACK carrying a valid cookie becomes a connection
// (cookie_v4_check).
#include "asked_next_modes.hpp"
#include "kernel/netstat.hpp"
#include "kernel/tcp_info.hpp"
#include "syn.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>
#include <boost/describe/class.hpp>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <system_error>
#include <thread>

namespace netlab::handshake {
namespace {

using namespace std::chrono_literals;
constexpr std::uint32_t first_spoofed_host = 100;  // 198.18.0.100 ... 198.18.0.199
constexpr std::uint32_t spoofed_hosts = 100;

// SYNs with any source address: IP_HDRINCL, we write the IP header (the
// kernel fills in its checksum and id). Needs CAP_NET_RAW in this namespace.
class SynFlooder {
 public:
  SynFlooder() : fd_(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP)) {
    const int on = 1;
    if (fd_.get() < 0 || ::setsockopt(fd_.get(), IPPROTO_IP, IP_HDRINCL, &on, sizeof on) != 0)
      throw std::system_error(errno, std::generic_category(), "raw socket for the flood (needs CAP_NET_RAW)");
  }
  void send(std::uint32_t source, std::uint32_t destination, std::uint16_t sport, std::uint16_t dport,
            std::uint32_t seq) {
    std::array<unsigned char, 44> packet{};
    packet[0] = 0x45;  // IPv4, 5-word header
    packet[3] = 44;    // total length
    packet[6] = 0x40;  // don't fragment
    packet[8] = 64;    // TTL
    packet[9] = IPPROTO_TCP;
    std::memcpy(&packet[12], &source, 4);  // both already in network order
    std::memcpy(&packet[16], &destination, 4);
    const auto syn = syn_segment(source, destination, sport, dport, seq, 1460);
    std::memcpy(&packet[20], syn.data(), syn.size());
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = destination;
    if (::sendto(fd_.get(), packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
      throw std::system_error(errno, std::generic_category(), "send a spoofed SYN");
  }

 private:
  Fd fd_;
};

std::uint32_t ipv4(const std::string& text) {
  in_addr a{};
  if (::inet_pton(AF_INET, text.c_str(), &a) != 1) throw std::runtime_error(text + " is not an IPv4 address");
  return a.s_addr;
}

// The server namespace's TcpExt counters (read from inside it).
std::map<std::string, std::int64_t> tcp_ext() {
  std::ifstream in("/proc/thread-self/net/netstat");
  std::stringstream text;
  text << in.rdbuf();
  return parse_snmp(text.str(), "TcpExt");
}

struct FloodObserved {
  long tcp_syncookies = -1, tcp_max_syn_backlog = -1, somaxconn = -1, tcp_synack_retries = -1;
  std::size_t backlog = 0;                 // the listener's, as sock_diag shows it (Send-Q)
  std::size_t flood_syns = 0;              // spoofed SYNs sent
  std::size_t spoofed_syn_recv = 0;        // request sockets the server kept for them, after the burst
  std::size_t spoofed_syn_recv_after = 0;  // and after the legitimate connect()
  std::string legitimate_connect;          // its outcome
  double legitimate_connect_ms = 0;
  std::uint32_t legitimate_syn_retransmits = 0;  // TCP_INFO, when it connected
  std::map<std::string, std::int64_t> counters;  // TcpExt deltas over the step, in the server's namespace
};
BOOST_DESCRIBE_STRUCT(FloodObserved, (),
                      (tcp_syncookies, tcp_max_syn_backlog, somaxconn, tcp_synack_retries, backlog, flood_syns,
                       spoofed_syn_recv, spoofed_syn_recv_after, legitimate_connect, legitimate_connect_ms,
                       legitimate_syn_retransmits, counters))

std::size_t count_spoofed(std::uint16_t port, const std::string& legitimate, std::size_t& backlog) {
  std::size_t n = 0;
  for (const auto& s : list_tcp_sockets({.local_port = port})) {
    if (s.state == TcpState::listen) backlog = s.send_queue;
    n += half_open(s.state) && s.remote_address != legitimate;
  }
  return n;
}

std::string counter_text(const FloodObserved& o, const char* name) {
  const auto it = o.counters.find(name);
  return std::string(name) + " +" + (it == o.counters.end() ? std::string("?") : std::to_string(it->second));
}
std::int64_t counter(const FloodObserved& o, const char* name) {
  const auto it = o.counters.find(name);
  return it == o.counters.end() ? 0 : it->second;
}

}  // namespace

void run_syn_flood(const CommonOptions& options, const AskedNextConfig& config, Result& result) {
  FloodObserved o;
  const auto port = options.port;
  const std::string ours = local_address_toward(options.host);
  std::map<std::string, std::int64_t> before, after;
  in_netns(config.server_netns, [&] {
    o.tcp_syncookies = read_sysctl("net/ipv4/tcp_syncookies");
    o.tcp_max_syn_backlog = read_sysctl("net/ipv4/tcp_max_syn_backlog");
    o.somaxconn = read_sysctl("net/core/somaxconn");
    o.tcp_synack_retries = read_sysctl("net/ipv4/tcp_synack_retries");
    before = tcp_ext();
  });
  // The burst: bounded in count, from addresses in the server's /24 that nobody owns.
  SynFlooder flooder;
  std::mt19937 random(static_cast<std::uint32_t>(config.seed));
  const auto base = ntohl(ipv4(options.host)) & 0xffffff00u;
  for (std::size_t i = 0; i < config.flood_syns; ++i) {
    const auto host = first_spoofed_host + static_cast<std::uint32_t>(i) % spoofed_hosts;
    flooder.send(htonl(base | host), ipv4(options.host), static_cast<std::uint16_t>(20000 + i), port,
                 static_cast<std::uint32_t>(random()));
  }
  o.flood_syns = config.flood_syns;
  // One round trip and more: the SYNs are in, the server has made what it makes of them.
  std::this_thread::sleep_for(300ms);
  in_netns(config.server_netns, [&] { o.spoofed_syn_recv = count_spoofed(port, ours, o.backlog); });
  auto fd = tcp_socket();
  const auto c = connect_within(fd.get(), options.host, port, config.timeout_ms);
  o.legitimate_connect = c.outcome;
  o.legitimate_connect_ms = c.ms;
  if (c.connected())
    if (const auto info = read_tcp_info(fd.get())) o.legitimate_syn_retransmits = info->total_retrans;
  spdlog::info("syn-flood: {} SYNs, {} kept SYN-RECV; legitimate connect(): {} after {:.1f} ms", o.flood_syns,
               o.spoofed_syn_recv, c.outcome, c.ms);
  std::this_thread::sleep_for(100ms);  // our ACK (a cookie's, perhaps) has reached the server
  in_netns(config.server_netns, [&] {
    o.spoofed_syn_recv_after = count_spoofed(port, ours, o.backlog);
    after = tcp_ext();
  });
  for (const char* name : {"ListenDrops", "ListenOverflows", "TCPReqQFullDrop", "TCPReqQFullDoCookies",
                           "SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed"})
    if (before.contains(name) && after.contains(name)) o.counters[name] = after[name] - before[name];
  result.params()["flood_syns"] = config.flood_syns;
  result.params()["timeout_ms"] = config.timeout_ms;
  result.set_observed(o);

  const bool stalled = !c.connected() || o.legitimate_syn_retransmits > 0;
  const std::string legitimate =
      "the legitimate connect(): " + c.outcome + " after " + std::to_string(static_cast<long>(c.ms)) + " ms" +
      (c.connected() ? ", SYN retransmitted " + std::to_string(o.legitimate_syn_retransmits) : std::string());
  const std::string kept = std::to_string(o.flood_syns) + " spoofed SYNs: " + std::to_string(o.spoofed_syn_recv) +
                           " kept in SYN-RECV (backlog " + std::to_string(o.backlog) + ")";
  const std::string evidence =
      "the server namespace's census and /proc/net/netstat (read in it, deltas over the "
      "step); tcp_max_syn_backlog " +
      std::to_string(o.tcp_max_syn_backlog) + ", somaxconn " + std::to_string(o.somaxconn);
  if (o.tcp_syncookies == 0) {
    const bool full = o.spoofed_syn_recv > 0 && o.spoofed_syn_recv < o.flood_syns && counter(o, "ListenDrops") > 0;
    result.add_check({.id = "syn-flood-fills-syn-queue",
                      .claim = "a SYN flood fills the SYN queue and legitimate clients cannot connect",
                      .expected = "with tcp_syncookies = 0: the spoofed SYNs fill the SYN queue, later SYNs are "
                                  "dropped (ListenDrops), a legitimate connect() stalls or fails",
                      .observed = kept + "; " + counter_text(o, "ListenDrops") + ", " +
                                  counter_text(o, "TCPReqQFullDrop") + "; " + legitimate,
                      .verdict = !stalled ? Verdict::refuted
                                 : full   ? Verdict::confirmed
                                          : Verdict::nuanced,
                      .evidence = evidence});
  } else {
    const bool cookies = counter(o, "SyncookiesSent") > 0 && o.spoofed_syn_recv < o.flood_syns;
    result.add_check(
        {.id = "syncookies-keep-serving",
         .claim = "SYN cookies keep a server serving under a SYN flood, with no state for the flood",
         .expected = "with tcp_syncookies = " + std::to_string(o.tcp_syncookies) +
                     ": the SYNs beyond the full SYN queue answered with cookies (SyncookiesSent), no request socket "
                     "kept for them, the legitimate connect() succeeds at once (SyncookiesRecv)",
         .observed = kept + "; " + counter_text(o, "SyncookiesSent") + ", " + counter_text(o, "SyncookiesRecv") + ", " +
                     counter_text(o, "SyncookiesFailed") + "; " + legitimate,
         .verdict = stalled   ? Verdict::refuted
                    : cookies ? Verdict::confirmed
                              : Verdict::nuanced,
         .evidence = evidence});
  }
}

}  // namespace netlab::handshake
