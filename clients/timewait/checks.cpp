#include "timewait.hpp"

#include <boost/json/parse.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace netlab::timewait {

namespace {

// How old a TIME_WAIT socket must be before connect() may reuse its port:
// net.ipv4.tcp_tw_reuse_delay (ms) since Linux 6.13, a fixed 1 s before it.
std::string reuse_delay() {
  const std::string ms = read_sysctl("/proc/sys/net/ipv4/tcp_tw_reuse_delay");
  return ms == "unavailable" ? "1 s (the fixed delay before Linux 6.13)" : ms + " ms (net.ipv4.tcp_tw_reuse_delay)";
}

}  // namespace

// "EADDRNOTAVAIL=600 ECONNREFUSED=2", or "none".
std::string describe(const std::map<std::string, std::size_t>& counts) {
  std::string text;
  for (const auto& [name, count] : counts) text += (text.empty() ? "" : " ") + name + "=" + std::to_string(count);
  return text.empty() ? "none" : text;
}

std::size_t total(const std::map<std::string, std::size_t>& counts) {
  std::size_t sum = 0;
  for (const auto& [name, count] : counts) sum += count;
  return sum;
}

Baseline read_baseline(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  const auto value = boost::json::parse(text.str(), ec);
  const auto* observed = ec || !value.is_object() ? nullptr : value.as_object().if_contains("observed");
  if (!observed || !observed->is_object() || !observed->as_object().contains("time_wait"))
    throw std::runtime_error("--compare-with " + path + ": not a netlab-timewait-client result");
  const auto& o = observed->as_object();
  const auto& tw = o.at("time_wait").as_object();
  return {o.at("requests_per_s").to_number<double>(),
          tw.at("client_side").to_number<std::size_t>() + tw.at("server_side").to_number<std::size_t>()};
}

// connect()s that failed for want of a free local port.
std::size_t address_exhaustion(const Observed& o) {
  const auto found = o.connect_errors.find("EADDRNOTAVAIL");
  return found == o.connect_errors.end() ? 0 : found->second;
}

void add_checks(const Config& config, const Run& run, const Observed& o, const std::optional<Baseline>& baseline,
                Result& result) {
  const auto& tally = run.tally;
  const auto& tw = o.time_wait;
  const auto& kernel = o.kernel;
  const bool server_closed = tally.closed_first_by_server > tally.closed_first_by_client;
  const std::string closer = server_closed ? "server" : "client";
  const std::size_t closes = server_closed ? tally.closed_first_by_server : tally.closed_first_by_client;
  const std::size_t closer_tw = server_closed ? tw.server_side : tw.client_side;
  const std::size_t other_tw = server_closed ? tw.client_side : tw.server_side;
  const std::string counts = std::to_string(closes) + " connections closed first by the " + closer +
                             "; TIME_WAIT: client side " + std::to_string(tw.client_side) + ", server side " +
                             std::to_string(tw.server_side);
  const std::string census = "socket census (NETLINK_SOCK_DIAG, as ss) of this run's ports right after the run";

  if (config.linger0) {
    const std::uint64_t resets = kernel.resets_sent.value_or(0);
    const bool no_tw = tw.client_side + tw.server_side == 0;
    result.add_check(
        {.id = "linger0-is-not-the-fix",
         .claim = "SO_LINGER 0 is a fix for mass TIME_WAIT",
         .expected = "no TIME_WAIT, but each connection aborted by an RST instead of closed by a FIN",
         .observed = "TIME_WAIT: client side " + std::to_string(tw.client_side) + ", server side " +
                     std::to_string(tw.server_side) + "; RSTs sent by this namespace's TCP: " + std::to_string(resets) +
                     " for " + std::to_string(tally.succeeded) + " connections",
         .verdict = !no_tw                      ? Verdict::refuted
                    : resets >= tally.succeeded ? Verdict::nuanced
                                                : Verdict::skipped,
         .evidence = no_tw ? "TIME_WAIT is gone only because every connection was aborted: an RST throws away "
                             "unsent data, the peer's next read fails with ECONNRESET, and nothing guards the "
                             "port against the old connection's late segments; fewer closes (a pool) is the fix. " +
                                 census + "; Tcp OutRsts of /proc/net/snmp"
                           : "TIME_WAIT sockets remained: " + census});
    return;
  }

  if (closes > 0) {
    const bool on_closer = closer_tw > 0 && other_tw * 10 <= closer_tw;
    const bool rfc_lifetime = std::abs(tw.lifetime_s - 240.0) <= 5.0;
    result.add_check({"closer-holds-time-wait", "主动关闭的一方进入TIME_WAIT, 持续2MSL",
                      "TIME_WAIT on the side that closed first, lasting 2 x MSL (RFC 793: MSL = 2 min, so 4 min)",
                      counts + "; TIME_WAIT lifetime " + fixed(tw.lifetime_s) + " s (timer " +
                          std::to_string(tw.timer_max_ms) + " ms left at the census)",
                      !on_closer     ? Verdict::refuted
                      : rfc_lifetime ? Verdict::confirmed
                                     : Verdict::nuanced,
                      !on_closer
                          ? census
                          : "the " + closer +
                                " closed first and holds them; the lifetime is the TIME_WAIT timer read by "
                                "the census plus the time since the connection ended" +
                                (rfc_lifetime ? std::string()
                                              : " — Linux does not compute 2MSL: it is the constant TCP_TIMEWAIT_LEN "
                                                "(60 s), whatever the RTT or the RFC's MSL")});
  }

  if (config.mode == Mode::short_lived && closes > 0) {
    // A local port used twice in this run: a later connection took over the
    // TIME_WAIT of an earlier one, ending it early. On our side only connect()
    // can do that (tcp_tw_reuse); on the server's side the TIME_WAIT socket
    // itself accepts a new SYN with a newer sequence number or timestamp
    // (tcp_timewait_state_process, RFC 6191), whatever tcp_tw_reuse says.
    const std::size_t taken_over = o.time_wait_taken_over;
    const bool piled = (closer_tw + taken_over) * 100 >= closes * 95;
    std::string how;
    if (tally.reused_after_our_close > 0)
      how += "; " + std::to_string(tally.reused_after_our_close) +
             " of our TIME_WAIT ports were reused by connect(): "
             "tcp_tw_reuse " +
             read_sysctl("/proc/sys/net/ipv4/tcp_tw_reuse") + " lets connect() reuse a TIME_WAIT port older than " +
             reuse_delay() + " (2 = loopback only), which ends that TIME_WAIT early";
    if (tally.reused_after_server_close > 0)
      how += "; " + std::to_string(tally.reused_after_server_close) +
             " SYNs from a port whose earlier connection the "
             "server closed first met the server's TIME_WAIT socket, which accepts a SYN with a newer sequence number "
             "or timestamp itself (tcp_timewait_state_process, RFC 6191) whatever tcp_tw_reuse says";
    result.add_check(
        {.id = "mass-time-wait-from-many-closes",
         .claim = "出现大量timewait: many connections closing leave many TIME_WAIT",
         .expected = "one TIME_WAIT socket per connection closed (>= 95%)",
         .observed = counts + "; " + std::to_string(taken_over) +
                     " TIME_WAIT ports were taken over by later connections of this run (" +
                     std::to_string(tally.reused_after_our_close) + " on our side, " +
                     std::to_string(tally.reused_after_server_close) + " on the server's)",
         .verdict = piled ? Verdict::confirmed : Verdict::nuanced,
         .evidence = (piled ? census
                            : census + "; fewer than closes: tcp_max_tw_buckets reached, or sockets of ours "
                                       "not seen") +
                     how});
    if (kernel.retransmitted_segments) {
      const auto lost = *kernel.retransmitted_segments;
      const bool refuted = piled && lost * 10 < closer_tw;
      result.add_check(
          {.id = "time-wait-not-from-lost-fourth-segment",
           .claim = "大量timewait comes from the fourth segment (the last ACK) failing",
           .expected = "TIME_WAIT sockets only where segments were lost",
           .observed = std::to_string(closer_tw) + " TIME_WAIT sockets, " + std::to_string(lost) +
                       " segments retransmitted during the run",
           .verdict = refuted ? Verdict::refuted : Verdict::nuanced,
           .evidence = std::string("every active close enters TIME_WAIT when it sends the last ACK, lost or not; "
                                   "Tcp RetransSegs of /proc/net/snmp (this network namespace, all sockets)") +
                       (refuted ? "" : " — too many retransmissions here to tell; run in a quiet namespace")});
    }
    const std::size_t exhausted = address_exhaustion(o);
    const std::string range = read_sysctl("/proc/sys/net/ipv4/ip_local_port_range");
    result.add_check(
        {.id = "time-wait-exhausts-ports",
         .claim = "asked next (出现大量timewait): do TIME_WAIT sockets use up the local ports?",
         .expected = "connect() fails with EADDRNOTAVAIL once the ephemeral range is full",
         .observed = std::to_string(exhausted) + " connects failed with EADDRNOTAVAIL after " +
                     std::to_string(tally.succeeded) + " succeeded; ip_local_port_range " + range + ", tcp_tw_reuse " +
                     read_sysctl("/proc/sys/net/ipv4/tcp_tw_reuse"),
         .verdict = exhausted > 0 ? Verdict::confirmed : Verdict::nuanced,
         .evidence = exhausted > 0   ? "connect errors counted by errno; the sysctls of this network namespace"
                     : server_closed ? "no exhaustion in this run: the TIME_WAIT sockets were on the server's side, "
                                       "which holds none of our local ports (see scripts/lab timewait, step exhaustion)"
                                     : "no exhaustion in this run: more free ports than connections, or "
                                       "tcp_tw_reuse let connect() take over our TIME_WAIT ports "
                                       "(see scripts/lab timewait, step exhaustion)"});
  }

  if (config.mode == Mode::pool) {
    const std::size_t k = config.pool_size;
    const bool bounded = tw.client_side <= k && tw.server_side <= k && tally.succeeded == config.requests;
    std::string observed = std::to_string(tally.succeeded) + " of " + std::to_string(config.requests) +
                           " requests over " + std::to_string(run.pool->stats().created) +
                           " connections; TIME_WAIT: client side " + std::to_string(tw.client_side) + ", server side " +
                           std::to_string(tw.server_side);
    Verdict verdict = bounded ? Verdict::confirmed : Verdict::refuted;
    std::string evidence = census;
    if (baseline) {
      const double rate = o.requests_per_s;
      const double ratio = baseline->requests_per_s > 0 ? rate / baseline->requests_per_s : 0;
      result.observed()["rate_ratio_vs_short"] = ratio;
      observed += "; vs short: " + std::to_string(baseline->time_wait) + " TIME_WAIT, rate x" + fixed(ratio, 2);
      if (bounded && ratio < 1) verdict = Verdict::nuanced;
      evidence += "; the short run's result (--compare-with) for the ratio";
    } else {
      // Half the claim (the rate) was not measured: the counts alone cannot confirm it.
      if (bounded) verdict = Verdict::nuanced;
      evidence += "; no rate ratio: give a --mode short result with --compare-with";
    }
    result.add_check(
        {.id = "pool-fixes-time-wait",
         .claim = "解决: 长连接 / 连接池 (long connections, a connection pool)",
         .expected = "at most K = " + std::to_string(k) + " TIME_WAIT sockets for N requests, and a higher rate",
         .observed = observed,
         .verdict = verdict,
         .evidence = evidence});
  }
}

}  // namespace netlab::timewait
